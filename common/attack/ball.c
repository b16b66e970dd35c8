/* ball.c - what every attack shares: keyed random streams, batched loss
 * and gradient evaluation, candidate bookkeeping, projection onto the
 * threat model, start points (zero, uniform, Gaussian, ODI), BPDA modes. */
#include <math.h>
#include <string.h>

#include "common/attack/attack.h"

const float *rove__x(const rove__ctx *c, int slot) {
  return c->u->x + (size_t)c->ex_of[slot] * (size_t)c->d;
}

void rove__rng_slot(rove__ctx *c, int slot, int atk, uint64_t sub) {
  const rove_unit *u = c->u;
  uint64_t h = 0, eb;
  for (int i = 0; i < 8; i++)
    h |= (uint64_t)u->m->hash[i] << (8 * i);
  memcpy(&eb, &u->eps, sizeof eb);
  /* The identity of a random stream: who is attacked, by what, where.
   * Never the slot or the batch, so results do not depend on them. */
  uint64_t id[10] = {0x726f76652d61746bull, /* "rove-atk" */
                     u->seed,
                     h,
                     eb,
                     (uint64_t)u->norm_linf,
                     (uint64_t)u->restart,
                     (uint64_t)u->idx[c->ex_of[slot]],
                     c->stage_key,
                     (uint64_t)atk,
                     sub};
  rove_rng_init(&c->rng[slot], id, 10);
}

void rove__eval(rove__ctx *c, int loss, const int *act, int na, const float *xs,
                double *loss_out, float *g, double *margin) {
  size_t d = (size_t)c->d;
  int K = c->K;
  if (na <= 0)
    return;
  for (int k = 0; k < na; k++)
    memcpy(c->bx + (size_t)k * d, xs + (size_t)act[k] * d, d * sizeof(float));
  rove_exec_forward(c->e, na, c->bx);
  const float *z = rove_exec_logits(c->e);
  for (int k = 0; k < na; k++) {
    int slot = act[k];
    const float *zk = z + (size_t)k * (size_t)K;
    int y = c->la[slot].y;
    if (margin)
      margin[slot] = rove__margin(zk, K, y);
    c->adv[slot] = (int8_t)(rove__argmax(zk, K) != y);
    if (loss_out || g) {
      double l = rove__loss_eval(loss, zk, K, &c->la[slot],
                                 g ? c->bdz + (size_t)k * K : NULL);
      if (loss_out)
        loss_out[slot] = l;
    }
  }
  if (g) {
    rove_exec_backward(c->e, na, c->bx, c->bdz, c->bg, NULL);
    for (int k = 0; k < na; k++)
      memcpy(g + (size_t)act[k] * d, c->bg + (size_t)k * d, d * sizeof(float));
    c->st->grad_evals += (uint64_t)na;
  } else {
    c->st->forward_evals += (uint64_t)na;
  }
}

int rove__offer(rove__ctx *c, int slot, const float *xp, double m) {
  size_t d = (size_t)c->d;
  int ex = c->ex_of[slot];
  if (m < c->mlow[ex]) {
    c->mlow[ex] = m;
    memcpy(c->xlow + (size_t)ex * d, xp, d * sizeof(float));
  }
  if (c->adv[slot]) {
    c->cand[ex] = 1;
    memcpy(c->xcand + (size_t)ex * d, xp, d * sizeof(float));
    return 1;
  }
  return 0;
}

void rove__final(rove__ctx *c, int slot, const float *xp) {
  int ex = c->ex_of[slot];
  memcpy(c->xsur + (size_t)ex * (size_t)c->d, xp, (size_t)c->d * sizeof(float));
  c->has_sur[ex] = 1;
}

static float clampf(float v, float lo, float hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

void rove__project(const rove__ctx *c, const float *x, float *p) {
  int d = c->d;
  float e = (float)c->eps;
  if (c->norm_linf) {
    for (int i = 0; i < d; i++)
      p[i] = clampf(clampf(p[i], x[i] - e, x[i] + e), 0.0f, 1.0f);
    return;
  }
  double n2 = 0;
  for (int i = 0; i < d; i++) {
    double t = (double)p[i] - (double)x[i];
    n2 += t * t;
  }
  double n = sqrt(n2);
  /* Scaling by slightly less than eps / n keeps float rounding from
   * pushing the norm past eps; clipping to [0, 1] afterwards only
   * shortens the perturbation. */
  double f = n > c->eps ? c->eps / n * (1.0 - 1e-7) : 1.0;
  for (int i = 0; i < d; i++)
    p[i] = clampf((float)((double)x[i] + ((double)p[i] - (double)x[i]) * f),
                  0.0f, 1.0f);
}

void rove__step(const rove__ctx *c, float *p, const float *g, double a) {
  int d = c->d;
  if (c->norm_linf) {
    float af = (float)a;
    for (int i = 0; i < d; i++)
      p[i] += g[i] > 0 ? af : g[i] < 0 ? -af : 0.0f;
    return;
  }
  double n2 = 0;
  for (int i = 0; i < d; i++)
    n2 += (double)g[i] * (double)g[i];
  double f = a / (sqrt(n2) + 1e-12);
  for (int i = 0; i < d; i++)
    p[i] = (float)((double)p[i] + f * (double)g[i]);
}

/* A random start around x in p (rng of the slot). */
static void start_uniform(rove__ctx *c, int slot, float *p) {
  int d = c->d;
  const float *x = rove__x(c, slot);
  rove_rng *r = &c->rng[slot];
  if (c->norm_linf) {
    /* AutoAttack's start: x + eps * t / ||t||_inf, t ~ U(-1, 1)^d, so
     * the start touches the boundary of the ball. */
    double mx = 0;
    for (int i = 0; i < d; i++) {
      p[i] = 2.0f * rove_rng_uniform(r) - 1.0f;
      if (fabs(p[i]) > mx)
        mx = fabs(p[i]);
    }
    double f = mx > 0 ? c->eps / mx : 0;
    for (int i = 0; i < d; i++)
      p[i] = (float)((double)x[i] + f * (double)p[i]);
  } else {
    double n2 = 0;
    for (int i = 0; i < d; i++) {
      p[i] = (float)rove_rng_normal(r);
      n2 += (double)p[i] * (double)p[i];
    }
    double f = c->eps / (sqrt(n2) + 1e-12);
    for (int i = 0; i < d; i++)
      p[i] = (float)((double)x[i] + f * (double)p[i]);
  }
  rove__project(c, x, p);
}

static void start_gaussian(rove__ctx *c, int slot, float *p) {
  int d = c->d;
  const float *x = rove__x(c, slot);
  rove_rng *r = &c->rng[slot];
  /* Standard deviation eps / 2 per coordinate (L-inf) or eps / 2 in
   * expected norm (L2); the projection trims the tails. */
  double sd = c->norm_linf ? c->eps / 2 : c->eps / (2 * sqrt((double)d));
  for (int i = 0; i < d; i++)
    p[i] = (float)((double)x[i] + sd * rove_rng_normal(r));
  rove__project(c, x, p);
}

void rove__init_points(rove__ctx *c, int init, const int *act, int na,
                       float *p) {
  size_t d = (size_t)c->d;
  for (int k = 0; k < na; k++) {
    int slot = act[k];
    float *ps = p + (size_t)slot * d;
    switch (init) {
    case ROVE__INIT_ZERO:
      memcpy(ps, rove__x(c, slot), d * sizeof(float));
      break;
    case ROVE__INIT_GAUSSIAN: start_gaussian(c, slot, ps); break;
    default: start_uniform(c, slot, ps); break;
    }
  }
  if (init != ROVE__INIT_ODI)
    return;
  /* Output Diversified Initialization (Tashiro et al. 2020): per slot a
   * random direction w in output space, then two steps of size eps that
   * maximise w . z, so restarts start from diverse outputs rather than
   * diverse inputs. */
  for (int k = 0; k < na; k++) {
    int slot = act[k];
    float *w = c->wodi + (size_t)slot * (size_t)c->K;
    for (int j = 0; j < c->K; j++)
      w[j] = 2.0f * rove_rng_uniform(&c->rng[slot]) - 1.0f;
    c->la[slot].w = w;
  }
  float *g = c->s[5];
  for (int it = 0; it < 2; it++) {
    rove__eval(c, ROVE__LOSS_ODI, act, na, p, NULL, g, c->dv[5]);
    for (int k = 0; k < na; k++) {
      int slot = act[k];
      float *ps = p + (size_t)slot * d;
      rove__step(c, ps, g + (size_t)slot * d, c->eps);
      rove__project(c, rove__x(c, slot), ps);
    }
  }
}

int rove__trace_incomplete(const double *trace, int len) {
  if (len < 11)
    return 0;
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < len; i++) {
    if (trace[i] < lo)
      lo = trace[i];
    if (trace[i] > hi)
      hi = trace[i];
  }
  if (!(hi > lo) || !isfinite(hi - lo))
    return 0;
  /* Running best of the normalised trace at len-11 and at the end. */
  double best_then = -INFINITY, best = -INFINITY;
  for (int i = 0; i < len; i++) {
    if (trace[i] > best)
      best = trace[i];
    if (i == len - 11)
      best_then = best;
  }
  return (best - best_then) / (hi - lo) > 0.05;
}

double rove__step_size(const rove__stage *s, double eps, double def_rel) {
  if (s->step_abs > 0)
    return s->step_abs;
  if (s->step_rel > 0)
    return s->step_rel * eps;
  return def_rel * eps;
}

void rove__bpda_apply(rove_exec *e, int bpda, float beta) {
  rove_exec_reset_bwd(e);
  if (bpda == ROVE__BPDA_OFF)
    return;
  for (int i = 0; i < e->m->n_nodes; i++) {
    int op = e->m->nodes[i].op;
    unsigned f = rove_layers[op]->flags;
    if (f & ROVE_OPF_NONDIFF) {
      /* A quantizer's output saturates outside its range, where the
       * straight-through gradient would point nowhere useful: clipped
       * STE there (fakequant and the integer operators), plain STE for
       * rounding and floor. */
      int mode = op == ROVE_OP_FAKEQUANT || (f & ROVE_OPF_INTEGER)
                     ? ROVE_BWD_CLIPPED_STE
                     : ROVE_BWD_STE;
      rove_exec_set_bwd(e, i, (rove_bwd){mode, beta});
    } else if ((f & ROVE_OPF_SMOOTHABLE) && bpda == ROVE__BPDA_ON) {
      rove_exec_set_bwd(e, i, (rove_bwd){ROVE_BWD_SMOOTH, beta});
    }
  }
}
