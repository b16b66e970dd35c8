/* model.h - a model is a DAG of layers; an exec runs it forward and back. */
#ifndef ROVE_COMMON_MODEL_H
#define ROVE_COMMON_MODEL_H

#include <stddef.h>

#include "common/arena.h"
#include "common/layer.h"

/* Nodes are stored in topological order (a node's inputs are earlier nodes
 * or the model input), which rove_model_add enforces. All parameters live
 * in one contiguous block, `params`; node i owns
 * params[nodes[i].param_off .. + nodes[i].n_params). */
typedef struct rove_model {
  rove_shape in; /* per-example input shape, e.g. {3, {1, 28, 28}} */
  int n_nodes, cap_nodes;
  rove_node *nodes;
  float *params;
  size_t n_params, cap_params;
  int output;           /* node whose output is the logits */
  int softmax_stripped; /* the graph ended in Softmax, which rove drops:
                           rove attacks logits, and says so */
  int n_classes;
  int finalized;
  unsigned char hash[32]; /* BLAKE2b-256 of the canonical graph+params */
} rove_model;

int rove_model_init(rove_model *m, const rove_shape *in);
void rove_model_deinit(rove_model *m);

/* Appends a node of kind `op` reading the given producers (node indices or
 * ROVE_INPUT), runs the layer's shape check and reserves its params
 * (zero-filled). On success *id (if non-NULL) is the new node's index.
 * `name` may be NULL (a name is generated). Errors name the node. */
int rove_model_add(rove_model *m, int op, const char *name, const int *in,
                   int n_in, const rove_attrs *a, int *id);

/* Borrowed pointer to node id's params; invalidated by rove_model_add. */
float *rove_model_node_params(rove_model *m, int id);

/* Declares the logits node (-1: the last node). A trailing Softmax is
 * stripped (softmax_stripped = 1) so the output is the logits. Checks the
 * output is a vector and computes the content hash. Call after every
 * change of the params too (training), so the hash stays the identity. */
int rove_model_finalize(rove_model *m, int output);

/* Folds every BatchNorm that reads a convolution nothing else reads into
 * that convolution's weights and bias (common/fold.c), replacing the
 * pair with one convolution; the ONNX importer does this at load. The
 * hash stays the loaded model's (the identity of what the user gave),
 * and the logits change by rounding only. *folded (may be NULL) gets the
 * number of pairs. On error m is unchanged. */
int rove_model_fold_batchnorm(rove_model *m, int *folded);

/* Recomputes m->hash from the graph and params. */
void rove_model_rehash(rove_model *m);
/* 64 hex digits + NUL. */
void rove_model_hash_hex(const rove_model *m, char out[65]);
/* Multiply-accumulates per example over the nodes feeding the output. */
double rove_model_macs(const rove_model *m);
/* Nodes whose ops carry ROVE_OPF_NONDIFF. */
int rove_model_count_nondiff(const rove_model *m);
/* Deep copy (dst must be uninitialised). */
int rove_model_clone(rove_model *dst, const rove_model *src);

/* Loads a model from a file: native .rove or ONNX, told apart by content.
 * `m` must be uninitialised; on error it is left deinitialised. */
int rove_model_load(rove_model *m, const char *path);

/* An exec holds everything one thread needs to run a model on batches of
 * up to bmax examples: activations, gradients and workspace, planned once
 * in one arena, so forward/backward never allocate. The model is borrowed
 * (read-only; many execs may share one model across threads). */
typedef struct rove_exec {
  const rove_model *m;
  int bmax;
  rove_arena arena;
  float **act;   /* per node: bmax * numel(out) */
  float **grad;  /* per node: bmax * numel(out) */
  float *ws;     /* scratch, the max over nodes */
  rove_bwd *bwd; /* per node backward mode (default exact) */
  int *zero_at;  /* per node: the node whose backward zeroes its gradient */
  int surrogate; /* forward runs the integer operators' surrogate (the
                    function their clipped STE differentiates); 0 after
                    init */
  float **prep;  /* per node: kept prepared data (NULL: none); set by
                    rove_exec_freeze_params */
  unsigned char *prep_ok; /* per node: prep holds the current params' */
} rove_exec;

int rove_exec_init(rove_exec *e, const rove_model *m, int bmax);
void rove_exec_deinit(rove_exec *e);

/* Runs B <= bmax examples x (B * numel(m->in) floats). */
void rove_exec_forward(rove_exec *e, int B, const float *x);
/* Logits of the last forward: B * n_classes, borrowed until the next one. */
const float *rove_exec_logits(const rove_exec *e);
/* Backpropagates dL/dlogits (B * n_classes) through the last forward,
 * which must have been on the same x. Writes dL/dx into dx (overwritten,
 * B * numel(m->in); NULL: skip) and, if dparams != NULL, accumulates
 * dL/dparams into it (m->n_params floats). Parameter gradients cost extra
 * GEMMs, so attacks pass NULL. */
void rove_exec_backward(rove_exec *e, int B, const float *x,
                        const float *dlogits, float *dx, float *dparams);

/* Promises that the model's params will not change while e lives, until
 * rove_exec_params_changed: forward and backward then keep what layers
 * derive from the params alone (the Winograd-transformed kernels of 3x3
 * convolutions, layer.h prep_size) instead of deriving it on every call.
 * The results are the same bit for bit; an attack's thousands of passes
 * over one model save the work, training (whose params change every step)
 * does not freeze. Costs memory: *bytes (may be NULL) gets what it
 * allocated. Fails only for lack of memory (e is then unchanged). */
int rove_exec_freeze_params(rove_exec *e, size_t *bytes);
/* The params changed: the kept data is derived again on next use. */
void rove_exec_params_changed(rove_exec *e);
/* Node i's prepared data, derived now if stale; NULL when the exec keeps
 * none for it. */
const float *rove_exec_node_prep(rove_exec *e, int i);

/* Per-node backward selection (BPDA). */
void rove_exec_set_bwd(rove_exec *e, int node, rove_bwd b);
/* Sets every node to exact. */
void rove_exec_reset_bwd(rove_exec *e);

#endif
