/* square.c - Square Attack, L-inf (Andriushchenko et al., ECCV 2020): a
 * score-based random search that needs no gradients, the cross-check that
 * exposes gradient masking. */
#include <math.h>
#include <string.h>

#include "common/attack/attack.h"

/* Fraction of pixels changed at query `it` of `q` (the reference's
 * schedule rescaled to 10,000 queries). */
static double p_select(int it, int q, double p_init) {
  int t = (int)((double)it / q * 10000);
  static const int brk[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = p_init;
  for (int i = 0; i < 9; i++)
    if (t > brk[i])
      p = p_init / (double)(2 << i);
  return p;
}

/* The input as {C, H, W}: images as they are, vectors as one row. */
static void geometry(const rove_shape *s, int *C, int *H, int *W) {
  if (s->rank >= 3) {
    *C = s->d[0];
    *H = s->d[1];
    *W = (int)(rove_shape_numel(s) / ((long)s->d[0] * s->d[1]));
  } else if (s->rank == 2) {
    *C = 1;
    *H = s->d[0];
    *W = s->d[1];
  } else {
    *C = 1;
    *H = 1;
    *W = s->d[0];
  }
}

int rove__run_square(rove__ctx *c, const rove__stage *s, int nb) {
  if (!c->norm_linf)
    return 0; /* the profile layer refuses L2 Square; nothing to do */
  size_t d = (size_t)c->d;
  int C, H, W;
  geometry(&c->m->in, &C, &H, &W);
  float e = (float)c->eps;
  float *xb = c->s[0], *xn = c->s[1];
  double *mb = c->dv[0], *mn = c->dv[1];
  int *act = c->act, na = 0;
  for (int j = 0; j < nb; j++) {
    rove__rng_slot(c, j, ROVE__ATK_SQUARE, 0);
    act[na++] = j;
    /* Vertical stripes: one random sign per (channel, column). */
    const float *x = rove__x(c, j);
    float *p = xb + j * d;
    for (int ch = 0; ch < C; ch++)
      for (int w = 0; w < W; w++) {
        float sg = (rove_rng_u32(&c->rng[j]) & 1u) ? e : -e;
        for (int h = 0; h < H; h++) {
          size_t q = ((size_t)ch * H + h) * W + w;
          float v = x[q] + sg;
          p[q] = v < 0 ? 0.0f : v > 1 ? 1.0f : v;
        }
      }
  }
  rove__eval(c, ROVE__LOSS_CW, act, na, xb, NULL, NULL, mb);
  int nn = 0;
  for (int k = 0; k < na; k++)
    if (!rove__offer(c, act[k], xb + act[k] * d, mb[act[k]]))
      act[nn++] = act[k];
  na = nn;
  int side_max = H < W ? H : W;
  for (int it = 1; it < s->steps && na > 0; it++) {
    double p = p_select(it, s->steps, s->p_init > 0 ? s->p_init : 0.8);
    for (int k = 0; k < na; k++) {
      int j = act[k];
      rove_rng *r = &c->rng[j];
      const float *x = rove__x(c, j);
      float *pn = xn + j * d;
      const float *pb = xb + j * d;
      int side = (int)lround(sqrt(p * H * W));
      side = side < 1 ? 1 : side > side_max ? side_max : side;
      int vh = (int)rove_rng_below(r, (uint32_t)(H - side + 1));
      int vw = (int)rove_rng_below(r, (uint32_t)(W - side + 1));
      memcpy(pn, pb, d * sizeof(float));
      /* Redraw the signs (a few times at most) when the window would
       * not change at all, as the reference does. */
      for (int tries = 0; tries < 8; tries++) {
        int changed = 0;
        for (int ch = 0; ch < C; ch++) {
          float sg = (rove_rng_u32(r) & 1u) ? e : -e;
          for (int h = vh; h < vh + side; h++)
            for (int w = vw; w < vw + side; w++) {
              size_t q = ((size_t)ch * H + h) * W + w;
              float v = x[q] + sg;
              v = v < 0 ? 0.0f : v > 1 ? 1.0f : v;
              changed += fabsf(v - pb[q]) >= 1e-7f;
              pn[q] = v;
            }
        }
        if (changed)
          break;
      }
    }
    rove__eval(c, ROVE__LOSS_CW, act, na, xn, NULL, NULL, mn);
    nn = 0;
    for (int k = 0; k < na; k++) {
      int j = act[k];
      if (rove__offer(c, j, xn + j * d, mn[j]))
        continue;
      act[nn++] = j;
      if (mn[j] < mb[j]) {
        mb[j] = mn[j];
        memcpy(xb + j * d, xn + j * d, d * sizeof(float));
      }
    }
    na = nn;
  }
  return 0;
}
