/* reader.h - the interface between the dataset spec layer (common/data.c)
 * and the readers of each format in common/data/. Internal to common/. */
#ifndef ROVE_COMMON_DATA_READER_H
#define ROVE_COMMON_DATA_READER_H

#include <stddef.h>
#include <stdint.h>

#include "common/layer.h"

/* A dataset as a reader opened it: the count, shape and labels of the
 * whole file (or directory), and a way to produce the pixels of any range
 * of examples. data.c applies the slice and calls fill for it only, so a
 * reader never converts (or decodes) more than the slice. */
typedef struct data_src {
  long total;       /* examples in the whole source */
  rove_shape shape; /* per example, {C, H, W} */
  int n_classes;    /* from the format (CIFAR) or 1 + the largest label */
  int32_t *y;       /* total labels, malloc'd */
  /* Writes examples [a, b) as float32 CHW in [0, 1] to x. */
  int (*fill)(struct data_src *s, long a, long b, float *x);
  void (*close)(struct data_src *s); /* frees priv (y is freed by data.c) */
  void *priv;
  const char *spec; /* for messages */
} data_src;

/* The options after ';' in a spec body: "layout=nhwc", "coarse". */
typedef struct data_opts {
  char layout[8]; /* "", "nchw" or "nhwc" */
  int coarse;
} data_opts;

/* Each reader gets the spec (for messages), the body after its prefix
 * ("test", "DIR:test", "IMAGES,LABELS", "DIR") and the options; on
 * success it has filled s, on error s is left for data.c to free. */
int data_open_fmnist(data_src *s, const char *arg, const data_opts *o);
int data_open_idx(data_src *s, const char *arg, const data_opts *o);
int data_open_cifar10(data_src *s, const char *arg, const data_opts *o);
int data_open_cifar100(data_src *s, const char *arg, const data_opts *o);
int data_open_npy(data_src *s, const char *arg, const data_opts *o);
int data_open_folder(data_src *s, const char *arg, const data_opts *o);

/* Splits "IMAGES,LABELS" at the first comma into img and lab (cap bytes
 * each); `form` ("idx:IMAGES,LABELS") is quoted in the error. */
int data_split_pair(const data_src *s, const char *arg, const char *form,
                    char *img, char *lab, size_t cap);

/* Images (common/data/image.c): PNG through libpng, JPEG through
 * libjpeg-turbo, chosen by the file's first bytes. probe reads only the
 * header; decode writes c*h*w floats (CHW, /255) and fails, naming the
 * file and both sizes, if the image is not c x h x w. Palette PNGs become
 * RGB, 16-bit samples are reduced to 8, alpha is dropped. */
int data_image_probe(const char *path, int *c, int *h, int *w);
int data_image_decode(const char *path, int c, int h, int w, float *out);

/* Whether a directory entry name is an image rove reads (.png, .jpg,
 * .jpeg in any case). */
int data_image_name(const char *name);

#endif
