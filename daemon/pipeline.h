/*
 * pipeline.h: bytes of an image file -> one finished sample in a caller's
 * buffer (the future ring slot): decode (JPEG or PNG, found from the bytes),
 * one affine warp that does resize and geometric augmentation together,
 * photometric augmentation, and normalisation to the configured dtype and
 * layout.
 *
 * A pipeline_t holds one worker's reusable scratch buffers, so the hot loop
 * allocates nothing per image once the buffers have grown to the largest
 * image seen. It is not shared between threads or processes.
 */
#ifndef MOGEN_PIPELINE_H
#define MOGEN_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "config.h"

typedef struct pipeline pipeline_t;

/* Bytes one sample occupies in the image tensor: W*H*C*sizeof(dtype). */
size_t pipeline_sample_bytes(const image_config_t *img);

/*
 * Creates a pipeline for img (copied). Returns 0, -ENOMEM, or -EINVAL when
 * img is unusable (zero size, an enum out of range, a zero std).
 */
int pipeline_create(pipeline_t **out, const image_config_t *img);
void pipeline_free(pipeline_t *p);

/*
 * Decodes the image in bytes[0..len) and writes one sample to out
 * (pipeline_sample_bytes() bytes, in the configured dtype and layout).
 * aug may be NULL for no augmentation. Returns 0, or a negative errno with a
 * human reason in err (e.g. "not a JPEG or PNG file (starts with 47 49 46 38)",
 * "image is 20000x20000, over the 100000000-pixel limit", "corrupt JPEG data:
 * ...") and out left unspecified.
 */
int pipeline_run(pipeline_t *p, const uint8_t *bytes, size_t len, const augment_params_t *aug,
                 void *out, char *err, size_t errlen);

/*
 * Opens path for pipeline_run_fd() and asks the kernel to start reading it
 * (POSIX_FADV_WILLNEED, at most max_file_bytes of it: a larger file is
 * refused unread): a worker opens the next files of its batch this way
 * while it decodes, so that a cold page cache is read many files at a time
 * instead of one. Returns the fd, or a negative errno for pipeline_run_fd()
 * to report.
 */
int pipeline_open_file(const pipeline_t *p, const char *path);

/*
 * pipeline_run_file() on what pipeline_open_file() returned, which it
 * closes: a negative errno is reported as pipeline_run_file() would have.
 */
int pipeline_run_fd(pipeline_t *p, int fd, const augment_params_t *aug, void *out, char *err,
                    size_t errlen);

/*
 * Reads the file at path (honouring max_file_bytes before reading) into the
 * pipeline's reusable buffer and runs pipeline_run() on it. Errors as above,
 * plus -ENOENT etc. from opening ("No such file or directory").
 */
int pipeline_run_file(pipeline_t *p, const char *path, const augment_params_t *aug, void *out,
                      char *err, size_t errlen);

/*
 * The non-fatal decoder warning of the last successful run (e.g. "JPEG
 * warning: Corrupt JPEG data: 2 extraneous bytes before marker 0xd9"), or
 * NULL when it had none. Valid until the next run. See decode.h for which
 * warnings are accepted and which are errors.
 */
const char *pipeline_last_warning(const pipeline_t *p);

/* The DCT scale denominator (1, 2, 4, 8) the last run decoded at. */
uint32_t pipeline_last_scale_denom(const pipeline_t *p);

#endif
