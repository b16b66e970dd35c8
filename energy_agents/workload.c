/* workload.c - runs one batch of inference per call with the engine, cycling
 * through the input set. */
#include "energy_agents/workload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/format_rove.h"
#include "common/onnx.h"
#include "common/precision.h"
#include "common/rng.h"

int rove_infer_init(rove_infer *inf, const void *model, size_t model_len,
                    const char *what, int batch, const void *inputs,
                    size_t inputs_len) {
  memset(inf, 0, sizeof *inf);
  int rc = rove_format_is_native(model, model_len)
               ? rove_model_decode(&inf->m, model, model_len, what)
               : rove_onnx_load_mem(&inf->m, model, model_len, what);
  if (rc < 0)
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  inf->have_m = 1;
  inf->batch = batch;
  long d = rove_shape_numel(&inf->m.in);
  if (inputs && inputs_len) {
    if (inputs_len % (4 * (size_t)d))
      return ROVE_ERR(ROVE_ESHAPE,
                      "%s: input set of %zu bytes is not a whole number of "
                      "examples of %ld floats",
                      what, inputs_len, d);
    inf->n_examples = (long)(inputs_len / (4 * (size_t)d));
  } else {
    inf->n_examples = batch;
  }
  inf->x = malloc((size_t)inf->n_examples * (size_t)d * sizeof(float));
  if (!inf->x)
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory for inputs", what);
  if (inputs && inputs_len) {
    /* explicit little-endian decode: the board may not share the sender's
     * byte order */
    rove_rbuf r;
    rove_rbuf_init(&r, inputs, inputs_len);
    for (long i = 0; i < inf->n_examples * d; i++)
      inf->x[i] = rove_get_f32(&r);
  } else {
    rove_rng g;
    uint64_t id[2] = {0x656e65726779ull, 1}; /* "energy" */
    rove_rng_init(&g, id, 2);
    for (long i = 0; i < inf->n_examples * d; i++)
      inf->x[i] = rove_rng_uniform(&g);
  }
  ROVE_TRY(rove_exec_init(&inf->e, &inf->m, batch));
  inf->have_e = 1;
  /* A deployed model's weights do not change: the exec keeps what it
   * derives from them (Winograd's transformed kernels) across trials. */
  ROVE_TRY(rove_exec_freeze_params(&inf->e, NULL));
  return 0;
}

void rove_infer_deinit(rove_infer *inf) {
  if (inf->have_e)
    rove_exec_deinit(&inf->e);
  if (inf->have_m)
    rove_model_deinit(&inf->m);
  free(inf->x);
  memset(inf, 0, sizeof *inf);
}

static int infer_run(void *ctx, int *n) {
  rove_infer *inf = ctx;
  long d = rove_shape_numel(&inf->m.in);
  long b = inf->batch;
  if (inf->next + b > inf->n_examples)
    inf->next = 0;
  if (b > inf->n_examples)
    b = inf->n_examples;
  rove_exec_forward(&inf->e, (int)b, inf->x + inf->next * d);
  inf->next += b;
  *n = (int)b;
  return 0;
}

void rove_infer_workload(rove_infer *inf, const char *name,
                         const char *input_set, rove_workload *w) {
  memset(w, 0, sizeof *w);
  snprintf(w->name, sizeof w->name, "%s", name);
  snprintf(w->input_set, sizeof w->input_set, "%s", input_set);
  memcpy(w->model_hash, inf->m.hash, 32);
  w->run = infer_run;
  w->ctx = inf;
  w->macs = rove_model_macs(&inf->m);
  /* Precision from the graph and weights (common/precision.h): a model
   * whose weights and activations are all quantized to 8 bits or fewer runs
   * int8 arithmetic (the Horowitz table has nothing narrower, so sub-8-bit
   * arithmetic is costed as int8) and stores activations in one byte;
   * weights are counted packed at their own width. */
  rove_precision pr;
  rove_precision_of(&inf->m, &pr);
  int quantized =
      pr.n_quantizers > 0 && pr.act_bits <= 8 && pr.weight_bits <= 8;
  w->bits = quantized ? 8 : 32;
  w->param_bytes = pr.weight_bytes;
  double act = 0;
  for (int i = 0; i < inf->m.n_nodes; i++)
    act += (double)rove_shape_numel(&inf->m.nodes[i].out);
  /* each activation is written once and read once */
  w->act_bytes = 2 * (quantized ? 1.0 : 4.0) * act;
}
