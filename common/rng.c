/* rng.c - Philox4x32-10 (Salmon, Moraes, Dror, Shaw; SC 2011). */
#include "common/rng.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rove_philox4x32(const uint32_t key[2], const uint32_t ctr[4],
                     uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void rove_rng_init(rove_rng *r, const uint64_t *ident, int n) {
  unsigned char h[16];
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, sizeof h);
  for (int i = 0; i < n; i++) {
    unsigned char b[8];
    for (int j = 0; j < 8; j++)
      b[j] = (unsigned char)(ident[i] >> (8 * j));
    crypto_generichash_update(&st, b, 8);
  }
  crypto_generichash_final(&st, h, sizeof h);
  memset(r, 0, sizeof *r);
  r->key[0] = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
              (uint32_t)h[3] << 24;
  r->key[1] = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
              (uint32_t)h[7] << 24;
  /* The upper counter words carry more of the identity hash; the low
   * word counts blocks. */
  r->ctr[2] = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 |
              (uint32_t)h[11] << 24;
  r->ctr[3] = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
              (uint32_t)h[15] << 24;
}

uint32_t rove_rng_u32(rove_rng *r) {
  if (r->avail == 0) {
    rove_philox4x32(r->key, r->ctr, r->buf);
    if (++r->ctr[0] == 0)
      r->ctr[1]++;
    r->avail = 4;
  }
  return r->buf[4 - r->avail--];
}

uint64_t rove_rng_u64(rove_rng *r) {
  uint64_t hi = rove_rng_u32(r);
  return hi << 32 | rove_rng_u32(r);
}

float rove_rng_uniform(rove_rng *r) {
  return (float)(rove_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

double rove_rng_uniform_d(rove_rng *r) {
  return (double)(rove_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double rove_rng_normal(rove_rng *r) {
  /* 1 - u is in (0, 1], so log never sees 0. */
  double u1 = 1.0 - rove_rng_uniform_d(r);
  double u2 = rove_rng_uniform_d(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint32_t rove_rng_below(rove_rng *r, uint32_t n) {
  /* Lemire's multiply-shift with rejection. */
  uint64_t m = (uint64_t)rove_rng_u32(r) * n;
  uint32_t lo = (uint32_t)m;
  if (lo < n) {
    uint32_t t = (uint32_t)(-n) % n;
    while (lo < t) {
      m = (uint64_t)rove_rng_u32(r) * n;
      lo = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}
