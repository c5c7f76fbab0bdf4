/*
 * test_warp.c: the affine matrix and the sampler, on images made in memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "warp.h"

static const uint8_t black[3] = {0, 0, 0};

/* A deterministic test pattern of w x h x ch. */
static uint8_t *pattern(uint32_t w, uint32_t h, uint32_t ch)
{
    uint8_t *p = malloc((size_t)w * h * ch);
    for (uint32_t i = 0; i < w * h * ch; i++)
        p[i] = (uint8_t)((i * 2654435761u) >> 24);
    return p;
}

static warp_geometry_t geometry(uint32_t sw, uint32_t sh, uint32_t dw, uint32_t dh)
{
    return (warp_geometry_t){sw, sh, sw, sh, 1, dw, dh, RESIZE_STRETCH};
}

static void invert_undoes_multiply(void **state)
{
    warp_affine_t a = {{1.5, 0.2, 3, -0.4, 0.9, -7}}, inv, prod;
    (void)state;
    assert_int_equal(warp_invert(&inv, &a), 0);
    warp_multiply(&prod, &a, &inv);
    assert_true(fabs(prod.m[0] - 1) < 1e-12 && fabs(prod.m[1]) < 1e-12);
    assert_true(fabs(prod.m[2]) < 1e-12 && fabs(prod.m[3]) < 1e-12);
    assert_true(fabs(prod.m[4] - 1) < 1e-12 && fabs(prod.m[5]) < 1e-12);
}

static void singular_matrix_is_refused(void **state)
{
    warp_affine_t a = {{1, 2, 0, 2, 4, 0}}, inv;
    augment_params_t aug;
    warp_geometry_t g = geometry(8, 8, 8, 8);
    (void)state;
    assert_int_equal(warp_invert(&inv, &a), -EDOM);
    augment_identity(&aug);
    aug.zoom = 0;
    assert_int_equal(warp_build(&g, &aug, &inv), -EDOM);
}

static void identity_params_copy_the_image_exactly(void **state)
{
    uint32_t w = 17, h = 11;
    uint8_t *src = pattern(w, h, 3), *dst = malloc(w * h * 3), *dst2 = malloc(w * h * 3);
    warp_geometry_t g = geometry(w, h, w, h);
    warp_image_t si = {src, w, h, 3, w * 3};
    augment_params_t id;
    warp_affine_t m;
    (void)state;
    augment_identity(&id);
    for (int interp = 0; interp < INTERP_MAX; interp++) {
        assert_int_equal(warp_build(&g, &id, &m), 0);
        warp_apply(&si, &m, (interpolation_t)interp, black, dst, w, h);
        assert_memory_equal(dst, src, w * h * 3);
        /* NULL augmentation is the same plain resize. */
        assert_int_equal(warp_build(&g, NULL, &m), 0);
        warp_apply(&si, &m, (interpolation_t)interp, black, dst2, w, h);
        assert_memory_equal(dst2, src, w * h * 3);
    }
    free(src);
    free(dst);
    free(dst2);
}

static void horizontal_flip_is_an_exact_mirror(void **state)
{
    uint32_t w = 16, h = 9;
    uint8_t *src = pattern(w, h, 3), *dst = malloc(w * h * 3);
    warp_geometry_t g = geometry(w, h, w, h);
    warp_image_t si = {src, w, h, 3, w * 3};
    augment_params_t aug;
    warp_affine_t m;
    (void)state;
    augment_identity(&aug);
    aug.flip_horizontal = 1;
    assert_int_equal(warp_build(&g, &aug, &m), 0);
    for (int interp = 0; interp < INTERP_MAX; interp++) {
        warp_apply(&si, &m, (interpolation_t)interp, black, dst, w, h);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                assert_memory_equal(dst + (y * w + x) * 3, src + (y * w + (w - 1 - x)) * 3, 3);
    }
    free(src);
    free(dst);
}

static void vertical_flip_is_an_exact_mirror(void **state)
{
    uint32_t w = 7, h = 12;
    uint8_t *src = pattern(w, h, 1), *dst = malloc(w * h);
    warp_geometry_t g = geometry(w, h, w, h);
    warp_image_t si = {src, w, h, 1, w};
    augment_params_t aug;
    warp_affine_t m;
    (void)state;
    augment_identity(&aug);
    aug.flip_vertical = 1;
    assert_int_equal(warp_build(&g, &aug, &m), 0);
    warp_apply(&si, &m, INTERP_BILINEAR, black, dst, w, h);
    for (uint32_t y = 0; y < h; y++)
        assert_memory_equal(dst + y * w, src + (h - 1 - y) * w, w);
    free(src);
    free(dst);
}

/* Reference bilinear with pixel-centre alignment and edge clamping. */
static double ref_bilinear(const uint8_t *s, uint32_t w, uint32_t h, double u, double v)
{
    double fx, fy;
    int x0, y0, x1, y1;
    u = u < 0 ? 0 : u;
    v = v < 0 ? 0 : v;
    x0 = (int)floor(u);
    y0 = (int)floor(v);
    fx = u - x0;
    fy = v - y0;
    x1 = x0 + 1 < (int)w ? x0 + 1 : (int)w - 1;
    y1 = y0 + 1 < (int)h ? y0 + 1 : (int)h - 1;
    if (x0 > (int)w - 1)
        x0 = (int)w - 1;
    if (y0 > (int)h - 1)
        y0 = (int)h - 1;
    return (s[y0 * w + x0] * (1 - fx) + s[y0 * w + x1] * fx) * (1 - fy) +
           (s[y1 * w + x0] * (1 - fx) + s[y1 * w + x1] * fx) * fy;
}

static void resize_matches_reference_bilinear(void **state)
{
    uint32_t sw = 13, sh = 10, dw = 29, dh = 7;
    uint8_t *src = pattern(sw, sh, 1), *dst = malloc(dw * dh);
    warp_geometry_t g = geometry(sw, sh, dw, dh);
    warp_image_t si = {src, sw, sh, 1, sw};
    warp_affine_t m;
    (void)state;
    assert_int_equal(warp_build(&g, NULL, &m), 0);
    warp_apply(&si, &m, INTERP_BILINEAR, black, dst, dw, dh);
    for (uint32_t y = 0; y < dh; y++)
        for (uint32_t x = 0; x < dw; x++) {
            double u = (x + 0.5) * sw / dw - 0.5, v = (y + 0.5) * sh / dh - 0.5;
            double want = ref_bilinear(src, sw, sh, u, v);
            /* 8-bit weights: at most one level from the exact value. */
            assert_true(fabs(dst[y * dw + x] - want) <= 1.0);
        }
    free(src);
    free(dst);
}

static void area_halving_is_the_two_by_two_mean(void **state)
{
    uint32_t sw = 20, sh = 14, dw = 10, dh = 7;
    uint8_t *src = pattern(sw, sh, 3), *dst = malloc(dw * dh * 3);
    warp_geometry_t g = geometry(sw, sh, dw, dh);
    warp_image_t si = {src, sw, sh, 3, sw * 3};
    warp_affine_t m;
    (void)state;
    assert_int_equal(warp_build(&g, NULL, &m), 0);
    warp_apply(&si, &m, INTERP_AREA, black, dst, dw, dh);
    for (uint32_t y = 0; y < dh; y++)
        for (uint32_t x = 0; x < dw; x++)
            for (uint32_t c = 0; c < 3; c++) {
                const uint8_t *p = src + ((2 * y) * sw + 2 * x) * 3 + c;
                double mean = (p[0] + p[3] + p[sw * 3] + p[sw * 3 + 3]) / 4.0;
                assert_true(fabs(dst[(y * dw + x) * 3 + c] - floor(mean + 0.5)) <= 0.5);
            }
    free(src);
    free(dst);
}

static void outside_the_source_gets_the_fill(void **state)
{
    uint32_t w = 8, h = 8;
    uint8_t *src = pattern(w, h, 3), *dst = malloc(w * h * 3);
    static const uint8_t fill[3] = {1, 2, 3};
    warp_geometry_t g = geometry(w, h, w, h);
    warp_image_t si = {src, w, h, 3, w * 3};
    augment_params_t aug;
    warp_affine_t m;
    (void)state;
    augment_identity(&aug);
    aug.translate_x = 0.5; /* Content moves right by 4: columns 0..3 are empty. */
    assert_int_equal(warp_build(&g, &aug, &m), 0);
    for (int interp = 0; interp < INTERP_MAX; interp++) {
        warp_apply(&si, &m, (interpolation_t)interp, fill, dst, w, h);
        for (uint32_t y = 0; y < h; y++) {
            for (uint32_t x = 0; x < 4; x++)
                assert_memory_equal(dst + (y * w + x) * 3, fill, 3);
            for (uint32_t x = 4; x < w; x++)
                assert_memory_equal(dst + (y * w + x) * 3, src + (y * w + x - 4) * 3, 3);
        }
    }
    free(src);
    free(dst);
}

static void exif_rotation_is_undone(void **state)
{
    /* Stored 3x2, orientation 6 (rotate 90 clockwise to view): upright 2x3. */
    static const uint8_t src[6] = {1, 2, 3, 4, 5, 6};
    static const uint8_t want[6] = {4, 1, 5, 2, 6, 3};
    uint8_t dst[6];
    warp_geometry_t g = {3, 2, 3, 2, 6, 2, 3, RESIZE_STRETCH};
    warp_image_t si = {src, 3, 2, 1, 3};
    warp_affine_t m;
    (void)state;
    assert_int_equal(warp_build(&g, NULL, &m), 0);
    warp_apply(&si, &m, INTERP_NEAREST, black, dst, 2, 3);
    assert_memory_equal(dst, want, 6);
}

static void rotation_by_ninety_degrees_turns_the_image(void **state)
{
    uint32_t n = 6;
    uint8_t *src = pattern(n, n, 1), *dst = malloc(n * n);
    warp_geometry_t g = geometry(n, n, n, n);
    warp_image_t si = {src, n, n, 1, n};
    augment_params_t aug;
    warp_affine_t m;
    (void)state;
    augment_identity(&aug);
    aug.rotate_deg = 90; /* Counter-clockwise as seen. */
    assert_int_equal(warp_build(&g, &aug, &m), 0);
    warp_apply(&si, &m, INTERP_NEAREST, black, dst, n, n);
    for (uint32_t y = 0; y < n; y++)
        for (uint32_t x = 0; x < n; x++)
            assert_int_equal(dst[y * n + x], src[x * n + (n - 1 - y)]);
    free(src);
    free(dst);
}

static void fit_pads_and_crop_centres(void **state)
{
    /* A 4x2 white source into 4x4: fit gives rows 1..2 white, 0 and 3 fill. */
    uint8_t src[8], dst[16], dst2[4];
    static const uint8_t fill[1] = {7};
    warp_geometry_t g = {4, 2, 4, 2, 1, 4, 4, RESIZE_FIT};
    warp_image_t si = {src, 4, 2, 1, 4};
    warp_affine_t m;
    (void)state;
    memset(src, 200, sizeof(src));
    assert_int_equal(warp_build(&g, NULL, &m), 0);
    warp_apply(&si, &m, INTERP_BILINEAR, fill, dst, 4, 4);
    for (int x = 0; x < 4; x++) {
        assert_int_equal(dst[x], 7);
        assert_int_equal(dst[4 + x], 200);
        assert_int_equal(dst[8 + x], 200);
        assert_int_equal(dst[12 + x], 7);
    }
    /* Crop to 2x2 from columns 1..2 at scale 1. */
    for (int i = 0; i < 8; i++)
        src[i] = (uint8_t)(i * 10);
    g = (warp_geometry_t){4, 2, 4, 2, 1, 2, 2, RESIZE_CROP};
    assert_int_equal(warp_build(&g, NULL, &m), 0);
    warp_apply(&si, &m, INTERP_NEAREST, fill, dst2, 2, 2);
    assert_int_equal(dst2[0], 10);
    assert_int_equal(dst2[1], 20);
    assert_int_equal(dst2[2], 50);
    assert_int_equal(dst2[3], 60);
}

static void required_scale_follows_the_resize_mode(void **state)
{
    augment_params_t aug;
    (void)state;
    /* 800x400 into 100x100. */
    assert_true(fabs(warp_required_scale(800, 400, 1, 100, 100, RESIZE_STRETCH, NULL) - 0.25) <
                1e-12);
    assert_true(fabs(warp_required_scale(800, 400, 1, 100, 100, RESIZE_CROP, NULL) - 0.25) <
                1e-12);
    assert_true(fabs(warp_required_scale(800, 400, 1, 100, 100, RESIZE_FIT, NULL) - 0.125) <
                1e-12);
    /* EXIF rotation swaps the axes that are compared. */
    assert_true(fabs(warp_required_scale(800, 400, 6, 100, 200, RESIZE_STRETCH, NULL) - 0.25) <
                1e-12);
    /* Zooming in needs more source pixels. */
    augment_identity(&aug);
    aug.zoom = 2;
    assert_true(fabs(warp_required_scale(800, 400, 1, 100, 100, RESIZE_FIT, &aug) - 0.25) <
                1e-12);
}

static void huge_zoom_out_does_not_overflow(void **state)
{
    uint32_t w = 9, h = 9;
    uint8_t *src = pattern(w, h, 3), *dst = malloc(64 * 64 * 3);
    warp_geometry_t g = geometry(w, h, 64, 64);
    warp_image_t si = {src, w, h, 3, w * 3};
    augment_params_t aug;
    warp_affine_t m;
    (void)state;
    augment_identity(&aug);
    aug.zoom = 1e-9;
    assert_int_equal(warp_build(&g, &aug, &m), 0);
    for (int interp = 0; interp < INTERP_MAX; interp++)
        warp_apply(&si, &m, (interpolation_t)interp, black, dst, 64, 64);
    aug.zoom = 1e9;
    assert_int_equal(warp_build(&g, &aug, &m), 0);
    warp_apply(&si, &m, INTERP_BILINEAR, black, dst, 64, 64);
    free(src);
    free(dst);
}

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Uniform in [lo, hi). */
static double rng_uniform(uint32_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (rng_next(s) / 4294967296.0);
}

/*
 * Random pixels, in one of three kinds: uniform, only 0 and 255 (the extremes
 * of every sum in the SIMD arithmetic), or all 255.
 */
static void fill_random(uint8_t *p, size_t n, uint32_t *s)
{
    uint32_t kind = rng_next(s) % 3;

    for (size_t i = 0; i < n; i++) {
        uint32_t r = rng_next(s);
        p[i] = kind == 0 ? (uint8_t)(r >> 24) : kind == 1 ? ((r >> 24) & 1 ? 255 : 0) : 255;
    }
}

/*
 * The SIMD bilinear loop of warp_apply must give exactly the bytes of the
 * scalar reference: random sources from 1x1 up (odd widths, row padding),
 * random output sizes, and random affines (scales from 1/8 to 8, any
 * rotation, shear, translation, mirrors). Each source is allocated to its
 * exact size, (h - 1) * stride + w * ch bytes, and each output to its exact
 * size, so that a read or write past either one fails under ASan.
 */
static void simd_bilinear_matches_the_scalar_reference_at(warp_simd_t level)
{
    uint32_t seed = 12345;

    warp_limit_simd(level);
    for (int iter = 0; iter < 3000; iter++) {
        uint32_t ch = rng_next(&seed) % 2 ? 3 : 1;
        uint32_t big = iter % 10 == 0;
        uint32_t sw = 1 + rng_next(&seed) % (big ? 300 : 24);
        uint32_t sh = 1 + rng_next(&seed) % (big ? 300 : 24);
        uint32_t dw = 1 + rng_next(&seed) % (big ? 230 : 40);
        uint32_t dh = 1 + rng_next(&seed) % (big ? 60 : 20);
        size_t stride = (size_t)sw * ch + (rng_next(&seed) % 4 == 0 ? rng_next(&seed) % 7 : 0);
        size_t src_bytes = (sh - 1) * stride + (size_t)sw * ch, dst_bytes = (size_t)dw * dh * ch;
        uint8_t *src = malloc(src_bytes), *fast = malloc(dst_bytes), *ref = malloc(dst_bytes);
        static const uint8_t fill[3] = {7, 77, 177};
        warp_image_t si = {src, sw, sh, ch, stride};
        double k = exp(rng_uniform(&seed, log(0.125), log(8.0)));
        double a = rng_uniform(&seed, -M_PI, M_PI), sh_x = rng_uniform(&seed, -0.3, 0.3);
        double c = cos(a) * k, s = sin(a) * k;
        double fx = rng_next(&seed) % 4 == 0 ? -1 : 1;
        warp_affine_t m;

        if (rng_next(&seed) % 3 == 0) {
            /* A plain resize, often with a mirror: long axis-aligned runs. */
            m = (warp_affine_t){{fx * (double)sw / dw, 0, fx < 0 ? sw : 0, 0, (double)sh / dh,
                                 0}};
        } else {
            /* Rotation, scale and shear about the centres, then a random shift. */
            m.m[0] = c;
            m.m[1] = -s + c * sh_x;
            m.m[3] = s;
            m.m[4] = c + s * sh_x;
            m.m[2] = sw / 2.0 - m.m[0] * dw / 2.0 - m.m[1] * dh / 2.0 +
                     rng_uniform(&seed, -0.3, 0.3) * sw;
            m.m[5] = sh / 2.0 - m.m[3] * dw / 2.0 - m.m[4] * dh / 2.0 +
                     rng_uniform(&seed, -0.3, 0.3) * sh;
        }
        fill_random(src, src_bytes, &seed);
        memset(fast, 0xa5, dst_bytes);
        memset(ref, 0x5a, dst_bytes);
        warp_apply(&si, &m, INTERP_BILINEAR, fill, fast, dw, dh);
        warp_apply_reference(&si, &m, INTERP_BILINEAR, fill, ref, dw, dh);
        if (memcmp(fast, ref, dst_bytes) != 0)
            print_error("SIMD level %d, iteration %d: %ux%ux%u (stride %zu) -> %ux%u, "
                        "m = %g %g %g %g %g %g\n", level, iter, sw, sh, ch, stride, dw, dh,
                        m.m[0], m.m[1], m.m[2], m.m[3], m.m[4], m.m[5]);
        assert_memory_equal(fast, ref, dst_bytes);
        free(src);
        free(fast);
        free(ref);
    }
    warp_limit_simd(WARP_SIMD_BEST);
}

/* At every SIMD level: AVX2 (where the CPU has it) and SSE2. */
static void simd_bilinear_matches_the_scalar_reference(void **state)
{
    (void)state;
    simd_bilinear_matches_the_scalar_reference_at(WARP_SIMD_AVX2);
    simd_bilinear_matches_the_scalar_reference_at(WARP_SIMD_SSE2);
}

/*
 * Every fraction pair on a 2x2 source of extreme values: a 2048x2048 output
 * stretched over the interior steps fx and fy through all 2^11 x 2^11
 * weights (one row of the output per fy), for each of a few 0/255 patterns.
 */
static void simd_bilinear_matches_the_reference_for_every_weight(void **state)
{
    static const uint8_t corners[][4] = {
        {255, 255, 255, 255}, {255, 0, 0, 255}, {0, 255, 255, 0}, {255, 0, 255, 0},
        {0, 0, 255, 255}, {1, 254, 253, 2},
    };
    uint32_t n = 2048;
    uint8_t *fast = malloc((size_t)n * n * 3), *ref = malloc((size_t)n * n * 3);
    (void)state;
    for (size_t i = 0; i < sizeof(corners) / sizeof(corners[0]); i++) {
        uint8_t src[12];
        warp_image_t si = {src, 2, 2, 3, 6};
        /* Output pixel centre (x + 0.5, y + 0.5) -> source (x / n, y / n). */
        warp_affine_t m = {{1.0 / n, 0, -0.5 / n + 0.5, 0, 1.0 / n, -0.5 / n + 0.5}};

        for (int c = 0; c < 3; c++)
            for (int j = 0; j < 4; j++)
                src[j * 3 + c] = (uint8_t)(c == 1 ? 255 - corners[i][j] : corners[i][j]);
        warp_apply(&si, &m, INTERP_BILINEAR, black, fast, n, n);
        warp_apply_reference(&si, &m, INTERP_BILINEAR, black, ref, n, n);
        assert_memory_equal(fast, ref, (size_t)n * n * 3);
        si = (warp_image_t){src, 2, 2, 1, 2};
        for (int j = 0; j < 4; j++)
            src[j] = corners[i][j];
        warp_apply(&si, &m, INTERP_BILINEAR, black, fast, n, n);
        warp_apply_reference(&si, &m, INTERP_BILINEAR, black, ref, n, n);
        assert_memory_equal(fast, ref, (size_t)n * n);
    }
    free(fast);
    free(ref);
}

/* A random affine for a sw x sh source and a dw x dh output, as above. */
static warp_affine_t random_affine(uint32_t *seed, uint32_t sw, uint32_t sh, uint32_t dw,
                                   uint32_t dh)
{
    double k = exp(rng_uniform(seed, log(0.125), log(8.0)));
    double a = rng_uniform(seed, -M_PI, M_PI), sh_x = rng_uniform(seed, -0.3, 0.3);
    double c = cos(a) * k, s = sin(a) * k;
    double fx = rng_next(seed) % 4 == 0 ? -1 : 1;
    warp_affine_t m;

    if (rng_next(seed) % 3 == 0)
        return (warp_affine_t){{fx * (double)sw / dw, 0, fx < 0 ? sw : 0, 0, (double)sh / dh, 0}};
    m.m[0] = c;
    m.m[1] = -s + c * sh_x;
    m.m[3] = s;
    m.m[4] = c + s * sh_x;
    m.m[2] = sw / 2.0 - m.m[0] * dw / 2.0 - m.m[1] * dh / 2.0 + rng_uniform(seed, -0.3, 0.3) * sw;
    m.m[5] = sh / 2.0 - m.m[3] * dw / 2.0 - m.m[4] * dh / 2.0 + rng_uniform(seed, -0.3, 0.3) * sh;
    return m;
}

/*
 * warp_apply_ycbcr's SIMD sampling and conversion against its scalar
 * reference: random luma sizes from 1x1, every subsampling a JPEG can have,
 * chroma planes of ceil(w / sx) x ceil(h / sy), each plane allocated to its
 * exact size (ASan catches a scalar or SSE2 read past one; the AVX2 gathers
 * are checked by simd_reads_stay_inside_the_source), bilinear and nearest.
 */
static void ycbcr_simd_matches_the_scalar_reference_at(warp_simd_t level)
{
    static const uint32_t subsampling[][2] = {{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}};
    static const uint8_t fill[3] = {7, 77, 177};
    uint32_t seed = 777;

    warp_limit_simd(level);
    for (int iter = 0; iter < 2000; iter++) {
        uint32_t big = iter % 10 == 0, sx, sy;
        uint32_t sw = 1 + rng_next(&seed) % (big ? 300 : 24);
        uint32_t sh = 1 + rng_next(&seed) % (big ? 300 : 24);
        uint32_t dw = 1 + rng_next(&seed) % (big ? 300 : 40);
        uint32_t dh = 1 + rng_next(&seed) % (big ? 40 : 20);
        interpolation_t interp = rng_next(&seed) % 4 == 0 ? INTERP_NEAREST : INTERP_BILINEAR;
        size_t dst_bytes = (size_t)dw * dh * 3;
        uint8_t *fast = malloc(dst_bytes), *ref = malloc(dst_bytes), *planes[2];
        warp_planes_t wp;
        warp_affine_t m;

        sx = subsampling[iter % 5][0];
        sy = subsampling[iter % 5][1];
        wp.chroma_x = sx;
        wp.chroma_y = sy;
        for (uint32_t i = 0; i < 2; i++) { /* Y, then Cb and Cr interleaved. */
            uint32_t w = i == 0 ? sw : (sw + sx - 1) / sx, h = i == 0 ? sh : (sh + sy - 1) / sy;
            size_t stride = (i + 1) * w + (rng_next(&seed) % 4 == 0 ? rng_next(&seed) % 7 : 0);
            size_t bytes = (h - 1) * stride + (i + 1) * w;

            planes[i] = malloc(bytes);
            fill_random(planes[i], bytes, &seed);
            if (i == 0)
                wp.luma = (warp_image_t){planes[i], w, h, 1, stride};
            else
                wp.chroma = (warp_image_t){planes[i], w, h, 2, stride};
        }
        m = random_affine(&seed, sw, sh, dw, dh);
        memset(fast, 0xa5, dst_bytes);
        memset(ref, 0x5a, dst_bytes);
        warp_apply_ycbcr(&wp, &m, interp, fill, fast, dw, dh);
        warp_apply_ycbcr_reference(&wp, &m, interp, fill, ref, dw, dh);
        if (memcmp(fast, ref, dst_bytes) != 0)
            print_error("SIMD level %d, iteration %d: %ux%u %u:%u -> %ux%u, "
                        "m = %g %g %g %g %g %g\n", level, iter, sw, sh, sx, sy, dw, dh, m.m[0],
                        m.m[1], m.m[2], m.m[3], m.m[4], m.m[5]);
        assert_memory_equal(fast, ref, dst_bytes);
        for (int i = 0; i < 2; i++)
            free(planes[i]);
        free(fast);
        free(ref);
    }
    warp_limit_simd(WARP_SIMD_BEST);
}

static void ycbcr_simd_matches_the_scalar_reference(void **state)
{
    (void)state;
    ycbcr_simd_matches_the_scalar_reference_at(WARP_SIMD_AVX2);
    ycbcr_simd_matches_the_scalar_reference_at(WARP_SIMD_SSE2);
}

/* JFIF's conversion as warp_sample.c documents it, in double: floor((v + 2^15) / 2^16). */
static uint8_t jfif_channel(int luma, double v)
{
    double c = luma + floor((v + 32768.0) / 65536.0);

    return (uint8_t)(c < 0 ? 0 : (c > 255 ? 255 : c));
}

/*
 * Interleaved chroma is sampled as separate planes would be: for 4:4:4
 * (chroma and luma share the matrix), warp_apply_ycbcr at every SIMD level
 * equals three 1-channel warps (warp_apply_reference of Y, of Cb alone and
 * of Cr alone) followed by the JFIF formula, and the fill where a constant
 * plane's warp says the pixel is outside.
 */
static void ycbcr_equals_three_gray_warps(void **state)
{
    static const warp_simd_t levels[] = {WARP_SIMD_AVX2, WARP_SIMD_SSE2};
    static const uint8_t fill[3] = {7, 77, 177};
    uint32_t seed = 31337;
    (void)state;
    for (int iter = 0; iter < 600; iter++) {
        uint32_t sw = 2 + rng_next(&seed) % (iter % 10 == 0 ? 300 : 40);
        uint32_t sh = 2 + rng_next(&seed) % 40, dw = 1 + rng_next(&seed) % 80;
        uint32_t dh = 1 + rng_next(&seed) % 12;
        size_t n = (size_t)sw * sh, out_px = (size_t)dw * dh;
        uint8_t *plane[3], *cbcr = malloc(2 * n), *ones = malloc(n), *inside = malloc(out_px);
        uint8_t *gray[3], *out = malloc(out_px * 3);
        warp_affine_t m = random_affine(&seed, sw, sh, dw, dh);
        warp_planes_t wp;

        for (int c = 0; c < 3; c++) {
            plane[c] = malloc(n);
            gray[c] = malloc(out_px);
            fill_random(plane[c], n, &seed);
            warp_apply_reference(&(warp_image_t){plane[c], sw, sh, 1, sw}, &m, INTERP_BILINEAR,
                                 &(uint8_t){0}, gray[c], dw, dh);
        }
        memset(ones, 1, n);
        warp_apply_reference(&(warp_image_t){ones, sw, sh, 1, sw}, &m, INTERP_BILINEAR,
                             &(uint8_t){0}, inside, dw, dh);
        for (size_t i = 0; i < n; i++) {
            cbcr[2 * i] = plane[1][i];
            cbcr[2 * i + 1] = plane[2][i];
        }
        wp = (warp_planes_t){{plane[0], sw, sh, 1, sw}, {cbcr, sw, sh, 2, 2 * (size_t)sw}, 1, 1};
        for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
            warp_limit_simd(levels[l]);
            warp_apply_ycbcr(&wp, &m, INTERP_BILINEAR, fill, out, dw, dh);
            for (size_t i = 0; i < out_px; i++) {
                int y = gray[0][i];
                double b = gray[1][i] - 128.0, r = gray[2][i] - 128.0;
                uint8_t want[3] = {jfif_channel(y, 91881 * r),
                                   jfif_channel(y, -22554 * b - 46802 * r),
                                   jfif_channel(y, 116130 * b)};

                assert_memory_equal(out + 3 * i, inside[i] ? want : fill, 3);
            }
        }
        warp_limit_simd(WARP_SIMD_BEST);
        for (int c = 0; c < 3; c++) {
            free(plane[c]);
            free(gray[c]);
        }
        free(cbcr);
        free(ones);
        free(inside);
        free(out);
    }
}

/*
 * The conversion on every (Cb, Cr) pair with a spread of Y, through an
 * identity warp of 4:4:4 planes: SIMD and scalar agree byte for byte, and
 * both are JFIF's formula in double precision to within its rounding (one
 * level), clamped.
 */
static void ycbcr_conversion_is_jfif_for_every_colour(void **state)
{
    static const uint8_t lumas[] = {0, 1, 16, 77, 128, 200, 235, 254, 255};
    const uint32_t w = 256, h = 256;
    uint8_t *y = malloc(w * h), *cbcr = malloc(w * h * 2);
    uint8_t *fast = malloc(w * h * 3), *ref = malloc(w * h * 3);
    warp_affine_t id = {{1, 0, 0, 0, 1, 0}};
    (void)state;
    for (uint32_t i = 0; i < w * h; i++) {
        cbcr[2 * i] = (uint8_t)(i % 256);
        cbcr[2 * i + 1] = (uint8_t)(i / 256);
    }
    for (size_t k = 0; k < sizeof(lumas); k++) {
        warp_planes_t wp = {{y, w, h, 1, w}, {cbcr, w, h, 2, 2 * w}, 1, 1};

        memset(y, lumas[k], w * h);
        warp_apply_ycbcr(&wp, &id, INTERP_BILINEAR, black, fast, w, h);
        warp_apply_ycbcr_reference(&wp, &id, INTERP_BILINEAR, black, ref, w, h);
        assert_memory_equal(fast, ref, (size_t)w * h * 3);
        for (uint32_t i = 0; i < w * h; i++) {
            double b = cbcr[2 * i] - 128.0, r = cbcr[2 * i + 1] - 128.0;
            double want[3] = {lumas[k] + 1.402 * r, lumas[k] - 0.344136 * b - 0.714136 * r,
                              lumas[k] + 1.772 * b};

            for (int c = 0; c < 3; c++) {
                double v = want[c] < 0 ? 0 : (want[c] > 255 ? 255 : want[c]);
                assert_true(fabs(fast[i * 3 + c] - v) <= 1.0);
            }
        }
    }
    free(y);
    free(cbcr);
    free(fast);
    free(ref);
}

/*
 * Pixels whose luma position is outside the image get the fill exactly (not
 * a colour converted back from YCbCr), and the chroma of 4:2:0 is sampled at
 * the centre of the luma pixels it covers: a chroma ramp read back at the
 * luma centres follows libjpeg's triangle upsampling.
 */
static void ycbcr_fill_is_exact_and_chroma_is_centred(void **state)
{
    static const uint8_t fill[3] = {7, 77, 177};
    uint8_t y[8 * 4], cbcr[4 * 2 * 2], out[16 * 4 * 3];
    warp_planes_t wp = {{y, 8, 4, 1, 8}, {cbcr, 4, 2, 2, 8}, 2, 2};
    /* Output 16 x 4, the image in its middle 8 columns: x - 4. */
    warp_affine_t shift = {{1, 0, -4, 0, 1, 0}};
    (void)state;
    memset(y, 128, sizeof(y));
    for (int i = 0; i < 8; i++) {
        cbcr[2 * i] = (uint8_t)(100 + 40 * (i % 4)); /* Cb 100 140 180 220 per row */
        cbcr[2 * i + 1] = 128;
    }
    warp_apply_ycbcr(&wp, &shift, INTERP_BILINEAR, fill, out, 16, 4);
    for (int row = 0; row < 4; row++) {
        const uint8_t *o = out + row * 16 * 3;
        /* B = Y + 1.772 (Cb - 128), Cb upsampled: 100 100 110 130 150 170 190 210 220 220 */
        static const double cb_up[8] = {100, 110, 130, 150, 170, 190, 210, 220};

        for (int x = 0; x < 16; x++) {
            if (x < 4 || x >= 12) {
                assert_memory_equal(o + x * 3, fill, 3);
                continue;
            }
            {
                double want = 128 + 1.772 * (cb_up[x - 4] - 128);
                want = want > 255 ? 255 : want;
                assert_true(fabs(o[x * 3 + 2] - want) <= 1.0);
            }
        }
    }
}

/* n bytes flush against an inaccessible page: right after them, or right before. */
typedef struct guarded {
    uint8_t *map;
    size_t map_len;
} guarded_t;

static uint8_t *guarded_alloc(guarded_t *g, size_t n, int guard_before)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    g->map_len = ((n + page - 1) / page + 2) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map, page, PROT_NONE), 0);
    assert_int_equal(mprotect(g->map + g->map_len - page, page, PROT_NONE), 0);
    return guard_before ? g->map + page : g->map + g->map_len - page - n;
}

static void guarded_free(guarded_t *g)
{
    munmap(g->map, g->map_len);
}

/*
 * No SIMD loop reads outside the source: each source (an interleaved image,
 * or the luma and the chroma of YCbCr) ends right before an inaccessible page, or starts
 * right after one, with stride equal to its width, and random warps at
 * every SIMD level must not fault. ASan does not check the bytes that AVX2
 * gathers read, so this is the test that guards them.
 */
static void simd_reads_stay_inside_the_source(void **state)
{
    static const warp_simd_t levels[] = {WARP_SIMD_AVX2, WARP_SIMD_SSE2};
    uint32_t seed = 4242;
    (void)state;
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        warp_limit_simd(levels[l]);
        for (int iter = 0; iter < 3000; iter++) {
            uint32_t ch = iter % 3 == 0 ? 3 : 1, before = (iter / 3) % 2;
            uint32_t sw = 2 + rng_next(&seed) % 40, sh = 2 + rng_next(&seed) % 30;
            uint32_t dw = 8 + rng_next(&seed) % 60, dh = 1 + rng_next(&seed) % 8;
            uint8_t *out = malloc((size_t)dw * dh * 3);
            warp_affine_t m = random_affine(&seed, sw, sh, dw, dh);
            guarded_t g[2];

            if (iter % 2 == 0) {
                uint8_t *src = guarded_alloc(&g[0], (size_t)sw * sh * ch, (int)before);
                warp_image_t si = {src, sw, sh, ch, (size_t)sw * ch};

                fill_random(src, (size_t)sw * sh * ch, &seed);
                warp_apply(&si, &m, INTERP_BILINEAR, black, out, dw, dh);
                guarded_free(&g[0]);
            } else {
                warp_planes_t wp = {.chroma_x = 2, .chroma_y = 2};

                for (uint32_t i = 0; i < 2; i++) { /* Y, then Cb and Cr interleaved. */
                    uint32_t w = i == 0 ? sw : (sw + 1) / 2, h = i == 0 ? sh : (sh + 1) / 2;
                    size_t bytes = (size_t)w * h * (i + 1);
                    uint8_t *p = guarded_alloc(&g[i], bytes, (int)before);

                    fill_random(p, bytes, &seed);
                    if (i == 0)
                        wp.luma = (warp_image_t){p, w, h, 1, w};
                    else
                        wp.chroma = (warp_image_t){p, w, h, 2, 2 * (size_t)w};
                }
                warp_apply_ycbcr(&wp, &m, INTERP_BILINEAR, black, out, dw, dh);
                for (int i = 0; i < 2; i++)
                    guarded_free(&g[i]);
            }
            free(out);
        }
    }
    warp_limit_simd(WARP_SIMD_BEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invert_undoes_multiply),
        cmocka_unit_test(singular_matrix_is_refused),
        cmocka_unit_test(identity_params_copy_the_image_exactly),
        cmocka_unit_test(horizontal_flip_is_an_exact_mirror),
        cmocka_unit_test(vertical_flip_is_an_exact_mirror),
        cmocka_unit_test(resize_matches_reference_bilinear),
        cmocka_unit_test(area_halving_is_the_two_by_two_mean),
        cmocka_unit_test(outside_the_source_gets_the_fill),
        cmocka_unit_test(exif_rotation_is_undone),
        cmocka_unit_test(rotation_by_ninety_degrees_turns_the_image),
        cmocka_unit_test(fit_pads_and_crop_centres),
        cmocka_unit_test(required_scale_follows_the_resize_mode),
        cmocka_unit_test(huge_zoom_out_does_not_overflow),
        cmocka_unit_test(simd_bilinear_matches_the_scalar_reference),
        cmocka_unit_test(simd_bilinear_matches_the_reference_for_every_weight),
        cmocka_unit_test(ycbcr_simd_matches_the_scalar_reference),
        cmocka_unit_test(simd_reads_stay_inside_the_source),
        cmocka_unit_test(ycbcr_equals_three_gray_warps),
        cmocka_unit_test(ycbcr_conversion_is_jfif_for_every_colour),
        cmocka_unit_test(ycbcr_fill_is_exact_and_chroma_is_centred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
