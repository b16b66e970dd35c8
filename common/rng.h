/* rng.h - Philox4x32-10 counter-based random numbers keyed by work identity. */
#ifndef ROVE_COMMON_RNG_H
#define ROVE_COMMON_RNG_H

#include <stdint.h>

/* A counter-based generator: the stream is a pure function of (key, ctr),
 * so the numbers an example's attack draws depend only on who it is
 * (job seed, model hash, eps, restart, example index), never on which rank
 * ran it, in which batch, or in what order (Salmon et al., SC 2011). */
typedef struct rove_rng {
  uint32_t key[2];
  uint32_t ctr[4];
  uint32_t buf[4];
  int avail; /* unused words left in buf */
} rove_rng;

/* Derives a key from any number of 64-bit identity words (hashed with
 * BLAKE2b), e.g. {seed, model-hash prefix, eps bits, restart, example}. */
void rove_rng_init(rove_rng *r, const uint64_t *ident, int n);
/* Philox4x32-10 block: out = philox(key, ctr). Exposed for the known-answer
 * test against the Random123 reference vectors. */
void rove_philox4x32(const uint32_t key[2], const uint32_t ctr[4],
                     uint32_t out[4]);

uint32_t rove_rng_u32(rove_rng *r);
uint64_t rove_rng_u64(rove_rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable). */
float rove_rng_uniform(rove_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rove_rng_uniform_d(rove_rng *r);
/* Standard normal (Box-Muller in double). */
double rove_rng_normal(rove_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint32_t rove_rng_below(rove_rng *r, uint32_t n);

#endif
