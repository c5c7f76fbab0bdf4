/*
 * frame.c: encoding and decoding of the 8-byte frame header.
 *
 * Multi-byte fields are assembled byte by byte so that the wire format is
 * little-endian on every host and no unaligned or type-punned loads happen
 * on caller buffers.
 */
#include "frame.h"

#include <errno.h>

/* Names for logs and error messages, indexed by mogen_msg_type_t. */
static const char *const frame_type_names[MOGEN_MSG_MAX] = {
    [MOGEN_MSG_HELLO] = "HELLO",
    [MOGEN_MSG_WELCOME] = "WELCOME",
    [MOGEN_MSG_NEXT] = "NEXT",
    [MOGEN_MSG_BATCH] = "BATCH",
    [MOGEN_MSG_END_OF_EPOCH] = "END_OF_EPOCH",
    [MOGEN_MSG_RELEASE] = "RELEASE",
    [MOGEN_MSG_STATUS] = "STATUS",
    [MOGEN_MSG_STATUS_REPLY] = "STATUS_REPLY",
    [MOGEN_MSG_ERROR] = "ERROR",
};

void mogen_frame_encode_header(uint8_t out[MOGEN_FRAME_HEADER_SIZE], uint16_t type,
                               uint32_t length)
{
    out[0] = MOGEN_FRAME_MAGIC0;
    out[1] = MOGEN_FRAME_MAGIC1;
    out[2] = (uint8_t)(type & 0xff);
    out[3] = (uint8_t)(type >> 8);
    out[4] = (uint8_t)(length & 0xff);
    out[5] = (uint8_t)((length >> 8) & 0xff);
    out[6] = (uint8_t)((length >> 16) & 0xff);
    out[7] = (uint8_t)(length >> 24);
}

/*
 * Parses the header at the start of buf. Returns 0 while fewer than
 * MOGEN_FRAME_HEADER_SIZE bytes have arrived (the caller reads more), 1 with
 * *hdr filled for a valid header, -EPROTO for a bad magic or a type outside
 * the table, and -EMSGSIZE when the announced body is longer than max_body,
 * so that the caller refuses it before buffering a single body byte. *hdr is
 * written only on success.
 */
int mogen_frame_decode_header(const uint8_t *buf, size_t len, uint32_t max_body,
                              mogen_frame_header_t *hdr)
{
    uint16_t type;
    uint32_t length;

    if (len < MOGEN_FRAME_HEADER_SIZE)
        return 0;
    if (buf[0] != MOGEN_FRAME_MAGIC0 || buf[1] != MOGEN_FRAME_MAGIC1)
        return -EPROTO;
    type = (uint16_t)(buf[2] | (buf[3] << 8));
    if (type == 0 || type >= MOGEN_MSG_MAX)
        return -EPROTO;
    length = (uint32_t)buf[4] | ((uint32_t)buf[5] << 8) | ((uint32_t)buf[6] << 16) |
             ((uint32_t)buf[7] << 24);
    if (length > max_body)
        return -EMSGSIZE;
    hdr->type = type;
    hdr->length = length;
    return 1;
}

const char *mogen_msg_type_name(uint16_t type)
{
    if (type == 0 || type >= MOGEN_MSG_MAX)
        return "UNKNOWN";
    return frame_type_names[type];
}
