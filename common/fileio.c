/* fileio.c - whole-file reads shared by every loader, and the end of every
 * atomic write. */
#include "common/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"

int rove_file_read(const char *path, const char *what, unsigned char **buf,
                   size_t *len) {
  const char *w = what ? what : "file";
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return ROVE_ERR(e == ENOENT   ? ROVE_ENOENT
                    : e == EACCES ? ROVE_EACCES
                                  : ROVE_EIO,
                    "%s '%s': cannot open: %s", w, path, strerror(e));
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return ROVE_ERR(ROVE_EINVAL, "%s '%s' is a directory (expected a file)", w,
                    path);
  }
  /* The size from fstat is a hint (pipes and /proc report 0); the loop
   * reads until EOF whatever it says. */
  size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, n = 0;
  unsigned char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n, f);
    if (n < cap)
      break;
    unsigned char *nb = realloc(b, cap * 2);
    if (!nb) {
      free(b);
      b = NULL;
      break;
    }
    b = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (!b)
    return ROVE_ERR(ROVE_ENOMEM, "%s '%s': out of memory reading it", w, path);
  if (bad) {
    free(b);
    return ROVE_ERR(ROVE_EIO, "%s '%s': read error", w, path);
  }
  b[n] = '\0'; /* n < cap: the loop left room */
  *buf = b;
  *len = n;
  return 0;
}

int rove_file_commit(FILE *f, const char *tmp, const char *path,
                     const char *what) {
  const char *w = what ? what : "file";
  errno = 0;
  int bad = ferror(f);
  bad |= fflush(f) != 0;
  bad |= fsync(fileno(f)) != 0;
  bad |= fclose(f) != 0;
  if (bad) {
    int e = errno ? errno : EIO; /* ferror alone leaves errno unset */
    unlink(tmp);
    return ROVE_ERR(ROVE_EIO, "%s '%s': write failed: %s", w, path,
                    strerror(e));
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return ROVE_ERR(ROVE_EIO, "%s '%s': rename of '%s' failed: %s", w, path,
                    tmp, strerror(e));
  }
  return 0;
}

int rove_mkdirs(const char *path) {
  char buf[4096];
  if (!*path)
    return ROVE_ERR(ROVE_EINVAL, "empty directory name");
  if (strlen(path) >= sizeof buf)
    return ROVE_ERR(ROVE_EINVAL, "directory '%s': path too long", path);
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    if (*p && *p != '/')
      continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return ROVE_ERR(ROVE_EIO, "cannot create directory '%s': %s", buf,
                      strerror(errno));
    if (!c)
      return 0;
    *p = c;
  }
}
