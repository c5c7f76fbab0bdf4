/*
 * warp_sample.c: sample the source image through the output-to-source matrix.
 *
 * Sampling walks the output in row order, so the source position of the next
 * pixel is the previous one plus a constant step: the inner loop is integer
 * adds and shifts. Interleaved images (gray or RGB) and YCbCr planes (a JPEG
 * before colour conversion) go through the same row machinery.
 */
#include "warp.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* AVX2 loops are compiled with a target attribute and chosen at run time. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WARP_HAVE_AVX2 1
#include <immintrin.h>
#endif

/*
 * Fixed point for source positions: 32 fraction bits in an int64, so that
 * stepping a whole row adds no visible drift (2^-33 pixel per step).
 */
#define WARP_SHIFT 32
#define WARP_ONE ((int64_t)1 << WARP_SHIFT)
#define WARP_HALF (WARP_ONE / 2)

/*
 * A row whose source positions stay within +-2^28 pixels can be stepped in
 * fixed point without overflow (2^60 in an int64); rows beyond that only
 * happen with absurd zooms and are evaluated per pixel in double instead.
 * Decoded images are never wider or taller than this (DECODE_MAX_SIDE).
 */
#define WARP_SAFE_RANGE 268435456.0

/* A double source position (index space) to fixed point, clamped far outside. */
static inline int64_t warp_fixed(double v)
{
    if (!(v > -WARP_SAFE_RANGE))
        v = -WARP_SAFE_RANGE;
    if (v > WARP_SAFE_RANGE)
        v = WARP_SAFE_RANGE;
    return (int64_t)llround(v * (double)WARP_ONE);
}

static inline void warp_put_fill(uint8_t *out, const uint8_t *fill, uint32_t ch)
{
    for (uint32_t c = 0; c < ch; c++)
        out[c] = fill[c];
}

/* Bits of the bilinear weights; see warp_sample_bilinear for the bound. */
#define WARP_WBITS 11
#define WARP_WONE (1u << WARP_WBITS)

/* i clamped to [0, n - 1]. */
static inline int64_t warp_clamp_index(int64_t i, uint32_t n)
{
    return i < 0 ? 0 : (i >= (int64_t)n ? (int64_t)n - 1 : i);
}

/*
 * Bilinear sample at index-space fixed-point (u, v), meant for positions
 * within [-0.5, w - 0.5) x [-0.5, h - 0.5) (the caller checks the luma or
 * interleaved image's; a chroma plane's position, derived from the luma's,
 * may be a rounding error outside): neighbours past an edge are clamped to
 * it, so border pixels are not darkened by the fill, and since every
 * neighbour index is clamped, any position reads inside the image.
 * Weights have 11 bits: the sum, at most 255 * 2^11 * 2^11 plus rounding,
 * fits in 32 bits, and truncating the fraction moves a value by at most
 * 255 / 2^11 (an eighth of a level) per axis.
 */
static inline void warp_sample_bilinear(const warp_image_t *s, int64_t u, int64_t v,
                                        uint32_t ch, uint8_t *out)
{
    int64_t uu = u + WARP_ONE, vv = v + WARP_ONE; /* Non-negative, so >> is floor. */
    int64_t x0 = (uu >> WARP_SHIFT) - 1, y0 = (vv >> WARP_SHIFT) - 1;
    uint32_t fx = (uint32_t)(uu >> (WARP_SHIFT - WARP_WBITS)) & (WARP_WONE - 1);
    uint32_t fy = (uint32_t)(vv >> (WARP_SHIFT - WARP_WBITS)) & (WARP_WONE - 1);
    int64_t x1 = x0 + 1, y1 = y0 + 1;
    const uint8_t *r0, *r1, *p00, *p01, *p10, *p11;

    x0 = warp_clamp_index(x0, s->width);
    x1 = warp_clamp_index(x1, s->width);
    y0 = warp_clamp_index(y0, s->height);
    y1 = warp_clamp_index(y1, s->height);
    r0 = s->pixels + (size_t)y0 * s->stride;
    r1 = s->pixels + (size_t)y1 * s->stride;
    p00 = r0 + (size_t)x0 * ch;
    p01 = r0 + (size_t)x1 * ch;
    p10 = r1 + (size_t)x0 * ch;
    p11 = r1 + (size_t)x1 * ch;
    for (uint32_t c = 0; c < ch; c++) {
        uint32_t top = p00[c] * (WARP_WONE - fx) + p01[c] * fx;
        uint32_t bot = p10[c] * (WARP_WONE - fx) + p11[c] * fx;
        out[c] = (uint8_t)((top * (WARP_WONE - fy) + bot * fy + (1u << (2 * WARP_WBITS - 1))) >>
                           (2 * WARP_WBITS));
    }
}

/* Nearest: the source pixel whose square contains the position. */
static inline void warp_sample_nearest(const warp_image_t *s, int64_t u, int64_t v, uint32_t ch,
                                       uint8_t *out)
{
    int64_t x = ((u + WARP_HALF + WARP_ONE) >> WARP_SHIFT) - 1;
    int64_t y = ((v + WARP_HALF + WARP_ONE) >> WARP_SHIFT) - 1;
    const uint8_t *p;

    x = warp_clamp_index(x, s->width);
    y = warp_clamp_index(y, s->height);
    p = s->pixels + (size_t)y * s->stride + (size_t)x * ch;
    for (uint32_t c = 0; c < ch; c++)
        out[c] = p[c];
}

static inline int64_t warp_floor_div(int64_t a, int64_t b) /* b > 0 */
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static inline int64_t warp_ceil_div(int64_t a, int64_t b) /* b > 0 */
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/*
 * Narrows [*xs, *xe) to the integers x with lo <= a + x * d < hi. Exact:
 * the fixed-point positions along a row are a + x * d, integer arithmetic.
 * An empty result is [*xs, *xs) with *xs unchanged, so that a narrowed span
 * always stays inside the one it came from.
 */
static void warp_span(int64_t a, int64_t d, int64_t lo, int64_t hi, int64_t *xs, int64_t *xe)
{
    int64_t s = *xs, e = *xe;

    if (d == 0) {
        if (a < lo || a >= hi)
            e = s;
    } else if (d > 0) {
        int64_t s2 = warp_ceil_div(lo - a, d), e2 = warp_ceil_div(hi - a, d);
        s = s2 > s ? s2 : s;
        e = e2 < e ? e2 : e;
    } else {
        int64_t e2 = warp_floor_div(a - lo, -d) + 1, s2 = warp_floor_div(a - hi, -d) + 1;
        s = s2 > s ? s2 : s;
        e = e2 < e ? e2 : e;
    }
    if (e <= s) {
        *xe = *xs;
        return;
    }
    *xs = s;
    *xe = e;
}

/*
 * Bilinear with no clamping over a run of n pixels whose 2x2 neighbourhoods
 * are known to lie inside the source: the hot loop of a warp. The source
 * base and stride are locals and the pointers restrict-qualified, because
 * the byte stores to out could otherwise alias them and force reloads on
 * every pixel.
 */
static inline void warp_bilinear_run(const uint8_t *restrict base, size_t stride, int64_t u,
                                     int64_t v, int64_t du, int64_t dv, int64_t n,
                                     const uint32_t ch, uint8_t *restrict out)
{
    const uint32_t round = 1u << (2 * WARP_WBITS - 1);

    for (int64_t i = 0; i < n; i++, u += du, v += dv, out += ch) {
        size_t x0 = (size_t)(u >> WARP_SHIFT), y0 = (size_t)(v >> WARP_SHIFT);
        uint32_t fx = (uint32_t)(u >> (WARP_SHIFT - WARP_WBITS)) & (WARP_WONE - 1);
        uint32_t fy = (uint32_t)(v >> (WARP_SHIFT - WARP_WBITS)) & (WARP_WONE - 1);
        uint32_t gx = WARP_WONE - fx, gy = WARP_WONE - fy;
        const uint8_t *p0 = base + y0 * stride + x0 * ch, *p1 = p0 + stride;

        if (ch == 3) {
            uint32_t t0 = p0[0] * gx + p0[3] * fx, b0 = p1[0] * gx + p1[3] * fx;
            uint32_t t1 = p0[1] * gx + p0[4] * fx, b1 = p1[1] * gx + p1[4] * fx;
            uint32_t t2 = p0[2] * gx + p0[5] * fx, b2 = p1[2] * gx + p1[5] * fx;

            out[0] = (uint8_t)((t0 * gy + b0 * fy + round) >> (2 * WARP_WBITS));
            out[1] = (uint8_t)((t1 * gy + b1 * fy + round) >> (2 * WARP_WBITS));
            out[2] = (uint8_t)((t2 * gy + b2 * fy + round) >> (2 * WARP_WBITS));
        } else if (ch == 2) {
            uint32_t t0 = p0[0] * gx + p0[2] * fx, b0 = p1[0] * gx + p1[2] * fx;
            uint32_t t1 = p0[1] * gx + p0[3] * fx, b1 = p1[1] * gx + p1[3] * fx;

            out[0] = (uint8_t)((t0 * gy + b0 * fy + round) >> (2 * WARP_WBITS));
            out[1] = (uint8_t)((t1 * gy + b1 * fy + round) >> (2 * WARP_WBITS));
        } else {
            uint32_t t = p0[0] * gx + p0[1] * fx, b = p1[0] * gx + p1[1] * fx;

            out[0] = (uint8_t)((t * gy + b * fy + round) >> (2 * WARP_WBITS));
        }
    }
}

#if defined(__SSE2__)
/*
 * The SSE2 interior run: the same bytes as warp_bilinear_run, 2 to 2.7
 * times faster (a 400x533 photo to 224x224 with augmentation: 0.49 ms warm
 * with the scalar loop, 0.19 ms with this one, on one Zen 3 core).
 * SSE2 is part of x86-64, so there is no runtime dispatch;
 * other architectures use the scalar loop above, which stays the reference
 * (warp_apply_reference, compared with this one in tests/unit/test_warp.c).
 *
 * Exactness. The scalar loop computes, per channel,
 *
 *     (t * gy + b * fy + 2^21) >> 22,  t = p00 gx + p01 fx,  b = p10 gx + p11 fx,
 *
 * in exact integers (the sum is at most 255 * 2^22 + 2^21 < 2^31), so any
 * exact evaluation of the same sum gives the same byte. Here it is summed
 * column first, c0 = p00 gy + p10 fy and c1 = p01 gy + p11 fy, then
 * c0 gx + c1 fx: the same four products p_ij wx_i wy_j. The only 16x16-bit
 * multiply SSE2 has that keeps a full product is _mm_madd_epi16 (a0 b0 +
 * a1 b1 in 32 bits, inputs signed 16-bit), but a column sum c needs 19 bits
 * and cannot be an input of the second madd. So the vertical weights are cut
 * at 6 bits, gy = 64 gyh + gyl and fy = 64 fyh + fyl (gyl, fyl < 64), and
 * each column sum in two:
 *
 *     ch = p00 gyh + p10 fyh <= 255 * 32  = 8160   (gyh + fyh <= 2048 / 64)
 *     cl = p00 gyl + p10 fyl <= 255 * 126 = 32130  (fits int16: why 6 bits)
 *     c  = 64 ch + cl
 *
 * and the result is (64 (ch0 gx + ch1 fx) + (cl0 gx + cl1 fx) + 2^21) >> 22,
 * every step exact: the madd inputs are all below 2^15, their sums below
 * 2^26, and the total is the scalar loop's sum, below 2^31.
 *
 * Layout (3 channels). Four output pixels per step. Their fractions fx, fy
 * come from the low 32 bits of u and v, kept in one vector of four 32-bit
 * lanes each (adding 4 du there is exact modulo 2^32, which is all the low
 * bits need); the weights become 32-bit lanes holding 16-bit pairs,
 * wx = (gx, fx), wyh = (gyh, fyh), wyl = (gyl, fyl), one lane per pixel, and
 * each pixel broadcasts its own lane. Each pixel then reads 8 bytes of its
 * top row from p00 (r0 g0 b0 r1 g1 b1, 2 spare) and 8 of the bottom row
 * from p10 - 2 (2 spare, r0 g0 b0 r1 g1 b1), shifts the spares of the bottom
 * out, interleaves the rows byte by byte into (top, bottom) pairs, and
 * widens to 16 bits: column 0 (r0 g0 b0) and column 1 (r1 g1 b1), in lanes
 * 0..2, lane 3 being a harmless spare that is never stored. Two madds per
 * column give (ch, cl) per channel; (ch0, ch1) and (cl0, cl1) are put side by
 * side in each lane and a madd with wx finishes the sum. The four 32-bit
 * results [r g b spare] are packed to bytes and the spares squeezed out, so
 * exactly 12 bytes are stored.
 *
 * Reads stay inside the image: the run has x0 <= width - 2 and
 * y0 <= height - 2, so the top read p00[0..7] ends at most 2 bytes into row
 * y0 + 1, which exists and has at least 6 bytes (width >= 2), and the bottom
 * read p10[-2..5] starts at or after row 1 - 2 >= row 0 (stride >= 6) and
 * ends with p11's last byte. Neither touches memory past the last pixel or
 * before the first; the spare bytes they read are never stored.
 */

/* 4 x 32 bits: a pair of 16-bit values (lo, hi) in each lane, hi << 16 | lo. */
static inline __m128i warp_pair16(__m128i lo, __m128i hi)
{
    return _mm_or_si128(lo, _mm_slli_epi32(hi, 16));
}

/* Weights of four pixels from the low 32 bits of their u and v; see above. */
static inline void warp_weights4(__m128i ulo, __m128i vlo, __m128i *wx, __m128i *wyh,
                                 __m128i *wyl)
{
    const __m128i one = _mm_set1_epi32(WARP_WONE), low6 = _mm_set1_epi32(63);
    __m128i fx = _mm_srli_epi32(ulo, WARP_SHIFT - WARP_WBITS);
    __m128i fy = _mm_srli_epi32(vlo, WARP_SHIFT - WARP_WBITS);
    __m128i gx = _mm_sub_epi32(one, fx), gy = _mm_sub_epi32(one, fy);

    *wx = warp_pair16(gx, fx);
    *wyh = warp_pair16(_mm_srli_epi32(gy, 6), _mm_srli_epi32(fy, 6));
    *wyl = warp_pair16(_mm_and_si128(gy, low6), _mm_and_si128(fy, low6));
}

/* (64 h + l + 2^21) >> 22 on 32-bit lanes: the end of every pixel. */
static inline __m128i warp_finish4(__m128i h, __m128i l)
{
    const __m128i round = _mm_set1_epi32(1 << (2 * WARP_WBITS - 1));

    return _mm_srli_epi32(_mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(h, 6), l), round),
                          2 * WARP_WBITS);
}

/*
 * One RGB pixel whose top-left neighbour is p (wx, wyh, wyl: its own weight
 * pair broadcast to every lane). Returns [r g b spare] in 32-bit lanes.
 */
static inline __m128i warp_pixel_rgb(const uint8_t *p, size_t stride, __m128i wx, __m128i wyh,
                                     __m128i wyl)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i top = _mm_loadl_epi64((const __m128i *)(const void *)p);
    __m128i bot = _mm_loadl_epi64((const __m128i *)(const void *)(p + stride - 2));
    /* Bytes of both rows, as (top, bottom) pairs: r0 g0 b0 r1 g1 b1 . . */
    __m128i tb = _mm_unpacklo_epi8(top, _mm_srli_epi64(bot, 16));
    __m128i col0 = _mm_unpacklo_epi8(tb, zero);                     /* r0 g0 b0 (r1) */
    __m128i col1 = _mm_unpacklo_epi8(_mm_srli_si128(tb, 6), zero); /* r1 g1 b1 (.) */
    __m128i h = warp_pair16(_mm_madd_epi16(col0, wyh), _mm_madd_epi16(col1, wyh));
    __m128i l = warp_pair16(_mm_madd_epi16(col0, wyl), _mm_madd_epi16(col1, wyl));

    return warp_finish4(_mm_madd_epi16(h, wx), _mm_madd_epi16(l, wx));
}

/* Stores four [r g b spare] results as 12 bytes, out[0..11] and nothing more. */
static inline void warp_store_rgb4(uint8_t *out, __m128i a, __m128i b, __m128i c, __m128i d)
{
    const __m128i first = _mm_set_epi32(0, 0x00ffffff, 0, 0x00ffffff);
    const __m128i second = _mm_set_epi32(0x0000ffff, (int)0xff000000u, 0x0000ffff,
                                         (int)0xff000000u);
    /* Bytes a0 a1 a2 . b0 b1 b2 . | c0 c1 c2 . d0 d1 d2 . (values <= 255: no saturation). */
    __m128i v = _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
    uint32_t tail;

    /* In each 64-bit half, move the second pixel down one byte over the spare. */
    v = _mm_or_si128(_mm_and_si128(v, first), _mm_and_si128(_mm_srli_epi64(v, 8), second));
    /* Then the upper half's 6 bytes down next to the lower half's. */
    v = _mm_or_si128(_mm_move_epi64(v), _mm_slli_si128(_mm_srli_si128(v, 8), 6));
    _mm_storel_epi64((__m128i *)(void *)out, v);
    tail = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 8));
    memcpy(out + 8, &tail, 4);
}

/* The low 32 bits of u, u + du, u + 2 du, u + 3 du, as four lanes. */
static inline __m128i warp_low4(int64_t u, int64_t du)
{
    return _mm_setr_epi32((int)(uint32_t)u, (int)(uint32_t)(u + du), (int)(uint32_t)(u + 2 * du),
                          (int)(uint32_t)(u + 3 * du));
}

/* Lane k of v in every lane (k a constant). */
#define WARP_LANE(v, k) _mm_shuffle_epi32((v), _MM_SHUFFLE((k), (k), (k), (k)))

/* The top-left neighbour of (u, v), then one step along the row. */
static inline const uint8_t *warp_step(const uint8_t *base, size_t stride, size_t bpp, int64_t *u,
                                       int64_t *v, int64_t du, int64_t dv)
{
    const uint8_t *p =
        base + (size_t)(*v >> WARP_SHIFT) * stride + (size_t)(*u >> WARP_SHIFT) * bpp;

    *u += du;
    *v += dv;
    return p;
}

/*
 * How many pixels ahead the RGB loop asks for the source lines it will read.
 * Right after a decode much of the source has left L1 and L2 (a 400x533 RGB
 * image is 640 KB), and a rotated row walks it diagonally, which the
 * hardware prefetchers do not follow. Measured with bench_pipeline
 * (decode + warp, one core): 16 ahead saved 5% of the time per image, 32
 * saved 7%, 64 less again.
 */
#define WARP_PREFETCH_AHEAD 32

/*
 * warp_bilinear_run for 3 channels, four pixels per step; see above. Not
 * inlined into warp_point_rows: it is called once per row, and on its own it
 * keeps every value in a register.
 */
static __attribute__((noinline)) void warp_bilinear_run_rgb_sse2(
    const uint8_t *restrict base, size_t stride, int64_t u, int64_t v, int64_t du, int64_t dv,
    int64_t n, uint8_t *restrict out)
{
    __m128i ulo = warp_low4(u, du), vlo = warp_low4(v, dv);
    const __m128i du4 = _mm_set1_epi32((int)(uint32_t)(4 * du));
    const __m128i dv4 = _mm_set1_epi32((int)(uint32_t)(4 * dv));
    int64_t i = 0;

    for (; i + 4 <= n; i += 4, out += 12) {
        const uint8_t *p0, *p1, *p2, *p3;
        __m128i wx, wyh, wyl, r0, r1, r2, r3;

        if (i + WARP_PREFETCH_AHEAD < n) { /* Only pixels of the run: valid pointers. */
            int64_t ua = u + WARP_PREFETCH_AHEAD * du, va = v + WARP_PREFETCH_AHEAD * dv;
            const uint8_t *pa = warp_step(base, stride, 3, &ua, &va, 0, 0);

            _mm_prefetch((const char *)pa, _MM_HINT_T0);
            _mm_prefetch((const char *)(pa + stride), _MM_HINT_T0);
        }
        p0 = warp_step(base, stride, 3, &u, &v, du, dv);
        p1 = warp_step(base, stride, 3, &u, &v, du, dv);
        p2 = warp_step(base, stride, 3, &u, &v, du, dv);
        p3 = warp_step(base, stride, 3, &u, &v, du, dv);
        warp_weights4(ulo, vlo, &wx, &wyh, &wyl);
        r0 = warp_pixel_rgb(p0, stride, WARP_LANE(wx, 0), WARP_LANE(wyh, 0), WARP_LANE(wyl, 0));
        r1 = warp_pixel_rgb(p1, stride, WARP_LANE(wx, 1), WARP_LANE(wyh, 1), WARP_LANE(wyl, 1));
        r2 = warp_pixel_rgb(p2, stride, WARP_LANE(wx, 2), WARP_LANE(wyh, 2), WARP_LANE(wyl, 2));
        r3 = warp_pixel_rgb(p3, stride, WARP_LANE(wx, 3), WARP_LANE(wyh, 3), WARP_LANE(wyl, 3));
        warp_store_rgb4(out, r0, r1, r2, r3);
        ulo = _mm_add_epi32(ulo, du4);
        vlo = _mm_add_epi32(vlo, dv4);
    }
    warp_bilinear_run(base, stride, u, v, du, dv, n - i, 3, out);
}

/* Two bytes at p as one 16-bit lane (little-endian: p[0] is the low byte). */
static inline short warp_load16(const uint8_t *p)
{
    uint16_t x;

    memcpy(&x, p, 2);
    return (short)x;
}

/*
 * warp_bilinear_run for 1 channel, four pixels per step. The same arithmetic
 * as the RGB loop, laid out across pixels instead of channels: the 2x2
 * neighbourhoods of four pixels (two 16-bit reads per pixel, which never
 * leave the image) fill one vector, interleaved into (top, bottom) pairs, so
 * each madd serves two pixels; the column sums, all below 2^15, are packed
 * back to 16-bit (ch0, ch1) pairs per pixel with _mm_packs_epi32, which
 * cannot saturate them, and a madd with wx finishes four pixels at once.
 */
static __attribute__((noinline)) void warp_bilinear_run_gray_sse2(
    const uint8_t *restrict base, size_t stride, int64_t u, int64_t v, int64_t du, int64_t dv,
    int64_t n, uint8_t *restrict out)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i ulo = warp_low4(u, du), vlo = warp_low4(v, dv);
    const __m128i du4 = _mm_set1_epi32((int)(uint32_t)(4 * du));
    const __m128i dv4 = _mm_set1_epi32((int)(uint32_t)(4 * dv));
    int64_t i = 0;

    for (; i + 4 <= n; i += 4, out += 4) {
        const uint8_t *p0 = warp_step(base, stride, 1, &u, &v, du, dv);
        const uint8_t *p1 = warp_step(base, stride, 1, &u, &v, du, dv);
        const uint8_t *p2 = warp_step(base, stride, 1, &u, &v, du, dv);
        const uint8_t *p3 = warp_step(base, stride, 1, &u, &v, du, dv);
        __m128i wx, wyh, wyl, nb, tb, ab, cd, h, l, r;
        uint32_t bytes;

        warp_weights4(ulo, vlo, &wx, &wyh, &wyl);
        /* 16-bit lanes: the top pairs of pixels A B C D, then their bottom pairs. */
        nb = _mm_setr_epi16(warp_load16(p0), warp_load16(p1), warp_load16(p2), warp_load16(p3),
                            warp_load16(p0 + stride), warp_load16(p1 + stride),
                            warp_load16(p2 + stride), warp_load16(p3 + stride));
        /* (top, bottom) byte pairs: A col0, A col1, B col0, ..., D col1. */
        tb = _mm_unpacklo_epi8(nb, _mm_srli_si128(nb, 8));
        ab = _mm_unpacklo_epi8(tb, zero); /* Pixels A, B. */
        cd = _mm_unpackhi_epi8(tb, zero); /* Pixels C, D. */
        h = _mm_packs_epi32(_mm_madd_epi16(ab, _mm_unpacklo_epi32(wyh, wyh)),
                            _mm_madd_epi16(cd, _mm_unpackhi_epi32(wyh, wyh)));
        l = _mm_packs_epi32(_mm_madd_epi16(ab, _mm_unpacklo_epi32(wyl, wyl)),
                            _mm_madd_epi16(cd, _mm_unpackhi_epi32(wyl, wyl)));
        r = warp_finish4(_mm_madd_epi16(h, wx), _mm_madd_epi16(l, wx));
        r = _mm_packs_epi32(r, r);
        bytes = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(r, r));
        memcpy(out, &bytes, 4);
        ulo = _mm_add_epi32(ulo, du4);
        vlo = _mm_add_epi32(vlo, dv4);
    }
    warp_bilinear_run(base, stride, u, v, du, dv, n - i, 1, out);
}

/* Four bytes at p as one 32-bit lane. */
static inline int warp_load32(const uint8_t *p)
{
    uint32_t x;

    memcpy(&x, p, 4);
    return (int)x;
}

/* Byte k of each 32-bit lane, as a 32-bit lane (k a constant). */
static inline __m128i warp_byte4(__m128i v, int k)
{
    return _mm_and_si128(_mm_srli_epi32(v, 8 * k), _mm_set1_epi32(0xff));
}

/*
 * One channel of four chroma pixels, lane by lane: top and bot hold each
 * pixel's 4 bytes of its top and bottom row (Cb0 Cr0 Cb1 Cr1), k picks the
 * channel (0 Cb, 1 Cr). The arithmetic of the other loops (see above
 * warp_pair16), one pixel per lane.
 */
static inline __m128i warp_chroma4(__m128i top, __m128i bot, int k, __m128i wx, __m128i wyh,
                                   __m128i wyl)
{
    __m128i col0 = warp_pair16(warp_byte4(top, k), warp_byte4(bot, k));
    __m128i col1 = warp_pair16(warp_byte4(top, k + 2), warp_byte4(bot, k + 2));
    __m128i h = warp_pair16(_mm_madd_epi16(col0, wyh), _mm_madd_epi16(col1, wyh));
    __m128i l = warp_pair16(_mm_madd_epi16(col0, wyl), _mm_madd_epi16(col1, wyl));

    return warp_finish4(_mm_madd_epi16(h, wx), _mm_madd_epi16(l, wx));
}

/*
 * warp_bilinear_run for 2 channels (interleaved Cb and Cr), four pixels per
 * step. Each pixel reads 4 bytes of its top row at p00 (Cb Cr of x0 and of
 * x0 + 1) and 4 of the bottom row at p10: the run has x0 <= width - 2 and
 * y0 <= height - 2, so both reads lie inside their row.
 */
static __attribute__((noinline)) void warp_bilinear_run_chroma_sse2(
    const uint8_t *restrict base, size_t stride, int64_t u, int64_t v, int64_t du, int64_t dv,
    int64_t n, uint8_t *restrict out)
{
    __m128i ulo = warp_low4(u, du), vlo = warp_low4(v, dv);
    const __m128i du4 = _mm_set1_epi32((int)(uint32_t)(4 * du));
    const __m128i dv4 = _mm_set1_epi32((int)(uint32_t)(4 * dv));
    int64_t i = 0;

    for (; i + 4 <= n; i += 4, out += 8) {
        const uint8_t *p0 = warp_step(base, stride, 2, &u, &v, du, dv);
        const uint8_t *p1 = warp_step(base, stride, 2, &u, &v, du, dv);
        const uint8_t *p2 = warp_step(base, stride, 2, &u, &v, du, dv);
        const uint8_t *p3 = warp_step(base, stride, 2, &u, &v, du, dv);
        __m128i top = _mm_setr_epi32(warp_load32(p0), warp_load32(p1), warp_load32(p2),
                                     warp_load32(p3));
        __m128i bot = _mm_setr_epi32(warp_load32(p0 + stride), warp_load32(p1 + stride),
                                     warp_load32(p2 + stride), warp_load32(p3 + stride));
        __m128i wx, wyh, wyl, cbcr;

        warp_weights4(ulo, vlo, &wx, &wyh, &wyl);
        /* 16-bit Cb0..Cb3 Cr0..Cr3, then interleaved, then bytes Cb0 Cr0 ... Cb3 Cr3. */
        cbcr = _mm_packs_epi32(warp_chroma4(top, bot, 0, wx, wyh, wyl),
                               warp_chroma4(top, bot, 1, wx, wyh, wyl));
        cbcr = _mm_unpacklo_epi16(cbcr, _mm_srli_si128(cbcr, 8));
        _mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(cbcr, cbcr));
        ulo = _mm_add_epi32(ulo, du4);
        vlo = _mm_add_epi32(vlo, dv4);
    }
    warp_bilinear_run(base, stride, u, v, du, dv, n - i, 2, out);
}
#endif

#if defined(WARP_HAVE_AVX2)
/*
 * warp_bilinear_run for 1 channel, eight pixels per step with AVX2: the
 * arithmetic of the SSE2 loops (same split weights, same sums, so the same
 * bytes; see the proof above warp_pair16), with the neighbourhoods fetched
 * by two gathers. Positions are kept exactly as 64-bit fixed point split in
 * two 32-bit halves per lane, the integer part and the fraction, stepped by
 * 8 du with the carry from the fraction added by hand. The top gather
 * reads 4 bytes at p00 (p00, p01, 2 spare, the spare inside row y0 + 1) and
 * the bottom one 4 bytes at p10 - 2 (2 spare, p10, p11), so no read leaves
 * the image, as in the RGB loop. Byte offsets must fit in 31 bits: the
 * caller checks it (WARP_AVX2_MAX_BYTES).
 */
#define WARP_AVX2_MAX_BYTES ((size_t)1 << 30)

/* The lanes' positions: integer parts and fractions of p + k dp, k = 0..7. */
static inline void __attribute__((target("avx2"))) warp_avx2_split8(int64_t p, int64_t dp,
                                                                     __m256i *whole, __m256i *frac)
{
    int32_t w[8];
    uint32_t f[8];

    for (int k = 0; k < 8; k++) {
        int64_t q = p + k * dp;

        w[k] = (int32_t)(q >> WARP_SHIFT);
        f[k] = (uint32_t)q;
    }
    *whole = _mm256_loadu_si256((const __m256i *)(const void *)w);
    *frac = _mm256_loadu_si256((const __m256i *)(const void *)f);
}

/* 8 x 32 bits: a pair of 16-bit values (lo, hi) in each lane, as warp_pair16. */
static inline __m256i __attribute__((target("avx2"))) warp_avx2_pair16(__m256i lo, __m256i hi)
{
    return _mm256_or_si256(lo, _mm256_slli_epi32(hi, 16));
}

/* (whole, frac) += (dwhole, dfrac) as one 64-bit add per lane. */
static inline void __attribute__((target("avx2"))) warp_avx2_step(__m256i *whole, __m256i *frac,
                                                                  __m256i dwhole, __m256i dfrac)
{
    const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
    __m256i sum = _mm256_add_epi32(*frac, dfrac);
    /* Carry out of the fraction: sum < frac as unsigned (compare with the sign flipped). */
    __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(*frac, sign), _mm256_xor_si256(sum, sign));

    *whole = _mm256_sub_epi32(_mm256_add_epi32(*whole, dwhole), carry); /* carry is 0 or -1 */
    *frac = sum;
}

static __attribute__((noinline, target("avx2"))) void warp_bilinear_run_gray_avx2(
    const uint8_t *restrict base, size_t stride, int64_t u, int64_t v, int64_t du, int64_t dv,
    int64_t n, uint8_t *restrict out)
{
    const __m256i low8 = _mm256_set1_epi32(0xff), one = _mm256_set1_epi32(WARP_WONE);
    const __m256i low6 = _mm256_set1_epi32(63);
    const __m256i round = _mm256_set1_epi32(1 << (2 * WARP_WBITS - 1));
    const __m256i vstride = _mm256_set1_epi32((int)stride);
    const __m256i bottom = _mm256_set1_epi32((int)stride - 2);
    const __m256i duw = _mm256_set1_epi32((int32_t)((8 * du) >> WARP_SHIFT));
    const __m256i duf = _mm256_set1_epi32((int)(uint32_t)(8 * du));
    const __m256i dvw = _mm256_set1_epi32((int32_t)((8 * dv) >> WARP_SHIFT));
    const __m256i dvf = _mm256_set1_epi32((int)(uint32_t)(8 * dv));
    __m256i xw, xf, yw, yf;
    int64_t i = 0;

    warp_avx2_split8(u, du, &xw, &xf);
    warp_avx2_split8(v, dv, &yw, &yf);
    for (; i + 8 <= n; i += 8, out += 8) {
        __m256i at = _mm256_add_epi32(_mm256_mullo_epi32(yw, vstride), xw);
        __m256i top = _mm256_i32gather_epi32((const int *)(const void *)base, at, 1);
        __m256i bot = _mm256_i32gather_epi32((const int *)(const void *)base,
                                             _mm256_add_epi32(at, bottom), 1);
        __m256i fx = _mm256_srli_epi32(xf, WARP_SHIFT - WARP_WBITS);
        __m256i fy = _mm256_srli_epi32(yf, WARP_SHIFT - WARP_WBITS);
        __m256i gx = _mm256_sub_epi32(one, fx), gy = _mm256_sub_epi32(one, fy);
        __m256i wx = warp_avx2_pair16(gx, fx);
        __m256i wyh = warp_avx2_pair16(_mm256_srli_epi32(gy, 6), _mm256_srli_epi32(fy, 6));
        __m256i wyl = warp_avx2_pair16(_mm256_and_si256(gy, low6), _mm256_and_si256(fy, low6));
        /* Columns as (top, bottom) 16-bit pairs: col0 = (p00, p10), col1 = (p01, p11). */
        __m256i p00 = _mm256_and_si256(top, low8);
        __m256i p01 = _mm256_and_si256(_mm256_srli_epi32(top, 8), low8);
        __m256i p10 = _mm256_and_si256(_mm256_srli_epi32(bot, 16), low8);
        __m256i p11 = _mm256_srli_epi32(bot, 24);
        __m256i col0 = warp_avx2_pair16(p00, p10), col1 = warp_avx2_pair16(p01, p11);
        /* (ch0, ch1) and (cl0, cl1) side by side, then one madd with wx each. */
        __m256i h = _mm256_madd_epi16(
            warp_avx2_pair16(_mm256_madd_epi16(col0, wyh), _mm256_madd_epi16(col1, wyh)), wx);
        __m256i l = _mm256_madd_epi16(
            warp_avx2_pair16(_mm256_madd_epi16(col0, wyl), _mm256_madd_epi16(col1, wyl)), wx);
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(h, 6), l), round);
        __m256i r = _mm256_srli_epi32(sum, 2 * WARP_WBITS);
        /* Eight 32-bit results (each <= 255) to bytes: lanes 0-3 and 4-7 of each half. */
        __m256i packed = _mm256_packus_epi16(_mm256_packs_epi32(r, r), _mm256_setzero_si256());
        uint32_t lo = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(packed));
        uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(packed, 1));

        memcpy(out, &lo, 4);
        memcpy(out + 4, &hi, 4);
        warp_avx2_step(&xw, &xf, duw, duf);
        warp_avx2_step(&yw, &yf, dvw, dvf);
    }
    warp_bilinear_run_gray_sse2(base, stride, u + i * du, v + i * dv, du, dv, n - i, out);
}

/* Byte k of each 32-bit lane, as a 32-bit lane (k a constant). */
static inline __m256i __attribute__((target("avx2"))) warp_avx2_byte8(__m256i v, int k)
{
    return _mm256_and_si256(_mm256_srli_epi32(v, 8 * k), _mm256_set1_epi32(0xff));
}

/* warp_chroma4 for eight pixels. */
static inline __m256i __attribute__((target("avx2"))) warp_avx2_chroma8(
    __m256i top, __m256i bot, int k, __m256i wx, __m256i wyh, __m256i wyl)
{
    const __m256i round = _mm256_set1_epi32(1 << (2 * WARP_WBITS - 1));
    __m256i col0 = warp_avx2_pair16(warp_avx2_byte8(top, k), warp_avx2_byte8(bot, k));
    __m256i col1 = warp_avx2_pair16(warp_avx2_byte8(top, k + 2), warp_avx2_byte8(bot, k + 2));
    __m256i h = _mm256_madd_epi16(
        warp_avx2_pair16(_mm256_madd_epi16(col0, wyh), _mm256_madd_epi16(col1, wyh)), wx);
    __m256i l = _mm256_madd_epi16(
        warp_avx2_pair16(_mm256_madd_epi16(col0, wyl), _mm256_madd_epi16(col1, wyl)), wx);

    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(h, 6), l), round),
                             2 * WARP_WBITS);
}

/*
 * warp_bilinear_run_chroma_sse2 with eight pixels per step, the 4 + 4 bytes
 * of each fetched by two gathers (at p00 and p10, as the SSE2 loop reads):
 * both channels from the two gathers that the gray loop spends on one. The
 * same byte-offset limit as the gray loop.
 */
static __attribute__((noinline, target("avx2"))) void warp_bilinear_run_chroma_avx2(
    const uint8_t *restrict base, size_t stride, int64_t u, int64_t v, int64_t du, int64_t dv,
    int64_t n, uint8_t *restrict out)
{
    const __m256i one = _mm256_set1_epi32(WARP_WONE), low6 = _mm256_set1_epi32(63);
    const __m256i vstride = _mm256_set1_epi32((int)stride);
    const __m256i duw = _mm256_set1_epi32((int32_t)((8 * du) >> WARP_SHIFT));
    const __m256i duf = _mm256_set1_epi32((int)(uint32_t)(8 * du));
    const __m256i dvw = _mm256_set1_epi32((int32_t)((8 * dv) >> WARP_SHIFT));
    const __m256i dvf = _mm256_set1_epi32((int)(uint32_t)(8 * dv));
    __m256i xw, xf, yw, yf;
    int64_t i = 0;

    warp_avx2_split8(u, du, &xw, &xf);
    warp_avx2_split8(v, dv, &yw, &yf);
    for (; i + 8 <= n; i += 8, out += 16) {
        __m256i at = _mm256_add_epi32(_mm256_mullo_epi32(yw, vstride), _mm256_add_epi32(xw, xw));
        __m256i top = _mm256_i32gather_epi32((const int *)(const void *)base, at, 1);
        __m256i bot = _mm256_i32gather_epi32((const int *)(const void *)base,
                                             _mm256_add_epi32(at, vstride), 1);
        __m256i fx = _mm256_srli_epi32(xf, WARP_SHIFT - WARP_WBITS);
        __m256i fy = _mm256_srli_epi32(yf, WARP_SHIFT - WARP_WBITS);
        __m256i gx = _mm256_sub_epi32(one, fx), gy = _mm256_sub_epi32(one, fy);
        __m256i wx = warp_avx2_pair16(gx, fx);
        __m256i wyh = warp_avx2_pair16(_mm256_srli_epi32(gy, 6), _mm256_srli_epi32(fy, 6));
        __m256i wyl = warp_avx2_pair16(_mm256_and_si256(gy, low6), _mm256_and_si256(fy, low6));
        __m256i cb = warp_avx2_chroma8(top, bot, 0, wx, wyh, wyl);
        __m256i cr = warp_avx2_chroma8(top, bot, 1, wx, wyh, wyl);
        /* Cb | Cr << 8 in each lane, to 16 bits: per 128-bit half, pixels' Cb Cr byte pairs. */
        __m256i pairs = _mm256_or_si256(cb, _mm256_slli_epi32(cr, 8));
        __m256i packed = _mm256_packus_epi32(pairs, pairs);

        _mm_storel_epi64((__m128i *)(void *)out, _mm256_castsi256_si128(packed));
        _mm_storel_epi64((__m128i *)(void *)(out + 8), _mm256_extracti128_si256(packed, 1));
        warp_avx2_step(&xw, &xf, duw, duf);
        warp_avx2_step(&yw, &yf, dvw, dvf);
    }
    warp_bilinear_run_chroma_sse2(base, stride, u + i * du, v + i * dv, du, dv, n - i, out);
}

/* 1 when this CPU runs AVX2 and warp_limit_simd() allows it. */
static int warp_simd_level_max = WARP_SIMD_BEST;

static int warp_use_avx2(void)
{
    static int supported = -1;

    if (supported < 0)
        supported = __builtin_cpu_supports("avx2") ? 1 : 0;
    return supported && warp_simd_level_max >= WARP_SIMD_AVX2;
}
#endif

void warp_limit_simd(warp_simd_t level)
{
#if defined(WARP_HAVE_AVX2)
    warp_simd_level_max = level;
#else
    (void)level;
#endif
}

/*
 * The interior run, by the fastest exact loop available: AVX2 (one or two
 * channels, when the CPU has it) or SSE2 where there is one and simd is set, else the
 * scalar reference. simd is a constant at every
 * call, so each copy of warp_point_rows keeps only one branch.
 */
static inline void warp_bilinear_interior(const uint8_t *restrict base, size_t stride, int64_t u,
                                          int64_t v, int64_t du, int64_t dv, int64_t n,
                                          const uint32_t ch, const int simd, uint8_t *restrict out)
{
#if defined(__SSE2__)
    if (simd) {
#if defined(WARP_HAVE_AVX2)
        /* The gathers' byte offsets, up to the last pixel's bottom row, fit in 31 bits. */
        int avx2 = ch != 3 && n >= 8 &&
                   stride * ((size_t)(v >> WARP_SHIFT) + 2) < WARP_AVX2_MAX_BYTES &&
                   stride * ((size_t)((v + (n - 1) * dv) >> WARP_SHIFT) + 2) <
                       WARP_AVX2_MAX_BYTES &&
                   warp_use_avx2();
#endif
        if (ch == 3)
            warp_bilinear_run_rgb_sse2(base, stride, u, v, du, dv, n, out);
#if defined(WARP_HAVE_AVX2)
        else if (avx2 && ch == 2)
            warp_bilinear_run_chroma_avx2(base, stride, u, v, du, dv, n, out);
        else if (avx2)
            warp_bilinear_run_gray_avx2(base, stride, u, v, du, dv, n, out);
#endif
        else if (ch == 2)
            warp_bilinear_run_chroma_sse2(base, stride, u, v, du, dv, n, out);
        else
            warp_bilinear_run_gray_sse2(base, stride, u, v, du, dv, n, out);
        return;
    }
#else
    (void)simd;
#endif
    warp_bilinear_run(base, stride, u, v, du, dv, n, ch, out);
}

/*
 * Samples the pixels x in [x0, x1) of one output row, whose source positions
 * are (u0 + x du, v0 + x dv) and all lie within the source (see
 * warp_sample_bilinear), into out[0 ..): pixel x at out + (x - x0) * ch.
 * Bilinear cuts the run, exactly, into edge pixels (clamped neighbours),
 * interior pixels (no checks at all) and edge pixels again.
 */
static inline __attribute__((always_inline)) void warp_sample_span(
    const warp_image_t *src, int64_t u0, int64_t v0, int64_t du, int64_t dv, int64_t x0,
    int64_t x1, int bilinear, const uint32_t ch, const int simd, uint8_t *out)
{
    const int64_t uin = ((int64_t)src->width - 1) << WARP_SHIFT;
    const int64_t vin = ((int64_t)src->height - 1) << WARP_SHIFT;
    int64_t is = x0, ie = x1;

    if (!bilinear) {
        for (int64_t x = x0; x < x1; x++)
            warp_sample_nearest(src, u0 + x * du, v0 + x * dv, ch, out + (x - x0) * ch);
        return;
    }
    warp_span(u0, du, 0, uin, &is, &ie);
    warp_span(v0, dv, 0, vin, &is, &ie); /* Empty: is = ie = x0, all edge pixels. */
    for (int64_t x = x0; x < is; x++)
        warp_sample_bilinear(src, u0 + x * du, v0 + x * dv, ch, out + (x - x0) * ch);
    warp_bilinear_interior(src->pixels, src->stride, u0 + is * du, v0 + is * dv, du, dv, ie - is,
                           ch, simd, out + (is - x0) * ch);
    for (int64_t x = ie; x < x1; x++)
        warp_sample_bilinear(src, u0 + x * du, v0 + x * dv, ch, out + (x - x0) * ch);
}

/*
 * One output row's walk through a source: the position of its first pixel
 * centre in index space, and, unless the row reaches too far out for fixed
 * point (see WARP_SAFE_RANGE), that start and the step per pixel in fixed
 * point. Computed in double from the matrix for every row, so there is no
 * drift from row to row; along the row the position is start + x * step.
 */
typedef struct warp_row {
    double xs, ys;
    int far;
    int64_t u0, v0, du, dv;
} warp_row_t;

static inline void warp_row_begin(const warp_affine_t *a, uint32_t y, uint32_t dw, warp_row_t *r)
{
    const double *m = a->m;
    double yc = y + 0.5;
    double xe, ye;

    r->xs = m[0] * 0.5 + m[1] * yc + m[2] - 0.5;
    r->ys = m[3] * 0.5 + m[4] * yc + m[5] - 0.5;
    xe = r->xs + m[0] * dw;
    ye = r->ys + m[3] * dw;
    r->far = !(fabs(r->xs) < WARP_SAFE_RANGE && fabs(r->ys) < WARP_SAFE_RANGE &&
               fabs(xe) < WARP_SAFE_RANGE && fabs(ye) < WARP_SAFE_RANGE);
    if (r->far)
        return;
    r->u0 = warp_fixed(r->xs);
    r->v0 = warp_fixed(r->ys);
    r->du = warp_fixed(m[0]);
    r->dv = warp_fixed(m[3]);
}

/* 1 when fixed-point (u, v) is inside a w x h source: [-0.5, w - 0.5) x [-0.5, h - 0.5). */
static inline int warp_inside(int64_t u, int64_t v, uint32_t w, uint32_t h)
{
    return u >= -WARP_HALF && u < ((int64_t)w << WARP_SHIFT) - WARP_HALF && v >= -WARP_HALF &&
           v < ((int64_t)h << WARP_SHIFT) - WARP_HALF;
}

/* The pixels [*vs, *ve) of a (not far) row of dw whose positions are inside a w x h source. */
static inline void warp_row_inside(const warp_row_t *r, uint32_t w, uint32_t h, uint32_t dw,
                                   int64_t *vs, int64_t *ve)
{
    *vs = 0;
    *ve = dw;
    warp_span(r->u0, r->du, -WARP_HALF, ((int64_t)w << WARP_SHIFT) - WARP_HALF, vs, ve);
    warp_span(r->v0, r->dv, -WARP_HALF, ((int64_t)h << WARP_SHIFT) - WARP_HALF, vs, ve);
}

/*
 * Nearest and bilinear, for a fixed channel count so the compiler unrolls the
 * channel loops. Each row's start is computed in double from the matrix (no
 * drift from row to row); along the row the position is start + x * step in
 * fixed point. The row is cut, exactly, into fill before the source, the
 * pixels inside it (warp_sample_span) and fill after. Rows too far out for fixed point (see
 * WARP_SAFE_RANGE) are evaluated per pixel in double. Always inlined so
 * that each channel count gets its own copy with the channel loops unrolled.
 */
static inline __attribute__((always_inline)) void warp_point_rows(
    const warp_image_t *src, const warp_affine_t *a, int bilinear, const uint8_t *fill,
    uint8_t *dst, uint32_t dw, uint32_t dh, const uint32_t ch, const int simd)
{
    const double *m = a->m;
    uint8_t *out = dst;

    for (uint32_t y = 0; y < dh; y++, out += (size_t)dw * ch) {
        warp_row_t r;
        int64_t vs, ve;

        warp_row_begin(a, y, dw, &r);
        if (r.far) {
            for (uint32_t x = 0; x < dw; x++) {
                int64_t u = warp_fixed(r.xs + m[0] * x), v = warp_fixed(r.ys + m[3] * x);
                uint8_t *o = out + (size_t)x * ch;

                if (!warp_inside(u, v, src->width, src->height))
                    warp_put_fill(o, fill, ch);
                else if (bilinear)
                    warp_sample_bilinear(src, u, v, ch, o);
                else
                    warp_sample_nearest(src, u, v, ch, o);
            }
            continue;
        }
        warp_row_inside(&r, src->width, src->height, dw, &vs, &ve);
        for (int64_t x = 0; x < vs; x++)
            warp_put_fill(out + x * ch, fill, ch);
        warp_sample_span(src, r.u0, r.v0, r.du, r.dv, vs, ve, bilinear, ch, simd, out + vs * ch);
        for (int64_t x = ve; x < (int64_t)dw; x++)
            warp_put_fill(out + x * ch, fill, ch);
    }
}

/*
 * Area: the mean of the source box that one output pixel covers, with
 * fractional weights for partly covered source pixels. The box is the
 * axis-aligned bounding box of the output pixel's footprint in the source
 * (exact for a resize, a little wider under rotation or shear) and is never
 * smaller than one source pixel, where it becomes exactly bilinear. This is
 * the "box pre-filter integrated into sampling": for a plain resize it gives
 * the same weights as PIL's BOX filter, and the cost per image is about one
 * read of each source pixel, whatever the ratio.
 */
static void warp_area(const warp_image_t *src, const warp_affine_t *a, const uint8_t *fill,
                      uint8_t *dst, uint32_t dw, uint32_t dh)
{
    const double *m = a->m;
    const uint32_t ch = src->channels;
    double bw = fmax(1.0, fabs(m[0]) + fabs(m[1]));
    double bh = fmax(1.0, fabs(m[3]) + fabs(m[4]));
    double sw = src->width, sh = src->height;
    uint8_t *out = dst;

    for (uint32_t y = 0; y < dh; y++) {
        for (uint32_t x = 0; x < dw; x++, out += ch) {
            double xc = x + 0.5, yc = y + 0.5;
            double xs = m[0] * xc + m[1] * yc + m[2];
            double ys = m[3] * xc + m[4] * yc + m[5];
            double x0, x1, y0, y1, acc[3] = {0, 0, 0}, wsum = 0;

            if (!(xs >= 0 && xs < sw && ys >= 0 && ys < sh)) {
                warp_put_fill(out, fill, ch);
                continue;
            }
            x0 = fmax(0, xs - bw / 2);
            x1 = fmin(sw, xs + bw / 2);
            y0 = fmax(0, ys - bh / 2);
            y1 = fmin(sh, ys + bh / 2);
            for (uint32_t j = (uint32_t)y0; (double)j < y1; j++) {
                double wy = fmin(y1, j + 1.0) - fmax(y0, (double)j);
                const uint8_t *row = src->pixels + (size_t)j * src->stride;

                for (uint32_t i = (uint32_t)x0; (double)i < x1; i++) {
                    double w = wy * (fmin(x1, i + 1.0) - fmax(x0, (double)i));
                    for (uint32_t c = 0; c < ch; c++)
                        acc[c] += w * row[(size_t)i * ch + c];
                    wsum += w;
                }
            }
            for (uint32_t c = 0; c < ch; c++) {
                double val = wsum > 0 ? acc[c] / wsum + 0.5 : fill[c];
                out[c] = (uint8_t)(val >= 255 ? 255 : val);
            }
        }
    }
}

void warp_apply(const warp_image_t *src, const warp_affine_t *out_to_src, interpolation_t interp,
                const uint8_t *fill, uint8_t *dst, uint32_t dst_width, uint32_t dst_height)
{
    int bilinear = interp != INTERP_NEAREST;

    if (interp == INTERP_AREA) {
        warp_area(src, out_to_src, fill, dst, dst_width, dst_height);
        return;
    }
    if (src->channels == 3)
        warp_point_rows(src, out_to_src, bilinear, fill, dst, dst_width, dst_height, 3, 1);
    else
        warp_point_rows(src, out_to_src, bilinear, fill, dst, dst_width, dst_height, 1, 1);
}

void warp_apply_reference(const warp_image_t *src, const warp_affine_t *out_to_src,
                          interpolation_t interp, const uint8_t *fill, uint8_t *dst,
                          uint32_t dst_width, uint32_t dst_height)
{
    int bilinear = interp != INTERP_NEAREST;

    if (interp == INTERP_AREA) {
        warp_area(src, out_to_src, fill, dst, dst_width, dst_height);
        return;
    }
    if (src->channels == 3)
        warp_point_rows(src, out_to_src, bilinear, fill, dst, dst_width, dst_height, 3, 0);
    else
        warp_point_rows(src, out_to_src, bilinear, fill, dst, dst_width, dst_height, 1, 0);
}

/*
 * YCbCr planes to RGB. A JPEG stores luma at full size and chroma at a half
 * or a quarter of it; libjpeg would upsample the chroma (a triangle filter,
 * that is, bilinear interpolation between chroma sample centres) and convert
 * every pixel of the image to RGB before the warp throws most of them away.
 * Here each output pixel samples the luma plane where the matrix points and
 * the chroma (Cb and Cr interleaved, both from one read) at the same spot in
 * chroma coordinates, bilinearly, which is the same interpolation, and only
 * the output pixels are converted. The chroma matrix is the luma one followed by the division by
 * the subsampling factors: chroma sample i spans luma [s i, s (i + 1)).
 *
 * Rows are cut as in warp_point_rows, by the luma plane: a pixel is fill
 * exactly when its luma position is outside the image. Inside pixels are
 * sampled, luma then chroma, in chunks of WARP_CHUNK, so the sample rows
 * stay in L1 for the conversion.
 */
#define WARP_CHUNK 256

/* (v + 2^15) >> 16 for any v > -2^24, without shifting a negative value. */
static inline int32_t warp_round16(int32_t v)
{
    return ((v + (1 << 15) + (1 << 24)) >> 16) - (1 << 8);
}

static inline uint8_t warp_clamp255(int32_t v)
{
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/*
 * JFIF's full-range YCbCr to RGB (the conversion libjpeg applies),
 * R = Y + 1.402 Cr', G = Y - 0.34414 Cb' - 0.71414 Cr', B = Y + 1.772 Cb'
 * with Cb' = Cb - 128 and Cr' = Cr - 128, coefficients in 16-bit fixed
 * point, each correction rounded once, results clamped to 0..255.
 */
static void warp_ycbcr_to_rgb(const uint8_t *y, const uint8_t *cbcr, int64_t n, uint8_t *out)
{
    for (int64_t i = 0; i < n; i++, out += 3) {
        int32_t luma = y[i], b = (int32_t)cbcr[2 * i] - 128, r = (int32_t)cbcr[2 * i + 1] - 128;

        out[0] = warp_clamp255(luma + warp_round16(91881 * r));
        out[1] = warp_clamp255(luma + warp_round16(-22554 * b - 46802 * r));
        out[2] = warp_clamp255(luma + warp_round16(116130 * b));
    }
}

#if defined(__SSE2__)
/*
 * The SSE2 conversion, 8 pixels per step, the same bytes as the scalar loop.
 * _mm_madd_epi16 takes 16-bit coefficients, so each one over 2^15 is split
 * into a multiple of 2^16, added as a plain multiple of the input (which
 * commutes with the >> 16), and a remainder the madd takes, with the
 * rounding 2^15 fed as the pair (2, 2^14) where a lane is free:
 *
 *     91881 r + 2^15           = 2^16 r + (26345 r + 2^14 * 2)
 *     -22554 b - 46802 r + 2^15 = -2^16 r + (-22554 b + 18734 r) + 2^15
 *     116130 b + 2^15          = 2^17 b + (-14942 b + 2^14 * 2)
 *
 * Every sum stays below 2^23 and every result within int16 (-307..560)
 * before packus clamps it to 0..255 as the scalar loop does.
 */

/* ((pairs . k) + add) >> 16 for 8 pairs given as their low and high halves, as 8 x int16. */
static inline __m128i warp_madd_shift(__m128i lo_pairs, __m128i hi_pairs, __m128i k, __m128i add)
{
    __m128i lo = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(lo_pairs, k), add), 16);
    __m128i hi = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(hi_pairs, k), add), 16);

    return _mm_packs_epi32(lo, hi);
}

/* 8 bytes at p widened to 8 x 16 bits. */
static inline __m128i warp_load8_u16(const uint8_t *p)
{
    return _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)p),
                             _mm_setzero_si128());
}

/* Stores 4 pixels given as [r g b x] bytes as 12 bytes r g b, out[0..11] and nothing more. */
static inline void warp_store_rgbx4(uint8_t *out, __m128i p)
{
    const __m128i keep = _mm_set1_epi64x(0x0000000000ffffffLL);
    const __m128i moved = _mm_set1_epi64x(0x0000ffffff000000LL);
    const __m128i low6 = _mm_set_epi32(0, 0, 0x0000ffff, (int)0xffffffffu);
    /* Per 64-bit half: pixel 0 in bytes 0..2, pixel 1 shifted down over the spare. */
    __m128i q = _mm_or_si128(_mm_and_si128(p, keep), _mm_and_si128(_mm_srli_epi64(p, 8), moved));
    /* Bytes 0..5 stay, bytes 8..13 move to 6..11. */
    __m128i v = _mm_or_si128(_mm_and_si128(q, low6), _mm_srli_si128(_mm_andnot_si128(low6, q), 2));
    uint32_t tail = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 8));

    _mm_storel_epi64((__m128i *)(void *)out, v);
    memcpy(out + 8, &tail, 4);
}

static void warp_ycbcr_to_rgb_sse2(const uint8_t *y, const uint8_t *cbcr, int64_t n, uint8_t *out)
{
    const __m128i zero = _mm_setzero_si128(), c128 = _mm_set1_epi16(128);
    const __m128i low8 = _mm_set1_epi16(0xff);
    const __m128i two = _mm_set1_epi16(2), half = _mm_set1_epi32(1 << 15);
    const __m128i kr = _mm_set1_epi32((16384 << 16) | 26345);
    const __m128i kg = _mm_set1_epi32((18734 << 16) | (uint16_t)-22554);
    const __m128i kb = _mm_set1_epi32((16384 << 16) | (uint16_t)-14942);
    int64_t i = 0;

    for (; i + 8 <= n; i += 8, out += 24) {
        __m128i l = warp_load8_u16(y + i);
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(cbcr + 2 * i));
        __m128i b = _mm_sub_epi16(_mm_and_si128(c, low8), c128); /* Even bytes. */
        __m128i r = _mm_sub_epi16(_mm_srli_epi16(c, 8), c128);    /* Odd bytes. */
        __m128i red = warp_madd_shift(_mm_unpacklo_epi16(r, two), _mm_unpackhi_epi16(r, two), kr,
                                      zero);
        __m128i green = warp_madd_shift(_mm_unpacklo_epi16(b, r), _mm_unpackhi_epi16(b, r), kg,
                                        half);
        __m128i blue = warp_madd_shift(_mm_unpacklo_epi16(b, two), _mm_unpackhi_epi16(b, two), kb,
                                       zero);
        __m128i rg, bx;

        red = _mm_packus_epi16(_mm_add_epi16(_mm_add_epi16(red, r), l), zero);
        green = _mm_packus_epi16(_mm_sub_epi16(_mm_add_epi16(green, l), r), zero);
        blue = _mm_packus_epi16(_mm_add_epi16(_mm_add_epi16(blue, _mm_add_epi16(b, b)), l), zero);
        rg = _mm_unpacklo_epi8(red, green);
        bx = _mm_unpacklo_epi8(blue, zero);
        warp_store_rgbx4(out, _mm_unpacklo_epi16(rg, bx));
        warp_store_rgbx4(out + 12, _mm_unpackhi_epi16(rg, bx));
    }
    warp_ycbcr_to_rgb(y + i, cbcr + 2 * i, n - i, out);
}
#endif

/* The conversion by the fastest exact loop available, as warp_bilinear_interior. */
static inline void warp_ycbcr_convert(const uint8_t *y, const uint8_t *cbcr, int64_t n,
                                      const int simd, uint8_t *out)
{
#if defined(__SSE2__)
    if (simd) {
        warp_ycbcr_to_rgb_sse2(y, cbcr, n, out);
        return;
    }
#else
    (void)simd;
#endif
    warp_ycbcr_to_rgb(y, cbcr, n, out);
}

/* One pixel of a row too far out for fixed point, in double (see WARP_SAFE_RANGE). */
static void warp_ycbcr_pixel_far(const warp_planes_t *src, const warp_affine_t *a,
                                 const warp_affine_t *chroma, const warp_row_t *r,
                                 const warp_row_t *c, uint32_t x, int bilinear,
                                 const uint8_t *fill, uint8_t *out)
{
    const warp_image_t *luma = &src->luma;
    int64_t u = warp_fixed(r->xs + a->m[0] * x), v = warp_fixed(r->ys + a->m[3] * x);
    int64_t cu = warp_fixed(c->xs + chroma->m[0] * x), cv = warp_fixed(c->ys + chroma->m[3] * x);
    uint8_t sample[3]; /* Y, Cb, Cr. */

    if (!warp_inside(u, v, luma->width, luma->height)) {
        warp_put_fill(out, fill, 3);
        return;
    }
    if (bilinear) {
        warp_sample_bilinear(luma, u, v, 1, &sample[0]);
        warp_sample_bilinear(&src->chroma, cu, cv, 2, &sample[1]);
    } else {
        warp_sample_nearest(luma, u, v, 1, &sample[0]);
        warp_sample_nearest(&src->chroma, cu, cv, 2, &sample[1]);
    }
    warp_ycbcr_to_rgb(&sample[0], &sample[1], 1, out);
}

static inline __attribute__((always_inline)) void warp_ycbcr_rows(
    const warp_planes_t *src, const warp_affine_t *a, int bilinear, const uint8_t *fill,
    uint8_t *dst, uint32_t dw, uint32_t dh, const int simd)
{
    const warp_image_t *luma = &src->luma;
    const double *m = a->m, sx = src->chroma_x, sy = src->chroma_y;
    /* Output pixel centre -> chroma continuous coordinates: the luma ones divided. */
    const warp_affine_t chroma = {{m[0] / sx, m[1] / sx, m[2] / sx, m[3] / sy, m[4] / sy,
                                   m[5] / sy}};
    uint8_t y_row[WARP_CHUNK], cbcr_row[2 * WARP_CHUNK];
    uint8_t *out = dst;

    for (uint32_t y = 0; y < dh; y++, out += (size_t)dw * 3) {
        warp_row_t r, c;
        int64_t vs, ve;

        warp_row_begin(a, y, dw, &r);
        warp_row_begin(&chroma, y, dw, &c);
        if (r.far || c.far) {
            for (uint32_t x = 0; x < dw; x++)
                warp_ycbcr_pixel_far(src, a, &chroma, &r, &c, x, bilinear, fill,
                                     out + (size_t)x * 3);
            continue;
        }
        warp_row_inside(&r, luma->width, luma->height, dw, &vs, &ve);
        for (int64_t x = 0; x < vs; x++)
            warp_put_fill(out + x * 3, fill, 3);
        for (int64_t x0 = vs; x0 < ve; x0 += WARP_CHUNK) {
            int64_t x1 = ve - x0 > WARP_CHUNK ? x0 + WARP_CHUNK : ve;

            warp_sample_span(luma, r.u0, r.v0, r.du, r.dv, x0, x1, bilinear, 1, simd, y_row);
            warp_sample_span(&src->chroma, c.u0, c.v0, c.du, c.dv, x0, x1, bilinear, 2, simd,
                             cbcr_row);
            warp_ycbcr_convert(y_row, cbcr_row, x1 - x0, simd, out + x0 * 3);
        }
        for (int64_t x = ve; x < (int64_t)dw; x++)
            warp_put_fill(out + x * 3, fill, 3);
    }
}

void warp_apply_ycbcr(const warp_planes_t *src, const warp_affine_t *out_to_src,
                      interpolation_t interp, const uint8_t *fill, uint8_t *dst,
                      uint32_t dst_width, uint32_t dst_height)
{
    warp_ycbcr_rows(src, out_to_src, interp != INTERP_NEAREST, fill, dst, dst_width, dst_height,
                    1);
}

void warp_apply_ycbcr_reference(const warp_planes_t *src, const warp_affine_t *out_to_src,
                                interpolation_t interp, const uint8_t *fill, uint8_t *dst,
                                uint32_t dst_width, uint32_t dst_height)
{
    warp_ycbcr_rows(src, out_to_src, interp != INTERP_NEAREST, fill, dst, dst_width, dst_height,
                    0);
}
