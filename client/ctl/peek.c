/*
 * peek.c: `mogenctl peek STREAM -o batch.png`: the next batch of a running
 * stream as one PNG contact sheet, images as the model sees them
 * (augmented, resized, de-normalised back to 0..255 for display), with each
 * tile's labels printed in grid order. People check augmentation by looking.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <spng.h>

#include "ctl.h"
#include "mogen.h"

/* Pixels of grey between tiles, so that neighbouring images stay apart. */
#define PEEK_GAP 2

static void peek_usage(FILE *out)
{
    fprintf(out,
            "usage: mogenctl peek STREAM -o FILE.png [--socket PATH | --config FILE] [--max N]\n"
            "\n"
            "Takes the next batch of STREAM from a running mogend, writes it as one PNG\n"
            "contact sheet (tiles left to right, top to bottom) and prints each tile's\n"
            "row and labels in the same order. The batch is taken from the stream's\n"
            "queue like any client's, so an attached trainer does not receive it.\n"
            "\n"
            "  -o, --output FILE  where to write the PNG (required)\n"
            "  -n, --max N        show at most N tiles (default: the whole batch)\n"
            "  -s, --socket PATH  the daemon's socket (default $MOGEN_SOCKET when set,\n"
            "                     else %s)\n"
            "  -c, --config FILE  use the \"socket\" of this mogend config instead\n"
            "  -h, --help         show this help\n",
            CTL_DEFAULT_SOCKET);
}

/* How to turn a stored pixel value back into 0..255. */
typedef struct peek_norm {
    int is_float;
    int nchw;
    uint32_t width, height, channels;
    double scale, offset;
    int has_mean_std;
    double mean[3], std[3];
} peek_norm_t;

static int peek_read_norm(const mogen_client_t *client, peek_norm_t *norm)
{
    cJSON *welcome = cJSON_Parse(mogen_welcome_json(client));
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(welcome, "image");
    const cJSON *item;

    if (!cJSON_IsObject(image)) {
        cJSON_Delete(welcome);
        return -EPROTO;
    }
    memset(norm, 0, sizeof(*norm));
    norm->width = (uint32_t)cJSON_GetObjectItemCaseSensitive(image, "width")->valuedouble;
    norm->height = (uint32_t)cJSON_GetObjectItemCaseSensitive(image, "height")->valuedouble;
    norm->channels = (uint32_t)cJSON_GetObjectItemCaseSensitive(image, "channels")->valuedouble;
    item = cJSON_GetObjectItemCaseSensitive(image, "dtype");
    norm->is_float = cJSON_IsString(item) && strcmp(item->valuestring, "float32") == 0;
    item = cJSON_GetObjectItemCaseSensitive(image, "layout");
    norm->nchw = cJSON_IsString(item) && strcmp(item->valuestring, "NCHW") == 0;
    item = cJSON_GetObjectItemCaseSensitive(image, "scale");
    norm->scale = cJSON_IsNumber(item) && item->valuedouble != 0 ? item->valuedouble : 1.0;
    item = cJSON_GetObjectItemCaseSensitive(image, "offset");
    norm->offset = cJSON_IsNumber(item) ? item->valuedouble : 0.0;
    item = cJSON_GetObjectItemCaseSensitive(image, "mean");
    if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 3) {
        const cJSON *std = cJSON_GetObjectItemCaseSensitive(image, "std");
        norm->has_mean_std = 1;
        for (int c = 0; c < 3; c++) {
            norm->mean[c] = cJSON_GetArrayItem(item, c)->valuedouble;
            norm->std[c] = cJSON_GetArrayItem(std, c)->valuedouble;
        }
    }
    cJSON_Delete(welcome);
    if (norm->width == 0 || norm->height == 0 || (norm->channels != 1 && norm->channels != 3))
        return -EPROTO;
    return 0;
}

/* Pixel (x, y, channel c) of sample i as a display byte. */
static uint8_t peek_pixel(const peek_norm_t *n, const void *images, size_t i, uint32_t x,
                          uint32_t y, uint32_t c)
{
    size_t per_sample = (size_t)n->width * n->height * n->channels;
    size_t at = n->nchw ? ((size_t)c * n->height + y) * n->width + x
                        : ((size_t)y * n->width + x) * n->channels + c;
    double v;

    if (!n->is_float)
        return ((const uint8_t *)images)[i * per_sample + at];
    v = ((const float *)images)[i * per_sample + at];
    if (n->has_mean_std)
        v = (v * n->std[c < 3 ? c : 0] + n->mean[c < 3 ? c : 0]) * 255.0;
    else
        v = (v - n->offset) / n->scale;
    if (!(v >= 0))
        v = 0;
    if (v > 255)
        v = 255;
    return (uint8_t)lround(v);
}

static int peek_write_png(const char *path, const uint8_t *rgb, uint32_t width, uint32_t height)
{
    struct spng_ihdr ihdr;
    spng_ctx *ctx;
    FILE *f;
    int rc;

    f = fopen(path, "wb");
    if (f == NULL)
        return -errno;
    ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (ctx == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    memset(&ihdr, 0, sizeof(ihdr));
    ihdr.width = width;
    ihdr.height = height;
    ihdr.bit_depth = 8;
    ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    rc = spng_set_png_file(ctx, f);
    if (rc == 0)
        rc = spng_set_ihdr(ctx, &ihdr);
    if (rc == 0)
        rc = spng_encode_image(ctx, rgb, (size_t)width * height * 3, SPNG_FMT_PNG,
                               SPNG_ENCODE_FINALIZE);
    spng_ctx_free(ctx);
    if (fclose(f) != 0 && rc == 0)
        return -errno;
    return rc == 0 ? 0 : -EIO;
}

/* Prints the labels of sample i for every output. */
static void peek_print_labels(const mogen_client_t *client, const mogen_batch_t *batch, size_t i)
{
    for (size_t o = 0; o < mogen_output_count(client); o++) {
        const char *name = mogen_output_name(client, o);
        const void *tensor = mogen_batch_tensor(batch, name);
        size_t classes = mogen_output_class_count(client, o);
        int first = 1;

        printf("  %s=", name);
        if (tensor == NULL) {
            printf("?");
            continue;
        }
        if (strcmp(mogen_output_encoding(client, o), "index") == 0) {
            int32_t k = ((const int32_t *)tensor)[i];
            printf("%s", k >= 0 && (size_t)k < classes ? mogen_output_class_name(client, o, (size_t)k) : "?");
            continue;
        }
        for (size_t k = 0; k < classes; k++) {
            if (((const float *)tensor)[i * classes + k] > 0.5f) {
                printf("%s%s", first ? "" : "|", mogen_output_class_name(client, o, k));
                first = 0;
            }
        }
        if (first)
            printf("(none)");
    }
}

int ctl_peek(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"max", required_argument, NULL, 'n'},
        {"socket", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *socket_opt = NULL, *config_opt = NULL, *output = NULL, *stream;
    char socket_path[CTL_SOCKET_MAX];
    mogen_connect_options_t opts;
    mogen_client_t *client = NULL;
    mogen_batch_t batch;
    peek_norm_t norm;
    char errbuf[512] = "";
    long max_tiles = -1;
    uint8_t *sheet;
    const void *images;
    const int64_t *row_ids;
    const uint8_t *errors;
    uint32_t tiles, cols, rows, sheet_w, sheet_h;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:n:s:c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            output = optarg;
            break;
        case 'n':
            max_tiles = strtol(optarg, NULL, 10);
            if (max_tiles <= 0) {
                fprintf(stderr, "mogenctl peek: --max takes a positive number\n");
                return 2;
            }
            break;
        case 's':
            socket_opt = optarg;
            break;
        case 'c':
            config_opt = optarg;
            break;
        case 'h':
            peek_usage(stdout);
            return 0;
        default:
            peek_usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || output == NULL) {
        if (optind == argc)
            fprintf(stderr, "mogenctl peek: name the stream to look at\n");
        else if (optind + 1 < argc)
            fprintf(stderr, "mogenctl peek: one stream at a time (got %d names)\n", argc - optind);
        else
            fprintf(stderr, "mogenctl peek: -o FILE.png is missing: the batch is written "
                    "there as a contact sheet\n");
        peek_usage(stderr);
        return 2;
    }
    stream = argv[optind];
    if (ctl_resolve_socket("peek", socket_opt, config_opt, socket_path, sizeof(socket_path)) < 0)
        return 1;

    mogen_connect_options_init(&opts);
    opts.errbuf = errbuf;
    opts.errbuf_len = sizeof(errbuf);
    opts.timeout_ms = 60000;
    /* One batch and gone: a mailbox would have the daemon post the next
     * batch here too, which the trainer beside us would then never get. */
    opts.mailbox = 0;
    rc = mogen_connect(&client, socket_path, stream, &opts);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        ctl_socket_hint("peek", socket_path, mogen_strerror(rc));
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "mogenctl peek: %s\n", errbuf[0] ? errbuf : mogen_strerror(rc));
        return 1;
    }
    if (peek_read_norm(client, &norm) < 0) {
        fprintf(stderr, "mogenctl peek: the daemon's WELCOME has no usable \"image\" description\n");
        mogen_close(client);
        return 1;
    }
    do
        rc = mogen_next(client, &batch);
    while (rc == MOGEN_END_OF_EPOCH);
    if (rc < 0) {
        const char *msg = mogen_client_error_message(client);
        fprintf(stderr, "mogenctl peek: %s\n", msg[0] ? msg : mogen_strerror(rc));
        mogen_close(client);
        return 1;
    }

    images = mogen_batch_tensor(&batch, "x");
    row_ids = mogen_batch_tensor(&batch, "row_ids");
    errors = mogen_batch_tensor(&batch, "errors");
    tiles = batch.size;
    if (max_tiles > 0 && (uint32_t)max_tiles < tiles)
        tiles = (uint32_t)max_tiles;
    cols = (uint32_t)ceil(sqrt((double)tiles));
    if (cols == 0)
        cols = 1;
    rows = (tiles + cols - 1) / cols;
    sheet_w = cols * (norm.width + PEEK_GAP) + PEEK_GAP;
    sheet_h = rows * (norm.height + PEEK_GAP) + PEEK_GAP;
    sheet = malloc((size_t)sheet_w * sheet_h * 3);
    if (sheet == NULL) {
        fprintf(stderr, "mogenctl peek: out of memory for a %ux%u sheet\n", sheet_w, sheet_h);
        mogen_close(client);
        return 1;
    }
    memset(sheet, 128, (size_t)sheet_w * sheet_h * 3);
    for (uint32_t i = 0; i < tiles; i++) {
        uint32_t x0 = PEEK_GAP + (i % cols) * (norm.width + PEEK_GAP);
        uint32_t y0 = PEEK_GAP + (i / cols) * (norm.height + PEEK_GAP);
        for (uint32_t y = 0; y < norm.height; y++) {
            for (uint32_t x = 0; x < norm.width; x++) {
                uint8_t *px = sheet + (((size_t)(y0 + y) * sheet_w) + x0 + x) * 3;
                for (uint32_t c = 0; c < 3; c++)
                    px[c] = peek_pixel(&norm, images, i, x, y, norm.channels == 1 ? 0 : c);
            }
        }
    }
    rc = peek_write_png(output, sheet, sheet_w, sheet_h);
    free(sheet);
    if (rc < 0) {
        fprintf(stderr, "mogenctl peek: cannot write %s: %s\n", output, strerror(-rc));
        mogen_release(client, &batch);
        mogen_close(client);
        return 1;
    }

    printf("stream %s, epoch %u, batch %u: %u samples, %u tiles of %ux%u in %u columns -> %s\n",
           stream, batch.epoch, batch.batch, batch.size, tiles, norm.width, norm.height, cols,
           output);
    for (uint32_t i = 0; i < tiles; i++) {
        printf("[%u,%u] row %lld", i / cols, i % cols, row_ids ? (long long)row_ids[i] : -1LL);
        peek_print_labels(client, &batch, i);
        if (errors != NULL && errors[i])
            printf("  (stand-in: its own file failed)");
        printf("\n");
    }
    mogen_release(client, &batch);
    mogen_close(client);
    return 0;
}
