/*
 * fuzz_decode: libFuzzer target for the image pipeline's entry point,
 * pipeline_run(): arbitrary bytes -> one sample. Any crash, leak, sanitizer
 * report or timeout is a bug; error returns are the expected outcome for
 * most inputs.
 *
 * Limits are small so that the fuzzer spends its time in the parsers rather
 * than on decoding legitimately huge images. The augmentation parameters
 * are drawn from a hash of the input, so the warp's paths (rotation, zoom,
 * flips, fill) are exercised as well.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "augment.h"
#include "pipeline.h"

/* Decoded images up to 1 megapixel (a 4 MB RGBA buffer at most). */
#define FUZZ_MAX_PIXELS (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pipeline_t *pipes[2];
    static uint8_t out[2][24 * 16 * 3 * sizeof(float)];
    static const augment_config_t acfg = {
        .flip_horizontal = 0.5,
        .flip_vertical = 0.5,
        .rotate = {-180, 180},
        .translate = {0.5, 0.5},
        .scale = {0.25, 4},
        .shear = {-0.5, 0.5},
        .brightness = {-0.5, 0.5},
        .contrast = {0.5, 2},
    };
    augment_params_t aug;
    uint64_t h = 1469598103934665603ULL;
    char err[256];

    if (pipes[0] == NULL) {
        image_config_t img;

        config_image_defaults(&img);
        img.width = 24;
        img.height = 16;
        img.resize = RESIZE_FIT;
        img.fill[0] = 1;
        img.fill[1] = 2;
        img.fill[2] = 3;
        img.max_pixels = FUZZ_MAX_PIXELS;
        img.max_file_bytes = 1u << 20;
        if (pipeline_create(&pipes[0], &img) < 0)
            abort();
        img.color = COLOR_GRAYSCALE;
        img.dtype = DTYPE_FLOAT32;
        img.layout = LAYOUT_NCHW;
        img.resize = RESIZE_CROP;
        img.interpolation = INTERP_AREA;
        if (pipeline_create(&pipes[1], &img) < 0)
            abort();
    }
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    augment_draw(&acfg, h, 0, 0, &aug);
    pipeline_run(pipes[h & 1], data, size, (h & 2) ? &aug : NULL, out[h & 1], err, sizeof(err));
    return 0;
}
