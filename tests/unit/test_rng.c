/* test_rng.c - Philox4x32-10 against the Random123 known-answer vectors,
 * identity keying, and statistical sanity of the derived distributions. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"

/* Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter
 * (4 words), key (2 words), expected output (4 words). */
static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
     0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
};

Test(rng, philox_known_answers) {
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    rove_philox4x32(kat[t] + 4, kat[t], out);
    for (int i = 0; i < 4; i++)
      cr_expect_eq(out[i], kat[t][6 + i],
                   "vector %d word %d: got %08x expected %08x", t, i, out[i],
                   kat[t][6 + i]);
  }
}

Test(rng, identity_keys_streams) {
  uint64_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4};
  rove_rng r1, r2, r3;
  rove_rng_init(&r1, a, 3);
  rove_rng_init(&r2, a, 3);
  rove_rng_init(&r3, b, 3);
  int same12 = 1, same13 = 1;
  for (int i = 0; i < 64; i++) {
    uint32_t x = rove_rng_u32(&r1), y = rove_rng_u32(&r2),
             z = rove_rng_u32(&r3);
    same12 &= x == y;
    same13 &= x == z;
  }
  cr_expect(same12, "same identity must give the same stream");
  cr_expect(!same13, "different identities must give different streams");
}

Test(rng, uniform_and_normal_moments) {
  uint64_t id[1] = {42};
  rove_rng r;
  rove_rng_init(&r, id, 1);
  const int n = 200000;
  double s = 0, s2 = 0, ns = 0, ns2 = 0, ns4 = 0;
  float umin = 1, umax = 0;
  int outside = 0;
  /* One assertion at the end: Criterion's --full-stats reports every
   * passing assertion, which costs more than the draws. */
  for (int i = 0; i < n; i++) {
    float u = rove_rng_uniform(&r);
    outside += !(u >= 0.0f && u < 1.0f);
    umin = u < umin ? u : umin;
    umax = u > umax ? u : umax;
    s += u;
    s2 += (double)u * u;
    double g = rove_rng_normal(&r);
    ns += g;
    ns2 += g * g;
    ns4 += g * g * g * g;
  }
  cr_expect_eq(outside, 0, "%d uniforms outside [0, 1)", outside);
  double mean = s / n, var = s2 / n - mean * mean;
  /* Standard errors: 0.289/sqrt(n) = 6.5e-4 for the mean. */
  cr_expect(fabs(mean - 0.5) < 5 * 0.2887 / sqrt(n), "uniform mean %g", mean);
  cr_expect(fabs(var - 1.0 / 12) < 0.002, "uniform variance %g", var);
  cr_expect(umin < 1e-4 && umax > 1 - 1e-4);
  double nm = ns / n, nv = ns2 / n - nm * nm, k = ns4 / n;
  cr_expect(fabs(nm) < 5 / sqrt(n), "normal mean %g", nm);
  cr_expect(fabs(nv - 1) < 0.02, "normal variance %g", nv);
  cr_expect(fabs(k - 3) < 0.1, "normal fourth moment %g (3 expected)", k);
}

Test(rng, below_is_uniform) {
  uint64_t id[2] = {7, 9};
  rove_rng r;
  rove_rng_init(&r, id, 2);
  enum { N = 7, DRAWS = 70000 };
  int cnt[N] = {0}, bad = 0;
  for (int i = 0; i < DRAWS; i++) {
    uint32_t v = rove_rng_below(&r, N);
    if (v < N)
      cnt[v]++;
    else
      bad++;
  }
  cr_expect_eq(bad, 0);
  /* Chi-square with 6 degrees of freedom: 22.5 is the 0.999 quantile. */
  double chi = 0, e = DRAWS / (double)N;
  for (int i = 0; i < N; i++)
    chi += (cnt[i] - e) * (cnt[i] - e) / e;
  cr_expect(chi < 22.5, "chi-square %g", chi);
  cr_expect_eq(rove_rng_below(&r, 1), 0u);
}

Test(rng, counter_advances_without_repeats) {
  uint64_t id[1] = {5};
  rove_rng r;
  rove_rng_init(&r, id, 1);
  uint32_t first[8];
  for (int i = 0; i < 8; i++)
    first[i] = rove_rng_u32(&r);
  /* Two consecutive blocks must differ (the counter moved). */
  cr_expect(memcmp(first, first + 4, 16) != 0);
}
