/*
 * rng.h: counter-based random numbers.
 *
 * Every random decision in mogen (the order of rows in an epoch, the
 * augmentation of a sample) is a pure function of a key such as
 * (seed, epoch, row) and a counter. There is no generator state to share or
 * to advance, so results do not depend on which process asks, or when.
 * The mixer is splitmix64's finaliser, which passes BigCrush when used as a
 * counter-based generator.
 */
#ifndef MOGEN_RNG_H
#define MOGEN_RNG_H

#include <stdint.h>

/* splitmix64's output function: a bijective mix of 64 bits. */
static inline uint64_t rng_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A 64-bit value for the key (a, b, c) and counter n. */
static inline uint64_t rng_u64(uint64_t a, uint64_t b, uint64_t c, uint64_t n)
{
    uint64_t h = rng_mix64(a);
    h = rng_mix64(h ^ b);
    h = rng_mix64(h ^ c);
    return rng_mix64(h ^ n);
}

/* A double uniform in [0, 1) from the top 53 bits. */
static inline double rng_unit(uint64_t x)
{
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* A double uniform in [lo, hi]; lo == hi gives lo. */
static inline double rng_uniform(uint64_t x, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(x);
}

/* An integer uniform in [0, bound) without modulo bias (Lemire's method,
 * with the rare rejection resolved by re-mixing). bound must be > 0. */
static inline uint32_t rng_below(uint64_t x, uint32_t bound)
{
    uint64_t m = (uint64_t)(uint32_t)x * bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            x = rng_mix64(x);
            m = (uint64_t)(uint32_t)x * bound;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

#endif
