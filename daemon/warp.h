/*
 * warp.h: the one geometric pass of the image pipeline.
 *
 * EXIF orientation, the resize mode, and every geometric augmentation
 * (flip, rotate, translate, zoom, shear) are composed into a single 2x3
 * affine matrix, inverted, and applied once: each output pixel is mapped back
 * into the decoded image and sampled there. No intermediate image is ever
 * made, whatever the number of transforms.
 *
 * Coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1) and its
 * centre is (i + 0.5, j + 0.5). With this convention a plain resize maps
 * centres to centres, and a mirror maps pixel i to pixel W-1-i exactly.
 *
 * warp.c builds the matrix, warp_sample.c samples through it. Everything
 * here is pure: no I/O, no allocation.
 */
#ifndef MOGEN_WARP_H
#define MOGEN_WARP_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "config.h"

/* x' = m[0] x + m[1] y + m[2];  y' = m[3] x + m[4] y + m[5]. */
typedef struct warp_affine {
    double m[6];
} warp_affine_t;

/* The sizes a warp connects. */
typedef struct warp_geometry {
    uint32_t src_width;   /* Full stored size, before DCT scaling or EXIF. */
    uint32_t src_height;
    uint32_t dec_width;   /* Size actually decoded (after DCT scaling). */
    uint32_t dec_height;
    int orientation;      /* EXIF orientation 1..8 to undo. */
    uint32_t out_width;   /* Output size. */
    uint32_t out_height;
    resize_mode_t resize; /* How the upright image is fitted into the output. */
} warp_geometry_t;

/* The image the warp reads: 8-bit, interleaved channels. */
typedef struct warp_image {
    const uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    uint32_t channels; /* 1 or 3; 2 only for warp_planes_t's chroma. */
    size_t stride;     /* Bytes per row. */
} warp_image_t;

/*
 * A YCbCr image as a JPEG stores it: the Y plane at the decoded size, and Cb
 * and Cr at 1/chroma_x by 1/chroma_y of it (rounded up), chroma sample i
 * covering luma [chroma_x i, chroma_x (i + 1)). Cb and Cr come interleaved
 * in one 2-channel image (Cb Cr Cb Cr ...): one pair of loads then serves
 * both, where separate planes need a pair each.
 */
typedef struct warp_planes {
    warp_image_t luma;   /* Y: 1 channel. */
    warp_image_t chroma; /* Cb and Cr: 2 channels. */
    uint32_t chroma_x;   /* 1, 2 or 4. */
    uint32_t chroma_y;   /* 1 or 2. */
} warp_planes_t;

void warp_identity(warp_affine_t *a);

/* out = a after b (apply b first). out may alias a or b. */
void warp_multiply(warp_affine_t *out, const warp_affine_t *a, const warp_affine_t *b);

/* Inverts a. Returns 0, or -EDOM when a is singular (out untouched). */
int warp_invert(warp_affine_t *out, const warp_affine_t *a);

/*
 * The smallest decoded size, as a fraction of the full size, that still gives
 * the output full resolution: for stretch both axes must be covered, for crop
 * the short side (both axes again, with one scale), for fit only the long side
 * (the content box is smaller than the output in the other axis). Zoom above
 * 1 needs proportionally more source pixels. src_* are the stored size and
 * orientation says whether EXIF swaps them.
 */
double warp_required_scale(uint32_t src_width, uint32_t src_height, int orientation,
                           uint32_t out_width, uint32_t out_height, resize_mode_t resize,
                           const augment_params_t *aug);

/*
 * Builds the matrix that maps an output pixel position back into the decoded
 * image: the inverse of (augment o resize o orientation o DCT scale). aug may
 * be NULL. Returns 0, or -EDOM when the augmentation collapses the image
 * (e.g. zoom 0).
 */
int warp_build(const warp_geometry_t *g, const augment_params_t *aug, warp_affine_t *out_to_src);

/*
 * Fills dst, dst_width x dst_height pixels of src->channels bytes each, rows
 * tightly packed, by sampling src at out_to_src of each pixel centre.
 * Positions outside the source get fill (src->channels bytes). Bilinear and nearest use 32.32 fixed-point coordinates
 * stepped incrementally along each row and 11-bit weights; area averages the
 * source box that one output pixel covers (see warp.c).
 */
void warp_apply(const warp_image_t *src, const warp_affine_t *out_to_src, interpolation_t interp,
                const uint8_t *fill, uint8_t *dst, uint32_t dst_width, uint32_t dst_height);

/*
 * warp_apply with the portable scalar bilinear loop only. The daemon never
 * calls it: it is the reference that the SIMD loops (SSE2, and AVX2 where the
 * CPU has it, on x86) must match byte for byte, and tests/unit/test_warp.c
 * compares them. Where there is no SIMD loop, it is warp_apply.
 */
void warp_apply_reference(const warp_image_t *src, const warp_affine_t *out_to_src,
                          interpolation_t interp, const uint8_t *fill, uint8_t *dst,
                          uint32_t dst_width, uint32_t dst_height);

/*
 * warp_apply for a YCbCr source, out_to_src mapping into the Y plane: writes
 * RGB (3 bytes per pixel, JFIF conversion) after sampling each plane where
 * the matrix points, so only output pixels are ever converted. interp is
 * bilinear, which interpolates chroma as libjpeg's upsampling does, or
 * nearest, which takes the nearest chroma sample (libjpeg's "fast"
 * upsampling); area is taken as bilinear (use warp_apply on RGB for area).
 * A pixel is fill exactly when its Y position is outside the image.
 */
void warp_apply_ycbcr(const warp_planes_t *src, const warp_affine_t *out_to_src,
                      interpolation_t interp, const uint8_t *fill, uint8_t *dst,
                      uint32_t dst_width, uint32_t dst_height);

/* The SIMD loops warp_apply and warp_apply_ycbcr may use. */
typedef enum warp_simd {
    WARP_SIMD_SSE2 = 1, /* x86-64's baseline. */
    WARP_SIMD_AVX2 = 2, /* Chosen at run time when the CPU has it. */
    WARP_SIMD_BEST = WARP_SIMD_AVX2
} warp_simd_t;

/*
 * Caps the SIMD level of this process's warps (default WARP_SIMD_BEST), so
 * that tests can compare every loop with the reference on one machine. Every
 * level gives the same bytes.
 */
void warp_limit_simd(warp_simd_t level);

/* warp_apply_ycbcr with the scalar bilinear loop: its reference, as above. */
void warp_apply_ycbcr_reference(const warp_planes_t *src, const warp_affine_t *out_to_src,
                                interpolation_t interp, const uint8_t *fill, uint8_t *dst,
                                uint32_t dst_width, uint32_t dst_height);

#endif
