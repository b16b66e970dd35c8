/* energy_journal.h - DIR/energy.journal: every measurement the hub
 * acknowledged, in a record log (common/recordlog.h). */
#ifndef ROVE_COMMON_ENERGY_JOURNAL_H
#define ROVE_COMMON_ENERGY_JOURNAL_H

#include <stddef.h>

#include "common/energy_result.h"
#include "common/recordlog.h"

/*  * A file header "ROVEEJ1\n" then records: u32 payload length, u32 CRC32
 * of the payload, payload (rove_energy_result_put). A record is fsync'ed
 * before the agent is acknowledged. On open a torn last record (short, or
 * a bad CRC with nothing after it: the crash came mid-write) is cut off
 * and reported; a bad record followed by more data is corruption and an
 * error naming the byte offset, and nothing is truncated. */
typedef struct rove_energy_journal {
  rove_rlog log;
} rove_energy_journal;

/* Opens (creating) path for appending, loading its records into t (which
 * must be initialised; duplicates are dropped). *torn_bytes (may be NULL)
 * is the size of a cut-off torn tail. */
int rove_energy_journal_open(rove_energy_journal *j, const char *path,
                             rove_energy_table *t, size_t *torn_bytes);
/* Reads path into t without opening it for writing (rove join). A missing
 * file is an empty journal. */
int rove_energy_journal_read(const char *path, rove_energy_table *t,
                             size_t *torn_bytes);
/* Appends one record and fsyncs. */
int rove_energy_journal_append(rove_energy_journal *j,
                               const rove_energy_result *r);
void rove_energy_journal_close(rove_energy_journal *j);

#endif
