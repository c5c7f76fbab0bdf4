/*
 * sum_batch.c: the smallest useful libmogen program.
 *
 * Connects to a running mogend, takes batches of one stream, and prints
 * for each the sum of its image tensor and the class of its first sample
 * for every output. Each mogen_release_next gives the batch before back and
 * asks for the next one in one step, as a training loop would; mogen_close
 * gives back the last. The sums let a test compare the bytes the C client
 * sees with what another client saw.
 *
 *   sum_batch SOCKET STREAM [BATCHES]
 *
 * Build against an installed libmogen:
 *   cc -o sum_batch sum_batch.c $(pkg-config --cflags --libs mogen)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mogen.h>

/* Adds up the first `count` elements of tensor `t` of the batch. */
static double sum_tensor(const mogen_client_t *c, const mogen_batch_t *b, size_t t, uint64_t count)
{
    const void *p = mogen_batch_tensor_at(b, t);
    double sum = 0;

    for (uint64_t i = 0; i < count; i++) {
        switch (mogen_tensor_dtype(c, t)) {
        case MOGEN_DTYPE_UINT8: sum += ((const uint8_t *)p)[i]; break;
        case MOGEN_DTYPE_INT32: sum += ((const int32_t *)p)[i]; break;
        case MOGEN_DTYPE_INT64: sum += (double)((const int64_t *)p)[i]; break;
        case MOGEN_DTYPE_FLOAT32: sum += ((const float *)p)[i]; break;
        default: break;
        }
    }
    return sum;
}

/* Class index of sample 0 for output o: the argmax of a one-hot row, or
 * the stored index. */
static long first_class(const mogen_client_t *c, const mogen_batch_t *b, size_t o)
{
    int t = mogen_tensor_index(c, mogen_output_name(c, o));
    size_t k = mogen_output_class_count(c, o);
    long best = -1;

    if (t < 0)
        return -1;
    if (mogen_tensor_dtype(c, (size_t)t) == MOGEN_DTYPE_INT32)
        return ((const int32_t *)mogen_batch_tensor_at(b, (size_t)t))[0];
    const float *row = mogen_batch_tensor_at(b, (size_t)t);
    for (size_t i = 0; i < k; i++) {
        if (best < 0 || row[i] > row[best])
            best = (long)i;
    }
    return best;
}

int main(int argc, char **argv)
{
    mogen_connect_options_t opts;
    mogen_client_t *c;
    mogen_batch_t b = {0}; /* Zeroed: the first mogen_release_next has nothing to give back. */
    char err[512] = "";
    long want = argc > 3 ? strtol(argv[3], NULL, 10) : 1;
    int rc;
    int x;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SOCKET STREAM [BATCHES]\n", argv[0]);
        return 2;
    }
    mogen_connect_options_init(&opts);
    opts.errbuf = err;
    opts.errbuf_len = sizeof err;
    rc = mogen_connect(&c, argv[1], argv[2], &opts);
    if (rc < 0) {
        fprintf(stderr, "sum_batch: %s (%s)\n", err, mogen_err_name(rc));
        return 1;
    }
    x = mogen_tensor_index(c, "x");
    if (x < 0) {
        fprintf(stderr, "sum_batch: the stream has no tensor x\n");
        mogen_close(c);
        return 1;
    }
    printf("stream %s: batch_size %u, %u steps per epoch, %zu outputs\n", mogen_stream_name(c),
           mogen_batch_size(c), mogen_steps_per_epoch(c), mogen_output_count(c));

    for (long n = 0; n < want;) {
        const uint64_t *shape = mogen_tensor_shape(c, (size_t)x);
        uint64_t per_sample = 1;

        rc = mogen_release_next(c, &b);
        if (rc == MOGEN_END_OF_EPOCH) {
            printf("end of epoch %u\n", b.epoch);
            continue;
        }
        if (rc < 0)
            break;
        for (uint32_t d = 1; d < mogen_tensor_ndim(c, (size_t)x); d++)
            per_sample *= shape[d];
        printf("epoch %u batch %u: %u samples, x sum %.6g", b.epoch, b.batch, b.size,
               sum_tensor(c, &b, (size_t)x, per_sample * b.size));
        for (size_t o = 0; o < mogen_output_count(c); o++) {
            long k = b.size > 0 ? first_class(c, &b, o) : -1;
            printf(", %s[0] %s", mogen_output_name(c, o),
                   k >= 0 ? mogen_output_class_name(c, o, (size_t)k) : "?");
        }
        printf("\n");
        n++;
    }
    if (rc < 0) {
        fprintf(stderr, "sum_batch: %s (%s)\n", mogen_client_error_message(c), mogen_err_name(rc));
        mogen_close(c);
        return 1;
    }
    mogen_close(c);
    return 0;
}
