/*
 * warp.c: build the output-to-source affine matrix and sample through it.
 *
 * The matrix is built forwards (decoded pixels -> upright full-size image ->
 * output canvas -> augmented output) because each step is easy to state in
 * that direction, then inverted once per image. Sampling walks the output in
 * row order, so the source position of the next pixel is the previous one
 * plus a constant step: the inner loop is integer adds and shifts.
 */
#include "warp.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "exif.h"

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

void warp_identity(warp_affine_t *a)
{
    *a = (warp_affine_t){{1, 0, 0, 0, 1, 0}};
}

void warp_multiply(warp_affine_t *out, const warp_affine_t *a, const warp_affine_t *b)
{
    const double *x = a->m, *y = b->m;
    warp_affine_t r = {{
        x[0] * y[0] + x[1] * y[3],
        x[0] * y[1] + x[1] * y[4],
        x[0] * y[2] + x[1] * y[5] + x[2],
        x[3] * y[0] + x[4] * y[3],
        x[3] * y[1] + x[4] * y[4],
        x[3] * y[2] + x[4] * y[5] + x[5],
    }};
    *out = r;
}

int warp_invert(warp_affine_t *out, const warp_affine_t *a)
{
    const double *m = a->m;
    double det = m[0] * m[4] - m[1] * m[3];
    warp_affine_t r;

    if (det == 0 || !isfinite(det))
        return -EDOM;
    r.m[0] = m[4] / det;
    r.m[1] = -m[1] / det;
    r.m[3] = -m[3] / det;
    r.m[4] = m[0] / det;
    r.m[2] = -(r.m[0] * m[2] + r.m[1] * m[5]);
    r.m[5] = -(r.m[3] * m[2] + r.m[4] * m[5]);
    for (int i = 0; i < 6; i++)
        if (!isfinite(r.m[i]))
            return -EDOM;
    *out = r;
    return 0;
}

/* Prepends b to the chain: m = b after m. */
static void warp_then(warp_affine_t *m, double a0, double a1, double a2, double a3, double a4,
                      double a5)
{
    warp_affine_t b = {{a0, a1, a2, a3, a4, a5}};
    warp_multiply(m, &b, m);
}

/*
 * Stored -> upright for each EXIF orientation, for a stored image of w x h.
 * E.g. 6 ("rotate 90 clockwise to view"): stored row 0 becomes the right
 * column, so x' = h - y and y' = x.
 */
static void warp_orientation(warp_affine_t *o, int orientation, double w, double h)
{
    switch (orientation) {
    case EXIF_ORIENT_FLIP_H:
        *o = (warp_affine_t){{-1, 0, w, 0, 1, 0}};
        break;
    case EXIF_ORIENT_ROTATE_180:
        *o = (warp_affine_t){{-1, 0, w, 0, -1, h}};
        break;
    case EXIF_ORIENT_FLIP_V:
        *o = (warp_affine_t){{1, 0, 0, 0, -1, h}};
        break;
    case EXIF_ORIENT_TRANSPOSE:
        *o = (warp_affine_t){{0, 1, 0, 1, 0, 0}};
        break;
    case EXIF_ORIENT_ROTATE_90:
        *o = (warp_affine_t){{0, -1, h, 1, 0, 0}};
        break;
    case EXIF_ORIENT_TRANSVERSE:
        *o = (warp_affine_t){{0, -1, h, -1, 0, w}};
        break;
    case EXIF_ORIENT_ROTATE_270:
        *o = (warp_affine_t){{0, 1, 0, -1, 0, w}};
        break;
    default:
        warp_identity(o);
        break;
    }
}

double warp_required_scale(uint32_t src_width, uint32_t src_height, int orientation,
                           uint32_t out_width, uint32_t out_height, resize_mode_t resize,
                           const augment_params_t *aug)
{
    int swap = exif_orientation_swaps_axes(orientation);
    double ow = swap ? src_height : src_width, oh = swap ? src_width : src_height;
    double kx = out_width / ow, ky = out_height / oh;
    double k = resize == RESIZE_FIT ? fmin(kx, ky) : fmax(kx, ky);

    if (aug != NULL && aug->zoom > 1)
        k *= aug->zoom;
    return k;
}

int warp_build(const warp_geometry_t *g, const augment_params_t *aug, warp_affine_t *out_to_src)
{
    double sw = g->src_width, sh = g->src_height;
    double tw = g->out_width, th = g->out_height;
    int swap = exif_orientation_swaps_axes(g->orientation);
    double ow = swap ? sh : sw, oh = swap ? sw : sh;
    warp_affine_t m, o;

    if (g->dec_width == 0 || g->dec_height == 0 || sw == 0 || sh == 0)
        return -EDOM;
    /* Decoded (maybe DCT-scaled) pixels -> full-size stored pixels. */
    m = (warp_affine_t){{sw / g->dec_width, 0, 0, 0, sh / g->dec_height, 0}};
    /* Stored -> upright. */
    warp_orientation(&o, g->orientation, sw, sh);
    warp_multiply(&m, &o, &m);
    /* Upright -> output canvas, by resize mode. */
    if (g->resize == RESIZE_STRETCH) {
        warp_then(&m, tw / ow, 0, 0, 0, th / oh, 0);
    } else {
        double k = g->resize == RESIZE_FIT ? fmin(tw / ow, th / oh) : fmax(tw / ow, th / oh);
        warp_then(&m, k, 0, (tw - ow * k) / 2, 0, k, (th - oh * k) / 2);
    }
    /*
     * Augmentation about the output centre: zoom, then x-shear, then rotation
     * (positive = counter-clockwise as seen), then translation by fractions of
     * the output size; flips last, so a flipped sample is the exact mirror of
     * the unflipped one.
     */
    if (aug != NULL) {
        double cx = tw / 2, cy = th / 2;
        double rad = aug->rotate_deg * (M_PI / 180.0), c = cos(rad), s = sin(rad);
        double z = aug->zoom;

        if (!(z > 0) || !isfinite(z))
            return -EDOM;
        warp_then(&m, 1, 0, -cx, 0, 1, -cy);
        warp_then(&m, z, 0, 0, 0, z, 0);
        if (aug->shear != 0)
            warp_then(&m, 1, tan(aug->shear), 0, 0, 1, 0);
        if (aug->rotate_deg != 0)
            warp_then(&m, c, s, 0, -s, c, 0);
        warp_then(&m, 1, 0, cx + aug->translate_x * tw, 0, 1, cy + aug->translate_y * th);
        if (aug->flip_horizontal)
            warp_then(&m, -1, 0, tw, 0, 1, 0);
        if (aug->flip_vertical)
            warp_then(&m, 1, 0, 0, 0, -1, th);
    }
    return warp_invert(out_to_src, &m);
}

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

/*
 * Bilinear sample at index-space fixed-point (u, v), which the caller has
 * checked lies within [-0.5, w - 0.5) x [-0.5, h - 0.5): neighbours past an
 * edge are clamped to it, so border pixels are not darkened by the fill.
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

    if (x0 < 0)
        x0 = 0;
    if (x1 >= (int64_t)s->width)
        x1 = s->width - 1;
    if (y0 < 0)
        y0 = 0;
    if (y1 >= (int64_t)s->height)
        y1 = s->height - 1;
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

    if (x < 0)
        x = 0;
    if (x >= (int64_t)s->width)
        x = s->width - 1;
    if (y < 0)
        y = 0;
    if (y >= (int64_t)s->height)
        y = s->height - 1;
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
    const uint8_t *p = base + (size_t)(*v >> WARP_SHIFT) * stride + (size_t)(*u >> WARP_SHIFT) * bpp;

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
static __attribute__((noinline)) void warp_bilinear_run_rgb_sse2(const uint8_t *restrict base, size_t stride, int64_t u,
                                       int64_t v, int64_t du, int64_t dv, int64_t n,
                                       uint8_t *restrict out)
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
static __attribute__((noinline)) void warp_bilinear_run_gray_sse2(const uint8_t *restrict base, size_t stride, int64_t u,
                                        int64_t v, int64_t du, int64_t dv, int64_t n,
                                        uint8_t *restrict out)
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
#endif

/*
 * The interior run, by the fastest exact loop available: SSE2 where there is
 * one and simd is set, else the scalar reference. simd is a constant at every
 * call, so each copy of warp_point_rows keeps only one branch.
 */
static inline void warp_bilinear_interior(const uint8_t *restrict base, size_t stride, int64_t u,
                                          int64_t v, int64_t du, int64_t dv, int64_t n,
                                          const uint32_t ch, const int simd, uint8_t *restrict out)
{
#if defined(__SSE2__)
    if (simd) {
        if (ch == 3)
            warp_bilinear_run_rgb_sse2(base, stride, u, v, du, dv, n, out);
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
 * Nearest and bilinear, for a fixed channel count so the compiler unrolls the
 * channel loops. Each row's start is computed in double from the matrix (no
 * drift from row to row); along the row the position is start + x * step in
 * fixed point. The row is cut, exactly, into five runs: fill before the
 * source, edge pixels (clamped neighbours), interior pixels (no checks at
 * all), edge pixels again, fill after. Rows too far out for fixed point (see
 * WARP_SAFE_RANGE) are evaluated per pixel in double. Always inlined so
 * that each channel count gets its own copy with the channel loops unrolled.
 */
static inline __attribute__((always_inline)) void warp_point_rows(const warp_image_t *src, const warp_affine_t *a, int bilinear,
                                   const uint8_t *fill, uint8_t *dst, uint32_t dw, uint32_t dh,
                                   const uint32_t ch, const int simd)
{
    const double *m = a->m;
    const int64_t umin = -WARP_HALF, vmin = -WARP_HALF;
    const int64_t umax = ((int64_t)src->width << WARP_SHIFT) - WARP_HALF;
    const int64_t vmax = ((int64_t)src->height << WARP_SHIFT) - WARP_HALF;
    const int64_t uin = ((int64_t)src->width - 1) << WARP_SHIFT;
    const int64_t vin = ((int64_t)src->height - 1) << WARP_SHIFT;
    uint8_t *out = dst;

    for (uint32_t y = 0; y < dh; y++, out += (size_t)dw * ch) {
        double yc = y + 0.5;
        double xs = m[0] * 0.5 + m[1] * yc + m[2] - 0.5;
        double ys = m[3] * 0.5 + m[4] * yc + m[5] - 0.5;
        double xe = xs + m[0] * dw, ye = ys + m[3] * dw;
        int64_t u0, v0, du, dv, vs = 0, ve = dw, is, ie;

        if (!(fabs(xs) < WARP_SAFE_RANGE && fabs(ys) < WARP_SAFE_RANGE &&
              fabs(xe) < WARP_SAFE_RANGE && fabs(ye) < WARP_SAFE_RANGE)) {
            for (uint32_t x = 0; x < dw; x++) {
                int64_t u = warp_fixed(xs + m[0] * x), v = warp_fixed(ys + m[3] * x);
                uint8_t *o = out + (size_t)x * ch;

                if (u < umin || u >= umax || v < vmin || v >= vmax)
                    warp_put_fill(o, fill, ch);
                else if (bilinear)
                    warp_sample_bilinear(src, u, v, ch, o);
                else
                    warp_sample_nearest(src, u, v, ch, o);
            }
            continue;
        }
        u0 = warp_fixed(xs);
        v0 = warp_fixed(ys);
        du = warp_fixed(m[0]);
        dv = warp_fixed(m[3]);
        warp_span(u0, du, umin, umax, &vs, &ve);
        warp_span(v0, dv, vmin, vmax, &vs, &ve);
        is = vs;
        ie = ve;
        if (bilinear) {
            warp_span(u0, du, 0, uin, &is, &ie);
            warp_span(v0, dv, 0, vin, &is, &ie);
        } else {
            is = ie = ve;
        }
        for (int64_t x = 0; x < vs; x++)
            warp_put_fill(out + x * ch, fill, ch);
        for (int64_t x = vs; x < is; x++) {
            if (bilinear)
                warp_sample_bilinear(src, u0 + x * du, v0 + x * dv, ch, out + x * ch);
            else
                warp_sample_nearest(src, u0 + x * du, v0 + x * dv, ch, out + x * ch);
        }
        warp_bilinear_interior(src->pixels, src->stride, u0 + is * du, v0 + is * dv, du, dv,
                               ie - is, ch, simd, out + is * ch);
        for (int64_t x = ie; x < ve; x++)
            warp_sample_bilinear(src, u0 + x * du, v0 + x * dv, ch, out + x * ch);
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
