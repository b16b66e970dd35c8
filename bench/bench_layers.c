/* bench_layers.c - SmallCNN forward and forward+backward-to-input speed on
 * one thread, next to raw OpenBLAS sgemm on comparable shapes. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arch.h"
#include "common/err.h"
#include "common/model.h"
#include "common/rng.h"

/* Prints figures only: speed is never asserted (STYLE.md). Run with
 * OPENBLAS_NUM_THREADS=1 to compare like with like; the core name tells
 * which OpenBLAS kernels ran. */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fill(float *v, size_t n, float lo, float hi, uint64_t key) {
  uint64_t id[2] = {0x62656e6368ull, key};
  rove_rng g;
  rove_rng_init(&g, id, 2);
  for (size_t i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * rove_rng_uniform(&g);
}

/* Best of `rounds` timings of `reps` calls, in seconds per call. */
typedef struct bench_ctx {
  rove_exec *e;
  int B;
  const float *x, *dz;
  float *dx;
  int backward;
} bench_ctx;

static void step(bench_ctx *c) {
  rove_exec_forward(c->e, c->B, c->x);
  if (c->backward)
    rove_exec_backward(c->e, c->B, c->x, c->dz, c->dx, NULL);
}

static double time_step(bench_ctx *c, double budget) {
  step(c); /* warm up */
  int reps = 1;
  double t0 = now();
  step(c);
  double one = now() - t0;
  if (one > 0)
    reps = (int)(budget / 5 / one) + 1;
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    t0 = now();
    for (int i = 0; i < reps; i++)
      step(c);
    double t = (now() - t0) / reps;
    best = t < best ? t : best;
  }
  return best;
}

static double sgemm_gflops(int M, int N, int K, double budget) {
  float *A = malloc(sizeof(float) * (size_t)M * K);
  float *Bm = malloc(sizeof(float) * (size_t)K * N);
  float *C = malloc(sizeof(float) * (size_t)M * N);
  if (!A || !Bm || !C) {
    free(A);
    free(Bm);
    free(C);
    return 0;
  }
  fill(A, (size_t)M * K, -1, 1, 1);
  fill(Bm, (size_t)K * N, -1, 1, 2);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K,
              Bm, N, 0.0f, C, N);
  double t0 = now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K,
              Bm, N, 0.0f, C, N);
  double one = now() - t0;
  int reps = one > 0 ? (int)(budget / 5 / one) + 1 : 100;
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    t0 = now();
    for (int i = 0; i < reps; i++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A,
                  K, Bm, N, 0.0f, C, N);
    double t = (now() - t0) / reps;
    best = t < best ? t : best;
  }
  free(A);
  free(Bm);
  free(C);
  return 2.0 * M * N * K / best * 1e-9;
}

int main(int argc, char **argv) {
  /* bench_layers [SECONDS]: seconds per figure (default 1). The per-node
   * profile is `rove bench --layers`. */
  double budget = 1.0;
  if (argc > 2) {
    fprintf(stderr, "usage: bench_layers [SECONDS]\n");
    return 2;
  }
  if (argc == 2) {
    char *end;
    budget = strtod(argv[1], &end);
    if (end == argv[1] || *end || !(budget > 0 && budget < 1e4)) {
      fprintf(stderr, "bench_layers: '%s': expected seconds per figure (> 0)\n",
              argv[1]);
      return 2;
    }
  }
  rove_model m;
  rove_exec e;
  if (rove_arch_smallcnn(&m, 1.0f, 10, 1) < 0 ||
      rove_exec_init(&e, &m, 100) < 0) {
    rove_error_print(stderr);
    return 1;
  }
  size_t d = (size_t)rove_shape_numel(&m.in);
  float *x = malloc(sizeof(float) * 100 * d);
  float *dx = malloc(sizeof(float) * 100 * d);
  float *dz = malloc(sizeof(float) * 100 * 10);
  if (!x || !dx || !dz)
    return 1;
  fill(x, 100 * d, 0, 1, 3);
  fill(dz, 1000, -1, 1, 4);
  double macs = rove_model_macs(&m);
  const char *env = getenv("OPENBLAS_NUM_THREADS");
  printf("bench_layers: SmallCNN (28x28x1, %.3f MMAC/example), one "
         "thread\n",
         macs * 1e-6);
  printf("openblas corename: %s, OPENBLAS_NUM_THREADS=%s\n",
         openblas_get_corename(), env ? env : "(unset)");
  double step_gflops = 0;
  for (int bw = 0; bw < 2; bw++)
    for (int bi = 0; bi < 2; bi++) {
      int B = bi ? 100 : 1;
      bench_ctx c = {&e, B, x, dz, dx, bw};
      double t = time_step(&c, budget);
      /* backward to the input costs about as many MACs as the forward */
      double flops = 2.0 * macs * (bw ? 2 : 1) * B;
      double gf = flops / t * 1e-9;
      printf("%-26s batch %3d: %9.1f examples/s  %7.2f ms/batch  %6.1f "
             "GFLOP/s\n",
             bw ? "forward+backward-to-input" : "forward", B, B / t, t * 1e3,
             gf);
      if (bw && B == 100)
        step_gflops = gf;
    }
  double g_conv = sgemm_gflops(32, 576, 288, budget);
  double g_big = sgemm_gflops(1024, 1024, 1024, budget);
  printf("raw cblas_sgemm 32x576x288 (conv2's GEMM): %6.1f GFLOP/s\n", g_conv);
  printf("raw cblas_sgemm 1024x1024x1024 (peak):     %6.1f GFLOP/s\n", g_big);
  printf("SmallCNN step at batch 100 / sgemm peak: %.0f%%  (/ conv2-shape "
         "sgemm: %.0f%%)\n",
         100 * step_gflops / g_big, 100 * step_gflops / g_conv);
  free(x);
  free(dx);
  free(dz);
  rove_exec_deinit(&e);
  rove_model_deinit(&m);
  return 0;
}
