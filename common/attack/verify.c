/* verify.c - re-verification of adversarial candidates on the true model:
 * inside the ball, inside [0, 1], misclassified by a fresh forward. */
#include <math.h>

#include "common/attack/attack.h"

int rove_verify_adv(struct rove_exec *e, const float *x, const float *x_adv,
                    int label, int norm_linf, double eps) {
  const rove_model *m = e->m;
  long d = rove_shape_numel(&m->in);
  double linf = 0, l2 = 0;
  for (long i = 0; i < d; i++) {
    float v = x_adv[i];
    if (!(v >= 0.0f && v <= 1.0f)) /* also rejects NaN */
      return 0;
    double t = fabs((double)v - (double)x[i]);
    if (t > linf)
      linf = t;
    l2 += t * t;
  }
  double nrm = norm_linf ? linf : sqrt(l2);
  if (nrm > eps + ROVE_EPS_TOL)
    return 0;
  if (label < 0 || label >= m->n_classes)
    return 0;
  /* A fresh forward at batch 1: nothing of the attack's batch state can
   * leak into the verdict. */
  rove_exec_forward(e, 1, x_adv);
  return rove__argmax(rove_exec_logits(e), m->n_classes) != label;
}
