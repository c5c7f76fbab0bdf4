/*
 * test_finish.c: the pipeline's last pass, 8-bit pixels to normalised
 * float32 or to uint8 planes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "finish.h"

/* The expected values below are a multiply and an add, each rounded, as finish.c computes them. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ImageNet's mean and std, as PyTorch users configure them. */
static const finish_norm_t imagenet = {1, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f},
                                       1.0f, 0.0f};
static const finish_norm_t scaled = {0, {0, 0, 0}, {1, 1, 1}, 1.0f / 127.5f, -1.0f};

/* A photometric table that moves every value, and no two to the same one. */
static void fill_lut(uint8_t *lut)
{
    for (int v = 0; v < 256; v++)
        lut[v] = (uint8_t)(255 - v);
}

/* A small image checked value by value against the formula and the layout. */
static void values_and_layouts_follow_the_definition(void **state)
{
    static const uint8_t src[] = {10, 20, 30, 11, 21, 31, 12, 22, 32};
    float out[9];
    uint8_t lut[256];
    (void)state;
    fill_lut(lut);

    finish_float(&imagenet, NULL, src, 3, 3, 0, out); /* NHWC: as src. */
    for (int i = 0; i < 9; i++) {
        int c = i % 3;
        assert_true(out[i] == (src[i] / 255.0f - imagenet.mean[c]) / imagenet.std[c]);
    }
    finish_float(&imagenet, NULL, src, 3, 3, 1, out); /* NCHW: R R R G G G B B B. */
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 3; i++)
            assert_true(out[c * 3 + i] ==
                        (src[i * 3 + c] / 255.0f - imagenet.mean[c]) / imagenet.std[c]);
    finish_float(&scaled, lut, src, 9, 1, 1, out); /* One channel, through the lut. */
    for (int i = 0; i < 9; i++) {
        float x = lut[src[i]];
        assert_true(out[i] == x * scaled.scale + scaled.offset);
    }
}

/*
 * The dispatched loops (AVX2 where the CPU has it, computing or gathering)
 * give the reference's bits for every length around the vector steps (8
 * pixels, 24 values) and a whole 224x224 sample, both layouts, one and three
 * channels, both normalisations, with and without a photometric table, and
 * write nothing past the sample.
 */
static void simd_matches_the_reference(void **state)
{
    static const size_t lengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 47, 48, 49, 100,
                                     224 * 224};
    const finish_norm_t *norms[] = {&imagenet, &scaled};
    uint8_t lut[256];
    (void)state;
    fill_lut(lut);
    if (!__builtin_cpu_supports("avx2"))
        print_message("no AVX2 on this CPU: finish_float is the reference here\n");
    srand(7);
    for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++)
        for (uint32_t channels = 1; channels <= 3; channels += 2)
            for (int planar = 0; planar <= 1; planar++)
                for (int k = 0; k < 4; k++) {
                    const finish_norm_t *norm = norms[k % 2];
                    const uint8_t *table = k < 2 ? NULL : lut;
                    size_t values = lengths[l] * channels, guard = 16;
                    uint8_t *src = malloc(values + 1);
                    float *fast = malloc((values + guard) * sizeof(float));
                    float *ref = malloc((values + guard) * sizeof(float));

                    for (size_t i = 0; i < values; i++)
                        src[i] = (uint8_t)(rand() >> 7);
                    for (size_t i = 0; i < values + guard; i++)
                        fast[i] = ref[i] = -7.0f;
                    finish_float(norm, table, src, lengths[l], channels, planar, fast);
                    finish_float_reference(norm, table, src, lengths[l], channels, planar, ref);
                    assert_memory_equal(fast, ref, (values + guard) * sizeof(float));
                    free(src);
                    free(fast);
                    free(ref);
                }
}

/*
 * No read past the last pixel: the source ends right before an
 * inaccessible page (ASan does not check vector loads' bounds).
 */
static void reads_stay_inside_the_source(void **state)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t lut[256];
    (void)state;
    fill_lut(lut);
    for (size_t pixels = 1; pixels <= 70; pixels++)
        for (uint32_t channels = 1; channels <= 3; channels += 2)
            for (int planar = 0; planar <= 1; planar++)
                for (int with_lut = 0; with_lut <= 1; with_lut++) {
                    size_t values = pixels * channels;
                    uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                    uint8_t *src = map + page - values;
                    float out[70 * 3], x;

                    assert_true(map != MAP_FAILED);
                    assert_int_equal(mprotect(map + page, page, PROT_NONE), 0);
                    memset(src, 200, values);
                    finish_float(&scaled, with_lut ? lut : NULL, src, pixels, channels, planar,
                                 out);
                    x = with_lut ? lut[200] : 200;
                    assert_true(out[values - 1] == x * scaled.scale + scaled.offset);
                    munmap(map, 2 * page);
                }
}

/* uint8 planes: each channel's bytes in order, through the table when there is one. */
static void u8_planes_follow_the_definition(void **state)
{
    uint8_t src[3 * 20], out[3 * 20], lut[256];
    (void)state;
    fill_lut(lut);
    for (int i = 0; i < 3 * 20; i++)
        src[i] = (uint8_t)(7 * i + 1);
    for (int with_lut = 0; with_lut <= 1; with_lut++) {
        finish_u8(with_lut ? lut : NULL, src, 20, 3, 1, out);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 20; i++) {
                uint8_t v = src[i * 3 + c];
                assert_int_equal(out[c * 20 + i], with_lut ? lut[v] : v);
            }
    }
}

/*
 * finish_u8's dispatched loop against its reference for lengths around its
 * step (16 pixels), both layouts, one and three channels, with and without
 * a table; nothing written past the sample, nothing read past the source.
 */
static void u8_simd_matches_the_reference(void **state)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t lut[256];
    (void)state;
    fill_lut(lut);
    srand(11);
    for (size_t pixels = 0; pixels <= 70; pixels++)
        for (uint32_t channels = 1; channels <= 3; channels += 2)
            for (int planar = 0; planar <= 1; planar++)
                for (int with_lut = 0; with_lut <= 1; with_lut++) {
                    size_t values = pixels * channels, guard = 32;
                    uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                    uint8_t *src = map + page - values, fast[70 * 3 + 32], ref[70 * 3 + 32];

                    assert_true(map != MAP_FAILED);
                    assert_int_equal(mprotect(map + page, page, PROT_NONE), 0);
                    for (size_t i = 0; i < values; i++)
                        src[i] = (uint8_t)(rand() >> 7);
                    memset(fast, 0xee, values + guard);
                    memset(ref, 0xee, values + guard);
                    finish_u8(with_lut ? lut : NULL, src, pixels, channels, planar, fast);
                    finish_u8_reference(with_lut ? lut : NULL, src, pixels, channels, planar,
                                        ref);
                    assert_memory_equal(fast, ref, values + guard);
                    munmap(map, 2 * page);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_and_layouts_follow_the_definition),
        cmocka_unit_test(simd_matches_the_reference),
        cmocka_unit_test(reads_stay_inside_the_source),
        cmocka_unit_test(u8_planes_follow_the_definition),
        cmocka_unit_test(u8_simd_matches_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
