/* test_onnx.c - ONNX import checked against PyTorch's outputs, and bad input.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/model.h"
#include "common/npy.h"
#include "common/onnx.h"
#include "gen/onnx.pb-c.h"

/* ctest runs the tests from the source directory. */
#define FIX "tests/fixtures/"

static void load_npy(rove_npy *a, const char *name, const char *suffix) {
  char path[256];
  snprintf(path, sizeof path, FIX "%s.%s.npy", name, suffix);
  int rc = rove_npy_load(a, path);
  cr_assert_eq(rc, 0, "%s: %s", path, rove_error_message());
}

/* max |a - b| / max |b| (0 when both are all zero). */
static double rel_err(const float *a, const float *b, size_t n,
                      double *maxref) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    md = d > md ? d : md;
    mr = fabs((double)b[i]) > mr ? fabs((double)b[i]) : mr;
  }
  *maxref = mr;
  return mr > 0 ? md / mr : md;
}

/* dL/dlogits of sum_b CE(z_b, y_b) = softmax(z_b) - onehot(y_b), computed
 * in double. */
static void ce_grad(const float *z, const float *y, int B, int K, float *g) {
  for (int b = 0; b < B; b++) {
    const float *zb = z + (size_t)b * K;
    double mx = zb[0], s = 0;
    for (int k = 1; k < K; k++)
      mx = zb[k] > mx ? zb[k] : mx;
    for (int k = 0; k < K; k++)
      s += exp((double)zb[k] - mx);
    for (int k = 0; k < K; k++)
      g[(size_t)b * K + k] =
          (float)(exp((double)zb[k] - mx) / s - (k == (int)y[b] ? 1.0 : 0.0));
  }
}

static int argmax(const float *z, int K) {
  int best = 0;
  for (int k = 1; k < K; k++)
    if (z[k] > z[best])
      best = k;
  return best;
}

/* Loads fixture `name`, compares logits, accuracy and the exact input
 * gradient with PyTorch's; when ste_mode >= 0, also the gradient with
 * every non-differentiable node in that backward mode against PyTorch's
 * straight-through gradient. exact_zero: PyTorch's autograd of this model
 * is not its true gradient (fake_quantize backpropagates the clipped
 * straight-through estimator), so rove's exact gradient must instead be
 * exactly zero. */
static void check_fixture_ex(const char *name, int ste_mode, int exact_zero,
                             int exact_logits) {
  char path[256];
  snprintf(path, sizeof path, FIX "%s.onnx", name);
  rove_model m;
  int rc = rove_onnx_load(&m, path);
  cr_assert_eq(rc, 0, "%s: %s", path, rove_error_message());
  rove_npy x, y, zref, gref;
  load_npy(&x, name, "x");
  load_npy(&y, name, "y");
  load_npy(&zref, name, "logits");
  load_npy(&gref, name, "grad");
  int B = (int)x.shape[0], K = m.n_classes;
  size_t in_numel = (size_t)rove_shape_numel(&m.in);
  cr_assert_eq(x.n, (size_t)B * in_numel, "%s: input size", name);
  cr_assert_eq(zref.n, (size_t)B * (size_t)K, "%s: %d classes, torch has %zu",
               name, K, zref.n / (size_t)B);

  rove_exec e;
  cr_assert_eq(rove_exec_init(&e, &m, B), 0, "%s", rove_error_message());
  rove_exec_forward(&e, B, x.data);
  const float *z = rove_exec_logits(&e);
  double mref, err = rel_err(z, zref.data, zref.n, &mref);
  if (exact_logits)
    for (size_t i = 0; i < zref.n; i++)
      cr_expect_eq(memcmp(&z[i], &zref.data[i], 4), 0,
                   "%s: logit %zu is %.9g, the reference %.9g (integer "
                   "arithmetic must agree bit for bit)",
                   name, i, (double)z[i], (double)zref.data[i]);
  cr_expect_leq(err, 1e-4,
                "%s: logits differ from PyTorch by %g (relative "
                "to max |logit| %g)",
                name, err, mref);
  int ok_rove = 0, ok_torch = 0;
  for (int b = 0; b < B; b++) {
    int pr = argmax(z + (size_t)b * K, K),
        pt = argmax(zref.data + (size_t)b * K, K);
    cr_expect_eq(pr, pt, "%s: example %d predicted %d, PyTorch %d", name, b, pr,
                 pt);
    ok_rove += pr == (int)y.data[b];
    ok_torch += pt == (int)y.data[b];
  }
  cr_expect_eq(ok_rove, ok_torch, "%s: accuracy %d/%d, PyTorch %d/%d", name,
               ok_rove, B, ok_torch, B);

  /* The gradients are taken at NAME.gx.npy when the fixture has one. */
  rove_npy gx;
  const float *xg = x.data;
  snprintf(path, sizeof path, FIX "%s.gx.npy", name);
  FILE *probe = fopen(path, "rb");
  if (probe) {
    fclose(probe);
    load_npy(&gx, name, "gx");
    cr_assert_eq(gx.n, x.n);
    xg = gx.data;
    rove_exec_forward(&e, B, xg);
    z = rove_exec_logits(&e);
  } else {
    memset(&gx, 0, sizeof gx);
  }
  float *dz = malloc(zref.n * sizeof *dz), *dx = malloc(x.n * sizeof *dx);
  cr_assert(dz && dx);
  ce_grad(z, y.data, B, K, dz);
  rove_exec_backward(&e, B, xg, dz, dx, NULL);
  err = rel_err(dx, gref.data, x.n, &mref);
  if (exact_zero) {
    double mx = 0;
    for (size_t i = 0; i < x.n; i++)
      mx = fabs(dx[i]) > mx ? fabs(dx[i]) : mx;
    cr_expect_eq(mx, 0.0, "%s: exact gradient should be 0, max |g| = %g", name,
                 mx);
  } else if (mref == 0) {
    /* PyTorch's exact gradient vanishes (every path crosses a rounding):
     * rove's must be exactly zero too. */
    cr_expect_eq(err, 0.0, "%s: exact gradient should be 0, max |g| = %g", name,
                 err);
  } else {
    cr_expect_leq(err, 1e-3,
                  "%s: input gradient differs from PyTorch by %g "
                  "(relative to max |g| %g)",
                  name, err, mref);
  }

  if (ste_mode >= 0) {
    rove_npy gste;
    load_npy(&gste, name, "grad_ste");
    int nset = 0;
    for (int i = 0; i < m.n_nodes; i++)
      if (rove_layers[m.nodes[i].op]->flags & ROVE_OPF_NONDIFF) {
        rove_exec_set_bwd(&e, i, (rove_bwd){ste_mode, 10.0f});
        nset++;
      }
    cr_expect_gt(nset, 0, "%s: no non-differentiable node found", name);
    rove_exec_backward(&e, B, xg, dz, dx, NULL);
    err = rel_err(dx, gste.data, x.n, &mref);
    cr_expect_gt(mref, 0, "%s: PyTorch's straight-through gradient is 0", name);
    cr_expect_leq(err, 1e-3,
                  "%s: straight-through gradient differs from "
                  "PyTorch by %g (relative to max |g| %g)",
                  name, err, mref);
    rove_npy_deinit(&gste);
  }
  free(dz);
  free(dx);
  rove_npy_deinit(&gx);
  rove_exec_deinit(&e);
  rove_npy_deinit(&x);
  rove_npy_deinit(&y);
  rove_npy_deinit(&zref);
  rove_npy_deinit(&gref);
  rove_model_deinit(&m);
}

static void check_fixture(const char *name, int ste_mode, int exact_zero) {
  check_fixture_ex(name, ste_mode, exact_zero, 0);
}

Test(onnx_fixtures, mlp) {
  check_fixture("mlp", -1, 0);
}
Test(onnx_fixtures, smallcnn) {
  check_fixture("smallcnn", -1, 0);
}
Test(onnx_fixtures, resnet) {
  check_fixture("resnet", -1, 0);
}
Test(onnx_fixtures, mobilenet) {
  check_fixture("mobilenet", -1, 0);
}
Test(onnx_fixtures, qdq) {
  check_fixture("qdq", ROVE_BWD_CLIPPED_STE, 1);
}
Test(onnx_fixtures, handquant) {
  check_fixture("handquant", ROVE_BWD_STE, 0);
}
Test(onnx_fixtures, softmax) {
  check_fixture("softmax", -1, 0);
}
Test(onnx_fixtures, fmnist_cnn) {
  check_fixture("fmnist_cnn", -1, 0);
}
Test(onnx_fixtures, fmnist_q2) {
  check_fixture("fmnist_q2", ROVE_BWD_STE, 0);
}

/* PyTorch FX quantization-aware and post-training graphs (QDQ, 1-element
 * per-tensor scales, per-channel weights, Q/DQ around Add, MaxPool,
 * GlobalAveragePool and Concat). fake_quantize's autograd is the clipped
 * STE. */
Test(onnx_fixtures, fx_qat) {
  check_fixture("fx_qat", ROVE_BWD_CLIPPED_STE, 1);
}
Test(onnx_fixtures, fx_ptq) {
  check_fixture("fx_ptq", ROVE_BWD_CLIPPED_STE, 1);
}
/* Operator-format graphs against the numpy reference: the same logits bit
 * for bit, and the clipped STE equal to the fake-quantized float graph's. */
Test(onnx_fixtures, qop_cnn) {
  check_fixture_ex("qop_cnn", ROVE_BWD_CLIPPED_STE, 1, 1);
}
Test(onnx_fixtures, qop_int) {
  check_fixture_ex("qop_int", ROVE_BWD_CLIPPED_STE, 1, 1);
}

static int count_op(const rove_model *m, int op) {
  int n = 0;
  for (int i = 0; i < m->n_nodes; i++)
    n += m->nodes[i].op == op;
  return n;
}

/* Structure of the imported graphs: what each fixture exercises. */
Test(onnx_fixtures, structure) {
  rove_model m;
  cr_assert_eq(rove_onnx_load(&m, FIX "qdq.onnx"), 0, "%s",
               rove_error_message());
  /* Q->DQ on activations become fakequant layers (input, 2 per tensor, 1
   * per channel); Q->DQ on the weights are folded into float weights. */
  cr_expect_eq(count_op(&m, ROVE_OP_FAKEQUANT), 4);
  cr_expect_eq(rove_model_count_nondiff(&m), 4);
  int per_channel = 0, int8 = 0;
  for (int i = 0; i < m.n_nodes; i++)
    if (m.nodes[i].op == ROVE_OP_FAKEQUANT) {
      per_channel += m.nodes[i].a.per_channel;
      int8 += m.nodes[i].a.qmin == -128 && m.nodes[i].a.qmax == 127;
    }
  cr_expect_eq(per_channel, 1);
  cr_expect_eq(int8, 2);
  cr_expect_eq(m.softmax_stripped, 0);
  rove_model_deinit(&m);

  /* Operator-format graphs: every integer operator imported as itself. */
  cr_assert_eq(rove_onnx_load(&m, FIX "qop_cnn.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_QUANTIZE), 1);
  cr_expect_eq(count_op(&m, ROVE_OP_QCONV), 4);
  cr_expect_eq(count_op(&m, ROVE_OP_QADD), 1);
  cr_expect_eq(count_op(&m, ROVE_OP_QAVGPOOL), 2);
  cr_expect_eq(count_op(&m, ROVE_OP_DEQUANTIZE), 1);
  cr_expect_eq(rove_model_count_nondiff(&m), 8);
  rove_model_deinit(&m);
  cr_assert_eq(rove_onnx_load(&m, FIX "qop_int.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_CONVINT), 2);
  cr_expect_eq(count_op(&m, ROVE_OP_QUANTIZE), 2);
  rove_model_deinit(&m);
  /* PyTorch FX: 1-element per-tensor activation scales, per-channel int8
   * weights folded into float weights. */
  cr_assert_eq(rove_onnx_load(&m, FIX "fx_qat.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_geq(count_op(&m, ROVE_OP_FAKEQUANT), 3);
  for (int i = 0; i < m.n_nodes; i++)
    if (m.nodes[i].op == ROVE_OP_FAKEQUANT)
      cr_expect(!m.nodes[i].a.per_channel && m.nodes[i].a.qmin == 0 &&
                m.nodes[i].a.qmax == 255);
  rove_model_deinit(&m);
  cr_assert_eq(rove_onnx_load(&m, FIX "fx_ptq.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_geq(count_op(&m, ROVE_OP_FAKEQUANT), 4);
  cr_expect_eq(count_op(&m, ROVE_OP_CONCAT), 1);
  rove_model_deinit(&m);

  cr_assert_eq(rove_onnx_load(&m, FIX "handquant.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_ROUND), 1);
  cr_expect_eq(count_op(&m, ROVE_OP_FLOOR), 1);
  cr_expect_eq(rove_model_count_nondiff(&m), 2);
  rove_model_deinit(&m);

  cr_assert_eq(rove_onnx_load(&m, FIX "fmnist_q2.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_ROUND), 6);
  rove_model_deinit(&m);

  cr_assert_eq(rove_onnx_load(&m, FIX "softmax.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(m.softmax_stripped, 1);
  cr_expect_eq(m.n_classes, 6);
  rove_model_deinit(&m);

  cr_assert_eq(rove_onnx_load(&m, FIX "smallcnn.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_CONV), 4);
  cr_expect_eq(count_op(&m, ROVE_OP_LINEAR), 3);
  cr_expect_eq(count_op(&m, ROVE_OP_MAXPOOL), 2);
  cr_expect_eq(m.in.rank, 3);
  cr_expect_eq(m.softmax_stripped, 0);
  cr_expect_eq(rove_model_count_nondiff(&m), 0);
  rove_model_deinit(&m);

  cr_assert_eq(rove_onnx_load(&m, FIX "resnet.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_geq(count_op(&m, ROVE_OP_BATCHNORM), 1);
  cr_expect_geq(count_op(&m, ROVE_OP_ADD), 2);
  cr_expect_eq(count_op(&m, ROVE_OP_CONCAT), 1);
  rove_model_deinit(&m);

  cr_assert_eq(rove_onnx_load(&m, FIX "mobilenet.onnx"), 0, "%s",
               rove_error_message());
  int dw = 0;
  for (int i = 0; i < m.n_nodes; i++)
    dw += m.nodes[i].op == ROVE_OP_CONV && m.nodes[i].a.groups > 1 &&
          m.nodes[i].a.groups == m.nodes[i].ins[0].d[0];
  cr_expect_eq(dw, 3);
  cr_expect_geq(count_op(&m, ROVE_OP_CLIP), 5);
  rove_model_deinit(&m);

  /* MatMul + Add fused into one linear layer with a bias. */
  cr_assert_eq(rove_onnx_load(&m, FIX "mlp.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_LINEAR), 5);
  cr_expect_eq(count_op(&m, ROVE_OP_ADD), 0);
  rove_model_deinit(&m);
}

/* ---- hand-built graphs --------------------------------------------------- */

/* A small ONNX model assembled with protobuf-c: input x (N, 4), W (3, 4),
 * b (3), and nodes appended by the tests. */
typedef struct mb {
  Onnx__ModelProto m;
  Onnx__GraphProto g;
  Onnx__OperatorSetIdProto ops;
  Onnx__OperatorSetIdProto *opsp[1];
  Onnx__NodeProto nodes[8];
  Onnx__NodeProto *nodesp[8];
  char *ins[8][4], *outs[8][2];
  Onnx__TensorProto init[2];
  Onnx__TensorProto *initp[2];
  int64_t wdims[2], bdims[1];
  float w[12], b[3];
  Onnx__ValueInfoProto vin, vout;
  Onnx__ValueInfoProto *vinp[1], *voutp[1];
  Onnx__TypeProto tin;
  Onnx__TypeProto__Tensor tt;
  Onnx__TensorShapeProto sh;
  Onnx__TensorShapeProto__Dimension dim[2];
  Onnx__TensorShapeProto__Dimension *dimp[2];
  Onnx__AttributeProto transb, *transbp[1];
} mb;

static void mb_init(mb *b, int opset) {
  memset(b, 0, sizeof *b);
  onnx__model_proto__init(&b->m);
  onnx__graph_proto__init(&b->g);
  onnx__operator_set_id_proto__init(&b->ops);
  b->ops.domain = "";
  b->ops.has_version = 1;
  b->ops.version = opset;
  b->opsp[0] = &b->ops;
  b->m.n_opset_import = 1;
  b->m.opset_import = b->opsp;
  b->m.has_ir_version = 1;
  b->m.ir_version = 8;
  b->m.graph = &b->g;
  b->g.name = "test";
  for (int k = 0; k < 12; k++)
    b->w[k] = (float)(k % 5) * 0.25f - 0.5f;
  for (int k = 0; k < 3; k++)
    b->b[k] = 0.1f * (float)(k + 1);
  b->wdims[0] = 3;
  b->wdims[1] = 4;
  b->bdims[0] = 3;
  for (int k = 0; k < 2; k++) {
    onnx__tensor_proto__init(&b->init[k]);
    b->init[k].has_data_type = 1;
    b->init[k].data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    b->initp[k] = &b->init[k];
  }
  b->init[0].name = "W";
  b->init[0].n_dims = 2;
  b->init[0].dims = b->wdims;
  b->init[0].n_float_data = 12;
  b->init[0].float_data = b->w;
  b->init[1].name = "b";
  b->init[1].n_dims = 1;
  b->init[1].dims = b->bdims;
  b->init[1].n_float_data = 3;
  b->init[1].float_data = b->b;
  b->g.n_initializer = 2;
  b->g.initializer = b->initp;

  onnx__tensor_shape_proto__dimension__init(&b->dim[0]);
  onnx__tensor_shape_proto__dimension__init(&b->dim[1]);
  b->dim[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  b->dim[0].dim_param = "N";
  b->dim[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  b->dim[1].dim_value = 4;
  b->dimp[0] = &b->dim[0];
  b->dimp[1] = &b->dim[1];
  onnx__tensor_shape_proto__init(&b->sh);
  b->sh.n_dim = 2;
  b->sh.dim = b->dimp;
  onnx__type_proto__tensor__init(&b->tt);
  b->tt.has_elem_type = 1;
  b->tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  b->tt.shape = &b->sh;
  onnx__type_proto__init(&b->tin);
  b->tin.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  b->tin.tensor_type = &b->tt;
  onnx__value_info_proto__init(&b->vin);
  b->vin.name = "x";
  b->vin.type = &b->tin;
  b->vinp[0] = &b->vin;
  b->g.n_input = 1;
  b->g.input = b->vinp;
  onnx__value_info_proto__init(&b->vout);
  b->vout.name = "y";
  b->voutp[0] = &b->vout;
  b->g.n_output = 1;
  b->g.output = b->voutp;
  b->g.node = b->nodesp;
}

static Onnx__NodeProto *mb_node(mb *b, const char *name, const char *op,
                                const char *in0, const char *in1,
                                const char *in2, const char *out) {
  int k = (int)b->g.n_node++;
  Onnx__NodeProto *n = &b->nodes[k];
  onnx__node_proto__init(n);
  n->name = (char *)name;
  n->op_type = (char *)op;
  const char *ins[3] = {in0, in1, in2};
  for (int j = 0; j < 3 && ins[j]; j++)
    b->ins[k][n->n_input++] = (char *)ins[j];
  n->input = b->ins[k];
  b->outs[k][0] = (char *)out;
  n->n_output = 1;
  n->output = b->outs[k];
  b->nodesp[k] = n;
  return n;
}

/* A Gemm node with transB = 1 (torch's Linear): out = in0 in1^T + in2. */
static void mb_gemm(mb *b, const char *name, const char *in0, const char *in1,
                    const char *in2, const char *out) {
  onnx__attribute_proto__init(&b->transb);
  b->transb.name = "transB";
  b->transb.has_type = 1;
  b->transb.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  b->transb.has_i = 1;
  b->transb.i = 1;
  b->transbp[0] = &b->transb;
  Onnx__NodeProto *g = mb_node(b, name, "Gemm", in0, in1, in2, out);
  g->n_attribute = 1;
  g->attribute = b->transbp;
}

static int mb_load(mb *b, rove_model *m, const char *what) {
  size_t len = onnx__model_proto__get_packed_size(&b->m);
  uint8_t *buf = malloc(len);
  cr_assert(buf);
  onnx__model_proto__pack(&b->m, buf);
  int rc = rove_onnx_load_mem(m, buf, len, what);
  free(buf);
  return rc;
}

/* A hand-built Gemm -> Identity -> Relu -> Dropout graph computes
 * relu(W x + b), checked in closed form. */
Test(onnx_graph, gemm_identity_dropout) {
  mb b;
  mb_init(&b, 13);
  mb_gemm(&b, "fc", "x", "W", "b", "h");
  mb_node(&b, "id", "Identity", "h", NULL, NULL, "h2");
  mb_node(&b, "act", "Relu", "h2", NULL, NULL, "h3");
  mb_node(&b, "drop", "Dropout", "h3", NULL, NULL, "y");
  rove_model m;
  cr_assert_eq(mb_load(&b, &m, "gemm.onnx"), 0, "%s", rove_error_message());
  cr_expect_eq(m.n_nodes, 2, "Identity and Dropout should alias");
  cr_expect_eq(m.n_classes, 3);
  rove_exec e;
  cr_assert_eq(rove_exec_init(&e, &m, 2), 0);
  float x[8] = {1, 0.5f, -2, 0.25f, 0, 1, 1, -1};
  rove_exec_forward(&e, 2, x);
  const float *z = rove_exec_logits(&e);
  for (int n = 0; n < 2; n++)
    for (int o = 0; o < 3; o++) {
      double s = b.b[o];
      for (int i = 0; i < 4; i++)
        s += (double)b.w[o * 4 + i] * x[n * 4 + i];
      s = s > 0 ? s : 0;
      cr_expect_float_eq(z[n * 3 + o], (float)s, 1e-6, "y[%d][%d]", n, o);
    }
  rove_exec_deinit(&e);
  rove_model_deinit(&m);
}

static void expect_msg(const char *what, const char *needle) {
  cr_expect(strstr(rove_error_message(), needle) != NULL,
            "%s: message '%s' should mention '%s'", what, rove_error_message(),
            needle);
}

Test(onnx_bad, unknown_op) {
  mb b;
  mb_init(&b, 13);
  mb_node(&b, "Foo_3", "Einsum", "x", "W", NULL, "y");
  rove_model m;
  int rc = mb_load(&b, &m, "model.onnx");
  cr_expect_eq(rc, ROVE_EUNSUPPORTED);
  expect_msg("unknown op", "model.onnx: node 'Foo_3' (op 'Einsum', opset "
                           "13): unsupported operator");
}

Test(onnx_bad, custom_domain) {
  mb b;
  mb_init(&b, 12);
  Onnx__NodeProto *n = mb_node(&b, "mine", "Relu", "x", NULL, NULL, "y");
  n->domain = "com.example";
  rove_model m;
  cr_expect_eq(mb_load(&b, &m, "custom.onnx"), ROVE_EUNSUPPORTED);
  expect_msg("custom domain", "custom.onnx: node 'mine' (op 'Relu'");
  expect_msg("custom domain", "com.example");
}

Test(onnx_bad, dangling_input) {
  mb b;
  mb_init(&b, 13);
  mb_node(&b, "act", "Relu", "x", NULL, NULL, "h");
  mb_node(&b, "sum", "Add", "h", "nowhere", NULL, "y");
  rove_model m;
  cr_expect_lt(mb_load(&b, &m, "dangle.onnx"), 0);
  expect_msg("dangling", "dangle.onnx: node 'sum'");
  expect_msg("dangling", "'nowhere'");
}

Test(onnx_bad, mismatched_shapes) {
  mb b;
  mb_init(&b, 13);
  mb_gemm(&b, "fc", "x", "W", "b", "h");
  /* h is (N, 3), x is (N, 4). */
  mb_node(&b, "bad_add", "Add", "h", "x", NULL, "y");
  rove_model m;
  cr_expect_lt(mb_load(&b, &m, "shapes.onnx"), 0);
  expect_msg("shapes", "shapes.onnx: node 'bad_add'");

  /* A Gemm whose weight does not fit the input. */
  mb_init(&b, 13);
  b.wdims[0] = 2;
  b.wdims[1] = 6;
  mb_node(&b, "fc2", "Gemm", "x", "W", NULL, "y");
  cr_expect_lt(mb_load(&b, &m, "gemm.onnx"), 0);
  expect_msg("gemm", "gemm.onnx: node 'fc2'");
}

Test(onnx_bad, initializer_size) {
  mb b;
  mb_init(&b, 13);
  b.init[0].n_float_data = 11;
  mb_node(&b, "fc", "Gemm", "x", "W", NULL, "y");
  rove_model m;
  cr_expect_eq(mb_load(&b, &m, "init.onnx"), ROVE_EFORMAT);
  expect_msg("initializer", "init.onnx: initializer 'W' holds 11 values");
}

Test(onnx_bad, missing_file) {
  rove_model m;
  cr_expect_eq(rove_onnx_load(&m, FIX "no-such-model.onnx"), ROVE_ENOENT);
  expect_msg("missing", "no-such-model.onnx");
}

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(*len);
  cr_assert(buf);
  cr_assert_eq(fread(buf, 1, *len, f), *len);
  fclose(f);
  return buf;
}

/* Every truncation of a real model fails cleanly (torch writes the
 * opset_import after the graph, so no prefix is a complete model). */
Test(onnx_bad, truncated) {
  size_t len;
  unsigned char *buf = read_all(FIX "mlp.onnx", &len);
  rove_model m;
  for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
    int rc = rove_onnx_load_mem(&m, buf, cut, "cut.onnx");
    cr_expect_lt(rc, 0, "prefix of %zu of %zu bytes loaded", cut, len);
    expect_msg("truncated", "cut.onnx");
  }
  free(buf);
}

/* Garbage and corrupted bytes never crash the importer (the ASan build
 * runs this too); a corrupted file that still loads is a valid model. */
Test(onnx_bad, garbage) {
  rove_model m;
  unsigned char junk[4096];
  uint32_t s = 12345;
  for (size_t i = 0; i < sizeof junk; i++) {
    s = s * 1664525u + 1013904223u;
    junk[i] = (unsigned char)(s >> 24);
  }
  cr_expect_eq(rove_onnx_load_mem(&m, junk, sizeof junk, "junk.onnx"),
               ROVE_EFORMAT);
  expect_msg("garbage", "junk.onnx: not a valid ONNX protobuf");
  cr_expect_lt(rove_onnx_load_mem(&m, junk, 0, "empty.onnx"), 0);

  size_t len;
  unsigned char *buf = read_all(FIX "smallcnn.onnx", &len);
  unsigned char *mut = malloc(len);
  cr_assert(mut);
  for (int trial = 0; trial < 300; trial++) {
    memcpy(mut, buf, len);
    for (int k = 0; k < 1 + trial % 4; k++) {
      s = s * 1664525u + 1013904223u;
      size_t at = (size_t)(s >> 8) % len;
      s = s * 1664525u + 1013904223u;
      /* Half the flips hit the first or last 2 KB: the header, the graph
       * structure and the opset import rather than the weights. */
      size_t win = len < 2048 ? len : 2048;
      if (trial % 4 == 1)
        at = at % win;
      else if (trial % 4 == 3)
        at = len - 1 - at % win;
      mut[at] ^= (unsigned char)(1u << (s >> 29));
    }
    int rc = rove_onnx_load_mem(&m, mut, len, "mutant.onnx");
    if (rc == 0) {
      cr_expect(m.finalized);
      rove_model_deinit(&m);
    } else {
      expect_msg("mutant", "mutant.onnx");
    }
  }
  free(mut);
  free(buf);
}

/* A Reshape that moves features into the batch, and a Flatten at axis 0,
 * cannot be expressed per example: errors naming the node. */
Test(onnx_bad, batch_mixing) {
  mb b;
  mb_init(&b, 13);
  int64_t tdims[1] = {1}, tval[1] = {-1};
  Onnx__TensorProto shp = ONNX__TENSOR_PROTO__INIT;
  shp.name = "flat";
  shp.has_data_type = 1;
  shp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  shp.n_dims = 1;
  shp.dims = tdims;
  shp.n_int64_data = 1;
  shp.int64_data = tval;
  Onnx__TensorProto *inits[3] = {&b.init[0], &b.init[1], &shp};
  b.g.n_initializer = 3;
  b.g.initializer = inits;
  mb_node(&b, "to_batch", "Reshape", "x", "flat", NULL, "y");
  rove_model m;
  cr_expect_lt(mb_load(&b, &m, "mix.onnx"), 0);
  expect_msg("reshape", "mix.onnx: node 'to_batch' (op 'Reshape'");

  mb_init(&b, 13);
  Onnx__AttributeProto ax = ONNX__ATTRIBUTE_PROTO__INIT, *axp[1] = {&ax};
  ax.name = "axis";
  ax.has_type = 1;
  ax.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  ax.has_i = 1;
  ax.i = 0;
  Onnx__NodeProto *f = mb_node(&b, "flat0", "Flatten", "x", NULL, NULL, "y");
  f->n_attribute = 1;
  f->attribute = axp;
  cr_expect_eq(mb_load(&b, &m, "flat.onnx"), ROVE_EUNSUPPORTED);
  expect_msg("flatten", "flat.onnx: node 'flat0' (op 'Flatten'");
}
