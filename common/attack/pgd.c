/* pgd.c - Projected Gradient Descent (Madry et al. 2018): sign steps (L2:
 * normalised gradient steps) of a fixed size, projected onto the ball and
 * [0, 1], from the stage's start point; every iterate is checked. */
#include <string.h>

#include "common/attack/attack.h"

int rove__run_pgd(rove__ctx *c, const rove__stage *s, int nb) {
  size_t d = (size_t)c->d;
  size_t tw = (size_t)c->max_steps + 2;
  float *xk = c->s[0], *g = c->s[1];
  double *loss = c->dv[0], *mg = c->dv[1];
  int *act = c->act, na = 0;
  for (int j = 0; j < nb; j++) {
    rove__rng_slot(c, j, ROVE__ATK_PGD, 0);
    act[na++] = j;
  }
  rove__init_points(c, s->init, act, na, xk);
  /* Madry et al. use 2.5 * eps / steps: enough to cross the ball and
   * come back within the budget. */
  double a = rove__step_size(s, c->eps, 2.5 / s->steps);
  for (int it = 0; it <= s->steps && na > 0; it++) {
    int last = it == s->steps;
    rove__eval(c, s->loss, act, na, xk, loss, last ? NULL : g, mg);
    int nn = 0;
    for (int k = 0; k < na; k++) {
      int j = act[k];
      c->trace[(size_t)j * tw + (size_t)it] = loss[j];
      if (!rove__offer(c, j, xk + j * d, mg[j]))
        act[nn++] = j;
    }
    na = nn;
    if (last)
      break;
    for (int k = 0; k < na; k++) {
      int j = act[k];
      rove__step(c, xk + j * d, g + j * d, a);
      rove__project(c, rove__x(c, j), xk + j * d);
    }
  }
  for (int k = 0; k < na; k++) {
    int j = act[k];
    rove__final(c, j, xk + j * d);
    if (rove__trace_incomplete(c->trace + (size_t)j * tw, s->steps + 1))
      c->diag[c->ex_of[j]] |= 1u << ROVE_DIAG_INCOMPLETE;
  }
  return 0;
}
