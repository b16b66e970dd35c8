/* journal.h - append-only record of finished units, for --resume. */
#ifndef ROVE_COORDINATOR_JOURNAL_H
#define ROVE_COORDINATOR_JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "common/recordlog.h"
#include "common/sweep_wire.h"

/* A record log (common/recordlog.h) without a prefix: the first record is
 * the header below; every other record is one unit result in the sweep
 * wire encoding. Records are synced at most once a second (Redis AOF
 * style), so a crash loses at most the units of the last second and can
 * leave a torn last record, which a replay accepts and drops. */
#define ROVE_JOURNAL_MAGIC 0x4A565652u /* "RVVJ" */
#define ROVE_JOURNAL_VERSION 1u

typedef struct rove_journal_header {
  unsigned char job_hash[32]; /* identity of the plan: job file + models */
  uint32_t n;                 /* examples */
  int64_t first;              /* global index of example 0 */
  uint32_t part, n_parts;
  uint32_t skip; /* 1: the plan skips work (its dependency order) */
} rove_journal_header;

typedef struct rove_journal {
  rove_rlog log;
} rove_journal;

/* Creates a new journal at `path` and writes the header. Refuses to
 * overwrite an existing file (ROVE_EACCES: that would lose finished work).
 */
int rove_journal_create(rove_journal *j, const char *path,
                        const rove_journal_header *h);

/* Replays `path`: fills *h, calls cb for each unit result in order (the
 * result is borrowed for the call; a negative return stops the replay and
 * is returned). A torn last record (short, or a CRC mismatch that ends at
 * end of file) is accepted: *torn = 1 and *good_len is where it starts. A
 * CRC mismatch before the last record is ROVE_ECRC naming the offset. */
int rove_journal_replay(const char *path, rove_journal_header *h,
                        int (*cb)(void *user, const rove_unit_result *r),
                        void *user, off_t *good_len, int *torn);

/* Opens an existing journal for appending after its last good record
 * (truncating a torn tail found by the replay). */
int rove_journal_reopen(rove_journal *j, const char *path, off_t good_len);

/* Appends one unit result; syncs if the last sync is a second old. */
int rove_journal_append(rove_journal *j, const rove_unit_result *r);
/* Syncs if anything was written since the last sync and at least
 * `min_interval` seconds have passed (0: now). */
int rove_journal_sync(rove_journal *j, double min_interval);
/* Syncs and closes. Safe to call twice. */
int rove_journal_close(rove_journal *j);

#endif
