/* arch.h - reference architectures built with the graph builder (SmallCNN,
 * MLP, a small residual CNN) with seeded He-uniform weights, for
 * benchmarks, tests, demos and the model zoo. */
#ifndef ROVE_COMMON_ARCH_H
#define ROVE_COMMON_ARCH_H

#include <stdint.h>

#include "common/model.h"

/* SmallCNN for 28x28x1 inputs (the MNIST/Fashion-MNIST network of the
 * robustness literature): conv 1->32 3x3, ReLU, conv 32->32 3x3, ReLU,
 * maxpool 2, conv 32->64 3x3, ReLU, conv 64->64 3x3, ReLU, maxpool 2,
 * flatten, fc 1024->200, ReLU, fc 200->200, ReLU, fc 200->n_classes; no
 * padding. width_mult scales every hidden width (32, 64, 200; at least 1).
 * Weights are He-uniform, U(-sqrt(6/fan_in), sqrt(6/fan_in)), biases 0,
 * drawn from rove_rng keyed by (seed, node): the same seed always gives the
 * same model (and hash). `m` must be uninitialised; on success it is
 * finalized and the caller owns it (rove_model_deinit); on error it is left
 * deinitialised. */
int rove_arch_smallcnn(rove_model *m, float width_mult, int n_classes,
                       uint64_t seed);
/* The same network on any {C, H, W} input large enough for its four
 * unpadded 3x3 convolutions and two pools (H, W >= 16): 3x32x32 (CIFAR)
 * gives a 64x5x5 feature map and fc 1600->200. `in` is borrowed. */
int rove_arch_smallcnn_in(rove_model *m, const rove_shape *in, float width_mult,
                          int n_classes, uint64_t seed);

/* A multilayer perceptron on any input shape: flatten, then
 * hidden[0..n_hidden) fully connected layers each followed by ReLU, then a
 * linear layer to n_classes. Same initialisation and ownership rules as
 * rove_arch_smallcnn. `in` and `hidden` are borrowed. */
int rove_arch_mlp(rove_model *m, const rove_shape *in, const int *hidden,
                  int n_hidden, int n_classes, uint64_t seed);

/* A small residual CNN for 28x28x1 inputs, c = round(16 * width_mult):
 * conv 1->c 3x3 pad 1, ReLU; residual block (conv c->c, ReLU, conv c->c,
 * Add with the block input, ReLU); maxpool 2; conv c->2c, ReLU; residual
 * block at 2c; maxpool 2; fc 2c*7*7 -> n_classes. Weights He-uniform keyed
 * by (seed, node) as in rove_arch_smallcnn. `m` is uninitialised on entry;
 * finalized on success (the caller frees it), deinitialised on error. */
int rove_arch_rescnn(rove_model *m, float width_mult, int n_classes,
                     uint64_t seed);
/* The same on any {C, H, W} input with H, W >= 4 (fc from 2c*(H/4)*(W/4)). */
int rove_arch_rescnn_in(rove_model *m, const rove_shape *in, float width_mult,
                        int n_classes, uint64_t seed);

/* Fills node `id`'s weights He-uniformly (fan-in from its shape) and its
 * bias with 0, keyed by (seed, id). For conv and linear nodes; other nodes
 * are left unchanged. */
void rove_arch_init_he(rove_model *m, int id, uint64_t seed);

#endif
