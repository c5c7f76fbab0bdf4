/*
 * test_csv.c: the RFC 4180 reader, one rule per test, each on a tiny input.
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

#include "alloc.h"
#include "csv.h"
#include "message.h"
#include "report.h"

/* Parses text as a file called "t.csv"; returns csv_parse()'s result. */
static int parse(csv_t *csv, const char *text, report_t *rep)
{
    size_t len = strlen(text);
    char *buf = mogen_malloc(len + 1);

    memcpy(buf, text, len);
    return csv_parse(csv, buf, len, "t.csv", rep);
}

/* Same, for input holding NUL bytes (len given). */
static int parse_bytes(csv_t *csv, const char *bytes, size_t len, report_t *rep)
{
    char *buf = mogen_malloc(len + 1);

    memcpy(buf, bytes, len);
    return csv_parse(csv, buf, len, "t.csv", rep);
}

/* Fails, printing every message, unless one message contains needle. */
static void assert_reported(const report_t *rep, const char *needle)
{
    for (size_t i = 0; i < rep->count; i++)
        if (strstr(rep->entries[i].message, needle) != NULL)
            return;
    for (size_t i = 0; i < rep->count; i++)
        print_message("  message: %s\n", rep->entries[i].message);
    fail_msg("no message contains \"%s\"", needle);
}

static void header_and_rows_are_split_into_cells(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "image,label\na.jpg,cat\nb.jpg,dog\n", &rep), 0);
    assert_int_equal(csv.column_count, 2);
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv_header(&csv, 0), "image");
    assert_string_equal(csv_header(&csv, 1), "label");
    assert_string_equal(csv_cell(&csv, 0, 0), "a.jpg");
    assert_string_equal(csv_cell(&csv, 1, 1), "dog");
    assert_int_equal(csv_row_line(&csv, 0), 2);
    assert_int_equal(csv_row_line(&csv, 1), 3);
    assert_int_equal(rep.count, 0);
    csv_free(&csv);
    report_free(&rep);
}

static void quoted_field_keeps_commas(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n\"x, y\",z\n", &rep), 0);
    assert_string_equal(csv_cell(&csv, 0, 0), "x, y");
    assert_string_equal(csv_cell(&csv, 0, 1), "z");
    csv_free(&csv);
    report_free(&rep);
}

static void doubled_quote_becomes_one_quote(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n", &rep), 0);
    assert_string_equal(csv_cell(&csv, 0, 0), "say \"hi\"");
    assert_string_equal(csv_cell(&csv, 0, 1), "\"");
    csv_free(&csv);
    report_free(&rep);
}

static void quoted_field_with_newline_spans_lines(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n\"one\ntwo\nthree\",x\nlast,y\n", &rep), 0);
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv_cell(&csv, 0, 0), "one\ntwo\nthree");
    assert_int_equal(csv_row_line(&csv, 0), 2);
    /* The second record starts on physical line 5, after the three-line cell. */
    assert_int_equal(csv_row_line(&csv, 1), 5);
    assert_string_equal(csv_cell(&csv, 1, 0), "last");
    csv_free(&csv);
    report_free(&rep);
}

static void crlf_line_ends_are_accepted(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\r\n1,2\r\n\"q\r\nr\",3\r\n", &rep), 0);
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv_header(&csv, 1), "b");
    assert_string_equal(csv_cell(&csv, 0, 1), "2");
    assert_string_equal(csv_cell(&csv, 1, 0), "q\r\nr");
    assert_string_equal(csv_cell(&csv, 1, 1), "3");
    assert_int_equal(csv_row_line(&csv, 1), 3);
    csv_free(&csv);
    report_free(&rep);
}

static void utf8_bom_is_not_part_of_the_first_header(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "\xEF\xBB\xBFimage,label\nx,y\n", &rep), 0);
    assert_string_equal(csv_header(&csv, 0), "image");
    assert_int_equal(csv_column_index(&csv, "image"), 0);
    csv_free(&csv);
    report_free(&rep);
}

static void last_line_without_newline_is_read(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,2\n3,4", &rep), 0);
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv_cell(&csv, 1, 1), "4");
    csv_free(&csv);
    report_free(&rep);
}

static void quoted_last_field_without_newline_is_read(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,\"two\"", &rep), 0);
    assert_string_equal(csv_cell(&csv, 0, 1), "two");
    csv_free(&csv);
    report_free(&rep);
}

static void blank_trailing_lines_are_ignored(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,2\n\n\r\n\n", &rep), 0);
    assert_int_equal(csv.row_count, 1);
    assert_int_equal(rep.count, 0);
    csv_free(&csv);
    report_free(&rep);
}

static void blank_lines_between_rows_are_skipped_but_counted(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,2\n\n3,4\n", &rep), 0);
    assert_int_equal(csv.row_count, 2);
    assert_int_equal(csv_row_line(&csv, 1), 4);
    csv_free(&csv);
    report_free(&rep);
}

static void surrounding_whitespace_is_kept_as_data(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n x , y\n", &rep), 0);
    assert_string_equal(csv_cell(&csv, 0, 0), " x ");
    assert_string_equal(csv_cell(&csv, 0, 1), " y");
    csv_free(&csv);
    report_free(&rep);
}

static void empty_fields_are_empty_strings(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b,c\n,\"\",\n", &rep), 0);
    assert_string_equal(csv_cell(&csv, 0, 0), "");
    assert_string_equal(csv_cell(&csv, 0, 1), "");
    assert_string_equal(csv_cell(&csv, 0, 2), "");
    csv_free(&csv);
    report_free(&rep);
}

static void wrong_field_count_is_rejected_with_file_and_line(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,2\n3\n5,6\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv:3: row 1: expected 2 fields as in the header, found 1");
    /* The sound rows are still there. */
    assert_int_equal(csv.row_count, 2);
    assert_string_equal(csv_cell(&csv, 1, 0), "5");
    csv_free(&csv);
    report_free(&rep);
}

static void wrong_field_count_counts_rows_past_blank_lines_and_bad_records(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    /* Blank lines are not rows; a malformed record still is one. */
    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n\n1,2\n3\n\n4\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv:4: row 1: expected 2 fields as in the header, found 1");
    assert_reported(&rep, "t.csv:6: row 2: expected 2 fields as in the header, found 1");
    csv_free(&csv);
    report_free(&rep);
}

static void too_many_fields_is_rejected_with_line(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,2,3\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv:2: row 0: expected 2 fields as in the header, found 3");
    csv_free(&csv);
    report_free(&rep);
}

static void every_bad_row_is_reported_not_just_the_first(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1\n2,2\n3\n4,4,4\n", &rep), -EINVAL);
    assert_int_equal(rep.error_count, 3);
    assert_reported(&rep, "t.csv:2:");
    assert_reported(&rep, "t.csv:4:");
    assert_reported(&rep, "t.csv:5:");
    csv_free(&csv);
    report_free(&rep);
}

static void unterminated_quote_names_the_line_where_it_opened(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n1,2\n3,\"never\nclosed\n5,6\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv:3: unterminated quoted field");
    assert_reported(&rep, "opened on line 3 (field 2)");
    csv_free(&csv);
    report_free(&rep);
}

static void text_after_closing_quote_is_rejected(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n\"x\"y,1\n2,3\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv:2: field 1: text after the closing quote");
    /* Parsing resumes on the next line. */
    assert_int_equal(csv.row_count, 1);
    assert_string_equal(csv_cell(&csv, 0, 0), "2");
    csv_free(&csv);
    report_free(&rep);
}

static void empty_file_is_rejected(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "", &rep), -EINVAL);
    assert_reported(&rep, "t.csv: empty file");
    csv_free(&csv);
    report_free(&rep);
}

static void file_of_blank_lines_and_bom_is_empty(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "\xEF\xBB\xBF\n\r\n\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv: empty file");
    assert_int_equal(csv.column_count, 0);
    csv_free(&csv);
    report_free(&rep);
}

static void header_only_file_has_no_rows(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\n", &rep), 0);
    assert_int_equal(csv.column_count, 2);
    assert_int_equal(csv.row_count, 0);
    csv_free(&csv);
    report_free(&rep);
}

static void duplicate_header_is_rejected_with_line(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "\nimage,label,label\nx,1,2\n", &rep), -EINVAL);
    assert_reported(&rep, "t.csv:2: duplicate column name \"label\" (columns 2 and 3)");
    csv_free(&csv);
    report_free(&rep);
}

static void nul_byte_is_rejected_with_line(void **state)
{
    csv_t csv;
    report_t rep;
    static const char bytes[] = "a,b\n1,2\n3,\0\n";
    (void)state;

    report_init(&rep);
    assert_int_equal(parse_bytes(&csv, bytes, sizeof(bytes) - 1, &rep), -EINVAL);
    assert_reported(&rep, "t.csv:3: contains a NUL byte");
    csv_free(&csv);
    report_free(&rep);
}

static void lone_carriage_return_is_data(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "a,b\nx\ry,2\n", &rep), 0);
    assert_string_equal(csv_cell(&csv, 0, 0), "x\ry");
    csv_free(&csv);
    report_free(&rep);
}

static void load_names_the_file_it_cannot_open(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(csv_load(&csv, "/nonexistent/mogen/x.csv", "x.csv", NULL, &rep), -ENOENT);
    assert_reported(&rep, "x.csv: cannot open /nonexistent/mogen/x.csv");
    csv_free(&csv);
    report_free(&rep);
}

static void load_names_the_config_field_it_was_given(void **state)
{
    csv_t csv;
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(csv_load(&csv, "/nonexistent/mogen/x.csv", "x.csv", "streams.val.csv", &rep),
                     -ENOENT);
    assert_reported(&rep, "streams.val.csv: cannot open /nonexistent/mogen/x.csv: No such file");
    csv_free(&csv);
    report_free(&rep);
}

static void load_reads_a_file_from_disk(void **state)
{
    char dir[] = "/tmp/mogen-test-csv-XXXXXX";
    char path[128];
    csv_t csv;
    report_t rep;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/train.csv", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("image,label\r\nq.jpg,\"a,b\"\r\n", f);
    assert_int_equal(fclose(f), 0);

    report_init(&rep);
    assert_int_equal(csv_load(&csv, path, "train.csv", NULL, &rep), 0);
    assert_int_equal(csv.row_count, 1);
    assert_string_equal(csv_cell(&csv, 0, 1), "a,b");
    csv_free(&csv);
    report_free(&rep);
    unlink(path);
    rmdir(dir);
}

static void column_list_joins_header_names(void **state)
{
    csv_t csv;
    report_t rep;
    char list[64];
    char tiny[12];
    (void)state;

    report_init(&rep);
    assert_int_equal(parse(&csv, "image,sender_id,label,kids\n", &rep), 0);
    csv_column_list(&csv, list, sizeof(list));
    assert_string_equal(list, "image, sender_id, label, kids");
    csv_column_list(&csv, tiny, sizeof(tiny));
    assert_string_equal(tiny + strlen(tiny) - 3, "...");
    assert_int_equal(csv_column_index(&csv, "kids"), 3);
    assert_int_equal(csv_column_index(&csv, "kidz"), -1);
    csv_free(&csv);
    report_free(&rep);
}

static void utf8_validation_accepts_well_formed_text(void **state)
{
    (void)state;
    assert_true(mogen_utf8_valid("plain/ascii.jpg", 15));
    assert_true(mogen_utf8_valid("caf\xC3\xA9", 5));            /* é */
    assert_true(mogen_utf8_valid("\xE2\x82\xAC", 3));           /* € */
    assert_true(mogen_utf8_valid("\xF0\x9F\x98\x80", 4));       /* 😀 */
}

static void utf8_validation_rejects_malformed_bytes(void **state)
{
    (void)state;
    assert_false(mogen_utf8_valid("caf\xE9", 4));               /* Latin-1 é */
    assert_false(mogen_utf8_valid("\xC0\xAF", 2));              /* Overlong '/'. */
    assert_false(mogen_utf8_valid("\xED\xA0\x80", 3));          /* Surrogate. */
    assert_false(mogen_utf8_valid("\xE2\x82", 2));              /* Truncated. */
    assert_false(mogen_utf8_valid("\xF4\x90\x80\x80", 4));      /* Above U+10FFFF. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_and_rows_are_split_into_cells),
        cmocka_unit_test(quoted_field_keeps_commas),
        cmocka_unit_test(doubled_quote_becomes_one_quote),
        cmocka_unit_test(quoted_field_with_newline_spans_lines),
        cmocka_unit_test(crlf_line_ends_are_accepted),
        cmocka_unit_test(utf8_bom_is_not_part_of_the_first_header),
        cmocka_unit_test(last_line_without_newline_is_read),
        cmocka_unit_test(quoted_last_field_without_newline_is_read),
        cmocka_unit_test(blank_trailing_lines_are_ignored),
        cmocka_unit_test(blank_lines_between_rows_are_skipped_but_counted),
        cmocka_unit_test(surrounding_whitespace_is_kept_as_data),
        cmocka_unit_test(empty_fields_are_empty_strings),
        cmocka_unit_test(wrong_field_count_is_rejected_with_file_and_line),
        cmocka_unit_test(wrong_field_count_counts_rows_past_blank_lines_and_bad_records),
        cmocka_unit_test(too_many_fields_is_rejected_with_line),
        cmocka_unit_test(every_bad_row_is_reported_not_just_the_first),
        cmocka_unit_test(unterminated_quote_names_the_line_where_it_opened),
        cmocka_unit_test(text_after_closing_quote_is_rejected),
        cmocka_unit_test(empty_file_is_rejected),
        cmocka_unit_test(file_of_blank_lines_and_bom_is_empty),
        cmocka_unit_test(header_only_file_has_no_rows),
        cmocka_unit_test(duplicate_header_is_rejected_with_line),
        cmocka_unit_test(nul_byte_is_rejected_with_line),
        cmocka_unit_test(lone_carriage_return_is_data),
        cmocka_unit_test(load_names_the_file_it_cannot_open),
        cmocka_unit_test(load_names_the_config_field_it_was_given),
        cmocka_unit_test(load_reads_a_file_from_disk),
        cmocka_unit_test(column_list_joins_header_names),
        cmocka_unit_test(utf8_validation_accepts_well_formed_text),
        cmocka_unit_test(utf8_validation_rejects_malformed_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
