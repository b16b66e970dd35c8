/* onnx.h - ONNX import (protobuf-c) into a rove model. */
#ifndef ROVE_COMMON_ONNX_H
#define ROVE_COMMON_ONNX_H

#include <stddef.h>

#include "common/model.h"

/* Loads an ONNX model (opsets 11-17 as torch.onnx.export writes them) into
 * `m` (uninitialised on entry; finalized on success, deinitialised on
 * error). Constant subgraphs (Shape/Gather/Unsqueeze/Concat/Reshape,
 * Constant, Q->DQ on initializers, ...) are folded at load time. An
 * unsupported op is an error naming the node, its op type and the opset.
 * `what` names the source in messages (usually the path). */
int rove_onnx_load(rove_model *m, const char *path);
int rove_onnx_load_mem(rove_model *m, const void *data, size_t len,
                       const char *what);

#endif
