/*
 * test_report.c: the load-problem list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "report.h"

static void errors_and_warnings_are_counted_apart(void **state)
{
    report_t rep;
    (void)state;

    report_init(&rep);
    report_error(&rep, "train.csv:%d: bad", 3);
    report_warning(&rep, "careful");
    assert_int_equal(rep.error_count, 1);
    assert_int_equal(rep.warning_count, 1);
    assert_int_equal(rep.count, 2);
    assert_string_equal(rep.entries[0].message, "train.csv:3: bad");
    assert_int_equal(rep.entries[1].severity, REPORT_WARNING);
    report_free(&rep);
}

static void entries_past_the_ceiling_are_counted_not_stored(void **state)
{
    report_t rep;
    (void)state;

    report_init(&rep);
    rep.max_entries = 2;
    for (int i = 0; i < 5; i++)
        report_error(&rep, "error %d", i);
    assert_int_equal(rep.count, 2);
    assert_int_equal(rep.dropped, 3);
    assert_int_equal(report_error_count(&rep), 5);
    report_free(&rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_and_warnings_are_counted_apart),
        cmocka_unit_test(entries_past_the_ceiling_are_counted_not_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
