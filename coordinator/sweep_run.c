/* sweep_run.c - the run's metadata in the output directory: run.json (what
 * the report shows about the run) and job.ini (the job that ran). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "coordinator/report.h"
#include "coordinator/sweep_internal.h"

int sweep__write_run(coord *c) {
  rove_sweep_setup *su = &c->su;
  int M = su->plan.n_models, P = su->plan.n_profiles;
  rove_run_model *rm = calloc((size_t)M, sizeof *rm);
  const char **presets = calloc((size_t)P, sizeof *presets);
  int rc = 0;
  if (!rm || !presets) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
  } else {
    for (int m = 0; m < M; m++) {
      rm[m].name = su->model_names[m];
      rm[m].path = su->job.models[m].path;
      rm[m].m = su->loaded[m] ? &su->models[m] : NULL;
    }
    for (int p = 0; p < P; p++)
      presets[p] = su->job.profiles[p].preset;
    rove_run_info ri = {.job_name = su->job.name,
                        .job_path = c->o->job_path,
                        .job_hash = su->job_hash,
                        .seed = su->job.seed,
                        .data = su->job.data,
                        .n = su->plan.n,
                        .ranks = c->o->size,
                        .profiles = su->profile_names,
                        .presets = presets,
                        .n_profiles = P,
                        .models = rm,
                        .n_models = M};
    rc = rove_run_write(c->dir, &ri);
  }
  free(rm);
  free(presets);
  return rc;
}

int sweep__copy_job(const char *from, const char *dir) {
  char to[4200], tmp[4200];
  snprintf(to, sizeof to, "%s/job.ini", dir);
  snprintf(tmp, sizeof tmp, "%s/job.ini.tmp", dir);
  FILE *in = fopen(from, "rb");
  if (!in)
    return ROVE_ERR(ROVE_EIO, "%s: cannot open: %s", from, strerror(errno));
  FILE *out = fopen(tmp, "wb");
  if (!out) {
    fclose(in);
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  }
  char buf[8192];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, in)) > 0)
    fwrite(buf, 1, k, out);
  int bad = ferror(in);
  fclose(in);
  if (bad) {
    fclose(out);
    unlink(tmp);
    return ROVE_ERR(ROVE_EIO, "%s: read failed", from);
  }
  return rove_file_commit(out, tmp, to, "copy of the job");
}
