/* normalize.h - input normalization folded into a model: the per-channel
 * (x - mean) / std a PyTorch model was trained behind
 * (torchvision.transforms.Normalize), prepended as graph nodes so the
 * threat model and the data stay in pixel space [0, 1]. */
#ifndef ROVE_COMMON_NORMALIZE_H
#define ROVE_COMMON_NORMALIZE_H

#include <stddef.h>

#include "common/model.h"

#define ROVE_NORM_MAX 16 /* channels */

/* A mean/std pair as given by the user: n values each (1 = every
 * channel), or n == 0 for none. */
typedef struct rove_norm {
  int n_mean, n_std;
  float mean[ROVE_NORM_MAX], std[ROVE_NORM_MAX];
} rove_norm;

/* Parses "M1,M2,M3" (or one value) into v; `what` names the flag or key
 * in messages ("--mean", "job.ini:12: key 'mean'"). */
int rove_norm_parse(const char *text, float *v, int *n, const char *what);

/* Whether the pair asks for anything. */
static inline int rove_norm_given(const rove_norm *z) {
  return z->n_mean > 0 || z->n_std > 0;
}

/* Prepends Sub(mean) and Div(std) nodes (named "normalize_sub",
 * "normalize_div"; per channel d[0], as the two ONNX nodes a PyTorch export
 * of Normalize holds) to a finalized model and re-finalizes it, so its
 * content hash is that of the folded model and `rove convert`/`export`
 * keep the nodes. Missing mean means 0, missing std 1; a list of one value
 * applies to every channel; otherwise it must have one value per input
 * channel. std must be finite and > 0. On error m is unchanged. */
int rove_model_normalize(rove_model *m, const rove_norm *z);

/* rove_model_load, then rove_model_normalize (z may be NULL). Errors
 * name the file. */
int rove_model_load_norm(rove_model *m, const char *path, const rove_norm *z);

/* "M1,M2,M3" back, for messages and logs ("" when none). */
void rove_norm_text(const float *v, int n, char *out, size_t cap);

#endif
