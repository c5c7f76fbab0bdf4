/*
 * exif.h: the few bits of JPEG and EXIF metadata the image pipeline needs,
 * read straight from the file's bytes.
 *
 * Every function here is pure and bounds-checked: it reads only inside the
 * buffer it is given, never allocates, and treats anything malformed as
 * "not present" rather than as an error, because a broken EXIF block must
 * not stop an otherwise decodable photo from being used.
 */
#ifndef MOGEN_EXIF_H
#define MOGEN_EXIF_H

#include <stddef.h>
#include <stdint.h>

/*
 * EXIF orientation values (TIFF tag 0x0112). Each names how the stored pixels
 * must be transformed to be shown upright.
 */
typedef enum exif_orientation {
    EXIF_ORIENT_NORMAL = 1,     /* As stored. */
    EXIF_ORIENT_FLIP_H = 2,     /* Mirror left-right. */
    EXIF_ORIENT_ROTATE_180 = 3, /* Rotate 180 degrees. */
    EXIF_ORIENT_FLIP_V = 4,     /* Mirror top-bottom. */
    EXIF_ORIENT_TRANSPOSE = 5,  /* Mirror along the main diagonal. */
    EXIF_ORIENT_ROTATE_90 = 6,  /* Rotate 90 degrees clockwise. */
    EXIF_ORIENT_TRANSVERSE = 7, /* Mirror along the anti-diagonal. */
    EXIF_ORIENT_ROTATE_270 = 8  /* Rotate 90 degrees counter-clockwise. */
} exif_orientation_t;

/* 1 when orientation o swaps width and height (5 to 8), else 0. */
int exif_orientation_swaps_axes(int o);

/*
 * Finds the first JPEG segment with marker `marker` (e.g. 0xE1 for APP1)
 * whose payload starts with id[0..idlen). Walks the marker chain from SOI up
 * to the first SOS. On success returns 0 and points *payload at the bytes
 * after id, *payload_len their count; returns -ENOENT when there is none and
 * -EINVAL when the bytes are not a JPEG marker chain.
 */
int exif_jpeg_find_segment(const uint8_t *bytes, size_t len, uint8_t marker, const char *id,
                           size_t idlen, const uint8_t **payload, size_t *payload_len);

/*
 * Reads the orientation tag from a TIFF-structured EXIF block (what follows
 * "Exif\0\0" in a JPEG APP1 segment, or the whole of a PNG eXIf chunk).
 * Returns 1..8, or 1 when the tag is absent, out of range or unreadable.
 */
int exif_tiff_orientation(const uint8_t *tiff, size_t len);

/* The EXIF orientation of a JPEG file, 1..8; 1 when it has none. */
int exif_jpeg_orientation(const uint8_t *bytes, size_t len);

#endif
