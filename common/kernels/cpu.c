/* cpu.c - the choice between the AVX-512, AVX2 and portable kernels. */
#include "common/kernels/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* -1: not decided yet; then a level. Every thread that decides writes the
 * same value. */
static atomic_int level = -1;

static int cpu_best(void) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return ROVE_CPU_PORTABLE;
  return __builtin_cpu_supports("avx512f") ? ROVE_CPU_AVX512 : ROVE_CPU_AVX2;
#else
  return ROVE_CPU_PORTABLE;
#endif
}

static int from_env(void) {
  int l = cpu_best();
  const char *off = getenv("ROVE_NO_SIMD");
  if (off && *off && strcmp(off, "0") != 0)
    return ROVE_CPU_PORTABLE;
  const char *cap = getenv("ROVE_SIMD");
  if (cap && !strcmp(cap, "portable"))
    l = ROVE_CPU_PORTABLE;
  else if (cap && !strcmp(cap, "avx2") && l > ROVE_CPU_AVX2)
    l = ROVE_CPU_AVX2;
  return l;
}

int rove_cpu_level(void) {
  int l = atomic_load_explicit(&level, memory_order_relaxed);
  if (l < 0) {
    l = from_env();
    atomic_store_explicit(&level, l, memory_order_relaxed);
  }
  return l;
}

const char *rove_cpu_level_name(int l) {
  switch (l) {
  case ROVE_CPU_AVX512: return "avx512";
  case ROVE_CPU_AVX2: return "avx2";
  default: return "portable";
  }
}

int rove_cpu_simd(void) {
  return rove_cpu_level() >= ROVE_CPU_AVX2;
}

void rove_cpu_set_level(int l) {
  int best = cpu_best();
  atomic_store_explicit(&level, l < 0 || l > best ? best : l,
                        memory_order_relaxed);
}

void rove_cpu_set_simd(int on) {
  rove_cpu_set_level(on ? -1 : ROVE_CPU_PORTABLE);
}
