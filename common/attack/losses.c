/* losses.c - attack losses (CE, rescaled CE, CW, DLR, targeted DLR, ODI)
 * and margins, all computed in double from float32 logits. */
#include <math.h>
#include <string.h>

#include "common/attack/attack.h"

double rove__margin(const float *z, int K, int y) {
  /* The true class is skipped, never multiplied by zero: a zeroed entry
   * would win the max whenever every other logit is negative (MadryLab
   * cifar10_challenge PR #1). */
  double best = -INFINITY;
  for (int j = 0; j < K; j++)
    if (j != y && (double)z[j] > best)
      best = z[j];
  return (double)z[y] - best;
}

int rove__argmax(const float *z, int K) {
  int b = 0;
  for (int j = 1; j < K; j++)
    if (z[j] > z[b])
      b = j;
  return b;
}

/* Indices of the four largest logits in descending order (ties: lower
 * index first); entries past K are -1. */
static void top4(const float *z, int K, int idx[4]) {
  for (int r = 0; r < 4; r++) {
    idx[r] = -1;
    for (int j = 0; j < K; j++) {
      int used = 0;
      for (int q = 0; q < r; q++)
        used |= idx[q] == j;
      if (!used && (idx[r] < 0 || z[j] > z[idx[r]]))
        idx[r] = j;
    }
  }
}

double rove__scaled_temp(const float *z, int K) {
  int t[4];
  top4(z, K, t);
  if (K < 2)
    return 1.0;
  double gap = (double)z[t[0]] - (double)z[t[1]];
  if (!(gap > 0) || !isfinite(gap))
    return 1.0;
  return gap;
}

/* Stable cross-entropy of z / T at class y: log sum exp(z/T - zmax/T) -
 * (z_y - zmax) / T, with gradient (softmax(z/T) - e_y) / T. */
static double ce(const float *z, int K, int y, double T, float *dz) {
  double zmax = -INFINITY;
  for (int j = 0; j < K; j++)
    if ((double)z[j] > zmax)
      zmax = z[j];
  double s = 0;
  for (int j = 0; j < K; j++)
    s += exp(((double)z[j] - zmax) / T);
  double lse = log(s);
  if (dz)
    for (int j = 0; j < K; j++) {
      double p = exp(((double)z[j] - zmax) / T - lse);
      dz[j] = (float)((p - (j == y ? 1.0 : 0.0)) / T);
    }
  return lse - ((double)z[y] - zmax) / T;
}

double rove__loss_ce(const float *z, int K, const rove__lossarg *a, float *dz) {
  return ce(z, K, a->y, 1.0, dz);
}

double rove__loss_ce_scaled(const float *z, int K, const rove__lossarg *a,
                            float *dz) {
  return ce(z, K, a->y, a->temp, dz);
}

double rove__loss_cw(const float *z, int K, const rove__lossarg *a, float *dz) {
  int y = a->y;
  int o = -1;
  for (int j = 0; j < K; j++)
    if (j != y && (o < 0 || z[j] > z[o]))
      o = j;
  if (dz) {
    memset(dz, 0, sizeof(float) * (size_t)K);
    dz[o] = 1.0f;
    dz[y] = -1.0f;
  }
  return (double)z[o] - (double)z[y];
}

double rove__loss_dlr(const float *z, int K, const rove__lossarg *a,
                      float *dz) {
  int y = a->y;
  int t[4], o = -1;
  top4(z, K, t);
  for (int j = 0; j < K; j++)
    if (j != y && (o < 0 || z[j] > z[o]))
      o = j;
  double num = (double)z[y] - (double)z[o];
  double den = (double)z[t[0]] - (double)z[t[2]] + 1e-12;
  if (dz) {
    double g[4] = {-1.0 / den, 1.0 / den, num / (den * den),
                   -num / (den * den)};
    int at[4] = {y, o, t[0], t[2]};
    memset(dz, 0, sizeof(float) * (size_t)K);
    double acc[4] = {0, 0, 0, 0};
    /* Indices may coincide (y is usually pi1): sum in double first. */
    for (int q = 0; q < 4; q++)
      for (int r = 0; r < 4; r++)
        if (at[r] == at[q]) {
          acc[q] += g[r];
        }
    for (int q = 0; q < 4; q++)
      dz[at[q]] = (float)acc[q];
  }
  return -num / den;
}

double rove__loss_dlr_t(const float *z, int K, const rove__lossarg *a,
                        float *dz) {
  int y = a->y;
  int t[4];
  top4(z, K, t);
  double num = (double)z[y] - (double)z[a->t];
  double den =
      (double)z[t[0]] - ((double)z[t[2]] + (double)z[t[3]]) / 2.0 + 1e-12;
  if (dz) {
    double g[5] = {-1.0 / den, 1.0 / den, num / (den * den),
                   -0.5 * num / (den * den), -0.5 * num / (den * den)};
    int at[5] = {y, a->t, t[0], t[2], t[3]};
    double acc[5] = {0, 0, 0, 0, 0};
    memset(dz, 0, sizeof(float) * (size_t)K);
    for (int q = 0; q < 5; q++)
      for (int r = 0; r < 5; r++)
        if (at[r] == at[q])
          acc[q] += g[r];
    for (int q = 0; q < 5; q++)
      dz[at[q]] = (float)acc[q];
  }
  return -num / den;
}

double rove__loss_odi(const float *z, int K, const rove__lossarg *a,
                      float *dz) {
  double s = 0;
  for (int j = 0; j < K; j++) {
    s += (double)a->w[j] * (double)z[j];
    if (dz)
      dz[j] = a->w[j];
  }
  return s;
}

typedef double (*loss_fn)(const float *z, int K, const rove__lossarg *a,
                          float *dz);
static const struct {
  loss_fn fn;
  int min_k, selectable;
} losses[] = {
#define X(E, name, fn, min_k, sel) {fn, min_k, sel},
#include "common/attack/losses.def"
#undef X
};
_Static_assert(sizeof losses / sizeof losses[0] == ROVE__LOSS_COUNT,
               "one entry per loss of losses.def");

int rove__loss_min_classes(int loss) {
  return loss >= 0 && loss < ROVE__LOSS_COUNT ? losses[loss].min_k : 2;
}

int rove__loss_selectable(int loss) {
  return loss >= 0 && loss < ROVE__LOSS_COUNT && losses[loss].selectable;
}

double rove__loss_eval(int loss, const float *z, int K, const rove__lossarg *a,
                       float *dz) {
  return loss >= 0 && loss < ROVE__LOSS_COUNT ? losses[loss].fn(z, K, a, dz)
                                              : 0;
}
