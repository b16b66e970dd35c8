/* sweep_link.c - the coordinator's side of the sweep's MPI link
 * (sweep_link.h): non-blocking sends whose buffers are kept until MPI is
 * done with them, and the polling receive of results. */
#include "coordinator/sweep_link.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/sweep_wire.h"
#include "transport/mpi_link.h"

typedef struct pending_send {
  MPI_Request req;
  rove_wbuf buf; /* owned, or empty when the bytes are shared */
} pending_send;

struct rove_sweep_link {
  int size, n_models, n_shards;
  /* What each rank has been sent, one bit per (rank, model) and (rank,
   * shard): 1,000 ranks x 50,000 shards is 6 MB. */
  uint8_t *has_model;
  uint8_t *has_shard;
  int *inflight; /* per rank */
  pending_send *sends;
  int n_sends, cap_sends;
  rove_mpi_inbox in;
};

int rove_sweep_link_create(rove_sweep_link **out, int size, int n_models,
                           int n_shards) {
  rove_sweep_link *l = calloc(1, sizeof *l);
  if (!l)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  l->size = size;
  l->n_models = n_models;
  l->n_shards = n_shards;
  l->has_model = calloc((size_t)size * (size_t)n_models / 8 + 1, 1);
  l->has_shard = calloc((size_t)size * (size_t)n_shards / 8 + 1, 1);
  l->inflight = calloc((size_t)size, sizeof *l->inflight);
  if (!l->has_model || !l->has_shard || !l->inflight) {
    rove_sweep_link_destroy(&l);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  *out = l;
  return 0;
}

static void reap(rove_sweep_link *l, int wait) {
  for (int i = 0; i < l->n_sends;) {
    int done = 0;
    if (wait)
      MPI_Wait(&l->sends[i].req, MPI_STATUS_IGNORE), done = 1;
    else
      MPI_Test(&l->sends[i].req, &done, MPI_STATUS_IGNORE);
    if (done) {
      rove_wbuf_deinit(&l->sends[i].buf);
      l->sends[i] = l->sends[--l->n_sends];
    } else {
      i++;
    }
  }
}

void rove_sweep_link_reap(rove_sweep_link *l) {
  reap(l, 0);
}

void rove_sweep_link_destroy(rove_sweep_link **pl) {
  rove_sweep_link *l = *pl;
  if (!l)
    return;
  reap(l, 1);
  free(l->sends);
  free(l->has_model);
  free(l->has_shard);
  free(l->inflight);
  rove_mpi_inbox_deinit(&l->in);
  free(l);
  *pl = NULL;
}

int rove_sweep_link_inflight(const rove_sweep_link *l, int rank) {
  return l->inflight[rank];
}

/* Starts a send of `shared` (borrowed) or `own` (taken). */
static int isend(rove_sweep_link *l, int rank, const rove_wbuf *shared,
                 rove_wbuf *own) {
  if (l->n_sends == l->cap_sends) {
    int cap = l->cap_sends ? 2 * l->cap_sends : 16;
    pending_send *ns = realloc(l->sends, (size_t)cap * sizeof *ns);
    if (!ns) {
      if (own)
        rove_wbuf_deinit(own);
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    }
    l->sends = ns;
    l->cap_sends = cap;
  }
  pending_send *p = &l->sends[l->n_sends];
  const rove_wbuf *src = shared ? shared : own;
  if (own)
    p->buf = *own;
  else
    rove_wbuf_init(&p->buf);
  if (MPI_Isend(src->data, (int)src->len, MPI_BYTE, rank, ROVE_TAG_WORK,
                MPI_COMM_WORLD, &p->req) != MPI_SUCCESS) {
    rove_wbuf_deinit(&p->buf);
    return ROVE_ERR(ROVE_EMPI, "MPI_Isend to rank %d failed", rank);
  }
  l->n_sends++;
  return 0;
}

int rove_sweep_link_send_unit(rove_sweep_link *l, int rank, int m,
                              const rove_wbuf *model_msg, int s,
                              const rove_wbuf *shard_msg, rove_wbuf *unit) {
  size_t bm = (size_t)rank * (size_t)l->n_models + (size_t)m;
  size_t bs = (size_t)rank * (size_t)l->n_shards + (size_t)s;
  uint8_t *hm = &l->has_model[bm / 8], *hs = &l->has_shard[bs / 8];
  uint8_t mm = (uint8_t)(1u << (bm % 8)), ms = (uint8_t)(1u << (bs % 8));
  int rc = 0;
  if (!(*hm & mm) && !(rc = isend(l, rank, model_msg, NULL)))
    *hm |= mm;
  if (!rc && !(*hs & ms) && !(rc = isend(l, rank, shard_msg, NULL)))
    *hs |= ms;
  if (rc) {
    rove_wbuf_deinit(unit);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  ROVE_TRY(isend(l, rank, NULL, unit));
  l->inflight[rank]++;
  return 0;
}

int rove_sweep_link_poll(rove_sweep_link *l, const void **msg, size_t *len) {
  int from = 0;
  int got =
      rove_mpi_try_recv(&l->in, MPI_ANY_SOURCE, ROVE_TAG_RESULT, len, &from);
  if (got < 0)
    return rove_error_trace(got, __FILE__, __LINE__, __func__);
  if (!got)
    return 0;
  if (from > 0 && from < l->size)
    l->inflight[from]--;
  *msg = l->in.buf;
  return 1;
}

void rove_sweep_stop_workers(int size) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_stop(&w);
  for (int r = 1; r < size; r++)
    MPI_Send(w.data, (int)w.len, MPI_BYTE, r, ROVE_TAG_WORK, MPI_COMM_WORLD);
  rove_wbuf_deinit(&w);
}
