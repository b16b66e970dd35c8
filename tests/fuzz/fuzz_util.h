/* fuzz_util.h - what the libFuzzer harnesses share: inputs that must be
 * files go to one per-process file under /dev/shm (tmpfs, no disk), and
 * error messages are dropped between runs. Header-only. */
#ifndef ROVE_TESTS_FUZZ_UTIL_H
#define ROVE_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

/* A scratch directory of this process, made once. */
static inline const char *fuzz_dir(void) {
  static char dir[64];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/dev/shm/rove-fuzz-%ld", (long)getpid());
    mkdir(dir, 0700);
  }
  return dir;
}

/* Writes the input to DIR/name; returns the path (static buffer). */
static inline const char *fuzz_file(const char *name, const uint8_t *d,
                                    size_t n) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  if (n && fwrite(d, 1, n, f) != n)
    abort();
  fclose(f);
  return path;
}

/* A NUL-terminated copy of the input (text formats). */
static inline char *fuzz_text(const uint8_t *d, size_t n) {
  char *s = malloc(n + 1);
  if (!s)
    abort();
  for (size_t i = 0; i < n; i++)
    s[i] = (char)d[i];
  s[n] = '\0';
  return s;
}

#endif
