/* worker_mpi.h - MPI tags and the polling back-off shared by the sweep's
 * coordinator and workers. */
#ifndef ROVE_WORKER_WORKER_MPI_H
#define ROVE_WORKER_WORKER_MPI_H

/* Coordinator -> worker messages (model, data, unit, stop) share one tag,
 * so MPI's non-overtaking rule delivers a model before the units using it. */
#define ROVE_TAG_WORK 11
/* Worker -> coordinator results. */
#define ROVE_TAG_RESULT 12

/* Sleeps *ns nanoseconds and doubles it up to 1 ms (start at 1000). */
void rove_mpi_backoff(long *ns);

#endif
