/*
 * bench_rtt: the cost of one RELEASE + NEXT round trip through libmogen, for
 * the benchmark table (tests/bench/bench.py starts the daemon), and the
 * machine's floor for any request/reply, to read it against.
 *
 *   build/bench/bench_rtt [--no-mailbox] SOCKET STREAM COUNT [PAUSE_US]
 *   build/bench/bench_rtt --echo COUNT [PAUSE_US]
 *
 * The first form connects to STREAM, then COUNT times: gives back the batch
 * it holds and asks for the next one with mogen_release_next, the call a
 * trainer's loop makes, timing that call. By default libmogen takes the
 * batch from its mailbox when the daemon posted it there (no system call);
 * --no-mailbox makes every call a RELEASE + NEXT in one write and a BATCH. Between
 * two iterations it sleeps PAUSE_US microseconds (default 2000) so that the
 * daemon has refilled the ring and every NEXT finds a batch ready: the figure
 * is then the protocol's cost (two frames out in one write, one frame in, a
 * poll wake-up on each side), not the time to decode an image. END_OF_EPOCH
 * replies are not counted. With PAUSE_US 0 it also shows the sustained rate.
 *
 * --echo does the same exchange with a forked process over a Unix socket
 * pair (38 bytes out, a 60-byte reply read as header then body, the echo side
 * waiting in epoll as mogend's loop does), paced the same: what any daemon
 * would cost on this machine at best.
 *
 * Prints one line of key=value pairs:
 *   bench_rtt count=5000 median_us=31.2 p10_us=... p90_us=... p99_us=...
 *   mean_us=... batches_per_s=...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mogen.h"

/* Request and reply sizes of the echo: a RELEASE+NEXT pair and a BATCH. */
#define RTT_ECHO_REQUEST 38
#define RTT_ECHO_HEADER 8
#define RTT_ECHO_BODY 52

static double rtt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void rtt_pause(long pause_us)
{
    struct timespec ts = {pause_us / 1000000, (pause_us % 1000000) * 1000};

    if (pause_us > 0)
        nanosleep(&ts, NULL);
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

/* Prints the summary line of done timings (microseconds) taken over seconds. */
static void rtt_report(double *t, long done, double seconds)
{
    double sum = 0;

    for (long i = 0; i < done; i++)
        sum += t[i];
    qsort(t, (size_t)done, sizeof(*t), rtt_cmp);
    printf("bench_rtt count=%ld median_us=%.2f p10_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f "
           "batches_per_s=%.1f\n",
           done, rtt_pct(t, done, 0.5), rtt_pct(t, done, 0.1), rtt_pct(t, done, 0.9),
           rtt_pct(t, done, 0.99), sum / (double)done, (double)done / seconds);
}

/* Reads exactly len bytes; returns 0, or -1 at end of file or on an error. */
static int rtt_read_all(int fd, char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The echo side: waits in epoll, reads a request, writes the reply. */
static void rtt_echo_child(int fd) __attribute__((noreturn));
static void rtt_echo_child(int fd)
{
    char req[RTT_ECHO_REQUEST], reply[RTT_ECHO_HEADER + RTT_ECHO_BODY];
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(0);

    memset(reply, 'x', sizeof(reply));
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        _exit(1);
    for (;;) {
        if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
            _exit(1);
        if (rtt_read_all(fd, req, sizeof(req)) != 0)
            _exit(0);
        if (write(fd, reply, sizeof(reply)) != (ssize_t)sizeof(reply))
            _exit(1);
    }
}

static int rtt_echo(long count, long pause_us, double *t)
{
    char req[RTT_ECHO_REQUEST], reply[RTT_ECHO_HEADER + RTT_ECHO_BODY];
    double t_start;
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("bench_rtt: socketpair");
        return 1;
    }
    pid = fork();
    if (pid < 0) {
        perror("bench_rtt: fork");
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        rtt_echo_child(sv[1]);
    }
    close(sv[1]);
    memset(req, 'y', sizeof(req));
    t_start = rtt_now();
    for (long i = 0; i < count; i++) {
        double t0 = rtt_now();

        if (write(sv[0], req, sizeof(req)) != (ssize_t)sizeof(req) ||
            rtt_read_all(sv[0], reply, RTT_ECHO_HEADER) != 0 ||
            rtt_read_all(sv[0], reply + RTT_ECHO_HEADER, RTT_ECHO_BODY) != 0) {
            fprintf(stderr, "bench_rtt: the echo process went away\n");
            return 1;
        }
        t[i] = (rtt_now() - t0) * 1e6;
        rtt_pause(pause_us);
    }
    rtt_report(t, count, rtt_now() - t_start);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return 0;
}

static int rtt_mogen(const char *socket_path, const char *stream, int mailbox, long count,
                     long pause_us, double *t)
{
    mogen_client_t *c;
    mogen_batch_t b;
    mogen_connect_options_t opts;
    char errbuf[256] = "";
    long done = 0;
    double t_start;
    int rc;

    mogen_connect_options_init(&opts);
    opts.timeout_ms = 30000;
    opts.mailbox = mailbox;
    opts.errbuf = errbuf;
    opts.errbuf_len = sizeof(errbuf);
    rc = mogen_connect(&c, socket_path, stream, &opts);
    if (rc < 0) {
        fprintf(stderr, "bench_rtt: %s: %s %s\n", socket_path, mogen_strerror(rc), errbuf);
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
        rtt_pause(pause_us);
    }
    if (rc < 0) {
        fprintf(stderr, "bench_rtt: %s (%s)\n", mogen_strerror(rc), mogen_client_error_message(c));
        mogen_close(c);
        return 1;
    }
    rtt_report(t, done, rtt_now() - t_start);
    mogen_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    int mailbox = !(argc > 1 && strcmp(argv[1], "--no-mailbox") == 0);
    int echo;
    int first;
    long count, pause_us;
    double *t;
    int rc;

    if (!mailbox) { /* Shift the flag away. */
        argv++;
        argc--;
    }
    echo = argc > 1 && strcmp(argv[1], "--echo") == 0;
    first = echo ? 2 : 3; /* Index of COUNT. */
    if (argc <= first || argc > first + 2) {
        fprintf(stderr, "usage: bench_rtt [--no-mailbox] SOCKET STREAM COUNT [PAUSE_US]\n"
                        "       bench_rtt --echo COUNT [PAUSE_US]\n");
        return 2;
    }
    count = strtol(argv[first], NULL, 10);
    pause_us = argc > first + 1 ? strtol(argv[first + 1], NULL, 10) : 2000;
    if (count <= 0 || pause_us < 0) {
        fprintf(stderr, "bench_rtt: COUNT must be > 0 and PAUSE_US >= 0\n");
        return 2;
    }
    t = calloc((size_t)count, sizeof(*t));
    if (t == NULL)
        return 1;
    rc = echo ? rtt_echo(count, pause_us, t)
              : rtt_mogen(argv[1], argv[2], mailbox, count, pause_us, t);
    free(t);
    return rc;
}
