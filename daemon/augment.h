/*
 * augment.h: the random augmentation parameters of one sample.
 *
 * augment_draw() is a pure function of (config, seed, epoch, row): a
 * counter-based generator, never a shared RNG state, so a sample gets the
 * same parameters whichever worker process draws them and in whatever order.
 */
#ifndef MOGEN_AUGMENT_H
#define MOGEN_AUGMENT_H

#include <stdint.h>

#include "config.h"

typedef struct augment_params {
    int flip_horizontal; /* 1 = mirror left-right. */
    int flip_vertical;   /* 1 = mirror top-bottom. */
    double rotate_deg;   /* Rotation about the centre, degrees. */
    double translate_x;  /* Shift as a fraction of output width. */
    double translate_y;  /* Shift as a fraction of output height. */
    double zoom;         /* 1 = none; > 1 enlarges the content. */
    double shear;        /* Shear angle, radians (x shear). */
    double brightness;   /* Added to every channel, fraction of 255. */
    double contrast;     /* Multiplies the distance from mid-grey; 1 = none. */
} augment_params_t;

/* The parameters that change nothing. */
void augment_identity(augment_params_t *out);

/* Draws the parameters of sample `row` of epoch `epoch` under seed. */
void augment_draw(const augment_config_t *cfg, uint64_t seed, uint32_t epoch, uint32_t row,
                  augment_params_t *out);

#endif
