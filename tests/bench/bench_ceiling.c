/*
 * bench_ceiling: the decode-only ceiling for the benchmark table. Decodes the
 * same JPEG files the loaders read, from memory, on PROCS processes (one per
 * CPU by default), with TurboJPEG and the daemon's DCT-scale rule, and
 * nothing else: no resize, no augmentation, no labels, no batching. The
 * decode flags are the daemon's (TJFLAG_LIMITSCANS).
 *
 *   build/bench/bench_ceiling LIST SECONDS [PROCS] [WIDTH HEIGHT]
 *
 * LIST is a text file with one image path per line. All files are read into
 * memory before the processes fork (so the disk is not measured); each
 * process then decodes them in turn, starting at a different offset, until
 * SECONDS have passed. The scale rule is the one of daemon/decode.c
 * (decoder_pick_scale): the smallest of 1/8, 1/4, 1/2 whose output still
 * covers WIDTH x HEIGHT (default 224 x 224, stretch), else full size; the
 * augmentation zoom is taken as 1, which gives the smallest decode, so this is
 * an upper bound. It is written against TurboJPEG alone, not the daemon's
 * modules, so that it measures the library and stays independent of them.
 *
 * Prints one line of key=value pairs for tests/bench/bench.py:
 *   bench_ceiling procs=2 files=1995 images=12345 seconds=5.001
 *   images_per_s=2468.5 cpu_s=9.98 failures=0
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

typedef struct ceil_file {
    unsigned char *bytes;
    unsigned long len;
} ceil_file_t;

static double ceil_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads the whole file at path; returns 0 or -errno. */
static int ceil_read(const char *path, ceil_file_t *f)
{
    FILE *fp = fopen(path, "rb");
    long size;

    if (fp == NULL)
        return -errno;
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) <= 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return -EIO;
    }
    f->bytes = malloc((size_t)size);
    if (f->bytes == NULL) {
        fclose(fp);
        return -ENOMEM;
    }
    f->len = (unsigned long)fread(f->bytes, 1, (size_t)size, fp);
    fclose(fp);
    return f->len == (unsigned long)size ? 0 : -EIO;
}

/* Loads every file named in list; returns the count (<= 0 on failure). */
static int ceil_load(const char *list, ceil_file_t **out)
{
    FILE *fp = fopen(list, "r");
    char line[4096];
    ceil_file_t *files = NULL;
    int n = 0, cap = 0;

    if (fp == NULL)
        return -errno;
    while (fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strcspn(line, "\r\n");

        line[len] = '\0';
        if (len == 0)
            continue;
        if (n == cap) {
            ceil_file_t *more;

            cap = cap ? cap * 2 : 256;
            more = realloc(files, (size_t)cap * sizeof(*files));
            if (more == NULL) {
                fclose(fp);
                return -ENOMEM;
            }
            files = more;
        }
        if (ceil_read(line, &files[n]) == 0)
            n++;
        else
            fprintf(stderr, "bench_ceiling: cannot read %s\n", line);
    }
    fclose(fp);
    *out = files;
    return n;
}

/* The DCT scale denominator of decoder_pick_scale for a w x h source. */
static int ceil_pick_denom(int w, int h, int out_w, int out_h)
{
    static const int denoms[] = {8, 4, 2};
    double k = fmax((double)out_w / w, (double)out_h / h);
    double need_w = w * k - 1e-6, need_h = h * k - 1e-6;

    for (size_t i = 0; i < sizeof(denoms) / sizeof(denoms[0]); i++) {
        tjscalingfactor sf = {1, denoms[i]};

        if (TJSCALED(w, sf) >= need_w && TJSCALED(h, sf) >= need_h)
            return denoms[i];
    }
    return 1;
}

/* One process: decodes files from index `first` on until `seconds` pass;
 * writes "images failures" to fd. */
static void ceil_child(const ceil_file_t *files, int n, int first, double seconds, int out_w,
                       int out_h, int fd)
{
    tjhandle tj = tjInitDecompress();
    unsigned char *buf = NULL;
    size_t cap = 0;
    long images = 0, failures = 0;
    double t0 = ceil_now();
    char msg[64];
    int len;

    if (tj == NULL)
        _exit(3);
    for (int i = first;; i = (i + 1) % n) {
        int w, h, sub, cs, denom;
        tjscalingfactor sf;
        size_t need;

        if ((images & 15) == 0 && ceil_now() - t0 >= seconds)
            break;
        images++;
        if (tjDecompressHeader3(tj, files[i].bytes, files[i].len, &w, &h, &sub, &cs) != 0) {
            failures++;
            continue;
        }
        denom = ceil_pick_denom(w, h, out_w, out_h);
        sf = (tjscalingfactor){1, denom};
        need = (size_t)TJSCALED(w, sf) * (size_t)TJSCALED(h, sf) * 3;
        if (need > cap) {
            free(buf);
            buf = malloc(need);
            cap = buf ? need : 0;
            if (buf == NULL)
                _exit(4);
        }
        if (tjDecompress2(tj, files[i].bytes, files[i].len, buf, TJSCALED(w, sf), 0,
                          TJSCALED(h, sf), TJPF_RGB, TJFLAG_LIMITSCANS) != 0)
            failures++;
    }
    len = snprintf(msg, sizeof(msg), "%ld %ld\n", images, failures);
    if (write(fd, msg, (size_t)len) != len)
        _exit(5);
    tjDestroy(tj);
    free(buf);
    _exit(0);
}

int main(int argc, char **argv)
{
    ceil_file_t *files = NULL;
    double seconds, t0, elapsed;
    long procs, images = 0, failures = 0;
    int out_w = 224, out_h = 224, n, fds[2];
    struct rusage ru;
    FILE *rd;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_ceiling LIST SECONDS [PROCS] [WIDTH HEIGHT]\n");
        return 2;
    }
    seconds = atof(argv[2]);
    procs = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
    if (procs <= 0)
        procs = sysconf(_SC_NPROCESSORS_ONLN);
    if (argc > 5) {
        out_w = atoi(argv[4]);
        out_h = atoi(argv[5]);
    }
    n = ceil_load(argv[1], &files);
    if (n <= 0) {
        fprintf(stderr, "bench_ceiling: no readable files in %s\n", argv[1]);
        return 1;
    }
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    t0 = ceil_now();
    for (long p = 0; p < procs; p++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            close(fds[0]);
            ceil_child(files, n, (int)(p * n / procs), seconds, out_w, out_h, fds[1]);
        }
    }
    close(fds[1]);
    for (long p = 0; p < procs; p++) {
        int status;

        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_ceiling: a decoder process failed\n");
            return 1;
        }
    }
    elapsed = ceil_now() - t0;
    rd = fdopen(fds[0], "r");
    for (long p = 0; p < procs; p++) {
        long a, b;

        if (rd == NULL || fscanf(rd, "%ld %ld", &a, &b) != 2) {
            fprintf(stderr, "bench_ceiling: a decoder process sent no count\n");
            return 1;
        }
        images += a;
        failures += b;
    }
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("bench_ceiling procs=%ld files=%d images=%ld seconds=%.3f images_per_s=%.1f "
           "cpu_s=%.3f failures=%ld\n",
           procs, n, images, elapsed, (double)images / elapsed,
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec * 1e-6,
           failures);
    for (int i = 0; i < n; i++)
        free(files[i].bytes);
    free(files);
    return failures ? 1 : 0;
}
