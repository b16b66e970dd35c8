/* sweep.c - the sweep coordinator: plans units from a job, hands them to
 * workers over MPI (or runs them itself with -np 1), journals results,
 * drains on signals, writes the results. */
#include "coordinator/sweep.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/format_rove.h"
#include "coordinator/hub.h"
#include "coordinator/report.h"
#include "coordinator/sweep_internal.h"
#include "transport/mpi_link.h"
#include "worker/worker.h"

/* ---- setup ---- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
  stop_signal = sig;
}

/* ---- the coordinator ---- */

/* A fingerprint of a result without its timing (the wall time of the same
 * unit differs between two runs of it): BLAKE2b of its encoding. */
static uint64_t result_fp(const rove_unit_result *r) {
  rove_unit_result t = *r;
  t.seconds = 0;
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_result(&w, &t);
  unsigned char h[8] = {0};
  if (!w.failed)
    crypto_generichash(h, sizeof h, w.data, w.len, NULL, 0);
  rove_wbuf_deinit(&w);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | h[i];
  return v | 1; /* never 0, the "unseen" mark */
}

static int replay_cb(void *user, const rove_unit_result *r) {
  coord *c = user;
  /* A journal may hold a record twice (written by a coordinator that was
   * racing another before the directory lock existed, or replayed twice by
   * hand): an exact duplicate of a unit already replayed is skipped and
   * counted; a different result for the same unit is refused. */
  if (r->unit < (uint32_t)c->sched.n_units && c->replay_fp) {
    uint64_t fp = result_fp(r);
    if (c->replay_fp[r->unit]) {
      if (c->replay_fp[r->unit] == fp) {
        c->replay_dupes++;
        return 0;
      }
      return ROVE_ERR(ROVE_EFORMAT,
                      "unit %u appears twice with different results",
                      (unsigned)r->unit);
    }
    c->replay_fp[r->unit] = fp;
  }
  ROVE_TRY(rove_sched_complete(&c->sched, r));
  if (r->status < 0)
    ROVE_TRY(rove_failures_add(&c->failures, r));
  return 0;
}

/* Applies a result (local indices) and journals it. */
static int accept_result(coord *c, rove_unit_result *r) {
  ROVE_TRY(rove_sched_complete(&c->sched, r));
  if (r->status < 0)
    ROVE_TRY(rove_failures_add(&c->failures, r));
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

/* Sends one unit (and the model and shard it needs, once per rank). */
static int dispatch(coord *c, int rank, const rove_sched_task *t) {
  int m = t->key.model, s = t->key.shard;
  rove_wbuf w;
  rove_wbuf_init(&w);
  encode_task(c, t, &w);
  if (w.failed) {
    rove_wbuf_deinit(&w);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory encoding unit %u",
                    (unsigned)t->unit);
  }
  ROVE_TRY(rove_sweep_link_send_unit(c->link, rank, m, &c->model_msg[m], s,
                                     &c->shard_msg[s], &w));
  return 0;
}

/* -np 1: rank 0 runs the unit itself through the same message path. */
static int run_local(coord *c, const rove_sched_task *t) {
  int stop = 0;
  rove_wbuf reply;
  rove_wbuf_init(&reply);
  int m = t->key.model, s = t->key.shard;
  int rc = 0;
  if (!c->local_model[m]) {
    rc = rove_worker_handle(&c->local, c->model_msg[m].data,
                            c->model_msg[m].len, &reply, &stop);
    c->local_model[m] = 1;
  }
  if (!rc && !c->local_shard[s]) {
    rc = rove_worker_handle(&c->local, c->shard_msg[s].data,
                            c->shard_msg[s].len, &reply, &stop);
    c->local_shard[s] = 1;
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
    double ta = rove_now();
    for (int w = 1; !draining && w < size; w++)
      while (rove_sweep_link_inflight(c->link, w) < 2) {
        rove_sched_task t;
        if (!rove_sched_next(&c->sched, &t))
          break;
        rc = dispatch(c, w, &t);
        if (rc)
          goto out;
        busy = 1;
      }
    if (size > 1) {
      const void *msg;
      size_t len;
      rc = rove_sweep_link_poll(c->link, &msg, &len);
      if (rc < 0)
        break;
      if (rc == 1) {
        rc = take_result(c, msg, len);
        if (rc)
          break;
        busy = 1;
      }
    }
    if (busy)
      c->busy_s += rove_now() - ta;
    if (c->link)
      rove_sweep_link_reap(c->link);
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
  return rc;
}

static void coord_deinit(coord *c) {
  rove_sweep_link_destroy(&c->link);
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
  free(c->local_model);
  free(c->local_shard);
  rove_failures_deinit(&c->failures);
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

/* One sweep writes a directory at a time: an exclusive flock on DIR/lock,
 * held for the sweep's life and released by the kernel however the
 * process ends (kill -9 included, so a resume never finds a stale lock).
 * The file names the holder for the message. */
static int lock_dir(coord *c) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lock", c->dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return ROVE_ERR(ROVE_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char who[256] = "";
    ssize_t n = pread(fd, who, sizeof who - 1, 0);
    who[n > 0 ? n : 0] = '\0';
    who[strcspn(who, "\n")] = '\0';
    close(fd);
    if (e == EWOULDBLOCK)
      return ROVE_ERR(ROVE_ESTATE,
                      "%s is in use by another sweep (%s); wait for it to "
                      "end, or use another --out",
                      c->dir, who[0] ? who : "holder unknown");
    return ROVE_ERR(ROVE_EIO, "%s: cannot lock: %s", path, strerror(e));
  }
  char host[128] = "?", me[300];
  gethostname(host, sizeof host - 1);
  int k = snprintf(me, sizeof me, "pid %ld on %s\n", (long)getpid(), host);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me, (size_t)k, 0) != k) {
    close(fd);
    return ROVE_ERR(ROVE_EIO, "%s: cannot write: %s", path, strerror(errno));
  }
  c->lock_fd = fd;
  return 0;
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
  ROVE_TRY(lock_dir(c));
  /* Everything that can fail on a bad job or environment goes before the
   * journal is created, so a failed start leaves no journal to refuse. */
  ROVE_TRY(prepare_messages(c));
  ROVE_TRY(sweep__start_energy(c));
  char jpath[4200];
  snprintf(jpath, sizeof jpath, "%s/journal", c->dir);
  rove_journal_header h = {.n = (uint32_t)c->su.plan.n,
                           .first = c->su.data.first,
                           .part = (uint32_t)o->part,
                           .n_parts = (uint32_t)o->parts,
                           .skip = (uint32_t)c->su.plan.skip};
  memcpy(h.job_hash, c->su.job_hash, 32);
  c->journal.log.fd = -1;
  if (o->resume && access(jpath, F_OK) == 0) {
    rove_journal_header jh;
    off_t good;
    int torn;
    c->replay_fp = calloc((size_t)c->sched.n_units + 1, sizeof *c->replay_fp);
    if (!c->replay_fp)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    double tr = rove_now();
    int rrc = rove_journal_replay(jpath, &jh, replay_cb, c, &good, &torn);
    tr = rove_now() - tr;
    free(c->replay_fp);
    c->replay_fp = NULL;
    ROVE_TRY(rrc);
    if (memcmp(jh.job_hash, h.job_hash, 32) != 0 || jh.n != h.n ||
        jh.part != h.part || jh.n_parts != h.n_parts || jh.skip != h.skip)
      return ROVE_ERR(ROVE_EINVAL,
                      "%s belongs to a different sweep (the job file, a "
                      "model, the data or --part changed); use a fresh --out",
                      jpath);
    ROVE_TRY(rove_journal_reopen(&c->journal, jpath, good));
    if (!o->quiet)
      fprintf(stderr, "sweep: resumed %d of %d units from %s in %.2f s%s\n",
              c->sched.done, c->sched.total, jpath, tr,
              torn ? " (dropped a torn last record)" : "");
    if (c->replay_dupes)
      fprintf(stderr,
              "sweep: %s held %lu duplicate record(s) of units already "
              "replayed, identical, skipped\n",
              jpath, c->replay_dupes);
  } else {
    ROVE_TRY(rove_journal_create(&c->journal, jpath, &h));
  }
  ROVE_TRY(sweep__copy_job(o->job_path, c->dir));
  ROVE_TRY(sweep__write_run(c));
  if (o->size > 1)
    ROVE_TRY(rove_sweep_link_create(&c->link, o->size, c->su.plan.n_models,
                                    c->sched.n_shards));
  c->local_model = calloc((size_t)c->su.plan.n_models + 1, 1);
  c->local_shard = calloc((size_t)c->sched.n_shards + 1, 1);
  if (!c->local_model || !c->local_shard)
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
  c.journal.log.fd = -1;
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
    rove_sweep_stop_workers(o->size);
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
  rove_sweep_stop_workers(o->size);
  rove_sweep_link_destroy(&c.link);
  int jrc = rove_journal_close(&c.journal);
  if (!rc)
    rc = jrc;
  /* Measurements still pending get up to [energy] wait seconds; the
   * sweep's own results never wait for them otherwise. */
  if (c.hub_on && !stop_signal && c.su.job.energy_wait > 0 &&
      rove_hub_poll(&c.hub) > 0) {
    /* The full wait is for agents that are measuring; when none has
     * connected, only a short grace for a late one, then the energy
     * columns stay "pending" (rove hub can fill them in later). */
    double wait = c.su.job.energy_wait, grace = wait < 15 ? wait : 15;
    double t0 = rove_now();
    if (!o->quiet) {
      if (c.hub.n_auth)
        fprintf(stderr, "sweep: waiting up to %g s for energy measurements\n",
                wait);
      else
        fprintf(stderr,
                "sweep: no rove-agent has connected; waiting %g s for one "
                "(energy stays pending otherwise)\n",
                grace);
    }
    while (!stop_signal && rove_hub_poll(&c.hub) > 0) {
      double el = rove_now() - t0, lim = c.hub.n_auth ? wait : grace;
      if (el >= lim)
        break;
      rove_hub_run(&c.hub, lim - el < 1 ? lim - el : 1);
    }
  }
  double wall = rove_now() - c.t0;
  rove_results_axes ax = {.job = c.su.job.name,
                          .models = c.su.model_names,
                          .profiles = c.su.profile_names,
                          .certify = c.su.profile_cert,
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
  int wrc = rove_results_write(c.dir, &c.sched, &ax, c.failures.f, c.failures.n,
                               wall);
  if (wrc) {
    rove_error_print(stderr);
    code = 1;
    if (rove_sched_finished(&c.sched))
      fprintf(stderr,
              "sweep: all %d units are in %s/journal, but the results could "
              "not be written there; once it has room and is writable, write "
              "them with:\n  mpirun -np %d rove sweep %s --out %s --resume\n",
              c.sched.total, c.dir, o->size, o->job_path, c.dir);
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
      rove_results_print(stdout, &c.sched, &ax, c.failures.f, c.failures.n);
    /* Rank 0's own CPU time: with workers it should be a sliver of one
     * core (the loop backs off to 1 ms sleeps when idle). */
    if (!o->quiet) {
      struct rusage ru;
      getrusage(RUSAGE_SELF, &ru);
      double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec +
                   (double)ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
      fprintf(stderr,
              "sweep: done in %.2f s; rank 0 used %.2f s CPU (%.1f%% of a "
              "core since start%s), busy %.2f s (%.1f us per unit), peak "
              "RSS %.1f MiB; results in %s\n",
              wall, cpu, 100 * cpu / (rove_now() - t_start),
              o->size > 1 ? ", coordinating" : ", coordinating and working",
              c.busy_s,
              1e6 * c.busy_s /
                  (c.sched.done > c.done_at_start
                       ? (double)(c.sched.done - c.done_at_start)
                       : 1.0),
              (double)ru.ru_maxrss / 1024.0, c.dir);
    }
    if (c.failures.n && !code)
      code = 1;
  }
  /* The directory is released once its summary is written. */
  if (c.lock_fd > 0)
    close(c.lock_fd);
  coord_deinit(&c);
  return code;
}
