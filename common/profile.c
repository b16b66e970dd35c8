/* profile.c - per-node forward and backward times of an exec. */
#include "common/profile.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/layer.h"
#include "common/util.h"

/* Seconds per call of node i's forward (bw = 0) or backward (bw = 1),
 * best of 5 rounds. dx receives the backward into the model's input. The
 * repeated backward accumulates into its inputs' gradients, which only
 * grow linearly: timing does not depend on their values. */
static double time_node(rove_exec *e, int i, int B, const float *x, float *dx,
                        int bw, double budget) {
  const rove_model *m = e->m;
  const rove_node *n = &m->nodes[i];
  const rove_layer_ops *ops = rove_layers[n->op];
  const float *p = m->params + n->param_off;
  const float *xs[ROVE_MAX_IN];
  float *dxs[ROVE_MAX_IN];
  for (int j = 0; j < n->n_in; j++) {
    xs[j] = n->in[j] == ROVE_INPUT ? x : e->act[n->in[j]];
    dxs[j] = n->in[j] == ROVE_INPUT ? dx : e->grad[n->in[j]];
  }
  const float *prep = rove_exec_node_prep(e, i);
  double best = 1e30;
  long reps = 1;
  for (int r = -1; r < 5; r++) {
    double t0 = rove_now();
    for (long k = 0; k < reps; k++) {
      if (bw && prep)
        ops->backward_prep(n, p, prep, B, xs, e->act[i], e->grad[i], dxs, NULL,
                           e->ws, e->bwd[i]);
      else if (bw)
        ops->backward(n, p, B, xs, e->act[i], e->grad[i], dxs, NULL, e->ws,
                      e->bwd[i]);
      else if (prep)
        ops->forward_prep(n, p, prep, B, xs, e->act[i], e->ws);
      else
        ops->forward(n, p, B, xs, e->act[i], e->ws);
    }
    double t = (rove_now() - t0) / (double)reps;
    if (r < 0)
      reps = t > 0 ? (long)(budget / 10 / t) + 1 : 1000;
    else if (t < best)
      best = t;
  }
  return best;
}

int rove_exec_profile(rove_exec *e, int B, const float *x, double budget,
                      rove_node_time *times) {
  const rove_model *m = e->m;
  size_t nin = (size_t)B * (size_t)rove_shape_numel(&m->in);
  float *dx = malloc(sizeof(float) * (nin ? nin : 1));
  float *dz = malloc(sizeof(float) * (size_t)B * (size_t)m->n_classes);
  if (!dx || !dz) {
    free(dx);
    free(dz);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory profiling the model");
  }
  /* A fixed spread of logit gradients, summing to 0 per example as a
   * cross-entropy gradient does. */
  for (int b = 0; b < B; b++)
    for (int k = 0; k < m->n_classes; k++)
      dz[(size_t)b * m->n_classes + k] = m->n_classes < 2 ? 1.0f
                                         : k == b % m->n_classes
                                             ? -0.9f
                                             : 0.9f / (float)(m->n_classes - 1);
  rove_exec_forward(e, B, x);
  rove_exec_backward(e, B, x, dz, dx, NULL);
  memset(times, 0, sizeof *times * (size_t)m->n_nodes);
  for (int i = 0; i <= m->output; i++) {
    const rove_node *n = &m->nodes[i];
    times[i].macs = rove_layers[n->op]->macs ? rove_layers[n->op]->macs(n) : 0;
    times[i].fwd_s = time_node(e, i, B, x, dx, 0, budget);
    times[i].bwd_s = time_node(e, i, B, x, dx, 1, budget);
  }
  free(dx);
  free(dz);
  return 0;
}
