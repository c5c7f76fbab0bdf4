/*
 * message.h: checks on frame bodies shared by the daemon and the C client.
 *
 * Every body on the wire is a JSON object (or empty, which means {}). These
 * helpers turn a received body into a cJSON object and read typed fields out
 * of it, refusing anything the protocol does not allow, so that the daemon
 * and the client validate input the same way. They are pure: no I/O; the only
 * allocation is the cJSON tree, made through cJSON's hooks.
 */
#ifndef MOGEN_MESSAGE_H
#define MOGEN_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/*
 * Parses body[0..len) as one JSON object. An empty body (len 0) yields an
 * empty object, since NEXT and STATUS may be sent without a body. Returns 0
 * with *out owned by the caller (free with cJSON_Delete), -EBADMSG when the
 * body is not valid JSON (JSON text is UTF-8, and a control character
 * other than whitespace, a NUL included, is never valid in it), is not an
 * object, or has anything but whitespace after the object, or -ENOMEM.
 */
int mogen_frame_parse_body(const uint8_t *body, size_t len, cJSON **out);

/* Returns 1 when the len bytes at s are well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), else 0. */
int mogen_utf8_valid(const char *s, size_t len);

/*
 * Reads obj[key] as a non-negative integer no larger than max. Returns 0
 * with *out set, -ENOENT when the key is absent (or null), -EINVAL when it
 * is not a number, is fractional, negative or larger than max. max must be
 * at most 2^53, the largest integer a JSON number holds exactly.
 */
int mogen_message_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out);

/*
 * Reads obj[key] as a string. Returns 0 with *out pointing into obj (valid
 * while obj lives), -ENOENT when absent (or null), -EINVAL when not a string.
 */
int mogen_message_get_string(const cJSON *obj, const char *key, const char **out);

/* The largest integer a JSON number (an IEEE double) represents exactly. */
#define MOGEN_JSON_MAX_UINT (UINT64_C(1) << 53)

#endif
