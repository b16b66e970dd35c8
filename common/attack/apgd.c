/* apgd.c - Auto-PGD and its targeted variant APGD-T (Croce & Hein, ICML
 * 2020): momentum steps with a per-example step size that halves at
 * checkpoints when progress stalls, restarting from the best point. */
#include <math.h>
#include <string.h>

#include "common/attack/attack.h"

/* Checkpoint schedule: the first after max(floor(0.22 N), 1) iterations,
 * each next window max(floor(0.03 N), 1) shorter, never below
 * max(floor(0.06 N), 1). */
static int first_window(int N) {
  int k = (int)(0.22 * N);
  return k > 1 ? k : 1;
}
static int window_decr(int N) {
  int k = (int)(0.03 * N);
  return k > 1 ? k : 1;
}
static int window_min(int N) {
  int k = (int)(0.06 * N);
  return k > 1 ? k : 1;
}

int rove__apgd_checkpoints(int N, int *out, int cap) {
  int k = first_window(N), cnt = 0, n = 0;
  for (int i = 0; i < N; i++) {
    if (++cnt == k) {
      if (n < cap)
        out[n] = i;
      n++;
      k = k - window_decr(N) > window_min(N) ? k - window_decr(N)
                                             : window_min(N);
      cnt = 0;
    }
  }
  return n;
}

static float clampf(float v, float lo, float hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* One APGD run on the slots act[0 .. na) (rngs keyed, c->la set) with
 * loss `loss`. */
static void apgd_run(rove__ctx *c, const rove__stage *s, int loss, int *act,
                     int na) {
  size_t d = (size_t)c->d;
  size_t tw = (size_t)c->max_steps + 2;
  int N = s->steps;
  float *xk = c->s[0], *xold = c->s[1], *g = c->s[2], *xbest = c->s[3],
        *gbest = c->s[4];
  double *lv = c->dv[0], *mg = c->dv[1], *eta = c->dv[2], *lbest = c->dv[3],
         *lbest_last = c->dv[4];
  int *reduced_last = c->iv[0];
  float e = (float)c->eps;

  rove__init_points(c, s->init, act, na, xk);
  rove__eval(c, loss, act, na, xk, lv, g, mg);
  double eta0 = rove__step_size(s, c->eps, 2.0);
  int nn = 0;
  for (int k = 0; k < na; k++) {
    int j = act[k];
    c->trace[(size_t)j * tw] = lv[j];
    if (rove__offer(c, j, xk + j * d, mg[j]))
      continue;
    act[nn++] = j;
    memcpy(xbest + j * d, xk + j * d, d * sizeof(float));
    memcpy(gbest + j * d, g + j * d, d * sizeof(float));
    memcpy(xold + j * d, xk + j * d, d * sizeof(float));
    lbest[j] = lbest_last[j] = lv[j];
    eta[j] = eta0;
    /* As in the reference implementation, the first checkpoint cannot
     * halve for lack of improvement alone. */
    reduced_last[j] = 1;
  }
  na = nn;

  int win = first_window(N), cnt = 0;
  for (int i = 0; i < N && na > 0; i++) {
    double a = i > 0 ? 0.75 : 1.0;
    if (c->eta_trace && act[0] == 0)
      c->eta_trace[i] = eta[0];
    for (int k = 0; k < na; k++) {
      int j = act[k];
      float *p = xk + j * d, *po = xold + j * d;
      const float *gj = g + j * d, *x = rove__x(c, j);
      float af = (float)a, bf = (float)(1.0 - a), ef = (float)eta[j];
      if (c->norm_linf) {
        for (size_t q = 0; q < d; q++) {
          float sg = gj[q] > 0 ? 1.0f : gj[q] < 0 ? -1.0f : 0.0f;
          float lo = x[q] - e, hi = x[q] + e;
          float z1 = clampf(clampf(p[q] + ef * sg, lo, hi), 0.0f, 1.0f);
          float mom = p[q] - po[q];
          po[q] = p[q];
          p[q] = clampf(clampf(p[q] + (z1 - p[q]) * af + mom * bf, lo, hi),
                        0.0f, 1.0f);
        }
      } else {
        /* L2: z1 = P(x_k + eta g / ||g||), then the momentum
         * combination, projected again. bg (the batch gradient buffer)
         * is free here and holds z1. */
        float *z1 = c->bg;
        memcpy(z1, p, d * sizeof(float));
        rove__step(c, z1, gj, eta[j]);
        rove__project(c, x, z1);
        for (size_t q = 0; q < d; q++) {
          float mom = p[q] - po[q];
          po[q] = p[q];
          p[q] = p[q] + (z1[q] - p[q]) * af + mom * bf;
        }
        rove__project(c, x, p);
      }
    }
    /* The last iteration's gradient is never used: forward only. */
    rove__eval(c, loss, act, na, xk, lv, i + 1 < N ? g : NULL, mg);
    nn = 0;
    for (int k = 0; k < na; k++) {
      int j = act[k];
      c->trace[(size_t)j * tw + (size_t)i + 1] = lv[j];
      if (rove__offer(c, j, xk + j * d, mg[j]))
        continue;
      act[nn++] = j;
      if (lv[j] > lbest[j]) {
        memcpy(xbest + j * d, xk + j * d, d * sizeof(float));
        memcpy(gbest + j * d, g + j * d, d * sizeof(float));
        lbest[j] = lv[j];
      }
    }
    na = nn;
    if (++cnt < win)
      continue;
    for (int k = 0; k < na; k++) {
      int j = act[k];
      const double *t = c->trace + (size_t)j * tw;
      /* Loss increased in at most 75% of the window's steps? */
      int ups = 0;
      for (int q = 0; q < win; q++)
        ups += t[i + 1 - q] > t[i - q];
      int osc = ups <= win * 0.75;
      int stall = !reduced_last[j] && lbest_last[j] >= lbest[j];
      int halve = osc || stall;
      reduced_last[j] = halve;
      lbest_last[j] = lbest[j];
      if (halve) {
        eta[j] /= 2.0;
        memcpy(xk + j * d, xbest + j * d, d * sizeof(float));
        memcpy(g + j * d, gbest + j * d, d * sizeof(float));
      }
    }
    win = win - window_decr(N) > window_min(N) ? win - window_decr(N)
                                               : window_min(N);
    cnt = 0;
  }
  for (int k = 0; k < na; k++) {
    int j = act[k];
    rove__final(c, j, xbest + j * d);
    if (rove__trace_incomplete(c->trace + (size_t)j * tw, N + 1))
      c->diag[c->ex_of[j]] |= 1u << ROVE_DIAG_INCOMPLETE;
  }
}

int rove__run_apgd(rove__ctx *c, const rove__stage *s, int nb) {
  int na = 0;
  for (int j = 0; j < nb; j++) {
    rove__rng_slot(c, j, ROVE__ATK_APGD, 0);
    c->act[na++] = j;
  }
  apgd_run(c, s, s->loss, c->act, na);
  return 0;
}

/* The r-th most likely class at the clean point other than y (ties:
 * lower index first). */
static int target_class(const float *z, int K, int y, int r) {
  int chosen = -1;
  for (int q = 0; q <= r; q++) {
    int best = -1;
    for (int j = 0; j < K; j++) {
      if (j == y)
        continue;
      /* Skip the classes taken by ranks before q. */
      int taken = 0;
      if (chosen >= 0) {
        float zc = z[chosen];
        taken = z[j] > zc || (z[j] == zc && j <= chosen);
      }
      if (taken)
        continue;
      if (best < 0 || z[j] > z[best])
        best = j;
    }
    chosen = best;
  }
  return chosen;
}

int rove__run_apgd_t(rove__ctx *c, const rove__stage *s, int nb) {
  int nt = s->targets < c->K - 1 ? s->targets : c->K - 1;
  for (int ti = 0; ti < nt; ti++) {
    int na = 0;
    for (int j = 0; j < nb; j++) {
      int ex = c->ex_of[j];
      if (c->cand[ex])
        continue;
      rove__rng_slot(c, j, ROVE__ATK_APGD_T, (uint64_t)ti + 1);
      c->la[j].t =
          target_class(c->z0 + (size_t)ex * (size_t)c->K, c->K, c->la[j].y, ti);
      c->act[na++] = j;
    }
    if (na == 0)
      break;
    apgd_run(c, s, ROVE__LOSS_DLR_T, c->act, na);
  }
  return 0;
}
