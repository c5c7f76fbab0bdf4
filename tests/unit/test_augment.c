/*
 * test_augment.c: counter-based augmentation parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "augment.h"

static const augment_config_t full_cfg = {
    .flip_horizontal = 0.5,
    .flip_vertical = 0.25,
    .rotate = {-40, 40},
    .translate = {0.2, 0.1},
    .scale = {0.8, 1.2},
    .shear = {-0.2, 0.2},
    .brightness = {-0.1, 0.1},
    .contrast = {0.8, 1.2},
};

static int params_equal(const augment_params_t *a, const augment_params_t *b)
{
    return a->flip_horizontal == b->flip_horizontal && a->flip_vertical == b->flip_vertical &&
           a->rotate_deg == b->rotate_deg && a->translate_x == b->translate_x &&
           a->translate_y == b->translate_y && a->zoom == b->zoom && a->shear == b->shear &&
           a->brightness == b->brightness && a->contrast == b->contrast;
}

static void identity_changes_nothing(void **state)
{
    augment_params_t p;
    (void)state;
    augment_identity(&p);
    assert_int_equal(p.flip_horizontal, 0);
    assert_int_equal(p.flip_vertical, 0);
    assert_true(p.rotate_deg == 0 && p.translate_x == 0 && p.translate_y == 0);
    assert_true(p.zoom == 1 && p.shear == 0 && p.brightness == 0 && p.contrast == 1);
}

static void empty_config_draws_identity(void **state)
{
    augment_config_t cfg;
    augment_params_t p, id;
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    augment_identity(&id);
    for (uint32_t row = 0; row < 100; row++) {
        augment_draw(&cfg, 7, 3, row, &p);
        assert_true(params_equal(&p, &id));
    }
}

static void same_key_gives_same_params(void **state)
{
    augment_params_t a, b;
    (void)state;
    for (uint32_t row = 0; row < 1000; row += 37) {
        augment_draw(&full_cfg, 42, 5, row, &a);
        augment_draw(&full_cfg, 42, 5, row, &b);
        assert_true(params_equal(&a, &b));
    }
}

static void different_epochs_give_different_params(void **state)
{
    augment_params_t a, b;
    (void)state;
    for (uint32_t row = 0; row < 100; row++) {
        augment_draw(&full_cfg, 42, 0, row, &a);
        augment_draw(&full_cfg, 42, 1, row, &b);
        assert_true(a.rotate_deg != b.rotate_deg);
        assert_true(a.zoom != b.zoom);
    }
}

static void different_seeds_and_rows_differ(void **state)
{
    augment_params_t a, b, c;
    (void)state;
    augment_draw(&full_cfg, 1, 0, 10, &a);
    augment_draw(&full_cfg, 2, 0, 10, &b);
    augment_draw(&full_cfg, 1, 0, 11, &c);
    assert_true(a.rotate_deg != b.rotate_deg);
    assert_true(a.rotate_deg != c.rotate_deg);
}

static void values_stay_in_their_ranges(void **state)
{
    augment_params_t p;
    int flips = 0;
    (void)state;
    for (uint32_t row = 0; row < 10000; row++) {
        augment_draw(&full_cfg, 9, 2, row, &p);
        assert_true(p.rotate_deg >= -40 && p.rotate_deg <= 40);
        assert_true(p.translate_x >= -0.2 && p.translate_x <= 0.2);
        assert_true(p.translate_y >= -0.1 && p.translate_y <= 0.1);
        assert_true(p.zoom >= 0.8 && p.zoom <= 1.2);
        assert_true(p.shear >= -0.2 && p.shear <= 0.2);
        assert_true(p.brightness >= -0.1 && p.brightness <= 0.1);
        assert_true(p.contrast >= 0.8 && p.contrast <= 1.2);
        flips += p.flip_horizontal;
    }
    /* p = 0.5 over 10000 draws: 5000 +- 5 sigma (sigma = 50). */
    assert_in_range(flips, 4750, 5250);
}

static void one_parameter_does_not_move_another(void **state)
{
    augment_config_t only_rotate = {.rotate = {-40, 40}};
    augment_params_t a, b;
    (void)state;
    augment_draw(&only_rotate, 3, 4, 5, &a);
    augment_draw(&full_cfg, 3, 4, 5, &b);
    assert_true(a.rotate_deg == b.rotate_deg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identity_changes_nothing),
        cmocka_unit_test(empty_config_draws_identity),
        cmocka_unit_test(same_key_gives_same_params),
        cmocka_unit_test(different_epochs_give_different_params),
        cmocka_unit_test(different_seeds_and_rows_differ),
        cmocka_unit_test(values_stay_in_their_ranges),
        cmocka_unit_test(one_parameter_does_not_move_another),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
