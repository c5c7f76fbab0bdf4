/*
 * bench_pipeline: images/s on one core for (a) decode only, to RGB and to
 * YCbCr planes, and (b) the whole pipeline (decode + one warp to 224x224
 * with flip, rotate, translate, zoom and shear), from the planes (the
 * default), from RGB (image.jpeg_planes false) and to float32 NCHW with
 * ImageNet's mean and std (the pass after the warp), over every
 * .jpg/.jpeg/.png in a folder, loaded into memory first so that the disk is
 * not measured.
 *
 *   build/bench/bench_pipeline [DIR] [SECONDS]
 *
 * DIR defaults to ../shared/data/clothing/images (relative to the repo, i.e.
 * the working directory make runs in). Decode-only uses the same DCT-scale
 * rule and the same per-image zoom as the full run. The warp is also timed
 * alone (each image decoded once, untimed, then warped several times), since
 * the difference of two noisy figures is a poor measure of it.
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

/*
 * CPU time of this thread, not wall time: the figures are per core, and other
 * processes on a shared machine would otherwise be counted against us.
 */
static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* Each decoded image is warped this many times when timing the warp alone. */
#define WARP_REPEAT 5

typedef struct bench_decoded {
    decode_info_t info;
    decoded_image_t img;
} bench_decoded_t;

/*
 * Decode as the pipeline would: header, the same DCT-scale rule, pixels: to
 * RGB, or with planes set to YCbCr planes where the image has them.
 */
static int bench_decode(decoder_t *dec, const bench_file_t *f, const image_config_t *img,
                        const augment_params_t *aug, int planes, bench_decoded_t *out)
{
    char err[256];
    decoded_planes_t dp;
    uint32_t denom;
    double k;

    if (decoder_open(dec, f->bytes, f->len, img->max_pixels, img->exif_orientation, &out->info,
                     err, sizeof(err)) < 0)
        return -1;
    k = warp_required_scale(out->info.width, out->info.height, out->info.orientation,
                            img->width, img->height, img->resize, aug);
    denom = decoder_pick_scale(dec, k);
    if (planes && decoder_has_planes(dec))
        return decoder_decode_planes(dec, denom, &dp, err, sizeof(err));
    return decoder_decode(dec, denom, 3, img->background, &out->img, err, sizeof(err));
}

/*
 * One timed pass of the whole pipeline p over every file; keeps the fastest
 * in *best. Returns the number of files that failed.
 */
static int bench_pipeline_pass(pipeline_t *p, const bench_file_t *files, int n,
                               const augment_params_t *augs, void *out, double *best)
{
    char err[256];
    int failures = 0;
    double t = bench_now();

    for (int i = 0; i < n; i++)
        failures += pipeline_run(p, files[i].bytes, files[i].len, &augs[i], out, err,
                                 sizeof(err)) < 0;
    t = bench_now() - t;
    *best = t < *best ? t : *best;
    return failures;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data/clothing/images";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    image_config_t img;
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
    pipeline_t *p, *p_rgb, *p_f32;
    image_config_t img_rgb, img_f32;
    decoder_t *dec;
    uint8_t *out;
    bench_decoded_t di;
    double t0, t_dec = 1e30, t_planes = 1e30, t_full = 1e30, t_rgb = 1e30, t_f32 = 1e30;
    double t_warp = 1e30;
    long failures = 0;
    int n, rounds = 0;

    n = bench_load(dir, &files);
    if (n <= 0) {
        fprintf(stderr, "bench_pipeline: no images in %s (%s)\n", dir,
                n < 0 ? strerror(-n) : "none found");
        return 1;
    }
    config_image_defaults(&img); /* 224 x 224 RGB uint8, bilinear stretch. */
    augs = mogen_calloc((size_t)n, sizeof(*augs));
    for (int i = 0; i < n; i++)
        augment_draw(&acfg, 1, 0, (uint32_t)i, &augs[i]);
    img_rgb = img;
    img_rgb.jpeg_planes = 0;
    /* What PyTorch users ask for: float32 NCHW with ImageNet's mean and std. */
    img_f32 = img;
    img_f32.dtype = DTYPE_FLOAT32;
    img_f32.layout = LAYOUT_NCHW;
    img_f32.has_mean_std = 1;
    memcpy(img_f32.mean, (const float[3]){0.485f, 0.456f, 0.406f}, sizeof(img_f32.mean));
    memcpy(img_f32.std, (const float[3]){0.229f, 0.224f, 0.225f}, sizeof(img_f32.std));
    if (pipeline_create(&p, &img) < 0 || pipeline_create(&p_rgb, &img_rgb) < 0 ||
        pipeline_create(&p_f32, &img_f32) < 0 || decoder_create(&dec) < 0)
        return 1;
    out = mogen_malloc(pipeline_sample_bytes(&img_f32)); /* The largest of the three. */

    /*
     * Passes over all files alternate between the modes until the time
     * is up, and each mode keeps its fastest pass: other processes on the
     * machine only ever make a pass slower, so the minimum is the figure
     * least disturbed by them.
     */
    t0 = bench_now();
    do {
        double t;

        /* Decode only: header, the same scale rule, pixels into the buffer. */
        t = bench_now();
        for (int i = 0; i < n; i++)
            failures += bench_decode(dec, &files[i], &img, &augs[i], 0, &di) < 0;
        t = bench_now() - t;
        t_dec = t < t_dec ? t : t_dec;

        /* Decode only, to YCbCr planes where the image has them. */
        t = bench_now();
        for (int i = 0; i < n; i++)
            failures += bench_decode(dec, &files[i], &img, &augs[i], 1, &di) < 0;
        t = bench_now() - t;
        t_planes = t < t_planes ? t : t_planes;

        /* The whole pipeline: decode + one warp to 224x224 with flip and affine. */
        failures += bench_pipeline_pass(p, files, n, augs, out, &t_full);
        /* The same with image.jpeg_planes off: libjpeg converts every pixel to RGB. */
        failures += bench_pipeline_pass(p_rgb, files, n, augs, out, &t_rgb);
        /* The same to float32 NCHW, normalised: the last pass after the warp. */
        failures += bench_pipeline_pass(p_f32, files, n, augs, out, &t_f32);

        /* The warp alone: decode untimed, then time WARP_REPEAT warps of it. */
        t = 0;
        for (int i = 0; i < n; i++) {
            warp_geometry_t geo;
            warp_image_t wi;
            warp_affine_t m;
            double tw;

            if (bench_decode(dec, &files[i], &img, &augs[i], 0, &di) < 0)
                continue;
            geo = (warp_geometry_t){di.info.width, di.info.height, di.img.width, di.img.height,
                                    di.info.orientation, img.width, img.height, img.resize};
            wi = (warp_image_t){di.img.pixels, di.img.width, di.img.height, di.img.channels,
                                di.img.stride};
            tw = bench_now();
            for (int r = 0; r < WARP_REPEAT; r++) {
                if (warp_build(&geo, &augs[i], &m) == 0)
                    warp_apply(&wi, &m, img.interpolation, img.fill, out, img.width, img.height);
            }
            t += (bench_now() - tw) / WARP_REPEAT;
        }
        t_warp = t < t_warp ? t : t_warp;
        rounds++;
    } while (bench_now() - t0 < seconds);

    printf("bench_pipeline: %d images from %s, one core, 224x224 bilinear, best of %d passes\n",
           n, dir, rounds);
    printf("  decode only:             %8.1f images/s  (%.3f ms/image)\n", n / t_dec,
           1e3 * t_dec / n);
    printf("  decode only, to planes:  %8.1f images/s  (%.3f ms/image, YCbCr JPEGs as planes)\n",
           n / t_planes, 1e3 * t_planes / n);
    printf("  decode + warp + augment: %8.1f images/s  (%.3f ms/image)\n", n / t_full,
           1e3 * t_full / n);
    printf("  the same from RGB:       %8.1f images/s  (%.3f ms/image, image.jpeg_planes false)\n",
           n / t_rgb, 1e3 * t_rgb / n);
    printf("  the same to float32 NCHW:%8.1f images/s  (%.3f ms/image, ImageNet mean/std)\n",
           n / t_f32, 1e3 * t_f32 / n);
    printf("  warp alone (RGB):        %8.1f images/s  (%.3f ms/image, %.0f%% of decode)%s\n",
           n / t_warp, 1e3 * t_warp / n, 100.0 * t_warp / t_dec,
           failures ? "  [some images failed]" : "");
    for (int i = 0; i < n; i++)
        mogen_free(files[i].bytes);
    mogen_free(files);
    mogen_free(augs);
    mogen_free(out);
    decoder_free(dec);
    pipeline_free(p);
    pipeline_free(p_rgb);
    pipeline_free(p_f32);
    return failures ? 1 : 0;
}
