/*
 * test_pipeline.c: bytes -> sample, on JPEGs and PNGs encoded in the test
 * (TurboJPEG and libspng), so that no fixture files are needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spng.h>
#include <turbojpeg.h>

#include "augment.h"
#include "pipeline.h"

/* Every field set explicitly: config_defaults() belongs to the config module. */
static image_config_t config(uint32_t w, uint32_t h)
{
    image_config_t img;

    memset(&img, 0, sizeof(img));
    img.width = w;
    img.height = h;
    img.resize = RESIZE_STRETCH;
    img.interpolation = INTERP_BILINEAR;
    img.color = COLOR_RGB;
    img.dtype = DTYPE_UINT8;
    img.layout = LAYOUT_NHWC;
    img.scale = 1;
    img.offset = 0;
    img.background[0] = img.background[1] = img.background[2] = 255;
    img.exif_orientation = 1;
    img.jpeg_planes = 1;
    img.max_pixels = 100000000;
    img.max_file_bytes = 64u << 20;
    return img;
}

/* A smooth RGB test pattern (JPEG-friendly) with some detail. */
static uint8_t *rgb_pattern(uint32_t w, uint32_t h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x * 255 / (w > 1 ? w - 1 : 1));
            q[1] = (uint8_t)(y * 255 / (h > 1 ? h - 1 : 1));
            q[2] = (uint8_t)(128 + 100 * sin(x * 0.3) * cos(y * 0.2));
        }
    return p;
}

/* Encodes w x h RGB pixels as a JPEG with the given TJSAMP_* subsampling; free() it. */
static uint8_t *make_jpeg_subsampled(const uint8_t *px, uint32_t w, uint32_t h, int subsamp,
                                     size_t *len)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    uint8_t *copy;
    int rc = tjCompress2(tj, px, (int)w, 0, (int)h, TJPF_RGB, &jpeg, &size, subsamp, 95, 0);

    assert_int_equal(rc, 0);
    copy = malloc(size);
    memcpy(copy, jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    *len = size;
    return copy;
}

/* Encodes w x h pixels (pf = TJPF_RGB or TJPF_GRAY) as a JPEG; free() it. */
static uint8_t *make_jpeg(const uint8_t *px, uint32_t w, uint32_t h, int pf, size_t *len)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    uint8_t *copy;
    int rc = tjCompress2(tj, px, (int)w, 0, (int)h, pf, &jpeg, &size,
                         pf == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_444, 95, 0);
    assert_int_equal(rc, 0);
    copy = malloc(size);
    memcpy(copy, jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    *len = size;
    return copy;
}

/* Encodes 8-bit pixels of the given PNG colour type; free() it. */
static uint8_t *make_png(const uint8_t *px, uint32_t w, uint32_t h, uint8_t color_type,
                         size_t *len)
{
    static const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    struct spng_ihdr ihdr = {w, h, 8, color_type, 0, 0, 0};
    uint8_t *png;
    int err = 0;

    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    assert_int_equal(spng_set_ihdr(ctx, &ihdr), 0);
    assert_int_equal(spng_encode_image(ctx, px, (size_t)w * h * channels[color_type],
                                       SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE),
                     0);
    png = spng_get_png_buffer(ctx, len, &err);
    assert_non_null(png);
    spng_ctx_free(ctx);
    return png;
}

/* Runs one pipeline over bytes into a fresh buffer; returns rc. */
static int run(const image_config_t *img, const uint8_t *bytes, size_t len,
               const augment_params_t *aug, uint8_t **out, char *err, size_t errlen)
{
    pipeline_t *p;
    int rc;

    assert_int_equal(pipeline_create(&p, img), 0);
    *out = malloc(pipeline_sample_bytes(img));
    rc = pipeline_run(p, bytes, len, aug, *out, err, errlen);
    pipeline_free(p);
    return rc;
}

static void png_at_identity_size_is_exact(void **state)
{
    uint32_t w = 23, h = 17;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t len;
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &len);
    image_config_t img = config(w, h);
    char err[256];
    (void)state;
    assert_int_equal(run(&img, png, len, NULL, &out, err, sizeof(err)), 0);
    assert_memory_equal(out, px, (size_t)w * h * 3);
    free(out);
    free(png);
    free(px);
}

/* libspng answers "non-recoverable state" to every call after its first
 * error; the first one is what the message must name. */
static void png_with_a_bad_chunk_checksum_says_so(void **state)
{
    uint32_t w = 8, h = 8;
    uint8_t *px = rgb_pattern(w, h), *out = NULL;
    size_t len;
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &len);
    image_config_t img = config(w, h);
    char err[256];
    (void)state;
    /* Cut right after IHDR: the chunks before the pixels end early. */
    assert_true(run(&img, png, 33, NULL, &out, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "truncated PNG data"));
    free(out);
    png[29] ^= 0xFF; /* signature (8), IHDR length, type and data (4+4+13), then its CRC */
    assert_true(run(&img, png, len, NULL, &out, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "invalid chunk checksum"));
    free(out);
    free(png);
    free(px);
}

static void jpeg_at_identity_size_is_close(void **state)
{
    uint32_t w = 40, h = 24;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t len;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    image_config_t img = config(w, h);
    char err[256];
    double sum = 0;
    (void)state;
    assert_int_equal(run(&img, jpeg, len, NULL, &out, err, sizeof(err)), 0);
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        sum += fabs((double)out[i] - px[i]);
    /* Quality 95, 4:4:4: the codec's own loss only. */
    assert_true(sum / (w * h * 3) < 2.0);
    free(out);
    free(jpeg);
    free(px);
}

/*
 * Runs one JPEG through the pipeline from its planes (the default) and from
 * libjpeg's RGB (image.jpeg_planes false); returns the mean absolute
 * difference of the samples and their largest difference in *worst.
 */
static double planes_vs_rgb(const uint8_t *jpeg, size_t len, image_config_t img,
                            const augment_params_t *aug, int *worst)
{
    uint8_t *planes, *rgb;
    char err[256];
    double sum = 0;
    size_t n = pipeline_sample_bytes(&img);

    img.jpeg_planes = 1;
    assert_int_equal(run(&img, jpeg, len, aug, &planes, err, sizeof(err)), 0);
    img.jpeg_planes = 0;
    assert_int_equal(run(&img, jpeg, len, aug, &rgb, err, sizeof(err)), 0);
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)planes[i] - (int)rgb[i]);
        sum += d;
        *worst = d > *worst ? d : *worst;
    }
    free(planes);
    free(rgb);
    return sum / (double)n;
}

/*
 * A colour JPEG warped from its YCbCr planes against the same JPEG converted
 * to RGB by libjpeg first, for each subsampling the planes are used for,
 * odd sizes and whole MCUs. At identity size they differ by the rounding of
 * the chroma filter and of the conversion only: mean under 0.25 of a level,
 * at most 2 (measured: mean <= 0.20, max 2; 4:4:4 identical). Through a
 * 17-degree rotation the planes are interpolated once where the RGB route
 * upsamples chroma and then interpolates again, and this pattern's chroma
 * changes fast: mean under 0.6, at most 10 (measured: mean <= 0.53, max 8).
 */
static void jpeg_planes_match_libjpeg_rgb(void **state)
{
    static const int subsamplings[] = {TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_440};
    static const uint32_t sizes[][2] = {{45, 31}, {64, 48}};
    (void)state;
    for (size_t s = 0; s < sizeof(subsamplings) / sizeof(subsamplings[0]); s++)
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            uint32_t w = sizes[z][0], h = sizes[z][1];
            uint8_t *px = rgb_pattern(w, h);
            size_t len;
            uint8_t *jpeg = make_jpeg_subsampled(px, w, h, subsamplings[s], &len);
            augment_params_t aug;
            double mean, mean_rotated;
            int worst, worst_rotated;

            augment_identity(&aug);
            mean = planes_vs_rgb(jpeg, len, config(w, h), &aug, &worst);
            aug.rotate_deg = 17.0;
            mean_rotated = planes_vs_rgb(jpeg, len, config(w, h), &aug, &worst_rotated);
            if (mean >= 0.25 || worst > 2 || mean_rotated >= 0.6 || worst_rotated > 10)
                print_error("subsampling %d, %ux%u: mean %.3f max %d, rotated mean %.3f max %d\n",
                            subsamplings[s], w, h, mean, worst, mean_rotated, worst_rotated);
            assert_true(mean < 0.25 && worst <= 2);
            assert_true(mean_rotated < 0.6 && worst_rotated <= 10);
            /* The planes are really used: rotated, the two routes do differ. */
            assert_true(mean_rotated > 0);
            free(jpeg);
            free(px);
        }
}

/*
 * Where libjpeg's chroma is not a bilinear upsampling of the planes, or the
 * warp would not interpolate it, the pipeline stays on libjpeg's RGB and
 * gives its bytes exactly: 4:1:1 (libjpeg repeats chroma samples), 4:2:0 at
 * most 4 pixels wide (the same), a reduced decode (DCT scale 1/2, where
 * libjpeg rebuilds chroma at the reduced size by its IDCT), and nearest.
 */
static void jpeg_planes_are_skipped_where_libjpeg_differs(void **state)
{
    uint8_t *px = rgb_pattern(97, 66), *jpeg;
    size_t len;
    augment_params_t aug;
    int worst;
    (void)state;
    augment_identity(&aug);
    aug.rotate_deg = 17.0;
    jpeg = make_jpeg_subsampled(px, 97, 66, TJSAMP_411, &len);
    assert_true(planes_vs_rgb(jpeg, len, config(97, 66), &aug, &worst) == 0);
    free(jpeg);
    jpeg = make_jpeg_subsampled(px, 97, 66, TJSAMP_420, &len);
    assert_true(planes_vs_rgb(jpeg, len, config(40, 30), &aug, &worst) == 0);
    assert_true(planes_vs_rgb(jpeg, len, config(97, 66), &aug, &worst) > 0);
    {
        image_config_t nearest = config(97, 66);

        nearest.interpolation = INTERP_NEAREST;
        assert_true(planes_vs_rgb(jpeg, len, nearest, &aug, &worst) == 0);
    }
    free(jpeg);
    free(px);
    for (uint32_t w = 3; w <= 5; w++) {
        px = rgb_pattern(w, 6);
        jpeg = make_jpeg_subsampled(px, w, 6, TJSAMP_420, &len);
        augment_identity(&aug);
        if (w <= 4)
            assert_true(planes_vs_rgb(jpeg, len, config(w, 6), &aug, &worst) == 0);
        else
            assert_true(planes_vs_rgb(jpeg, len, config(w, 6), &aug, &worst) < 0.25 && worst <= 2);
        free(jpeg);
        free(px);
    }
}

static void identity_params_give_the_plain_resize(void **state)
{
    uint32_t w = 64, h = 48;
    uint8_t *px = rgb_pattern(w, h), *a, *b;
    size_t len;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    image_config_t img = config(37, 29);
    augment_params_t id;
    char err[256];
    (void)state;
    augment_identity(&id);
    for (int mode = 0; mode < RESIZE_MAX; mode++) {
        img.resize = (resize_mode_t)mode;
        assert_int_equal(run(&img, jpeg, len, NULL, &a, err, sizeof(err)), 0);
        assert_int_equal(run(&img, jpeg, len, &id, &b, err, sizeof(err)), 0);
        assert_memory_equal(a, b, pipeline_sample_bytes(&img));
        free(a);
        free(b);
    }
    free(jpeg);
    free(px);
}

static void horizontal_flip_mirrors_the_sample(void **state)
{
    uint32_t w = 31, h = 20;
    uint8_t *px = rgb_pattern(w, h), *plain, *flipped;
    size_t len;
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &len);
    image_config_t img = config(w, h);
    augment_params_t aug;
    char err[256];
    (void)state;
    augment_identity(&aug);
    aug.flip_horizontal = 1;
    for (int interp = 0; interp < INTERP_MAX; interp++) {
        img.interpolation = (interpolation_t)interp;
        assert_int_equal(run(&img, png, len, NULL, &plain, err, sizeof(err)), 0);
        assert_int_equal(run(&img, png, len, &aug, &flipped, err, sizeof(err)), 0);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                assert_memory_equal(flipped + (y * w + x) * 3, plain + (y * w + w - 1 - x) * 3, 3);
        free(plain);
        free(flipped);
    }
    free(png);
    free(px);
}

static const augment_config_t full_aug = {
    .flip_horizontal = 0.5,
    .rotate = {-40, 40},
    .translate = {0.2, 0.2},
    .scale = {0.8, 1.2},
    .shear = {-0.2, 0.2},
    .brightness = {-0.1, 0.1},
    .contrast = {0.8, 1.2},
};

static void same_seed_epoch_row_gives_the_same_bytes(void **state)
{
    uint32_t w = 80, h = 60;
    uint8_t *px = rgb_pattern(w, h), *a, *b, *c;
    size_t len;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    image_config_t img = config(32, 32);
    augment_params_t p1, p2, p3;
    char err[256];
    (void)state;
    img.dtype = DTYPE_FLOAT32;
    img.layout = LAYOUT_NCHW;
    img.scale = 2.0f / 255;
    img.offset = -1;
    augment_draw(&full_aug, 1234, 7, 42, &p1);
    augment_draw(&full_aug, 1234, 7, 42, &p2);
    augment_draw(&full_aug, 1234, 8, 42, &p3);
    assert_int_equal(run(&img, jpeg, len, &p1, &a, err, sizeof(err)), 0);
    assert_int_equal(run(&img, jpeg, len, &p2, &b, err, sizeof(err)), 0);
    assert_int_equal(run(&img, jpeg, len, &p3, &c, err, sizeof(err)), 0);
    assert_memory_equal(a, b, pipeline_sample_bytes(&img));
    assert_memory_not_equal(a, c, pipeline_sample_bytes(&img));
    free(a);
    free(b);
    free(c);
    free(jpeg);
    free(px);
}

static void one_pipeline_reused_gives_the_same_bytes(void **state)
{
    uint32_t w = 50, h = 40;
    uint8_t *px = rgb_pattern(w, h), *small = rgb_pattern(8, 8);
    size_t len, slen;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    uint8_t *png = make_png(small, 8, 8, SPNG_COLOR_TYPE_TRUECOLOR, &slen);
    image_config_t img = config(24, 24);
    uint8_t *first = malloc(pipeline_sample_bytes(&img)), *again = malloc(pipeline_sample_bytes(&img));
    augment_params_t aug;
    pipeline_t *p;
    char err[256];
    (void)state;
    augment_draw(&full_aug, 5, 1, 3, &aug);
    assert_int_equal(pipeline_create(&p, &img), 0);
    assert_int_equal(pipeline_run(p, jpeg, len, &aug, first, err, sizeof(err)), 0);
    assert_int_equal(pipeline_run(p, png, slen, &aug, again, err, sizeof(err)), 0);
    assert_int_equal(pipeline_run(p, jpeg, len, &aug, again, err, sizeof(err)), 0);
    assert_memory_equal(first, again, pipeline_sample_bytes(&img));
    pipeline_free(p);
    free(first);
    free(again);
    free(png);
    free(jpeg);
    free(small);
    free(px);
}

static void unknown_format_names_the_bytes(void **state)
{
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
    static const uint8_t junk[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
    image_config_t img = config(8, 8);
    uint8_t *out;
    char err[256];
    (void)state;
    assert_int_equal(run(&img, gif, sizeof(gif) - 1, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a JPEG or PNG file (starts with 47 49 46 38"));
    assert_non_null(strstr(err, "GIF"));
    free(out);
    assert_int_equal(run(&img, junk, sizeof(junk), NULL, &out, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "not a JPEG or PNG file (starts with 12 34 56 78)");
    free(out);
    assert_int_equal(run(&img, junk, 0, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "empty file"));
    free(out);
}

static void truncated_files_are_errors(void **state)
{
    uint32_t w = 64, h = 64;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t jlen, plen;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &jlen);
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &plen);
    image_config_t img = config(16, 16);
    char err[256];
    (void)state;
    assert_int_equal(run(&img, jpeg, jlen / 2, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "truncated JPEG data"));
    free(out);
    assert_int_equal(run(&img, png, plen / 2, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "truncated PNG data"));
    free(out);
    /* Cut inside the header. */
    assert_int_equal(run(&img, jpeg, 40, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "JPEG data"));
    free(out);
    assert_int_equal(run(&img, png, 20, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "PNG data"));
    free(out);
    free(jpeg);
    free(png);
    free(px);
}

static void corrupt_files_are_errors_with_the_decoder_reason(void **state)
{
    uint32_t w = 16, h = 16;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t jlen, plen;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &jlen);
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &plen);
    image_config_t img = config(16, 16);
    char err[256];
    (void)state;
    /* SOF0 -> SOF3 (lossless), which this libjpeg does not decode. */
    for (size_t i = 2; i + 1 < jlen; i++)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
            jpeg[i + 1] = 0xC3;
            break;
        }
    assert_int_equal(run(&img, jpeg, jlen, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "corrupt JPEG data: "));
    free(out);
    /* A flipped bit in IHDR's CRC. */
    png[30] ^= 0x01;
    assert_int_equal(run(&img, png, plen, NULL, &out, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "corrupt PNG data: "));
    free(out);
    free(jpeg);
    free(png);
    free(px);
}

static void pixel_limit_is_checked_from_the_header(void **state)
{
    uint32_t w = 40, h = 30;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t jlen, plen;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &jlen);
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &plen);
    image_config_t img = config(16, 16);
    char err[256];
    (void)state;
    img.max_pixels = 1199;
    assert_int_equal(run(&img, jpeg, jlen, NULL, &out, err, sizeof(err)), -EFBIG);
    assert_string_equal(err, "image is 40x30 (1200 pixels), over the image.max_pixels limit of 1199");
    free(out);
    assert_int_equal(run(&img, png, plen, NULL, &out, err, sizeof(err)), -EFBIG);
    assert_string_equal(err, "image is 40x30 (1200 pixels), over the image.max_pixels limit of 1199");
    free(out);
    /* A PNG whose header claims a huge size, refused before decoding. */
    png[16] = 0x00;
    png[17] = 0x01; /* width 65536 + 40 */
    img.max_pixels = 1000000;
    assert_true(run(&img, png, plen, NULL, &out, err, sizeof(err)) < 0);
    free(out);
    free(jpeg);
    free(png);
    free(px);
}

/* pipeline_open_file() + pipeline_run_fd(), as fill.c uses them: the fd
 * decodes as the path would, an open error travels as a negative errno to
 * be reported, and a FIFO neither blocks the open nor decodes. */
static void open_file_then_run_fd_behaves_as_run_file(void **state)
{
    uint32_t w = 20, h = 20;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t len;
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &len);
    image_config_t img = config(w, h);
    char path[] = "/tmp/mogen-test-XXXXXX", fifo[] = "/tmp/mogen-fifo-XXXXXX", err[256];
    pipeline_t *p;
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, png, len), (ssize_t)len);
    close(fd);
    assert_non_null(mkdtemp(fifo));
    assert_int_equal(rmdir(fifo), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    out = malloc(pipeline_sample_bytes(&img));
    assert_int_equal(pipeline_create(&p, &img), 0);

    fd = pipeline_open_file(p, path);
    assert_true(fd >= 0);
    assert_int_equal(pipeline_run_fd(p, fd, NULL, out, err, sizeof(err)), 0);
    assert_memory_equal(out, px, (size_t)w * h * 3);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* run_fd closed it */

    fd = pipeline_open_file(p, "/nonexistent/x.jpg");
    assert_int_equal(fd, -ENOENT);
    assert_int_equal(pipeline_run_fd(p, fd, NULL, out, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "No such file or directory");

    fd = pipeline_open_file(p, fifo);
    assert_true(fd >= 0);
    assert_int_equal(pipeline_run_fd(p, fd, NULL, out, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "not a regular file");

    pipeline_free(p);
    unlink(fifo);
    unlink(path);
    free(out);
    free(png);
    free(px);
}

static void run_file_checks_size_and_reports_open_errors(void **state)
{
    uint32_t w = 20, h = 20;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t len;
    uint8_t *png = make_png(px, w, h, SPNG_COLOR_TYPE_TRUECOLOR, &len);
    image_config_t img = config(w, h);
    char path[] = "/tmp/mogen-test-XXXXXX", err[256], want[128];
    pipeline_t *p;
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, png, len), (ssize_t)len);
    close(fd);
    out = malloc(pipeline_sample_bytes(&img));

    assert_int_equal(pipeline_create(&p, &img), 0);
    assert_int_equal(pipeline_run_file(p, path, NULL, out, err, sizeof(err)), 0);
    assert_memory_equal(out, px, (size_t)w * h * 3);
    assert_int_equal(pipeline_run_file(p, "/nonexistent/x.jpg", NULL, out, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "No such file or directory");
    assert_int_equal(pipeline_run_file(p, "/tmp", NULL, out, err, sizeof(err)), -EISDIR);
    pipeline_free(p);

    img.max_file_bytes = len - 1;
    assert_int_equal(pipeline_create(&p, &img), 0);
    assert_int_equal(pipeline_run_file(p, path, NULL, out, err, sizeof(err)), -EFBIG);
    snprintf(want, sizeof(want), "file is %zu bytes, over image.max_file_bytes (%zu)", len,
             len - 1);
    assert_string_equal(err, want);
    pipeline_free(p);
    unlink(path);
    free(out);
    free(png);
    free(px);
}

/* Opens a JPEG of w x h and returns the DCT denominator used for img. */
static uint32_t scale_for(uint32_t w, uint32_t h, image_config_t *img)
{
    uint8_t *px = rgb_pattern(w, h), *out = malloc(pipeline_sample_bytes(img));
    size_t len;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    pipeline_t *p;
    char err[256];
    uint32_t denom;

    assert_int_equal(pipeline_create(&p, img), 0);
    assert_int_equal(pipeline_run(p, jpeg, len, NULL, out, err, sizeof(err)), 0);
    denom = pipeline_last_scale_denom(p);
    pipeline_free(p);
    free(out);
    free(jpeg);
    free(px);
    return denom;
}

static void dct_scale_is_the_largest_reduction_that_covers(void **state)
{
    image_config_t img = config(224, 224);
    (void)state;
    assert_int_equal(scale_for(512, 512, &img), 2);  /* 256 >= 224; 128 is not. */
    assert_int_equal(scale_for(448, 448, &img), 2);  /* Exactly half still covers. */
    assert_int_equal(scale_for(300, 300, &img), 1);  /* Not at most half. */
    img = config(64, 64);
    assert_int_equal(scale_for(512, 512, &img), 8);
    img = config(100, 100);
    img.resize = RESIZE_STRETCH;
    assert_int_equal(scale_for(800, 400, &img), 4);  /* Height needs 1/4. */
    img.resize = RESIZE_CROP;
    assert_int_equal(scale_for(800, 400, &img), 4);  /* Short side 400 -> 100. */
    img.resize = RESIZE_FIT;
    assert_int_equal(scale_for(800, 400, &img), 8);  /* Long side 800 -> 100. */
}

static void float32_nchw_applies_scale_and_offset(void **state)
{
    static const uint8_t px[2 * 3] = {0, 255, 51, 102, 153, 204};
    size_t len;
    uint8_t *png = make_png(px, 2, 1, SPNG_COLOR_TYPE_TRUECOLOR, &len), *out;
    image_config_t img = config(2, 1);
    float *f;
    char err[256];
    (void)state;
    img.dtype = DTYPE_FLOAT32;
    img.layout = LAYOUT_NCHW;
    img.scale = 2.0f / 255;
    img.offset = -1;
    assert_int_equal(pipeline_sample_bytes(&img), 2 * 3 * sizeof(float));
    assert_int_equal(run(&img, png, len, NULL, &out, err, sizeof(err)), 0);
    f = (float *)out;
    /* NCHW: R0 R1 G0 G1 B0 B1. */
    assert_true(fabsf(f[0] - -1.0f) < 1e-6f && fabsf(f[1] - (102 * 2.0f / 255 - 1)) < 1e-6f);
    assert_true(fabsf(f[2] - 1.0f) < 1e-6f && fabsf(f[3] - (153 * 2.0f / 255 - 1)) < 1e-6f);
    assert_true(fabsf(f[4] - (51 * 2.0f / 255 - 1)) < 1e-6f);
    free(out);

    img.layout = LAYOUT_NHWC;
    img.has_mean_std = 1;
    img.mean[0] = 0.5f;
    img.mean[1] = 0.5f;
    img.mean[2] = 0.25f;
    img.std[0] = img.std[1] = 0.5f;
    img.std[2] = 0.25f;
    assert_int_equal(run(&img, png, len, NULL, &out, err, sizeof(err)), 0);
    f = (float *)out;
    assert_true(fabsf(f[0] - -1.0f) < 1e-6f);                          /* (0 - .5)/.5 */
    assert_true(fabsf(f[1] - 1.0f) < 1e-6f);                           /* (1 - .5)/.5 */
    assert_true(fabsf(f[2] - (51 / 255.0f - 0.25f) / 0.25f) < 1e-5f);
    free(out);
    free(png);
}

static void uint8_nchw_is_planar(void **state)
{
    static const uint8_t px[2 * 3] = {1, 2, 3, 4, 5, 6};
    static const uint8_t want[6] = {1, 4, 2, 5, 3, 6};
    size_t len;
    uint8_t *png = make_png(px, 2, 1, SPNG_COLOR_TYPE_TRUECOLOR, &len), *out;
    image_config_t img = config(2, 1);
    char err[256];
    (void)state;
    img.layout = LAYOUT_NCHW;
    assert_int_equal(run(&img, png, len, NULL, &out, err, sizeof(err)), 0);
    assert_memory_equal(out, want, 6);
    free(out);
    free(png);
}

static void alpha_is_composited_on_the_background(void **state)
{
    /* Opaque red, transparent green, half-transparent blue. */
    static const uint8_t px[3 * 4] = {255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 128};
    size_t len;
    uint8_t *png = make_png(px, 3, 1, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, &len), *out;
    image_config_t img = config(3, 1);
    char err[256];
    (void)state;
    img.background[0] = 10;
    img.background[1] = 20;
    img.background[2] = 30;
    assert_int_equal(run(&img, png, len, NULL, &out, err, sizeof(err)), 0);
    assert_int_equal(out[0], 255);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[3], 10);
    assert_int_equal(out[4], 20);
    assert_int_equal(out[5], 30);
    assert_int_equal(out[6], (10 * 127 + 127) / 255);
    assert_int_equal(out[8], (255 * 128 + 30 * 127 + 127) / 255);
    free(out);
    free(png);
}

static void grayscale_output_uses_luma(void **state)
{
    static const uint8_t px[2 * 3] = {255, 0, 0, 10, 200, 30};
    size_t len;
    uint8_t *png = make_png(px, 2, 1, SPNG_COLOR_TYPE_TRUECOLOR, &len), *out;
    image_config_t img = config(2, 1);
    char err[256];
    (void)state;
    img.color = COLOR_GRAYSCALE;
    assert_int_equal(pipeline_sample_bytes(&img), 2);
    assert_int_equal(run(&img, png, len, NULL, &out, err, sizeof(err)), 0);
    assert_int_equal(out[0], (255 * 19595 + 0x8000) >> 16);
    assert_int_equal(out[1], (10 * 19595 + 200 * 38470 + 30 * 7471 + 0x8000) >> 16);
    free(out);
    free(png);
}

static void gray_jpeg_becomes_rgb(void **state)
{
    uint32_t w = 16, h = 16;
    uint8_t gray[16 * 16], *out;
    size_t len;
    uint8_t *jpeg;
    image_config_t img = config(w, h);
    char err[256];
    (void)state;
    for (uint32_t i = 0; i < w * h; i++)
        gray[i] = (uint8_t)(i % 16 * 16);
    jpeg = make_jpeg(gray, w, h, TJPF_GRAY, &len);
    assert_int_equal(run(&img, jpeg, len, NULL, &out, err, sizeof(err)), 0);
    for (uint32_t i = 0; i < w * h; i++) {
        assert_int_equal(out[3 * i], out[3 * i + 1]);
        assert_int_equal(out[3 * i], out[3 * i + 2]);
        assert_true(abs((int)out[3 * i] - gray[i]) <= 8);
    }
    free(out);
    free(jpeg);
}

static void jpeg_warning_is_accepted_and_reported(void **state)
{
    uint32_t w = 16, h = 16;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t len;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    uint8_t *bad = malloc(len + 3);
    image_config_t img = config(w, h);
    pipeline_t *p;
    char err[256];
    (void)state;
    /* Three stray bytes before the first DHT: "3 extraneous bytes before marker 0xc4". */
    for (size_t i = 2, done = 0; i + 1 < len; i++) {
        if (!done && jpeg[i] == 0xFF && jpeg[i + 1] == 0xC4) {
            memcpy(bad, jpeg, i);
            memcpy(bad + i, "\x00\x00\x00", 3);
            memcpy(bad + i + 3, jpeg + i, len - i);
            done = 1;
        }
    }
    out = malloc(pipeline_sample_bytes(&img));
    assert_int_equal(pipeline_create(&p, &img), 0);
    assert_int_equal(pipeline_run(p, bad, len + 3, NULL, out, err, sizeof(err)), 0);
    assert_non_null(pipeline_last_warning(p));
    assert_non_null(strstr(pipeline_last_warning(p), "extraneous bytes"));
    assert_int_equal(pipeline_run(p, jpeg, len, NULL, out, err, sizeof(err)), 0);
    assert_null(pipeline_last_warning(p));
    pipeline_free(p);
    free(out);
    free(bad);
    free(jpeg);
    free(px);
}

/*
 * TurboJPEG reports TJERR_WARNING for a fatal error that follows a warning
 * in the same call; the decode stopped there and the buffer held the rows
 * of the image decoded before. Such a file must fail, not pass as warned.
 */
static void jpeg_fatal_error_after_a_warning_fails(void **state)
{
    uint32_t w = 32, h = 32;
    uint8_t *px = rgb_pattern(w, h), *out;
    size_t len, sos = 0, scans = 0;
    tjhandle tj = tjInitCompress();
    unsigned char *encoded = NULL;
    unsigned long size = 0;
    uint8_t *jpeg, *bad;
    image_config_t img = config(w, h);
    pipeline_t *p;
    char err[256];
    (void)state;

    /* Progressive, so that later scans are read while decoding, after the
     * header call succeeded. */
    assert_int_equal(tjCompress2(tj, px, (int)w, 0, (int)h, TJPF_RGB, &encoded, &size,
                                 TJSAMP_420, 90, TJFLAG_PROGRESSIVE), 0);
    len = size;
    jpeg = malloc(len);
    memcpy(jpeg, encoded, len);
    tjFree(encoded);
    tjDestroy(tj);
    bad = malloc(len + 3);
    /* Three stray bytes before the first DHT (a warning), then the second
     * scan's first component id set to 0x77 (fatal: "Invalid component ID
     * 119 in SOS"). */
    for (size_t i = 2, done = 0; i + 1 < len; i++) {
        if (!done && jpeg[i] == 0xFF && jpeg[i + 1] == 0xC4) {
            memcpy(bad, jpeg, i);
            memcpy(bad + i, "\x00\x00\x00", 3);
            memcpy(bad + i + 3, jpeg + i, len - i);
            done = 1;
        }
    }
    for (size_t i = 2; i + 1 < len + 3 && sos == 0; i++)
        if (bad[i] == 0xFF && bad[i + 1] == 0xDA && ++scans == 2)
            sos = i;
    assert_true(sos > 0);
    bad[sos + 5] = 0x77; /* FF DA, length (2), Ns (1), then Cs1 */
    out = malloc(pipeline_sample_bytes(&img));
    assert_int_equal(pipeline_create(&p, &img), 0);
    assert_int_equal(pipeline_run(p, jpeg, len, NULL, out, err, sizeof(err)), 0);
    assert_true(pipeline_run(p, bad, len + 3, NULL, out, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "Invalid component ID"));
    pipeline_free(p);
    free(out);
    free(bad);
    free(jpeg);
    free(px);
}

/*
 * libjpeg-turbo 2.1 leaves its handle half-used after a header error; the
 * next header on that handle "succeeded" with a 0x0 image. The pipeline must
 * decode a good file right after a corrupt one, as workers do all day.
 */
static void good_jpeg_after_a_corrupt_one_still_decodes(void **state)
{
    uint32_t w = 16, h = 16;
    uint8_t *px = rgb_pattern(w, h), *first, *again;
    size_t len, cut;
    uint8_t *jpeg = make_jpeg(px, w, h, TJPF_RGB, &len);
    image_config_t img = config(w, h);
    pipeline_t *p;
    char err[256];
    (void)state;

    /* Cut the file inside its header segments: "missing SOS marker". */
    for (cut = 2; cut + 1 < len && !(jpeg[cut] == 0xFF && jpeg[cut + 1] == 0xC4); cut++)
        ;
    first = malloc(pipeline_sample_bytes(&img));
    again = malloc(pipeline_sample_bytes(&img));
    assert_int_equal(pipeline_create(&p, &img), 0);
    assert_int_equal(pipeline_run(p, jpeg, len, NULL, first, err, sizeof(err)), 0);
    assert_true(pipeline_run(p, jpeg, cut, NULL, again, err, sizeof(err)) < 0);
    assert_int_equal(pipeline_run(p, jpeg, len, NULL, again, err, sizeof(err)), 0);
    assert_memory_equal(first, again, pipeline_sample_bytes(&img));
    pipeline_free(p);
    free(first);
    free(again);
    free(jpeg);
    free(px);
}

static void invalid_settings_are_refused(void **state)
{
    image_config_t img = config(0, 10);
    pipeline_t *p;
    (void)state;
    assert_int_equal(pipeline_create(&p, &img), -EINVAL);
    img = config(10, 10);
    img.dtype = DTYPE_FLOAT32;
    img.has_mean_std = 1;
    img.std[0] = img.std[1] = 1;
    img.std[2] = 0;
    assert_int_equal(pipeline_create(&p, &img), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_at_identity_size_is_exact),
        cmocka_unit_test(png_with_a_bad_chunk_checksum_says_so),
        cmocka_unit_test(jpeg_at_identity_size_is_close),
        cmocka_unit_test(jpeg_planes_match_libjpeg_rgb),
        cmocka_unit_test(jpeg_planes_are_skipped_where_libjpeg_differs),
        cmocka_unit_test(identity_params_give_the_plain_resize),
        cmocka_unit_test(horizontal_flip_mirrors_the_sample),
        cmocka_unit_test(same_seed_epoch_row_gives_the_same_bytes),
        cmocka_unit_test(one_pipeline_reused_gives_the_same_bytes),
        cmocka_unit_test(unknown_format_names_the_bytes),
        cmocka_unit_test(truncated_files_are_errors),
        cmocka_unit_test(corrupt_files_are_errors_with_the_decoder_reason),
        cmocka_unit_test(pixel_limit_is_checked_from_the_header),
        cmocka_unit_test(run_file_checks_size_and_reports_open_errors),
        cmocka_unit_test(open_file_then_run_fd_behaves_as_run_file),
        cmocka_unit_test(dct_scale_is_the_largest_reduction_that_covers),
        cmocka_unit_test(float32_nchw_applies_scale_and_offset),
        cmocka_unit_test(uint8_nchw_is_planar),
        cmocka_unit_test(alpha_is_composited_on_the_background),
        cmocka_unit_test(grayscale_output_uses_luma),
        cmocka_unit_test(gray_jpeg_becomes_rgb),
        cmocka_unit_test(jpeg_warning_is_accepted_and_reported),
        cmocka_unit_test(jpeg_fatal_error_after_a_warning_fails),
        cmocka_unit_test(good_jpeg_after_a_corrupt_one_still_decodes),
        cmocka_unit_test(invalid_settings_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
