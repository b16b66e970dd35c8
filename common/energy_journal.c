/* energy_journal.c - the energy journal (energy_journal.h): the prefix
 * "ROVEEJ1\n", then one record per acknowledged result, each synced
 * before the agent is acknowledged. */
#include "common/energy_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"

static const char magic[8] = {'R', 'O', 'V', 'E', 'E', 'J', '1', '\n'};

static int on_record(void *user, const unsigned char *p, uint32_t n,
                     uint64_t rec, size_t off) {
  (void)rec;
  (void)off;
  rove_energy_table *t = user;
  rove_energy_result r;
  rove_rbuf rb;
  rove_rbuf_init(&rb, p, n);
  ROVE_TRY(rove_energy_result_get(&rb, &r));
  ROVE_TRY(rove_energy_table_add(t, &r, NULL));
  return 0;
}

/* Loads path's records into t; *good_len and *torn as rove_rlog_replay.
 * A missing file is empty. */
static int scan(const char *path, rove_energy_table *t, off_t *good_len,
                int *torn, int *exists) {
  *exists = access(path, F_OK) == 0;
  *good_len = 0;
  *torn = 0;
  if (!*exists)
    return 0;
  return rove_rlog_replay(path,
                          "energy journal (expected the header "
                          "\"ROVEEJ1\")",
                          magic, sizeof magic, on_record, t, good_len, torn);
}

static size_t torn_size(const char *path, off_t good_len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  return size > good_len ? (size_t)(size - good_len) : 0;
}

int rove_energy_journal_read(const char *path, rove_energy_table *t,
                             size_t *torn_bytes) {
  off_t good;
  int torn, exists;
  ROVE_TRY(scan(path, t, &good, &torn, &exists));
  if (torn_bytes)
    *torn_bytes = torn ? torn_size(path, good) : 0;
  return 0;
}

int rove_energy_journal_open(rove_energy_journal *j, const char *path,
                             rove_energy_table *t, size_t *torn_bytes) {
  memset(j, 0, sizeof *j);
  j->log.fd = -1;
  off_t good;
  int torn, exists;
  ROVE_TRY(scan(path, t, &good, &torn, &exists));
  size_t cut = torn ? torn_size(path, good) : 0;
  if (!exists || good == 0) {
    /* New (or empty: a crash before the prefix was written). */
    if (exists && unlink(path) != 0)
      return ROVE_ERR(ROVE_EIO, "%s: cannot replace the empty journal", path);
    ROVE_TRY(rove_rlog_create(&j->log, path, magic, sizeof magic));
  } else {
    ROVE_TRY(rove_rlog_reopen(&j->log, path, good));
  }
  if (torn_bytes)
    *torn_bytes = cut;
  return 0;
}

int rove_energy_journal_append(rove_energy_journal *j,
                               const rove_energy_result *r) {
  if (j->log.fd < 0)
    return ROVE_ERR(ROVE_ESTATE, "energy journal: not open");
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_energy_result_put(&w, r);
  int rc = w.failed ? ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", j->log.path)
                    : rove_rlog_append(&j->log, w.data, w.len);
  rove_wbuf_deinit(&w);
  ROVE_TRY(rc);
  /* Synced before the agent is acknowledged. */
  return rove_rlog_sync(&j->log, 0);
}

void rove_energy_journal_close(rove_energy_journal *j) {
  rove_rlog_close(&j->log);
}
