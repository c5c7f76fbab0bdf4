/*
 * decode.h: image file bytes -> 8-bit pixels, RGB or grayscale.
 *
 * The format comes from the bytes (magic numbers), never from a file name.
 * JPEG goes through libjpeg-turbo's TurboJPEG API and PNG through libspng.
 * Every colour type ends as 8-bit samples with 1 (gray) or 3 (RGB) channels:
 * CMYK/YCCK JPEGs are converted to RGB, PNG palettes are expanded, 16-bit
 * samples keep their high byte, and alpha (including tRNS) is composited on a
 * background colour.
 *
 * Decoding is two steps so that the caller can choose a DCT scale from the
 * header before any pixel buffer is allocated: decoder_open() reads the
 * header and checks the pixel limit, decoder_decode() produces the pixels
 * into the decoder's reusable buffer.
 *
 * Warning policy (libjpeg's non-fatal warnings). A JPEG that ends early
 * ("Premature end of JPEG file", or any warning in a file without its
 * end-of-image marker) is an error: the missing part would reach training
 * as flat grey, which is garbage with a valid shape. Every other
 * libjpeg warning (extraneous bytes before a marker, a bad Huffman code in a
 * photo from a buggy camera, ...) is accepted, as PIL and browsers accept
 * it, and reported: decoder_warning() returns its text until the next
 * decoder_open(). A fatal libjpeg error after a warning is an error.
 */
#ifndef MOGEN_DECODE_H
#define MOGEN_DECODE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The longest side decoded, in pixels (2^28). The warp steps source
 * positions in 32.32 fixed point and relies on it; no real image comes near.
 */
#define DECODE_MAX_SIDE (1u << 28)

typedef enum image_format {
    IMAGE_FORMAT_UNKNOWN, /* Neither JPEG nor PNG. */
    IMAGE_FORMAT_JPEG,    /* Starts FF D8 FF. */
    IMAGE_FORMAT_PNG,     /* Starts with the 8-byte PNG signature. */
    IMAGE_FORMAT_MAX
} image_format_t;

/* What decoder_open() learnt from the header. */
typedef struct decode_info {
    image_format_t format;
    uint32_t width;  /* Stored width, before EXIF orientation. */
    uint32_t height; /* Stored height, before EXIF orientation. */
    int orientation; /* EXIF orientation 1..8; 1 when absent or ignored. */
} decode_info_t;

/* Decoded pixels; they live in the decoder until its next open or free. */
typedef struct decoded_image {
    const uint8_t *pixels;
    uint32_t width;    /* After DCT scaling. */
    uint32_t height;   /* After DCT scaling. */
    uint32_t channels; /* 1 or 3. */
    size_t stride;     /* Bytes from one row to the next. */
} decoded_image_t;

/*
 * A YCbCr JPEG as stored: the Y (luma) plane at the decoded size and the Cb
 * and Cr samples at 1/chroma_x by 1/chroma_y of it, before libjpeg's chroma
 * upsampling and colour conversion. Chroma samples are centred on the luma
 * samples they cover (JFIF siting): chroma sample i spans luma
 * [chroma_x * i, chroma_x * (i + 1)). Cb and Cr are interleaved (Cb Cr Cb
 * Cr ...), the layout the warp reads fastest (warp_planes_t).
 */
typedef struct decoded_planes {
    const uint8_t *luma;   /* width x height bytes, rows luma_stride apart. */
    uint32_t width;
    uint32_t height;
    size_t luma_stride;
    const uint8_t *chroma; /* chroma_width x chroma_height (Cb, Cr) byte pairs. */
    uint32_t chroma_width;
    uint32_t chroma_height;
    size_t chroma_stride;  /* Bytes, at least 2 * chroma_width. */
    uint32_t chroma_x;     /* Horizontal subsampling of Cb and Cr: 1, 2 or 4. */
    uint32_t chroma_y;     /* Vertical: 1 or 2. */
} decoded_planes_t;

typedef struct decoder decoder_t;

/* Detects the format from the first bytes. */
image_format_t decode_sniff(const uint8_t *bytes, size_t len);

/* "JPEG", "PNG" or "unknown". */
const char *decode_format_name(image_format_t format);

/* Creates a decoder with its TurboJPEG handle. Returns 0 or -ENOMEM. */
int decoder_create(decoder_t **out);
void decoder_free(decoder_t *d);

/*
 * Reads the header of the image in bytes[0..len), which must stay valid until
 * decoder_decode() returns. Fails when the format is unknown, the header is
 * corrupt, or width*height is over max_pixels; reads the EXIF orientation
 * when honour_exif is set. Returns 0 or a negative errno with a reason in err.
 */
int decoder_open(decoder_t *d, const uint8_t *bytes, size_t len, uint64_t max_pixels,
                 int honour_exif, decode_info_t *info, char *err, size_t errlen);

/*
 * The DCT scale denominator (1, 2, 4 or 8) for the opened image: the largest
 * reduction whose output still has at least min_scale times the full size in
 * both axes. PNG has no DCT and always gets 1.
 */
uint32_t decoder_pick_scale(const decoder_t *d, double min_scale);

/*
 * Decodes the opened image at 1/scale_denom size into channels (1 or 3)
 * 8-bit samples, alpha composited on background[3]. The pixels stay valid
 * until the next decoder_open() or decoder_free(). Returns 0 or a negative
 * errno with a reason in err.
 */
int decoder_decode(decoder_t *d, uint32_t scale_denom, uint32_t channels,
                   const uint8_t background[3], decoded_image_t *img, char *err, size_t errlen);

/*
 * 1 when the opened image is a YCbCr JPEG whose planes decoder_decode_planes()
 * gives and whose chroma libjpeg would upsample with its triangle filter
 * (bilinear): three components in 4:4:4, 4:2:2, 4:2:0 or 4:4:0. Not 4:1:1,
 * nor 4:2:2 and 4:2:0 images at most 4 pixels wide, which libjpeg upsamples
 * by repeating samples.
 */
int decoder_has_planes(const decoder_t *d);

/*
 * Decodes the opened image (decoder_has_planes() true) at 1/scale_denom size
 * into its Y plane and interleaved Cb and Cr, skipping libjpeg's upsampling
 * and colour conversion: the caller converts only the pixels it keeps. The planes stay valid until the next
 * decoder_open() or decoder_free(). Returns 0 or a negative errno with a
 * reason in err.
 */
int decoder_decode_planes(decoder_t *d, uint32_t scale_denom, decoded_planes_t *planes,
                          char *err, size_t errlen);

/* The warning accepted while decoding the last image, or NULL if none. */
const char *decoder_warning(const decoder_t *d);

#endif
