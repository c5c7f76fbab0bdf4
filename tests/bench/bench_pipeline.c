/*
 * bench_pipeline: images/s on one core for (a) decode only and (b) the whole
 * pipeline (decode + one warp to 224x224 with flip, rotate, translate, zoom
 * and shear), over every .jpg/.jpeg/.png in a folder, loaded into memory
 * first so that the disk is not measured.
 *
 *   build/bench/bench_pipeline [DIR] [SECONDS]
 *
 * DIR defaults to ../shared/data/clothing/images (relative to the repo, i.e.
 * the working directory make runs in). Decode-only uses the same DCT-scale
 * rule and the same per-image zoom as the full run, so the difference
 * between the two figures is the cost of the warp.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "augment.h"
#include "decode.h"
#include "pipeline.h"
#include "warp.h"

typedef struct bench_file {
    uint8_t *bytes;
    size_t len;
} bench_file_t;

static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench_is_image(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot != NULL && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                           strcasecmp(dot, ".png") == 0);
}

/* Loads every image file in dir into memory; returns the count, or -errno. */
static int bench_load(const char *dir, bench_file_t **out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bench_file_t *files = NULL;
    int n = 0;

    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        FILE *f;
        long size;

        if (!bench_is_image(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        f = fopen(path, "rb");
        if (f == NULL)
            continue;
        if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            continue;
        }
        files = mogen_reallocarray(files, (size_t)n + 1, sizeof(*files));
        files[n].bytes = mogen_malloc((size_t)size);
        files[n].len = fread(files[n].bytes, 1, (size_t)size, f);
        fclose(f);
        n++;
    }
    closedir(d);
    *out = files;
    return n;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data/clothing/images";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    image_config_t img = {
        .width = 224,
        .height = 224,
        .resize = RESIZE_STRETCH,
        .interpolation = INTERP_BILINEAR,
        .color = COLOR_RGB,
        .dtype = DTYPE_UINT8,
        .layout = LAYOUT_NHWC,
        .scale = 1,
        .background = {255, 255, 255},
        .exif_orientation = 1,
        .max_pixels = 100000000,
        .max_file_bytes = 64u << 20,
    };
    /* Geometric augmentation only, as in the issue: flip + affine. */
    augment_config_t acfg = {
        .flip_horizontal = 0.5,
        .rotate = {-30, 30},
        .translate = {0.1, 0.1},
        .scale = {0.9, 1.1},
        .shear = {-0.1, 0.1},
    };
    bench_file_t *files = NULL;
    augment_params_t *augs;
    pipeline_t *p;
    decoder_t *dec;
    uint8_t *out;
    char err[256];
    double t0, t_dec, t_full;
    long done_dec = 0, done_full = 0, failures = 0;
    int n;

    n = bench_load(dir, &files);
    if (n <= 0) {
        fprintf(stderr, "bench_pipeline: no images in %s (%s)\n", dir,
                n < 0 ? strerror(-n) : "none found");
        return 1;
    }
    augs = mogen_calloc((size_t)n, sizeof(*augs));
    for (int i = 0; i < n; i++)
        augment_draw(&acfg, 1, 0, (uint32_t)i, &augs[i]);
    if (pipeline_create(&p, &img) < 0 || decoder_create(&dec) < 0)
        return 1;
    out = mogen_malloc(pipeline_sample_bytes(&img));

    /* Decode only: header, the same scale rule, pixels into the buffer. */
    t0 = bench_now();
    do {
        for (int i = 0; i < n; i++) {
            decode_info_t info;
            decoded_image_t di;
            double k;

            if (decoder_open(dec, files[i].bytes, files[i].len, img.max_pixels, 1, &info, err,
                             sizeof(err)) < 0) {
                failures++;
                continue;
            }
            k = warp_required_scale(info.width, info.height, info.orientation, img.width,
                                    img.height, img.resize, &augs[i]);
            if (decoder_decode(dec, decoder_pick_scale(dec, k), 3, img.background, &di, err,
                               sizeof(err)) < 0)
                failures++;
            done_dec++;
        }
    } while (bench_now() - t0 < seconds);
    t_dec = bench_now() - t0;

    /* The whole pipeline: decode + one warp to 224x224 with flip and affine. */
    t0 = bench_now();
    do {
        for (int i = 0; i < n; i++) {
            if (pipeline_run(p, files[i].bytes, files[i].len, &augs[i], out, err, sizeof(err)) < 0)
                failures++;
            done_full++;
        }
    } while (bench_now() - t0 < seconds);
    t_full = bench_now() - t0;

    {
        double dec_rate = done_dec / t_dec, full_rate = done_full / t_full;
        double warp_ms = (t_full / done_full - t_dec / done_dec) * 1e3;

        printf("bench_pipeline: %d images from %s, one core, 224x224 bilinear\n", n, dir);
        printf("  decode only:            %8.1f images/s  (%.3f ms/image)\n", dec_rate,
               1e3 / dec_rate);
        printf("  decode + warp + augment: %7.1f images/s  (%.3f ms/image)\n", full_rate,
               1e3 / full_rate);
        printf("  warp cost: %.3f ms/image (%.0f%% of decode)%s\n", warp_ms,
               100.0 * warp_ms / (1e3 / dec_rate), failures ? "  [some images failed]" : "");
    }
    for (int i = 0; i < n; i++)
        mogen_free(files[i].bytes);
    mogen_free(files);
    mogen_free(augs);
    mogen_free(out);
    decoder_free(dec);
    pipeline_free(p);
    return failures ? 1 : 0;
}
