/* optim.c - SGD with momentum, Adam(W), learning-rate schedules, magnitude
 * pruning and the cross-entropy loss used for training. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/train/train.h"

/* Weights (not biases) of conv and linear nodes decay; the other trainable
 * parameters (biases, batchnorm's affine) do not. */
static int weight_len(const rove_node *n, size_t *nw) {
  if (n->op != ROVE_OP_CONV && n->op != ROVE_OP_LINEAR)
    return 0;
  *nw = n->n_trainable - (n->a.has_bias ? (size_t)n->a.out : 0);
  return 1;
}

static int build_segs(const rove_model *m, rove_optim_seg **out, int *n_out,
                      size_t *total) {
  int cap = 2 * m->n_nodes + 1, n = 0;
  rove_optim_seg *s = malloc(sizeof *s * (size_t)cap);
  if (!s)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory for optimizer segments");
  size_t tot = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *nd = &m->nodes[i];
    if (!nd->n_trainable)
      continue;
    size_t nw;
    if (weight_len(nd, &nw)) {
      s[n++] = (rove_optim_seg){nd->param_off, nw, 1};
      if (nd->n_trainable > nw)
        s[n++] = (rove_optim_seg){nd->param_off + nw, nd->n_trainable - nw, 0};
    } else {
      s[n++] = (rove_optim_seg){nd->param_off, nd->n_trainable, 0};
    }
  }
  for (int k = 0; k < n; k++)
    tot += s[k].len;
  *out = s;
  *n_out = n;
  *total = tot;
  return 0;
}

int rove_optim_init(rove_optim *o, const rove_model *m,
                    const rove_train_spec *s) {
  memset(o, 0, sizeof *o);
  o->opt = s->opt;
  o->momentum = s->momentum;
  o->wd = s->wd;
  o->beta1 = s->beta1;
  o->beta2 = s->beta2;
  ROVE_TRY(build_segs(m, &o->segs, &o->n_segs, &o->n));
  o->m1 = calloc(o->n + 1, sizeof *o->m1);
  o->m2 = o->opt == ROVE_TRAIN_ADAM ? calloc(o->n + 1, sizeof *o->m2) : NULL;
  if (!o->m1 || (o->opt == ROVE_TRAIN_ADAM && !o->m2)) {
    rove_optim_deinit(o);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory for optimizer state");
  }
  return 0;
}

void rove_optim_deinit(rove_optim *o) {
  free(o->segs);
  free(o->m1);
  free(o->m2);
  free(o->mask);
  memset(o, 0, sizeof *o);
}

int rove_optim_rebind(rove_optim *o, const rove_model *m) {
  rove_optim_seg *s;
  int n;
  size_t tot;
  ROVE_TRY(build_segs(m, &s, &n, &tot));
  int same = n == o->n_segs && tot == o->n;
  for (int k = 0; same && k < n; k++)
    same = s[k].len == o->segs[k].len && s[k].decay == o->segs[k].decay;
  if (!same) {
    free(s);
    return ROVE_ERR(ROVE_ESHAPE,
                    "the model's trainable parameters changed layout (%d "
                    "segments, %zu floats; the optimizer has %d, %zu)",
                    n, tot, o->n_segs, o->n);
  }
  free(o->segs);
  o->segs = s;
  return 0;
}

void rove_optim_step(rove_optim *o, float *params, const float *grads,
                     double lr) {
  size_t k = 0;
  o->t++;
  float flr = (float)lr, mu = (float)o->momentum, wd = (float)o->wd;
  float b1 = (float)o->beta1, b2 = (float)o->beta2;
  /* Bias corrections in double, then rounded once: the same value for
   * every parameter of the step. */
  float c1 = (float)(1.0 - pow(o->beta1, (double)o->t));
  float c2 = (float)sqrt(1.0 - pow(o->beta2, (double)o->t));
  for (int si = 0; si < o->n_segs; si++) {
    const rove_optim_seg *s = &o->segs[si];
    float *w = params + s->off;
    const float *g = grads + s->off;
    float d = s->decay ? wd : 0.0f;
    if (o->opt == ROVE_TRAIN_SGD) {
      float *v = o->m1 + k;
      for (size_t i = 0; i < s->len; i++) {
        float gi = g[i] + d * w[i];
        v[i] = mu * v[i] + gi;
        w[i] -= flr * v[i];
      }
    } else {
      float *m1 = o->m1 + k, *m2 = o->m2 + k;
      float step = flr / c1;
      for (size_t i = 0; i < s->len; i++) {
        float gi = g[i];
        w[i] -= flr * d * w[i];
        m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
        m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m1[i] / (sqrtf(m2[i]) / c2 + 1e-8f);
      }
    }
    if (o->mask) {
      const unsigned char *mk = o->mask + k;
      for (size_t i = 0; i < s->len; i++)
        if (!mk[i])
          w[i] = 0.0f;
    }
    k += s->len;
  }
}

typedef struct mag_idx {
  float a;
  size_t i;
} mag_idx;

static int cmp_mag(const void *pa, const void *pb) {
  const mag_idx *a = pa, *b = pb;
  if (a->a != b->a)
    return a->a < b->a ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

int rove_optim_prune(rove_optim *o, float *params, double frac) {
  if (!(frac >= 0 && frac < 1))
    return ROVE_ERR(ROVE_ERANGE, "prune fraction %g (expected 0 <= f < 1)",
                    frac);
  if (!o->mask) {
    o->mask = malloc(o->n + 1);
    if (!o->mask)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory for the pruning mask");
    memset(o->mask, 1, o->n + 1);
  }
  size_t k = 0;
  for (int si = 0; si < o->n_segs; si++) {
    const rove_optim_seg *s = &o->segs[si];
    if (s->decay) {
      mag_idx *v = malloc(sizeof *v * s->len);
      if (!v)
        return ROVE_ERR(ROVE_ENOMEM, "out of memory pruning");
      for (size_t i = 0; i < s->len; i++)
        v[i] = (mag_idx){fabsf(params[s->off + i]), i};
      qsort(v, s->len, sizeof *v, cmp_mag);
      size_t cut = (size_t)floor(frac * (double)s->len);
      for (size_t j = 0; j < cut; j++) {
        o->mask[k + v[j].i] = 0;
        params[s->off + v[j].i] = 0.0f;
        o->m1[k + v[j].i] = 0.0f;
        if (o->m2)
          o->m2[k + v[j].i] = 0.0f;
      }
      free(v);
    }
    k += s->len;
  }
  return 0;
}

double rove_train_lr(const rove_train_spec *s, long t, long T, int epoch) {
  switch (s->sched) {
  case ROVE_TRAIN_COSINE:
    return T > 0 ? s->lr * 0.5 * (1.0 + cos(M_PI * (double)t / (double)T))
                 : s->lr;
  case ROVE_TRAIN_STEP:
    return s->lr *
           pow(s->gamma,
               (double)(epoch / (s->step_epochs > 0 ? s->step_epochs : 1)));
  default: return s->lr;
  }
}

double rove_train_ce(const float *z, const int32_t *y, int B, int K, float *dz,
                     int *correct) {
  double tot = 0;
  int ok = 0;
  for (int b = 0; b < B; b++) {
    const float *zb = z + (size_t)b * K;
    int am = 0;
    for (int j = 1; j < K; j++)
      if (zb[j] > zb[am])
        am = j;
    ok += am == y[b];
    double mx = zb[am], se = 0;
    for (int j = 0; j < K; j++)
      se += exp((double)zb[j] - mx);
    tot += log(se) - ((double)zb[y[b]] - mx);
    if (dz)
      for (int j = 0; j < K; j++) {
        double p = exp((double)zb[j] - mx) / se;
        dz[(size_t)b * K + j] = (float)((p - (j == y[b])) / B);
      }
  }
  if (correct)
    *correct = ok;
  return tot / B;
}
