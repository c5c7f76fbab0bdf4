/*
 * test_labels.c: interning, sorted vocabularies and the blank/whitespace rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "labels.h"
#include "report.h"

static uint32_t intern(labels_t *l, const char *s)
{
    return labels_intern(l, s, strlen(s));
}

static void same_string_gets_same_id(void **state)
{
    labels_t l;
    (void)state;

    labels_init(&l);
    assert_int_equal(intern(&l, "cat"), 0);
    assert_int_equal(intern(&l, "dog"), 1);
    assert_int_equal(intern(&l, "cat"), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(labels_name(&l, 1), "dog");
    labels_free(&l);
}

static void interning_uses_the_given_length_not_the_terminator(void **state)
{
    labels_t l;
    (void)state;

    labels_init(&l);
    assert_int_equal(labels_intern(&l, "red|blue", 3), 0);
    assert_string_equal(labels_name(&l, 0), "red");
    assert_int_equal(labels_intern(&l, "re", 2), 1);
    assert_int_equal(labels_find(&l, "red", 3), 0);
    assert_int_equal(labels_find(&l, "r", 1), -1);
    labels_free(&l);
}

static void ids_and_names_survive_table_growth(void **state)
{
    labels_t l;
    char name[32];
    (void)state;

    labels_init(&l);
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "class-%d", i);
        assert_int_equal(intern(&l, name), i);
    }
    for (int i = 0; i < 5000; i += 97) {
        snprintf(name, sizeof(name), "class-%d", i);
        assert_int_equal(labels_find(&l, name, strlen(name)), i);
        assert_string_equal(labels_name(&l, (uint32_t)i), name);
    }
    labels_free(&l);
}

static void sort_orders_names_by_bytes(void **state)
{
    labels_t l;
    uint32_t *rank;
    (void)state;

    labels_init(&l);
    intern(&l, "b");        /* id 0 */
    intern(&l, "\xC3\xA9"); /* id 1: é, bytes above ASCII sort last */
    intern(&l, "B");        /* id 2: upper case sorts before lower case */
    intern(&l, "a");        /* id 3 */
    intern(&l, "");         /* id 4: the empty string sorts first */
    rank = labels_sort(&l);
    assert_non_null(rank);
    assert_int_equal(rank[4], 0);
    assert_int_equal(rank[2], 1);
    assert_int_equal(rank[3], 2);
    assert_int_equal(rank[0], 3);
    assert_int_equal(rank[1], 4);
    mogen_free(rank);
    labels_free(&l);
}

static void sort_of_no_names_is_null(void **state)
{
    labels_t l;
    (void)state;

    labels_init(&l);
    assert_null(labels_sort(&l));
    labels_free(&l);
}

static void blank_means_empty_whitespace_or_nan(void **state)
{
    (void)state;
    assert_true(labels_is_blank("", 0));
    assert_true(labels_is_blank("   ", 3));
    assert_true(labels_is_blank("\t", 1));
    assert_true(labels_is_blank("nan", 3));
    assert_true(labels_is_blank("NaN", 3));
    assert_true(labels_is_blank(" NAN ", 5));
    assert_false(labels_is_blank("nano", 4));
    assert_false(labels_is_blank("na", 2));
    assert_false(labels_is_blank("0", 1));
    assert_false(labels_is_blank("False", 5));
}

static void whitespace_variants_are_warned_about(void **state)
{
    char *names[] = {"Shirt", "T-Shirt", "T-Shirt ", " T-Shirt"};
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(labels_warn_whitespace(names, 4, "outputs.multi_class[0] \"cat\"", NULL, NULL, &rep), 2);
    assert_int_equal(rep.warning_count, 2);
    assert_int_equal(rep.error_count, 0);
    assert_non_null(strstr(rep.entries[0].message, "outputs.multi_class[0] \"cat\": values "
                                                   "\"T-Shirt\" and \"T-Shirt \" differ only by "
                                                   "surrounding whitespace"));
    report_free(&rep);
}

static void distinct_names_are_not_warned_about(void **state)
{
    char *names[] = {"T Shirt", "T-Shirt", "TShirt", "t-shirt"};
    report_t rep;
    (void)state;

    report_init(&rep);
    assert_int_equal(labels_warn_whitespace(names, 4, "x", NULL, NULL, &rep), 0);
    assert_int_equal(rep.count, 0);
    report_free(&rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_string_gets_same_id),
        cmocka_unit_test(interning_uses_the_given_length_not_the_terminator),
        cmocka_unit_test(ids_and_names_survive_table_growth),
        cmocka_unit_test(sort_orders_names_by_bytes),
        cmocka_unit_test(sort_of_no_names_is_null),
        cmocka_unit_test(blank_means_empty_whitespace_or_nan),
        cmocka_unit_test(whitespace_variants_are_warned_about),
        cmocka_unit_test(distinct_names_are_not_warned_about),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
