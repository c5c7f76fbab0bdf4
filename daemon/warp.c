/*
 * warp.c: build the output-to-source affine matrix.
 *
 * The matrix is built forwards (decoded pixels -> upright full-size image ->
 * output canvas -> augmented output) because each step is easy to state in
 * that direction, then inverted once per image. warp_sample.c walks the
 * output through it.
 */
#include "warp.h"

#include <errno.h>
#include <math.h>

#include "exif.h"

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
