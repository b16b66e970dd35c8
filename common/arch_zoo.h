/* arch_zoo.h - architectures of the model zoo beyond common/arch.h: a small
 * residual CNN, and the quantized (fake-quant) form of any model. */
#ifndef ROVE_COMMON_ARCH_ZOO_H
#define ROVE_COMMON_ARCH_ZOO_H

#include <stdint.h>

#include "common/model.h"

/* A small residual CNN for 28x28x1 inputs, c = round(16 * width_mult):
 * conv 1->c 3x3 pad 1, ReLU; residual block (conv c->c, ReLU, conv c->c,
 * Add with the block input, ReLU); maxpool 2; conv c->2c, ReLU; residual
 * block at 2c; maxpool 2; fc 2c*7*7 -> n_classes. Weights He-uniform keyed
 * by (seed, node) as in rove_arch_smallcnn. `m` is uninitialised on entry;
 * finalized on success (the caller frees it), deinitialised on error. */
int rove_arch_rescnn(rove_model *m, float width_mult, int n_classes,
                     uint64_t seed);

/* Copies `src` (finalized, borrowed) into `dst` (uninitialised) with
 * fake-quant nodes inserted: on the model input when in_bits > 0 (levels
 * 0 .. 2^in_bits - 1 over [0, 1]), and after every ReLU node i with
 * act_scale[i] > 0 (unsigned levels 0 .. 2^act_bits - 1, zero point 0,
 * scale act_scale[i]; act_scale has src->n_nodes entries and may be NULL).
 * The other nodes and their parameters are copied unchanged and keep
 * their order, so the trainable parameters keep their layout. On success
 * dst is finalized and the caller frees it; on error it is deinitialised.
 * These are the non-differentiable layers of the deployed model that the
 * evaluation's case 2 (BPDA) is about. */
int rove_arch_quantized(rove_model *dst, const rove_model *src, int in_bits,
                        int act_bits, const float *act_scale);

#endif
