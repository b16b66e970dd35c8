/* cmd_sweep.c - `rove sweep JOB`: MPI set-up, then rank 0 coordinates and
 * ranks >= 1 work. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/cli.h"
#include "coordinator/sweep.h"
#include "worker/worker.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N] rove sweep JOB [options]\n"
          "  Runs the job's models x profiles x eps x restarts x shards.\n"
          "  Rank 0 coordinates (and works when N = 1); ranks >= 1 work.\n"
          "options:\n"
          "  --out DIR      output directory (default: the job's output,\n"
          "                 else runs/NAME)\n"
          "  --resume       continue the sweep journaled in DIR\n"
          "  --part I/N     run only shards s with s %% N == I (job arrays;\n"
          "                 output goes to DIR/partI; join with rove merge)\n"
          "  --no-skip      attack every example with every unit (to\n"
          "                 measure what skipping saves)\n"
          "  --quiet        no progress or summary table\n"
          "exit status: 0 done, 1 failed or some units failed, 2 usage,\n"
          "  75 interrupted by a signal (resume with --resume)\n");
}

int rove_cmd_sweep(int argc, char **argv) {
  rove_sweep_opts o = {.parts = 1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return ROVE_EXIT_OK;
    } else if (!strcmp(a, "--out") && i + 1 < argc) {
      o.out = argv[++i];
    } else if (!strcmp(a, "--resume")) {
      o.resume = 1;
    } else if (!strcmp(a, "--no-skip")) {
      o.no_skip = 1;
    } else if (!strcmp(a, "--quiet")) {
      o.quiet = 1;
    } else if (!strcmp(a, "--part") && i + 1 < argc) {
      char tail;
      if (sscanf(argv[++i], "%d/%d%c", &o.part, &o.parts, &tail) != 2 ||
          o.parts < 1 || o.part < 0 || o.part >= o.parts) {
        fprintf(stderr,
                "rove sweep: --part expects I/N with 0 <= I < N, "
                "got '%s'\n",
                argv[i]);
        return ROVE_EXIT_USAGE;
      }
    } else if (a[0] == '-') {
      fprintf(stderr, "rove sweep: unknown option '%s'\n", a);
      usage(stderr);
      return ROVE_EXIT_USAGE;
    } else if (!o.job_path) {
      o.job_path = a;
    } else {
      fprintf(stderr, "rove sweep: more than one job file ('%s')\n", a);
      return ROVE_EXIT_USAGE;
    }
  }
  if (!o.job_path) {
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  /* One thread makes every MPI call: FUNNELED is all rove needs. */
  int provided;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) !=
      MPI_SUCCESS) {
    fprintf(stderr, "rove sweep: MPI_Init_thread failed\n");
    return ROVE_EXIT_FAIL;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &o.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &o.size);
  int code;
  if (o.rank == 0) {
    code = rove_sweep_coordinate(&o);
  } else {
    /* mpirun forwards SIGUSR1 to every rank; only the coordinator acts
     * on it (it drains and then stops the workers). */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    int rc = rove_worker_run(o.rank);
    if (rc) {
      fprintf(stderr, "rove sweep: rank %d: ", o.rank);
      rove_error_print(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    code = 0;
  }
  MPI_Finalize();
  return code;
}
