/* worker.c - the MPI loop of a sweep worker (ranks >= 1). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "transport/mpi_link.h"
#include "worker/worker.h"

int rove_worker_run(int rank) {
  rove_worker w;
  rove_worker_init(&w, rank);
  rove_wbuf reply;
  rove_wbuf_init(&reply);
  int stop = 0, rc = 0;
  long backoff = 1000;
  rove_mpi_inbox in = {0};
  while (!stop) {
    size_t len;
    int got = rove_mpi_try_recv(&in, 0, ROVE_TAG_WORK, &len, NULL);
    if (got < 0) {
      rc = rove_error_trace(got, __FILE__, __LINE__, __func__);
      break;
    }
    if (!got) {
      rove_mpi_backoff(&backoff);
      continue;
    }
    backoff = 1000;
    reply.len = 0;
    rc = rove_worker_handle(&w, in.buf, len, &reply, &stop);
    if (rc < 0)
      break;
    /* Blocking send is fine here: the coordinator polls for results all
     * the time, and the worker has nothing else to do until it is sent. */
    if (reply.len > 0 &&
        MPI_Send(reply.data, (int)reply.len, MPI_BYTE, 0, ROVE_TAG_RESULT,
                 MPI_COMM_WORLD) != MPI_SUCCESS) {
      rc = ROVE_ERR(ROVE_EMPI, "worker %d: MPI_Send failed", rank);
      break;
    }
  }
  rove_mpi_inbox_deinit(&in);
  rove_wbuf_deinit(&reply);
  rove_worker_deinit(&w);
  return rc;
}
