/* data.h - labelled image datasets (IDX, CIFAR binary, npy, image folders),
 * named by spec strings (common/DATA.md). */
#ifndef ROVE_COMMON_DATA_H
#define ROVE_COMMON_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/layer.h"

/* Where `fashion-mnist:` specs look unless ROVE_DATA_DIR is set. */
#define ROVE_DATA_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

/* A dataset in memory. Examples are in the order of the files; `first` is
 * the index of x[0] in the whole file, so example i of the dataset is
 * global example first + i (the identity attacks key their randomness
 * with, so it never depends on which slice a run loaded). */
typedef struct rove_dataset {
  int n;            /* examples */
  rove_shape shape; /* per example, {C, H, W} */
  float *x;         /* n * numel(shape) pixels in [0, 1], CHW per example */
  int32_t *y;       /* n labels in [0, n_classes) */
  int n_classes;    /* the format's (CIFAR, folder) or 1 + the largest label
                       in the whole label file */
  long first;       /* global index of example 0 */
  char spec[512];   /* the spec it was loaded from */
} rove_dataset;

/* Loads a dataset named by a spec (syntax in common/DATA.md):
 *   fashion-mnist:test|train, idx:IMAGES,LABELS (IDX files, gzip or raw),
 *   cifar10:[DIR:]test|train, cifar100:[DIR:]test|train[;coarse],
 *   npy:IMAGES.npy,LABELS.npy[;layout=nchw|nhwc], folder:DIR,
 * each optionally followed by a slice [a:b] with Python's meaning (either
 * end may be omitted or negative) except that it must lie inside the
 * dataset and select at least one example.
 * `d` is uninitialised on entry; on success the caller frees it with
 * rove_dataset_deinit; on error it is left empty. Errors name the spec,
 * the file and what was expected. */
int rove_dataset_load(rove_dataset *d, const char *spec);
void rove_dataset_deinit(rove_dataset *d);

/* Checks that model m (loaded from `model_path`, named in the message)
 * takes the dataset's examples (the same per-example shape, or a flat
 * input of as many values) and outputs a logit for every label. Errors
 * (ROVE_ESHAPE) give both shapes. */
struct rove_model;
int rove_dataset_check_model(const rove_dataset *d, const struct rove_model *m,
                             const char *model_path);

/* Borrowed pointer to example i's pixels. */
static inline const float *rove_dataset_x(const rove_dataset *d, int i) {
  return d->x + (size_t)i * (size_t)rove_shape_numel(&d->shape);
}

/* One IDX file as read from disk (gzip or raw): element type u8 only.
 * data is owned (free with rove_idx_deinit). */
typedef struct rove_idx {
  int ndims;
  uint32_t dims[4];
  unsigned char *data; /* product(dims) bytes */
  size_t n;            /* product(dims) */
} rove_idx;

/* Reads an IDX file and checks its magic is 0x0000 08 <ndims> with
 * `want_ndims` dimensions (3 for images, 1 for labels) and that its size
 * matches the dimensions. `idx` is uninitialised on entry. */
int rove_idx_read(rove_idx *idx, const char *path, int want_ndims);
void rove_idx_deinit(rove_idx *idx);

#endif
