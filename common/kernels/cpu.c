/* cpu.c - the choice between the SIMD and the portable kernels. */
#include "common/kernels/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* -1: not decided yet; then 0 or 1. Every thread that decides writes the
 * same value. */
static atomic_int simd = -1;

static int cpu_has_simd(void) {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

int rove_cpu_simd(void) {
  int s = atomic_load_explicit(&simd, memory_order_relaxed);
  if (s < 0) {
    const char *off = getenv("ROVE_NO_SIMD");
    s = cpu_has_simd() && !(off && *off && strcmp(off, "0") != 0);
    atomic_store_explicit(&simd, s, memory_order_relaxed);
  }
  return s;
}

void rove_cpu_set_simd(int on) {
  atomic_store_explicit(&simd, on && cpu_has_simd(), memory_order_relaxed);
}
