/*
 * decode.c: JPEG (TurboJPEG) and PNG (libspng) to 8-bit gray or RGB.
 *
 * The decoder owns one TurboJPEG handle and one pixel buffer, both reused
 * from image to image, so a worker's steady state allocates nothing here
 * beyond what libjpeg and libspng do internally for each image.
 */
#include "decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <spng.h>
#include <turbojpeg.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "alloc.h"
#include "report.h"
#include "exif.h"

/*
 * A pixel buffer that grew past this for one huge image is given back after
 * the next image that needs less than a quarter of it, so one 100-megapixel
 * outlier does not pin 400 MB in every worker for the rest of the run.
 */
#define DECODE_RETAIN_BYTES ((size_t)64 << 20)

/*
 * Ceiling on one PNG ancillary chunk (text, ICC profile, EXIF) and on all of
 * them cached together. Real ones are kilobytes; without a ceiling a crafted
 * file could make libspng allocate gigabytes before the first pixel.
 */
#define DECODE_PNG_CHUNK_LIMIT ((size_t)16 << 20)

/* libjpeg's text for a file that ends before its last scan (JWRN_JPEG_EOF). */
#define DECODE_JPEG_EOF_TEXT "Premature end of JPEG file"

/*
 * The starts of libjpeg's warning texts (the JWRN_ messages of jerror.h).
 * TurboJPEG keeps reporting TJERR_WARNING once a warning was emitted, even
 * when a fatal error follows in the same call ("Invalid component ID 119 in
 * SOS" after "extraneous bytes"): the decode then stopped halfway and the
 * buffer holds another image's rows. So a TJERR_WARNING counts as a warning
 * only when its text, the last message, is one of these.
 */
static const char *const decode_jpeg_warnings[] = {
    "Corrupt JPEG data:", /* extraneous bytes, premature end of segment, bad
                           * Huffman or arithmetic code, marker instead of
                           * RSTn, bad ICC marker */
    DECODE_JPEG_EOF_TEXT,
    "Warning: unknown JFIF revision number",
    "Inconsistent progression sequence for component",
    "Invalid SOS parameters for sequential JPEG",
    "Unknown Adobe color transform code",
    NULL,
};

static int decode_jpeg_is_warning(const char *why)
{
    for (size_t i = 0; decode_jpeg_warnings[i] != NULL; i++)
        if (strncmp(why, decode_jpeg_warnings[i], strlen(decode_jpeg_warnings[i])) == 0)
            return 1;
    return 0;
}

struct decoder {
    tjhandle tj;          /* TurboJPEG decompressor, reused. */
    int tj_failed;        /* 1 after a TurboJPEG call failed: renew tj first. */
    spng_ctx *png;        /* Open PNG context between open and decode, else NULL. */
    const uint8_t *bytes; /* The opened file's bytes (the caller's). */
    size_t len;
    decode_info_t info;   /* What decoder_open() found. */
    int jpeg_colorspace;  /* TJCS_* of the opened JPEG. */
    int jpeg_subsamp;     /* TJSAMP_* of the opened JPEG, -1 when unknown. */
    int jpeg_adobe;       /* 1 when the JPEG has an Adobe APP14 segment. */
    uint8_t *buf;         /* Reusable pixel buffer. */
    size_t cap;           /* Its size in bytes. */
    int has_warning;      /* 1 when warning[] holds the last image's warning. */
    char warning[200];
};

static const uint8_t decode_png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};


image_format_t decode_sniff(const uint8_t *bytes, size_t len)
{
    if (len >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
        return IMAGE_FORMAT_JPEG;
    if (len >= 8 && memcmp(bytes, decode_png_magic, 8) == 0)
        return IMAGE_FORMAT_PNG;
    return IMAGE_FORMAT_UNKNOWN;
}

const char *decode_format_name(image_format_t format)
{
    switch (format) {
    case IMAGE_FORMAT_JPEG:
        return "JPEG";
    case IMAGE_FORMAT_PNG:
        return "PNG";
    default:
        return "unknown";
    }
}

/*
 * Names the formats people most often feed a JPEG/PNG loader by mistake, so
 * that the error says "looks like GIF" rather than only hex. Returns NULL
 * when the bytes are not recognised.
 */
static const char *decode_guess_other(const uint8_t *b, size_t len)
{
    if (len >= 4 && memcmp(b, "GIF8", 4) == 0)
        return "GIF";
    if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "WebP";
    if (len >= 2 && b[0] == 'B' && b[1] == 'M')
        return "BMP";
    if (len >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0))
        return "TIFF";
    if (len >= 12 && memcmp(b + 4, "ftyp", 4) == 0)
        return "HEIF/AVIF/MP4";
    if (len >= 2 && b[0] == 0xFF && b[1] == 0xD8)
        return "a damaged JPEG";
    if (len >= 4 && memcmp(b, "\x89PNG", 4) == 0)
        return "a damaged PNG";
    if (len >= 5 && (memcmp(b, "<?xml", 5) == 0 || memcmp(b, "<svg", 4) == 0))
        return "SVG/XML";
    if (len >= 5 && (memcmp(b, "<!DOC", 5) == 0 || memcmp(b, "<html", 5) == 0))
        return "HTML (an error page saved as an image?)";
    return NULL;
}

/* The "not a JPEG or PNG file" message, with the first bytes in hex. */
static void decode_err_unknown(const uint8_t *bytes, size_t len, char *err, size_t errlen)
{
    char hex[3 * 4 + 1] = "";
    size_t n = len < 4 ? len : 4, at = 0;
    const char *guess;

    if (len == 0) {
        errbuf_printf(err, errlen, "empty file, not a JPEG or PNG image");
        return;
    }
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(hex + at, sizeof(hex) - at, i ? " %02x" : "%02x", bytes[i]);
    guess = decode_guess_other(bytes, len);
    if (guess != NULL)
        errbuf_printf(err, errlen, "not a JPEG or PNG file (starts with %s; looks like %s)", hex,
                   guess);
    else
        errbuf_printf(err, errlen, "not a JPEG or PNG file (starts with %s)", hex);
}

int decoder_create(decoder_t **out)
{
    decoder_t *d = mogen_calloc(1, sizeof(*d));

    d->tj = tjInitDecompress();
    if (d->tj == NULL) {
        mogen_free(d);
        return -ENOMEM;
    }
    *out = d;
    return 0;
}

/*
 * Replaces the TurboJPEG handle after a failed call. libjpeg-turbo 2.1's
 * tjDecompressHeader3() returns from an error without aborting the
 * decompressor, and the next header read on that handle then "succeeds" with
 * a 0x0 image: a good photo right after a corrupt one would fail. A fresh
 * handle costs microseconds, and only after a failure or a warning.
 */
static int decoder_renew_tj(decoder_t *d)
{
    tjhandle fresh = tjInitDecompress();

    if (fresh == NULL)
        return -ENOMEM;
    tjDestroy(d->tj);
    d->tj = fresh;
    d->tj_failed = 0;
    return 0;
}

static void decoder_close_png(decoder_t *d)
{
    if (d->png != NULL) {
        spng_ctx_free(d->png);
        d->png = NULL;
    }
}

void decoder_free(decoder_t *d)
{
    if (d == NULL)
        return;
    decoder_close_png(d);
    tjDestroy(d->tj);
    mogen_free(d->buf);
    mogen_free(d);
}

const char *decoder_warning(const decoder_t *d)
{
    return d->has_warning ? d->warning : NULL;
}

/*
 * Makes the pixel buffer at least need bytes. Contents are not kept: every
 * caller overwrites the whole buffer. See DECODE_RETAIN_BYTES for shrinking.
 */
static uint8_t *decoder_reserve(decoder_t *d, size_t need)
{
    if (need > d->cap || (d->cap > DECODE_RETAIN_BYTES && need < d->cap / 4)) {
        mogen_free(d->buf);
        d->buf = mogen_malloc(need);
        d->cap = need;
    }
    return d->buf;
}

/* The pixel-limit check shared by both formats; runs before any allocation. */
static int decode_check_pixels(uint32_t w, uint32_t h, uint64_t max_pixels, char *err,
                               size_t errlen)
{
    uint64_t pixels = (uint64_t)w * h;

    if (w == 0 || h == 0) {
        errbuf_printf(err, errlen, "corrupt image header: it gives a size of %ux%u", w, h);
        return -EINVAL;
    }
    if (w > DECODE_MAX_SIDE || h > DECODE_MAX_SIDE) {
        errbuf_printf(err, errlen, "image is %ux%u, a side over the %u-pixel maximum", w, h,
                   DECODE_MAX_SIDE);
        return -EFBIG;
    }
    if (pixels > max_pixels) {
        errbuf_printf(err, errlen,
                   "image is %ux%u (%llu pixels), over the image.max_pixels limit of %llu", w,
                   h, (unsigned long long)pixels, (unsigned long long)max_pixels);
        return -EFBIG;
    }
    return 0;
}

/*
 * Applies the accepted-warning policy described in decode.h after a
 * TurboJPEG call returned -1: returns 0 when the warning is accepted (and
 * recorded), or a negative errno with the reason in err. A fatal error
 * after a warning is fatal (see decode_jpeg_warnings). A file is taken as
 * truncated when libjpeg says so, or when it warned about anything and the
 * bytes do not end with the end-of-image marker (the first warning of a cut
 * file is sometimes "premature end of data segment" instead).
 */
static int decoder_jpeg_failure(decoder_t *d, char *err, size_t errlen)
{
    const char *why = tjGetErrorStr2(d->tj);
    int has_eoi = d->len >= 2 && d->bytes[d->len - 2] == 0xFF && d->bytes[d->len - 1] == 0xD9;

    if (tjGetErrorCode(d->tj) == TJERR_WARNING && decode_jpeg_is_warning(why)) {
        if (strstr(why, DECODE_JPEG_EOF_TEXT) != NULL) {
            errbuf_printf(err, errlen, "truncated JPEG data: %s", why);
            return -EINVAL;
        }
        if (!has_eoi) {
            errbuf_printf(err, errlen, "truncated JPEG data: %s (and no end-of-image marker)", why);
            return -EINVAL;
        }
        snprintf(d->warning, sizeof(d->warning), "JPEG warning: %s", why);
        d->has_warning = 1;
        return 0;
    }
    errbuf_printf(err, errlen, "corrupt JPEG data: %s", why);
    return -EINVAL;
}

/*
 * Reads the JPEG header. libjpeg may warn already here (stray bytes between
 * header segments); the same policy as for the pixels applies, see
 * decoder_jpeg_failure(). TurboJPEG can report success without a frame
 * header when the data ends first, hence the explicit size check.
 */
static int decoder_open_jpeg(decoder_t *d, uint64_t max_pixels, int honour_exif, char *err,
                             size_t errlen)
{
    int w = 0, h = 0, subsamp = -1, colorspace = -1, rc;
    const uint8_t *adobe;
    size_t adobe_len;

    if (d->len > (size_t)(unsigned long)-1) {
        errbuf_printf(err, errlen, "JPEG file too large for the decoder");
        return -EFBIG;
    }
    if (d->tj_failed && decoder_renew_tj(d) < 0) {
        errbuf_printf(err, errlen, "out of memory for a JPEG decoder");
        return -ENOMEM;
    }
    if (tjDecompressHeader3(d->tj, d->bytes, (unsigned long)d->len, &w, &h, &subsamp,
                            &colorspace) != 0) {
        d->tj_failed = 1;
        if (tjGetErrorCode(d->tj) != TJERR_WARNING || w <= 0 || h <= 0) {
            errbuf_printf(err, errlen, "corrupt JPEG data: %s", tjGetErrorStr2(d->tj));
            return -EINVAL;
        }
        rc = decoder_jpeg_failure(d, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (w <= 0 || h <= 0) {
        errbuf_printf(err, errlen, "corrupt JPEG data: the data ends before the frame header");
        return -EINVAL;
    }
    rc = decode_check_pixels((uint32_t)w, (uint32_t)h, max_pixels, err, errlen);
    if (rc < 0)
        return rc;
    d->info.width = (uint32_t)w;
    d->info.height = (uint32_t)h;
    d->jpeg_colorspace = colorspace;
    d->jpeg_subsamp = subsamp;
    d->jpeg_adobe = exif_jpeg_find_segment(d->bytes, d->len, 0xEE, "Adobe", 5, &adobe,
                                           &adobe_len) == 0;
    if (honour_exif)
        d->info.orientation = exif_jpeg_orientation(d->bytes, d->len);
    return 0;
}

static int decoder_open_png(decoder_t *d, uint64_t max_pixels, int honour_exif, char *err,
                            size_t errlen)
{
    struct spng_ihdr ihdr;
    uint32_t dim_limit = max_pixels < DECODE_MAX_SIDE ? (uint32_t)max_pixels : DECODE_MAX_SIDE;
    int rc;

    d->png = spng_ctx_new(0);
    if (d->png == NULL)
        return -ENOMEM;
    /* A side longer than max_pixels cannot pass the pixel check anyway. */
    if (dim_limit == 0)
        dim_limit = 1;
    spng_set_image_limits(d->png, dim_limit, dim_limit);
    spng_set_chunk_limits(d->png, DECODE_PNG_CHUNK_LIMIT, DECODE_PNG_CHUNK_LIMIT);
    rc = spng_set_png_buffer(d->png, d->bytes, d->len);
    if (rc == 0)
        rc = spng_get_ihdr(d->png, &ihdr);
    if (rc == SPNG_EWIDTH || rc == SPNG_EHEIGHT || rc == SPNG_EUSER_WIDTH ||
        rc == SPNG_EUSER_HEIGHT) {
        /* libspng refuses before filling ihdr; read the size from the bytes. */
        if (d->len >= 24) {
            const uint8_t *p = d->bytes + 16;
            uint32_t w = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | (p[2] << 8) | p[3];
            uint32_t h = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | (p[6] << 8) | p[7];
            int prc = decode_check_pixels(w, h, max_pixels, err, errlen);
            if (prc < 0)
                return prc;
        }
    }
    if (rc == SPNG_IO_EOF || rc == SPNG_EOF || rc == SPNG_EIO) {
        errbuf_printf(err, errlen, "truncated PNG data: the file ends inside its header");
        return -EINVAL;
    }
    if (rc != 0) {
        errbuf_printf(err, errlen, "corrupt PNG data: %s", spng_strerror(rc));
        return -EINVAL;
    }
    rc = decode_check_pixels(ihdr.width, ihdr.height, max_pixels, err, errlen);
    if (rc < 0)
        return rc;
    d->info.width = ihdr.width;
    d->info.height = ihdr.height;
    /* Read every chunk before the pixels now (asking for tRNS does), so
     * that a damaged one is named here, e.g. "invalid chunk checksum":
     * after a first error libspng answers every call with "non-recoverable
     * state", which says nothing. */
    {
        struct spng_trns trns;
        rc = spng_get_trns(d->png, &trns);
        if (rc == SPNG_IO_EOF || rc == SPNG_EOF || rc == SPNG_EIO) {
            errbuf_printf(err, errlen, "truncated PNG data: the file ends before the image does");
            return -EINVAL;
        }
        if (rc != 0 && rc != SPNG_ECHUNKAVAIL) {
            errbuf_printf(err, errlen, "corrupt PNG data: %s", spng_strerror(rc));
            return -EINVAL;
        }
    }
    if (honour_exif) {
        struct spng_exif exif;

        if (spng_get_exif(d->png, &exif) == 0)
            d->info.orientation = exif_tiff_orientation((const uint8_t *)exif.data, exif.length);
    }
    return 0;
}

int decoder_open(decoder_t *d, const uint8_t *bytes, size_t len, uint64_t max_pixels,
                 int honour_exif, decode_info_t *info, char *err, size_t errlen)
{
    int rc;

    decoder_close_png(d);
    d->has_warning = 0;
    d->bytes = bytes;
    d->len = len;
    memset(&d->info, 0, sizeof(d->info));
    d->info.orientation = EXIF_ORIENT_NORMAL;
    d->info.format = decode_sniff(bytes, len);
    switch (d->info.format) {
    case IMAGE_FORMAT_JPEG:
        rc = decoder_open_jpeg(d, max_pixels, honour_exif, err, errlen);
        break;
    case IMAGE_FORMAT_PNG:
        rc = decoder_open_png(d, max_pixels, honour_exif, err, errlen);
        break;
    default:
        decode_err_unknown(bytes, len, err, errlen);
        rc = -EINVAL;
        break;
    }
    if (rc < 0) {
        decoder_close_png(d);
        d->info.format = IMAGE_FORMAT_UNKNOWN;
        return rc;
    }
    *info = d->info;
    return 0;
}

uint32_t decoder_pick_scale(const decoder_t *d, double min_scale)
{
    static const uint32_t denoms[] = {8, 4, 2};
    /* Tolerance so that an exact half (224 of 448) still counts as covered. */
    double need_w = (double)d->info.width * min_scale - 1e-6;
    double need_h = (double)d->info.height * min_scale - 1e-6;

    if (d->info.format != IMAGE_FORMAT_JPEG)
        return 1;
    for (size_t i = 0; i < sizeof(denoms) / sizeof(denoms[0]); i++) {
        tjscalingfactor sf = {1, (int)denoms[i]};

        if ((double)TJSCALED((int)d->info.width, sf) >= need_w &&
            (double)TJSCALED((int)d->info.height, sf) >= need_h)
            return denoms[i];
    }
    return 1;
}

/* (a * b + 127) / 255 for a, b in 0..255, rounded to nearest. */
static inline uint8_t decode_mul255(uint32_t a, uint32_t b)
{
    uint32_t t = a * b + 128;
    return (uint8_t)((t + (t >> 8)) >> 8);
}

/* ITU-R 601 luma with PIL's fixed-point weights, so gray output matches PIL. */
static inline uint8_t decode_luma(uint32_t r, uint32_t g, uint32_t b)
{
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/*
 * CMYK to RGB in place, 4 samples per pixel in, `channels` out. Adobe
 * software (and ImageMagick, and libjpeg when it writes an Adobe marker)
 * stores CMYK inverted (0 = full ink); the common convention, which PIL and
 * browsers follow, is that a file with an Adobe APP14 segment is inverted.
 * The conversion is the naive one without colour management:
 * R = (1 - C)(1 - K).
 */
static void decode_cmyk_to_rgb(uint8_t *px, size_t pixels, uint32_t channels, int inverted)
{
    const uint8_t *in = px;
    uint8_t *out = px;

    for (size_t i = 0; i < pixels; i++, in += 4) {
        uint32_t c = in[0], m = in[1], y = in[2], k = in[3];
        uint8_t r, g, b;

        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        /* Now c..k are "amount of paper showing" (inverted ink). */
        r = decode_mul255(c, k);
        g = decode_mul255(m, k);
        b = decode_mul255(y, k);
        if (channels == 1) {
            *out++ = decode_luma(r, g, b);
        } else {
            out[0] = r;
            out[1] = g;
            out[2] = b;
            out += 3;
        }
    }
}

static int decoder_decode_jpeg(decoder_t *d, uint32_t denom, uint32_t channels,
                               decoded_image_t *img, char *err, size_t errlen)
{
    tjscalingfactor sf = {1, (int)denom};
    int w = TJSCALED((int)d->info.width, sf), h = TJSCALED((int)d->info.height, sf);
    int cmyk = d->jpeg_colorspace == TJCS_CMYK || d->jpeg_colorspace == TJCS_YCCK;
    int pf = cmyk ? TJPF_CMYK : (channels == 1 ? TJPF_GRAY : TJPF_RGB);
    size_t bpp = (size_t)tjPixelSize[pf];
    uint8_t *px = decoder_reserve(d, (size_t)w * (size_t)h * bpp);
    int rc;

    /*
     * TJFLAG_LIMITSCANS stops progressive files with thousands of scans,
     * which otherwise take minutes of CPU for a few kilobytes of input.
     */
    if (tjDecompress2(d->tj, d->bytes, (unsigned long)d->len, px, w, 0, h, pf,
                      TJFLAG_LIMITSCANS) != 0) {
        d->tj_failed = 1;
        rc = decoder_jpeg_failure(d, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (cmyk)
        decode_cmyk_to_rgb(px, (size_t)w * (size_t)h, channels, d->jpeg_adobe);
    img->pixels = px;
    img->width = (uint32_t)w;
    img->height = (uint32_t)h;
    img->channels = channels;
    img->stride = (size_t)w * channels;
    return 0;
}

int decoder_has_planes(const decoder_t *d)
{
    if (d->info.format != IMAGE_FORMAT_JPEG || d->jpeg_colorspace != TJCS_YCbCr)
        return 0;
    switch (d->jpeg_subsamp) {
    case TJSAMP_444:
    case TJSAMP_440:
        return 1;
    case TJSAMP_422:
    case TJSAMP_420:
        /* libjpeg's triangle filter needs more than 2 chroma columns; it repeats samples below. */
        return d->info.width > 4;
    default:
        return 0;
    }
}

/* Cb and Cr planes of `samples` bytes each, rows tight, into (Cb, Cr) pairs. */
static void decode_interleave_chroma(const uint8_t *cb, const uint8_t *cr, size_t samples,
                                     uint8_t *out)
{
    size_t i = 0;

#if defined(__SSE2__)
    for (; i + 16 <= samples; i += 16, out += 32) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(cb + i));
        __m128i r = _mm_loadu_si128((const __m128i *)(const void *)(cr + i));

        _mm_storeu_si128((__m128i *)(void *)out, _mm_unpacklo_epi8(b, r));
        _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_unpackhi_epi8(b, r));
    }
#endif
    for (; i < samples; i++, out += 2) {
        out[0] = cb[i];
        out[1] = cr[i];
    }
}

/*
 * The planes as TurboJPEG lays them out, each tjPlaneWidth() x
 * tjPlaneHeight() (the luma plane padded to a whole number of chroma
 * samples), in the reusable buffer: Y, then room for Cb and Cr interleaved,
 * then Cb and Cr as decoded, which the interleave reads once. The luma
 * plane's width and height are the image's: its padding column (in the
 * stride) and row (in the buffer) are never read. Bytes per pixel: 2 for
 * 4:2:0, 3 for 4:2:2 and 4:4:0, 5 for 4:4:4 (the RGB route needs 3).
 */
int decoder_decode_planes(decoder_t *d, uint32_t denom, decoded_planes_t *planes, char *err,
                          size_t errlen)
{
    tjscalingfactor sf = {1, (int)denom};
    int w = TJSCALED((int)d->info.width, sf), h = TJSCALED((int)d->info.height, sf);
    int strides[3], pw[3], ph[3];
    unsigned char *dst[3];
    size_t luma_bytes, chroma_samples;
    uint8_t *px;
    int rc;

    if (!decoder_has_planes(d) || (denom != 1 && denom != 2 && denom != 4 && denom != 8)) {
        errbuf_printf(err, errlen, "no YCbCr JPEG opened");
        return -EINVAL;
    }
    for (int i = 0; i < 3; i++) {
        pw[i] = tjPlaneWidth(i, w, d->jpeg_subsamp);
        ph[i] = tjPlaneHeight(i, h, d->jpeg_subsamp);
        if (pw[i] <= 0 || ph[i] <= 0) {
            errbuf_printf(err, errlen, "corrupt JPEG data: no plane size for %dx%d", w, h);
            return -EINVAL;
        }
        strides[i] = pw[i];
    }
    /* Y (padded to whole MCUs), then the interleaved chroma, then Cb and Cr as decoded. */
    luma_bytes = (size_t)pw[0] * (size_t)ph[0];
    chroma_samples = (size_t)pw[1] * (size_t)ph[1];
    px = decoder_reserve(d, luma_bytes + 4 * chroma_samples);
    dst[0] = px;
    dst[1] = px + luma_bytes + 2 * chroma_samples;
    dst[2] = dst[1] + chroma_samples;
    if (tjDecompressToYUVPlanes(d->tj, d->bytes, (unsigned long)d->len, dst, w, strides, h,
                                TJFLAG_LIMITSCANS) != 0) {
        d->tj_failed = 1;
        rc = decoder_jpeg_failure(d, err, errlen);
        if (rc < 0)
            return rc;
    }
    decode_interleave_chroma(dst[1], dst[2], chroma_samples, px + luma_bytes);
    planes->luma = dst[0];
    planes->width = (uint32_t)w;
    planes->height = (uint32_t)h;
    planes->luma_stride = (size_t)pw[0];
    planes->chroma = px + luma_bytes;
    planes->chroma_width = (uint32_t)pw[1];
    planes->chroma_height = (uint32_t)ph[1];
    planes->chroma_stride = 2 * (size_t)pw[1];
    planes->chroma_x = (uint32_t)(tjMCUWidth[d->jpeg_subsamp] / 8);
    planes->chroma_y = (uint32_t)(tjMCUHeight[d->jpeg_subsamp] / 8);
    return 0;
}

/*
 * Composites RGBA8 on background in place, writing `channels` samples per
 * pixel: out = (c * a + bg * (255 - a)) / 255, rounded.
 */
static void decode_composite(uint8_t *px, size_t pixels, uint32_t channels, const uint8_t bg[3])
{
    const uint8_t *in = px;
    uint8_t *out = px;

    for (size_t i = 0; i < pixels; i++, in += 4) {
        uint32_t a = in[3], na = 255 - a;
        uint8_t r = (uint8_t)((in[0] * a + bg[0] * na + 127) / 255);
        uint8_t g = (uint8_t)((in[1] * a + bg[1] * na + 127) / 255);
        uint8_t b = (uint8_t)((in[2] * a + bg[2] * na + 127) / 255);

        if (channels == 1) {
            *out++ = decode_luma(r, g, b);
        } else {
            out[0] = r;
            out[1] = g;
            out[2] = b;
            out += 3;
        }
    }
}

/* RGB8 to luma in place. */
static void decode_rgb_to_gray(uint8_t *px, size_t pixels)
{
    for (size_t i = 0; i < pixels; i++)
        px[i] = decode_luma(px[3 * i], px[3 * i + 1], px[3 * i + 2]);
}

/*
 * Picks libspng's output format: gray <= 8 bit without transparency straight
 * to G8 when gray is wanted; anything with alpha or tRNS to RGBA8 (then
 * composited); everything else to RGB8 (libspng expands palettes, scales
 * 1/2/4-bit gray up and keeps the high byte of 16-bit samples).
 */
static int decoder_decode_png(decoder_t *d, uint32_t channels, const uint8_t bg[3],
                              decoded_image_t *img, char *err, size_t errlen)
{
    struct spng_ihdr ihdr;
    struct spng_trns trns;
    size_t size, pixels = (size_t)d->info.width * d->info.height;
    int fmt, has_alpha, rc;
    uint8_t *px;

    rc = spng_get_ihdr(d->png, &ihdr);
    if (rc != 0)
        goto fail;
    has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ||
                spng_get_trns(d->png, &trns) == 0;
    if (has_alpha)
        fmt = SPNG_FMT_RGBA8;
    else if (channels == 1 && ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE && ihdr.bit_depth <= 8)
        fmt = SPNG_FMT_G8;
    else
        fmt = SPNG_FMT_RGB8;
    rc = spng_decoded_image_size(d->png, fmt, &size);
    if (rc != 0)
        goto fail;
    px = decoder_reserve(d, size);
    rc = spng_decode_image(d->png, px, size, fmt, SPNG_DECODE_TRNS);
    if (rc != 0)
        goto fail;
    if (fmt == SPNG_FMT_RGBA8)
        decode_composite(px, pixels, channels, bg);
    else if (fmt == SPNG_FMT_RGB8 && channels == 1)
        decode_rgb_to_gray(px, pixels);
    decoder_close_png(d);
    img->pixels = px;
    img->width = d->info.width;
    img->height = d->info.height;
    img->channels = channels;
    img->stride = (size_t)d->info.width * channels;
    return 0;

fail:
    decoder_close_png(d);
    if (rc == SPNG_IO_EOF || rc == SPNG_EOF || rc == SPNG_EIO)
        errbuf_printf(err, errlen, "truncated PNG data: the file ends before the image does");
    else
        errbuf_printf(err, errlen, "corrupt PNG data: %s", spng_strerror(rc));
    return -EINVAL;
}

int decoder_decode(decoder_t *d, uint32_t scale_denom, uint32_t channels,
                   const uint8_t background[3], decoded_image_t *img, char *err, size_t errlen)
{
    if (channels != 1 && channels != 3)
        return -EINVAL;
    switch (d->info.format) {
    case IMAGE_FORMAT_JPEG:
        if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8)
            scale_denom = 1;
        return decoder_decode_jpeg(d, scale_denom, channels, img, err, errlen);
    case IMAGE_FORMAT_PNG:
        return decoder_decode_png(d, channels, background, img, err, errlen);
    default:
        errbuf_printf(err, errlen, "no image opened");
        return -EINVAL;
    }
}
