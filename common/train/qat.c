/* qat.c - quantization-aware training helpers: per-channel symmetric weight
 * quantization and MSE calibration of activation ranges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/train/train.h"

void rove_qat_quantize_weights(const rove_model *m, const float *src,
                               float *dst, int bits) {
  if (dst != src)
    memcpy(dst, src, m->n_params * sizeof(float));
  if (bits <= 0)
    return;
  float Q = (float)((1 << (bits - 1)) - 1);
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    if (n->op != ROVE_OP_CONV && n->op != ROVE_OP_LINEAR)
      continue;
    size_t nw = n->n_trainable - (n->a.has_bias ? (size_t)n->a.out : 0);
    size_t K = (size_t)n->a.out, per = nw / K;
    for (size_t k = 0; k < K; k++) {
      const float *w = src + n->param_off + k * per;
      float *o = dst + n->param_off + k * per;
      float a = 0;
      for (size_t j = 0; j < per; j++)
        a = fabsf(w[j]) > a ? fabsf(w[j]) : a;
      if (a == 0) {
        for (size_t j = 0; j < per; j++)
          o[j] = 0.0f;
        continue;
      }
      /* 8 bits: s = a / Q puts the largest weight exactly on level Q.
       * Fewer bits: the clipping range c <= a with the least squared
       * error (with s = a ternary weights would round most weights to
       * 0). Either way at least one weight sits on level +-Q, so the
       * export recovers s from the stored weights (and checks it bit for
       * bit). */
      float s = a / Q;
      if (bits < 8) {
        double best = -1;
        for (int ci = 4; ci <= 40; ci++) {
          float sc = (a * (float)ci / 40.0f) / Q;
          double err = 0;
          for (size_t j = 0; j < per; j++) {
            float q = rintf(w[j] / sc);
            q = q < -Q ? -Q : q > Q ? Q : q;
            double d = (double)w[j] - (double)(q * sc);
            err += d * d;
          }
          if (best < 0 || err < best) {
            best = err;
            s = sc;
          }
        }
      }
      for (size_t j = 0; j < per; j++) {
        float q = rintf(w[j] / s);
        q = q < -Q ? -Q : q > Q ? Q : q;
        o[j] = q * s;
      }
    }
  }
}

#define CAL_BINS 2048
#define CAL_CANDS 128

/* Squared error of quantizing a histogram (bin centres, width h) to
 * `levels` unsigned levels with range c. */
static double cal_error(const double *hist, double h, double c, int levels) {
  double s = c / levels, e = 0;
  for (int b = 0; b < CAL_BINS; b++) {
    if (hist[b] == 0)
      continue;
    double v = (b + 0.5) * h;
    double q = rint(v / s);
    q = q > levels ? levels : q;
    double d = v - q * s;
    e += hist[b] * d * d;
  }
  return e;
}

int rove_qat_calibrate(const rove_model *m, const float *x, int n, int bits,
                       float *scale) {
  rove_exec e;
  int bmax = n < 64 ? n : 64, rc;
  int levels = (1 << bits) - 1;
  size_t d = (size_t)rove_shape_numel(&m->in);
  double *mx = calloc((size_t)m->n_nodes, sizeof *mx);
  double *hist = calloc((size_t)m->n_nodes * CAL_BINS, sizeof *hist);
  if (!mx || !hist) {
    free(mx);
    free(hist);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory calibrating");
  }
  if ((rc = rove_exec_init(&e, m, bmax)) < 0) {
    free(mx);
    free(hist);
    ROVE_TRY(rc);
  }
  /* Two passes: the largest value of each ReLU output, then a histogram
   * on [0, max] from which every candidate range is scored. */
  for (int pass = 0; pass < 2; pass++)
    for (int i0 = 0; i0 < n; i0 += bmax) {
      int B = n - i0 < bmax ? n - i0 : bmax;
      rove_exec_forward(&e, B, x + (size_t)i0 * d);
      for (int i = 0; i <= m->output; i++) {
        if (m->nodes[i].op != ROVE_OP_RELU)
          continue;
        size_t N = (size_t)B * (size_t)rove_shape_numel(&m->nodes[i].out);
        const float *a = e.act[i];
        if (pass == 0) {
          for (size_t j = 0; j < N; j++)
            mx[i] = a[j] > mx[i] ? a[j] : mx[i];
        } else if (mx[i] > 0) {
          double *hb = hist + (size_t)i * CAL_BINS;
          for (size_t j = 0; j < N; j++) {
            int b = (int)(a[j] / mx[i] * CAL_BINS);
            hb[b < 0 ? 0 : b >= CAL_BINS ? CAL_BINS - 1 : b] += 1;
          }
        }
      }
    }
  for (int i = 0; i < m->n_nodes; i++) {
    scale[i] = 0;
    if (m->nodes[i].op != ROVE_OP_RELU)
      continue;
    if (!(mx[i] > 0)) {
      /* A dead ReLU: any range reproduces its zeros. */
      scale[i] = 1.0f / (float)levels;
      continue;
    }
    const double *hb = hist + (size_t)i * CAL_BINS;
    double h = mx[i] / CAL_BINS, best = -1, bc = mx[i];
    for (int k = 1; k <= CAL_CANDS; k++) {
      double c = mx[i] * k / CAL_CANDS;
      double err = cal_error(hb, h, c, levels);
      if (best < 0 || err < best) {
        best = err;
        bc = c;
      }
    }
    scale[i] = (float)(bc / levels);
  }
  rove_exec_deinit(&e);
  free(mx);
  free(hist);
  return 0;
}
