/*
 * bench_csv.c: how long dataset_load() takes on a 1,000,000-row CSV (an
 * image id and three label columns) and how much memory it needs.
 *
 * The target (issue 2) is under 1.5 s and under 250 MB peak RSS. The CSV is
 * generated into a temporary folder with uuid-like ids and a few label values
 * per column, loaded with check_files = 0 (no stat per row: this measures
 * parsing and the arrays, not the file system), and removed afterwards.
 *
 *   build/bench/bench_csv [rows]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dataset.h"
#include "report.h"

/* splitmix64: a fixed-seed generator so every run writes the same file. */
static uint64_t bench_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes rows data rows of "image,category,colour,kids" to path. */
static int bench_write_csv(const char *path, long rows)
{
    static const char *const categories[] = {"T-Shirt", "Shoes", "Shorts", "Shirt", "Pants",
                                             "Skirt", "Top", "Outwear", "Dress", "Body",
                                             "Longsleeve", "Undershirt", "Hat", "Polo",
                                             "Blouse", "Hoodie", "Skip", "Blazer", "Other",
                                             "Not sure"};
    static const char *const colours[] = {"black", "white", "red", "blue", "green", "grey",
                                          "\"navy, dark\""};
    uint64_t rng = 42;
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -errno;
    fputs("image,category,colour,kids\n", f);
    for (long i = 0; i < rows; i++) {
        uint64_t a = bench_next(&rng);
        uint64_t b = bench_next(&rng);
        fprintf(f, "%08x-%04x-%04x-%04x-%012llx,%s,%s,%s\n", (unsigned)(a >> 32),
                (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff, (unsigned)(b >> 48),
                (unsigned long long)(b & 0xffffffffffffull), categories[a % 20], colours[b % 7],
                (a >> 7) % 5 == 0 ? "True" : "False");
    }
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    char dir[] = "/tmp/mogen-bench-XXXXXX";
    char csv[64];
    char json[512];
    config_t cfg;
    dataset_t ds;
    report_t rep;
    struct rusage ru;
    double t0;
    double t1;
    int rc;

    if (rows <= 0 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "usage: bench_csv [rows]\n");
        return 2;
    }
    snprintf(csv, sizeof(csv), "%s/train.csv", dir);
    if ((rc = bench_write_csv(csv, rows)) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", csv, strerror(-rc));
        rmdir(dir);
        return 1;
    }
    snprintf(json, sizeof(json),
             "{\"path\": {\"root\": \"images\", \"suffix\": \".jpg\"},"
             " \"outputs\": {\"multi_class\": [{\"category\": \"category\"}, {\"kids\": \"kids\"}],"
             "               \"multi_label\": [{\"colour\": [\"colour\"]}]},"
             " \"streams\": {\"train\": {\"csv\": \"%s\"}}}",
             csv);

    report_init(&rep);
    t0 = bench_now();
    rc = config_parse(&cfg, json, dir, &rep);
    if (rc == 0)
        rc = dataset_load(&ds, &cfg, 0, &rep);
    t1 = bench_now();
    getrusage(RUSAGE_SELF, &ru);

    for (size_t i = 0; i < rep.count; i++)
        fprintf(stderr, "%s: %s\n", report_severity_name(rep.entries[i].severity),
                rep.entries[i].message);
    if (rc == 0) {
        printf("bench_csv: %ld rows, %zu outputs (%u, %u, %u classes)\n", rows, ds.output_count,
               ds.outputs[0].class_count, ds.outputs[1].class_count, ds.outputs[2].class_count);
        printf("bench_csv: dataset_load %.3f s, peak RSS %.1f MB (targets: < 1.5 s, < 250 MB)\n",
               t1 - t0, (double)ru.ru_maxrss / 1024.0);
        dataset_free(&ds);
    }
    config_free(&cfg);
    report_free(&rep);
    unlink(csv);
    rmdir(dir);
    return rc == 0 ? 0 : 1;
}
