/* recordlog.c - CRC-framed append-only records with timed sync and a
 * torn-tail tolerant replay (recordlog.h). */
#include "common/recordlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/util.h"

static uint32_t crc(const void *p, size_t n) {
  return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

void rove_rlog_put_record(rove_wbuf *w, const void *payload, size_t len) {
  rove_put_u32(w, (uint32_t)len);
  rove_put_u32(w, crc(payload, len));
  rove_put_bytes(w, payload, len);
}

static int write_all(rove_rlog *l, const void *p, size_t n) {
  const unsigned char *b = p;
  while (n > 0) {
    ssize_t k = write(l->fd, b, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return ROVE_ERR(ROVE_EIO, "%s: write failed: %s", l->path,
                      strerror(errno));
    b += k;
    n -= (size_t)k;
  }
  l->dirty = 1;
  return 0;
}

int rove_rlog_create(rove_rlog *l, const char *path, const void *prefix,
                     size_t plen) {
  memset(l, 0, sizeof *l);
  l->fd = -1;
  if (strlen(path) >= sizeof l->path)
    return ROVE_ERR(ROVE_EINVAL, "%s: path too long", path);
  snprintf(l->path, sizeof l->path, "%s", path);
  l->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (l->fd < 0) {
    if (errno == EEXIST)
      return ROVE_ERR(ROVE_EACCES, "%s exists", path);
    return ROVE_ERR(errno == EACCES || errno == EROFS ? ROVE_EACCES : ROVE_EIO,
                    "%s: cannot create: %s", path, strerror(errno));
  }
  int rc = plen ? write_all(l, prefix, plen) : 0;
  if (rc == 0)
    rc = rove_rlog_sync(l, 0);
  if (rc) {
    close(l->fd);
    l->fd = -1;
  }
  l->last_sync = rove_now();
  return rc;
}

int rove_rlog_reopen(rove_rlog *l, const char *path, off_t good_len) {
  memset(l, 0, sizeof *l);
  l->fd = -1;
  if (strlen(path) >= sizeof l->path)
    return ROVE_ERR(ROVE_EINVAL, "%s: path too long", path);
  snprintf(l->path, sizeof l->path, "%s", path);
  l->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (l->fd < 0)
    return ROVE_ERR(errno == EACCES || errno == EROFS ? ROVE_EACCES : ROVE_EIO,
                    "%s: cannot open for append: %s", path, strerror(errno));
  if (ftruncate(l->fd, good_len) != 0 || fsync(l->fd) != 0) {
    int e = errno;
    close(l->fd);
    l->fd = -1;
    return ROVE_ERR(ROVE_EIO, "%s: cannot drop the torn tail: %s", path,
                    strerror(e));
  }
  l->last_sync = rove_now();
  return 0;
}

int rove_rlog_append(rove_rlog *l, const void *payload, size_t n) {
  if (l->fd < 0)
    return ROVE_ERR(ROVE_ESTATE, "%s: the journal is closed", l->path);
  if (n > UINT32_MAX)
    return ROVE_ERR(ROVE_ERANGE, "%s: a record of %zu bytes", l->path, n);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_rlog_put_record(&w, payload, n);
  /* A write cut short (a full disk, a file size limit) leaves part of a
   * record; one appended after it would sit behind garbage, and replay
   * would stop there. So a failed append takes its bytes back. */
  off_t before = lseek(l->fd, 0, SEEK_END);
  int rc = w.failed ? ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", l->path)
                    : write_all(l, w.data, w.len);
  rove_wbuf_deinit(&w);
  if (rc == 0) {
    l->records++;
    return 0;
  }
  if (before < 0 || ftruncate(l->fd, before) != 0) {
    /* cannot undo: stop appending, replay cuts the torn tail */
    close(l->fd);
    l->fd = -1;
  }
  return rc;
}

int rove_rlog_sync(rove_rlog *l, double min_interval) {
  if (l->fd < 0 || !l->dirty)
    return 0;
  double t = rove_now();
  if (min_interval > 0 && t - l->last_sync < min_interval)
    return 0;
  if (fdatasync(l->fd) != 0)
    return ROVE_ERR(ROVE_EIO, "%s: fdatasync failed: %s", l->path,
                    strerror(errno));
  l->dirty = 0;
  l->last_sync = t;
  return 0;
}

int rove_rlog_close(rove_rlog *l) {
  if (l->fd < 0)
    return 0;
  int rc = rove_rlog_sync(l, 0);
  if (close(l->fd) != 0 && rc == 0)
    rc = ROVE_ERR(ROVE_EIO, "%s: close failed: %s", l->path, strerror(errno));
  l->fd = -1;
  return rc;
}

int rove_rlog_replay(const char *path, const char *what, const void *prefix,
                     size_t plen, rove_rlog_cb cb, void *user, off_t *good_len,
                     int *torn) {
  unsigned char *buf = NULL;
  size_t len = 0;
  *torn = 0;
  *good_len = 0;
  ROVE_TRY(rove_file_read(path, what, &buf, &len));
  int rc = 0;
  if (len == 0) {
    free(buf);
    return 0;
  }
  if (len < plen || (plen > 0 && memcmp(buf, prefix, plen) != 0)) {
    free(buf);
    return ROVE_ERR(ROVE_EFORMAT, "%s: not a %s", path, what);
  }
  size_t pos = plen;
  *good_len = (off_t)pos;
  for (uint64_t rec = 0; pos < len; rec++) {
    if (len - pos < 8) {
      *torn = 1;
      break;
    }
    rove_rbuf hr;
    rove_rbuf_init(&hr, buf + pos, 8);
    uint32_t n = rove_get_u32(&hr), c = rove_get_u32(&hr);
    if (n > len - pos - 8) {
      /* A length past the end is a torn write; a corrupt length in the
       * middle cannot be told apart from that, and everything after it
       * is unreadable anyway. */
      *torn = 1;
      break;
    }
    const unsigned char *pl = buf + pos + 8;
    if (crc(pl, n) != c) {
      if (pos + 8 + n == len) {
        *torn = 1;
        break;
      }
      rc = ROVE_ERR(ROVE_ECRC,
                    "%s: record %llu at byte %zu fails its CRC32 and is not "
                    "the last one: the %s is corrupt",
                    path, (unsigned long long)rec, pos, what);
      break;
    }
    if (cb && (rc = cb(user, pl, n, rec, pos)) < 0) {
      rc = ROVE_WRAP(rc, "%s: record %llu at byte %zu", path,
                     (unsigned long long)rec, pos);
      break;
    }
    rc = 0;
    pos += 8 + n;
    *good_len = (off_t)pos;
  }
  free(buf);
  return rc;
}
