/*
 * layout.c: the WELCOME message turned into a checked layout.
 *
 * Everything the client later does with pointers into shared memory rests
 * on these numbers, so each one is checked here, once: a tensor that ends
 * past its slot or slots that end past the memory would otherwise become
 * reads outside the mapping.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "client_internal.h"
#include "message.h"

/* Wire names of dtypes, indexed by mogen_dtype_t. */
static const struct {
    const char *name;
    size_t size;
} mogen__dtypes[MOGEN_DTYPE_MAX] = {
    [MOGEN_DTYPE_UINT8] = {"uint8", 1},
    [MOGEN_DTYPE_INT32] = {"int32", 4},
    [MOGEN_DTYPE_INT64] = {"int64", 8},
    [MOGEN_DTYPE_FLOAT32] = {"float32", 4},
};

size_t mogen_dtype_size(mogen_dtype_t dtype)
{
    if ((unsigned)dtype >= MOGEN_DTYPE_MAX)
        return 0;
    return mogen__dtypes[dtype].size;
}

const char *mogen_dtype_name(mogen_dtype_t dtype)
{
    if ((unsigned)dtype >= MOGEN_DTYPE_MAX)
        return "unknown";
    return mogen__dtypes[dtype].name;
}

/* Formats a sentence into err and returns MOGEN_EBADREPLY. */
__attribute__((format(printf, 3, 4))) static int layout_bad(char *err, size_t errlen,
                                                             const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return MOGEN_EBADREPLY;
}

/* Reads a required unsigned field no larger than max. */
static int layout_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out,
                       char *err, size_t errlen)
{
    int rc = mogen_message_get_uint(obj, key, max, out);

    if (rc == -ENOENT)
        return layout_bad(err, errlen, "WELCOME lacks \"%s\"", key);
    if (rc < 0)
        return layout_bad(err, errlen, "WELCOME field \"%s\" is not an integer in range", key);
    return 0;
}

static int layout_u32(const cJSON *obj, const char *key, uint32_t *out, char *err,
                      size_t errlen)
{
    uint64_t v = 0;
    int rc = layout_uint(obj, key, UINT32_MAX, &v, err, errlen);

    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

/* Parses one entry of "tensors" and checks it fits in a slot. */
static int layout_tensor(const cJSON *item, uint64_t slot_size, mogen__tensor_t *t, char *err,
                         size_t errlen)
{
    const cJSON *shape;
    const char *dtype;
    uint64_t bytes;
    int rc;

    if (!cJSON_IsObject(item))
        return layout_bad(err, errlen, "a WELCOME tensor is not an object");
    if (mogen_message_get_string(item, "name", &t->name) < 0)
        return layout_bad(err, errlen, "a WELCOME tensor has no name");
    if (mogen_message_get_string(item, "dtype", &dtype) < 0)
        return layout_bad(err, errlen, "tensor %s has no dtype", t->name);
    t->dtype = MOGEN_DTYPE_MAX;
    for (int i = 0; i < MOGEN_DTYPE_MAX; i++) {
        if (strcmp(dtype, mogen__dtypes[i].name) == 0)
            t->dtype = (mogen_dtype_t)i;
    }
    if (t->dtype == MOGEN_DTYPE_MAX)
        return layout_bad(err, errlen, "tensor %s has unknown dtype %s", t->name, dtype);

    shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return layout_bad(err, errlen, "tensor %s has no shape", t->name);
    t->ndim = 0;
    bytes = mogen__dtypes[t->dtype].size;
    for (const cJSON *d = shape->child; d != NULL; d = d->next) {
        double v = d->valuedouble;
        if (t->ndim == MOGEN_MAX_DIMS)
            return layout_bad(err, errlen, "tensor %s has more than %d dimensions", t->name,
                              MOGEN_MAX_DIMS);
        if (!cJSON_IsNumber(d) || !(v >= 0 && v <= (double)MOGEN_JSON_MAX_UINT) ||
            v != (double)(uint64_t)v)
            return layout_bad(err, errlen, "tensor %s has a bad dimension", t->name);
        t->shape[t->ndim++] = (uint64_t)v;
        if (__builtin_mul_overflow(bytes, (uint64_t)v, &bytes))
            return layout_bad(err, errlen, "tensor %s is too large", t->name);
    }
    if (t->ndim == 0)
        return layout_bad(err, errlen, "tensor %s has an empty shape", t->name);

    rc = layout_uint(item, "offset", MOGEN_JSON_MAX_UINT, &t->offset, err, errlen);
    if (rc < 0)
        return rc;
    rc = layout_uint(item, "bytes", MOGEN_JSON_MAX_UINT, &t->bytes, err, errlen);
    if (rc < 0)
        return rc;
    if (t->bytes != bytes)
        return layout_bad(err, errlen, "tensor %s: %llu bytes do not match its shape (%llu)",
                          t->name, (unsigned long long)t->bytes, (unsigned long long)bytes);
    if (t->offset > slot_size || t->bytes > slot_size - t->offset)
        return layout_bad(err, errlen, "tensor %s ends past the end of its slot", t->name);
    return 0;
}

/* Parses one entry of "outputs" with its class names. */
static int layout_output(const cJSON *item, mogen__output_t *o, char *err, size_t errlen)
{
    const cJSON *classes;
    size_t n = 0;

    if (!cJSON_IsObject(item))
        return layout_bad(err, errlen, "a WELCOME output is not an object");
    if (mogen_message_get_string(item, "name", &o->name) < 0)
        return layout_bad(err, errlen, "a WELCOME output has no name");
    if (mogen_message_get_string(item, "kind", &o->kind) < 0)
        o->kind = "";
    if (mogen_message_get_string(item, "encoding", &o->encoding) < 0)
        o->encoding = "";
    classes = cJSON_GetObjectItemCaseSensitive(item, "classes");
    if (!cJSON_IsArray(classes))
        return layout_bad(err, errlen, "output %s has no class list", o->name);
    for (const cJSON *c = classes->child; c != NULL; c = c->next)
        n++;
    o->classes = calloc(n ? n : 1, sizeof *o->classes);
    if (o->classes == NULL)
        return MOGEN_ENOMEM;
    for (const cJSON *c = classes->child; c != NULL; c = c->next) {
        if (!cJSON_IsString(c) || c->valuestring == NULL)
            return layout_bad(err, errlen, "output %s has a class name that is not a string",
                              o->name);
        o->classes[o->class_count++] = c->valuestring;
    }
    return 0;
}

/* Counts the entries of a JSON array. */
static size_t layout_array_size(const cJSON *array)
{
    size_t n = 0;

    for (const cJSON *c = array->child; c != NULL; c = c->next)
        n++;
    return n;
}

/* The checks of mogen__layout_parse; the caller frees on failure. */
static int layout_fill(mogen__layout_t *l, char *err, size_t errlen)
{
    const cJSON *root = l->root;
    const cJSON *tensors;
    const cJSON *outputs;
    const cJSON *item;
    uint32_t version = 0;
    uint64_t need;
    uint64_t bpe;
    int rc;

    if ((rc = layout_u32(root, "version", &version, err, errlen)) < 0)
        return rc;
    if (version != MOGEN_PROTOCOL_VERSION)
        return layout_bad(err, errlen, "WELCOME is for protocol version %u, not %d", version,
                          MOGEN_PROTOCOL_VERSION);
    if (mogen_message_get_string(root, "stream", &l->stream) < 0)
        return layout_bad(err, errlen, "WELCOME lacks \"stream\"");
    if (mogen_message_get_string(root, "shm_path", &l->shm_path) < 0)
        l->shm_path = NULL;
    if ((rc = layout_u32(root, "batch_size", &l->batch_size, err, errlen)) < 0 ||
        (rc = layout_u32(root, "steps_per_epoch", &l->steps_per_epoch, err, errlen)) < 0 ||
        (rc = layout_uint(root, "rows", MOGEN_JSON_MAX_UINT, &l->rows, err, errlen)) < 0 ||
        (rc = layout_u32(root, "epoch", &l->epoch, err, errlen)) < 0 ||
        (rc = layout_u32(root, "batch", &l->batch, err, errlen)) < 0 ||
        (rc = layout_u32(root, "slot_count", &l->slot_count, err, errlen)) < 0 ||
        (rc = layout_uint(root, "slot_size", MOGEN_JSON_MAX_UINT, &l->slot_size, err, errlen)) <
            0 ||
        (rc = layout_uint(root, "shm_size", MOGEN_JSON_MAX_UINT, &l->shm_size, err, errlen)) < 0)
        return rc;
    /* Optional: older daemons did not send it. */
    if (mogen_message_get_uint(root, "batches_per_epoch", UINT32_MAX, &bpe) == 0)
        l->batches_per_epoch = (uint32_t)bpe;
    else
        l->batches_per_epoch = l->steps_per_epoch;
    if (l->batch_size == 0 || l->slot_count == 0 || l->slot_size == 0)
        return layout_bad(err, errlen, "WELCOME has a zero batch size, slot count or slot size");
    if (__builtin_mul_overflow(l->slot_size, (uint64_t)l->slot_count, &need) ||
        need > l->shm_size)
        return layout_bad(err, errlen, "WELCOME's %u slots of %llu bytes exceed shm_size %llu",
                          l->slot_count, (unsigned long long)l->slot_size,
                          (unsigned long long)l->shm_size);

    tensors = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    if (!cJSON_IsArray(tensors) || tensors->child == NULL)
        return layout_bad(err, errlen, "WELCOME has no tensors");
    l->tensors = calloc(layout_array_size(tensors), sizeof *l->tensors);
    if (l->tensors == NULL)
        return MOGEN_ENOMEM;
    cJSON_ArrayForEach(item, tensors)
    {
        mogen__tensor_t *t = &l->tensors[l->tensor_count];
        if ((rc = layout_tensor(item, l->slot_size, t, err, errlen)) < 0)
            return rc;
        if (mogen__layout_find(l, t->name) >= 0)
            return layout_bad(err, errlen, "WELCOME names tensor %s twice", t->name);
        l->tensor_count++;
    }

    outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (outputs == NULL || cJSON_IsNull(outputs))
        return 0;
    if (!cJSON_IsArray(outputs))
        return layout_bad(err, errlen, "WELCOME's outputs is not a list");
    l->outputs = calloc(layout_array_size(outputs) + 1, sizeof *l->outputs);
    if (l->outputs == NULL)
        return MOGEN_ENOMEM;
    cJSON_ArrayForEach(item, outputs)
    {
        /* Counted before parsing, so a failure frees this entry's classes too. */
        mogen__output_t *o = &l->outputs[l->output_count++];
        if ((rc = layout_output(item, o, err, errlen)) < 0)
            return rc;
    }
    return 0;
}

/*
 * Builds *layout from a parsed WELCOME body (see client_internal.h). The tree is
 * kept, not copied: every name in the layout points into it, which keeps
 * a WELCOME with a large vocabulary to one allocation per class list.
 */
int mogen__layout_parse(cJSON *root, mogen__layout_t *layout, char *err, size_t errlen)
{
    int rc;

    memset(layout, 0, sizeof *layout);
    layout->root = root;
    if (errlen > 0)
        err[0] = '\0';
    if (!cJSON_IsObject(root)) {
        rc = layout_bad(err, errlen, "WELCOME is not a JSON object");
    } else {
        rc = layout_fill(layout, err, errlen);
    }
    if (rc < 0)
        mogen__layout_free(layout);
    return rc;
}

void mogen__layout_free(mogen__layout_t *layout)
{
    for (size_t i = 0; i < layout->output_count; i++)
        free(layout->outputs[i].classes);
    free(layout->outputs);
    free(layout->tensors);
    cJSON_Delete(layout->root);
    memset(layout, 0, sizeof *layout);
}

int mogen__layout_find(const mogen__layout_t *layout, const char *name)
{
    for (size_t i = 0; i < layout->tensor_count; i++) {
        if (strcmp(layout->tensors[i].name, name) == 0)
            return (int)i;
    }
    return MOGEN_ENOTENSOR;
}
