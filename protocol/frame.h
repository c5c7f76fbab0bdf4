/*
 * frame.h: the mogen wire format, shared by the daemon and every C client.
 *
 * A frame is an 8-byte header (magic "MG", type u16 LE, body length u32 LE)
 * followed by a JSON body. These are pure functions over caller buffers: no
 * sockets, no allocation. docs/protocol.md is the prose specification.
 */
#ifndef MOGEN_FRAME_H
#define MOGEN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MOGEN_PROTOCOL_VERSION 1

#define MOGEN_FRAME_HEADER_SIZE 8
#define MOGEN_FRAME_MAGIC0 0x4d /* 'M' */
#define MOGEN_FRAME_MAGIC1 0x47 /* 'G' */

/* Largest body a client may send: requests are small JSON objects, so
 * anything larger is garbage or an attack and is refused before buffering. */
#define MOGEN_FRAME_MAX_REQUEST (64u * 1024u)

/* Largest body the daemon sends: WELCOME lists every class name of every
 * output, which for large vocabularies reaches megabytes. */
#define MOGEN_FRAME_MAX_REPLY (16u * 1024u * 1024u)

typedef enum mogen_msg_type {
    MOGEN_MSG_HELLO = 1,
    MOGEN_MSG_WELCOME = 2,
    MOGEN_MSG_NEXT = 3,
    MOGEN_MSG_BATCH = 4,
    MOGEN_MSG_END_OF_EPOCH = 5,
    MOGEN_MSG_RELEASE = 6,
    MOGEN_MSG_STATUS = 7,
    MOGEN_MSG_STATUS_REPLY = 8,
    MOGEN_MSG_ERROR = 9,
    MOGEN_MSG_MAX
} mogen_msg_type_t;

typedef struct mogen_frame_header {
    uint16_t type;   /* A mogen_msg_type_t. */
    uint32_t length; /* Body bytes after the header. */
} mogen_frame_header_t;

/* Writes the 8-byte header for a body of length bytes into out. */
void mogen_frame_encode_header(uint8_t out[MOGEN_FRAME_HEADER_SIZE], uint16_t type,
                               uint32_t length);

/*
 * Parses a header from buf[0..len). Returns 0 when fewer than 8 bytes are
 * available, 1 with *hdr filled when the header is valid, -EPROTO for a bad
 * magic or an unknown type, -EMSGSIZE when the body exceeds max_body.
 */
int mogen_frame_decode_header(const uint8_t *buf, size_t len, uint32_t max_body,
                              mogen_frame_header_t *hdr);

/* "HELLO", "BATCH", ...; "UNKNOWN" for anything else. */
const char *mogen_msg_type_name(uint16_t type);

#endif
