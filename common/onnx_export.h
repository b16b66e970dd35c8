/* onnx_export.h - writes a rove model as ONNX (protobuf-c), opset 13. */
#ifndef ROVE_COMMON_ONNX_EXPORT_H
#define ROVE_COMMON_ONNX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/model.h"

/* Encodes `m` (borrowed, finalized) as an ONNX ModelProto, opset 13, with
 * a dynamic batch dimension "N". Every layer maps to standard operators
 * that rove_onnx_load reads back to bit-identical logits:
 *  - fakequant with an 8-bit range becomes QuantizeLinear/DequantizeLinear;
 *    a narrower per-tensor range (QAT's 4- and 2-bit activations) becomes
 *    Clip to the range followed by 8-bit Q/DQ (the same numbers); anything
 *    else Div, Round, Add, Clip, Sub, Mul;
 *  - conv/linear weights that are exactly (float)q * s per output channel
 *    for integers |q| <= Q (Q = 1, 7 or 127; found and checked bit for bit)
 *    are stored as int8 with a DequantizeLinear, so a runtime sees the
 *    quantized model; other weights are float32.
 * Only the nodes up to the logits are written (a stripped Softmax is not).
 * On success *buf (malloc'd; the caller frees it) holds *len bytes. */
int rove_onnx_export_mem(const rove_model *m, uint8_t **buf, size_t *len);

/* The same, written atomically to `path` (temporary file, fsync, rename). */
int rove_onnx_export(const rove_model *m, const char *path);

#endif
