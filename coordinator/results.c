/* results.c - summary.csv/json and per_example.csv from the scheduler. */
#include "coordinator/results.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "coordinator/hub.h"

const char *rove_verdict_name(int kind) {
  switch (kind) {
  case ROVE_V_ROBUST: return "robust";
  case ROVE_V_BROKEN: return "broken";
  case ROVE_V_CLEAN_WRONG: return "clean-wrong";
  case ROVE_V_ERROR: return "error";
  default: return "pending";
  }
}

static void hex(const unsigned char h[32], char out[65]) {
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static const char *attack_name(int a) {
  int n;
  const char *const *names = rove_attack_names(&n);
  if (a < 0)
    return "clean";
  return a < n ? names[a] : "?";
}

/* Opens dir/name.tmp; close_atomic renames it over dir/name. */
static FILE *open_tmp(const char *dir, const char *name, char *tmp,
                      size_t cap) {
  snprintf(tmp, cap, "%s/%s.tmp", dir, name);
  return fopen(tmp, "w");
}

static int close_atomic(FILE *f, const char *tmp, const char *dir,
                        const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return rove_file_commit(f, tmp, path, "results file");
}

static void describe_unit(rove_sched *s, const rove_results_axes *ax,
                          uint32_t unit, char *buf, size_t cap) {
  rove_unit_key k;
  rove_sched_key(s, unit, &k);
  if (k.kind == ROVE_UNIT_CLEAN)
    snprintf(buf, cap, "model %s clean pass, shard %d", ax->models[k.model],
             k.shard);
  else
    snprintf(buf, cap, "model %s profile %s eps %g restart %d shard %d",
             ax->models[k.model], ax->profiles[k.profile], ax->eps[k.eps],
             k.restart, k.shard);
}

/* Certified accuracy of model m at eps e: the first certify profile's
 * robust share (the same for every row of that model and eps, so the
 * bracket [certified, attacked] reads off one row), or -1 when the job has
 * no certify profile. */
static double certified_acc(rove_sched *s, const rove_results_axes *ax, int m,
                            int e) {
  for (int p = 0; ax->certify && p < s->plan.n_profiles; p++)
    if (ax->certify[p]) {
      const rove_row *r = rove_sched_row(s, m, p, e);
      return r->n ? (double)r->robust / r->n : 0;
    }
  return -1;
}

static const char *cert_text(double v, char *buf) {
  if (v < 0)
    return "null";
  snprintf(buf, 32, "%.6f", v);
  return buf;
}

int rove_results_write(const char *dir, rove_sched *s,
                       const rove_results_axes *ax, const rove_failure *fl,
                       int n_failures, double wall_s) {
  const rove_plan *pl = &s->plan;
  char tmp[4200];
  FILE *f = open_tmp(dir, "summary.csv", tmp, sizeof tmp);
  if (!f)
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  fprintf(f, "model,model_hash,profile,eps,n,clean_acc,robust_acc,robust,"
             "broken,clean_wrong,errors,units,failed_units,grad_evals,"
             "forward_evals");
  for (int b = 0; b < ROVE_DIAG_COUNT; b++)
    fprintf(f, ",diag_%s", rove_diag_name(b));
  fprintf(f, ",certified_acc,wall_s");
  /* Energy columns come after the sweep's own (hub.h's join). */
  if (ax->energy && ax->n_boards > 0) {
    fputc(',', f);
    rove_energy_csv_header(f, ax->boards, ax->n_boards);
  }
  fputc('\n', f);
  for (int m = 0; m < pl->n_models; m++) {
    char h[65];
    hex(s->model_hash[m], h);
    for (int p = 0; p < pl->n_profiles; p++)
      for (int e = 0; e < pl->n_eps; e++) {
        const rove_row *r = rove_sched_row(s, m, p, e);
        fprintf(f, "%s,%s,%s,%.9g,%d,%.6f,%.6f,%d,%d,%d,%d,%d,%d,%llu,%llu",
                ax->models[m], s->hash_known[m] ? h : "", ax->profiles[p],
                ax->eps[e], r->n, r->n ? (double)r->clean_correct / r->n : 0,
                r->n ? (double)r->robust / r->n : 0, r->robust, r->broken,
                r->clean_wrong, r->errors, r->units, r->failed_units,
                (unsigned long long)r->grad_evals,
                (unsigned long long)r->forward_evals);
        for (int b = 0; b < ROVE_DIAG_COUNT; b++)
          fprintf(f, ",%d", r->diag[b]);
        double ca = certified_acc(s, ax, m, e);
        if (ca >= 0)
          fprintf(f, ",%.6f", ca);
        else
          fputc(',', f);
        fprintf(f, ",%.3f", r->seconds);
        if (ax->energy && ax->n_boards > 0) {
          fputc(',', f);
          rove_energy_csv_row(f, ax->energy, s->model_hash[m], ax->boards,
                              ax->n_boards);
        }
        fputc('\n', f);
      }
  }
  ROVE_TRY(close_atomic(f, tmp, dir, "summary.csv"));

  f = open_tmp(dir, "summary.json", tmp, sizeof tmp);
  if (!f)
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  fprintf(f, "{\n  \"job\": ");
  rove_json_str(f, ax->job);
  fprintf(f,
          ",\n  \"n\": %d,\n  \"part\": %d,\n  \"parts\": %d,\n"
          "  \"units\": %d,\n  \"units_done\": %d,\n  \"complete\": %s,\n"
          "  \"wall_s\": %.3f,\n  \"rows\": [",
          pl->n, pl->part, pl->n_parts, s->total, s->done,
          rove_sched_finished(s) ? "true" : "false", wall_s);
  int first = 1;
  for (int m = 0; m < pl->n_models; m++) {
    char h[65];
    hex(s->model_hash[m], h);
    for (int p = 0; p < pl->n_profiles; p++)
      for (int e = 0; e < pl->n_eps; e++) {
        const rove_row *r = rove_sched_row(s, m, p, e);
        char ct[32];
        fprintf(f, "%s\n    {\"model\": ", first ? "" : ",");
        first = 0;
        rove_json_str(f, ax->models[m]);
        fprintf(f, ", \"model_hash\": \"%s\", \"profile\": ",
                s->hash_known[m] ? h : "");
        rove_json_str(f, ax->profiles[p]);
        fprintf(f,
                ", \"eps\": %.9g, \"n\": %d, \"clean_acc\": %.6f, "
                "\"robust_acc\": %.6f, \"robust\": %d, \"broken\": %d, "
                "\"errors\": %d, \"units\": %d, \"failed_units\": %d, "
                "\"grad_evals\": %llu, \"forward_evals\": %llu, "
                "\"wall_s\": %.3f, \"certified_acc\": %s, "
                "\"diagnostics\": {",
                ax->eps[e], r->n, r->n ? (double)r->clean_correct / r->n : 0,
                r->n ? (double)r->robust / r->n : 0, r->robust, r->broken,
                r->errors, r->units, r->failed_units,
                (unsigned long long)r->grad_evals,
                (unsigned long long)r->forward_evals, r->seconds,
                cert_text(certified_acc(s, ax, m, e), ct));
        for (int b = 0; b < ROVE_DIAG_COUNT; b++)
          fprintf(f, "%s\"%s\": %d", b ? ", " : "", rove_diag_name(b),
                  r->diag[b]);
        fprintf(f, "}");
        if (ax->energy) {
          fprintf(f, ", ");
          rove_energy_json(f, ax->energy, s->model_hash[m], ax->boards,
                           ax->n_boards);
        }
        fprintf(f, "}");
      }
  }
  fprintf(f, "\n  ],\n  \"failures\": [");
  for (int i = 0; i < n_failures; i++) {
    char d[256];
    describe_unit(s, ax, fl[i].unit, d, sizeof d);
    fprintf(f, "%s\n    {\"unit\": %u, \"what\": ", i ? "," : "",
            (unsigned)fl[i].unit);
    rove_json_str(f, d);
    fprintf(f, ", \"error\": ");
    rove_json_str(f, fl[i].error);
    fprintf(f, "}");
  }
  fprintf(f, "%s]\n}\n", n_failures ? "\n  " : "");
  ROVE_TRY(close_atomic(f, tmp, dir, "summary.json"));

  f = open_tmp(dir, "per_example.csv", tmp, sizeof tmp);
  if (!f)
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  fprintf(f, "model,profile,eps,index,label,verdict,eps_found,restart,attack,"
             "margin\n");
  for (int m = 0; m < pl->n_models; m++)
    for (int p = 0; p < pl->n_profiles; p++)
      for (int e = 0; e < pl->n_eps; e++)
        for (int i = 0; i < pl->n; i++) {
          if (!rove_sched_owns(s, i))
            continue;
          const rove_verdict *v;
          int kind = rove_sched_verdict(s, m, p, e, i, &v);
          const rove_clean *c = &s->clean[(size_t)m * pl->n + i];
          fprintf(f, "%s,%s,%.9g,%lld,", ax->models[m], ax->profiles[p],
                  ax->eps[e], (long long)(ax->first + i));
          if (c->known > 0)
            fprintf(f, "%d", c->label);
          fprintf(f, ",%s,", rove_verdict_name(kind));
          if (kind == ROVE_V_BROKEN)
            fprintf(f, "%.9g,%d,%s", ax->eps[v->eps_found], v->restart,
                    attack_name(v->attack));
          else
            fprintf(f, ",,");
          double mg = kind == ROVE_V_CLEAN_WRONG ? c->margin : v->margin;
          if (!isnan(mg) && c->known > 0)
            fprintf(f, ",%.9g\n", mg);
          else
            fprintf(f, ",\n");
        }
  return close_atomic(f, tmp, dir, "per_example.csv");
}

void rove_results_print(FILE *out, rove_sched *s, const rove_results_axes *ax,
                        const rove_failure *fl, int n_failures) {
  const rove_plan *pl = &s->plan;
  fprintf(out, "%-14s %-14s %9s %6s %9s %10s %8s %12s\n", "model", "profile",
          "eps", "n", "clean_acc", "robust_acc", "units", "grad_evals");
  for (int m = 0; m < pl->n_models; m++)
    for (int p = 0; p < pl->n_profiles; p++)
      for (int e = 0; e < pl->n_eps; e++) {
        const rove_row *r = rove_sched_row(s, m, p, e);
        fprintf(out, "%-14s %-14s %9.4g %6d %9.4f %10.4f %8d %12llu%s\n",
                ax->models[m], ax->profiles[p], ax->eps[e], r->n,
                r->n ? (double)r->clean_correct / r->n : 0,
                r->n ? (double)r->robust / r->n : 0, r->units,
                (unsigned long long)r->grad_evals,
                r->failed_units ? "  (failed units!)" : "");
      }
  for (int i = 0; i < n_failures; i++) {
    char d[256];
    describe_unit(s, ax, fl[i].unit, d, sizeof d);
    fprintf(out, "failed: %s: %s\n", d, fl[i].error);
  }
}

int rove_failures_add(rove_failures *l, const rove_unit_result *r) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    rove_failure *nf = realloc(l->f, (size_t)cap * sizeof *nf);
    if (!nf)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    l->f = nf;
    l->cap = cap;
  }
  rove_failure *f = &l->f[l->n++];
  f->unit = r->unit;
  f->status = r->status;
  snprintf(f->error, sizeof f->error, "%s", r->error);
  return 0;
}

void rove_failures_deinit(rove_failures *l) {
  free(l->f);
  l->f = NULL;
  l->n = l->cap = 0;
}
