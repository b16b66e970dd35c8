/* journal.c - the sweep journal: a header record and unit results in a
 * record log (common/recordlog.h), synced at most once a second. */
#include "coordinator/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static void put_header(rove_wbuf *w, const rove_journal_header *h) {
  rove_put_u32(w, ROVE_JOURNAL_MAGIC);
  rove_put_u16(w, ROVE_JOURNAL_VERSION);
  rove_put_bytes(w, h->job_hash, 32);
  rove_put_u32(w, h->n);
  rove_put_i64(w, h->first);
  rove_put_u32(w, h->part);
  rove_put_u32(w, h->n_parts);
  rove_put_u32(w, h->skip);
}

int rove_journal_create(rove_journal *j, const char *path,
                        const rove_journal_header *h) {
  int rc = rove_rlog_create(&j->log, path, NULL, 0);
  if (rc == ROVE_EACCES && strstr(rove_error_message(), " exists"))
    return ROVE_ERR(ROVE_EACCES,
                    "%s exists: pass --resume to continue that sweep, or "
                    "--out a fresh directory",
                    path);
  ROVE_TRY(rc);
  rove_wbuf pl;
  rove_wbuf_init(&pl);
  put_header(&pl, h);
  rc = pl.failed ? ROVE_ERR(ROVE_ENOMEM, "out of memory")
                 : rove_rlog_append(&j->log, pl.data, pl.len);
  rove_wbuf_deinit(&pl);
  if (rc == 0)
    rc = rove_rlog_sync(&j->log, 0);
  if (rc)
    rove_rlog_close(&j->log);
  return rc;
}

int rove_journal_reopen(rove_journal *j, const char *path, off_t good_len) {
  return rove_rlog_reopen(&j->log, path, good_len);
}

int rove_journal_sync(rove_journal *j, double min_interval) {
  return rove_rlog_sync(&j->log, min_interval);
}

int rove_journal_append(rove_journal *j, const rove_unit_result *r) {
  rove_wbuf pl;
  rove_wbuf_init(&pl);
  rove_sw_put_result(&pl, r);
  int rc = pl.failed ? ROVE_ERR(ROVE_ENOMEM,
                                "%s: out of memory encoding a "
                                "record",
                                j->log.path)
                     : rove_rlog_append(&j->log, pl.data, pl.len);
  rove_wbuf_deinit(&pl);
  ROVE_TRY(rc);
  return rove_rlog_sync(&j->log, 1.0);
}

int rove_journal_close(rove_journal *j) {
  return rove_rlog_close(&j->log);
}

typedef struct replay_ctx {
  rove_journal_header *h;
  int (*cb)(void *user, const rove_unit_result *r);
  void *user;
  const char *path;
} replay_ctx;

static int on_record(void *user, const unsigned char *p, uint32_t n,
                     uint64_t rec, size_t off) {
  (void)off;
  replay_ctx *x = user;
  rove_rbuf r;
  rove_rbuf_init(&r, p, n);
  if (rec == 0) {
    rove_journal_header *h = x->h;
    uint32_t magic = rove_get_u32(&r);
    uint16_t ver = rove_get_u16(&r);
    rove_get_bytes(&r, h->job_hash, 32);
    h->n = rove_get_u32(&r);
    h->first = rove_get_i64(&r);
    h->part = rove_get_u32(&r);
    h->n_parts = rove_get_u32(&r);
    h->skip = rove_get_u32(&r);
    if (r.failed || magic != ROVE_JOURNAL_MAGIC)
      return ROVE_ERR(ROVE_EFORMAT, "not a rove sweep journal");
    if (ver != ROVE_JOURNAL_VERSION)
      return ROVE_ERR(ROVE_EVERSION, "journal version %u, this rove reads %u",
                      (unsigned)ver, ROVE_JOURNAL_VERSION);
    return 0;
  }
  rove_unit_result res;
  int rc = rove_sw_get_result(&r, &res);
  if (rc == 0 && x->cb)
    rc = x->cb(x->user, &res);
  rove_unit_result_deinit(&res);
  return rc;
}

int rove_journal_replay(const char *path, rove_journal_header *h,
                        int (*cb)(void *user, const rove_unit_result *r),
                        void *user, off_t *good_len, int *torn) {
  replay_ctx x = {.h = h, .cb = cb, .user = user, .path = path};
  ROVE_TRY(rove_rlog_replay(path, "journal", NULL, 0, on_record, &x, good_len,
                            torn));
  if (*good_len == 0)
    return ROVE_ERR(ROVE_EFORMAT, "%s: no complete header record", path);
  return 0;
}
