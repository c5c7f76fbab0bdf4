/*
 * finish.c: the pipeline's last pass, 8-bit pixels to normalised float32 or
 * to uint8 in another layout (finish.h).
 *
 * The portable loop looks each value up in a 256-entry float table per
 * channel: about 1.4 ns a value, 214 us for a 224x224 RGB sample on one Zen 3
 * core, against 0.8 ms for the decode and warp before it. The AVX2 loops do
 * eight values at a time: without a photometric table they compute the
 * float with the same IEEE operations in the same order (52 us for the same
 * sample), with one they gather from the float table (about 130 us; gathers
 * are slow on that core). Either way the bits are the table's.
 */
#include "finish.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FINISH_HAVE_AVX2 1
#include <immintrin.h>
#endif

/*
 * x * scale + offset must stay a multiply and an add, each rounded, as the
 * vector loops do it: no fused multiply-add. clang fuses by default where
 * the target has one, hence the pragma; gcc does not fuse in ISO C mode
 * (-std=c11, as the Makefile builds) and warns about the pragma. (Built
 * with -std=gnu11 or -ffp-contract=fast and an FMA target, both paths fuse
 * alike and still agree with each other, one rounding away from this.)
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

float finish_value(const finish_norm_t *norm, uint32_t c, float x)
{
    if (norm->mean_std)
        return (x / 255.0f - norm->mean[c]) / norm->std[c];
    return x * norm->scale + norm->offset;
}

/* table[c * 256 + v]: the float for byte v of channel c. */
static void finish_table(const finish_norm_t *norm, const uint8_t *lut, uint32_t channels,
                         float *table)
{
    for (uint32_t c = 0; c < channels; c++)
        for (int v = 0; v < 256; v++)
            table[c * 256 + (uint32_t)v] = finish_value(norm, c, lut != NULL ? lut[v] : (float)v);
}

void finish_float_reference(const finish_norm_t *norm, const uint8_t *lut, const uint8_t *src,
                            size_t pixels, uint32_t channels, int planar, float *out)
{
    float table[3 * 256];

    finish_table(norm, lut, channels, table);
    for (size_t i = 0; i < pixels; i++)
        for (uint32_t c = 0; c < channels; c++) {
            float v = table[c * 256 + src[i * channels + c]];

            if (planar)
                out[c * pixels + i] = v;
            else
                out[i * channels + c] = v;
        }
}

void finish_u8_reference(const uint8_t *lut, const uint8_t *src, size_t pixels,
                         uint32_t channels, int planar, uint8_t *out)
{
    for (size_t i = 0; i < pixels; i++)
        for (uint32_t c = 0; c < channels; c++) {
            uint8_t v = src[i * channels + c];

            if (lut != NULL)
                v = lut[v];
            if (planar)
                out[c * pixels + i] = v;
            else
                out[i * channels + c] = v;
        }
}

#if defined(FINISH_HAVE_AVX2)
/*
 * How eight values become floats: gathered from table (with the channels'
 * table offsets in base) when there is one, else computed with the
 * parameters p and q (mean and std, or scale and offset) of each value's
 * channel.
 */
typedef struct finish_lanes {
    const float *table;
    __m256i base;
    __m256 p, q;
} finish_lanes_t;

static inline __m256 __attribute__((target("avx2"))) finish8(const finish_norm_t *norm,
                                                            const finish_lanes_t *l,
                                                            __m128i bytes)
{
    __m256i v = _mm256_cvtepu8_epi32(bytes);
    __m256 x;

    if (l->table != NULL)
        return _mm256_i32gather_ps(l->table, _mm256_add_epi32(v, l->base), 4);
    x = _mm256_cvtepi32_ps(v);
    if (norm->mean_std)
        return _mm256_div_ps(_mm256_sub_ps(_mm256_div_ps(x, _mm256_set1_ps(255.0f)), l->p), l->q);
    return _mm256_add_ps(_mm256_mul_ps(x, l->p), l->q);
}

/* The lanes for eight values whose first is channel `first` of `channels`. */
static void __attribute__((target("avx2"))) finish_lanes_init(const finish_norm_t *norm,
                                                             const float *table,
                                                             uint32_t channels, uint32_t first,
                                                             finish_lanes_t *l)
{
    int32_t base[8];
    float p[8], q[8];

    for (uint32_t k = 0; k < 8; k++) {
        uint32_t c = (first + k) % channels;

        base[k] = (int32_t)(c * 256);
        p[k] = norm->mean_std ? norm->mean[c] : norm->scale;
        q[k] = norm->mean_std ? norm->std[c] : norm->offset;
    }
    l->table = table;
    l->base = _mm256_loadu_si256((const __m256i *)(const void *)base);
    l->p = _mm256_loadu_ps(p);
    l->q = _mm256_loadu_ps(q);
}

/*
 * Interleaved output (NHWC, or one channel): value j of src and out is
 * channel j % channels. Eight values start at channel 0, 2, 1 in turn (8 % 3
 * = 2), so steps of 24 values use three fixed sets of lanes.
 */
static __attribute__((noinline, target("avx2"))) void finish_interleaved_avx2(
    const finish_norm_t *norm, const float *table, const uint8_t *src, size_t values,
    uint32_t channels, float *out)
{
    finish_lanes_t lanes[3];
    size_t j = 0;

    for (uint32_t g = 0; g < 3; g++)
        finish_lanes_init(norm, table, channels, (8 * g) % channels, &lanes[g]);
    for (; j + 24 <= values; j += 24)
        for (int g = 0; g < 3; g++) {
            __m128i bytes = _mm_loadl_epi64((const __m128i *)(const void *)(src + j + 8 * g));

            _mm256_storeu_ps(out + j + 8 * g, finish8(norm, &lanes[g], bytes));
        }
    for (; j < values; j++) {
        uint32_t c = (uint32_t)(j % channels);

        out[j] = table != NULL ? table[c * 256 + src[j]] : finish_value(norm, c, src[j]);
    }
}

/*
 * Planar output (NCHW) from 3-channel pixels: per eight pixels, their 24
 * bytes are read as bytes 0-15 and 8-23, and a byte shuffle of each picks
 * channel c (bytes c, c + 3, ..., c + 21: those up to 15 from the first
 * read, the rest from the second).
 */
static __attribute__((noinline, target("avx2"))) void finish_planar_avx2(
    const finish_norm_t *norm, const float *table, const uint8_t *src, size_t pixels,
    float *out)
{
    __m128i from_low[3], from_high[3];
    finish_lanes_t lanes[3];
    size_t i = 0;

    for (uint32_t c = 0; c < 3; c++) {
        int8_t low[16], high[16];

        for (int k = 0; k < 16; k++) {
            int at = 3 * k + (int)c; /* Source byte of output byte k (k < 8 only). */

            low[k] = (int8_t)(k < 8 && at <= 15 ? at : -1);
            high[k] = (int8_t)(k < 8 && at > 15 ? at - 8 : -1);
        }
        from_low[c] = _mm_loadu_si128((const __m128i *)(const void *)low);
        from_high[c] = _mm_loadu_si128((const __m128i *)(const void *)high);
        lanes[c].table = table; /* Every lane is channel c. */
        lanes[c].base = _mm256_set1_epi32((int)(c * 256));
        lanes[c].p = _mm256_set1_ps(norm->mean_std ? norm->mean[c] : norm->scale);
        lanes[c].q = _mm256_set1_ps(norm->mean_std ? norm->std[c] : norm->offset);
    }
    for (; i + 8 <= pixels; i += 8) {
        __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)(src + 3 * i));
        __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(src + 3 * i + 8));

        for (int c = 0; c < 3; c++) {
            __m128i bytes = _mm_or_si128(_mm_shuffle_epi8(lo, from_low[c]),
                                         _mm_shuffle_epi8(hi, from_high[c]));

            _mm256_storeu_ps(out + c * pixels + i, finish8(norm, &lanes[c], bytes));
        }
    }
    for (; i < pixels; i++)
        for (uint32_t c = 0; c < 3; c++)
            out[c * pixels + i] = table != NULL ? table[c * 256 + src[3 * i + c]]
                                                : finish_value(norm, c, src[3 * i + c]);
}

/*
 * 3-channel pixels to planes, no table: per 16 pixels, their 48 bytes in
 * three 16-byte reads; output byte k of channel c is source byte 3k + c,
 * taken from read (3k + c) / 16 by a byte shuffle of each read.
 */
static __attribute__((noinline, target("avx2"))) void finish_u8_planar_avx2(
    const uint8_t *src, size_t pixels, uint8_t *out)
{
    __m128i pick[3][3]; /* [read][channel] */
    size_t i = 0;

    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            int8_t m[16];

            for (int k = 0; k < 16; k++)
                m[k] = (int8_t)((3 * k + c) / 16 == r ? (3 * k + c) % 16 : -1);
            pick[r][c] = _mm_loadu_si128((const __m128i *)(const void *)m);
        }
    for (; i + 16 <= pixels; i += 16) {
        __m128i in[3];

        for (int r = 0; r < 3; r++)
            in[r] = _mm_loadu_si128((const __m128i *)(const void *)(src + 3 * i + 16 * r));
        for (int c = 0; c < 3; c++) {
            __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(in[0], pick[0][c]),
                                                  _mm_shuffle_epi8(in[1], pick[1][c])),
                                     _mm_shuffle_epi8(in[2], pick[2][c]));

            _mm_storeu_si128((__m128i *)(void *)(out + c * pixels + i), v);
        }
    }
    for (; i < pixels; i++)
        for (int c = 0; c < 3; c++)
            out[c * pixels + i] = src[3 * i + c];
}

static int finish_use_avx2(void)
{
    static int supported = -1;

    if (supported < 0)
        supported = __builtin_cpu_supports("avx2") ? 1 : 0;
    return supported;
}
#endif

void finish_float(const finish_norm_t *norm, const uint8_t *lut, const uint8_t *src,
                  size_t pixels, uint32_t channels, int planar, float *out)
{
#if defined(FINISH_HAVE_AVX2)
    if (finish_use_avx2()) {
        float table[3 * 256];

        if (lut != NULL)
            finish_table(norm, lut, channels, table);
        if (!planar || channels == 1)
            finish_interleaved_avx2(norm, lut != NULL ? table : NULL, src, pixels * channels,
                                    channels, out);
        else /* channels == 3: the pipeline makes gray (1) or RGB (3) samples. */
            finish_planar_avx2(norm, lut != NULL ? table : NULL, src, pixels, out);
        return;
    }
#endif
    finish_float_reference(norm, lut, src, pixels, channels, planar, out);
}

void finish_u8(const uint8_t *lut, const uint8_t *src, size_t pixels, uint32_t channels,
               int planar, uint8_t *out)
{
#if defined(FINISH_HAVE_AVX2)
    if (lut == NULL && planar && channels == 3 && finish_use_avx2()) {
        finish_u8_planar_avx2(src, pixels, out);
        return;
    }
#endif
    finish_u8_reference(lut, src, pixels, channels, planar, out);
}
