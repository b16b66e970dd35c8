/* data.c - dataset spec strings: options, slices and the table of readers
 * (common/data/), and the check of a model against a dataset. */
#include "common/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/data/reader.h"
#include "common/err.h"
#include "common/model.h"

void rove_dataset_deinit(rove_dataset *d) {
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}

/* A parsed slice: has_a/has_b say whether the ends were given. */
typedef struct slice {
  int present;
  long a, b;
  int has_a, has_b;
} slice;

static int parse_end(const char *s, const char *e, long *v, int *has) {
  while (s < e && *s == ' ')
    s++;
  while (e > s && e[-1] == ' ')
    e--;
  if (s == e) {
    *has = 0;
    return 0;
  }
  char tmp[32];
  if ((size_t)(e - s) >= sizeof tmp)
    return -1;
  memcpy(tmp, s, (size_t)(e - s));
  tmp[e - s] = '\0';
  char *end;
  errno = 0;
  long x = strtol(tmp, &end, 10);
  if (*end || errno || x < -INT_MAX || x > INT_MAX)
    return -1;
  *v = x;
  *has = 1;
  return 0;
}

/* Splits "body[a:b]" into its body length and slice. */
static int parse_slice(const char *spec, size_t *body_len, slice *sl) {
  size_t n = strlen(spec);
  memset(sl, 0, sizeof *sl);
  *body_len = n;
  if (n == 0 || spec[n - 1] != ']')
    return 0;
  const char *open = strrchr(spec, '[');
  const char *close = spec + n - 1;
  if (!open)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': ']' without '[' (expected a slice "
                    "like [0:1000])",
                    spec);
  const char *colon = memchr(open, ':', (size_t)(close - open));
  if (!colon || memchr(colon + 1, ':', (size_t)(close - colon - 1)) ||
      parse_end(open + 1, colon, &sl->a, &sl->has_a) < 0 ||
      parse_end(colon + 1, close, &sl->b, &sl->has_b) < 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': bad slice '%s' (expected [a:b] with "
                    "integers a and b, either optional)",
                    spec, open);
  sl->present = 1;
  *body_len = (size_t)(open - spec);
  return 0;
}

int data_split_pair(const data_src *s, const char *arg, const char *form,
                    char *img, char *lab, size_t cap) {
  const char *comma = strchr(arg, ',');
  if (!comma || comma == arg || !comma[1])
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': expected %s (two paths separated by "
                    "a comma)",
                    s->spec, form);
  if ((size_t)(comma - arg) >= cap || strlen(comma + 1) >= cap)
    return ROVE_ERR(ROVE_EINVAL, "dataset spec '%s': path too long", s->spec);
  memcpy(img, arg, (size_t)(comma - arg));
  img[comma - arg] = '\0';
  snprintf(lab, cap, "%s", comma + 1);
  return 0;
}

/* The dataset readers, by spec prefix (one line each; common/DATA.md). */
static const struct {
  const char *prefix;
  int (*open)(data_src *, const char *, const data_opts *);
  const char *usage;
} readers[] = {
    {"fashion-mnist:", data_open_fmnist, "fashion-mnist:test|train"},
    {"idx:", data_open_idx, "idx:IMAGES,LABELS"},
    {"cifar10:", data_open_cifar10, "cifar10:[DIR:]test|train"},
    {"cifar100:", data_open_cifar100, "cifar100:[DIR:]test|train[;coarse]"},
    {"npy:", data_open_npy, "npy:IMAGES.npy,LABELS.npy[;layout=nchw|nhwc]"},
    {"folder:", data_open_folder, "folder:DIR"},
};

/* Splits "body;opt;opt" at the first ';' and parses the options. */
static int parse_opts(const char *spec, char *body, data_opts *o) {
  memset(o, 0, sizeof *o);
  char *semi = strchr(body, ';');
  if (!semi)
    return 0;
  *semi = '\0';
  for (char *p = semi + 1; p && *p;) {
    char *next = strchr(p, ';');
    if (next)
      *next++ = '\0';
    if (strcmp(p, "layout=nchw") == 0 || strcmp(p, "layout=nhwc") == 0)
      snprintf(o->layout, sizeof o->layout, "%s", p + 7);
    else if (strcmp(p, "coarse") == 0)
      o->coarse = 1;
    else
      return ROVE_ERR(ROVE_EINVAL,
                      "dataset spec '%s': unknown option '%s' (expected "
                      "layout=nchw, layout=nhwc or coarse)",
                      spec, p);
    p = next;
  }
  return 0;
}

int rove_dataset_load(rove_dataset *d, const char *spec) {
  memset(d, 0, sizeof *d);
  if (strlen(spec) >= sizeof d->spec)
    return ROVE_ERR(ROVE_EINVAL, "dataset spec is longer than %zu bytes",
                    sizeof d->spec - 1);
  size_t blen;
  slice sl;
  ROVE_TRY(parse_slice(spec, &blen, &sl));
  char body[512];
  memcpy(body, spec, blen);
  body[blen] = '\0';
  data_opts o;
  ROVE_TRY(parse_opts(spec, body, &o));
  size_t k = 0, nr = sizeof readers / sizeof readers[0];
  while (k < nr && strncmp(body, readers[k].prefix, strlen(readers[k].prefix)))
    k++;
  if (k == nr) {
    char list[512];
    size_t at = 0;
    for (size_t i = 0; i < nr; i++)
      at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                             readers[i].usage);
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': unknown dataset (expected one of %s, "
                    "optionally followed by [a:b])",
                    spec, list);
  }
  if (o.layout[0] && readers[k].open != data_open_npy)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': option layout= applies to npy: "
                    "datasets only",
                    spec);
  if (o.coarse && readers[k].open != data_open_cifar100)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': option coarse applies to cifar100: "
                    "only",
                    spec);

  data_src s;
  memset(&s, 0, sizeof s);
  s.spec = spec;
  int rc = readers[k].open(&s, body + strlen(readers[k].prefix), &o);
  if (rc < 0)
    goto out;
  long total = s.total;
  long a = sl.has_a ? sl.a : 0, b = sl.has_b ? sl.b : total;
  if (a < 0)
    a += total;
  if (b < 0)
    b += total;
  if (a < 0 || b > total || a >= b) {
    rc = ROVE_ERR(ROVE_ERANGE,
                  "dataset spec '%s': slice selects [%ld:%ld], which is "
                  "empty or outside the %ld examples (expected 0 <= a < b "
                  "<= %ld)",
                  spec, a, b, total, total);
    goto out;
  }
  size_t pix = (size_t)rove_shape_numel(&s.shape);
  d->n = (int)(b - a);
  d->shape = s.shape;
  d->n_classes = s.n_classes;
  d->first = a;
  snprintf(d->spec, sizeof d->spec, "%s", spec);
  d->x = malloc((size_t)d->n * pix * sizeof(float));
  d->y = malloc((size_t)d->n * sizeof(int32_t));
  if (!d->x || !d->y) {
    rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory for %d examples",
                  spec, d->n);
    goto out;
  }
  if ((rc = s.fill(&s, a, b, d->x)) < 0)
    goto out;
  memcpy(d->y, s.y + a, (size_t)d->n * sizeof(int32_t));
out:
  if (s.close)
    s.close(&s);
  free(s.y);
  if (rc < 0) {
    rove_dataset_deinit(d);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

int rove_dataset_check_model(const rove_dataset *d, const rove_model *m,
                             const char *model_path) {
  int same = m->in.rank == d->shape.rank;
  for (int i = 0; same && i < m->in.rank; i++)
    same = m->in.d[i] == d->shape.d[i];
  if (!same && !(m->in.rank == 1 &&
                 rove_shape_numel(&m->in) == rove_shape_numel(&d->shape))) {
    char a[64], b[64];
    rove_shape_text(&m->in, a, sizeof a);
    rove_shape_text(&d->shape, b, sizeof b);
    return ROVE_ERR(ROVE_ESHAPE,
                    "model '%s' expects %s inputs, but dataset '%s' has %s "
                    "examples",
                    model_path, a, d->spec, b);
  }
  if (d->n_classes > m->n_classes)
    return ROVE_ERR(ROVE_ESHAPE,
                    "dataset '%s' has labels up to %d, but model '%s' "
                    "outputs only %d class logits",
                    d->spec, d->n_classes - 1, model_path, m->n_classes);
  return 0;
}
