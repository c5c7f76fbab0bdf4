/*
 * message.c: parsing and field access for frame bodies (see message.h).
 */
#include "message.h"

#include <errno.h>
#include <math.h> /* isfinite, a macro: no libm needed. */

/* JSON's insignificant whitespace (RFC 8259, section 2). */
static int message_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Checks UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. ASCII runs take the fast path.
 */
int mogen_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    const unsigned char *end = s + len;

    while (s < end) {
        unsigned c = *s;
        size_t need;
        unsigned min;
        unsigned cp;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            min = 0x80;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            min = 0x800;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            min = 0x10000;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - s) <= need)
            return 0;
        for (size_t i = 1; i <= need; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += need + 1;
    }
    return 1;
}

/*
 * Parses a body into a JSON object. cJSON stops at the end of the first
 * value, so the rest of the body is checked by hand: a body such as
 * "{} {}" or "{}\0junk" is two messages' worth of bytes, or an attempt to
 * smuggle data past a logger, and is refused rather than half-read.
 */
int mogen_frame_parse_body(const uint8_t *body, size_t len, cJSON **out)
{
    const char *end = NULL;
    cJSON *root;
    size_t used;

    *out = NULL;
    if (len == 0) {
        root = cJSON_CreateObject();
        if (root == NULL)
            return -ENOMEM;
        *out = root;
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        if (body[i] < 0x20 && !message_is_space(body[i]))
            return -EBADMSG;
    if (!mogen_utf8_valid((const char *)body, len))
        return -EBADMSG;
    root = cJSON_ParseWithLengthOpts((const char *)body, len, &end, 0);
    if (root == NULL)
        return -EBADMSG;
    if (!cJSON_IsObject(root) || end == NULL || end < (const char *)body) {
        cJSON_Delete(root);
        return -EBADMSG;
    }
    used = (size_t)(end - (const char *)body);
    for (size_t i = used; i < len; i++) {
        if (!message_is_space(body[i])) {
            cJSON_Delete(root);
            return -EBADMSG;
        }
    }
    *out = root;
    return 0;
}

/* Reads a bounded, integral, non-negative number field. */
int mogen_message_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;

    if (item == NULL || cJSON_IsNull(item))
        return -ENOENT;
    if (!cJSON_IsNumber(item))
        return -EINVAL;
    v = item->valuedouble;
    if (!isfinite(v) || v < 0 || v > (double)max || v != (double)(uint64_t)v)
        return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

/* Reads a string field without copying it. */
int mogen_message_get_string(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (item == NULL || cJSON_IsNull(item))
        return -ENOENT;
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return -EINVAL;
    *out = item->valuestring;
    return 0;
}
