/*
 * finish.h: the end of the image pipeline. The warped 8-bit pixels go
 * through the photometric table, if any, and become normalised floats or
 * stay bytes, in the sample's layout.
 *
 * Pure: no I/O, no allocation.
 */
#ifndef MOGEN_FINISH_H
#define MOGEN_FINISH_H

#include <stddef.h>
#include <stdint.h>

/* How an 8-bit value x of channel c becomes a float. */
typedef struct finish_norm {
    int mean_std;  /* 1: (x / 255 - mean[c]) / std[c]; 0: x * scale + offset. */
    float mean[3];
    float std[3];
    float scale;
    float offset;
} finish_norm_t;

/* The float for value x of channel c, in float arithmetic, as every path computes it. */
float finish_value(const finish_norm_t *norm, uint32_t c, float x);

/*
 * For every pixel i < pixels and channel c < channels (1 or 3), takes
 * x = lut[src[i * channels + c]] (x = the byte itself when lut is NULL) and
 * writes finish_value(norm, c, x): at out[i * channels + c] when planar is
 * 0 (NHWC), at out[c * pixels + i] when it is 1 (NCHW). Uses AVX2 where the
 * CPU has it; every path gives the same bits.
 */
void finish_float(const finish_norm_t *norm, const uint8_t *lut, const uint8_t *src,
                  size_t pixels, uint32_t channels, int planar, float *out);

/* finish_float with the portable loop only: the reference tests compare with. */
void finish_float_reference(const finish_norm_t *norm, const uint8_t *lut, const uint8_t *src,
                            size_t pixels, uint32_t channels, int planar, float *out);

/*
 * The uint8 end, for NCHW or a photometric table (uint8 NHWC without one is
 * written by the warp directly): writes lut[src[i * channels + c]]
 * (src's byte itself when lut is NULL) in the layout, as finish_float. AVX2
 * deinterleaves 3-channel NCHW without a table 16 pixels at a time.
 */
void finish_u8(const uint8_t *lut, const uint8_t *src, size_t pixels, uint32_t channels,
               int planar, uint8_t *out);

/* finish_u8 with the portable loop only. */
void finish_u8_reference(const uint8_t *lut, const uint8_t *src, size_t pixels,
                         uint32_t channels, int planar, uint8_t *out);

#endif
