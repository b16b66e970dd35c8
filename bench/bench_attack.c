/* bench_attack.c - attack throughput on SmallCNN: example-steps per second
 * of PGD and APGD through rove_eval_unit (forward + backward to the input,
 * bookkeeping included), next to the PyTorch figures measured in
 * bench/README.md. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arch.h"
#include "common/attack/attack.h"
#include "common/err.h"
#include "common/eval.h"
#include "common/model.h"
#include "common/rng.h"
#include "common/util.h"

char *openblas_get_corename(void);

static int bench(const rove_model *m, const char *attack, int n, int steps,
                 const float *x, const int *y, const int64_t *idx) {
  rove_profile *p;
  char s[16];
  ROVE_TRY(rove_profile_create(&p, "naive"));
  snprintf(s, sizeof s, "%d", steps);
  int rc = rove_profile_set(p, "attack", attack);
  if (rc == 0)
    rc = rove_profile_set(p, "steps", s);
  if (rc < 0) {
    rove_profile_destroy(&p);
    return rc;
  }
  rove_unit u;
  memset(&u, 0, sizeof u);
  u.m = m;
  u.p = p;
  u.norm_linf = 1;
  /* A radius too small to break a random network: every example runs
   * every step, so the figure is the steady-state rate. */
  u.eps = 1e-4;
  u.n = n;
  u.x = x;
  u.y = y;
  u.idx = idx;
  u.bmax = 100;
  rove_example_result *r = malloc(sizeof *r * (size_t)n);
  rove_unit_stats st;
  double t0 = rove_now();
  rc = rove_eval_unit(&u, r, NULL, &st);
  double dt = rove_now() - t0;
  if (rc == 0) {
    int broken = 0;
    for (int i = 0; i < n; i++)
      broken += r[i].broken;
    printf("%-6s batch %d, %d steps: %.2f s, %llu grad evals + %llu "
           "forwards, %.0f example-steps/s (%d broken)\n",
           attack, n, steps, dt, (unsigned long long)st.grad_evals,
           (unsigned long long)st.forward_evals, (double)st.grad_evals / dt,
           broken);
  }
  free(r);
  rove_profile_destroy(&p);
  return rc;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  int steps = argc > 2 ? atoi(argv[2]) : 20;
  if (n < 1 || steps < 1) {
    fprintf(stderr, "usage: bench_attack [N [STEPS]]\n");
    return 2;
  }
  openblas_set_num_threads(1);
  rove_model m;
  if (rove_arch_smallcnn(&m, 1.0f, 10, 1) < 0) {
    rove_error_print(stderr);
    return 1;
  }
  size_t d = (size_t)rove_shape_numel(&m.in);
  float *x = malloc(sizeof(float) * d * (size_t)n);
  int *y = malloc(sizeof(int) * (size_t)n);
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
  uint64_t seed = 3;
  rove_rng r;
  rove_rng_init(&r, &seed, 1);
  for (size_t i = 0; i < d * (size_t)n; i++)
    x[i] = rove_rng_uniform(&r);
  rove_exec e;
  if (rove_exec_init(&e, &m, 1) < 0) {
    rove_error_print(stderr);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    rove_exec_forward(&e, 1, x + d * (size_t)i);
    y[i] = rove__argmax(rove_exec_logits(&e), m.n_classes);
    idx[i] = i;
  }
  rove_exec_deinit(&e);
  printf("SmallCNN (28x28, %.1f MMAC/example), OpenBLAS core %s, 1 thread\n",
         rove_model_macs(&m) / 1e6, openblas_get_corename());
  int rc = bench(&m, "pgd", n, steps, x, y, idx);
  if (rc == 0)
    rc = bench(&m, "apgd", n, steps, x, y, idx);
  if (rc < 0)
    rove_error_print(stderr);
  free(x);
  free(y);
  free(idx);
  rove_model_deinit(&m);
  return rc < 0 ? 1 : 0;
}
