/* arch_zoo.h - the quantized (fake-quant) form of any model, for the
 * model zoo; the zoo's architectures themselves are in common/arch.h
 * (included here for them). */
#ifndef ROVE_COMMON_ARCH_ZOO_H
#define ROVE_COMMON_ARCH_ZOO_H

#include <stdint.h>

#include "common/arch.h"
#include "common/model.h"

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
