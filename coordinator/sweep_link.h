/* sweep_link.h - the coordinator's side of the sweep's MPI link: sends
 * units to worker ranks (with the model and shard each rank still needs),
 * tracks what is in flight, receives results. No MPI type leaks out. */
#ifndef ROVE_COORDINATOR_SWEEP_LINK_H
#define ROVE_COORDINATOR_SWEEP_LINK_H

#include <stddef.h>

#include "common/wire.h"

typedef struct rove_sweep_link rove_sweep_link;

/* `size` ranks (rank 0 is the coordinator), n_models models and n_shards
 * data shards that units may need. */
int rove_sweep_link_create(rove_sweep_link **l, int size, int n_models,
                           int n_shards);
/* Waits for pending sends, frees, sets *l to NULL. */
void rove_sweep_link_destroy(rove_sweep_link **l);

/* Units sent to `rank` whose result has not come back. */
int rove_sweep_link_inflight(const rove_sweep_link *l, int rank);

/* Sends the encoded unit `unit` (taken: the link owns and frees it) to
 * `rank`, preceded by model m's message and shard s's message (borrowed;
 * they must outlive the link) the first time that rank needs them. */
int rove_sweep_link_send_unit(rove_sweep_link *l, int rank, int m,
                              const rove_wbuf *model_msg, int s,
                              const rove_wbuf *shard_msg, rove_wbuf *unit);

/* Receives one result if one is pending: returns 1 with a borrowed view
 * (valid until the next call) in *msg and *len, 0 if none, or an error. */
int rove_sweep_link_poll(rove_sweep_link *l, const void **msg, size_t *len);

/* Frees the buffers of sends that completed (never blocks). */
void rove_sweep_link_reap(rove_sweep_link *l);

/* Tells ranks 1 .. size-1 to exit (blocking sends). Needs no link, so a
 * coordinator that failed to start can still release its workers. */
void rove_sweep_stop_workers(int size);

#endif
