/*
 * test_exif.c: JPEG marker walking and the EXIF orientation tag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "exif.h"

/* A TIFF block with one IFD0 entry: tag, type, count, value (little-endian). */
static size_t make_tiff_le(uint8_t *b, uint16_t tag, uint16_t type, uint32_t count,
                           uint16_t value)
{
    static const uint8_t head[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0};
    memcpy(b, head, sizeof(head));
    b[10] = (uint8_t)tag;
    b[11] = (uint8_t)(tag >> 8);
    b[12] = (uint8_t)type;
    b[13] = (uint8_t)(type >> 8);
    b[14] = (uint8_t)count;
    b[15] = (uint8_t)(count >> 8);
    b[16] = (uint8_t)(count >> 16);
    b[17] = (uint8_t)(count >> 24);
    b[18] = (uint8_t)value;
    b[19] = (uint8_t)(value >> 8);
    b[20] = b[21] = 0;
    b[22] = b[23] = b[24] = b[25] = 0; /* Next IFD offset. */
    return 26;
}

/* SOI, APP1 "Exif\0\0" + tiff, SOS, EOI. */
static size_t make_jpeg(uint8_t *b, const uint8_t *tiff, size_t tiff_len)
{
    size_t n = 0, seg = 2 + 6 + tiff_len;

    b[n++] = 0xFF;
    b[n++] = 0xD8;
    b[n++] = 0xFF;
    b[n++] = 0xE1;
    b[n++] = (uint8_t)(seg >> 8);
    b[n++] = (uint8_t)seg;
    memcpy(b + n, "Exif\0\0", 6);
    n += 6;
    memcpy(b + n, tiff, tiff_len);
    n += tiff_len;
    b[n++] = 0xFF;
    b[n++] = 0xDA;
    b[n++] = 0;
    b[n++] = 2;
    b[n++] = 0xFF;
    b[n++] = 0xD9;
    return n;
}

static void little_endian_orientation_is_read(void **state)
{
    uint8_t t[64];
    (void)state;
    for (uint16_t o = 1; o <= 8; o++) {
        size_t n = make_tiff_le(t, 0x0112, 3, 1, o);
        assert_int_equal(exif_tiff_orientation(t, n), o);
    }
}

static void big_endian_orientation_is_read(void **state)
{
    static const uint8_t t[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                                0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
    (void)state;
    assert_int_equal(exif_tiff_orientation(t, sizeof(t)), 6);
}

static void out_of_range_or_wrong_type_means_normal(void **state)
{
    uint8_t t[64];
    (void)state;
    assert_int_equal(exif_tiff_orientation(t, make_tiff_le(t, 0x0112, 3, 1, 9)), 1);
    assert_int_equal(exif_tiff_orientation(t, make_tiff_le(t, 0x0112, 3, 1, 0)), 1);
    assert_int_equal(exif_tiff_orientation(t, make_tiff_le(t, 0x0112, 4, 1, 6)), 1);
    assert_int_equal(exif_tiff_orientation(t, make_tiff_le(t, 0x0112, 3, 2, 6)), 1);
    assert_int_equal(exif_tiff_orientation(t, make_tiff_le(t, 0x0110, 3, 1, 6)), 1);
}

static void truncated_tiff_is_never_read_past_its_end(void **state)
{
    uint8_t t[64];
    size_t n = make_tiff_le(t, 0x0112, 3, 1, 6);
    (void)state;
    /* Every prefix shorter than the entry gives "normal", without reading on. */
    for (size_t len = 0; len < 22; len++)
        assert_int_equal(exif_tiff_orientation(t, len), 1);
    assert_int_equal(exif_tiff_orientation(t, n), 6);
    /* An IFD offset pointing past the end. */
    t[4] = 0xF0;
    assert_int_equal(exif_tiff_orientation(t, n), 1);
}

static void jpeg_app1_orientation_is_found(void **state)
{
    uint8_t t[64], j[128];
    size_t n = make_jpeg(j, t, make_tiff_le(t, 0x0112, 3, 1, 8));
    (void)state;
    assert_int_equal(exif_jpeg_orientation(j, n), 8);
    /* Cut anywhere: never a crash, and "normal" unless the tag survived. */
    for (size_t len = 0; len < n; len++) {
        int o = exif_jpeg_orientation(j, len);
        assert_true(o == 1 || o == 8);
    }
}

static void segment_walk_stops_at_sos_and_rejects_bad_lengths(void **state)
{
    static const uint8_t sos_first[] = {0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0xFF, 0xE1, 0, 8,
                                        'E', 'x', 'i', 'f', 0, 0};
    static const uint8_t bad_len[] = {0xFF, 0xD8, 0xFF, 0xE1, 0, 1, 0, 0};
    static const uint8_t not_jpeg[] = {0x89, 'P', 'N', 'G', 0, 0};
    const uint8_t *p;
    size_t len;
    (void)state;
    assert_int_equal(exif_jpeg_find_segment(sos_first, sizeof(sos_first), 0xE1, "Exif\0\0", 6,
                                            &p, &len),
                     -ENOENT);
    assert_int_equal(exif_jpeg_find_segment(bad_len, sizeof(bad_len), 0xE1, "", 0, &p, &len),
                     -EINVAL);
    assert_int_equal(exif_jpeg_find_segment(not_jpeg, sizeof(not_jpeg), 0xE1, "", 0, &p, &len),
                     -EINVAL);
}

static void axis_swap_is_orientations_five_to_eight(void **state)
{
    (void)state;
    for (int o = 1; o <= 8; o++)
        assert_int_equal(exif_orientation_swaps_axes(o), o >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(little_endian_orientation_is_read),
        cmocka_unit_test(big_endian_orientation_is_read),
        cmocka_unit_test(out_of_range_or_wrong_type_means_normal),
        cmocka_unit_test(truncated_tiff_is_never_read_past_its_end),
        cmocka_unit_test(jpeg_app1_orientation_is_found),
        cmocka_unit_test(segment_walk_stops_at_sos_and_rejects_bad_lengths),
        cmocka_unit_test(axis_swap_is_orientations_five_to_eight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
