/*
 * errors.c: the one table of libmogen's error codes (MOGEN_ERRNO_MAP in
 * mogen.h) turned into names, sentences and daemon wire codes.
 */
#include <string.h>

#include "client_internal.h"

/* One row per code, generated from the X-macro so that the enum, the
 * messages and the wire mapping can never disagree. */
static const struct {
    int code;
    const char *name;
    const char *wire; /* The daemon's ERROR code, or NULL. */
    const char *message;
} mogen__errors[] = {
#define MOGEN__ERR_ROW(name, value, wire, msg) {(value), "MOGEN_" #name, (wire), (msg)},
    MOGEN_ERRNO_MAP(MOGEN__ERR_ROW)
#undef MOGEN__ERR_ROW
};

#define MOGEN__ERROR_ROWS (sizeof mogen__errors / sizeof mogen__errors[0])

/*
 * Describes err. The table wins over strerror for the system codes it
 * lists, because its sentences say what the code means for a mogen client
 * ("is mogend running?"); other negative errnos fall back to strerror.
 */
const char *mogen_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err == MOGEN_END_OF_EPOCH)
        return "end of epoch";
    for (size_t i = 0; i < MOGEN__ERROR_ROWS; i++) {
        if (mogen__errors[i].code == err)
            return mogen__errors[i].message;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

const char *mogen_err_name(int err)
{
    if (err == 0)
        return "MOGEN_OK";
    if (err == MOGEN_END_OF_EPOCH)
        return "MOGEN_END_OF_EPOCH";
    for (size_t i = 0; i < MOGEN__ERROR_ROWS; i++) {
        if (mogen__errors[i].code == err)
            return mogen__errors[i].name;
    }
    return "MOGEN_UNKNOWN";
}

int mogen__error_from_wire(const char *code)
{
    if (code == NULL)
        return MOGEN_EDAEMON;
    for (size_t i = 0; i < MOGEN__ERROR_ROWS; i++) {
        if (mogen__errors[i].wire != NULL && strcmp(mogen__errors[i].wire, code) == 0)
            return mogen__errors[i].code;
    }
    return MOGEN_EDAEMON;
}

/* The ERROR codes after which the daemon keeps the connection open, from
 * the table in docs/protocol.md; after any other the daemon closes it. */
int mogen__error_keeps_connection(int err)
{
    return err == MOGEN_ENOTATTACHED || err == MOGEN_ENOTLEASED ||
           err == MOGEN_ETOOMANYLEASES || err == MOGEN_ESTREAMFAILED;
}
