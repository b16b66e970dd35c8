/* sweep.c - the sweep coordinator: plans units from a job, hands them to
 * workers over MPI (or runs them itself with -np 1), journals results,
 * drains on signals, writes the results. */
#include "coordinator/sweep.h"
#include "common/util.h"

#include <errno.h>
#include <mpi.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/format_rove.h"
#include "coordinator/hub.h"
#include "coordinator/report.h"
#include "worker/worker.h"
#include "worker/worker_mpi.h"

/* ---- setup ---- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
  stop_signal = sig;
}

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
  if (j->n_profiles > 64) {
    rove_sweep_setup_deinit(s);
    return ROVE_ERR(ROVE_ERANGE, "%s: more than 64 profiles", job_path);
  }
  for (int m = 0; m < j->n_models; m++)
    s->model_names[m] = j->models[m].name;
  for (int p = 0; p < j->n_profiles && !rc; p++) {
    s->profile_names[p] = j->profiles[p].name;
    rc = build_profile(s, p);
  }
  s->plan.n_models = j->n_models;
  s->plan.n_profiles = j->n_profiles;
  s->plan.n_eps = j->n_eps;
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
      if (rove_model_load(&s->models[m], j->models[m].path) == 0)
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
  free(s->models);
  free(s->loaded);
  free(s->model_error);
  if (s->data_loaded)
    rove_dataset_deinit(&s->data);
  rove_job_deinit(&s->job);
  memset(s, 0, sizeof *s);
}

/* ---- the coordinator ---- */

typedef struct pending_send {
  MPI_Request req;
  rove_wbuf buf; /* owned, or empty when the bytes are shared */
} pending_send;

typedef struct coord {
  const rove_sweep_opts *o;
  rove_sweep_setup su;
  rove_sched sched;
  rove_journal journal;
  char dir[4096];
  rove_wbuf *model_msg; /* n_models encoded MODEL messages */
  rove_wbuf *shard_msg; /* n_shards encoded DATA messages */
  unsigned char (*shard_key)[32];
  rove_wbuf *profile_bytes; /* n_profiles */
  int n_workers;            /* ranks doing work (size - 1, or 1 local) */
  uint8_t *has_model;       /* [rank][model] */
  uint8_t *has_shard;       /* [rank][shard] */
  int *inflight;            /* per rank */
  pending_send *sends;
  int n_sends, cap_sends;
  rove_worker local; /* -np 1: rank 0 works too */
  rove_failure *failures;
  int n_failures, cap_failures;
  rove_hub hub; /* energy hub, when the job has [energy] */
  int hub_on;
  char **boards; /* union of the models' boards and [energy] boards */
  int n_boards;
  double t0, last_progress;
  int done_at_start;
  int last_m, last_p, last_e;
  int tty;
} coord;

static int add_failure(coord *c, const rove_unit_result *r) {
  if (c->n_failures == c->cap_failures) {
    int cap = c->cap_failures ? 2 * c->cap_failures : 8;
    rove_failure *nf = realloc(c->failures, (size_t)cap * sizeof *nf);
    if (!nf)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    c->failures = nf;
    c->cap_failures = cap;
  }
  rove_failure *f = &c->failures[c->n_failures++];
  f->unit = r->unit;
  f->status = r->status;
  snprintf(f->error, sizeof f->error, "%s", r->error);
  return 0;
}

static int replay_cb(void *user, const rove_unit_result *r) {
  coord *c = user;
  ROVE_TRY(rove_sched_complete(&c->sched, r));
  if (r->status < 0)
    ROVE_TRY(add_failure(c, r));
  return 0;
}

/* Applies a result (local indices) and journals it. */
static int accept_result(coord *c, rove_unit_result *r) {
  ROVE_TRY(rove_sched_complete(&c->sched, r));
  if (r->status < 0)
    ROVE_TRY(add_failure(c, r));
  ROVE_TRY(rove_journal_append(&c->journal, r));
  if (r->kind == ROVE_UNIT_ATTACK) {
    rove_unit_key k;
    rove_sched_key(&c->sched, r->unit, &k);
    c->last_m = k.model;
    c->last_p = k.profile;
    c->last_e = k.eps;
  }
  return 0;
}

static int copy_job(const char *from, const char *dir) {
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

/* Fails the clean passes of models that did not load, so every unit that
 * depends on them is recorded as failed with the loader's message. */
static int fail_unloaded(coord *c) {
  for (int m = 0; m < c->su.plan.n_models; m++) {
    if (c->su.loaded[m])
      continue;
    for (int s = 0; s < c->sched.n_shards; s++) {
      rove_unit_key k = {.kind = ROVE_UNIT_CLEAN, .model = m, .shard = s};
      int64_t u = rove_sched_id(&c->sched, &k);
      if (s % c->su.plan.n_parts != c->su.plan.part ||
          rove_sched_unit_done(&c->sched, (uint32_t)u))
        continue;
      rove_unit_result r;
      rove_unit_result_init(&r);
      r.unit = (uint32_t)u;
      r.kind = ROVE_UNIT_CLEAN;
      r.status = ROVE_EIO;
      snprintf(r.error, sizeof r.error, "%s", c->su.model_error[m]);
      int lo = s * c->su.plan.shard, hi = lo + c->su.plan.shard;
      if (hi > c->su.plan.n)
        hi = c->su.plan.n;
      int rc = rove_unit_result_alloc(&r, (uint32_t)(hi - lo));
      for (int i = 0; !rc && i < hi - lo; i++)
        r.idx[i] = lo + i;
      if (!rc)
        rc = accept_result(c, &r);
      rove_unit_result_deinit(&r);
      ROVE_TRY(rc);
    }
  }
  return 0;
}

static int prepare_messages(coord *c) {
  rove_sweep_setup *su = &c->su;
  int M = su->plan.n_models, S = c->sched.n_shards, P = su->plan.n_profiles;
  c->model_msg = calloc((size_t)M, sizeof *c->model_msg);
  c->shard_msg = calloc((size_t)S, sizeof *c->shard_msg);
  c->shard_key = calloc((size_t)S, sizeof *c->shard_key);
  c->profile_bytes = calloc((size_t)P, sizeof *c->profile_bytes);
  if (!c->model_msg || !c->shard_msg || !c->shard_key || !c->profile_bytes)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (int m = 0; m < M; m++) {
    if (!su->loaded[m])
      continue;
    rove_wbuf img;
    rove_wbuf_init(&img);
    int rc = rove_model_encode(&su->models[m], &img);
    if (!rc)
      rove_sw_put_model(&c->model_msg[m], su->models[m].hash, img.data,
                        img.len);
    rove_wbuf_deinit(&img);
    ROVE_TRY(rc);
  }
  int numel = rove_shape_numel(&su->data.shape);
  for (int s = 0; s < S; s++) {
    int lo = s * su->plan.shard, hi = lo + su->plan.shard;
    if (hi > su->plan.n)
      hi = su->plan.n;
    rove_sw_data d = {.first = su->data.first + lo,
                      .n = (uint32_t)(hi - lo),
                      .numel = (uint32_t)numel,
                      .x = su->data.x + (size_t)lo * numel,
                      .y = su->data.y + lo};
    rove_worker_data_key(&d, d.key);
    memcpy(c->shard_key[s], d.key, 32);
    rove_sw_put_data(&c->shard_msg[s], &d);
  }
  for (int p = 0; p < P; p++)
    rove_profile_encode(su->profiles[p], &c->profile_bytes[p]);
  for (int m = 0; m < M; m++)
    if (c->model_msg[m].failed)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (int s = 0; s < S; s++)
    if (c->shard_msg[s].failed)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  return 0;
}

static void encode_task(coord *c, const rove_sched_task *t, rove_wbuf *w) {
  rove_sweep_setup *su = &c->su;
  const rove_unit_key *k = &t->key;
  int lo = k->shard * su->plan.shard;
  uint32_t *off = malloc((t->n ? t->n : 1) * sizeof *off);
  if (!off) {
    w->failed = 1;
    return;
  }
  for (uint32_t i = 0; i < t->n; i++)
    off[i] = (uint32_t)(t->idx[i] - lo);
  rove_sw_task st = {.unit = t->unit,
                     .kind = k->kind,
                     .seed = su->job.seed,
                     .n = t->n,
                     .off = off};
  memcpy(st.model_hash, su->models[k->model].hash, 32);
  memcpy(st.data_key, c->shard_key[k->shard], 32);
  if (k->kind == ROVE_UNIT_ATTACK) {
    st.norm_linf = rove_profile_norm_linf(su->profiles[k->profile]);
    st.eps = su->job.eps[k->eps];
    st.restart = k->restart;
    st.profile = c->profile_bytes[k->profile].data;
    st.profile_len = (uint32_t)c->profile_bytes[k->profile].len;
  }
  rove_sw_put_task(w, &st);
  free(off);
}

/* Decodes a worker's result and maps global example indices back to the
 * scheduler's local ones. */
static int take_result(coord *c, const void *buf, size_t len) {
  rove_rbuf r;
  rove_rbuf_init(&r, buf, len);
  rove_unit_result res;
  int rc = rove_sw_get_result(&r, &res);
  for (uint32_t i = 0; !rc && i < res.n; i++)
    res.idx[i] -= c->su.data.first;
  if (!rc)
    rc = accept_result(c, &res);
  rove_unit_result_deinit(&res);
  return rc;
}

static int isend(coord *c, int rank, const rove_wbuf *shared, rove_wbuf *own) {
  if (c->n_sends == c->cap_sends) {
    int cap = c->cap_sends ? 2 * c->cap_sends : 16;
    pending_send *ns = realloc(c->sends, (size_t)cap * sizeof *ns);
    if (!ns)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    c->sends = ns;
    c->cap_sends = cap;
  }
  pending_send *p = &c->sends[c->n_sends];
  const rove_wbuf *src = shared ? shared : own;
  if (own)
    p->buf = *own;
  else
    rove_wbuf_init(&p->buf);
  if (MPI_Isend(src->data, (int)src->len, MPI_BYTE, rank, ROVE_TAG_WORK,
                MPI_COMM_WORLD, &p->req) != MPI_SUCCESS)
    return ROVE_ERR(ROVE_EMPI, "MPI_Isend to rank %d failed", rank);
  c->n_sends++;
  return 0;
}

static void reap_sends(coord *c, int wait) {
  for (int i = 0; i < c->n_sends;) {
    int done = 0;
    if (wait)
      MPI_Wait(&c->sends[i].req, MPI_STATUS_IGNORE), done = 1;
    else
      MPI_Test(&c->sends[i].req, &done, MPI_STATUS_IGNORE);
    if (done) {
      rove_wbuf_deinit(&c->sends[i].buf);
      c->sends[i] = c->sends[--c->n_sends];
    } else {
      i++;
    }
  }
}

/* Sends one unit (and the model and shard it needs, once per rank). */
static int dispatch(coord *c, int rank, const rove_sched_task *t) {
  int M = c->su.plan.n_models, S = c->sched.n_shards;
  int m = t->key.model, s = t->key.shard;
  if (!c->has_model[rank * M + m]) {
    ROVE_TRY(isend(c, rank, &c->model_msg[m], NULL));
    c->has_model[rank * M + m] = 1;
  }
  if (!c->has_shard[rank * S + s]) {
    ROVE_TRY(isend(c, rank, &c->shard_msg[s], NULL));
    c->has_shard[rank * S + s] = 1;
  }
  rove_wbuf w;
  rove_wbuf_init(&w);
  encode_task(c, t, &w);
  if (w.failed) {
    rove_wbuf_deinit(&w);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory encoding unit %u",
                    (unsigned)t->unit);
  }
  ROVE_TRY(isend(c, rank, NULL, &w));
  c->inflight[rank]++;
  return 0;
}

/* -np 1: rank 0 runs the unit itself through the same message path. */
static int run_local(coord *c, const rove_sched_task *t) {
  int stop = 0;
  rove_wbuf reply;
  rove_wbuf_init(&reply);
  int m = t->key.model, s = t->key.shard;
  int rc = 0;
  if (!c->has_model[m]) {
    rc = rove_worker_handle(&c->local, c->model_msg[m].data,
                            c->model_msg[m].len, &reply, &stop);
    c->has_model[m] = 1;
  }
  if (!rc && !c->has_shard[s]) {
    rc = rove_worker_handle(&c->local, c->shard_msg[s].data,
                            c->shard_msg[s].len, &reply, &stop);
    c->has_shard[s] = 1;
  }
  rove_wbuf w;
  rove_wbuf_init(&w);
  if (!rc) {
    encode_task(c, t, &w);
    rc = w.failed ? ROVE_ERR(ROVE_ENOMEM, "out of memory") : 0;
  }
  if (!rc)
    rc = rove_worker_handle(&c->local, w.data, w.len, &reply, &stop);
  if (!rc)
    rc = take_result(c, reply.data, reply.len);
  rove_wbuf_deinit(&w);
  rove_wbuf_deinit(&reply);
  return rc;
}

static void progress(coord *c, int final) {
  double t = rove_now();
  int every = c->tty ? 1 : 5;
  if (c->o->quiet || (!final && t - c->last_progress < every))
    return;
  c->last_progress = t;
  rove_sched *s = &c->sched;
  double el = t - c->t0;
  int ran = s->done - c->done_at_start;
  double rate = el > 0 ? ran / el : 0;
  double eta = rate > 0 ? (s->total - s->done) / rate : 0;
  char acc[160] = "";
  if (c->last_m >= 0) {
    const rove_row *r = rove_sched_row(s, c->last_m, c->last_p, c->last_e);
    /* Not yet broken among the clean-correct: an upper bound on the
     * robust accuracy that only falls as restarts run. */
    snprintf(acc, sizeof acc, "  robust <= %.3f (%s %s eps %g)",
             r->n ? (double)(r->clean_correct - r->broken) / r->n : 0.0,
             c->su.model_names[c->last_m], c->su.profile_names[c->last_p],
             c->su.job.eps[c->last_e]);
  }
  if (c->tty) {
    int width = 30, fill = s->total ? width * s->done / s->total : width;
    char bar[32];
    for (int i = 0; i < width; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %d/%d units  %.2f/s  ETA %.0fs%s\033[K", bar,
            s->done, s->total, rate, eta, acc);
    if (final)
      fputc('\n', stderr);
  } else {
    fprintf(stderr, "sweep: %d/%d units, %.2f units/s, ETA %.0f s%s\n", s->done,
            s->total, rate, eta, acc);
  }
}

static int loop(coord *c) {
  int size = c->o->size;
  long backoff = 1000;
  int rc = 0, draining = 0;
  unsigned char *buf = NULL;
  size_t cap = 0;
  for (;;) {
    if (stop_signal && !draining) {
      draining = 1;
      if (!c->o->quiet)
        fprintf(stderr,
                "\nsweep: signal %d: handing out no more work, collecting "
                "%d unit(s) in flight\n",
                (int)stop_signal, c->sched.inflight);
    }
    int busy = 0;
    if (!draining && size == 1) {
      rove_sched_task t;
      if (rove_sched_next(&c->sched, &t)) {
        rc = run_local(c, &t);
        if (rc)
          break;
        busy = 1;
      }
    }
    /* One unit in flight and one prefetched per worker. */
    for (int w = 1; !draining && w < size; w++)
      while (c->inflight[w] < 2) {
        rove_sched_task t;
        if (!rove_sched_next(&c->sched, &t))
          break;
        rc = dispatch(c, w, &t);
        if (rc)
          goto out;
        busy = 1;
      }
    int flag = 0;
    MPI_Status st;
    if (size > 1)
      MPI_Iprobe(MPI_ANY_SOURCE, ROVE_TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
    if (flag) {
      int count;
      MPI_Get_count(&st, MPI_BYTE, &count);
      if ((size_t)count > cap) {
        unsigned char *nb = realloc(buf, (size_t)count);
        if (!nb) {
          rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
          break;
        }
        buf = nb;
        cap = (size_t)count;
      }
      MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, ROVE_TAG_RESULT,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      c->inflight[st.MPI_SOURCE]--;
      rc = take_result(c, buf, (size_t)count);
      if (rc)
        break;
      busy = 1;
    }
    reap_sends(c, 0);
    /* The energy hub shares this thread: its poll never blocks, so board
     * agents are served between MPI probes (hub.h). */
    if (c->hub_on)
      rove_hub_poll(&c->hub);
    rc = rove_journal_sync(&c->journal, 1.0);
    if (rc)
      break;
    progress(c, 0);
    if (c->sched.inflight == 0 && (draining || rove_sched_finished(&c->sched)))
      break;
    if (busy)
      backoff = 1000;
    else
      rove_mpi_backoff(&backoff);
  }
out:
  free(buf);
  return rc;
}

static void stop_workers(coord *c) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_stop(&w);
  for (int r = 1; r < c->o->size; r++)
    MPI_Send(w.data, (int)w.len, MPI_BYTE, r, ROVE_TAG_WORK, MPI_COMM_WORLD);
  rove_wbuf_deinit(&w);
}

static void coord_deinit(coord *c) {
  reap_sends(c, 1);
  free(c->sends);
  for (int m = 0; c->model_msg && m < c->su.plan.n_models; m++)
    rove_wbuf_deinit(&c->model_msg[m]);
  for (int s = 0; c->shard_msg && s < c->sched.n_shards; s++)
    rove_wbuf_deinit(&c->shard_msg[s]);
  for (int p = 0; c->profile_bytes && p < c->su.plan.n_profiles; p++)
    rove_wbuf_deinit(&c->profile_bytes[p]);
  free(c->model_msg);
  free(c->shard_msg);
  free(c->shard_key);
  free(c->profile_bytes);
  free(c->has_model);
  free(c->has_shard);
  free(c->inflight);
  free(c->failures);
  rove_worker_deinit(&c->local);
  if (c->hub_on)
    rove_hub_deinit(&c->hub);
  for (int b = 0; b < c->n_boards; b++)
    free(c->boards[b]);
  free(c->boards);
  rove_journal_close(&c->journal);
  rove_sched_deinit(&c->sched);
  rove_sweep_setup_deinit(&c->su);
}

static int add_board(coord *c, const char *b, size_t len) {
  while (len > 0 && (*b == ' ' || *b == '\t'))
    b++, len--;
  while (len > 0 && (b[len - 1] == ' ' || b[len - 1] == '\t'))
    len--;
  if (len == 0)
    return 0;
  for (int i = 0; i < c->n_boards; i++)
    if (strlen(c->boards[i]) == len && !strncmp(c->boards[i], b, len))
      return 0;
  char **nb = realloc(c->boards, (size_t)(c->n_boards + 1) * sizeof *nb);
  if (!nb)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  c->boards = nb;
  if (!(c->boards[c->n_boards] = strndup(b, len)))
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  c->n_boards++;
  return 0;
}

/* [energy]: start the hub and ask each board class to measure each model
 * (a model's `board` key, else every board in [energy] boards). */
static int start_energy(coord *c) {
  const rove_job *j = &c->su.job;
  if (!j->energy)
    return 0;
  const char *all = j->energy_boards ? j->energy_boards : "";
  for (const char *p = all;;) {
    const char *e = strchr(p, ',');
    ROVE_TRY(add_board(c, p, e ? (size_t)(e - p) : strlen(p)));
    if (!e)
      break;
    p = e + 1;
  }
  int n_listed = c->n_boards;
  for (int m = 0; m < j->n_models; m++)
    if (j->models[m].board)
      ROVE_TRY(add_board(c, j->models[m].board, strlen(j->models[m].board)));
  if (c->n_boards == 0)
    return rove_ini_error(ROVE_EINVAL, &j->ini, j->energy, NULL,
                          "no board to measure on: set boards = ... here or "
                          "board = ... in a [model] section");
  if (!j->energy_token_file)
    return rove_ini_error(ROVE_EINVAL, &j->ini, j->energy, NULL,
                          "missing required key 'token' (the shared token "
                          "file the agents also use)");
  rove_hub_config cfg;
  rove_hub_config_default(&cfg);
  snprintf(cfg.host, sizeof cfg.host, "%s", j->energy_listen);
  cfg.port = (int)j->energy_port;
  snprintf(cfg.token_file, sizeof cfg.token_file, "%s", j->energy_token_file);
  size_t dl = strlen(c->dir);
  if (dl >= sizeof cfg.dir)
    return ROVE_ERR(ROVE_ERANGE, "%s: output path too long for the energy hub",
                    c->dir);
  memcpy(cfg.dir, c->dir, dl + 1);
  cfg.quiet = c->o->quiet;
  int rc = rove_hub_init(&c->hub, &cfg);
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", rove_error_message());
    return rove_ini_error(rc, &j->ini, j->energy, NULL,
                          "cannot start the energy hub: %s", why);
  }
  c->hub_on = 1;
  for (int m = 0; m < j->n_models; m++) {
    if (!c->su.loaded[m])
      continue;
    /* The model message holds the .rove image after a 48-byte header
     * (magic, version, type, hash, length). */
    const rove_wbuf *mm = &c->model_msg[m];
    size_t skip = 4 + 2 + 1 + 32 + 8;
    for (int b = 0; b < c->n_boards; b++) {
      if (j->models[m].board ? strcmp(j->models[m].board, c->boards[b]) != 0
                             : b >= n_listed)
        continue;
      ROVE_TRY(rove_hub_add_model(&c->hub, c->boards[b], j->models[m].name,
                                  c->su.models[m].hash, mm->data + skip,
                                  mm->len - skip, "clean", NULL, 0));
    }
  }
  return 0;
}

/* DIR/run.json: what `rove report` shows about the run (report.h). */
static int write_run(coord *c) {
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

static int start(coord *c) {
  const rove_sweep_opts *o = c->o;
  ROVE_TRY(rove_sweep_setup_init(&c->su, o->job_path, 1, o->no_skip, o->part,
                                 o->parts));
  const char *out = o->out ? o->out : c->su.job.output;
  if (out)
    snprintf(c->dir, sizeof c->dir, "%s", out);
  else
    snprintf(c->dir, sizeof c->dir, "runs/%s", c->su.job.name);
  if (o->parts > 1) {
    size_t l = strlen(c->dir);
    snprintf(c->dir + l, sizeof c->dir - l, "/part%d", o->part);
  }
  ROVE_TRY(rove_sched_init(&c->sched, &c->su.plan));
  ROVE_TRY(rove_mkdirs(c->dir));
  /* Everything that can fail on a bad job or environment goes before the
   * journal is created, so a failed start leaves no journal to refuse. */
  ROVE_TRY(prepare_messages(c));
  ROVE_TRY(start_energy(c));
  char jpath[4200];
  snprintf(jpath, sizeof jpath, "%s/journal", c->dir);
  rove_journal_header h = {.n = (uint32_t)c->su.plan.n,
                           .first = c->su.data.first,
                           .part = (uint32_t)o->part,
                           .n_parts = (uint32_t)o->parts,
                           .skip = (uint32_t)c->su.plan.skip};
  memcpy(h.job_hash, c->su.job_hash, 32);
  c->journal.fd = -1;
  if (o->resume && access(jpath, F_OK) == 0) {
    rove_journal_header jh;
    off_t good;
    int torn;
    ROVE_TRY(rove_journal_replay(jpath, &jh, replay_cb, c, &good, &torn));
    if (memcmp(jh.job_hash, h.job_hash, 32) != 0 || jh.n != h.n ||
        jh.part != h.part || jh.n_parts != h.n_parts || jh.skip != h.skip)
      return ROVE_ERR(ROVE_EINVAL,
                      "%s belongs to a different sweep (the job file, a "
                      "model, the data or --part changed); use a fresh --out",
                      jpath);
    ROVE_TRY(rove_journal_reopen(&c->journal, jpath, good));
    if (!o->quiet)
      fprintf(stderr, "sweep: resumed %d of %d units from %s%s\n",
              c->sched.done, c->sched.total, jpath,
              torn ? " (dropped a torn last record)" : "");
  } else {
    ROVE_TRY(rove_journal_create(&c->journal, jpath, &h));
  }
  ROVE_TRY(copy_job(o->job_path, c->dir));
  ROVE_TRY(write_run(c));
  int ranks = o->size;
  c->has_model = calloc((size_t)ranks * c->su.plan.n_models, 1);
  c->has_shard = calloc((size_t)ranks * c->sched.n_shards, 1);
  c->inflight = calloc((size_t)ranks, sizeof *c->inflight);
  if (!c->has_model || !c->has_shard || !c->inflight)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  rove_worker_init(&c->local, 0);
  ROVE_TRY(fail_unloaded(c));
  return 0;
}

int rove_sweep_coordinate(const rove_sweep_opts *o) {
  coord c;
  memset(&c, 0, sizeof c);
  double t_start = rove_now();
  c.o = o;
  c.journal.fd = -1;
  c.last_m = -1;
  c.tty = isatty(2);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);

  int rc = start(&c);
  if (rc) {
    rove_error_print(stderr);
    stop_workers(&c);
    coord_deinit(&c);
    return 1;
  }
  if (!o->quiet)
    fprintf(stderr,
            "sweep %s: %d units (%d models, %d profiles, %d eps, %d "
            "shards of %d), %d worker rank(s), output %s\n",
            c.su.job.name, c.sched.total, c.su.plan.n_models,
            c.su.plan.n_profiles, c.su.plan.n_eps, c.sched.n_shards,
            c.su.plan.shard, o->size > 1 ? o->size - 1 : 1, c.dir);
  c.t0 = c.last_progress = rove_now();
  c.done_at_start = c.sched.done;
  rc = loop(&c);
  progress(&c, 1);
  stop_workers(&c);
  reap_sends(&c, 1);
  int jrc = rove_journal_close(&c.journal);
  if (!rc)
    rc = jrc;
  /* Measurements still pending get up to [energy] wait seconds; the
   * sweep's own results never wait for them otherwise. */
  if (c.hub_on && !stop_signal && c.su.job.energy_wait > 0 &&
      rove_hub_poll(&c.hub) > 0) {
    if (!o->quiet)
      fprintf(stderr, "sweep: waiting up to %g s for energy measurements\n",
              c.su.job.energy_wait);
    rove_hub_run(&c.hub, c.su.job.energy_wait);
  }
  double wall = rove_now() - c.t0;
  rove_results_axes ax = {.job = c.su.job.name,
                          .models = c.su.model_names,
                          .profiles = c.su.profile_names,
                          .eps = c.su.job.eps,
                          .first = c.su.data.first,
                          .energy = c.hub_on ? rove_hub_results(&c.hub) : NULL,
                          .boards = (const char *const *)c.boards,
                          .n_boards = c.n_boards};
  int code = 0;
  if (rc) {
    rove_error_print(stderr);
    code = 1;
  }
  int wrc =
      rove_results_write(c.dir, &c.sched, &ax, c.failures, c.n_failures, wall);
  if (wrc) {
    rove_error_print(stderr);
    code = 1;
  }
  if (!rove_sched_finished(&c.sched)) {
    fprintf(stderr,
            "sweep: stopped with %d of %d units done; the journal keeps them. "
            "Resume with:\n  mpirun -np %d rove sweep %s --out %s --resume%s\n",
            c.sched.done, c.sched.total, o->size, o->job_path, c.dir,
            o->no_skip ? " --no-skip" : "");
    if (!code)
      code = ROVE_EXIT_INTERRUPTED;
  } else {
    if (!o->quiet)
      rove_results_print(stdout, &c.sched, &ax, c.failures, c.n_failures);
    /* Rank 0's own CPU time: with workers it should be a sliver of one
     * core (the loop backs off to 1 ms sleeps when idle). */
    if (!o->quiet) {
      struct rusage ru;
      getrusage(RUSAGE_SELF, &ru);
      double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec +
                   (double)ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
      fprintf(stderr,
              "sweep: done in %.2f s; rank 0 used %.2f s CPU (%.1f%% of a "
              "core since start%s); results in %s\n",
              wall, cpu, 100 * cpu / (rove_now() - t_start),
              o->size > 1 ? ", coordinating" : ", coordinating and working",
              c.dir);
    }
    if (c.n_failures && !code)
      code = 1;
  }
  coord_deinit(&c);
  return code;
}
