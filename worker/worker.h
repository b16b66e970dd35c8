/* worker.h - a sweep worker: caches models and data shards by content hash
 * and turns unit messages into result messages. */
#ifndef ROVE_WORKER_WORKER_H
#define ROVE_WORKER_WORKER_H

#include <stddef.h>

#include "common/model.h"
#include "common/sweep_wire.h"
#include "common/wire.h"

typedef struct rove_worker_model {
  unsigned char hash[32];
  rove_model m;
} rove_worker_model;

typedef struct rove_worker {
  rove_worker_model *models;
  int n_models, cap_models;
  rove_sw_data *shards;
  int n_shards, cap_shards;
  int rank; /* names the worker in messages */
} rove_worker;

void rove_worker_init(rove_worker *w, int rank);
void rove_worker_deinit(rove_worker *w);

/* Handles one coordinator message (`msg` borrowed). MODEL and DATA are
 * cached; a UNIT runs and its encoded result is appended to `reply`
 * (caller-owned; left empty for other messages); STOP sets *stop. A unit
 * that fails (unknown model, attack error) still yields a result, with the
 * error; only a malformed message is an error return. */
int rove_worker_handle(rove_worker *w, const void *msg, size_t len,
                       rove_wbuf *reply, int *stop);

/* The MPI loop of ranks >= 1: receive, run, send back, until STOP. Polls
 * with back-off so a waiting worker does not burn a core. */
int rove_worker_run(int rank);

/* Content key of a data shard (BLAKE2b-256 of first, n, numel, x, y). */
void rove_worker_data_key(const rove_sw_data *d, unsigned char key[32]);

#endif
