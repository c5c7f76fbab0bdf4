/*
 * augment.c: draw one sample's augmentation parameters.
 *
 * Each parameter has its own fixed counter under the key (seed, epoch, row),
 * so the value drawn for, say, rotation does not change when another
 * augmentation is switched on or off, and no parameter depends on any state
 * outside its arguments. AUGMENT_DOMAIN sets these counters apart from any
 * other user of the same key (the scheduler's permutation, for one).
 */
#include "augment.h"

#include "rng.h"

/* "AUG" in the top bytes of the counter: a stream of its own. */
#define AUGMENT_DOMAIN 0x4155470000000000ULL

/* One counter per parameter; never renumber, or old runs stop reproducing. */
enum augment_counter {
    AUGMENT_CTR_FLIP_H,
    AUGMENT_CTR_FLIP_V,
    AUGMENT_CTR_ROTATE,
    AUGMENT_CTR_TRANSLATE_X,
    AUGMENT_CTR_TRANSLATE_Y,
    AUGMENT_CTR_ZOOM,
    AUGMENT_CTR_SHEAR,
    AUGMENT_CTR_BRIGHTNESS,
    AUGMENT_CTR_CONTRAST,
    AUGMENT_CTR_MAX
};

void augment_identity(augment_params_t *out)
{
    *out = (augment_params_t){
        .flip_horizontal = 0,
        .flip_vertical = 0,
        .rotate_deg = 0,
        .translate_x = 0,
        .translate_y = 0,
        .zoom = 1,
        .shear = 0,
        .brightness = 0,
        .contrast = 1,
    };
}

static uint64_t augment_bits(uint64_t seed, uint32_t epoch, uint32_t row, enum augment_counter n)
{
    return rng_u64(seed, epoch, row, AUGMENT_DOMAIN | (uint64_t)n);
}

/* Uniform in [lo, hi]; [0, 0] (the "off" value) gives `off`. */
static double augment_range(const double range[2], double off, uint64_t bits)
{
    if (range[0] == 0 && range[1] == 0)
        return off;
    return rng_uniform(bits, range[0], range[1]);
}

/*
 * Fills out from cfg's ranges. Zoom and contrast are multiplicative, so an
 * unset range ([0, 0]) means 1; translate is symmetric, [-t, t] per axis.
 */
void augment_draw(const augment_config_t *cfg, uint64_t seed, uint32_t epoch, uint32_t row,
                  augment_params_t *out)
{
    augment_identity(out);
    if (cfg->flip_horizontal > 0)
        out->flip_horizontal =
            rng_unit(augment_bits(seed, epoch, row, AUGMENT_CTR_FLIP_H)) < cfg->flip_horizontal;
    if (cfg->flip_vertical > 0)
        out->flip_vertical =
            rng_unit(augment_bits(seed, epoch, row, AUGMENT_CTR_FLIP_V)) < cfg->flip_vertical;
    out->rotate_deg =
        augment_range(cfg->rotate, 0, augment_bits(seed, epoch, row, AUGMENT_CTR_ROTATE));
    if (cfg->translate[0] != 0)
        out->translate_x = rng_uniform(augment_bits(seed, epoch, row, AUGMENT_CTR_TRANSLATE_X),
                                       -cfg->translate[0], cfg->translate[0]);
    if (cfg->translate[1] != 0)
        out->translate_y = rng_uniform(augment_bits(seed, epoch, row, AUGMENT_CTR_TRANSLATE_Y),
                                       -cfg->translate[1], cfg->translate[1]);
    out->zoom = augment_range(cfg->scale, 1, augment_bits(seed, epoch, row, AUGMENT_CTR_ZOOM));
    out->shear = augment_range(cfg->shear, 0, augment_bits(seed, epoch, row, AUGMENT_CTR_SHEAR));
    out->brightness =
        augment_range(cfg->brightness, 0, augment_bits(seed, epoch, row, AUGMENT_CTR_BRIGHTNESS));
    out->contrast =
        augment_range(cfg->contrast, 1, augment_bits(seed, epoch, row, AUGMENT_CTR_CONTRAST));
}
