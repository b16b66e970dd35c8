/* journal.c - CRC-framed records, timed fsync, torn-tail tolerant replay. */
#include "coordinator/journal.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"
#include "common/fileio.h"

/* A record larger than this is treated as corruption, not allocated. */
#define JOURNAL_MAX_RECORD (1u << 30)

static uint32_t crc(const void *p, size_t n) {
  return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

void rove_journal_put_record(rove_wbuf *w, const void *payload, size_t len) {
  rove_put_u32(w, (uint32_t)len);
  rove_put_u32(w, crc(payload, len));
  rove_put_bytes(w, payload, len);
}

static int write_all(rove_journal *j, const void *p, size_t n) {
  const unsigned char *b = p;
  while (n > 0) {
    ssize_t k = write(j->fd, b, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return ROVE_ERR(ROVE_EIO, "%s: write failed: %s", j->path,
                      strerror(errno));
    b += k;
    n -= (size_t)k;
  }
  j->dirty = 1;
  return 0;
}

static int append_payload(rove_journal *j, const rove_wbuf *pl) {
  if (pl->failed)
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory encoding a record",
                    j->path);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_journal_put_record(&w, pl->data, pl->len);
  int rc = w.failed ? ROVE_ERR(ROVE_ENOMEM, "out of memory")
                    : write_all(j, w.data, w.len);
  rove_wbuf_deinit(&w);
  if (rc == 0)
    j->records++;
  return rc;
}

int rove_journal_create(rove_journal *j, const char *path,
                        const rove_journal_header *h) {
  memset(j, 0, sizeof *j);
  j->fd = -1;
  snprintf(j->path, sizeof j->path, "%s", path);
  j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (j->fd < 0) {
    if (errno == EEXIST)
      return ROVE_ERR(ROVE_EACCES,
                      "%s exists: pass --resume to continue that sweep, or "
                      "--out a fresh directory",
                      path);
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", path, strerror(errno));
  }
  rove_wbuf pl;
  rove_wbuf_init(&pl);
  rove_put_u32(&pl, ROVE_JOURNAL_MAGIC);
  rove_put_u16(&pl, ROVE_JOURNAL_VERSION);
  rove_put_bytes(&pl, h->job_hash, 32);
  rove_put_u32(&pl, h->n);
  rove_put_i64(&pl, h->first);
  rove_put_u32(&pl, h->part);
  rove_put_u32(&pl, h->n_parts);
  rove_put_u32(&pl, h->skip);
  int rc = append_payload(j, &pl);
  rove_wbuf_deinit(&pl);
  if (rc == 0)
    rc = rove_journal_sync(j, 0);
  if (rc) {
    close(j->fd);
    j->fd = -1;
  }
  j->last_sync = rove_now();
  return rc;
}

int rove_journal_reopen(rove_journal *j, const char *path, off_t good_len) {
  memset(j, 0, sizeof *j);
  snprintf(j->path, sizeof j->path, "%s", path);
  j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (j->fd < 0)
    return ROVE_ERR(ROVE_EIO, "%s: cannot open for append: %s", path,
                    strerror(errno));
  if (ftruncate(j->fd, good_len) != 0 || fsync(j->fd) != 0) {
    int e = errno;
    close(j->fd);
    j->fd = -1;
    return ROVE_ERR(ROVE_EIO, "%s: cannot drop the torn tail: %s", path,
                    strerror(e));
  }
  j->last_sync = rove_now();
  return 0;
}

int rove_journal_sync(rove_journal *j, double min_interval) {
  if (j->fd < 0 || !j->dirty)
    return 0;
  double t = rove_now();
  if (min_interval > 0 && t - j->last_sync < min_interval)
    return 0;
  if (fdatasync(j->fd) != 0)
    return ROVE_ERR(ROVE_EIO, "%s: fdatasync failed: %s", j->path,
                    strerror(errno));
  j->dirty = 0;
  j->last_sync = t;
  return 0;
}

int rove_journal_append(rove_journal *j, const rove_unit_result *r) {
  if (j->fd < 0)
    return ROVE_ERR(ROVE_ESTATE, "journal is closed");
  rove_wbuf pl;
  rove_wbuf_init(&pl);
  rove_sw_put_result(&pl, r);
  int rc = append_payload(j, &pl);
  rove_wbuf_deinit(&pl);
  ROVE_TRY(rc);
  return rove_journal_sync(j, 1.0);
}

int rove_journal_close(rove_journal *j) {
  if (j->fd < 0)
    return 0;
  int rc = rove_journal_sync(j, 0);
  if (close(j->fd) != 0 && rc == 0)
    rc = ROVE_ERR(ROVE_EIO, "%s: close failed: %s", j->path, strerror(errno));
  j->fd = -1;
  return rc;
}

int rove_journal_replay(const char *path, rove_journal_header *h,
                        int (*cb)(void *user, const rove_unit_result *r),
                        void *user, off_t *good_len, int *torn) {
  unsigned char *buf = NULL;
  size_t len = 0;
  ROVE_TRY(rove_file_read(path, "journal", &buf, &len));
  *torn = 0;
  *good_len = 0;
  size_t pos = 0;
  int rc = 0;
  for (uint64_t rec = 0;; rec++) {
    if (pos == len)
      break;
    if (len - pos < 8) {
      *torn = 1;
      break;
    }
    rove_rbuf hr;
    rove_rbuf_init(&hr, buf + pos, 8);
    uint32_t n = rove_get_u32(&hr), c = rove_get_u32(&hr);
    if (n > JOURNAL_MAX_RECORD || n > len - pos - 8) {
      /* A length past the end is a torn write; a huge one in the middle
       * of a longer file cannot be told apart from that, and everything
       * after it is unreadable anyway. */
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
                    "the last one: the journal is corrupt",
                    path, (unsigned long long)rec, pos);
      break;
    }
    rove_rbuf r;
    rove_rbuf_init(&r, pl, n);
    if (rec == 0) {
      uint32_t magic = rove_get_u32(&r);
      uint16_t ver = rove_get_u16(&r);
      rove_get_bytes(&r, h->job_hash, 32);
      h->n = rove_get_u32(&r);
      h->first = rove_get_i64(&r);
      h->part = rove_get_u32(&r);
      h->n_parts = rove_get_u32(&r);
      h->skip = rove_get_u32(&r);
      if (r.failed || magic != ROVE_JOURNAL_MAGIC) {
        rc = ROVE_ERR(ROVE_EFORMAT, "%s: not a rove sweep journal", path);
        break;
      }
      if (ver != ROVE_JOURNAL_VERSION) {
        rc = ROVE_ERR(ROVE_EVERSION,
                      "%s: journal version %u, this rove reads %u", path,
                      (unsigned)ver, ROVE_JOURNAL_VERSION);
        break;
      }
    } else {
      rove_unit_result res;
      rc = rove_sw_get_result(&r, &res);
      if (rc == 0 && cb)
        rc = cb(user, &res);
      rove_unit_result_deinit(&res);
      if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", rove_error_message());
        rc = ROVE_ERR(rc, "%s: record %llu at byte %zu: %s", path,
                      (unsigned long long)rec, pos, why);
        break;
      }
    }
    pos += 8 + n;
    *good_len = (off_t)pos;
  }
  if (rc == 0 && *good_len == 0)
    rc = ROVE_ERR(ROVE_EFORMAT, "%s: no complete header record", path);
  free(buf);
  return rc;
}
