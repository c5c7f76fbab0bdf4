/*
 * config.h: the daemon's configuration, parsed from JSON with cJSON.
 *
 * config_load() fills a config_t from a file; every field has a default
 * (config_defaults()), relative paths are resolved against the folder of the
 * config file, and unknown keys are errors. The struct is plain data: the
 * rest of the daemon reads it and never writes it.
 *
 * docs/config.md documents every field; keep the two in step.
 */
#ifndef MOGEN_CONFIG_H
#define MOGEN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* How the source image is fitted into width x height. */
typedef enum resize_mode {
    RESIZE_STRETCH, /* Scale each axis independently to exactly W x H (Keras). */
    RESIZE_FIT,     /* Keep aspect ratio, pad with image.fill. */
    RESIZE_CROP,    /* Keep aspect ratio, short side to size, centre crop. */
    RESIZE_MAX
} resize_mode_t;

typedef enum interpolation {
    INTERP_NEAREST,
    INTERP_BILINEAR, /* Default. */
    INTERP_AREA,     /* Box filter; best for strong downscales. */
    INTERP_MAX
} interpolation_t;

typedef enum color_mode {
    COLOR_RGB,       /* 3 channels. */
    COLOR_GRAYSCALE, /* 1 channel. */
    COLOR_MAX
} color_mode_t;

typedef enum pixel_dtype {
    DTYPE_UINT8,   /* Pixels as decoded, 0..255. */
    DTYPE_FLOAT32, /* (pixel * scale + offset), or (pixel/255 - mean) / std. */
    DTYPE_MAX
} pixel_dtype_t;

typedef enum tensor_layout {
    LAYOUT_NHWC,
    LAYOUT_NCHW,
    LAYOUT_MAX
} tensor_layout_t;

typedef struct image_config {
    uint32_t width;              /* Output width in pixels (default 224). */
    uint32_t height;             /* Output height in pixels (default 224). */
    resize_mode_t resize;        /* Default RESIZE_STRETCH. */
    interpolation_t interpolation; /* Default INTERP_BILINEAR. */
    color_mode_t color;          /* Default COLOR_RGB. */
    pixel_dtype_t dtype;         /* Default DTYPE_UINT8. */
    tensor_layout_t layout;      /* Default LAYOUT_NHWC. */
    float scale;                 /* float32 only: multiplier (default 1). */
    float offset;                /* float32 only: added after scale (default 0). */
    int has_mean_std;            /* float32 only: 1 when mean/std were given. */
    float mean[3];               /* Per channel, on the 0..1 scale. */
    float std[3];                /* Per channel, on the 0..1 scale. */
    uint8_t fill[3];             /* Colour of padding outside the image (default black). */
    uint8_t background[3];       /* Colour alpha is composited on (default white). */
    int exif_orientation;        /* 1 = honour EXIF orientation (default), 0 = ignore. */
    int jpeg_planes;             /* 1 = warp YCbCr JPEGs from their planes (default), 0 = from RGB. */
    uint64_t max_pixels;         /* Decoded width*height limit (default 100e6). */
    uint64_t max_file_bytes;     /* File size limit (default 64 MiB). */
} image_config_t;

/* Random augmentation ranges; a zero range (or probability) disables one. */
typedef struct augment_config {
    double flip_horizontal; /* Probability 0..1. */
    double flip_vertical;   /* Probability 0..1. */
    double rotate[2];       /* Degrees, uniform in [min, max]. */
    double translate[2];    /* Fraction of width, of height: uniform in [-t, t]. */
    double scale[2];        /* Zoom factor, uniform in [min, max]; 1 = none. */
    double shear[2];        /* Shear angle in radians... see docs; [min, max]. */
    double brightness[2];   /* Additive, fraction of 255, uniform in [min, max]. */
    double contrast[2];     /* Multiplicative factor, uniform in [min, max]; 1 = none. */
} augment_config_t;

typedef enum output_kind {
    OUTPUT_MULTI_CLASS, /* One column, one class per row. */
    OUTPUT_MULTI_LABEL, /* Several columns pooled, any number of classes per row. */
    OUTPUT_KIND_MAX
} output_kind_t;

typedef enum label_encoding {
    ENCODING_ONEHOT, /* float32 [B, K] (multi-hot for multi_label). Default. */
    ENCODING_INDEX,  /* int32 [B]; multi_class only. */
    ENCODING_MAX
} label_encoding_t;

typedef enum missing_label_policy {
    MISSING_LABEL_ERROR,    /* A blank multi_class cell is a load error. Default. */
    MISSING_LABEL_SKIP_ROW, /* Rows with a blank cell are dropped, and counted. */
    MISSING_LABEL_MAX
} missing_label_policy_t;

typedef struct output_config {
    char *name;                     /* Tensor name, e.g. "category_output". */
    output_kind_t kind;
    char **columns;                 /* One column (multi_class) or several. */
    size_t column_count;
    label_encoding_t encoding;
    missing_label_policy_t missing; /* multi_class only. */
    char *separator;                /* multi_label only: split cells on it; NULL = none. */
    char *where;                    /* Its JSON path, "outputs.multi_class[1]", for messages. */
} output_config_t;

typedef struct stream_config {
    char *name;          /* "train", "validation", ... */
    char *csv;           /* Absolute path after loading. */
    int shuffle;         /* Default 1 for a stream named "train", else 0. */
    int augment;         /* Default 1 for a stream named "train", else 0. */
    uint32_t batch_size; /* Default 32. */
    int drop_last;       /* Default 0: keep the short last batch. */
} stream_config_t;

typedef enum missing_file_policy {
    MISSING_FILE_DROP, /* Report the missing files and drop their rows. Default. */
    MISSING_FILE_FAIL, /* Any missing file stops the load. */
    MISSING_FILE_MAX
} missing_file_policy_t;

typedef struct path_config {
    char *column;                  /* NULL = the first column of the CSV. */
    char *root;                    /* Prefix folder; absolute after loading; NULL = CSV's folder. */
    char *suffix;                  /* Appended to each cell, e.g. ".jpg"; NULL = none. */
    missing_file_policy_t missing; /* What to do with rows whose file is absent. */
} path_config_t;

typedef struct config {
    char *source_path;      /* The config file this came from (absolute). */
    char *socket_path;      /* Default "/run/mogen/mogen.sock". */
    uint32_t socket_mode;   /* Default 0660. */
    char *socket_group;     /* NULL = the daemon's group. */
    uint32_t workers;       /* 0 = one per usable CPU. */
    char *classes_dir;      /* Where <output>_classes.txt go; NULL = don't write. */
    char *shm_dir;          /* NULL = memfd only; else also a named file here. */
    image_config_t image;
    path_config_t path;
    output_config_t *outputs;
    size_t output_count;
    stream_config_t *streams;
    size_t stream_count;
    augment_config_t augment;
    uint64_t seed;          /* Default 1. */
    uint32_t ring_slots;    /* Slots per stream (default 8). */
    uint32_t batch_timeout; /* Seconds a worker may spend on one batch; 0 = no limit. */
} config_t;

/* Fills img with the documented image defaults (224x224 RGB uint8 NHWC,
 * stretch, bilinear, white background, EXIF honoured, default limits). */
void config_image_defaults(image_config_t *img);

/* Fills cfg with every default and no outputs or streams. */
void config_defaults(config_t *cfg);

/*
 * Parses the JSON file at path into cfg (which must be fresh). Every problem
 * found is added to rep, each naming the field; returns 0 when the config is
 * usable, -EINVAL when rep holds at least one error, -errno when the file
 * cannot be read. cfg must be freed with config_free() in every case.
 */
int config_load(config_t *cfg, const char *path, report_t *rep);

/* The same from a string; base_dir resolves relative paths. */
int config_parse(config_t *cfg, const char *json, const char *base_dir, report_t *rep);

void config_free(config_t *cfg);

/* Returns the stream named name, or NULL. */
const stream_config_t *config_stream(const config_t *cfg, const char *name);

/* Names for enums, for logs, JSON and docs. */
const char *config_resize_name(resize_mode_t mode);
const char *config_interpolation_name(interpolation_t interp);
const char *config_dtype_name(pixel_dtype_t dtype);
const char *config_layout_name(tensor_layout_t layout);
const char *config_output_kind_name(output_kind_t kind);
const char *config_encoding_name(label_encoding_t encoding);
const char *config_color_name(color_mode_t color);
const char *config_missing_label_name(missing_label_policy_t policy);
const char *config_missing_file_name(missing_file_policy_t policy);

/*
 * Writes " (did you mean \"x\"?)" into out when one of the NULL-terminated
 * names is close to word (a typo: edit distance 1 for words of up to 4
 * bytes, else 2), else an empty string. Returns out. Used for config keys
 * and for CSV column names.
 */
const char *config_suggest(const char *word, const char *const *names, char *out, size_t outlen);

#endif
