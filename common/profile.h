/* profile.h - where a model's time goes: each node's forward and backward
 * to its inputs, timed alone. For `rove bench --layers` and the benchmark
 * programs; never on an attack's path. */
#ifndef ROVE_COMMON_PROFILE_H
#define ROVE_COMMON_PROFILE_H

#include "common/model.h"

typedef struct rove_node_time {
  double fwd_s; /* seconds per call of the node's forward at the batch */
  double bwd_s; /* of its backward to its inputs (no parameter gradient) */
  double macs;  /* multiply-adds per example (0 for elementwise ops) */
} rove_node_time;

/* Runs one forward and backward of x (B <= e->bmax examples) so every
 * activation and gradient holds real values, then times each executed
 * node's forward and backward alone: best of 5 rounds, each of enough
 * calls to fill budget / 10 seconds. times has e->m->n_nodes entries;
 * nodes past the output get zeros. The exec's activations and gradients
 * are left overwritten. Returns 0, or ROVE_ENOMEM. */
int rove_exec_profile(rove_exec *e, int B, const float *x, double budget,
                      rove_node_time *times);

#endif
