/*
 * bench_rtt: the cost of one RELEASE + NEXT round trip through libmogen, for
 * the benchmark table (tests/bench/bench.py starts the daemon).
 *
 *   build/bench/bench_rtt SOCKET STREAM COUNT [PAUSE_US]
 *
 * Connects to STREAM, then COUNT times: gives back the batch it holds and
 * asks for the next one with mogen_release_next, the call a trainer's loop
 * makes (both frames in one write), timing that call. Between two
 * iterations it sleeps PAUSE_US microseconds (default 2000) so that the
 * daemon has refilled the ring and every NEXT finds a batch ready: the figure
 * is then the protocol's cost (two frames out in one write, one frame in, a
 * poll wake-up on each side), not the time to decode an image. END_OF_EPOCH
 * replies are not counted. With PAUSE_US 0 it also shows the sustained rate.
 *
 * Prints one line of key=value pairs:
 *   bench_rtt count=5000 median_us=31.2 p10_us=... p90_us=... p99_us=...
 *   mean_us=... batches_per_s=...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mogen.h"

static double rtt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int rtt_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double rtt_pct(const double *sorted, long n, double p)
{
    long i = (long)(p * (double)(n - 1) + 0.5);

    return sorted[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

int main(int argc, char **argv)
{
    mogen_client_t *c;
    mogen_batch_t b;
    mogen_connect_options_t opts;
    char errbuf[256] = "";
    long count, pause_us, done = 0;
    double *t, sum = 0, t_start, t_end;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: bench_rtt SOCKET STREAM COUNT [PAUSE_US]\n");
        return 2;
    }
    count = strtol(argv[3], NULL, 10);
    pause_us = argc > 4 ? strtol(argv[4], NULL, 10) : 2000;
    if (count <= 0 || pause_us < 0) {
        fprintf(stderr, "bench_rtt: COUNT must be > 0 and PAUSE_US >= 0\n");
        return 2;
    }
    t = calloc((size_t)count, sizeof(*t));
    if (t == NULL)
        return 1;
    mogen_connect_options_init(&opts);
    opts.timeout_ms = 30000;
    opts.errbuf = errbuf;
    opts.errbuf_len = sizeof(errbuf);
    rc = mogen_connect(&c, argv[1], argv[2], &opts);
    if (rc < 0) {
        fprintf(stderr, "bench_rtt: %s: %s %s\n", argv[1], mogen_strerror(rc), errbuf);
        return 1;
    }
    memset(&b, 0, sizeof(b));
    t_start = rtt_now();
    while (done < count) {
        double t0 = rtt_now(), t1;

        rc = mogen_release_next(c, &b);
        t1 = rtt_now();
        if (rc < 0)
            break;
        if (rc == 0)
            t[done++] = (t1 - t0) * 1e6;
        if (pause_us > 0) {
            struct timespec ts = {pause_us / 1000000, (pause_us % 1000000) * 1000};

            nanosleep(&ts, NULL);
        }
    }
    t_end = rtt_now();
    if (rc < 0) {
        fprintf(stderr, "bench_rtt: %s (%s)\n", mogen_strerror(rc), mogen_client_error_message(c));
        mogen_close(c);
        return 1;
    }
    mogen_close(c);
    for (long i = 0; i < done; i++)
        sum += t[i];
    qsort(t, (size_t)done, sizeof(*t), rtt_cmp);
    printf("bench_rtt count=%ld median_us=%.2f p10_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f "
           "batches_per_s=%.1f\n",
           done, rtt_pct(t, done, 0.5), rtt_pct(t, done, 0.1), rtt_pct(t, done, 0.9),
           rtt_pct(t, done, 0.99), sum / (double)done, (double)done / (t_end - t_start));
    free(t);
    return 0;
}
