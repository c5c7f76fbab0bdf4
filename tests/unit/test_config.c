/*
 * test_config.c: the JSON config: defaults, every section, and the texts
 * of its errors (each names the JSON path and what was expected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "report.h"

/* The smallest config that loads: one stream. */
#define STREAMS "\"streams\": {\"train\": {\"csv\": \"train.csv\"}}"

static void assert_reported(const report_t *rep, const char *needle)
{
    for (size_t i = 0; i < rep->count; i++)
        if (strstr(rep->entries[i].message, needle) != NULL)
            return;
    for (size_t i = 0; i < rep->count; i++)
        print_message("  message: %s\n", rep->entries[i].message);
    fail_msg("no message contains \"%s\"", needle);
}

/* Parses json with base folder /base; the result of config_parse(). */
static int parse(config_t *cfg, const char *json, report_t *rep)
{
    report_init(rep);
    return config_parse(cfg, json, "/base", rep);
}

static void done(config_t *cfg, report_t *rep)
{
    config_free(cfg);
    report_free(rep);
}

static void defaults_match_the_documented_values(void **state)
{
    config_t cfg;
    (void)state;

    config_defaults(&cfg);
    assert_string_equal(cfg.socket_path, "/run/mogen/mogen.sock");
    assert_int_equal(cfg.socket_mode, 0660);
    assert_int_equal(cfg.workers, 0);
    assert_null(cfg.classes_dir);
    assert_int_equal(cfg.image.width, 224);
    assert_int_equal(cfg.image.height, 224);
    assert_int_equal(cfg.image.resize, RESIZE_STRETCH);
    assert_int_equal(cfg.image.interpolation, INTERP_BILINEAR);
    assert_int_equal(cfg.image.dtype, DTYPE_UINT8);
    assert_int_equal(cfg.image.layout, LAYOUT_NHWC);
    assert_int_equal(cfg.image.background[0], 255);
    assert_int_equal(cfg.image.exif_orientation, 1);
    assert_int_equal(cfg.image.jpeg_planes, 1);
    assert_int_equal(cfg.image.max_pixels, 100000000);
    assert_int_equal(cfg.image.max_file_bytes, 64 << 20);
    assert_int_equal(cfg.path.missing, MISSING_FILE_DROP);
    assert_true(cfg.augment.scale[0] == 1.0 && cfg.augment.contrast[1] == 1.0);
    assert_int_equal(cfg.seed, 1);
    assert_int_equal(cfg.ring_slots, 8);
    assert_int_equal(cfg.batch_timeout, 120);
    config_free(&cfg);
}

static void minimal_config_has_one_stream_with_defaults(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{" STREAMS "}", &rep), 0);
    assert_int_equal(rep.count, 0);
    assert_int_equal(cfg.stream_count, 1);
    assert_string_equal(cfg.streams[0].name, "train");
    assert_string_equal(cfg.streams[0].csv, "/base/train.csv");
    assert_int_equal(cfg.streams[0].batch_size, 32);
    assert_int_equal(cfg.streams[0].shuffle, 1);
    assert_int_equal(cfg.streams[0].augment, 1);
    assert_int_equal(cfg.streams[0].drop_last, 0);
    assert_int_equal(cfg.output_count, 0);
    done(&cfg, &rep);
}

static void only_the_train_stream_shuffles_and_augments_by_default(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"streams\": {\"train\": {\"csv\": \"t.csv\"},"
                                 " \"validation\": {\"csv\": \"v.csv\", \"batch_size\": 8}}}",
                           &rep), 0);
    assert_int_equal(cfg.stream_count, 2);
    assert_non_null(config_stream(&cfg, "validation"));
    assert_int_equal(config_stream(&cfg, "validation")->shuffle, 0);
    assert_int_equal(config_stream(&cfg, "validation")->augment, 0);
    assert_int_equal(config_stream(&cfg, "validation")->batch_size, 8);
    assert_null(config_stream(&cfg, "test"));
    done(&cfg, &rep);
}

static void design_sketch_with_comments_parses(void **state)
{
    static const char json[] =
        "{\n"
        "  \"socket\": \"/run/mogen/mogen.sock\",\n"
        "  \"workers\": 0,                      // 0 = one per usable CPU\n"
        "  \"classes_dir\": \"/var/lib/mogen\", /* block comment */\n"
        "  \"image\": {\"size\": [224, 224], \"resize\": \"stretch\", \"interpolation\": \"bilinear\",\n"
        "            \"color\": \"rgb\", \"dtype\": \"uint8\", \"layout\": \"NHWC\"},\n"
        "  \"path\": {\"column\": \"image\", \"root\": \"images\", \"suffix\": \".jpg\"},\n"
        "  \"outputs\": {\n"
        "    \"multi_class\": [{\"category_output\": \"label\"}, {\"kids_output\": \"kids\"}],\n"
        "    \"multi_label\": [{\"attribute_output\": [\"neckline\", \"sleeve_length\"]}]\n"
        "  },\n"
        "  \"streams\": {\n"
        "    \"train\":      {\"csv\": \"train.csv\", \"shuffle\": true, \"augment\": true, \"batch_size\": 64},\n"
        "    \"validation\": {\"csv\": \"val.csv\", \"shuffle\": false, \"augment\": false, \"batch_size\": 64}\n"
        "  },\n"
        "  \"augment\": {\"flip_horizontal\": 0.5, \"rotate\": [-40, 40], \"translate\": [0.2, 0.2],\n"
        "              \"scale\": [0.8, 1.2], \"shear\": [-0.2, 0.2]},\n"
        "  \"seed\": 1,\n"
        "  \"ring_slots\": 8\n"
        "}\n";
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, json, &rep), 0);
    assert_int_equal(rep.count, 0);
    assert_int_equal(cfg.output_count, 3);
    assert_string_equal(cfg.outputs[1].name, "kids_output");
    assert_string_equal(cfg.outputs[1].columns[0], "kids");
    assert_string_equal(cfg.outputs[1].where, "outputs.multi_class[1]");
    assert_int_equal(cfg.outputs[2].kind, OUTPUT_MULTI_LABEL);
    assert_int_equal(cfg.outputs[2].column_count, 2);
    assert_string_equal(cfg.path.root, "/base/images");
    assert_string_equal(cfg.path.suffix, ".jpg");
    assert_true(cfg.augment.rotate[0] == -40 && cfg.augment.rotate[1] == 40);
    assert_true(cfg.augment.translate[1] == 0.2);
    done(&cfg, &rep);
}

static void unknown_key_is_rejected_with_a_suggestion(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"sise\": 10}, " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "image.sise: unknown key (did you mean \"size\"?)");
    done(&cfg, &rep);
}

static void suggestion_counts_two_swapped_letters_as_one_typo(void **state)
{
    static const char *const names[] = {"kind", "color", "material", NULL};
    char hint[64];
    (void)state;

    assert_string_equal(config_suggest("knid", names, hint, sizeof(hint)),
                        " (did you mean \"kind\"?)");
    assert_string_equal(config_suggest("colro", names, hint, sizeof(hint)),
                        " (did you mean \"color\"?)");
    assert_string_equal(config_suggest("mtaerail", names, hint, sizeof(hint)),
                        " (did you mean \"material\"?)"); /* two swaps */
    assert_string_equal(config_suggest("nkdi", names, hint, sizeof(hint)), ""); /* too far */
    assert_string_equal(config_suggest("shape", names, hint, sizeof(hint)), "");
}

static void unknown_key_far_from_any_is_rejected_without_suggestion(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"frobnicate\": 1, " STREAMS "}", &rep), -EINVAL);
    assert_int_equal(rep.error_count, 1);
    assert_string_equal(rep.entries[0].message, "frobnicate: unknown key");
    done(&cfg, &rep);
}

static void duplicate_key_is_rejected(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"seed\": 1, \"seed\": 2, " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "seed: the key appears more than once");
    done(&cfg, &rep);
}

static void image_size_must_be_width_and_height(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"size\": \"big\"}, " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "image.size: expected [width, height] of positive integers");
    assert_reported(&rep, "got \"big\"");
    done(&cfg, &rep);
}

static void image_size_rejects_zero_and_fractions(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"size\": [0, 1.5]}, " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "image.size: expected [width, height]");
    done(&cfg, &rep);
}

static void image_size_of_one_integer_is_a_square(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"size\": 96}, " STREAMS "}", &rep), 0);
    assert_int_equal(cfg.image.width, 96);
    assert_int_equal(cfg.image.height, 96);
    done(&cfg, &rep);
}

static void enum_error_lists_the_choices_and_suggests(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"resize\": \"strech\"}, " STREAMS "}", &rep),
                     -EINVAL);
    assert_reported(&rep, "image.resize: expected \"stretch\", \"fit\" or \"crop\", got \"strech\" "
                          "(did you mean \"stretch\"?)");
    done(&cfg, &rep);
}

static void enum_values_ignore_case(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"layout\": \"nchw\", \"color\": \"Grayscale\"}, "
                                 STREAMS "}", &rep), 0);
    assert_int_equal(cfg.image.layout, LAYOUT_NCHW);
    assert_int_equal(cfg.image.color, COLOR_GRAYSCALE);
    done(&cfg, &rep);
}

static void every_problem_is_reported_not_just_the_first(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"workers\": -1, \"ring_slots\": 1, \"seed\": \"x\", "
                                 "\"batch_timeout\": 86401, "
                                 "\"image\": {\"dtype\": \"float64\"}, " STREAMS "}", &rep),
                     -EINVAL);
    assert_int_equal(rep.error_count, 5);
    assert_reported(&rep, "batch_timeout: expected an integer from 0 to 86400, got 86401");
    assert_reported(&rep, "workers: expected an integer from 0 to 1024, got -1");
    assert_reported(&rep, "ring_slots: expected an integer from 2 to 1024, got 1");
    assert_reported(&rep, "seed: expected an integer");
    assert_reported(&rep, "image.dtype: expected \"uint8\" or \"float32\", got \"float64\"");
    done(&cfg, &rep);
}

static void relative_paths_resolve_against_the_config_folder(void **state)
{
    char dir[] = "/tmp/mogen-test-config-XXXXXX";
    char path[128];
    char want[192];
    config_t cfg;
    report_t rep;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/mogend.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"classes_dir\": \"classes\", \"socket\": \"run/m.sock\", \"shm_dir\": \"/dev/shm\","
          " \"path\": {\"root\": \"./images\"},"
          " \"streams\": {\"train\": {\"csv\": \"data/train.csv\"}}}", f);
    assert_int_equal(fclose(f), 0);

    report_init(&rep);
    assert_int_equal(config_load(&cfg, path, &rep), 0);
    assert_string_equal(cfg.source_path, path);
    snprintf(want, sizeof(want), "%s/classes", dir);
    assert_string_equal(cfg.classes_dir, want);
    snprintf(want, sizeof(want), "%s/run/m.sock", dir);
    assert_string_equal(cfg.socket_path, want);
    snprintf(want, sizeof(want), "%s/images", dir);
    assert_string_equal(cfg.path.root, want);
    snprintf(want, sizeof(want), "%s/data/train.csv", dir);
    assert_string_equal(cfg.streams[0].csv, want);
    assert_string_equal(cfg.shm_dir, "/dev/shm");
    done(&cfg, &rep);
    unlink(path);
    rmdir(dir);
}

static void missing_config_file_is_reported_with_errno(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(config_load(&cfg, "/nonexistent/mogend.json", &rep), -ENOENT);
    assert_reported(&rep, "/nonexistent/mogend.json: cannot open");
    done(&cfg, &rep);
}

static void invalid_json_names_line_and_column(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\n  \"seed\": 1,\n  \"workers\" 2\n}", &rep), -EINVAL);
    assert_reported(&rep, "config:3:");
    assert_reported(&rep, "invalid JSON");
    done(&cfg, &rep);
}

static void top_level_must_be_an_object(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "[1, 2]", &rep), -EINVAL);
    assert_reported(&rep, "(top level): expected a JSON object, got [1,2]");
    done(&cfg, &rep);
}

static void socket_mode_accepts_octal_string_and_integer(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"socket_mode\": \"0640\", " STREAMS "}", &rep), 0);
    assert_int_equal(cfg.socket_mode, 0640);
    done(&cfg, &rep);
    assert_int_equal(parse(&cfg, "{\"socket_mode\": 600, " STREAMS "}", &rep), 0);
    assert_int_equal(cfg.socket_mode, 0600);
    done(&cfg, &rep);
}

static void socket_mode_rejects_non_octal_digits(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"socket_mode\": \"0689\", " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "socket_mode: expected permission bits in octal like \"0660\", got \"0689\"");
    done(&cfg, &rep);
}

static void multi_class_long_form_sets_encoding_and_missing(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"outputs\": {\"multi_class\": [{\"cat\": {\"column\": \"label\","
                                 " \"encoding\": \"index\", \"missing\": \"skip_row\"}}]}, " STREAMS "}",
                           &rep), 0);
    assert_int_equal(cfg.output_count, 1);
    assert_string_equal(cfg.outputs[0].columns[0], "label");
    assert_int_equal(cfg.outputs[0].encoding, ENCODING_INDEX);
    assert_int_equal(cfg.outputs[0].missing, MISSING_LABEL_SKIP_ROW);
    done(&cfg, &rep);
}

static void multi_class_long_form_requires_column(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"outputs\": {\"multi_class\": [{\"cat\": {\"colum\": \"x\"}}]}, "
                                 STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "outputs.multi_class[0].colum: unknown key (did you mean \"column\"?)");
    assert_reported(&rep, "outputs.multi_class[0]: \"column\" is required");
    done(&cfg, &rep);
}

static void multi_label_list_and_object_forms(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"outputs\": {\"multi_label\": [{\"a\": [\"x\", \"y\"]},"
                                 " {\"b\": {\"columns\": [\"z\"], \"separator\": \"|\"}}]}, "
                                 STREAMS "}", &rep), 0);
    assert_int_equal(cfg.output_count, 2);
    assert_int_equal(cfg.outputs[0].column_count, 2);
    assert_null(cfg.outputs[0].separator);
    assert_string_equal(cfg.outputs[1].separator, "|");
    assert_string_equal(cfg.outputs[1].where, "outputs.multi_label[1]");
    done(&cfg, &rep);
}

static void multi_label_rejects_a_column_listed_twice(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"outputs\": {\"multi_label\": [{\"a\": [\"x\", \"x\"]}]}, "
                                 STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "outputs.multi_label[0]: column \"x\" is listed twice");
    done(&cfg, &rep);
}

static void output_names_must_be_unique(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"outputs\": {\"multi_class\": [{\"a\": \"x\"}],"
                                 " \"multi_label\": [{\"a\": [\"y\"]}]}, " STREAMS "}", &rep),
                     -EINVAL);
    assert_reported(&rep, "outputs.multi_label[0]: output name \"a\" is already used by "
                          "outputs.multi_class[0]");
    done(&cfg, &rep);
}

static void output_name_that_is_not_a_safe_file_name_is_rejected(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"outputs\": {\"multi_class\": [{\"../x\": \"y\"}]}, " STREAMS "}",
                           &rep), -EINVAL);
    assert_reported(&rep, "outputs.multi_class[0]: output name \"../x\" may hold only letters");
    done(&cfg, &rep);
}

static void stream_without_csv_is_rejected(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"streams\": {\"train\": {\"batch_size\": 4}}}", &rep), -EINVAL);
    assert_reported(&rep, "streams.train.csv: required");
    done(&cfg, &rep);
}

static void config_without_streams_is_rejected(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{}", &rep), -EINVAL);
    assert_reported(&rep, "streams: at least one stream is required");
    done(&cfg, &rep);
}

static void batch_size_zero_names_the_stream(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"streams\": {\"val\": {\"csv\": \"v.csv\", \"batch_size\": 0}}}",
                           &rep), -EINVAL);
    assert_reported(&rep, "streams.val.batch_size: expected an integer from 1 to 65536, got 0");
    done(&cfg, &rep);
}

static void mean_and_std_need_float32(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"mean\": [0.5, 0.5, 0.5]}, " STREAMS "}", &rep),
                     -EINVAL);
    assert_reported(&rep, "apply only when image.dtype is \"float32\"");
    done(&cfg, &rep);
}

static void mean_and_std_with_float32_are_kept(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"dtype\": \"float32\", \"mean\": [0.485, 0.456, 0.406],"
                                 " \"std\": 0.25}, " STREAMS "}", &rep), 0);
    assert_int_equal(cfg.image.has_mean_std, 1);
    assert_float_equal(cfg.image.mean[2], 0.406f, 1e-6);
    assert_float_equal(cfg.image.std[1], 0.25f, 1e-6);
    done(&cfg, &rep);
}

static void jpeg_planes_is_a_boolean(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"jpeg_planes\": false}, " STREAMS "}", &rep), 0);
    assert_int_equal(cfg.image.jpeg_planes, 0);
    done(&cfg, &rep);
    assert_int_equal(parse(&cfg, "{\"image\": {\"jpeg_planes\": 1}, " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "image.jpeg_planes");
    done(&cfg, &rep);
}

static void color_fill_takes_rgb_or_one_grey(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"image\": {\"fill\": [1, 2, 3], \"background\": 128}, " STREAMS "}",
                           &rep), 0);
    assert_int_equal(cfg.image.fill[2], 3);
    assert_int_equal(cfg.image.background[0], 128);
    assert_int_equal(cfg.image.background[2], 128);
    done(&cfg, &rep);
    assert_int_equal(parse(&cfg, "{\"image\": {\"fill\": [1, 2, 300]}, " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "image.fill: expected 3 numbers from 0 to 255");
    done(&cfg, &rep);
}

static void augment_single_numbers_become_keras_style_ranges(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"augment\": {\"rotate\": 40, \"scale\": 0.2, \"shear\": 0.1,"
                                 " \"flip_horizontal\": true, \"translate\": 0.1}, " STREAMS "}",
                           &rep), 0);
    assert_true(cfg.augment.rotate[0] == -40 && cfg.augment.rotate[1] == 40);
    assert_float_equal(cfg.augment.scale[0], 0.8, 1e-9);
    assert_float_equal(cfg.augment.scale[1], 1.2, 1e-9);
    assert_float_equal(cfg.augment.shear[0], -0.1, 1e-9);
    assert_float_equal(cfg.augment.flip_horizontal, 0.5, 1e-9);
    assert_float_equal(cfg.augment.translate[1], 0.1, 1e-9);
    done(&cfg, &rep);
}

static void augment_range_out_of_bounds_is_rejected(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"augment\": {\"rotate\": [30, -30], \"flip_vertical\": 2},"
                                 " " STREAMS "}", &rep), -EINVAL);
    assert_reported(&rep, "augment.rotate: expected min <= max within [-180, 180], got [30,-30]");
    assert_reported(&rep, "augment.flip_vertical: expected a probability from 0 to 1");
    done(&cfg, &rep);
}

static void path_missing_policy_and_null_column(void **state)
{
    config_t cfg;
    report_t rep;
    (void)state;

    assert_int_equal(parse(&cfg, "{\"path\": {\"column\": null, \"missing\": \"fail\", \"suffix\": \"\"},"
                                 " " STREAMS "}", &rep), 0);
    assert_null(cfg.path.column);
    assert_null(cfg.path.suffix);
    assert_int_equal(cfg.path.missing, MISSING_FILE_FAIL);
    done(&cfg, &rep);
}

static void enum_names_round_trip(void **state)
{
    (void)state;
    assert_string_equal(config_resize_name(RESIZE_CROP), "crop");
    assert_string_equal(config_interpolation_name(INTERP_AREA), "area");
    assert_string_equal(config_dtype_name(DTYPE_FLOAT32), "float32");
    assert_string_equal(config_layout_name(LAYOUT_NCHW), "NCHW");
    assert_string_equal(config_output_kind_name(OUTPUT_MULTI_LABEL), "multi_label");
    assert_string_equal(config_encoding_name(ENCODING_INDEX), "index");
    assert_string_equal(config_encoding_name(ENCODING_MAX), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_the_documented_values),
        cmocka_unit_test(minimal_config_has_one_stream_with_defaults),
        cmocka_unit_test(only_the_train_stream_shuffles_and_augments_by_default),
        cmocka_unit_test(design_sketch_with_comments_parses),
        cmocka_unit_test(unknown_key_is_rejected_with_a_suggestion),
        cmocka_unit_test(suggestion_counts_two_swapped_letters_as_one_typo),
        cmocka_unit_test(unknown_key_far_from_any_is_rejected_without_suggestion),
        cmocka_unit_test(duplicate_key_is_rejected),
        cmocka_unit_test(image_size_must_be_width_and_height),
        cmocka_unit_test(image_size_rejects_zero_and_fractions),
        cmocka_unit_test(image_size_of_one_integer_is_a_square),
        cmocka_unit_test(enum_error_lists_the_choices_and_suggests),
        cmocka_unit_test(enum_values_ignore_case),
        cmocka_unit_test(every_problem_is_reported_not_just_the_first),
        cmocka_unit_test(relative_paths_resolve_against_the_config_folder),
        cmocka_unit_test(missing_config_file_is_reported_with_errno),
        cmocka_unit_test(invalid_json_names_line_and_column),
        cmocka_unit_test(top_level_must_be_an_object),
        cmocka_unit_test(socket_mode_accepts_octal_string_and_integer),
        cmocka_unit_test(socket_mode_rejects_non_octal_digits),
        cmocka_unit_test(multi_class_long_form_sets_encoding_and_missing),
        cmocka_unit_test(multi_class_long_form_requires_column),
        cmocka_unit_test(multi_label_list_and_object_forms),
        cmocka_unit_test(multi_label_rejects_a_column_listed_twice),
        cmocka_unit_test(output_names_must_be_unique),
        cmocka_unit_test(output_name_that_is_not_a_safe_file_name_is_rejected),
        cmocka_unit_test(stream_without_csv_is_rejected),
        cmocka_unit_test(config_without_streams_is_rejected),
        cmocka_unit_test(batch_size_zero_names_the_stream),
        cmocka_unit_test(mean_and_std_need_float32),
        cmocka_unit_test(mean_and_std_with_float32_are_kept),
        cmocka_unit_test(jpeg_planes_is_a_boolean),
        cmocka_unit_test(color_fill_takes_rgb_or_one_grey),
        cmocka_unit_test(augment_single_numbers_become_keras_style_ranges),
        cmocka_unit_test(augment_range_out_of_bounds_is_rejected),
        cmocka_unit_test(path_missing_policy_and_null_column),
        cmocka_unit_test(enum_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
