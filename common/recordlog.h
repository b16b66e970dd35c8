/* recordlog.h - an append-only file of CRC-framed records: the one
 * journal mechanism under the sweep journal (coordinator/journal.c) and
 * the energy journal (common/energy_journal.c).
 *
 * Layout: an optional fixed prefix (a magic string), then records of
 * [u32 payload length][u32 CRC32 of the payload][payload], little-endian.
 * A record is written with one write(); syncing is the caller's choice
 * (every record, or at most once per interval, Redis AOF style). A crash
 * can leave a torn last record, which a replay accepts and reports; a bad
 * record with more data after it is corruption, an error naming its
 * index and byte offset. */
#ifndef ROVE_COMMON_RECORDLOG_H
#define ROVE_COMMON_RECORDLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/wire.h"

typedef struct rove_rlog {
  int fd; /* -1: closed */
  char path[4096];
  double last_sync; /* monotonic seconds */
  int dirty;        /* written since the last sync */
  uint64_t records; /* appended through this handle */
} rove_rlog;

/* Creates a new file at `path` (never overwriting one: an existing file
 * is ROVE_EACCES, "PATH exists") and writes the prefix (plen may be 0),
 * synced. */
int rove_rlog_create(rove_rlog *l, const char *path, const void *prefix,
                     size_t plen);
/* Opens an existing file for appending after byte good_len (from a
 * replay), cutting off a torn tail. */
int rove_rlog_reopen(rove_rlog *l, const char *path, off_t good_len);
/* Appends one record holding payload[0 .. n). A write cut short (a full
 * disk: ENOSPC, a file size limit) is an error naming the file and the
 * cause, and its partial bytes are cut off again, so the file stays a
 * sequence of whole records and later appends (once there is room) are
 * replayed; when even that fails the handle closes (replay then drops the
 * torn tail). */
int rove_rlog_append(rove_rlog *l, const void *payload, size_t n);
/* Syncs if anything was written since the last sync and at least
 * min_interval seconds have passed (0: now). */
int rove_rlog_sync(rove_rlog *l, double min_interval);
/* Syncs and closes; safe to call twice. */
int rove_rlog_close(rove_rlog *l);

/* Called per record in order: payload borrowed for the call, rec its
 * index (0 for the first record after the prefix), off its byte offset.
 * A negative return stops the replay and is passed up with the record's
 * index and offset in the message. */
typedef int (*rove_rlog_cb)(void *user, const unsigned char *payload,
                            uint32_t n, uint64_t rec, size_t off);

/* Replays `path` (`what` names the kind of file in messages): checks the
 * prefix (a file not starting with it is ROVE_EFORMAT "PATH: not a WHAT";
 * an empty file has no records and no error), calls cb (may be NULL) for
 * every good record. *good_len gets the offset after the last good record
 * (after the prefix when there is none) and *torn 1 when a torn tail
 * follows it. */
int rove_rlog_replay(const char *path, const char *what, const void *prefix,
                     size_t plen, rove_rlog_cb cb, void *user, off_t *good_len,
                     int *torn);

/* Encodes one record into w (for tests and tools that build files). */
void rove_rlog_put_record(rove_wbuf *w, const void *payload, size_t len);

#endif
