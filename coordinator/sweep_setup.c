/* sweep_setup.c - turns a job file into profiles, a plan and the job's
 * identity hash (with load_inputs, the data and models too). */
#include "coordinator/sweep_setup.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int build_profile(rove_sweep_setup *s, int i) {
  const rove_job_profile *jp = &s->job.profiles[i];
  const rove_ini *ini = &s->job.ini;
  int rc = rove_profile_create(&s->profiles[i], jp->preset);
  if (rc)
    return rove_ini_error(rc, ini, jp->sec,
                          rove_ini_key_find(jp->sec, "preset"), "%s",
                          rove_error_message());
  for (int k = 0; k < jp->sec->n_keys; k++) {
    const rove_ini_key *key = &jp->sec->keys[k];
    if (!strcmp(key->name, "preset"))
      continue;
    rc = rove_profile_set(s->profiles[i], key->name, key->value);
    if (rc) {
      char why[512];
      snprintf(why, sizeof why, "%s", rove_error_message());
      return rove_ini_error(rc, ini, jp->sec, key, "%s", why);
    }
  }
  int R = rove_profile_restarts(s->profiles[i]);
  if (R > 127)
    return rove_ini_error(ROVE_ERANGE, ini, jp->sec, NULL,
                          "%d restarts; a sweep handles at most 127", R);
  s->plan.restarts[i] = R;
  return 0;
}

static void job_hash(rove_sweep_setup *s) {
  /* The identity of the work: a journal from another job (or from the
   * same job file after a model changed) must not be resumed into it.
   * Parts are excluded so that every part of a job array agrees. */
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_str(&w, "rove-sweep-job-1");
  rove_put_str(&w, s->job.data);
  rove_put_i64(&w, s->data.first);
  rove_put_u32(&w, (uint32_t)s->plan.n);
  rove_put_u64(&w, s->job.seed);
  rove_put_u32(&w, (uint32_t)s->plan.shard);
  rove_put_u8(&w, (uint8_t)s->plan.skip);
  rove_put_u32(&w, (uint32_t)s->plan.n_models);
  for (int m = 0; m < s->plan.n_models; m++) {
    rove_put_str(&w, s->model_names[m]);
    unsigned char zero[32] = {0};
    rove_put_bytes(&w, s->loaded[m] ? s->models[m].hash : zero, 32);
  }
  rove_put_u32(&w, (uint32_t)s->plan.n_profiles);
  for (int p = 0; p < s->plan.n_profiles; p++) {
    rove_put_str(&w, s->profile_names[p]);
    rove_profile_encode(s->profiles[p], &w);
  }
  for (int e = 0; e < s->plan.n_eps; e++)
    rove_put_f64(&w, s->job.eps[e]);
  crypto_generichash(s->job_hash, 32, w.data, w.len, NULL, 0);
  rove_wbuf_deinit(&w);
}

int rove_sweep_setup_init(rove_sweep_setup *s, const char *job_path,
                          int load_inputs, int no_skip, int part, int parts) {
  memset(s, 0, sizeof *s);
  ROVE_TRY(rove_job_load(&s->job, job_path));
  rove_job *j = &s->job;
  int rc = 0;
  s->profiles = calloc((size_t)j->n_profiles, sizeof *s->profiles);
  s->model_names = calloc((size_t)j->n_models, sizeof *s->model_names);
  s->profile_names = calloc((size_t)j->n_profiles, sizeof *s->profile_names);
  s->models = calloc((size_t)j->n_models, sizeof *s->models);
  s->loaded = calloc((size_t)j->n_models, sizeof *s->loaded);
  s->model_error = calloc((size_t)j->n_models, sizeof *s->model_error);
  if (!s->profiles || !s->model_names || !s->profile_names || !s->models ||
      !s->loaded || !s->model_error) {
    rove_sweep_setup_deinit(s);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  s->profile_cert = calloc((size_t)j->n_profiles + 1, sizeof(int));
  if (!s->profile_cert) {
    rove_sweep_setup_deinit(s);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  if (j->n_profiles > 64) {
    rove_sweep_setup_deinit(s);
    return ROVE_ERR(ROVE_ERANGE, "%s: more than 64 profiles", job_path);
  }
  for (int m = 0; m < j->n_models; m++)
    s->model_names[m] = j->models[m].name;
  for (int p = 0; p < j->n_profiles && !rc; p++) {
    s->profile_names[p] = j->profiles[p].name;
    rc = build_profile(s, p);
    if (!rc)
      s->profile_cert[p] = rove_profile_certifies(s->profiles[p]);
  }
  s->plan.n_models = j->n_models;
  s->plan.n_profiles = j->n_profiles;
  s->plan.n_eps = j->n_eps;
  for (int e = 0; e < j->n_eps && e < 64; e++)
    s->plan.eps[e] = j->eps[e];
  s->plan.shard = j->shard;
  s->plan.skip = no_skip ? 0 : j->skip;
  s->plan.part = part;
  s->plan.n_parts = parts;
  s->plan.n = (int)j->n;
  if (!rc && load_inputs) {
    rc = rove_dataset_load(&s->data, j->data);
    if (rc) {
      char why[512];
      snprintf(why, sizeof why, "%s", rove_error_message());
      rc = rove_ini_error(
          rc, &j->ini, rove_ini_find(&j->ini, "job", NULL),
          rove_ini_key_find(rove_ini_find(&j->ini, "job", NULL), "data"), "%s",
          why);
    } else {
      s->data_loaded = 1;
      if (j->n > s->data.n)
        rc = ROVE_ERR(ROVE_ERANGE,
                      "%s: [job] n = %lld but the data spec '%s' has only %d "
                      "examples",
                      job_path, j->n, j->data, s->data.n);
      s->plan.n = j->n > 0 ? (int)j->n : s->data.n;
    }
    for (int m = 0; m < j->n_models && !rc; m++) {
      /* A model that does not load is not fatal: its units are recorded
       * as failed and the sweep goes on with the rest. */
      if (rove_model_load_norm(&s->models[m], j->models[m].path,
                               &j->models[m].norm) == 0)
        s->loaded[m] = 1;
      else
        snprintf(s->model_error[m], sizeof s->model_error[m], "%s",
                 rove_error_message());
    }
    if (!rc)
      job_hash(s);
  }
  if (rc) {
    rove_sweep_setup_deinit(s);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

void rove_sweep_setup_deinit(rove_sweep_setup *s) {
  for (int p = 0; p < s->job.n_profiles && s->profiles; p++)
    rove_profile_destroy(&s->profiles[p]);
  for (int m = 0; m < s->job.n_models && s->loaded; m++)
    if (s->loaded[m])
      rove_model_deinit(&s->models[m]);
  free(s->profiles);
  free(s->model_names);
  free(s->profile_names);
  free(s->profile_cert);
  free(s->models);
  free(s->loaded);
  free(s->model_error);
  if (s->data_loaded)
    rove_dataset_deinit(&s->data);
  rove_job_deinit(&s->job);
  memset(s, 0, sizeof *s);
}
