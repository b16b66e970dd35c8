/* precision.c - deployed precision of a model from its graph and weights. */
#include "common/precision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bits_of(long levels) {
  int b = 0;
  while ((1L << b) < levels)
    b++;
  return b;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Bits of the uniform grid a conv/linear node's weights lie on: for each
 * output channel, every value minus the smallest must be an integer
 * multiple (within 1e-3) of the smallest gap between distinct values, and
 * the grid must span at most 256 steps; the channel then needs
 * ceil(log2(steps + 1)) bits. Returns the widest channel's bits, 1 for
 * constant channels, or 33 when some channel is off-grid (float weights:
 * random values are essentially never on such a grid). Sets *levels to the
 * largest number of distinct values in a channel. `tmp` holds one
 * channel. */
static int grid_bits(const rove_model *m, const rove_node *n, float *tmp,
                     long *levels) {
  long k = n->a.out;
  long w = (long)n->n_params - (n->a.has_bias ? k : 0);
  if (k <= 0 || w <= 0 || w % k)
    return 33;
  long per = w / k;
  const float *p = m->params + n->param_off;
  int widest = 1;
  for (long c = 0; c < k; c++) {
    memcpy(tmp, p + c * per, (size_t)per * sizeof(float));
    qsort(tmp, (size_t)per, sizeof(float), cmp_float);
    double gap = 0;
    long d = 1;
    for (long i = 1; i < per; i++) {
      double g = (double)tmp[i] - (double)tmp[i - 1];
      if (g > 0) {
        d++;
        if (gap == 0 || g < gap)
          gap = g;
      }
    }
    if (d > *levels)
      *levels = d;
    if (d == 1)
      continue;
    /* The smallest gap may span several steps of the grid (a small
     * channel seldom uses neighbouring levels), and one gap carries float
     * rounding that 250 steps would amplify. So the step is the whole
     * range over an integer step count, tried from the smallest-gap count
     * up to 255 steps. */
    double range = (double)tmp[per - 1] - (double)tmp[0];
    double n0 = nearbyint(range / gap);
    if (n0 < 1 || n0 > 255)
      return 33;
    double steps = 0;
    for (double cnt = n0; cnt <= 255 && steps == 0; cnt++) {
      double step = range / cnt;
      int ok = 1;
      for (long i = 1; i < per && ok; i++) {
        double r = ((double)tmp[i] - (double)tmp[0]) / step;
        ok = fabs(r - nearbyint(r)) <= 1e-3;
      }
      if (ok)
        steps = cnt;
    }
    if (steps == 0)
      return 33;
    int b = bits_of((long)nearbyint(steps) + 1);
    if (b > widest)
      widest = b;
  }
  return widest;
}

void rove_precision_of(const rove_model *m, rove_precision *p) {
  memset(p, 0, sizeof *p);
  p->act_bits = p->act_min_bits = 32;
  size_t most = 0;
  for (int i = 0; i < m->n_nodes; i++)
    if (m->nodes[i].n_params > most)
      most = m->nodes[i].n_params;
  float *tmp = malloc((most + 1) * sizeof(float));
  double weights = 0, other = 0;
  int widest = 0;
  long levels = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    /* The integer operators' outputs are quantized activations too. */
    int qout = n->op == ROVE_OP_QUANTIZE || n->op == ROVE_OP_QCONV ||
               n->op == ROVE_OP_QADD || n->op == ROVE_OP_QAVGPOOL;
    if (n->op == ROVE_OP_FAKEQUANT || qout) {
      int b = bits_of((long)n->a.qmax - n->a.qmin + 1);
      if (p->n_quantizers == 0 || b > p->act_bits)
        p->act_bits = b;
      if (p->n_quantizers == 0 || b < p->act_min_bits)
        p->act_min_bits = b;
      p->n_quantizers++;
    } else if (n->op == ROVE_OP_ROUND || n->op == ROVE_OP_FLOOR) {
      p->n_rounding++;
    }
    if (n->op == ROVE_OP_QCONV || n->op == ROVE_OP_CONVINT) {
      /* Integer weights: 8-bit tensors in the file; scales, zero points
       * and the int32 bias at 4 bytes. */
      long K = n->a.out, nc = n->a.per_channel ? K : 1;
      double nw =
          (double)n->n_params - 4 - 2.0 * nc - (n->a.has_bias ? 2.0 * K : 0);
      if (8 > widest)
        widest = 8;
      if (levels < 2)
        levels = 2;
      weights += nw;
      other += (double)n->n_params - nw;
    } else if (n->op == ROVE_OP_CONV || n->op == ROVE_OP_LINEAR) {
      long k = n->a.has_bias ? n->a.out : 0;
      int b = tmp ? grid_bits(m, n, tmp, &levels) : 33;
      if (b > widest)
        widest = b;
      weights += (double)n->n_params - (double)k;
      other += (double)k;
    } else {
      other += (double)n->n_params;
    }
  }
  free(tmp);
  /* All-constant channels (an untrained model) prove nothing. */
  int quantized = weights > 0 && widest <= 8 && levels > 1;
  p->weight_bits = quantized ? widest : 32;
  p->weight_bytes = weights * p->weight_bits / 8.0 + 4.0 * other;
}

void rove_precision_describe(const rove_precision *p, char *buf, size_t cap) {
  int n;
  if (p->n_quantizers == 0 && p->weight_bits == 32)
    n = snprintf(buf, cap, "float32");
  else if (p->act_min_bits != p->act_bits)
    n = snprintf(buf, cap, "w%da%d..%d",
                 p->weight_bits == 32 ? 32 : p->weight_bits, p->act_min_bits,
                 p->act_bits);
  else
    n = snprintf(buf, cap, "w%da%d", p->weight_bits, p->act_bits);
  if (p->n_rounding && n >= 0 && (size_t)n < cap)
    snprintf(buf + n, cap - (size_t)n, " + %d rounding", p->n_rounding);
}

void rove_precision_node(const rove_model *m, int i, char *buf, size_t cap) {
  const rove_node *n = &m->nodes[i];
  int b = bits_of((long)n->a.qmax - n->a.qmin + 1);
  const char *sign = n->a.qmin < 0 ? "int" : "uint";
  switch (n->op) {
  case ROVE_OP_FAKEQUANT: snprintf(buf, cap, "fake-%s%d", sign, b); return;
  case ROVE_OP_QUANTIZE:
  case ROVE_OP_QADD:
  case ROVE_OP_QAVGPOOL: snprintf(buf, cap, "%s%d", sign, b); return;
  case ROVE_OP_QCONV: snprintf(buf, cap, "int32 acc->%s%d", sign, b); return;
  case ROVE_OP_CONVINT: snprintf(buf, cap, "int32"); return;
  case ROVE_OP_DEQUANTIZE: snprintf(buf, cap, "float32"); return;
  case ROVE_OP_ROUND:
  case ROVE_OP_FLOOR: snprintf(buf, cap, "float32 (rounds)"); return;
  case ROVE_OP_CONV:
  case ROVE_OP_LINEAR: {
    float *tmp = malloc((n->n_params + 1) * sizeof(float));
    long levels = 0;
    int wb = tmp ? grid_bits(m, n, tmp, &levels) : 33;
    free(tmp);
    if (wb <= 8 && levels > 1)
      snprintf(buf, cap, "float32, w%d", wb);
    else
      snprintf(buf, cap, "float32");
    return;
  }
  default: snprintf(buf, cap, "float32"); return;
  }
}
