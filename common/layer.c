/* layer.c - the layer registry table and attribute defaults. */
#include "common/layer.h"
#include <stdio.h>

#include <string.h>

const rove_layer_ops *const rove_layers[ROVE_OP_COUNT] = {
#define X(E, sym) [ROVE_OP_##E] = &rove_layer_##sym,
#include "common/layers.def"
#undef X
};

int rove_layer_find(const char *name) {
  for (int i = 0; i < ROVE_OP_COUNT; i++)
    if (strcmp(rove_layers[i]->name, name) == 0)
      return i;
  return -1;
}

void rove_attrs_default(rove_attrs *a) {
  memset(a, 0, sizeof *a);
  a->kh = a->kw = 1;
  a->sh = a->sw = 1;
  a->dh = a->dw = 1;
  a->groups = 1;
  a->lo = -3.402823466e38f;
  a->hi = 3.402823466e38f;
  a->alpha = 0.01f;
  a->eps = 1e-5f;
  a->qmin = 0;
  a->qmax = 255;
}

static unsigned int f2w(float f) {
  unsigned int w;
  memcpy(&w, &f, sizeof w);
  return w;
}

static float w2f(unsigned int w) {
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}

void rove_attrs_to_words(const rove_attrs *a,
                         unsigned int w[ROVE_ATTRS_WORDS]) {
  const int ints[] = {a->kh,
                      a->kw,
                      a->sh,
                      a->sw,
                      a->pt,
                      a->pl,
                      a->pb,
                      a->pr,
                      a->dh,
                      a->dw,
                      a->groups,
                      a->ceil_mode,
                      a->count_include_pad,
                      a->out,
                      a->has_bias,
                      a->axis,
                      a->cmode,
                      a->const_first,
                      a->qmin,
                      a->qmax,
                      a->per_channel,
                      a->shape.rank,
                      a->shape.d[0],
                      a->shape.d[1],
                      a->shape.d[2],
                      a->shape.d[3]};
  /* The ints, then the four floats below: exactly ROVE_ATTRS_WORDS. */
  _Static_assert(sizeof ints / sizeof ints[0] + 4 == ROVE_ATTRS_WORDS,
                 "ROVE_ATTRS_WORDS counts every attribute written here");
  int k = 0;
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    w[k++] = (unsigned int)ints[i];
  w[k++] = f2w(a->alpha);
  w[k++] = f2w(a->lo);
  w[k++] = f2w(a->hi);
  w[k++] = f2w(a->eps);
}

void rove_attrs_from_words(rove_attrs *a,
                           const unsigned int w[ROVE_ATTRS_WORDS]) {
  int *ints[] = {&a->kh,
                 &a->kw,
                 &a->sh,
                 &a->sw,
                 &a->pt,
                 &a->pl,
                 &a->pb,
                 &a->pr,
                 &a->dh,
                 &a->dw,
                 &a->groups,
                 &a->ceil_mode,
                 &a->count_include_pad,
                 &a->out,
                 &a->has_bias,
                 &a->axis,
                 &a->cmode,
                 &a->const_first,
                 &a->qmin,
                 &a->qmax,
                 &a->per_channel,
                 &a->shape.rank,
                 &a->shape.d[0],
                 &a->shape.d[1],
                 &a->shape.d[2],
                 &a->shape.d[3]};
  int k = 0;
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    *ints[i] = (int)w[k++];
  a->alpha = w2f(w[k++]);
  a->lo = w2f(w[k++]);
  a->hi = w2f(w[k++]);
  a->eps = w2f(w[k++]);
}

void rove_shape_text(const rove_shape *s, char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < s->rank && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "x" : "", s->d[i]);
}
