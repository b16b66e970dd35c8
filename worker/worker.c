/* worker.c - the MPI loop of a sweep worker (ranks >= 1). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"
#include "worker/worker.h"
#include "worker/worker_mpi.h"

void rove_mpi_backoff(long *ns) {
  struct timespec t = {0, *ns};
  nanosleep(&t, NULL);
  /* 1 us doubling to 1 ms: answers within a millisecond, costs ~nothing. */
  *ns = *ns * 2 > 1000000 ? 1000000 : *ns * 2;
}

int rove_worker_run(int rank) {
  rove_worker w;
  rove_worker_init(&w, rank);
  rove_wbuf reply;
  rove_wbuf_init(&reply);
  int stop = 0, rc = 0;
  long backoff = 1000;
  unsigned char *buf = NULL;
  size_t cap = 0;
  while (!stop) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(0, ROVE_TAG_WORK, MPI_COMM_WORLD, &flag, &st) !=
        MPI_SUCCESS) {
      rc = ROVE_ERR(ROVE_EMPI, "worker %d: MPI_Iprobe failed", rank);
      break;
    }
    if (!flag) {
      rove_mpi_backoff(&backoff);
      continue;
    }
    backoff = 1000;
    int count;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if ((size_t)count > cap) {
      unsigned char *nb = realloc(buf, (size_t)count);
      if (!nb) {
        rc = ROVE_ERR(ROVE_ENOMEM, "worker %d: out of memory (%d bytes)", rank,
                      count);
        break;
      }
      buf = nb;
      cap = (size_t)count;
    }
    MPI_Recv(buf, count, MPI_BYTE, 0, ROVE_TAG_WORK, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    reply.len = 0;
    rc = rove_worker_handle(&w, buf, (size_t)count, &reply, &stop);
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
  free(buf);
  rove_wbuf_deinit(&reply);
  rove_worker_deinit(&w);
  return rc;
}
