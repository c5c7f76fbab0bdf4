/*
 * exif.c: JPEG marker walking and the EXIF orientation tag.
 *
 * Phones store photos in sensor orientation and record the rotation in EXIF,
 * so a loader that ignores the tag trains on sideways images. Only IFD0's
 * Orientation entry is read; nothing else in EXIF matters to mogen.
 */
#include "exif.h"

#include <errno.h>
#include <string.h>

int exif_orientation_swaps_axes(int o)
{
    return o >= EXIF_ORIENT_TRANSPOSE && o <= EXIF_ORIENT_ROTATE_270;
}

/*
 * JPEG segments are FF xx followed by a big-endian 16-bit length that counts
 * itself. Markers without a length (SOI, RSTn, TEM) and fill bytes (FF FF)
 * are skipped. The walk ends at SOS, after which entropy-coded data follows
 * and no metadata segment may appear in a well-formed file.
 */
int exif_jpeg_find_segment(const uint8_t *bytes, size_t len, uint8_t marker, const char *id,
                           size_t idlen, const uint8_t **payload, size_t *payload_len)
{
    size_t pos = 2;

    if (len < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8)
        return -EINVAL;
    while (pos + 4 <= len) {
        uint8_t m;
        size_t seglen;

        if (bytes[pos] != 0xFF)
            return -EINVAL;
        m = bytes[pos + 1];
        if (m == 0xFF) { /* Fill byte before a marker. */
            pos++;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { /* TEM, RSTn, SOI: no length. */
            pos += 2;
            continue;
        }
        if (m == 0xDA || m == 0xD9) /* SOS or EOI: no more metadata. */
            return -ENOENT;
        seglen = ((size_t)bytes[pos + 2] << 8) | bytes[pos + 3];
        if (seglen < 2 || pos + 2 + seglen > len)
            return -EINVAL;
        if (m == marker && seglen - 2 >= idlen && memcmp(bytes + pos + 4, id, idlen) == 0) {
            *payload = bytes + pos + 4 + idlen;
            *payload_len = seglen - 2 - idlen;
            return 0;
        }
        pos += 2 + seglen;
    }
    return -ENOENT;
}

/* Reads a 16- or 32-bit TIFF integer in the block's byte order. */
static uint32_t exif_read16(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)((p[0] << 8) | p[1]) : (uint32_t)((p[1] << 8) | p[0]);
}

static uint32_t exif_read32(const uint8_t *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

/*
 * A TIFF block starts "II*\0" (little-endian) or "MM\0*" (big-endian), then the
 * offset of IFD0. IFD0 is a 16-bit entry count and 12-byte entries of
 * tag, type, count, value. Orientation is tag 0x0112, type SHORT (3), count 1,
 * its value in the first two bytes of the value field.
 */
int exif_tiff_orientation(const uint8_t *tiff, size_t len)
{
    int big_endian;
    uint32_t ifd, count;

    if (len < 8)
        return EXIF_ORIENT_NORMAL;
    if (memcmp(tiff, "II*\0", 4) == 0)
        big_endian = 0;
    else if (memcmp(tiff, "MM\0*", 4) == 0)
        big_endian = 1;
    else
        return EXIF_ORIENT_NORMAL;
    ifd = exif_read32(tiff + 4, big_endian);
    if (ifd > len || len - ifd < 2)
        return EXIF_ORIENT_NORMAL;
    count = exif_read16(tiff + ifd, big_endian);
    for (uint32_t i = 0; i < count; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        uint32_t tag, type, value;

        if (at > len || len - at < 12)
            break;
        tag = exif_read16(tiff + at, big_endian);
        if (tag != 0x0112)
            continue;
        type = exif_read16(tiff + at + 2, big_endian);
        if (type != 3 || exif_read32(tiff + at + 4, big_endian) != 1)
            return EXIF_ORIENT_NORMAL;
        value = exif_read16(tiff + at + 8, big_endian);
        return (value >= 1 && value <= 8) ? (int)value : EXIF_ORIENT_NORMAL;
    }
    return EXIF_ORIENT_NORMAL;
}

int exif_jpeg_orientation(const uint8_t *bytes, size_t len)
{
    const uint8_t *tiff;
    size_t tiff_len;

    if (exif_jpeg_find_segment(bytes, len, 0xE1, "Exif\0\0", 6, &tiff, &tiff_len) != 0)
        return EXIF_ORIENT_NORMAL;
    return exif_tiff_orientation(tiff, tiff_len);
}
