/* avgpool.c - 2-D average pooling (stride, 4-sided padding, ceil_mode,
 * count_include_pad), with PyTorch's divisor rule. */
#include "common/err.h"
#include "common/layers/util.h"

/* Input {C, H, W}, output {C, OH, OW}. The divisor of a window is, as in
 * PyTorch, the number of its elements inside the input when
 * count_include_pad is 0, and otherwise the number inside the padded input
 * (a ceil_mode window hanging past the padding does not count the
 * overhang). */

static int avgpool_setup(rove_node *n) {
  const rove_attrs *a = &n->a;
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  ROVE_TRY(rove_layer__check_window(n));
  if (a->dh != 1 || a->dw != 1)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "node '%s' (avgpool): dilation %dx%d (expected 1x1)",
                    n->name, a->dh, a->dw);
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  if (a->pt >= a->kh || a->pb >= a->kh || a->pl >= a->kw || a->pr >= a->kw)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (avgpool): padding %d,%d,%d,%d must be smaller "
                    "than the %dx%d kernel",
                    n->name, a->pt, a->pl, a->pb, a->pr, a->kh, a->kw);
  int OH = rove_layer__pool_out(H, a->kh, a->sh, a->pt, a->pb, a->ceil_mode);
  int OW = rove_layer__pool_out(W, a->kw, a->sw, a->pl, a->pr, a->ceil_mode);
  if (OH < 1 || OW < 1)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (avgpool): %dx%d window does not fit the "
                    "padded %dx%d input",
                    n->name, a->kh, a->kw, H + a->pt + a->pb,
                    W + a->pl + a->pr);
  rove_layer__shape3(&n->out, C, OH, OW);
  n->n_params = n->n_trainable = 0;
  return 0;
}

typedef struct win {
  int h0, h1, w0, w1; /* the window clipped to the input */
  float inv;          /* 1 / divisor */
} win;

static void window_of(const rove_attrs *a, int H, int W, int oh, int ow,
                      win *r) {
  int hs = oh * a->sh - a->pt, ws = ow * a->sw - a->pl;
  int he = hs + a->kh, we = ws + a->kw;
  if (he > H + a->pb)
    he = H + a->pb;
  if (we > W + a->pr)
    we = W + a->pr;
  int padded = (he - hs) * (we - ws);
  r->h0 = hs < 0 ? 0 : hs;
  r->w0 = ws < 0 ? 0 : ws;
  r->h1 = he > H ? H : he;
  r->w1 = we > W ? W : we;
  int inside = (r->h1 - r->h0) * (r->w1 - r->w0);
  r->inv = 1.0f / (float)(a->count_include_pad ? padded : inside);
}

static void avgpool_forward(const rove_node *n, const float *p, int B,
                            const float *const *x, float *y, float *ws) {
  const rove_attrs *a = &n->a;
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  long planes = (long)B * n->out.d[0];
  (void)p;
  (void)ws;
  for (long c = 0; c < planes; c++) {
    const float *xp = x[0] + (size_t)c * H * W;
    float *yp = y + (size_t)c * OH * OW;
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        win r;
        window_of(a, H, W, oh, ow, &r);
        float s = 0;
        for (int ih = r.h0; ih < r.h1; ih++)
          for (int iw = r.w0; iw < r.w1; iw++)
            s += xp[ih * W + iw];
        yp[oh * OW + ow] = s * r.inv;
      }
  }
}

static void avgpool_backward(const rove_node *n, const float *p, int B,
                             const float *const *x, const float *y,
                             const float *dy, float *const *dx, float *dp,
                             float *ws, rove_bwd bwd) {
  const rove_attrs *a = &n->a;
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  long planes = (long)B * n->out.d[0];
  (void)p;
  (void)x;
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!dx[0])
    return;
  for (long c = 0; c < planes; c++) {
    const float *dyp = dy + (size_t)c * OH * OW;
    float *dxp = dx[0] + (size_t)c * H * W;
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        win r;
        window_of(a, H, W, oh, ow, &r);
        float g = dyp[oh * OW + ow] * r.inv;
        for (int ih = r.h0; ih < r.h1; ih++)
          for (int iw = r.w0; iw < r.w1; iw++)
            dxp[ih * W + iw] += g;
      }
  }
}

static int avgpool_example(int variant, rove_attrs *a, rove_shape *ins,
                           int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  a->kh = a->kw = 2;
  a->sh = a->sw = 2;
  switch (variant) {
  case 0: rove_layer__shape3(&ins[0], 2, 6, 8); return 1;
  case 1: /* padding counted, ceil mode with an overhanging window */
    rove_layer__shape3(&ins[0], 2, 7, 8);
    a->kh = a->kw = 3;
    a->pt = a->pl = 1;
    a->pr = 1;
    a->ceil_mode = 1;
    a->count_include_pad = 1;
    return 1;
  case 2: /* padding not counted, overlapping rectangular windows */
    rove_layer__shape3(&ins[0], 3, 6, 7);
    a->kh = 3;
    a->kw = 2;
    a->sh = 1;
    a->sw = 2;
    a->pt = a->pb = 1;
    a->pl = 1;
    a->ceil_mode = 1;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_avgpool = {
    .name = "avgpool",
    .flags = 0,
    .setup = avgpool_setup,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .example = avgpool_example,
};
