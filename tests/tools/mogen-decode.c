/*
 * mogen-decode: run the image pipeline on one file and write the sample's
 * raw bytes, so that tests in other languages (pytest + PIL) can compare it
 * with an independent decoder.
 *
 *   mogen-decode [options] FILE OUT.raw
 *
 * Without --width/--height the output is the upright image's own size (the
 * "identity size"). On success prints "ok W H C scale=1/D" (and a line
 * "warning: ..." when the decoder accepted a warning); on failure prints the
 * pipeline's error text to stderr and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "augment.h"
#include "decode.h"
#include "exif.h"
#include "pipeline.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: mogen-decode [--width W --height H --resize stretch|fit|crop\n"
            "  --interp nearest|bilinear|area --color rgb|grayscale --dtype uint8|float32\n"
            "  --layout nhwc|nchw --no-exif --no-jpeg-planes --flip-h --flip-v --rotate DEG\n"
            "  --zoom Z --shear RAD --tx F --ty F --brightness F --contrast F --scale S --offset O\n"
            "  --mean a,b,c --std a,b,c --fill r,g,b --background r,g,b\n"
            "  --max-pixels N --max-file-bytes N] FILE OUT.raw\n");
    exit(2);
}

/* Parses "a,b,c" into three doubles; exits on a malformed list. */
static void parse3(const char *s, double v[3])
{
    if (sscanf(s, "%lf,%lf,%lf", &v[0], &v[1], &v[2]) != 3)
        usage();
}

static int pick(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    usage();
    return 0;
}

/* Reads the file whole, for finding the identity size before the run. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;

        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = mogen_realloc(buf, cap);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    static const char *const resizes[] = {"stretch", "fit", "crop"};
    static const char *const interps[] = {"nearest", "bilinear", "area"};
    static const char *const colors[] = {"rgb", "grayscale"};
    static const char *const dtypes[] = {"uint8", "float32"};
    static const char *const layouts[] = {"nhwc", "nchw"};
    image_config_t img;
    augment_params_t aug;
    const char *in = NULL, *outpath = NULL, *warning;
    char err[512];
    pipeline_t *p;
    void *out;
    size_t bytes;
    int rc, i;
    FILE *f;

    config_image_defaults(&img);
    img.width = 0;  /* 0 x 0 = the source size, unless --width/--height say otherwise. */
    img.height = 0;
    augment_identity(&aug);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double t[3];

#define NEEDV()       \
    do {              \
        if (!v)       \
            usage();  \
        i++;          \
    } while (0)
        if (strcmp(a, "--width") == 0) {
            NEEDV();
            img.width = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--height") == 0) {
            NEEDV();
            img.height = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--resize") == 0) {
            NEEDV();
            img.resize = (resize_mode_t)pick(v, resizes, 3);
        } else if (strcmp(a, "--interp") == 0) {
            NEEDV();
            img.interpolation = (interpolation_t)pick(v, interps, 3);
        } else if (strcmp(a, "--color") == 0) {
            NEEDV();
            img.color = (color_mode_t)pick(v, colors, 2);
        } else if (strcmp(a, "--dtype") == 0) {
            NEEDV();
            img.dtype = (pixel_dtype_t)pick(v, dtypes, 2);
        } else if (strcmp(a, "--layout") == 0) {
            NEEDV();
            img.layout = (tensor_layout_t)pick(v, layouts, 2);
        } else if (strcmp(a, "--no-exif") == 0) {
            img.exif_orientation = 0;
        } else if (strcmp(a, "--no-jpeg-planes") == 0) {
            img.jpeg_planes = 0;
        } else if (strcmp(a, "--flip-h") == 0) {
            aug.flip_horizontal = 1;
        } else if (strcmp(a, "--flip-v") == 0) {
            aug.flip_vertical = 1;
        } else if (strcmp(a, "--rotate") == 0) {
            NEEDV();
            aug.rotate_deg = atof(v);
        } else if (strcmp(a, "--zoom") == 0) {
            NEEDV();
            aug.zoom = atof(v);
        } else if (strcmp(a, "--shear") == 0) {
            NEEDV();
            aug.shear = atof(v);
        } else if (strcmp(a, "--tx") == 0) {
            NEEDV();
            aug.translate_x = atof(v);
        } else if (strcmp(a, "--ty") == 0) {
            NEEDV();
            aug.translate_y = atof(v);
        } else if (strcmp(a, "--brightness") == 0) {
            NEEDV();
            aug.brightness = atof(v);
        } else if (strcmp(a, "--contrast") == 0) {
            NEEDV();
            aug.contrast = atof(v);
        } else if (strcmp(a, "--scale") == 0) {
            NEEDV();
            img.scale = (float)atof(v);
        } else if (strcmp(a, "--offset") == 0) {
            NEEDV();
            img.offset = (float)atof(v);
        } else if (strcmp(a, "--mean") == 0 || strcmp(a, "--std") == 0) {
            float *dst = a[2] == 'm' ? img.mean : img.std;
            NEEDV();
            parse3(v, t);
            for (int c = 0; c < 3; c++)
                dst[c] = (float)t[c];
            img.has_mean_std = 1;
        } else if (strcmp(a, "--fill") == 0 || strcmp(a, "--background") == 0) {
            uint8_t *dst = a[2] == 'f' ? img.fill : img.background;
            NEEDV();
            parse3(v, t);
            for (int c = 0; c < 3; c++)
                dst[c] = (uint8_t)t[c];
        } else if (strcmp(a, "--max-pixels") == 0) {
            NEEDV();
            img.max_pixels = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--max-file-bytes") == 0) {
            NEEDV();
            img.max_file_bytes = strtoull(v, NULL, 10);
        } else if (a[0] == '-' && a[1] == '-') {
            usage();
        } else if (in == NULL) {
            in = a;
        } else if (outpath == NULL) {
            outpath = a;
        } else {
            usage();
        }
#undef NEEDV
    }
    if (in == NULL || outpath == NULL)
        usage();
    if (img.has_mean_std && img.std[0] == 0)
        img.std[0] = img.std[1] = img.std[2] = 1;

    /* Identity size: the upright image's own, read from the header. */
    if (img.width == 0 || img.height == 0) {
        size_t len = 0;
        uint8_t *buf = slurp(in, &len);
        decoder_t *d;
        decode_info_t info;

        if (buf != NULL && decoder_create(&d) == 0) {
            if (decoder_open(d, buf, len, img.max_pixels, img.exif_orientation, &info, err,
                             sizeof(err)) == 0) {
                int swap = exif_orientation_swaps_axes(info.orientation);
                img.width = swap ? info.height : info.width;
                img.height = swap ? info.width : info.height;
            }
            decoder_free(d);
        }
        mogen_free(buf);
        if (img.width == 0 || img.height == 0) /* The run below reports why. */
            img.width = img.height = 1;
    }

    rc = pipeline_create(&p, &img);
    if (rc < 0) {
        fprintf(stderr, "mogen-decode: bad image settings (%s)\n", strerror(-rc));
        return 1;
    }
    bytes = pipeline_sample_bytes(&img);
    out = mogen_malloc(bytes);
    rc = pipeline_run_file(p, in, &aug, out, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        mogen_free(out);
        pipeline_free(p);
        return 1;
    }
    warning = pipeline_last_warning(p);
    printf("ok %u %u %u scale=1/%u\n", img.width, img.height,
           img.color == COLOR_GRAYSCALE ? 1u : 3u, pipeline_last_scale_denom(p));
    if (warning != NULL)
        printf("warning: %s\n", warning);
    f = fopen(outpath, "wb");
    if (f == NULL || fwrite(out, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "mogen-decode: cannot write %s: %s\n", outpath, strerror(errno));
        mogen_free(out);
        pipeline_free(p);
        return 1;
    }
    mogen_free(out);
    pipeline_free(p);
    return 0;
}
