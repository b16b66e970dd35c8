/* npy.h - reads NumPy .npy arrays (float, int and uint8, either byte order)
 * into float. */
#ifndef ROVE_COMMON_NPY_H
#define ROVE_COMMON_NPY_H

#include <stddef.h>

#define ROVE_NPY_MAX_DIMS 8

/* An array read from a .npy file, converted to float32 (int64 values are
 * converted exactly up to 2^24, which covers labels and indices). */
typedef struct rove_npy {
  int ndim;
  long shape[ROVE_NPY_MAX_DIMS];
  size_t n;      /* number of elements (product of shape) */
  char dtype[4]; /* what the file held: "f4", "f8", "i1", "i4", "i8", "u1" */
  float *data;   /* owned; rove_npy_deinit frees it */
} rove_npy;

/* Reads `path` (format 1.0-3.0, C order, dtype float32/64, int8/32/64 or
 * uint8, little- or big-endian). `a` is uninitialised on entry and left zeroed
 * on error; errors name the file and what was expected. */
int rove_npy_load(rove_npy *a, const char *path);
/* The same from memory; `what` names the source in messages. */
int rove_npy_load_mem(rove_npy *a, const void *buf, size_t len,
                      const char *what);
void rove_npy_deinit(rove_npy *a);

#endif
