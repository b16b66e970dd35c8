/* sweep_internal.h - the coordinator's state, shared by the files of the
 * sweep module (sweep.c: the loop; sweep_energy.c: the energy hub;
 * sweep_run.c: run metadata). Not for use outside coordinator/sweep*.c. */
#ifndef ROVE_COORDINATOR_SWEEP_INTERNAL_H
#define ROVE_COORDINATOR_SWEEP_INTERNAL_H

#include <stdint.h>

#include "common/wire.h"
#include "coordinator/hub.h"
#include "coordinator/sweep.h"
#include "coordinator/sweep_link.h"
#include "worker/worker.h"

typedef struct coord {
  const rove_sweep_opts *o;
  rove_sweep_setup su;
  rove_sched sched;
  rove_journal journal;
  int lock_fd;         /* DIR/lock, held (flock) while this sweep writes DIR */
  uint64_t *replay_fp; /* per unit during --resume's replay, or NULL */
  unsigned long replay_dupes; /* identical duplicate records skipped */
  char dir[4096];
  rove_wbuf *model_msg; /* n_models encoded MODEL messages */
  rove_wbuf *shard_msg; /* n_shards encoded DATA messages */
  unsigned char (*shard_key)[32];
  rove_wbuf *profile_bytes; /* n_profiles */
  int n_workers;            /* ranks doing work (size - 1, or 1 local) */
  rove_sweep_link *link;    /* -np > 1 */
  uint8_t *local_model;     /* -np 1: models the local worker has */
  uint8_t *local_shard;     /* -np 1: shards the local worker has */
  rove_worker local;        /* -np 1: rank 0 works too */
  rove_failures failures;
  rove_hub hub; /* energy hub, when the job has [energy] */
  int hub_on;
  char **boards; /* union of the models' boards and [energy] boards */
  int n_boards;
  double t0, last_progress;
  /* Wall time rank 0 spent handling work (receiving and recording
   * results, dispatching units), not waiting for it: what limits how many
   * ranks one coordinator can feed (jobs/README.md, "Scale"). */
  double busy_s;
  int done_at_start;
  int last_m, last_p, last_e;
  int tty;
} coord;

/* [energy]: starts the hub and queues each model for its boards. */
int sweep__start_energy(coord *c);
/* DIR/run.json: what `rove report` shows about the run (report.h). */
int sweep__write_run(coord *c);
/* DIR/job.ini: an atomic copy of the job file. */
int sweep__copy_job(const char *from, const char *dir);

#endif
