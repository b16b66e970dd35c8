/* report.c - loads a sweep's results directory for the report: the summary
 * table by column name, energy columns per board, run metadata and per-model
 * facts; the Pareto front; the run.json writer the sweep calls. */
#include "coordinator/report.h"
#include "common/precision.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/ini.h"

int rove_pareto_front(const double *cost, const double *gain, int n,
                      int *on_front) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    on_front[i] = 0;
    if (isnan(cost[i]) || isnan(gain[i]))
      continue;
    int dominated = 0;
    for (int j = 0; j < n && !dominated; j++) {
      if (j == i || isnan(cost[j]) || isnan(gain[j]))
        continue;
      if (cost[j] <= cost[i] && gain[j] >= gain[i] &&
          (cost[j] < cost[i] || gain[j] > gain[i]))
        dominated = 1;
    }
    on_front[i] = !dominated;
    k += !dominated;
  }
  return k;
}

/* ---- precision and per-model facts ----------------------------------- */

void rove_model_precision(const rove_model *m, char *buf, size_t cap) {
  rove_precision p;
  rove_precision_of(m, &p);
  rove_precision_describe(&p, buf, cap);
}

static void hexs(const unsigned char *h, int n, char *out) {
  for (int i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The zoo's training log for a model file: "X.json" or "X.rove.json"
 * beside "X.rove" (whichever exists). Returns 0 and fills *v when found. */
static int find_train_log(const char *model_path, rove_json *v) {
  char p[4200];
  size_t n = strlen(model_path);
  const char *dot = strrchr(model_path, '.');
  const char *slash = strrchr(model_path, '/');
  if (dot && (!slash || dot > slash))
    n = (size_t)(dot - model_path);
  const char *suffix[] = {".json", ".train.json", ".log.json"};
  for (int s = 0; s < 3; s++) {
    snprintf(p, sizeof p, "%.*s%s", (int)n, model_path, suffix[s]);
    if (access(p, R_OK) == 0 && rove_json_load(v, p) == 0)
      return 0;
    rove_error_clear();
  }
  snprintf(p, sizeof p, "%s.json", model_path);
  if (access(p, R_OK) == 0 && rove_json_load(v, p) == 0)
    return 0;
  rove_error_clear();
  return ROVE_ENOENT;
}

/* One line about how a model was trained, from the fields of the zoo's
 * training log (coordinator/cmd_train.c) read by name; fields that are
 * absent or at their neutral value are left out. */
static void train_summary(const rove_json *log, char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = '\0';
#define ADD(...)                                                               \
  do {                                                                         \
    if (k < cap)                                                               \
      k += (size_t)snprintf(buf + k, cap - k, __VA_ARGS__);                    \
  } while (0)
  const char *t;
  if ((t = rove_json_text(log, "arch")))
    ADD("%s", t);
  if ((t = rove_json_text(log, "variant")))
    ADD("%s%s", k ? " " : "", t);
  if ((t = rove_json_text(rove_json_get(log, "pgd"), "eps")))
    ADD(" (eps %g)", strtod(t, NULL)); /* the log keeps 17 digits */
  const char *wb = rove_json_text(log, "weight_bits");
  const char *ab = rove_json_text(log, "act_bits");
  if ((wb && strcmp(wb, "0")) || (ab && strcmp(ab, "0")))
    ADD("%sw%s/a%s", k ? ", " : "", wb ? wb : "?", ab ? ab : "?");
  if ((t = rove_json_text(log, "prune")) && strtod(t, NULL) != 0)
    ADD("%spruned %g", k ? ", " : "", strtod(t, NULL));
  if ((t = rove_json_text(log, "logit_scale")) && strtod(t, NULL) != 1)
    ADD("%slogits x%g", k ? ", " : "", strtod(t, NULL));
  if ((t = rove_json_text(log, "epochs")))
    ADD("%s%s ep", k ? ", " : "", t);
  if ((t = rove_json_text(log, "test_acc")))
    ADD("%stest acc %.1f%%", k ? ", " : "", 100 * strtod(t, NULL));
#undef ADD
}

/* The training log of a model file, when it describes this very model
 * (same hash): a log left over from an earlier training is not used. */
static int train_line(const char *model_path, const char *hash, char *buf,
                      size_t cap) {
  rove_json log;
  if (find_train_log(model_path, &log) != 0)
    return ROVE_ENOENT;
  const char *h = rove_json_text(&log, "hash");
  int ok = h && hash && !strcmp(h, hash);
  if (ok)
    train_summary(&log, buf, cap);
  rove_json_deinit(&log);
  return ok ? 0 : ROVE_ENOENT;
}

/* ---- run.json writer --------------------------------------------------- */

int rove_run_write(const char *dir, const rove_run_info *ri) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/run.json", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  struct utsname u;
  char machine[600] = "unknown";
  if (uname(&u) == 0)
    snprintf(machine, sizeof machine, "%.64s %.64s %.64s %.64s", u.nodename,
             u.sysname, u.release, u.machine);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  char date[64] = "";
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm))
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char h[65] = "";
  if (ri->job_hash)
    hexs(ri->job_hash, 32, h);
  fprintf(f, "{\n  \"rove_version\": ");
  rove_json_str(f, ROVE_VERSION);
  fprintf(f, ",\n  \"job\": ");
  rove_json_str(f, ri->job_name);
  fprintf(f, ",\n  \"job_file\": ");
  rove_json_str(f, ri->job_path);
  fprintf(f, ",\n  \"job_hash\": ");
  rove_json_str(f, h);
  fprintf(f,
          ",\n  \"seed\": %llu,\n  \"data\": ", (unsigned long long)ri->seed);
  rove_json_str(f, ri->data);
  fprintf(f, ",\n  \"n\": %lld,\n  \"ranks\": %d,\n  \"machine\": ", ri->n,
          ri->ranks);
  rove_json_str(f, machine);
  fprintf(f, ",\n  \"cpus\": %ld,\n  \"date\": ", cpus);
  rove_json_str(f, date);
  fprintf(f, ",\n  \"profiles\": [");
  for (int p = 0; p < ri->n_profiles; p++) {
    fprintf(f, "%s{\"name\": ", p ? ", " : "");
    rove_json_str(f, ri->profiles[p]);
    if (ri->presets && ri->presets[p]) {
      fprintf(f, ", \"preset\": ");
      rove_json_str(f, ri->presets[p]);
    }
    fprintf(f, "}");
  }
  fprintf(f, "],\n  \"models\": [");
  for (int i = 0; i < ri->n_models; i++) {
    const rove_run_model *rm = &ri->models[i];
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    rove_json_str(f, rm->name);
    fprintf(f, ", \"path\": ");
    rove_json_str(f, rm->path);
    if (rm->m) {
      char mh[65], prec[64];
      rove_model_hash_hex(rm->m, mh);
      rove_model_precision(rm->m, prec, sizeof prec);
      fprintf(f,
              ", \"hash\": \"%s\", \"params\": %zu, \"macs\": %.0f, "
              "\"nondiff\": %d, \"precision\": ",
              mh, rm->m->n_params, rove_model_macs(rm->m),
              rove_model_count_nondiff(rm->m));
      rove_json_str(f, prec);
    }
    char mh[65], t[256];
    if (rm->m && rm->path) {
      rove_model_hash_hex(rm->m, mh);
      if (train_line(rm->path, mh, t, sizeof t) == 0) {
        fprintf(f, ", \"training\": ");
        rove_json_str(f, t);
      }
    }
    fprintf(f, "}");
  }
  fprintf(f, "%s]\n}\n", ri->n_models ? "\n  " : "");
  return rove_file_commit(f, tmp, path, "run metadata");
}

/* ---- loading ------------------------------------------------------------ */

static int intern(const char ***list, int *n, const char *s) {
  for (int i = 0; i < *n; i++)
    if (!strcmp((*list)[i], s))
      return i;
  const char **nl = realloc((void *)*list, (size_t)(*n + 1) * sizeof *nl);
  if (!nl)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  nl[*n] = s;
  *list = nl;
  return (*n)++;
}

static int parse_num(const rove_csv *t, int row, int col, double lo, double hi,
                     double *out) {
  const char *s = rove_csv_get(t, row, col);
  char *e;
  errno = 0;
  double d = strtod(s, &e);
  if (!*s || *e || errno || !(d >= lo && d <= hi))
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s:%d: column '%s': expected a number in [%g, %g], got "
                    "'%s'",
                    t->what, t->line[row], t->cols[col], lo, hi, s);
  *out = d;
  return 0;
}

static int find_boards(rove_report *r) {
  const rove_csv *t = &r->sum;
  for (int c = 0; c < t->n_cols; c++) {
    const char *s = t->cols[c];
    size_t n = strlen(s);
    if (n <= strlen("energy__status") || strncmp(s, "energy_", 7) ||
        strcmp(s + n - 7, "_status"))
      continue;
    char(*nb)[128] = realloc(r->boards, (size_t)(r->n_boards + 1) * 128);
    if (!nb)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    r->boards = nb;
    snprintf(r->boards[r->n_boards], 128, "%.*s", (int)(n - 14), s + 7);
    r->n_boards++;
  }
  return 0;
}

static const char *ecell(const rove_report *r, int row, int b,
                         const char *field) {
  char name[200];
  snprintf(name, sizeof name, "energy_%s_%s", r->boards[b], field);
  return rove_csv_get(&r->sum, row, rove_csv_col(&r->sum, name));
}

static void load_energy(rove_report *r, int m, int row) {
  for (int b = 0; b < r->n_boards; b++) {
    rove_report_energy *e = &r->energy[(size_t)m * r->n_boards + b];
    e->status = ecell(r, row, b, "status");
    if (!e->status[0])
      e->status = "pending";
    e->j = ecell(r, row, b, "j");
    e->ci_lo = ecell(r, row, b, "ci_lo_j");
    e->ci_hi = ecell(r, row, b, "ci_hi_j");
    e->scope = ecell(r, row, b, "scope");
    e->sensor = ecell(r, row, b, "sensor");
    e->latency = ecell(r, row, b, "latency_s");
    e->valid = ecell(r, row, b, "valid");
    e->flags = ecell(r, row, b, "flags");
    e->power = ecell(r, row, b, "power_w");
    e->j_num = NAN;
    char *end;
    double d = strtod(e->j, &end);
    if (!strcmp(e->status, "ok") && e->j[0] && !*end && d > 0 && isfinite(d))
      e->j_num = d;
  }
}

/* Per-model facts: run.json's models entry when the sweep wrote one, else
 * the model file named by DIR/job.ini (paths relative to the original
 * job's directory when run.json names it, else to DIR). A file whose hash
 * differs from the summary's is reported as such, not silently used. */
static void load_meta(rove_report *r, rove_ini *ini, int have_ini) {
  const rove_json *models = rove_json_get(&r->run, "models");
  char jobdir[2048] = "";
  const char *jf = rove_json_text(&r->run, "job_file");
  if (jf) {
    const char *sl = strrchr(jf, '/');
    if (sl)
      snprintf(jobdir, sizeof jobdir, "%.*s", (int)(sl - jf), jf);
    else
      snprintf(jobdir, sizeof jobdir, ".");
  }
  for (int m = 0; m < r->n_models; m++) {
    rove_report_model *mm = &r->meta[m];
    snprintf(mm->name, sizeof mm->name, "%s", r->models[m]);
    int row = -1;
    for (int k = 0; k < r->n_profiles * r->n_eps && row < 0; k++)
      row = r->row[(size_t)m * r->n_profiles * r->n_eps + k];
    snprintf(mm->hash, sizeof mm->hash, "%s",
             rove_csv_get(&r->sum, row, r->c_hash));
    snprintf(mm->source, sizeof mm->source, "-");
    const rove_json *e = NULL;
    for (int i = 0;
         models && models->type == ROVE_JSON_ARR && i < models->n && !e; i++) {
      const char *nm = rove_json_text(&models->items[i], "name");
      if (nm && !strcmp(nm, r->models[m]))
        e = &models->items[i];
    }
    if (e && rove_json_get(e, "params")) {
      snprintf(mm->params, sizeof mm->params, "%s",
               rove_json_text(e, "params") ? rove_json_text(e, "params") : "");
      const char *t;
      if ((t = rove_json_text(e, "macs")))
        snprintf(mm->macs, sizeof mm->macs, "%s", t);
      if ((t = rove_json_text(e, "nondiff")))
        snprintf(mm->nondiff, sizeof mm->nondiff, "%s", t);
      if ((t = rove_json_text(e, "precision")))
        snprintf(mm->precision, sizeof mm->precision, "%s", t);
      if ((t = rove_json_text(e, "training")))
        snprintf(mm->training, sizeof mm->training, "%s", t);
      if (!mm->hash[0] && (t = rove_json_text(e, "hash")))
        snprintf(mm->hash, sizeof mm->hash, "%s", t);
      snprintf(mm->source, sizeof mm->source, "run.json");
      continue;
    }
    /* Fall back to the model file. */
    const char *rel = e ? rove_json_text(e, "path") : NULL;
    if (!rel && have_ini) {
      const rove_ini_section *s = rove_ini_find(ini, "model", r->models[m]);
      const rove_ini_key *k = s ? rove_ini_key_find(s, "path") : NULL;
      rel = k ? k->value : NULL;
    }
    if (!rel)
      continue;
    char path[4200];
    if (rel[0] == '/' || (e && rove_json_text(e, "path")))
      snprintf(path, sizeof path, "%s", rel);
    else
      snprintf(path, sizeof path, "%s/%s", jobdir[0] ? jobdir : r->dir, rel);
    rove_model md;
    if (rove_model_load(&md, path) != 0) {
      rove_error_clear();
      snprintf(mm->source, sizeof mm->source, "model file missing");
      continue;
    }
    char h[65];
    rove_model_hash_hex(&md, h);
    if (mm->hash[0] && strcmp(h, mm->hash)) {
      snprintf(mm->source, sizeof mm->source, "file changed");
      rove_model_deinit(&md);
      continue;
    }
    snprintf(mm->hash, sizeof mm->hash, "%s", h);
    snprintf(mm->params, sizeof mm->params, "%zu", md.n_params);
    snprintf(mm->macs, sizeof mm->macs, "%.0f", rove_model_macs(&md));
    snprintf(mm->nondiff, sizeof mm->nondiff, "%d",
             rove_model_count_nondiff(&md));
    rove_model_precision(&md, mm->precision, sizeof mm->precision);
    rove_model_deinit(&md);
    train_line(path, h, mm->training, sizeof mm->training);
    snprintf(mm->source, sizeof mm->source, "model file");
  }
}

static int job_facts(rove_report *r, rove_ini *ini, int *have_ini) {
  char p[1100];
  snprintf(p, sizeof p, "%s/job.ini", r->dir);
  const char *t;
  if ((t = rove_json_text(&r->run, "job_hash")) && t[0])
    snprintf(r->job_hash, sizeof r->job_hash, "%s", t);
  if ((t = rove_json_text(&r->run, "seed")))
    snprintf(r->job_seed, sizeof r->job_seed, "%s", t);
  if ((t = rove_json_text(&r->run, "job")))
    snprintf(r->job_name, sizeof r->job_name, "%s", t);
  /* Presets: run.json's profiles, else the job's [profile NAME] preset
   * (the sweep copies the job to DIR/job.ini), else the name. */
  const rove_json *pr = rove_json_get(&r->run, "profiles");
  for (int i = 0; i < r->n_profiles; i++) {
    snprintf(r->preset[i], 64, "%s", r->profiles[i]);
    for (int k = 0; pr && pr->type == ROVE_JSON_ARR && k < pr->n; k++) {
      const char *nm = rove_json_text(&pr->items[k], "name");
      const char *ps = rove_json_text(&pr->items[k], "preset");
      if (nm && ps && !strcmp(nm, r->profiles[i]))
        snprintf(r->preset[i], 64, "%s", ps);
    }
  }
  *have_ini = 0;
  if (access(p, R_OK) != 0)
    return 0;
  /* A job.ini that does not parse is reported, not ignored: it is the
   * record of what ran. */
  ROVE_TRY(rove_ini_load(ini, p));
  *have_ini = 1;
  const rove_ini_section *js = rove_ini_find(ini, "job", NULL);
  const rove_ini_key *k;
  if (!r->job_seed[0] && js && (k = rove_ini_key_find(js, "seed")))
    snprintf(r->job_seed, sizeof r->job_seed, "%s", k->value);
  if (!r->job_name[0] && js && (k = rove_ini_key_find(js, "name")))
    snprintf(r->job_name, sizeof r->job_name, "%s", k->value);
  for (int i = 0; i < r->n_profiles && !pr; i++) {
    const rove_ini_section *ps = rove_ini_find(ini, "profile", r->profiles[i]);
    if (ps && (k = rove_ini_key_find(ps, "preset")))
      snprintf(r->preset[i], 64, "%s", k->value);
  }
  if (!r->job_hash[0]) {
    FILE *f = fopen(p, "rb");
    if (f) {
      crypto_generichash_state st;
      crypto_generichash_init(&st, NULL, 0, 32);
      unsigned char buf[4096], h[32];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_generichash_update(&st, buf, n);
      fclose(f);
      crypto_generichash_final(&st, h, 32);
      char hx[65];
      hexs(h, 32, hx);
      snprintf(r->job_hash, sizeof r->job_hash, "%s (of job.ini)", hx);
    }
  }
  return 0;
}

static int cmp_eps(const void *a, const void *b, void *ctx) {
  const double *v = ctx;
  int i = *(const int *)a, j = *(const int *)b;
  return (v[i] > v[j]) - (v[i] < v[j]);
}

/* Sorts the eps axis numerically (insertion sort: a handful of values). */
static int sort_eps(rove_report *r) {
  int n = r->n_eps;
  int *ord = malloc((size_t)(n ? n : 1) * sizeof *ord);
  const char **es = malloc((size_t)(n ? n : 1) * sizeof *es);
  double *ev = malloc((size_t)(n ? n : 1) * sizeof *ev);
  if (!ord || !es || !ev) {
    free(ord);
    free((void *)es);
    free(ev);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++)
    ord[i] = i;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && cmp_eps(&ord[j - 1], &ord[j], r->eps_num) > 0;
         j--) {
      int t = ord[j];
      ord[j] = ord[j - 1];
      ord[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    es[i] = r->eps[ord[i]];
    ev[i] = r->eps_num[ord[i]];
  }
  free((void *)r->eps);
  free(r->eps_num);
  r->eps = es;
  r->eps_num = ev;
  free(ord);
  return 0;
}

static int find_prof(const rove_report *r, const char *preset) {
  for (int p = 0; p < r->n_profiles; p++)
    if (!strcmp(r->preset[p], preset))
      return p;
  return -1;
}

static int load(rove_report *r, const char *dir, const rove_report_opts *o) {
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  char p[1100];
  snprintf(p, sizeof p, "%s/summary.csv", dir);
  ROVE_TRY(rove_csv_load(&r->sum, p));
  rove_csv *t = &r->sum;
  ROVE_TRY(rove_csv_require(t, "model", &r->c_model));
  ROVE_TRY(rove_csv_require(t, "profile", &r->c_profile));
  ROVE_TRY(rove_csv_require(t, "eps", &r->c_eps));
  ROVE_TRY(rove_csv_require(t, "n", &r->c_n));
  ROVE_TRY(rove_csv_require(t, "clean_acc", &r->c_clean));
  ROVE_TRY(rove_csv_require(t, "robust_acc", &r->c_robust));
  r->c_hash = rove_csv_col(t, "model_hash");
  if (t->n_rows == 0)
    return ROVE_ERR(ROVE_EFORMAT, "%s: no rows after the header", p);
  /* First pass: the axes, and every number checked. */
  for (int i = 0; i < t->n_rows; i++) {
    const char *mn = rove_csv_get(t, i, r->c_model);
    const char *pn = rove_csv_get(t, i, r->c_profile);
    if (!mn[0] || !pn[0])
      return ROVE_ERR(ROVE_EFORMAT, "%s:%d: empty %s name", p, t->line[i],
                      mn[0] ? "profile" : "model");
    double d;
    ROVE_TRY(parse_num(t, i, r->c_eps, 0, INFINITY, &d));
    ROVE_TRY(parse_num(t, i, r->c_clean, 0, 1, &d));
    ROVE_TRY(parse_num(t, i, r->c_robust, 0, 1, &d));
    ROVE_TRY(parse_num(t, i, r->c_n, 0, 1e15, &d));
    int rc = intern(&r->models, &r->n_models, mn);
    if (rc < 0)
      return rc;
    rc = intern(&r->profiles, &r->n_profiles, pn);
    if (rc < 0)
      return rc;
    int before = r->n_eps;
    rc = intern(&r->eps, &r->n_eps, rove_csv_get(t, i, r->c_eps));
    if (rc < 0)
      return rc;
    if (r->n_eps > before) {
      double *ne = realloc(r->eps_num, (size_t)r->n_eps * sizeof *ne);
      if (!ne)
        return ROVE_ERR(ROVE_ENOMEM, "out of memory");
      r->eps_num = ne;
      parse_num(t, i, r->c_eps, 0, INFINITY, &r->eps_num[r->n_eps - 1]);
      for (int e = 0; e < r->n_eps - 1; e++)
        if (r->eps_num[e] == r->eps_num[r->n_eps - 1])
          return ROVE_ERR(ROVE_EFORMAT,
                          "%s:%d: eps '%s' is the same value as '%s' written "
                          "differently",
                          p, t->line[i], r->eps[r->n_eps - 1], r->eps[e]);
    }
  }
  ROVE_TRY(sort_eps(r));
  size_t cells = (size_t)r->n_models * r->n_profiles * r->n_eps;
  r->row = malloc(cells * sizeof *r->row);
  if (!r->row)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (size_t k = 0; k < cells; k++)
    r->row[k] = -1;
  for (int i = 0; i < t->n_rows; i++) {
    int m = intern(&r->models, &r->n_models, rove_csv_get(t, i, r->c_model));
    int pr =
        intern(&r->profiles, &r->n_profiles, rove_csv_get(t, i, r->c_profile));
    int e = intern(&r->eps, &r->n_eps, rove_csv_get(t, i, r->c_eps));
    int *cell = &r->row[((size_t)m * r->n_profiles + pr) * r->n_eps + e];
    if (*cell >= 0)
      return ROVE_ERR(ROVE_EFORMAT,
                      "%s:%d: a second row for model '%s', profile '%s', eps "
                      "%s (the first is on line %d)",
                      p, t->line[i], r->models[m], r->profiles[pr], r->eps[e],
                      t->line[*cell]);
    *cell = i;
  }
  for (int c = 0; c < t->n_cols; c++)
    if (!strncmp(t->cols[c], "diag_", 5)) {
      int *nd = realloc(r->c_diag, (size_t)(r->n_diag + 1) * sizeof *nd);
      if (!nd)
        return ROVE_ERR(ROVE_ENOMEM, "out of memory");
      r->c_diag = nd;
      r->c_diag[r->n_diag++] = c;
    }
  ROVE_TRY(find_boards(r));
  r->energy = calloc((size_t)r->n_models * (r->n_boards ? r->n_boards : 1),
                     sizeof *r->energy);
  r->meta = calloc((size_t)r->n_models, sizeof *r->meta);
  if (!r->energy || !r->meta)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (int m = 0; m < r->n_models; m++) {
    int row = -1;
    for (size_t k = 0; k < (size_t)r->n_profiles * r->n_eps && row < 0; k++)
      row = r->row[(size_t)m * r->n_profiles * r->n_eps + k];
    load_energy(r, m, row);
  }
  r->preset = calloc((size_t)r->n_profiles, sizeof *r->preset);
  if (!r->preset)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");

  /* run.json is optional (older sweeps); a broken one is an error, since
   * a report with silently missing metadata would mislead. */
  snprintf(p, sizeof p, "%s/run.json", dir);
  if (access(p, F_OK) == 0) {
    ROVE_TRY(rove_json_load(&r->run, p));
    if (r->run.type != ROVE_JSON_OBJ)
      return ROVE_ERR(ROVE_EFORMAT, "%s:1: expected a JSON object", p);
    r->have_run = 1;
  }
  rove_ini ini;
  int have_ini = 0;
  ROVE_TRY(job_facts(r, &ini, &have_ini));
  load_meta(r, &ini, have_ini);
  if (have_ini)
    rove_ini_deinit(&ini);
  r->i_naive = find_prof(r, "naive");
  r->i_precise = find_prof(r, "precise");
  r->i_cert = find_prof(r, "certify");

  /* The eps for the energy and gap plots. */
  r->ref_eps = -1;
  if (o && o->eps) {
    for (int e = 0; e < r->n_eps; e++)
      if (!strcmp(r->eps[e], o->eps))
        r->ref_eps = e;
    if (r->ref_eps < 0) {
      char *end;
      double want = strtod(o->eps, &end);
      for (int e = 0; e < r->n_eps && !*end; e++)
        if (r->eps_num[e] == want)
          r->ref_eps = e;
    }
    if (r->ref_eps < 0)
      return ROVE_ERR(ROVE_EINVAL, "--eps %s: not an eps of %s/summary.csv",
                      o->eps, dir);
  } else {
    /* The largest eps at which at least half of the models keep 25 %
     * robust accuracy under the strongest profile: past it most points
     * sit at zero and the trade-off has no shape. */
    int pp = r->i_precise >= 0 ? r->i_precise : r->n_profiles - 1;
    r->ref_eps = 0;
    for (int e = 0; e < r->n_eps; e++) {
      int keep = 0, have = 0;
      for (int m = 0; m < r->n_models; m++) {
        int row = r->row[((size_t)m * r->n_profiles + pp) * r->n_eps + e];
        double d;
        if (row >= 0 && !parse_num(t, row, r->c_robust, 0, 1, &d)) {
          have++;
          keep += d >= 0.25;
        }
      }
      if (have && 2 * keep >= have)
        r->ref_eps = e;
    }
  }
  return 0;
}

/* ---- reading the loaded report (report.h) ---- */

int report__row(const rove_report *r, int m, int p, int e) {
  if (m < 0 || p < 0 || e < 0)
    return -1;
  return r->row[((size_t)m * r->n_profiles + p) * r->n_eps + e];
}

const char *report__cell(const rove_report *r, int row, int col) {
  return rove_csv_get(&r->sum, row, col);
}

double report__num(const char *s) {
  char *e;
  double d = strtod(s, &e);
  return (*s && !*e) ? d : NAN;
}

double report__robust(const rove_report *r, int m, int p, int e) {
  int row = report__row(r, m, p, e);
  return row < 0 ? NAN : report__num(report__cell(r, row, r->c_robust));
}

/* The model's clean accuracy as the CSV writes it: the first row of the
 * model that has it (every row of a model repeats the same clean pass). */
const char *report__clean(const rove_report *r, int m) {
  for (int p = 0; p < r->n_profiles; p++)
    for (int e = 0; e < r->n_eps; e++) {
      int row = report__row(r, m, p, e);
      if (row >= 0)
        return report__cell(r, row, r->c_clean);
    }
  return "";
}

int rove_report_front(const rove_report *r, int b, int s, int m) {
  return r->front[((size_t)b * (r->n_profiles + 1) + s) * r->n_models + m];
}

/* The Pareto fronts of every board at ref_eps: energy against each
 * profile's robust accuracy and against clean accuracy. */
static int compute_fronts(rove_report *r) {
  int nm = r->n_models, ns = r->n_profiles + 1;
  r->front = calloc((size_t)(r->n_boards ? r->n_boards : 1) * ns * nm + 1, 1);
  double *cost = malloc(((size_t)nm + 1) * sizeof *cost);
  double *gain = malloc(((size_t)nm + 1) * sizeof *gain);
  int *on = malloc(((size_t)nm + 1) * sizeof *on);
  int rc = 0;
  if (!r->front || !cost || !gain || !on)
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (int b = 0; !rc && b < r->n_boards; b++)
    for (int s = 0; s < ns; s++) {
      for (int m = 0; m < nm; m++) {
        cost[m] = r->energy[(size_t)m * r->n_boards + b].j_num;
        gain[m] = s < r->n_profiles ? report__robust(r, m, s, r->ref_eps)
                                    : report__num(report__clean(r, m));
      }
      rove_pareto_front(cost, gain, nm, on);
      for (int m = 0; m < nm; m++)
        r->front[((size_t)b * ns + s) * nm + m] = (uint8_t)on[m];
    }
  free(cost);
  free(gain);
  free(on);
  return rc;
}

/* DIR/summary.json says whether the sweep finished and how many units
 * failed; a report of a stopped sweep must not pass for a finished one. */
static void load_status(rove_report *r, const char *dir) {
  char p[1200];
  snprintf(p, sizeof p, "%s/summary.json", dir);
  r->complete = -1;
  rove_json sj;
  if (rove_json_load(&sj, p) != 0) {
    rove_error_clear();
    return;
  }
  const rove_json *c = rove_json_get(&sj, "complete");
  const rove_json *fl = rove_json_get(&sj, "failures");
  if (c && c->type == ROVE_JSON_BOOL)
    r->complete = c->b ? 1 : 0;
  snprintf(r->units_done, sizeof r->units_done, "%s",
           rove_json_text(&sj, "units_done"));
  snprintf(r->units, sizeof r->units, "%s", rove_json_text(&sj, "units"));
  r->n_failures = fl && fl->type == ROVE_JSON_ARR ? fl->n : 0;
  rove_json_deinit(&sj);
}

static int axis_index(const char *const *names, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], s))
      return i;
  return -1;
}

/* Case 3's picture: how robust accuracy at ref_eps falls as restarts are
 * added, from the restart that broke each example (per_example.csv). The
 * file is optional; a malformed one is an error naming it. */
static int load_restarts(rove_report *r, const char *dir) {
  char p[1100];
  snprintf(p, sizeof p, "%s/per_example.csv", dir);
  struct stat st;
  if (stat(p, &st) != 0)
    return 0;
  rove_csv t;
  ROVE_TRY(rove_csv_load(&t, p));
  int cm, cp, ce, cv, cr;
  int rc = rove_csv_require(&t, "model", &cm);
  if (!rc)
    rc = rove_csv_require(&t, "profile", &cp);
  if (!rc)
    rc = rove_csv_require(&t, "eps", &ce);
  if (!rc)
    rc = rove_csv_require(&t, "verdict", &cv);
  if (!rc)
    rc = rove_csv_require(&t, "restart", &cr);
  int R = 0, nm = r->n_models, np = r->n_profiles;
  long *n = NULL, *brk = NULL;
  for (int i = 0; !rc && i < t.n_rows; i++) {
    int k = atoi(rove_csv_get(&t, i, cr));
    if (!strcmp(rove_csv_get(&t, i, cv), "broken") && k + 1 > R)
      R = k + 1;
  }
  if (R < 1)
    R = 1;
  if (!rc) {
    n = calloc((size_t)nm * np + 1, sizeof *n);
    brk = calloc(((size_t)nm * np + 1) * (size_t)R, sizeof *brk);
    r->rs = malloc(((size_t)nm * np + 1) * (size_t)R * sizeof *r->rs);
    if (!n || !brk || !r->rs)
      rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  const char *ref = r->eps[r->ref_eps];
  for (int i = 0; !rc && i < t.n_rows; i++) {
    int m = axis_index(r->models, nm, rove_csv_get(&t, i, cm));
    int q = axis_index(r->profiles, np, rove_csv_get(&t, i, cp));
    if (m < 0 || q < 0 ||
        report__num(rove_csv_get(&t, i, ce)) != r->eps_num[r->ref_eps])
      continue;
    (void)ref;
    size_t s = (size_t)m * np + q;
    n[s]++;
    const char *v = rove_csv_get(&t, i, cv);
    if (!strcmp(v, "broken")) {
      int k = atoi(rove_csv_get(&t, i, cr));
      brk[s * R + (k < 0 ? 0 : k)]++;
    } else if (strcmp(v, "robust")) {
      brk[s * R]++; /* clean-wrong (or failed): never robust */
    }
  }
  for (size_t s = 0; !rc && s < (size_t)nm * np; s++) {
    long gone = 0;
    for (int k = 0; k < R; k++) {
      gone += brk[s * R + k];
      r->rs[s * R + k] = n[s] ? (double)(n[s] - gone) / n[s] : NAN;
    }
  }
  if (!rc)
    r->rs_max = R;
  free(n);
  free(brk);
  rove_csv_deinit(&t);
  return rc;
}

int rove_report_load(rove_report *r, const char *dir,
                     const rove_report_opts *o) {
  memset(r, 0, sizeof *r);
  int rc = load(r, dir, o);
  if (!rc)
    rc = compute_fronts(r);
  if (!rc)
    rc = load_restarts(r, dir);
  if (!rc)
    load_status(r, dir);
  if (rc)
    rove_report_deinit(r);
  return rc;
}

void rove_report_deinit(rove_report *r) {
  rove_csv_deinit(&r->sum);
  free((void *)r->models);
  free((void *)r->profiles);
  free((void *)r->eps);
  free(r->eps_num);
  free(r->row);
  free(r->c_diag);
  free(r->boards);
  free(r->energy);
  free(r->meta);
  free(r->preset);
  free(r->front);
  free(r->rs);
  rove_json_deinit(&r->run);
  memset(r, 0, sizeof *r);
}

int rove_report_write(const char *dir, const rove_report_opts *o,
                      char *path_out, size_t cap) {
  rove_report r;
  ROVE_TRY(rove_report_load(&r, dir, o));
  char path[1200], tmp[1300];
  snprintf(path, sizeof path, "%s/report.html", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    rove_report_deinit(&r);
    return ROVE_ERR(ROVE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  }
  int rc = rove_report_html(&r, o, f);
  rove_report_deinit(&r);
  if (rc) {
    fclose(f);
    unlink(tmp);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  ROVE_TRY(rove_file_commit(f, tmp, path, "report"));
  if (path_out)
    snprintf(path_out, cap, "%s", path);
  return 0;
}
