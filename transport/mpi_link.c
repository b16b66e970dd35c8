/* mpi_link.c - tags, back-off and the polling receive of the sweep's MPI
 * link (mpi_link.h). */
#include "transport/mpi_link.h"

#include <mpi.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"

void rove_mpi_backoff(long *ns) {
  struct timespec t = {0, *ns};
  nanosleep(&t, NULL);
  /* 1 us doubling to 1 ms: answers within a millisecond, costs ~nothing. */
  *ns = *ns * 2 > 1000000 ? 1000000 : *ns * 2;
}

void rove_mpi_inbox_deinit(rove_mpi_inbox *in) {
  free(in->buf);
  in->buf = NULL;
  in->cap = 0;
}

int rove_mpi_try_recv(rove_mpi_inbox *in, int source, int tag, size_t *len,
                      int *from) {
  int flag = 0;
  MPI_Status st;
  if (MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS)
    return ROVE_ERR(ROVE_EMPI, "MPI_Iprobe (tag %d) failed", tag);
  if (!flag)
    return 0;
  int count;
  MPI_Get_count(&st, MPI_BYTE, &count);
  if ((size_t)count > in->cap) {
    unsigned char *nb = realloc(in->buf, (size_t)count);
    if (!nb)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory receiving %d bytes", count);
    in->buf = nb;
    in->cap = (size_t)count;
  }
  if (MPI_Recv(in->buf, count, MPI_BYTE, st.MPI_SOURCE, tag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE) != MPI_SUCCESS)
    return ROVE_ERR(ROVE_EMPI, "MPI_Recv of %d bytes from rank %d failed",
                    count, st.MPI_SOURCE);
  *len = (size_t)count;
  if (from)
    *from = st.MPI_SOURCE;
  return 1;
}
