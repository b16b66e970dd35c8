/* npy.h - reads NumPy .npy arrays (little-endian float32/int64) into float. */
#ifndef ROVE_COMMON_NPY_H
#define ROVE_COMMON_NPY_H

#include <stddef.h>

#define ROVE_NPY_MAX_DIMS 8

/* An array read from a .npy file, converted to float32 (int64 values are
 * converted exactly up to 2^24, which covers labels and indices). */
typedef struct rove_npy {
  int ndim;
  long shape[ROVE_NPY_MAX_DIMS];
  size_t n;    /* number of elements (product of shape) */
  float *data; /* owned; rove_npy_deinit frees it */
} rove_npy;

/* Reads `path` (format 1.0-3.0, C order, dtype '<f4', '<f8', '<i4' or
 * '<i8'). `a` is uninitialised on entry and left zeroed on error; errors
 * name the file and what was expected. */
int rove_npy_load(rove_npy *a, const char *path);
/* The same from memory; `what` names the source in messages. */
int rove_npy_load_mem(rove_npy *a, const void *buf, size_t len,
                      const char *what);
void rove_npy_deinit(rove_npy *a);

#endif
