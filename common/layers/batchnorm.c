/* batchnorm.c - inference batch normalisation over channel d[0]:
 * y = (x - mean) / sqrt(var + eps) * gamma + beta. */
#include <math.h>

#include "common/err.h"
#include "common/layers/util.h"

/* Params: gamma[C], beta[C], mean[C], var[C]. Only gamma and beta are
 * trainable (n_trainable = 2C): the running statistics are constants at
 * inference. The arithmetic follows PyTorch's CPU eval kernel: per channel
 * a = gamma / sqrt(var + eps), c = beta - mean * a, then y = x * a + c. */

static int batchnorm_setup(rove_node *n) {
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  if (n->ins[0].rank < 1)
    return ROVE_ERR(ROVE_ESHAPE, "node '%s' (batchnorm): rank-0 input",
                    n->name);
  if (!(n->a.eps >= 0))
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (batchnorm): epsilon %g < 0",
                    n->name, (double)n->a.eps);
  n->out = n->ins[0];
  n->n_params = 4 * (size_t)n->ins[0].d[0];
  n->n_trainable = 2 * (size_t)n->ins[0].d[0];
  return 0;
}

static void batchnorm_forward(const rove_node *n, const float *p, int B,
                              const float *const *x, float *y, float *ws) {
  int C = n->ins[0].d[0];
  long inner = rove_shape_numel(&n->ins[0]) / C;
  const float *gamma = p, *beta = p + C, *mean = p + 2 * C, *var = p + 3 * C;
  (void)ws;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      float a = gamma[c] / sqrtf(var[c] + n->a.eps);
      float s = beta[c] - mean[c] * a;
      const float *xp = x[0] + ((long)b * C + c) * inner;
      float *yp = y + ((long)b * C + c) * inner;
      for (long i = 0; i < inner; i++)
        yp[i] = xp[i] * a + s;
    }
}

static void batchnorm_backward(const rove_node *n, const float *p, int B,
                               const float *const *x, const float *y,
                               const float *dy, float *const *dx, float *dp,
                               float *ws, rove_bwd bwd) {
  int C = n->ins[0].d[0];
  long inner = rove_shape_numel(&n->ins[0]) / C;
  const float *gamma = p, *mean = p + 2 * C, *var = p + 3 * C;
  (void)y;
  (void)ws;
  (void)bwd;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      float inv = 1.0f / sqrtf(var[c] + n->a.eps);
      const float *xp = x[0] + ((long)b * C + c) * inner;
      const float *dyp = dy + ((long)b * C + c) * inner;
      if (dx[0]) {
        float a = gamma[c] * inv, *dxp = dx[0] + ((long)b * C + c) * inner;
        for (long i = 0; i < inner; i++)
          dxp[i] += dyp[i] * a;
      }
      if (dp) {
        float sg = 0, sb = 0;
        for (long i = 0; i < inner; i++) {
          sg += dyp[i] * (xp[i] - mean[c]);
          sb += dyp[i];
        }
        dp[c] += sg * inv;
        dp[C + c] += sb;
      }
    }
}

static int batchnorm_example(int variant, rove_attrs *a, rove_shape *ins,
                             int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: rove_layer__shape3(&ins[0], 3, 4, 5); return 1;
  case 1:
    rove_layer__shape1(&ins[0], 6);
    a->eps = 1e-3f;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_batchnorm = {
    .name = "batchnorm",
    .flags = 0,
    .setup = batchnorm_setup,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .example = batchnorm_example,
};
