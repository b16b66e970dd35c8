/* layer.h - the layer interface: shapes, attributes, nodes and the ops table.
 */
#ifndef ROVE_COMMON_LAYER_H
#define ROVE_COMMON_LAYER_H

#include <stddef.h>

/* Shapes are per example: the batch dimension B is never part of a shape
 * and is passed to kernels explicitly. A conv feature map is rank 3
 * {C, H, W}; a feature vector is rank 1 {D}. Tensors are float32, batch
 * major: element (b, c, h, w) of a {C,H,W} tensor is at
 * ((b*C + c)*H + h)*W + w. */
#define ROVE_MAX_RANK 4
typedef struct rove_shape {
  int rank;
  int d[ROVE_MAX_RANK];
} rove_shape;

static inline long rove_shape_numel(const rove_shape *s) {
  long n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= s->d[i];
  return n;
}

/* The shape as text, e.g. "1x28x28" ("" for rank 0), truncated to cap. */
void rove_shape_text(const rove_shape *s, char *buf, size_t cap);

/* Layer kinds, from the registry. */
enum rove_op {
#define X(E, sym) ROVE_OP_##E,
#include "common/layers.def"
#undef X
  ROVE_OP_COUNT
};

/* Attributes of every layer kind in one plain struct (so it serialises as
 * fixed-width fields). Each layer reads only the fields it documents;
 * rove_attrs_default() gives the neutral values (stride 1, dilation 1,
 * groups 1, no padding, ...). */
typedef struct rove_attrs {
  /* conv, maxpool, avgpool */
  int kh, kw;            /* kernel size */
  int sh, sw;            /* stride */
  int pt, pl, pb, pr;    /* padding: top, left, bottom, right */
  int dh, dw;            /* dilation */
  int groups;            /* conv groups (groups == C == K: depthwise) */
  int ceil_mode;         /* pools: output size rounds up */
  int count_include_pad; /* avgpool: padded zeros count in the mean */
  /* conv, linear */
  int out; /* output channels K / output features */
  int has_bias;
  /* concat (channel axis of the per-example shape), softmax (axis of the
   * per-example shape) */
  int axis;
  /* add/sub/mul/div: 0 = two node inputs of the same shape; otherwise one
   * node input and a constant held in the params: 1 = scalar,
   * 2 = per channel (d[0]), 3 = the full per-example shape. */
  int cmode;
  int const_first; /* sub/div with a constant: c - x, c / x */
  /* fakequant: q = clamp(rint(x / s) + zp, qmin, qmax); y = (q - zp) * s.
   * per_channel: one (s, zp) per channel d[0] instead of one per tensor. */
  int qmin, qmax, per_channel;
  /* reshape: target per-example shape (-1 and 0 already resolved) */
  rove_shape shape;
  float alpha;  /* leakyrelu slope */
  float lo, hi; /* clip bounds */
  float eps;    /* batchnorm epsilon */
} rove_attrs;

void rove_attrs_default(rove_attrs *a);

/* Attributes as fixed-width words (ints as int32, floats by bit pattern),
 * in a fixed order: the canonical form the content hash and the native
 * format use. */
#define ROVE_ATTRS_WORDS 30
void rove_attrs_to_words(const rove_attrs *a, unsigned int w[ROVE_ATTRS_WORDS]);
void rove_attrs_from_words(rove_attrs *a,
                           const unsigned int w[ROVE_ATTRS_WORDS]);

/* Backward modes, chosen per node at run time (BPDA). The forward is
 * always the true layer. */
enum rove_bwd_mode {
  ROVE_BWD_EXACT = 0,       /* the true derivative (zero a.e. for rounding) */
  ROVE_BWD_STE = 1,         /* straight-through: identity */
  ROVE_BWD_CLIPPED_STE = 2, /* identity inside the quantizer's range, 0 out */
  ROVE_BWD_SMOOTH = 3       /* ReLU: softplus_beta'; MaxPool: softmax(beta x) */
};
typedef struct rove_bwd {
  int mode;
  float beta; /* sharpness of the smooth surrogate */
} rove_bwd;

#define ROVE_MAX_IN 8
#define ROVE_INPUT (-1) /* producer index meaning "the model's input" */

typedef struct rove_node {
  int op; /* enum rove_op */
  char name[64];
  int n_in;
  int in[ROVE_MAX_IN];         /* producer node indices or ROVE_INPUT */
  rove_shape ins[ROVE_MAX_IN]; /* shapes of the inputs */
  rove_shape out;              /* set by setup */
  rove_attrs a;
  size_t param_off;   /* offset of this node's params (floats) */
  size_t n_params;    /* set by setup */
  size_t n_trainable; /* the leading n_trainable params get grads */
} rove_node;

/* Op flags. */
#define ROVE_OPF_NONDIFF 1u    /* exact gradient is zero almost everywhere */
#define ROVE_OPF_SMOOTHABLE 2u /* kinked; has a smooth surrogate backward */
/* An integer (q-domain) operator of ONNX's operator format: its STE
 * gradient is the gradient of its `surrogate`, not the identity, and BPDA
 * uses the clipped STE (the output saturates). */
#define ROVE_OPF_INTEGER 4u

typedef struct rove_layer_ops {
  const char *name; /* registry name, e.g. "conv" */
  unsigned flags;
  /* Checks n->ins / n->a and sets n->out, n->n_params, n->n_trainable.
   * Returns 0 or ROVE_ESHAPE/ROVE_EINVAL with a message naming n->name. */
  int (*setup)(rove_node *n);
  /* Scratch floats forward or backward needs at batch B (NULL: none). */
  size_t (*workspace)(const rove_node *n, int B);
  /* y = f(x). x[i] has B * numel(n->ins[i]) floats, y B * numel(n->out).
   * p: this node's params. Pure: depends on nothing else. Per-example
   * results must not depend on B (bit-identical for batch 1 and 100). */
  void (*forward)(const rove_node *n, const float *p, int B,
                  const float *const *x, float *y, float *ws);
  /* Accumulates (+=) dL/dx[i] into dx[i] (dx[i] may be NULL: not needed)
   * and, if dp != NULL, dL/dp into dp[0 .. n_trainable). y is the forward
   * output for the same x. */
  void (*backward)(const rove_node *n, const float *p, int B,
                   const float *const *x, const float *y, const float *dy,
                   float *const *dx, float *dp, float *ws, rove_bwd bwd);
  /* Non-differentiable integer operators (ROVE_OPF_INTEGER): the forward
   * with every rounding removed and the saturation kept as a clamp, the
   * function the clipped STE differentiates; sat (may be NULL) gets 1 for
   * every output element the clamp changed. NULL for other layers. */
  void (*surrogate)(const rove_node *n, const float *p, int B,
                    const float *const *x, float *y, unsigned char *sat);
  /* Optional (NULL: none). Data derived from the params alone that an
   * exec may keep while the params do not change (rove_exec_freeze_params)
   * instead of deriving it on every call: the conv's Winograd-transformed
   * kernels. prep_size: floats (0: none for this node); prepare: fills
   * them from p; forward_prep and backward_prep: forward and backward
   * given them, with the same results bit for bit. */
  size_t (*prep_size)(const rove_node *n);
  void (*prepare)(const rove_node *n, const float *p, float *prep);
  void (*forward_prep)(const rove_node *n, const float *p, const float *prep,
                       int B, const float *const *x, float *y, float *ws);
  void (*backward_prep)(const rove_node *n, const float *p, const float *prep,
                        int B, const float *const *x, const float *y,
                        const float *dy, float *const *dx, float *dp, float *ws,
                        rove_bwd bwd);
  /* Multiply-accumulates per example (NULL: elementwise, counted as 0). */
  double (*macs)(const rove_node *n);
  /* For the table-driven tests: fills a representative configuration
   * number `variant` (inputs' shapes in ins / *n_in, attributes in a) and
   * returns 1, or returns 0 when there is no such variant. Variants should
   * cover strides, padding, groups, broadcast modes and so on. */
  int (*example)(int variant, rove_attrs *a, rove_shape *ins, int *n_in);
} rove_layer_ops;

/* The registry, indexed by enum rove_op. */
extern const rove_layer_ops *const rove_layers[ROVE_OP_COUNT];
/* Looks a layer kind up by registry name; -1 if unknown. */
int rove_layer_find(const char *name);

#define X(E, sym) extern const rove_layer_ops rove_layer_##sym;
#include "common/layers.def"
#undef X

#endif
