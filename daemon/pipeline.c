/*
 * pipeline.c: file bytes -> one normalised sample, gluing decode and warp.
 *
 * Per image: read the header (format, size, EXIF) and check the limits; pick
 * the DCT scale from the output size and the zoom; decode into the decoder's
 * reusable buffer (a colour JPEG as its YCbCr planes, converted to RGB only
 * at the output pixels); build the one affine matrix and warp straight into the
 * caller's buffer (uint8 NHWC without photometric changes) or into an
 * output-sized scratch buffer that a last pass turns into the configured
 * dtype and layout. Nothing is allocated per image once the buffers have
 * grown to the largest image seen.
 */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "report.h"
#include "decode.h"
#include "finish.h"
#include "warp.h"

/* As DECODE_RETAIN_BYTES: the file buffer shrinks back after an outlier. */
#define PIPELINE_RETAIN_BYTES ((size_t)64 << 20)

struct pipeline {
    image_config_t img;  /* Copy of the configuration. */
    uint32_t channels;   /* 1 or 3, from img.color. */
    decoder_t *dec;      /* Decoder with its reusable pixel buffer. */
    uint8_t *file_buf;   /* Reusable buffer for pipeline_run_file(). */
    size_t file_cap;
    uint8_t *scratch;    /* Output-sized uint8 HWC image, W*H*channels. */
    uint32_t last_denom; /* DCT scale of the last run. */
};


size_t pipeline_sample_bytes(const image_config_t *img)
{
    size_t c = img->color == COLOR_GRAYSCALE ? 1 : 3;
    size_t d = img->dtype == DTYPE_FLOAT32 ? sizeof(float) : 1;

    return (size_t)img->width * img->height * c * d;
}

int pipeline_create(pipeline_t **out, const image_config_t *img)
{
    pipeline_t *p;
    int rc;

    if (img->width == 0 || img->height == 0 || img->width > 65536 || img->height > 65536 ||
        (unsigned)img->resize >= RESIZE_MAX || (unsigned)img->interpolation >= INTERP_MAX ||
        (unsigned)img->color >= COLOR_MAX || (unsigned)img->dtype >= DTYPE_MAX ||
        (unsigned)img->layout >= LAYOUT_MAX)
        return -EINVAL;
    if (img->dtype == DTYPE_FLOAT32 && img->has_mean_std)
        for (int c = 0; c < 3; c++)
            if (!(img->std[c] != 0) || !isfinite(img->std[c]))
                return -EINVAL;
    p = mogen_calloc(1, sizeof(*p));
    p->img = *img;
    p->channels = img->color == COLOR_GRAYSCALE ? 1 : 3;
    rc = decoder_create(&p->dec);
    if (rc < 0) {
        mogen_free(p);
        return rc;
    }
    p->scratch = mogen_malloc((size_t)img->width * img->height * p->channels);
    p->last_denom = 1;
    *out = p;
    return 0;
}

void pipeline_free(pipeline_t *p)
{
    if (p == NULL)
        return;
    decoder_free(p->dec);
    mogen_free(p->file_buf);
    mogen_free(p->scratch);
    mogen_free(p);
}

const char *pipeline_last_warning(const pipeline_t *p)
{
    return decoder_warning(p->dec);
}

uint32_t pipeline_last_scale_denom(const pipeline_t *p)
{
    return p->last_denom;
}

/* 1 when aug changes pixel values (brightness or contrast), else 0. */
static int pipeline_photometric(const augment_params_t *aug)
{
    return aug != NULL && (aug->brightness != 0 || aug->contrast != 1);
}

/*
 * The last pass: photometric augmentation as a 256-entry table (contrast
 * about mid-grey 127.5, then brightness as a fraction of 255, clamped), then
 * the dtype and the layout (finish.h).
 */
static void pipeline_finish(const pipeline_t *p, const augment_params_t *aug, void *out)
{
    const image_config_t *img = &p->img;
    const uint32_t ch = p->channels;
    const size_t n = (size_t)img->width * img->height;
    const uint8_t *src = p->scratch;
    const int photometric = pipeline_photometric(aug);
    uint8_t lut[256];
    finish_norm_t norm;

    for (int v = 0; v < 256; v++) {
        double x = v;

        if (photometric)
            x = (v - 127.5) * aug->contrast + 127.5 + aug->brightness * 255.0;
        x = x < 0 ? 0 : x > 255 ? 255 : x;
        lut[v] = (uint8_t)lround(x);
    }
    if (img->dtype == DTYPE_UINT8) {
        finish_u8(photometric ? lut : NULL, src, n, ch, img->layout == LAYOUT_NCHW, out);
        return;
    }
    norm.mean_std = img->has_mean_std;
    memcpy(norm.mean, img->mean, sizeof(norm.mean));
    memcpy(norm.std, img->std, sizeof(norm.std));
    norm.scale = img->scale;
    norm.offset = img->offset;
    finish_float(&norm, photometric ? lut : NULL, src, n, ch, img->layout == LAYOUT_NCHW, out);
}

/*
 * 1 when the opened image is warped from its YCbCr planes rather than from
 * libjpeg's RGB (see warp_apply_ycbcr): image.jpeg_planes on, RGB output,
 * bilinear interpolation, a colour JPEG whose chroma libjpeg would
 * interpolate bilinearly, and a full-size decode. Nearest would take chroma
 * from the nearest chroma sample, where libjpeg interpolates it; a reduced
 * decode stays on libjpeg's RGB because there libjpeg rebuilds chroma at the
 * reduced luma's resolution by its IDCT, where the planes hold it at half.
 */
static int pipeline_use_planes(const pipeline_t *p, uint32_t scale_denom)
{
    return p->img.jpeg_planes && p->channels == 3 && p->img.interpolation == INTERP_BILINEAR &&
           scale_denom == 1 && decoder_has_planes(p->dec);
}

/*
 * Picks the DCT scale, decodes the opened image, and sets the matrix from
 * the output to the decoded image. The pixels go to *planes and *use_planes
 * is set when pipeline_use_planes() says so, else to *src.
 */
static int pipeline_decode(pipeline_t *p, const decode_info_t *info, const augment_params_t *aug,
                           warp_image_t *src, warp_planes_t *planes, int *use_planes,
                           warp_affine_t *m, char *err, size_t errlen)
{
    const image_config_t *img = &p->img;
    double min_scale;
    warp_geometry_t geo = {
        .src_width = info->width,
        .src_height = info->height,
        .orientation = info->orientation,
        .out_width = img->width,
        .out_height = img->height,
        .resize = img->resize,
    };
    int rc;

    min_scale = warp_required_scale(info->width, info->height, info->orientation, img->width,
                                    img->height, img->resize, aug);
    p->last_denom = decoder_pick_scale(p->dec, min_scale);
    *use_planes = pipeline_use_planes(p, p->last_denom);
    if (*use_planes) {
        decoded_planes_t dp;

        rc = decoder_decode_planes(p->dec, p->last_denom, &dp, err, errlen);
        if (rc < 0)
            return rc;
        planes->luma = (warp_image_t){dp.luma, dp.width, dp.height, 1, dp.luma_stride};
        planes->chroma = (warp_image_t){dp.chroma, dp.chroma_width, dp.chroma_height, 2,
                                        dp.chroma_stride};
        planes->chroma_x = dp.chroma_x;
        planes->chroma_y = dp.chroma_y;
        geo.dec_width = dp.width;
        geo.dec_height = dp.height;
    } else {
        decoded_image_t dimg;

        rc = decoder_decode(p->dec, p->last_denom, p->channels, img->background, &dimg, err,
                            errlen);
        if (rc < 0)
            return rc;
        *src = (warp_image_t){dimg.pixels, dimg.width, dimg.height, dimg.channels, dimg.stride};
        geo.dec_width = dimg.width;
        geo.dec_height = dimg.height;
    }
    rc = warp_build(&geo, aug, m);
    if (rc < 0) {
        errbuf_printf(err, errlen, "augmentation parameters collapse the image (zoom %g)",
                      aug != NULL ? aug->zoom : 1.0);
        return rc;
    }
    return 0;
}

int pipeline_run(pipeline_t *p, const uint8_t *bytes, size_t len, const augment_params_t *aug,
                 void *out, char *err, size_t errlen)
{
    const image_config_t *img = &p->img;
    decode_info_t info;
    warp_affine_t m;
    warp_image_t src;
    warp_planes_t planes;
    uint8_t fill[3];
    uint8_t *dst;
    int use_planes, direct, rc;

    rc = decoder_open(p->dec, bytes, len, img->max_pixels, img->exif_orientation, &info, err,
                      errlen);
    if (rc < 0)
        return rc;
    rc = pipeline_decode(p, &info, aug, &src, &planes, &use_planes, &m, err, errlen);
    if (rc < 0)
        return rc;
    if (p->channels == 3)
        memcpy(fill, img->fill, 3);
    else
        fill[0] = (uint8_t)((img->fill[0] * 19595u + img->fill[1] * 38470u +
                             img->fill[2] * 7471u + 0x8000u) >> 16);
    /* uint8 NHWC (or one channel) with no photometric change: no last pass. */
    direct = img->dtype == DTYPE_UINT8 && (img->layout == LAYOUT_NHWC || p->channels == 1) &&
             !pipeline_photometric(aug);
    dst = direct ? out : p->scratch;
    if (use_planes)
        warp_apply_ycbcr(&planes, &m, img->interpolation, fill, dst, img->width, img->height);
    else
        warp_apply(&src, &m, img->interpolation, fill, dst, img->width, img->height);
    if (!direct)
        pipeline_finish(p, aug, out);
    return 0;
}

/*
 * Reads all of fd (size bytes expected) into the reusable file buffer.
 * Returns the byte count read or a negative errno.
 */
static ssize_t pipeline_read_all(pipeline_t *p, int fd, size_t size)
{
    size_t got = 0;

    if (size > p->file_cap || (p->file_cap > PIPELINE_RETAIN_BYTES && size < p->file_cap / 4)) {
        mogen_free(p->file_buf);
        p->file_buf = mogen_malloc(size);
        p->file_cap = size;
    }
    while (got < size) {
        ssize_t n = read(fd, p->file_buf + got, size - got);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) /* The file shrank since fstat(); use what is there. */
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int pipeline_open_file(const pipeline_t *p, const char *path)
{
    /*
     * O_NONBLOCK: a path that became a FIFO since the load would block
     * open() until a writer came, and the worker with it; pipeline_run_fd()
     * then refuses it; a regular file gets its blocking reads back.
     */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return -errno;
    /* Only advice: a file system that cannot read ahead is read as before.
     * Bounded, since the kernel would read a whole huge file that
     * pipeline_run_fd() then refuses for its size. */
    (void)posix_fadvise(fd, 0, (off_t)p->img.max_file_bytes, POSIX_FADV_WILLNEED);
    return fd;
}

int pipeline_run_fd(pipeline_t *p, int fd, const augment_params_t *aug, void *out, char *err,
                    size_t errlen)
{
    struct stat st;
    ssize_t got;
    int rc;

    if (fd < 0) {
        errbuf_printf(err, errlen, "%s", strerror(-fd));
        return fd;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        errbuf_printf(err, errlen, "%s", strerror(-rc));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_printf(err, errlen, "not a regular file");
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    /* Linux ignores O_NONBLOCK on regular files; a FUSE file system might not. */
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        rc = -errno;
        errbuf_printf(err, errlen, "%s", strerror(-rc));
        close(fd);
        return rc;
    }
    /* The size limit is checked from fstat, before a byte is read. */
    if ((uint64_t)st.st_size > p->img.max_file_bytes) {
        errbuf_printf(err, errlen, "file is %llu bytes, over image.max_file_bytes (%llu)",
                     (unsigned long long)st.st_size, (unsigned long long)p->img.max_file_bytes);
        close(fd);
        return -EFBIG;
    }
    got = pipeline_read_all(p, fd, (size_t)st.st_size);
    close(fd);
    if (got < 0) {
        errbuf_printf(err, errlen, "read failed: %s", strerror((int)-got));
        return (int)got;
    }
    return pipeline_run(p, p->file_buf, (size_t)got, aug, out, err, errlen);
}

int pipeline_run_file(pipeline_t *p, const char *path, const augment_params_t *aug, void *out,
                      char *err, size_t errlen)
{
    return pipeline_run_fd(p, pipeline_open_file(p, path), aug, out, err, errlen);
}
