/* import.h - what the files of the ONNX importer share (not for use
 * outside common/onnx_import.c and common/onnx/): the value table, the
 * per-node context, and the helpers the operators are written with.
 *   common/onnx_import.c  the driver: graph inputs, node order, loading
 *   common/onnx/graph.c   errors, values, attributes, emitting rove nodes
 *   common/onnx/tensor.c  constant tensors and constant evaluation
 *   common/onnx/ops.c     the operator table and the operators
 *   common/onnx/qdq.c     QuantizeLinear / DequantizeLinear
 *   common/onnx/qops.c    the integer operators (QLinearConv, ...) */
#ifndef ROVE_COMMON_ONNX_IMPORT_H
#define ROVE_COMMON_ONNX_IMPORT_H

#include <stdint.h>

#include "common/model.h"
#include "gen/onnx.pb-c.h"

/* How the importer works. ONNX nodes are visited in file order (ONNX
 * requires topological order). Every tensor name maps to a value: a
 * constant host tensor (initializers, Constant nodes and everything
 * computed only from constants, which is how torch's shape subgraphs
 * Shape/Gather/Unsqueeze/Concat get folded into a static Reshape target),
 * a rove node (the activations, per-example shapes with the batch
 * dimension dropped), or a pending QuantizeLinear on an activation that
 * the following DequantizeLinear turns into one fakequant node. */

#define OX_MAX_DIMS 8
/* Stands for the batch size in the output of Shape on an activation: rove
 * models are batch-size agnostic, so the batch may be moved around
 * (Gather, Concat, Unsqueeze) but not computed with. */
#define OX_BATCH (-INT64_C(0x424154434831))

/* OX_QNODE: a rove node whose output holds quantized integers (the
 * operator format's uint8/int8 tensors, or ConvInteger's int32), of ONNX
 * type qelem; only the integer operators, DequantizeLinear, Cast and the
 * shape operators (whose table entry says they pass integers) take it. */
enum { OX_CONST = 1, OX_NODE = 2, OX_QPEND = 3, OX_QNODE = 4 };

typedef struct ox_tensor {
  int is_int; /* 1: values in i; 0: values in f */
  int elem;   /* the ONNX data type it came from (zero points need it) */
  int rank;
  int64_t dims[OX_MAX_DIMS];
  int64_t n;
  float *f;
  int64_t *i;
} ox_tensor;

typedef struct ox_value {
  const char *name; /* borrowed from the protobuf */
  int kind;
  ox_tensor t;      /* OX_CONST */
  int node;         /* OX_NODE/OX_QPEND: rove node index or ROVE_INPUT */
  rove_shape shape; /* OX_NODE/OX_QPEND: per-example shape */
  ox_tensor qs, qz; /* OX_QPEND: scale and zero point */
  /* OX_NODE: zero padding (top, left, bottom, right) from a Pad node that
   * the consuming Conv or AveragePool absorbs. */
  int padded, pad[4];
  int qaxis; /* OX_QPEND: normalised quantization axis */
  int qelem; /* OX_QNODE: ONNX element type of the integers */
  int qnode; /* OX_QPEND: its materialised quantize node, or -1 */
} ox_value;

typedef struct ox_ctx {
  const char *what;
  int opset;
  rove_model *m;
  const Onnx__GraphProto *g;
  ox_value *vals;
  int n_vals, cap_vals;
  const Onnx__NodeProto *node; /* the node being imported */
  int node_idx;
  int64_t in_batch;     /* static batch of the graph input, 0 if dynamic */
  int *fused_into;      /* per ONNX node: rove node it was fused into, or -1 */
  rove_shape *fused_sh; /* shape of that node */
  /* The current operator passes integer tensors through (its table
   * entry), whether it took one, and of which type. */
  int q_ok, q_seen, q_elem;
  struct ox_value qin[2]; /* ox_in_q's views of pending quantizations */
} ox_ctx;

/* Elementwise binary operations of constant evaluation. */
enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

int ox__node_err(ox_ctx *c, int code, const char *file, int line,
                 const char *func, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#define NERR(c, code, ...)                                                     \
  ox__node_err((c), (code), __FILE__, __LINE__, __func__, __VA_ARGS__)

const char *ox_node_name(const Onnx__NodeProto *n);
int ox__node_err(ox_ctx *c, int code, const char *file, int line,
                 const char *func, const char *fmt, ...);
void ox_tensor_free(ox_tensor *t);
int64_t ox_dims_numel(int rank, const int64_t *dims);
int ox_tensor_alloc(ox_tensor *t, int is_int, int elem, int rank,
                    const int64_t *dims);
int ox_tensor_copy(ox_tensor *dst, const ox_tensor *src);
double ox_tval(const ox_tensor *t, int64_t k);
int ox_is_int_elem(int elem);
int ox_elem_size(int elem);
int64_t ox_raw_int(const uint8_t *p, int elem);
double ox_raw_float(const uint8_t *p, int elem);
int ox_tensor_from_proto(const char *what, const char *where,
                         const Onnx__TensorProto *p, ox_tensor *t);
int ox_tensor_to_float(ox_ctx *c, ox_tensor *t);
ox_value *ox_find_value(ox_ctx *c, const char *name);
int ox_new_value(ox_ctx *c, const char *name, ox_value **out);
int ox_def_const(ox_ctx *c, int k, ox_tensor *t);
int ox_def_node(ox_ctx *c, int k, int node, const rove_shape *shape);
int ox_n_inputs(const ox_ctx *c);
int ox_has_input(const ox_ctx *c, int k);
int ox_in_val(ox_ctx *c, int k, ox_value **out);
int ox_in_required(ox_ctx *c, int k, ox_value **out);
int ox_in_const(ox_ctx *c, int k, int required, ox_tensor **t);
int ox_in_node_pad(ox_ctx *c, int k, ox_value **out, int pad_ok);
int ox_in_node(ox_ctx *c, int k, ox_value **out);
const Onnx__AttributeProto *ox_attr(const ox_ctx *c, const char *name);
int ox_attr_int(ox_ctx *c, const char *name, int64_t def, int64_t *out);
int ox_attr_float(ox_ctx *c, const char *name, float def, float *out);
int ox_attr_ints(ox_ctx *c, const char *name, int64_t *out, int max, int *cnt);
void ox_attr_string(const ox_ctx *c, const char *name, const char *def,
                    char *out, size_t cap);
int ox_norm_axis(ox_ctx *c, int64_t axis, int rank, int *out);
int ox_emit(ox_ctx *c, int op, const int *in, int n_in, const rove_attrs *a,
            int *id);
int ox_emit_out(ox_ctx *c, int op, const int *in, int n_in, const rove_attrs *a,
                int *id);
int ox_emit_unary(ox_ctx *c, int op, const rove_attrs *a);
int ox_emit_reshape(ox_ctx *c, ox_value *x, const rove_shape *s);
int ox_onnx_dims(const rove_shape *s, int64_t *dims);
int ox_per_example(ox_ctx *c, int rank, const int64_t *dims, rove_shape *s);
int ox_bcast_dims(ox_ctx *c, const ox_tensor *a, const ox_tensor *b, int *rank,
                  int64_t *dims);
int64_t ox_bcast_off(const ox_tensor *t, int r, const int64_t *idx);
void ox_idx_next(int r, const int64_t *dims, int64_t *idx);
int ox_const_binary(ox_ctx *c, int op, const ox_tensor *a, const ox_tensor *b,
                    ox_tensor *out);
int ox_qrange(ox_ctx *c, int elem, int *qmin, int *qmax);
int ox_q_params(ox_ctx *c, int rank, ox_tensor **s, ox_tensor **z, int *axis);
int64_t ox_q_chan(const ox_tensor *t, int ax, int64_t k);
int ox_op_quantize(ox_ctx *c);
int ox_op_dequantize(ox_ctx *c);

/* The integer operators (common/onnx/qops.c). */
int ox_op_qlinearconv(ox_ctx *c);
int ox_op_qlinearmatmul(ox_ctx *c);
int ox_op_convinteger(ox_ctx *c);
int ox_op_matmulinteger(ox_ctx *c);
int ox_op_qlinearadd(ox_ctx *c);
int ox_op_qlinearglobalavgpool(ox_ctx *c);
int ox_op_qlinearavgpool(ox_ctx *c);
/* Input k as integers: an OX_QNODE, or a pending QuantizeLinear, which is
 * then materialised as a quantize node. */
int ox_in_q(ox_ctx *c, int k, ox_value **out);
int ox_spatial_attrs(ox_ctx *c, rove_attrs *a, int h, int w,
                     int allow_dilation);

/* The operator table (common/onnx/ops.c): the handler of an op type and
 * domain, or NULL; *q_ok (may be NULL) says whether it passes integer
 * tensors through unchanged (shape operators). */
typedef int (*ox_op_fn)(ox_ctx *c);
ox_op_fn ox_find_op(const char *domain, const char *op_type, int *q_ok);

#endif
