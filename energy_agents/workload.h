/* workload.h - inference on the board: a model decoded from .rove/ONNX bytes
 * run with the engine on clean, adversarial or synthetic inputs. */
#ifndef ROVE_ENERGY_AGENTS_WORKLOAD_H
#define ROVE_ENERGY_AGENTS_WORKLOAD_H

#include <stddef.h>

#include "common/model.h"
#include "energy_agents/measure.h"

typedef struct rove_infer {
  rove_model m;
  rove_exec e;
  int batch;
  float *x; /* the whole input set, n_examples * numel(in) */
  long n_examples, next;
  int have_m, have_e;
} rove_infer;

/* Decodes model bytes (borrowed; `what` names them in messages) and plans
 * an exec for `batch`. inputs (borrowed, may be NULL: deterministic
 * synthetic inputs in [0, 1]) are whole float32 little-endian examples;
 * a set that is not a multiple of the input size is ROVE_ESHAPE. */
int rove_infer_init(rove_infer *inf, const void *model, size_t model_len,
                    const char *what, int batch, const void *inputs,
                    size_t inputs_len);
void rove_infer_deinit(rove_infer *inf);

/* Fills a workload (name, hash, MACs, bytes, run callback) for inf, which
 * must outlive it. */
void rove_infer_workload(rove_infer *inf, const char *name,
                         const char *input_set, rove_workload *w);

#endif
