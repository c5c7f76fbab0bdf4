/*
 * test_dataset.c: loading streams: paths, vocabularies, blank and missing
 * labels, missing images, label encodings and the classes files. Each test
 * writes its tiny CSVs (and empty "images") into its own temporary folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dataset.h"
#include "report.h"

/* One test's scratch folder and everything loaded in it. */
typedef struct fixture {
    char dir[64];
    config_t cfg;
    dataset_t ds;
    report_t rep;
    int cfg_ok;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/mogen-test-dataset-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    report_init(&f->rep);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    dataset_free(&f->ds);
    config_free(&f->cfg);
    report_free(&f->rep);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Writes text into dir/name, creating the folders on the way. */
static void put(fixture_t *f, const char *name, const char *text)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    for (char *s = path + strlen(f->dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* Parses json (relative paths against the test folder); config must be valid. */
static void configure(fixture_t *f, const char *json)
{
    int rc = config_parse(&f->cfg, json, f->dir, &f->rep);

    for (size_t i = 0; rc != 0 && i < f->rep.count; i++)
        print_message("  config: %s\n", f->rep.entries[i].message);
    assert_int_equal(rc, 0);
}

static void assert_reported(const report_t *rep, const char *needle)
{
    for (size_t i = 0; i < rep->count; i++)
        if (strstr(rep->entries[i].message, needle) != NULL)
            return;
    for (size_t i = 0; i < rep->count; i++)
        print_message("  message: %s\n", rep->entries[i].message);
    fail_msg("no message contains \"%s\"", needle);
}

static void assert_clean(const report_t *rep)
{
    for (size_t i = 0; i < rep->count; i++)
        print_message("  message: %s\n", rep->entries[i].message);
    assert_int_equal(rep->count, 0);
}

static void vocabulary_is_the_sorted_union_of_all_streams(void **state)
{
    fixture_t *f = *state;
    const dataset_output_t *out;

    put(f, "train.csv", "image,label\na,dog\nb,cat\nc,dog\n");
    put(f, "val.csv", "image,label\nd,bird\ne,Cat\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"animal\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"train.csv\"}, \"val\": {\"csv\": \"val.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_clean(&f->rep);
    out = &f->ds.outputs[0];
    assert_int_equal(out->class_count, 4);
    assert_string_equal(out->class_names[0], "Cat");
    assert_string_equal(out->class_names[1], "bird");
    assert_string_equal(out->class_names[2], "cat");
    assert_string_equal(out->class_names[3], "dog");
    assert_int_equal(out->class_frequency[3], 2);
    /* Row 0 of train is "dog": class 3; row 1 of val is "Cat": class 0. */
    assert_int_equal(f->ds.streams[0].label_ids[0][0], 3);
    assert_int_equal(f->ds.streams[1].label_ids[0][1], 0);
}

static void binary_column_gets_two_classes(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image,kids\na,False\nb,True\nc,False\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"kids\": \"kids\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_int_equal(f->ds.outputs[0].class_count, 2);
    assert_int_equal(dataset_label_bytes(&f->ds, 0), 2 * sizeof(float));
}

static void path_defaults_to_first_column_under_the_csv_folder(void **state)
{
    fixture_t *f = *state;
    char want[128];

    put(f, "data/t.csv", "id,label\nx1,a\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"o\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"data/t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    snprintf(want, sizeof(want), "%s/data/x1", f->dir);
    assert_string_equal(dataset_row_path(&f->ds.streams[0], 0), want);
}

static void path_column_root_and_suffix_build_the_file_name(void **state)
{
    fixture_t *f = *state;
    char want[128];

    put(f, "t.csv", "label,image\na,x1\nb,/abs/y\n");
    configure(f, "{\"path\": {\"column\": \"image\", \"root\": \"pics/\", \"suffix\": \".jpg\"},"
                 " \"outputs\": {\"multi_class\": [{\"o\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    snprintf(want, sizeof(want), "%s/pics/x1.jpg", f->dir);
    assert_string_equal(dataset_row_path(&f->ds.streams[0], 0), want);
    /* An absolute cell is used as it is (the suffix still applies). */
    assert_string_equal(dataset_row_path(&f->ds.streams[0], 1), "/abs/y.jpg");
}

static void missing_column_error_lists_the_columns(void **state)
{
    fixture_t *f = *state;

    put(f, "train.csv", "image,sender_id,label,kids\na,1,x,False\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"label\": \"label\"}, {\"kids\": \"kidz\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"train.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "outputs.multi_class[1]: column \"kidz\" is not in train.csv "
                             "(did you mean \"kids\"?); columns are: image, sender_id, label, kids");
}

static void missing_path_column_is_reported(void **state)
{
    fixture_t *f = *state;

    put(f, "train.csv", "image,label\na,x\n");
    configure(f, "{\"path\": {\"column\": \"img\"}, \"streams\": {\"train\": {\"csv\": \"train.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "path.column: column \"img\" is not in train.csv; columns are: image, label");
    /* "img" is 2 edits from "image": too far for a 3-letter word, so no guess. */
    assert_null(strstr(f->rep.entries[0].message, "did you mean"));
}

static void blank_multi_class_cell_names_file_line_row_and_column(void **state)
{
    fixture_t *f = *state;

    put(f, "train.csv", "image,label\na,x\n\"b\nc\",y\nd,\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"train.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    /* Row 2 starts on line 5, after row 1's two-line path. */
    assert_reported(&f->rep, "train.csv:5: row 2: column \"label\" is blank");
    assert_reported(&f->rep, "\"missing\": \"skip_row\"");
}

static void nan_cell_is_blank_never_a_class(void **state)
{
    fixture_t *f = *state;

    put(f, "train.csv", "image,label\na,x\nb,nan\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"train.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "train.csv:3: row 1: column \"label\" is blank or \"nan\"");
    for (uint32_t c = 0; c < f->ds.outputs[0].class_count; c++) {
        assert_string_not_equal(f->ds.outputs[0].class_names[c], "nan");
        assert_string_not_equal(f->ds.outputs[0].class_names[c], "");
    }
}

static void skip_row_policy_drops_blank_rows_and_counts_them(void **state)
{
    fixture_t *f = *state;
    const dataset_stream_t *s;

    put(f, "train.csv", "image,label\na,x\nb,\nc,y\nd, \n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": {\"column\": \"label\","
                 " \"missing\": \"skip_row\"}}]}, \"streams\": {\"train\": {\"csv\": \"train.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    s = &f->ds.streams[0];
    assert_int_equal(s->row_count, 2);
    assert_int_equal(s->csv_row_count, 4);
    assert_int_equal(s->skipped_label_rows, 2);
    assert_int_equal(s->csv_row[1], 2);
    assert_int_equal(s->csv_line[1], 4);
    assert_int_equal(f->ds.outputs[0].class_count, 2);
    assert_reported(&f->rep, "train.csv: 2 rows dropped for a blank label");
    assert_reported(&f->rep, "row 1 (line 3), row 3 (line 5)");
}

static void multi_label_pools_columns_and_skips_empty_cells(void **state)
{
    fixture_t *f = *state;
    const dataset_stream_t *s;
    const dataset_output_t *out;

    put(f, "t.csv", "image,neck,sleeve\na,round,long\nb,,short\nc,,\nd,long,long\n");
    configure(f, "{\"outputs\": {\"multi_label\": [{\"attr\": [\"neck\", \"sleeve\"]}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_clean(&f->rep);
    out = &f->ds.outputs[0];
    assert_int_equal(out->class_count, 3);
    assert_string_equal(out->class_names[0], "long");
    assert_string_equal(out->class_names[1], "round");
    assert_string_equal(out->class_names[2], "short");
    s = &f->ds.streams[0];
    assert_int_equal(s->row_count, 4);
    /* Row c has no labels at all; row d has "long" twice but counts it once. */
    assert_int_equal(s->label_offset[0][3] - s->label_offset[0][2], 0);
    assert_int_equal(s->label_offset[0][4] - s->label_offset[0][3], 1);
    assert_int_equal(out->class_frequency[0], 2);
}

static void multi_label_separator_splits_cells(void **state)
{
    fixture_t *f = *state;
    float v[3];

    put(f, "t.csv", "image,colours\na,red|blue\nb,green||\nc,\n");
    configure(f, "{\"outputs\": {\"multi_label\": [{\"colour\": {\"columns\": [\"colours\"],"
                 " \"separator\": \"|\"}}]}, \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_int_equal(f->ds.outputs[0].class_count, 3); /* blue, green, red */
    dataset_encode_label(&f->ds, &f->ds.streams[0], 0, 0, v);
    assert_true(v[0] == 1.0f && v[1] == 0.0f && v[2] == 1.0f);
    dataset_encode_label(&f->ds, &f->ds.streams[0], 0, 2, v);
    assert_true(v[0] == 0.0f && v[1] == 0.0f && v[2] == 0.0f);
}

static void whitespace_variants_of_a_label_are_warned_about(void **state)
{
    fixture_t *f = *state;

    /* Where each variant is first used, so that the user can find them. */
    put(f, "t.csv", "image,label\nc,Pants\na,Shirt\nd,Shirt\nb,Shirt \n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_int_equal(f->ds.outputs[0].class_count, 3);
    assert_int_equal(f->rep.warning_count, 1);
    assert_reported(&f->rep, "outputs.multi_class[0] \"cat\": values \"Shirt\" and \"Shirt \" "
                             "(first seen at t.csv:3 and t.csv:5) differ only by surrounding "
                             "whitespace");
}

static void missing_images_are_dropped_and_listed_with_rows(void **state)
{
    fixture_t *f = *state;
    const dataset_stream_t *s;

    put(f, "img/a.jpg", "");
    put(f, "img/c.jpg", "");
    put(f, "t.csv", "image,label\na,x\nb,y\nc,x\nd,y\n");
    configure(f, "{\"path\": {\"root\": \"img\", \"suffix\": \".jpg\"},"
                 " \"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 1, &f->rep), 0);
    s = &f->ds.streams[0];
    assert_int_equal(s->row_count, 2);
    assert_int_equal(s->missing_count, 2);
    assert_int_equal(s->missing[0].row, 1);
    assert_int_equal(s->missing[0].line, 3);
    assert_non_null(strstr(s->missing[1].path, "/img/d.jpg"));
    assert_int_equal(f->rep.error_count, 0);
    assert_reported(&f->rep, "t.csv: 2 of 4 image files are missing; their rows are dropped");
    assert_reported(&f->rep, "row 1 (line 3): ");
    assert_reported(&f->rep, "row 3 (line 5): ");
    /* Classes still come from every row, kept or not. */
    assert_int_equal(f->ds.outputs[0].class_count, 2);
    assert_int_equal(f->ds.outputs[0].class_frequency[1], 0);
}

static void missing_images_fail_the_load_under_fail_policy(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image,label\na,x\n");
    configure(f, "{\"path\": {\"missing\": \"fail\"},"
                 " \"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 1, &f->rep), -EINVAL);
    assert_reported(&f->rep, "t.csv: 1 of 1 image files are missing (path.missing is \"fail\")");
    assert_reported(&f->rep, "check path.root and path.suffix");
}

/* A directory or a symbolic link loop where an image should be is dropped
 * like a missing file, but the report says what is there. */
static void a_directory_or_link_loop_is_named_for_what_it_is(void **state)
{
    fixture_t *f = *state;
    char path[200];

    put(f, "t.csv", "image,label\nimg.png,x\nsub,y\nloop,x\ngone,y\n");
    put(f, "img.png", "not looked at with check_files only");
    snprintf(path, sizeof(path), "%s/sub", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/loop", f->dir);
    assert_int_equal(symlink("loop", path), 0);
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 1, &f->rep), 0);
    assert_int_equal(f->ds.streams[0].row_count, 1);
    assert_int_equal(f->ds.streams[0].missing_count, 3);
    assert_reported(&f->rep, "row 1 (line 3): ");
    assert_reported(&f->rep, "/sub (a directory, not a file)");
    assert_reported(&f->rep, "/loop (Too many levels of symbolic links)");
    assert_null(f->ds.streams[0].missing[2].why); /* gone: nothing there */
}

static void invalid_utf8_in_a_path_names_file_and_line(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image,label\nok,x\ncaf\xE9,y\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "t.csv:3: row 1: the path in column \"image\" is not valid UTF-8");
}

/* A cp1252 export: the class name would reach every client's WELCOME,
 * which is JSON and must be UTF-8 (a client could not even connect). */
static void invalid_utf8_in_a_label_names_file_line_and_column(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image,label,neck,sleeve\na,caf\xE9,v,long\nb,tea,round,sh\xF6rt\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"cat\": \"label\"}],"
                 " \"multi_label\": [{\"attr\": [\"neck\", \"sleeve\"]}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "t.csv:2: row 0: column \"label\" is not valid UTF-8 "
                             "(outputs.multi_class[0] \"cat\"); save the CSV as UTF-8");
    assert_reported(&f->rep, "t.csv:3: row 1: column \"sleeve\" is not valid UTF-8 "
                             "(outputs.multi_label[0] \"attr\")");
}

static void csv_errors_name_the_stream_file(void **state)
{
    fixture_t *f = *state;

    put(f, "empty.csv", "");
    put(f, "dup.csv", "image,label,label\n");
    configure(f, "{\"streams\": {\"train\": {\"csv\": \"empty.csv\"}, \"val\": {\"csv\": \"dup.csv\"},"
                 " \"test\": {\"csv\": \"gone.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "empty.csv: empty file");
    assert_reported(&f->rep, "dup.csv:1: duplicate column name \"label\"");
    assert_reported(&f->rep, "streams.test.csv: cannot open ");
    assert_reported(&f->rep, "gone.csv: No such file or directory");
}

static void stream_with_no_rows_is_an_error(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image,label\n");
    configure(f, "{\"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "streams.train: no rows to serve (t.csv has 0 data rows, none kept)");
}

static void drop_last_with_too_few_rows_is_an_error(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image\na\nb\n");
    configure(f, "{\"streams\": {\"train\": {\"csv\": \"t.csv\", \"batch_size\": 4, \"drop_last\": true}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "streams.train: batch_size 4 with drop_last gives no batch from 2 rows");
}

static void steps_per_epoch_round_up_unless_drop_last(void **state)
{
    fixture_t *f = *state;

    put(f, "t.csv", "image\na\nb\nc\nd\ne\n");
    configure(f, "{\"streams\": {\"train\": {\"csv\": \"t.csv\", \"batch_size\": 2},"
                 " \"val\": {\"csv\": \"t.csv\", \"batch_size\": 2, \"drop_last\": true}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_int_equal(dataset_steps_per_epoch(&f->ds.streams[0]), 3);
    assert_int_equal(dataset_steps_per_epoch(&f->ds.streams[1]), 2);
    assert_int_equal(dataset_stream_index(&f->ds, "val"), 1);
    assert_int_equal(dataset_stream_index(&f->ds, "nope"), -1);
}

static void onehot_and_index_encodings_write_the_class(void **state)
{
    fixture_t *f = *state;
    float onehot[3];
    int32_t index;

    put(f, "t.csv", "image,a,b\nr0,z,q\nr1,x,p\nr2,y,q\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"a\": \"a\"}, {\"b\": {\"column\": \"b\","
                 " \"encoding\": \"index\"}}]}, \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_int_equal(dataset_label_bytes(&f->ds, 0), 3 * sizeof(float));
    assert_int_equal(dataset_label_bytes(&f->ds, 1), sizeof(int32_t));
    dataset_encode_label(&f->ds, &f->ds.streams[0], 0, 0, onehot); /* "z": class 2 */
    assert_true(onehot[0] == 0.0f && onehot[1] == 0.0f && onehot[2] == 1.0f);
    dataset_encode_label(&f->ds, &f->ds.streams[0], 1, 1, &index); /* "p": class 0 */
    assert_int_equal(index, 0);
    dataset_encode_label(&f->ds, &f->ds.streams[0], 1, 2, &index); /* "q": class 1 */
    assert_int_equal(index, 1);
}

static void classes_files_list_names_in_index_order(void **state)
{
    fixture_t *f = *state;
    char path[256];
    char text[64];
    size_t n;
    FILE *fp;
    char err[256];

    put(f, "t.csv", "image,label,kids\na,dog,False\nb,cat,True\nc,ant,False\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"label_out\": \"label\"}, {\"kids_out\": \"kids\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    snprintf(path, sizeof(path), "%s/classes", f->dir);
    assert_int_equal(dataset_write_classes(&f->ds, path, err, sizeof(err)), 0);

    snprintf(path, sizeof(path), "%s/classes/label_out_classes.txt", f->dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    assert_string_equal(text, "ant\ncat\ndog\n");

    snprintf(path, sizeof(path), "%s/classes/kids_out_classes.txt", f->dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    assert_string_equal(text, "False\nTrue\n");
}

static void classes_dir_that_cannot_be_made_is_reported(void **state)
{
    fixture_t *f = *state;
    char err[256];

    put(f, "t.csv", "image,label\na,x\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"o\": \"label\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), 0);
    assert_int_equal(dataset_write_classes(&f->ds, "/nonexistent/mogen/classes", err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "cannot create /nonexistent/mogen/classes"));
}

static void malformed_csv_reports_columns_but_not_rows(void **state)
{
    fixture_t *f = *state;

    /* Line 3 is short; row numbers after it would be off, so rows wait. */
    put(f, "t.csv", "image,label\na,x\nb\nc,\n");
    configure(f, "{\"outputs\": {\"multi_class\": [{\"o\": \"label\"}, {\"p\": \"nope\"}]},"
                 " \"streams\": {\"train\": {\"csv\": \"t.csv\"}}}");
    assert_int_equal(dataset_load(&f->ds, &f->cfg, 0, &f->rep), -EINVAL);
    assert_reported(&f->rep, "t.csv:3: row 1: expected 2 fields as in the header, found 1");
    assert_reported(&f->rep, "outputs.multi_class[1]: column \"nope\" is not in t.csv");
    assert_int_equal(f->rep.error_count, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(vocabulary_is_the_sorted_union_of_all_streams),
        T(binary_column_gets_two_classes),
        T(path_defaults_to_first_column_under_the_csv_folder),
        T(path_column_root_and_suffix_build_the_file_name),
        T(missing_column_error_lists_the_columns),
        T(missing_path_column_is_reported),
        T(blank_multi_class_cell_names_file_line_row_and_column),
        T(nan_cell_is_blank_never_a_class),
        T(skip_row_policy_drops_blank_rows_and_counts_them),
        T(multi_label_pools_columns_and_skips_empty_cells),
        T(multi_label_separator_splits_cells),
        T(whitespace_variants_of_a_label_are_warned_about),
        T(missing_images_are_dropped_and_listed_with_rows),
        T(missing_images_fail_the_load_under_fail_policy),
        T(invalid_utf8_in_a_path_names_file_and_line),
        T(a_directory_or_link_loop_is_named_for_what_it_is),
        T(invalid_utf8_in_a_label_names_file_line_and_column),
        T(csv_errors_name_the_stream_file),
        T(stream_with_no_rows_is_an_error),
        T(drop_last_with_too_few_rows_is_an_error),
        T(steps_per_epoch_round_up_unless_drop_last),
        T(onehot_and_index_encodings_write_the_class),
        T(classes_files_list_names_in_index_order),
        T(classes_dir_that_cannot_be_made_is_reported),
        T(malformed_csv_reports_columns_but_not_rows),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
