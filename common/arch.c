/* arch.c - reference architectures (SmallCNN, MLP, a small residual CNN)
 * built with the graph builder, with seeded He-uniform weights. */
#include "common/arch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/rng.h"

void rove_arch_init_he(rove_model *m, int id, uint64_t seed) {
  const rove_node *n = &m->nodes[id];
  size_t n_w, fan_in;
  if (n->op == ROVE_OP_CONV) {
    fan_in = (size_t)(n->ins[0].d[0] / n->a.groups) * (size_t)n->a.kh *
             (size_t)n->a.kw;
    n_w = (size_t)n->a.out * fan_in;
  } else if (n->op == ROVE_OP_LINEAR) {
    fan_in = (size_t)rove_shape_numel(&n->ins[0]);
    n_w = (size_t)n->a.out * fan_in;
  } else {
    return;
  }
  uint64_t ident[3] = {0x6172636868ull /* "archh" */, seed, (uint64_t)id};
  rove_rng g;
  rove_rng_init(&g, ident, 3);
  float bound = (float)sqrt(6.0 / (double)fan_in);
  float *p = rove_model_node_params(m, id);
  for (size_t i = 0; i < n_w; i++)
    p[i] = (2.0f * rove_rng_uniform(&g) - 1.0f) * bound;
  for (size_t i = n_w; i < n->n_params; i++)
    p[i] = 0.0f;
}

static int scaled(int base, float w) {
  int v = (int)lrintf((float)base * w);
  return v < 1 ? 1 : v;
}

/* A 3x3 convolution with bias, `pad` zeros on every side. */
static int add_conv(rove_model *m, const char *name, int in, int out, int pad,
                    int *id) {
  rove_attrs a;
  rove_attrs_default(&a);
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = pad;
  a.out = out;
  a.has_bias = 1;
  return rove_model_add(m, ROVE_OP_CONV, name, &in, 1, &a, id);
}

static int add_linear(rove_model *m, const char *name, int in, int out,
                      int *id) {
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = out;
  a.has_bias = 1;
  return rove_model_add(m, ROVE_OP_LINEAR, name, &in, 1, &a, id);
}

static int add_simple(rove_model *m, int op, const char *name, int in,
                      int *id) {
  rove_attrs a;
  rove_attrs_default(&a);
  if (op == ROVE_OP_MAXPOOL) {
    a.kh = a.kw = 2;
    a.sh = a.sw = 2;
  }
  return rove_model_add(m, op, name, &in, 1, &a, id);
}

static int build_smallcnn(rove_model *m, float w, int n_classes) {
  int c1 = scaled(32, w), c2 = scaled(64, w), f = scaled(200, w), id;
  ROVE_TRY(add_conv(m, "conv1", ROVE_INPUT, c1, 0, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "relu1", id, &id));
  ROVE_TRY(add_conv(m, "conv2", id, c1, 0, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "relu2", id, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_MAXPOOL, "pool1", id, &id));
  ROVE_TRY(add_conv(m, "conv3", id, c2, 0, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "relu3", id, &id));
  ROVE_TRY(add_conv(m, "conv4", id, c2, 0, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "relu4", id, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_MAXPOOL, "pool2", id, &id));
  /* linear flattens its input per example: no explicit Flatten node. */
  ROVE_TRY(add_linear(m, "fc1", id, f, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "relu5", id, &id));
  ROVE_TRY(add_linear(m, "fc2", id, f, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "relu6", id, &id));
  ROVE_TRY(add_linear(m, "fc3", id, n_classes, &id));
  return 0;
}

/* conv, ReLU, conv, Add(input), ReLU. */
static int add_block(rove_model *m, const char *tag, int in, int c, int *id) {
  char n[32];
  int x;
  snprintf(n, sizeof n, "%s_conv1", tag);
  ROVE_TRY(add_conv(m, n, in, c, 1, &x));
  snprintf(n, sizeof n, "%s_relu1", tag);
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, n, x, &x));
  snprintf(n, sizeof n, "%s_conv2", tag);
  ROVE_TRY(add_conv(m, n, x, c, 1, &x));
  rove_attrs a;
  rove_attrs_default(&a);
  int ins[2] = {x, in};
  snprintf(n, sizeof n, "%s_add", tag);
  ROVE_TRY(rove_model_add(m, ROVE_OP_ADD, n, ins, 2, &a, &x));
  snprintf(n, sizeof n, "%s_relu2", tag);
  return add_simple(m, ROVE_OP_RELU, n, x, id);
}

static int build_rescnn(rove_model *m, float w, int n_classes) {
  int c = scaled(16, w), id;
  ROVE_TRY(add_conv(m, "stem", ROVE_INPUT, c, 1, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "stem_relu", id, &id));
  ROVE_TRY(add_block(m, "block1", id, c, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_MAXPOOL, "pool1", id, &id));
  ROVE_TRY(add_conv(m, "widen", id, 2 * c, 1, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_RELU, "widen_relu", id, &id));
  ROVE_TRY(add_block(m, "block2", id, 2 * c, &id));
  ROVE_TRY(add_simple(m, ROVE_OP_MAXPOOL, "pool2", id, &id));
  return add_linear(m, "fc", id, n_classes, &id);
}

static int finish(rove_model *m, uint64_t seed) {
  for (int i = 0; i < m->n_nodes; i++)
    rove_arch_init_he(m, i, seed);
  ROVE_TRY(rove_model_finalize(m, -1));
  return 0;
}

int rove_arch_smallcnn(rove_model *m, float width_mult, int n_classes,
                       uint64_t seed) {
  rove_shape in = {3, {1, 28, 28, 0}};
  return rove_arch_smallcnn_in(m, &in, width_mult, n_classes, seed);
}

int rove_arch_smallcnn_in(rove_model *m, const rove_shape *in, float width_mult,
                          int n_classes, uint64_t seed) {
  int rc;
  if (!(width_mult > 0) || width_mult > 64) {
    memset(m, 0, sizeof *m);
    return ROVE_ERR(ROVE_EINVAL, "SmallCNN width multiplier %g (expected > 0)",
                    (double)width_mult);
  }
  if (n_classes < 2) {
    memset(m, 0, sizeof *m);
    return ROVE_ERR(ROVE_EINVAL, "SmallCNN with %d classes (expected >= 2)",
                    n_classes);
  }
  if ((rc = rove_model_init(m, in)) < 0 ||
      (rc = build_smallcnn(m, width_mult, n_classes)) < 0 ||
      (rc = finish(m, seed)) < 0) {
    rove_model_deinit(m);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

int rove_arch_rescnn(rove_model *m, float width_mult, int n_classes,
                     uint64_t seed) {
  rove_shape in = {3, {1, 28, 28, 0}};
  return rove_arch_rescnn_in(m, &in, width_mult, n_classes, seed);
}

int rove_arch_rescnn_in(rove_model *m, const rove_shape *in, float width_mult,
                        int n_classes, uint64_t seed) {
  int rc;
  memset(m, 0, sizeof *m);
  if (!(width_mult > 0) || width_mult > 64)
    return ROVE_ERR(ROVE_EINVAL,
                    "residual CNN width multiplier %g (expected > 0)",
                    (double)width_mult);
  if (n_classes < 2)
    return ROVE_ERR(ROVE_EINVAL, "residual CNN with %d classes (expected >= 2)",
                    n_classes);
  if ((rc = rove_model_init(m, in)) < 0 ||
      (rc = build_rescnn(m, width_mult, n_classes)) < 0 ||
      (rc = finish(m, seed)) < 0) {
    rove_model_deinit(m);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

int rove_arch_mlp(rove_model *m, const rove_shape *in, const int *hidden,
                  int n_hidden, int n_classes, uint64_t seed) {
  int rc, id = ROVE_INPUT;
  if ((rc = rove_model_init(m, in)) < 0) {
    rove_model_deinit(m);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  for (int i = 0; i < n_hidden && rc == 0; i++) {
    char name[32];
    snprintf(name, sizeof name, "fc%d", i + 1);
    rc = add_linear(m, name, id, hidden[i], &id);
    if (rc == 0) {
      snprintf(name, sizeof name, "relu%d", i + 1);
      rc = add_simple(m, ROVE_OP_RELU, name, id, &id);
    }
  }
  if (rc == 0)
    rc = add_linear(m, "out", id, n_classes, &id);
  if (rc == 0)
    rc = finish(m, seed);
  if (rc < 0) {
    rove_model_deinit(m);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}
