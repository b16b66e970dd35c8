/* precision.h - what arithmetic and storage precision a model deploys at. */
#ifndef ROVE_COMMON_PRECISION_H
#define ROVE_COMMON_PRECISION_H

#include <stddef.h>

#include "common/model.h"

/* Read off the graph and the weights, never from names:
 * - activation quantizers are the fakequant nodes and the integer
 *   operators' outputs (quantize, qconv, qadd, qavgpool); their bit width
 *   is ceil(log2(qmax - qmin + 1));
 * - the integer operators' weights (qconv, convint) are 8-bit;
 * - the conv/linear weights count as b-bit when every output channel's
 *   values lie on a uniform grid (integer multiples of its smallest gap)
 *   spanning at most 2^b levels, b <= 8, as QAT and Q/DQ-imported weights
 *   do; otherwise (float weights) 32-bit. */
typedef struct rove_precision {
  int act_bits;        /* widest activation quantizer; 32 when there is none */
  int act_min_bits;    /* narrowest activation quantizer; 32 when none */
  int weight_bits;     /* conv/linear weight width: 1..8, or 32 */
  int n_quantizers;    /* fakequant nodes */
  int n_rounding;      /* round/floor nodes */
  double weight_bytes; /* conv/linear weights at weight_bits, packed;
                          biases and every other parameter at 4 bytes */
} rove_precision;

void rove_precision_of(const rove_model *m, rove_precision *p);

/* "float32", "w8a8", "w4a2", "w4a2..8" (several activation widths),
 * with " + N rounding" when round/floor nodes are present. */
void rove_precision_describe(const rove_precision *p, char *buf, size_t cap);

/* One node's arithmetic for `rove info`: "float32", "float32, w4" (conv
 * or linear with weights on a 4-bit grid), "fake-uint8" (a fakequant),
 * "uint8"/"int8" (integer operators' outputs), "int32 acc->uint8"
 * (QLinearConv), "int32" (ConvInteger). */
void rove_precision_node(const rove_model *m, int i, char *buf, size_t cap);

#endif
