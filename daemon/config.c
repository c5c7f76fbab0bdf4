/*
 * config.c: the JSON config file, read with cJSON into a config_t.
 *
 * Every object is parsed by walking its keys in document order, so an
 * unknown key (a typo) is found in the same pass that reads the known ones.
 * Each problem is reported with the JSON path of the value and what was
 * expected, and parsing carries on so that one run lists every problem.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

/*
 * A config file is a few kilobytes; refusing anything above 1 MiB stops a
 * mistaken path (a CSV, an image) from being slurped and parsed as JSON.
 */
#define CONFIG_MAX_BYTES (1u << 20)

/* Longest JSON path in a message ("streams.validation.batch_size" etc.). */
#define CONFIG_PATH_MAX 256

/* image.size: 16384 pixels a side is far beyond any training input. */
#define CONFIG_MAX_SIDE 16384
/* workers: more processes than this only thrash. */
#define CONFIG_MAX_WORKERS 1024
/* Slots per stream: 2 lets one fill while one is leased; 1024 bounds shm. */
#define CONFIG_MIN_RING_SLOTS 2
#define CONFIG_MAX_RING_SLOTS 1024
/* batch_timeout: a day; a batch taking longer is not a batch. */
#define CONFIG_MAX_BATCH_TIMEOUT 86400
/* Samples per batch; bounds one slot's size together with image.size. */
#define CONFIG_MAX_BATCH 65536
/* JSON numbers are doubles: integers above 2^53 are not exact. */
#define CONFIG_MAX_EXACT_INT 9007199254740991.0

/* Parsing state shared by every helper. */
typedef struct cfg_parser {
    config_t *cfg;
    report_t *rep;
    const char *base_dir; /* Folder relative paths resolve against. */
    int given_scale;      /* image.scale or image.offset appeared. */
    int given_mean_std;   /* image.mean or image.std appeared. */
    int given_mean;
    int given_std;
} cfg_parser_t;

static const char *const resize_names[RESIZE_MAX] = {"stretch", "fit", "crop"};
static const char *const interp_names[INTERP_MAX] = {"nearest", "bilinear", "area"};
static const char *const color_names[COLOR_MAX] = {"rgb", "grayscale"};
static const char *const dtype_names[DTYPE_MAX] = {"uint8", "float32"};
static const char *const layout_names[LAYOUT_MAX] = {"NHWC", "NCHW"};
static const char *const kind_names[OUTPUT_KIND_MAX] = {"multi_class", "multi_label"};
static const char *const encoding_names[ENCODING_MAX] = {"onehot", "index"};
static const char *const missing_label_names[MISSING_LABEL_MAX] = {"error", "skip_row"};
static const char *const missing_file_names[MISSING_FILE_MAX] = {"drop", "fail"};

void config_image_defaults(image_config_t *img)
{
    memset(img, 0, sizeof(*img));
    img->width = 224;
    img->height = 224;
    img->resize = RESIZE_STRETCH;
    img->interpolation = INTERP_BILINEAR;
    img->color = COLOR_RGB;
    img->dtype = DTYPE_UINT8;
    img->layout = LAYOUT_NHWC;
    img->scale = 1.0f;
    img->offset = 0.0f;
    for (int c = 0; c < 3; c++) {
        img->mean[c] = 0.0f;
        img->std[c] = 1.0f;
        img->fill[c] = 0;
        img->background[c] = 255;
    }
    img->exif_orientation = 1;
    img->jpeg_planes = 1;
    img->max_pixels = 100000000u;
    img->max_file_bytes = 64u << 20;
}

void config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->socket_path = mogen_strdup("/run/mogen/mogen.sock");
    cfg->socket_mode = 0660;
    cfg->workers = 0;
    config_image_defaults(&cfg->image);
    cfg->path.missing = MISSING_FILE_DROP;
    cfg->augment.rotate[0] = cfg->augment.rotate[1] = 0.0;
    cfg->augment.scale[0] = cfg->augment.scale[1] = 1.0;
    cfg->augment.contrast[0] = cfg->augment.contrast[1] = 1.0;
    cfg->seed = 1;
    cfg->ring_slots = 8;
    cfg->batch_timeout = 120;
}

static void output_free(output_config_t *o)
{
    mogen_free(o->name);
    for (size_t i = 0; i < o->column_count; i++)
        mogen_free(o->columns[i]);
    mogen_free(o->columns);
    mogen_free(o->separator);
    mogen_free(o->where);
}

void config_free(config_t *cfg)
{
    mogen_free(cfg->source_path);
    mogen_free(cfg->socket_path);
    mogen_free(cfg->socket_group);
    mogen_free(cfg->classes_dir);
    mogen_free(cfg->shm_dir);
    mogen_free(cfg->path.column);
    mogen_free(cfg->path.root);
    mogen_free(cfg->path.suffix);
    for (size_t i = 0; i < cfg->output_count; i++)
        output_free(&cfg->outputs[i]);
    mogen_free(cfg->outputs);
    for (size_t i = 0; i < cfg->stream_count; i++) {
        mogen_free(cfg->streams[i].name);
        mogen_free(cfg->streams[i].csv);
    }
    mogen_free(cfg->streams);
    memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------------------ */
/* Small helpers for messages. */

/* Marks a path that snprintf() cut short (n is its return value). */
static void cfg_mark_cut(char *out, size_t outlen, int n)
{
    if ((n < 0 || (size_t)n >= outlen) && outlen >= 4)
        memcpy(out + outlen - 4, "...", 4);
}

/* Writes parent.key (or key at the top level) into out. */
static void cfg_join(char *out, size_t outlen, const char *parent, const char *key)
{
    int n;

    if (parent[0] == '\0')
        n = snprintf(out, outlen, "%s", key);
    else
        n = snprintf(out, outlen, "%s.%s", parent, key);
    cfg_mark_cut(out, outlen, n);
}

/* Writes parent[index] into out. */
static void cfg_index(char *out, size_t outlen, const char *parent, size_t index)
{
    cfg_mark_cut(out, outlen, snprintf(out, outlen, "%s[%zu]", parent, index));
}

/*
 * Writes a short JSON rendering of item into out for "got ..." in messages,
 * cut with "..." when long. Returns out.
 */
static const char *cfg_show(const cJSON *item, char *out, size_t outlen)
{
    char *text = cJSON_PrintUnformatted(item);

    if (text == NULL) {
        snprintf(out, outlen, "(unprintable)");
        return out;
    }
    if (strlen(text) >= outlen && outlen > 4) {
        memcpy(out, text, outlen - 4);
        memcpy(out + outlen - 4, "...", 4);
    } else {
        snprintf(out, outlen, "%s", text);
    }
    cJSON_free(text);
    return out;
}

/* Edit distance of two short strings, counting a swap of two neighbouring
 * letters ("knid" for "kind") as one edit, like an insertion, a deletion or
 * a substitution (optimal string alignment); long ones count as far apart. */
static size_t cfg_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t before[65], prev[65], cur[65]; /* rows i-2, i-1 and i */

    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            cur[j] = best;
        }
        memcpy(before, prev, (lb + 1) * sizeof(size_t));
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

const char *config_suggest(const char *word, const char *const *names, char *out, size_t outlen)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t limit = strlen(word) <= 4 ? 1 : 2;

    for (size_t i = 0; names[i] != NULL; i++) {
        size_t d = cfg_distance(word, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    if (best != NULL && best_d <= limit)
        snprintf(out, outlen, " (did you mean \"%s\"?)", best);
    else if (outlen > 0)
        out[0] = '\0';
    return out;
}

/* Writes "\"a\", \"b\" or \"c\"" for the count names into out. */
static void cfg_list_names(const char *const *names, size_t count, char *out, size_t outlen)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < count && used < outlen; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
        int n = snprintf(out + used, outlen - used, "%s\"%s\"", sep, names[i]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

/* Joins base_dir and a relative path; absolute paths are kept. */
static char *cfg_resolve(const char *base_dir, const char *path)
{
    size_t lb;
    size_t lp;
    char *out;

    if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        return mogen_strdup(path);
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    if (strcmp(path, ".") == 0)
        return mogen_strdup(base_dir);
    lb = strlen(base_dir);
    lp = strlen(path);
    while (lb > 1 && base_dir[lb - 1] == '/')
        lb--;
    out = mogen_malloc(lb + 1 + lp + 1);
    memcpy(out, base_dir, lb);
    out[lb] = '/';
    memcpy(out + lb + 1, path, lp + 1);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Typed value readers: each reports what it expected and returns 0 or -1. */

/*
 * Checks that item is an object whose keys are all in the NULL-terminated
 * allowed list and appear once. Reports each unknown or repeated key and
 * returns 0 when item is an object at all (its known keys can be read), -1
 * when it is not.
 */
static int cfg_object(cfg_parser_t *p, const cJSON *item, const char *path,
                      const char *const *allowed, const char *what)
{
    char got[64];
    char hint[64];
    char sub[CONFIG_PATH_MAX];

    if (!cJSON_IsObject(item)) {
        report_error(p->rep, "%s: expected %s, got %s", path[0] ? path : "(top level)", what,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    for (const cJSON *c = item->child; c != NULL; c = c->next) {
        int known = 0;
        for (size_t i = 0; allowed != NULL && allowed[i] != NULL; i++)
            if (strcmp(c->string, allowed[i]) == 0)
                known = 1;
        cfg_join(sub, sizeof(sub), path, c->string);
        if (allowed != NULL && !known) {
            report_error(p->rep, "%s: unknown key%s", sub,
                         config_suggest(c->string, allowed, hint, sizeof(hint)));
            continue;
        }
        for (const cJSON *d = item->child; d != c; d = d->next) {
            if (strcmp(d->string, c->string) == 0) {
                report_error(p->rep, "%s: the key appears more than once", sub);
                break;
            }
        }
    }
    return 0;
}

/* A non-empty string, copied into *out (replacing what was there). */
static int cfg_string(cfg_parser_t *p, const cJSON *item, const char *path, char **out)
{
    char got[64];

    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        report_error(p->rep, "%s: expected a non-empty string, got %s", path,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    mogen_free(*out);
    *out = mogen_strdup(item->valuestring);
    return 0;
}

/* A string (possibly empty) or null, which sets *out to NULL. */
static int cfg_string_or_null(cfg_parser_t *p, const cJSON *item, const char *path, char **out)
{
    char got[64];

    if (cJSON_IsNull(item)) {
        mogen_free(*out);
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(item)) {
        report_error(p->rep, "%s: expected a string or null, got %s", path,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    mogen_free(*out);
    *out = mogen_strdup(item->valuestring);
    return 0;
}

/* A path: a non-empty string (resolved against the config's folder) or null. */
static int cfg_path(cfg_parser_t *p, const cJSON *item, const char *path, char **out)
{
    char got[64];

    if (cJSON_IsNull(item)) {
        mogen_free(*out);
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        report_error(p->rep, "%s: expected a path (a non-empty string) or null, got %s", path,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    mogen_free(*out);
    *out = cfg_resolve(p->base_dir, item->valuestring);
    return 0;
}

static int cfg_bool(cfg_parser_t *p, const cJSON *item, const char *path, int *out)
{
    char got[64];

    if (!cJSON_IsBool(item)) {
        report_error(p->rep, "%s: expected true or false, got %s", path,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return 0;
}

/* An integer in [min, max]. */
static int cfg_uint(cfg_parser_t *p, const cJSON *item, const char *path, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    char got[64];
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;

    if (!cJSON_IsNumber(item) || v != floor(v) || v < (double)min || v > (double)max ||
        v > CONFIG_MAX_EXACT_INT) {
        report_error(p->rep, "%s: expected an integer from %llu to %llu, got %s", path,
                     (unsigned long long)min, (unsigned long long)max,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int cfg_uint32(cfg_parser_t *p, const cJSON *item, const char *path, uint32_t min,
                      uint32_t max, uint32_t *out)
{
    uint64_t v;

    if (cfg_uint(p, item, path, min, max, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A finite number in [min, max]. */
static int cfg_number(cfg_parser_t *p, const cJSON *item, const char *path, double min,
                      double max, double *out)
{
    char got[64];

    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < min ||
        item->valuedouble > max) {
        report_error(p->rep, "%s: expected a number from %g to %g, got %s", path, min, max,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    *out = item->valuedouble;
    return 0;
}

/* One of count names (exact match), stored as its index. */
static int cfg_enum(cfg_parser_t *p, const cJSON *item, const char *path,
                    const char *const *names, size_t count, int *out)
{
    char got[64];
    char list[160];
    char hint[64];
    const char *all[16];

    for (size_t i = 0; i < count && i < 15; i++)
        all[i] = names[i];
    all[count < 15 ? count : 15] = NULL;
    if (cJSON_IsString(item)) {
        for (size_t i = 0; i < count; i++) {
            if (strcasecmp(item->valuestring, names[i]) == 0) {
                *out = (int)i;
                return 0;
            }
        }
    }
    cfg_list_names(names, count, list, sizeof(list));
    report_error(p->rep, "%s: expected %s, got %s%s", path, list, cfg_show(item, got, sizeof(got)),
                 cJSON_IsString(item) ? config_suggest(item->valuestring, all, hint, sizeof(hint)) : "");
    return -1;
}

/*
 * A range [min, max] with lo <= min <= max <= hi, or one number x which
 * means [center - x, center + x] (Keras's rotation_range=40 is [-40, 40],
 * zoom_range=0.2 is [0.8, 1.2]).
 */
static int cfg_range(cfg_parser_t *p, const cJSON *item, const char *path, double lo, double hi,
                     double center, double out[2])
{
    char got[64];
    double a;
    double b;

    if (cJSON_IsNumber(item) && isfinite(item->valuedouble) && item->valuedouble >= 0) {
        a = center - item->valuedouble;
        b = center + item->valuedouble;
    } else if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2 &&
               cJSON_IsNumber(cJSON_GetArrayItem(item, 0)) &&
               cJSON_IsNumber(cJSON_GetArrayItem(item, 1))) {
        a = cJSON_GetArrayItem(item, 0)->valuedouble;
        b = cJSON_GetArrayItem(item, 1)->valuedouble;
    } else {
        report_error(p->rep, "%s: expected [min, max] or one non-negative number, got %s", path,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    if (!(a >= lo && b <= hi && a <= b)) {
        report_error(p->rep, "%s: expected min <= max within [%g, %g], got %s", path, lo, hi,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    out[0] = a;
    out[1] = b;
    return 0;
}

/*
 * count numbers in [min, max] as an array, or one number for all of them
 * (a grey fill, a mean shared by every channel).
 */
static int cfg_numbers(cfg_parser_t *p, const cJSON *item, const char *path, size_t count,
                       double min, double max, double *out)
{
    char got[64];

    if (cJSON_IsNumber(item) && item->valuedouble >= min && item->valuedouble <= max) {
        for (size_t i = 0; i < count; i++)
            out[i] = item->valuedouble;
        return 0;
    }
    if (cJSON_IsArray(item) && (size_t)cJSON_GetArraySize(item) == count) {
        size_t i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, item)
        {
            if (!cJSON_IsNumber(c) || c->valuedouble < min || c->valuedouble > max)
                break;
            out[i++] = c->valuedouble;
        }
        if (i == count)
            return 0;
    }
    report_error(p->rep, "%s: expected %zu numbers from %g to %g (or one for all), got %s", path,
                 count, min, max, cfg_show(item, got, sizeof(got)));
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Sections. */

/* image.size: [width, height], or one integer for a square. */
static void cfg_image_size(cfg_parser_t *p, const cJSON *item, const char *path)
{
    char got[64];
    const cJSON *w = NULL;
    const cJSON *h = NULL;

    if (cJSON_IsNumber(item)) {
        w = h = item;
    } else if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2) {
        w = cJSON_GetArrayItem(item, 0);
        h = cJSON_GetArrayItem(item, 1);
    }
    if (w == NULL || !cJSON_IsNumber(w) || !cJSON_IsNumber(h) ||
        w->valuedouble != floor(w->valuedouble) || h->valuedouble != floor(h->valuedouble) ||
        w->valuedouble < 1 || h->valuedouble < 1 || w->valuedouble > CONFIG_MAX_SIDE ||
        h->valuedouble > CONFIG_MAX_SIDE) {
        report_error(p->rep, "%s: expected [width, height] of positive integers up to %d, got %s",
                     path, CONFIG_MAX_SIDE, cfg_show(item, got, sizeof(got)));
        return;
    }
    p->cfg->image.width = (uint32_t)w->valuedouble;
    p->cfg->image.height = (uint32_t)h->valuedouble;
}

/* An RGB colour: [r, g, b] of 0..255, or one value for a grey. */
static void cfg_color(cfg_parser_t *p, const cJSON *item, const char *path, uint8_t out[3])
{
    double v[3];

    if (cfg_numbers(p, item, path, 3, 0, 255, v) != 0)
        return;
    for (int c = 0; c < 3; c++) {
        if (v[c] != floor(v[c])) {
            char got[64];
            report_error(p->rep, "%s: expected integers from 0 to 255, got %s", path,
                         cfg_show(item, got, sizeof(got)));
            return;
        }
    }
    for (int c = 0; c < 3; c++)
        out[c] = (uint8_t)v[c];
}

static void cfg_image(cfg_parser_t *p, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"size", "resize", "interpolation", "color", "dtype",
                                       "layout", "scale", "offset", "mean", "std", "fill",
                                       "background", "exif_orientation", "jpeg_planes",
                                       "max_pixels", "max_file_bytes", NULL};
    image_config_t *im = &p->cfg->image;
    char sub[CONFIG_PATH_MAX];

    if (cfg_object(p, obj, path, keys, "an object") != 0)
        return;
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        const char *k = c->string;
        int e;
        double d;
        double v3[3];

        cfg_join(sub, sizeof(sub), path, k);
        if (strcmp(k, "size") == 0) {
            cfg_image_size(p, c, sub);
        } else if (strcmp(k, "resize") == 0) {
            if (cfg_enum(p, c, sub, resize_names, RESIZE_MAX, &e) == 0)
                im->resize = (resize_mode_t)e;
        } else if (strcmp(k, "interpolation") == 0) {
            if (cfg_enum(p, c, sub, interp_names, INTERP_MAX, &e) == 0)
                im->interpolation = (interpolation_t)e;
        } else if (strcmp(k, "color") == 0) {
            if (cfg_enum(p, c, sub, color_names, COLOR_MAX, &e) == 0)
                im->color = (color_mode_t)e;
        } else if (strcmp(k, "dtype") == 0) {
            if (cfg_enum(p, c, sub, dtype_names, DTYPE_MAX, &e) == 0)
                im->dtype = (pixel_dtype_t)e;
        } else if (strcmp(k, "layout") == 0) {
            if (cfg_enum(p, c, sub, layout_names, LAYOUT_MAX, &e) == 0)
                im->layout = (tensor_layout_t)e;
        } else if (strcmp(k, "scale") == 0) {
            p->given_scale = 1;
            if (cfg_number(p, c, sub, -1e6, 1e6, &d) == 0)
                im->scale = (float)d;
        } else if (strcmp(k, "offset") == 0) {
            p->given_scale = 1;
            if (cfg_number(p, c, sub, -1e6, 1e6, &d) == 0)
                im->offset = (float)d;
        } else if (strcmp(k, "mean") == 0) {
            p->given_mean_std = p->given_mean = 1;
            if (cfg_numbers(p, c, sub, 3, -1e6, 1e6, v3) == 0)
                for (int i = 0; i < 3; i++)
                    im->mean[i] = (float)v3[i];
        } else if (strcmp(k, "std") == 0) {
            p->given_mean_std = p->given_std = 1;
            if (cfg_numbers(p, c, sub, 3, 1e-6, 1e6, v3) == 0)
                for (int i = 0; i < 3; i++)
                    im->std[i] = (float)v3[i];
        } else if (strcmp(k, "fill") == 0) {
            cfg_color(p, c, sub, im->fill);
        } else if (strcmp(k, "background") == 0) {
            cfg_color(p, c, sub, im->background);
        } else if (strcmp(k, "exif_orientation") == 0) {
            cfg_bool(p, c, sub, &im->exif_orientation);
        } else if (strcmp(k, "jpeg_planes") == 0) {
            cfg_bool(p, c, sub, &im->jpeg_planes);
        } else if (strcmp(k, "max_pixels") == 0) {
            cfg_uint(p, c, sub, 1, (uint64_t)CONFIG_MAX_EXACT_INT, &im->max_pixels);
        } else if (strcmp(k, "max_file_bytes") == 0) {
            cfg_uint(p, c, sub, 1, (uint64_t)CONFIG_MAX_EXACT_INT, &im->max_file_bytes);
        }
    }
}

static void cfg_path_section(cfg_parser_t *p, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"column", "root", "suffix", "missing", NULL};
    path_config_t *pc = &p->cfg->path;
    char sub[CONFIG_PATH_MAX];

    if (cfg_object(p, obj, path, keys, "an object") != 0)
        return;
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        const char *k = c->string;
        int e;

        cfg_join(sub, sizeof(sub), path, k);
        if (strcmp(k, "column") == 0) {
            if (cJSON_IsNull(c)) {
                mogen_free(pc->column);
                pc->column = NULL;
            } else {
                cfg_string(p, c, sub, &pc->column);
            }
        } else if (strcmp(k, "root") == 0) {
            cfg_path(p, c, sub, &pc->root);
        } else if (strcmp(k, "suffix") == 0) {
            cfg_string_or_null(p, c, sub, &pc->suffix);
            if (pc->suffix != NULL && pc->suffix[0] == '\0') {
                mogen_free(pc->suffix);
                pc->suffix = NULL;
            }
        } else if (strcmp(k, "missing") == 0) {
            if (cfg_enum(p, c, sub, missing_file_names, MISSING_FILE_MAX, &e) == 0)
                pc->missing = (missing_file_policy_t)e;
        }
    }
}

/*
 * Output and stream names become tensor names and file names
 * (<name>_classes.txt), so they are kept to a safe alphabet.
 */
static int cfg_check_name(cfg_parser_t *p, const char *name, const char *path, const char *what)
{
    if (name[0] == '\0' || name[0] == '.' || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "abcdefghijklmnopqrstuvwxyz"
                                                         "0123456789_.-") != strlen(name)) {
        report_error(p->rep, "%s: %s \"%s\" may hold only letters, digits, '_', '.' and '-' "
                     "(and may not start with '.')", path, what, name);
        return -1;
    }
    return 0;
}

/* Appends a zeroed output and returns it. */
static output_config_t *cfg_add_output(config_t *cfg)
{
    cfg->outputs = mogen_reallocarray(cfg->outputs, cfg->output_count + 1, sizeof(*cfg->outputs));
    output_config_t *o = &cfg->outputs[cfg->output_count++];
    memset(o, 0, sizeof(*o));
    return o;
}

/*
 * Reads a list of column names (non-empty strings, no repeats) into o.
 * Returns 0 or -1.
 */
static int cfg_columns(cfg_parser_t *p, const cJSON *item, const char *path, output_config_t *o)
{
    char got[64];
    int n;

    if (!cJSON_IsArray(item) || (n = cJSON_GetArraySize(item)) < 1) {
        report_error(p->rep, "%s: expected a list of column names, got %s", path,
                     cfg_show(item, got, sizeof(got)));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetArrayItem(item, i);
        if (!cJSON_IsString(c) || c->valuestring[0] == '\0') {
            char sub[CONFIG_PATH_MAX];
            cfg_index(sub, sizeof(sub), path, (size_t)i);
            report_error(p->rep, "%s: expected a column name, got %s", sub,
                         cfg_show(c, got, sizeof(got)));
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(cJSON_GetArrayItem(item, j)->valuestring, c->valuestring) == 0) {
                report_error(p->rep, "%s: column \"%s\" is listed twice", path, c->valuestring);
                return -1;
            }
        }
    }
    o->columns = mogen_calloc((size_t)n, sizeof(*o->columns));
    for (int i = 0; i < n; i++)
        o->columns[o->column_count++] = mogen_strdup(cJSON_GetArrayItem(item, i)->valuestring);
    return 0;
}

/* One multi_class output: "column" or {"column", "encoding", "missing"}. */
static void cfg_multi_class(cfg_parser_t *p, const cJSON *v, const char *path, output_config_t *o)
{
    static const char *const keys[] = {"column", "encoding", "missing", NULL};
    char got[64];
    char sub[CONFIG_PATH_MAX];
    int e;

    if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
        o->columns = mogen_calloc(1, sizeof(*o->columns));
        o->columns[0] = mogen_strdup(v->valuestring);
        o->column_count = 1;
        return;
    }
    if (!cJSON_IsObject(v)) {
        report_error(p->rep, "%s: expected a column name or {\"column\": ...}, got %s", path,
                     cfg_show(v, got, sizeof(got)));
        return;
    }
    cfg_object(p, v, path, keys, "an object");
    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        cfg_join(sub, sizeof(sub), path, c->string);
        if (strcmp(c->string, "column") == 0) {
            char *col = NULL;
            if (cfg_string(p, c, sub, &col) == 0 && o->column_count == 0) {
                o->columns = mogen_calloc(1, sizeof(*o->columns));
                o->columns[0] = col;
                o->column_count = 1;
            } else {
                mogen_free(col);
            }
        } else if (strcmp(c->string, "encoding") == 0) {
            if (cfg_enum(p, c, sub, encoding_names, ENCODING_MAX, &e) == 0)
                o->encoding = (label_encoding_t)e;
        } else if (strcmp(c->string, "missing") == 0) {
            if (cfg_enum(p, c, sub, missing_label_names, MISSING_LABEL_MAX, &e) == 0)
                o->missing = (missing_label_policy_t)e;
        }
    }
    if (cJSON_GetObjectItemCaseSensitive(v, "column") == NULL)
        report_error(p->rep, "%s: \"column\" is required (the CSV column holding the class)", path);
}

/* One multi_label output: ["col", ...] or {"columns": [...], "separator": "|"}. */
static void cfg_multi_label(cfg_parser_t *p, const cJSON *v, const char *path, output_config_t *o)
{
    static const char *const keys[] = {"columns", "separator", NULL};
    char got[64];
    char sub[CONFIG_PATH_MAX];

    if (cJSON_IsArray(v)) {
        cfg_columns(p, v, path, o);
        return;
    }
    if (!cJSON_IsObject(v)) {
        report_error(p->rep, "%s: expected a list of column names or {\"columns\": [...]}, got %s",
                     path, cfg_show(v, got, sizeof(got)));
        return;
    }
    cfg_object(p, v, path, keys, "an object");
    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        cfg_join(sub, sizeof(sub), path, c->string);
        if (strcmp(c->string, "columns") == 0 && o->column_count == 0) {
            cfg_columns(p, c, sub, o);
        } else if (strcmp(c->string, "separator") == 0) {
            if (cJSON_IsNull(c)) {
                mogen_free(o->separator);
                o->separator = NULL;
            } else {
                cfg_string(p, c, sub, &o->separator);
            }
        }
    }
    if (cJSON_GetObjectItemCaseSensitive(v, "columns") == NULL)
        report_error(p->rep, "%s: \"columns\" is required (the CSV columns to pool)", path);
}

/* outputs.multi_class or outputs.multi_label: a list of {name: spec}. */
static void cfg_output_list(cfg_parser_t *p, const cJSON *list, const char *path, output_kind_t kind)
{
    char got[64];
    char elem[CONFIG_PATH_MAX];
    char sub[CONFIG_PATH_MAX];
    int i = 0;
    const cJSON *e;

    if (!cJSON_IsArray(list)) {
        report_error(p->rep, "%s: expected a list like [{\"output_name\": %s}], got %s", path,
                     kind == OUTPUT_MULTI_CLASS ? "\"column\"" : "[\"column\", ...]",
                     cfg_show(list, got, sizeof(got)));
        return;
    }
    cJSON_ArrayForEach(e, list)
    {
        cfg_index(elem, sizeof(elem), path, (size_t)i++);
        if (!cJSON_IsObject(e) || e->child == NULL) {
            report_error(p->rep, "%s: expected {\"output_name\": ...}, got %s", elem,
                         cfg_show(e, got, sizeof(got)));
            continue;
        }
        for (const cJSON *c = e->child; c != NULL; c = c->next) {
            const char *where = elem;
            if (e->child->next != NULL) {
                cfg_join(sub, sizeof(sub), elem, c->string);
                where = sub;
            }
            if (cfg_check_name(p, c->string, where, "output name") != 0)
                continue;
            output_config_t *o = cfg_add_output(p->cfg);
            o->name = mogen_strdup(c->string);
            o->kind = kind;
            o->where = mogen_strdup(where);
            if (kind == OUTPUT_MULTI_CLASS)
                cfg_multi_class(p, c, where, o);
            else
                cfg_multi_label(p, c, where, o);
        }
    }
}

static void cfg_outputs(cfg_parser_t *p, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"multi_class", "multi_label", NULL};
    char sub[CONFIG_PATH_MAX];

    if (cfg_object(p, obj, path, keys, "{\"multi_class\": [...], \"multi_label\": [...]}") != 0)
        return;
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        cfg_join(sub, sizeof(sub), path, c->string);
        if (strcmp(c->string, "multi_class") == 0)
            cfg_output_list(p, c, sub, OUTPUT_MULTI_CLASS);
        else if (strcmp(c->string, "multi_label") == 0)
            cfg_output_list(p, c, sub, OUTPUT_MULTI_LABEL);
    }
}

static void cfg_streams(cfg_parser_t *p, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"csv", "shuffle", "augment", "batch_size", "drop_last",
                                       NULL};
    char spath[CONFIG_PATH_MAX];
    char sub[CONFIG_PATH_MAX];
    config_t *cfg = p->cfg;

    if (cfg_object(p, obj, path, NULL, "an object of named streams like {\"train\": {...}}") != 0)
        return;
    for (const cJSON *s = obj->child; s != NULL; s = s->next) {
        stream_config_t *st;
        int is_train = strcmp(s->string, "train") == 0;

        cfg_join(spath, sizeof(spath), path, s->string);
        if (cfg_check_name(p, s->string, spath, "stream name") != 0)
            continue;
        if (cfg_object(p, s, spath, keys, "an object like {\"csv\": \"train.csv\"}") != 0)
            continue;
        cfg->streams = mogen_reallocarray(cfg->streams, cfg->stream_count + 1, sizeof(*cfg->streams));
        st = &cfg->streams[cfg->stream_count++];
        memset(st, 0, sizeof(*st));
        st->name = mogen_strdup(s->string);
        st->shuffle = is_train;
        st->augment = is_train;
        st->batch_size = 32;
        st->drop_last = 0;
        for (const cJSON *c = s->child; c != NULL; c = c->next) {
            cfg_join(sub, sizeof(sub), spath, c->string);
            if (strcmp(c->string, "csv") == 0) {
                if (cJSON_IsNull(c))
                    report_error(p->rep, "%s: expected a path to a CSV file, got null", sub);
                else
                    cfg_path(p, c, sub, &st->csv);
            } else if (strcmp(c->string, "shuffle") == 0) {
                cfg_bool(p, c, sub, &st->shuffle);
            } else if (strcmp(c->string, "augment") == 0) {
                cfg_bool(p, c, sub, &st->augment);
            } else if (strcmp(c->string, "batch_size") == 0) {
                cfg_uint32(p, c, sub, 1, CONFIG_MAX_BATCH, &st->batch_size);
            } else if (strcmp(c->string, "drop_last") == 0) {
                cfg_bool(p, c, sub, &st->drop_last);
            }
        }
        if (cJSON_GetObjectItemCaseSensitive(s, "csv") == NULL) {
            cfg_join(sub, sizeof(sub), spath, "csv");
            report_error(p->rep, "%s: required (the CSV file this stream reads)", sub);
        }
    }
}

/* A flip probability: 0..1, or true (0.5, as Keras's horizontal_flip=True) / false. */
static void cfg_probability(cfg_parser_t *p, const cJSON *item, const char *path, double *out)
{
    char got[64];

    if (cJSON_IsBool(item)) {
        *out = cJSON_IsTrue(item) ? 0.5 : 0.0;
        return;
    }
    if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0 && item->valuedouble <= 1)) {
        report_error(p->rep, "%s: expected a probability from 0 to 1 (or true for 0.5), got %s",
                     path, cfg_show(item, got, sizeof(got)));
        return;
    }
    *out = item->valuedouble;
}

static void cfg_augment(cfg_parser_t *p, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"flip_horizontal", "flip_vertical", "rotate",
                                       "translate", "scale", "shear", "brightness",
                                       "contrast", NULL};
    augment_config_t *a = &p->cfg->augment;
    char sub[CONFIG_PATH_MAX];

    if (cfg_object(p, obj, path, keys, "an object") != 0)
        return;
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        const char *k = c->string;

        cfg_join(sub, sizeof(sub), path, k);
        if (strcmp(k, "flip_horizontal") == 0) {
            cfg_probability(p, c, sub, &a->flip_horizontal);
        } else if (strcmp(k, "flip_vertical") == 0) {
            cfg_probability(p, c, sub, &a->flip_vertical);
        } else if (strcmp(k, "rotate") == 0) {
            cfg_range(p, c, sub, -180, 180, 0, a->rotate);
        } else if (strcmp(k, "translate") == 0) {
            cfg_numbers(p, c, sub, 2, 0, 1, a->translate);
        } else if (strcmp(k, "scale") == 0) {
            /* A zoom factor near 0 would shrink the image to nothing. */
            cfg_range(p, c, sub, 0.01, 10, 1, a->scale);
        } else if (strcmp(k, "shear") == 0) {
            /* Beyond about 1.5 rad (86 degrees) the shear folds the image flat. */
            cfg_range(p, c, sub, -1.5, 1.5, 0, a->shear);
        } else if (strcmp(k, "brightness") == 0) {
            cfg_range(p, c, sub, -1, 1, 0, a->brightness);
        } else if (strcmp(k, "contrast") == 0) {
            cfg_range(p, c, sub, 0, 10, 1, a->contrast);
        }
    }
}

/*
 * socket_mode: a string of octal digits ("0660") or an integer whose digits
 * are read as octal (660 means 0660, since JSON has no octal literals).
 */
static void cfg_socket_mode(cfg_parser_t *p, const cJSON *item, const char *path)
{
    char got[64];
    char digits[32];
    unsigned long mode;
    char *end;

    if (cJSON_IsString(item))
        snprintf(digits, sizeof(digits), "%s", item->valuestring);
    else if (cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble <= 7777 &&
             item->valuedouble == floor(item->valuedouble))
        snprintf(digits, sizeof(digits), "%d", (int)item->valuedouble);
    else
        digits[0] = '\0';
    if (digits[0] != '\0' && strspn(digits, "01234567") == strlen(digits)) {
        mode = strtoul(digits, &end, 8);
        if (*end == '\0' && mode <= 0777) {
            p->cfg->socket_mode = (uint32_t)mode;
            return;
        }
    }
    report_error(p->rep, "%s: expected permission bits in octal like \"0660\", got %s", path,
                 cfg_show(item, got, sizeof(got)));
}

/* Checks that involve more than one key, once every key is read. */
static void cfg_cross_checks(cfg_parser_t *p)
{
    config_t *cfg = p->cfg;

    if (cfg->image.dtype != DTYPE_FLOAT32 && (p->given_scale || p->given_mean_std))
        report_error(p->rep, "image: scale, offset, mean and std apply only when image.dtype is "
                     "\"float32\"");
    if (p->given_scale && p->given_mean_std)
        report_error(p->rep, "image: give either scale/offset or mean/std, not both");
    if (p->given_mean_std)
        p->cfg->image.has_mean_std = 1;
    for (size_t i = 0; i < cfg->output_count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->outputs[i].name, cfg->outputs[j].name) == 0) {
                report_error(p->rep, "%s: output name \"%s\" is already used by %s",
                             cfg->outputs[i].where, cfg->outputs[i].name, cfg->outputs[j].where);
                break;
            }
        }
    }
    if (cfg->stream_count == 0)
        report_error(p->rep, "streams: at least one stream is required, e.g. "
                     "{\"train\": {\"csv\": \"train.csv\"}}");
}

/*
 * Blanks out // and block comments in place (keeping line breaks, so that
 * JSON error positions still match the file). The example config in
 * DESIGN.md carries // comments, and commented configs read better.
 */
static void cfg_strip_comments(char *s)
{
    int in_string = 0;

    for (; *s != '\0'; s++) {
        if (in_string) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            else if (*s == '"')
                in_string = 0;
        } else if (*s == '"') {
            in_string = 1;
        } else if (s[0] == '/' && s[1] == '/') {
            while (*s != '\0' && *s != '\n')
                *s++ = ' ';
            if (*s == '\0')
                return;
        } else if (s[0] == '/' && s[1] == '*') {
            *s++ = ' ';
            *s = ' ';
            while (s[1] != '\0' && !(s[1] == '*' && s[2] == '/')) {
                s++;
                if (*s != '\n')
                    *s = ' ';
            }
            if (s[1] == '\0')
                return;
            s[1] = ' ';
            s[2] = ' ';
            s += 2;
        }
    }
}

/*
 * Parses json into cfg, which already holds the defaults; name is how
 * messages call the file. Returns 0, or -EINVAL when errors were reported.
 */
static int cfg_parse_text(config_t *cfg, const char *json, const char *base_dir, const char *name,
                          report_t *rep)
{
    static const char *const keys[] = {"socket", "socket_mode", "socket_group", "workers",
                                       "classes_dir", "shm_dir", "image", "path", "outputs",
                                       "streams", "augment", "seed", "ring_slots",
                                       "batch_timeout", NULL};
    size_t errors_before = rep->error_count;
    cfg_parser_t p;
    cJSON *root;
    char *text;
    char cwd[4096];

    if (base_dir == NULL)
        base_dir = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.rep = rep;
    p.base_dir = base_dir;

    text = mogen_strdup(json);
    cfg_strip_comments(text);
    root = cJSON_Parse(text);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t line = 1;
        size_t col = 1;
        char near[32];
        if (at == NULL || at < text || at > text + strlen(text))
            at = text;
        for (const char *q = text; q < at; q++) {
            if (*q == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        snprintf(near, sizeof(near), "%s", at);
        for (char *q = near; *q; q++)
            if (*q == '\n' || *q == '\r' || *q == '\t')
                *q = ' ';
        report_error(rep, "%s:%zu:%zu: invalid JSON near \"%s\"", name, line, col, near);
        mogen_free(text);
        return -EINVAL;
    }
    mogen_free(text);

    if (cfg_object(&p, root, "", keys, "a JSON object") == 0) {
        for (const cJSON *c = root->child; c != NULL; c = c->next) {
            const char *k = c->string;
            if (strcmp(k, "socket") == 0) {
                if (cJSON_IsNull(c))
                    report_error(rep, "socket: expected a path, got null");
                else
                    cfg_path(&p, c, k, &cfg->socket_path);
            } else if (strcmp(k, "socket_mode") == 0) {
                cfg_socket_mode(&p, c, k);
            } else if (strcmp(k, "socket_group") == 0) {
                if (cJSON_IsNull(c)) {
                    mogen_free(cfg->socket_group);
                    cfg->socket_group = NULL;
                } else {
                    cfg_string(&p, c, k, &cfg->socket_group);
                }
            } else if (strcmp(k, "workers") == 0) {
                cfg_uint32(&p, c, k, 0, CONFIG_MAX_WORKERS, &cfg->workers);
            } else if (strcmp(k, "classes_dir") == 0) {
                cfg_path(&p, c, k, &cfg->classes_dir);
            } else if (strcmp(k, "shm_dir") == 0) {
                cfg_path(&p, c, k, &cfg->shm_dir);
            } else if (strcmp(k, "image") == 0) {
                cfg_image(&p, c, k);
            } else if (strcmp(k, "path") == 0) {
                cfg_path_section(&p, c, k);
            } else if (strcmp(k, "outputs") == 0) {
                cfg_outputs(&p, c, k);
            } else if (strcmp(k, "streams") == 0) {
                cfg_streams(&p, c, k);
            } else if (strcmp(k, "augment") == 0) {
                cfg_augment(&p, c, k);
            } else if (strcmp(k, "seed") == 0) {
                cfg_uint(&p, c, k, 0, (uint64_t)CONFIG_MAX_EXACT_INT, &cfg->seed);
            } else if (strcmp(k, "ring_slots") == 0) {
                cfg_uint32(&p, c, k, CONFIG_MIN_RING_SLOTS, CONFIG_MAX_RING_SLOTS,
                           &cfg->ring_slots);
            } else if (strcmp(k, "batch_timeout") == 0) {
                cfg_uint32(&p, c, k, 0, CONFIG_MAX_BATCH_TIMEOUT, &cfg->batch_timeout);
            }
        }
        cfg_cross_checks(&p);
    }
    cJSON_Delete(root);
    return rep->error_count > errors_before ? -EINVAL : 0;
}

int config_parse(config_t *cfg, const char *json, const char *base_dir, report_t *rep)
{
    config_defaults(cfg);
    return cfg_parse_text(cfg, json, base_dir, "config", rep);
}

/* Makes path absolute against the working directory. */
static char *cfg_absolute(const char *path)
{
    char cwd[4096];

    if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return mogen_strdup(path);
    return cfg_resolve(cwd, path);
}

int config_load(config_t *cfg, const char *path, report_t *rep)
{
    struct stat st;
    char *text;
    char *dir;
    char *slash;
    size_t done = 0;
    int fd;
    int err;
    int rc;

    config_defaults(cfg);
    cfg->source_path = cfg_absolute(path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        report_error(rep, "%s: cannot open: %s", path, strerror(err));
        return -err;
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        report_error(rep, "%s: cannot stat: %s", path, strerror(err));
        return -err;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
        close(fd);
        report_error(rep, "%s: expected a JSON file of at most %u bytes", path, CONFIG_MAX_BYTES);
        return -EINVAL;
    }
    text = mogen_malloc((size_t)st.st_size + 1);
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, text + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            close(fd);
            mogen_free(text);
            report_error(rep, "%s: cannot read: %s", path, strerror(err));
            return -err;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    text[done] = '\0';
    if (strlen(text) != done) {
        mogen_free(text);
        report_error(rep, "%s: contains a NUL byte; expected JSON text", path);
        return -EINVAL;
    }

    dir = mogen_strdup(cfg->source_path);
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    rc = cfg_parse_text(cfg, text, dir, path, rep);
    mogen_free(dir);
    mogen_free(text);
    return rc;
}

const stream_config_t *config_stream(const config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->stream_count; i++)
        if (strcmp(cfg->streams[i].name, name) == 0)
            return &cfg->streams[i];
    return NULL;
}

/* Looks up names[value], or "unknown" for a value out of range. */
static const char *cfg_name(const char *const *names, int count, int value)
{
    return value >= 0 && value < count ? names[value] : "unknown";
}

const char *config_resize_name(resize_mode_t mode)
{
    return cfg_name(resize_names, RESIZE_MAX, (int)mode);
}

const char *config_interpolation_name(interpolation_t interp)
{
    return cfg_name(interp_names, INTERP_MAX, (int)interp);
}

const char *config_color_name(color_mode_t color)
{
    return cfg_name(color_names, COLOR_MAX, (int)color);
}

const char *config_dtype_name(pixel_dtype_t dtype)
{
    return cfg_name(dtype_names, DTYPE_MAX, (int)dtype);
}

const char *config_layout_name(tensor_layout_t layout)
{
    return cfg_name(layout_names, LAYOUT_MAX, (int)layout);
}

const char *config_output_kind_name(output_kind_t kind)
{
    return cfg_name(kind_names, OUTPUT_KIND_MAX, (int)kind);
}

const char *config_encoding_name(label_encoding_t encoding)
{
    return cfg_name(encoding_names, ENCODING_MAX, (int)encoding);
}

const char *config_missing_label_name(missing_label_policy_t policy)
{
    return cfg_name(missing_label_names, MISSING_LABEL_MAX, (int)policy);
}

const char *config_missing_file_name(missing_file_policy_t policy)
{
    return cfg_name(missing_file_names, MISSING_FILE_MAX, (int)policy);
}
