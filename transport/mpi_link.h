/* mpi_link.h - the sweep's MPI link, shared by the coordinator and the
 * workers: message tags and a polling receive that backs off when idle. */
#ifndef ROVE_TRANSPORT_MPI_LINK_H
#define ROVE_TRANSPORT_MPI_LINK_H

#include <stddef.h>

/* Coordinator -> worker messages (model, data, unit, stop) share one tag,
 * so MPI's non-overtaking rule delivers a model before the units using it. */
#define ROVE_TAG_WORK 11
/* Worker -> coordinator results. */
#define ROVE_TAG_RESULT 12

/* Sleeps *ns nanoseconds and doubles it up to 1 ms (start at 1000): a
 * rank blocked in MPI_Recv burns a core, polling with this does not. */
void rove_mpi_backoff(long *ns);

/* A receive buffer that grows to the largest message seen. */
typedef struct rove_mpi_inbox {
  unsigned char *buf;
  size_t cap;
} rove_mpi_inbox;

void rove_mpi_inbox_deinit(rove_mpi_inbox *in);

/* Receives one pending message with `tag` from `source` (MPI_ANY_SOURCE
 * allowed) if there is one, without blocking. Returns 1 with the bytes in
 * in->buf[0 .. *len) and the sender in *from, 0 when nothing is pending,
 * or a negative error (MPI failure, out of memory). */
int rove_mpi_try_recv(rove_mpi_inbox *in, int source, int tag, size_t *len,
                      int *from);

#endif
