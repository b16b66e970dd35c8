/* fgsm.c - Fast Gradient Sign Method (Goodfellow et al. 2015): one step of
 * size eps (L2: along the normalised gradient) from the start point. */
#include <string.h>

#include "common/attack/attack.h"

int rove__run_fgsm(rove__ctx *c, const rove__stage *s, int nb) {
  size_t d = (size_t)c->d;
  float *xk = c->s[0], *g = c->s[1];
  double *loss = c->dv[0], *mg = c->dv[1];
  int *act = c->act, na = 0;
  for (int j = 0; j < nb; j++) {
    rove__rng_slot(c, j, ROVE__ATK_FGSM, 0);
    act[na++] = j;
  }
  rove__init_points(c, s->init, act, na, xk);
  rove__eval(c, s->loss, act, na, xk, loss, g, mg);
  int nn = 0;
  for (int k = 0; k < na; k++)
    if (!rove__offer(c, act[k], xk + act[k] * d, mg[act[k]]))
      act[nn++] = act[k];
  na = nn;
  double a = rove__step_size(s, c->eps, 1.0);
  for (int k = 0; k < na; k++) {
    float *p = xk + act[k] * d;
    rove__step(c, p, g + act[k] * d, a);
    rove__project(c, rove__x(c, act[k]), p);
  }
  rove__eval(c, s->loss, act, na, xk, loss, NULL, mg);
  for (int k = 0; k < na; k++)
    if (!rove__offer(c, act[k], xk + act[k] * d, mg[act[k]]))
      rove__final(c, act[k], xk + act[k] * d);
  return 0;
}
