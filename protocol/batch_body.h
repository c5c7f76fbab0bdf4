/*
 * batch_body.h: reads a BATCH body without building a cJSON tree.
 *
 * BATCH answers every NEXT. On the client's side, parsing it with cJSON (a
 * malloc per value and per key, freed again at the next batch) took 4-5 us
 * of a 45-50 us round trip on the benchmark machine. The daemon writes the
 * body as one flat object: "slot", "epoch", "batch" and "size" as unsigned
 * integers and an "errors" array that is empty unless a file failed.
 *
 * This reader takes exactly that shape (keys in any order, JSON whitespace,
 * other keys whose values are unsigned integers) and answers "not mine" for
 * anything else, which the caller then parses with cJSON as before. So it
 * never has to be a whole JSON parser, and what it accepts it reads as
 * cJSON would: fuzz_frame checks that on every input.
 */
#ifndef MOGEN_BATCH_BODY_H
#define MOGEN_BATCH_BODY_H

#include <stddef.h>
#include <stdint.h>

/* Largest integer taken: beyond 15 digits the body goes to cJSON, whose
 * numbers are doubles, so that both readers always agree. */
#define MOGEN_BATCH_BODY_MAX_DIGITS 15

typedef struct mogen_batch_body {
    uint64_t slot;
    uint64_t epoch;
    uint64_t batch;
    uint64_t size;
} mogen_batch_body_t;

/*
 * Reads body[0..len). Returns 1 with *out filled when the body is a JSON
 * object holding each of slot, epoch, batch and size once, as unsigned
 * integers of at most MOGEN_BATCH_BODY_MAX_DIGITS digits, an "errors" that
 * is an empty array (or no "errors"), and nothing else but keys with
 * unsigned integer values. Returns 0 for any other body, valid or not: the
 * caller parses those with mogen_frame_parse_body. Ranges are the caller's
 * to check.
 */
int mogen_batch_body_read(const char *body, size_t len, mogen_batch_body_t *out);

#endif
