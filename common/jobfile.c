/* jobfile.c - sweep job files (jobs/README.md) parsed from INI documents. */
#include "common/jobfile.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ---- sweep jobs ---- */

/* A [model]'s mean = / std = list (common/normalize.h), errors naming
 * the file, line and key. */
static int get_norm(const rove_ini *ini, const rove_ini_section *sec,
                    const char *key, float *v, int *n) {
  const char *text = NULL;
  *n = 0;
  ROVE_TRY(rove_ini_get_str(ini, sec, key, 0, NULL, &text));
  if (!text)
    return 0;
  if (rove_norm_parse(text, v, n, key) < 0) {
    char why[512];
    snprintf(why, sizeof why, "%s", rove_error_message());
    return rove_ini_error(ROVE_EINVAL, ini, sec, rove_ini_key_find(sec, key),
                          "%s", why);
  }
  return 0;
}

static int check_name(const rove_ini *ini, const rove_ini_section *s) {
  const char *n = s->name;
  if (!n[0])
    return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                          "needs a name, e.g. [%s NAME]", s->type);
  if (strlen(n) >= ROVE_JOB_NAME_MAX)
    return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                          "name longer than %d characters",
                          ROVE_JOB_NAME_MAX - 1);
  for (const char *p = n; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_.+-", *p))
      return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                            "name '%s' may only contain letters, digits and "
                            "_ . + -",
                            n);
  return 0;
}

/* Splits a comma-separated name list into the sections of `type` it names,
 * in list order; NULL key: every section of that type in file order. */
static int select_sections(const rove_ini *ini, const rove_ini_section *sw,
                           const char *key, const char *type,
                           const rove_ini_section ***out, int *n) {
  const rove_ini_key *k = rove_ini_key_find(sw, key);
  int total = 0;
  for (int i = 0; i < ini->n_secs; i++)
    total += !strcmp(ini->secs[i].type, type);
  *out = NULL;
  *n = 0;
  if (!k) {
    if (total == 0)
      return ROVE_ERR(ROVE_EINVAL, "%s: no [%s NAME] section", ini->path, type);
    *out = malloc((size_t)total * sizeof **out);
    if (!*out)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    for (int i = 0; i < ini->n_secs; i++)
      if (!strcmp(ini->secs[i].type, type))
        (*out)[(*n)++] = &ini->secs[i];
    return 0;
  }
  int cap = 1;
  for (const char *p = k->value; *p; p++)
    cap += *p == ',';
  *out = malloc((size_t)cap * sizeof **out);
  if (!*out)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  const char *p = k->value;
  for (;;) {
    while (isspace((unsigned char)*p))
      p++;
    const char *c = strchr(p, ',');
    const char *e = c ? c : p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1]))
      e--;
    char name[ROVE_JOB_NAME_MAX];
    size_t len = (size_t)(e - p);
    const rove_ini_section *found = NULL;
    if (len > 0 && len < sizeof name) {
      memcpy(name, p, len);
      name[len] = '\0';
      found = rove_ini_find(ini, type, name);
    }
    if (!found) {
      free(*out);
      *out = NULL;
      return rove_ini_error(ROVE_EINVAL, ini, sw, k,
                            "'%.*s' names no [%s NAME] section", (int)len, p,
                            type);
    }
    for (int i = 0; i < *n; i++)
      if ((*out)[i] == found) {
        free(*out);
        *out = NULL;
        return rove_ini_error(ROVE_EINVAL, ini, sw, k, "'%s' listed twice",
                              name);
      }
    (*out)[(*n)++] = found;
    if (!c)
      break;
    p = c + 1;
  }
  return 0;
}

static char *resolve(const char *base_dir, const char *path) {
  if (path[0] == '/' || !base_dir || !base_dir[0])
    return strdup(path);
  size_t n = strlen(base_dir) + strlen(path) + 2;
  char *r = malloc(n);
  if (r)
    snprintf(r, n, "%s/%s", base_dir, path);
  return r;
}

static int job_parse(rove_job *job, const char *base_dir) {
  rove_ini *ini = &job->ini;
  static const char *const types[] = {"job",   "model",  "profile",
                                      "sweep", "energy", NULL};
  ROVE_TRY(rove_ini_check_sections(ini, types));

  const rove_ini_section *js = rove_ini_find(ini, "job", NULL);
  if (!js)
    return ROVE_ERR(ROVE_EINVAL, "%s: missing the [job] section", ini->path);
  if (js->name[0])
    return rove_ini_error(ROVE_EINVAL, ini, js, NULL, "[job] takes no name");
  static const char *const job_keys[] = {"name",   "data",  "n",    "seed",
                                         "output", "shard", "skip", NULL};
  ROVE_TRY(rove_ini_check_keys(ini, js, job_keys));
  ROVE_TRY(rove_ini_get_str(ini, js, "name", 1, NULL, &job->name));
  for (const char *p = job->name; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_.+-", *p))
      return rove_ini_error(ROVE_EINVAL, ini, js, rove_ini_key_find(js, "name"),
                            "may only contain letters, digits and _ . + -");
  ROVE_TRY(rove_ini_get_str(ini, js, "data", 1, NULL, &job->data));
  ROVE_TRY(rove_ini_get_int(ini, js, "n", 0, 0, 0, INT32_MAX, &job->n));
  long long seed;
  ROVE_TRY(rove_ini_get_int(ini, js, "seed", 0, 0, 0, LLONG_MAX, &seed));
  job->seed = (uint64_t)seed;
  ROVE_TRY(rove_ini_get_str(ini, js, "output", 0, NULL, &job->output));
  long long shard;
  ROVE_TRY(rove_ini_get_int(ini, js, "shard", 0, 100, 1, 1000000, &shard));
  job->shard = (int)shard;
  ROVE_TRY(rove_ini_get_bool(ini, js, "skip", 0, 1, &job->skip));

  const rove_ini_section *sw = rove_ini_find(ini, "sweep", NULL);
  if (!sw)
    return ROVE_ERR(ROVE_EINVAL, "%s: missing the [sweep] section", ini->path);
  static const char *const sweep_keys[] = {"eps", "profiles", "models", NULL};
  ROVE_TRY(rove_ini_check_keys(ini, sw, sweep_keys));
  ROVE_TRY(rove_ini_get_doubles(ini, sw, "eps", 0.0, 1e6, job->eps,
                                ROVE_JOB_MAX_EPS, &job->n_eps));
  for (int i = 1; i < job->n_eps; i++)
    if (!(job->eps[i] > job->eps[i - 1]))
      /* Nested balls are what lets a smaller eps's verdict carry over. */
      return rove_ini_error(ROVE_EINVAL, ini, sw, rove_ini_key_find(sw, "eps"),
                            "values must be strictly increasing (%g follows "
                            "%g)",
                            job->eps[i], job->eps[i - 1]);

  const rove_ini_section **sel;
  int n;
  ROVE_TRY(select_sections(ini, sw, "models", "model", &sel, &n));
  job->models = calloc((size_t)n, sizeof *job->models);
  if (!job->models) {
    free(sel);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  job->n_models = n;
  static const char *const model_keys[] = {"path", "board", "mean", "std",
                                           NULL};
  for (int i = 0; i < n; i++) {
    rove_job_model *m = &job->models[i];
    m->sec = sel[i];
    m->name = sel[i]->name;
    int rc = check_name(ini, sel[i]);
    if (!rc)
      rc = rove_ini_check_keys(ini, sel[i], model_keys);
    const char *path = NULL;
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "path", 1, NULL, &path);
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "board", 0, NULL, &m->board);
    if (!rc)
      rc = get_norm(ini, sel[i], "mean", m->norm.mean, &m->norm.n_mean);
    if (!rc)
      rc = get_norm(ini, sel[i], "std", m->norm.std, &m->norm.n_std);
    if (!rc && !(m->path = resolve(base_dir, path)))
      rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
    if (rc) {
      free(sel);
      return rove_error_trace(rc, __FILE__, __LINE__, __func__);
    }
  }
  free(sel);

  ROVE_TRY(select_sections(ini, sw, "profiles", "profile", &sel, &n));
  job->profiles = calloc((size_t)n, sizeof *job->profiles);
  if (!job->profiles) {
    free(sel);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  job->n_profiles = n;
  for (int i = 0; i < n; i++) {
    rove_job_profile *p = &job->profiles[i];
    p->sec = sel[i];
    p->name = sel[i]->name;
    const char *norm = "linf";
    int rc = check_name(ini, sel[i]);
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "preset", 0, "naive", &p->preset);
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "norm", 0, "linf", &norm);
    if (!rc) {
      if (!strcmp(norm, "linf") || !strcmp(norm, "inf"))
        p->norm_linf = 1;
      else if (!strcmp(norm, "l2") || !strcmp(norm, "2"))
        p->norm_linf = 0;
      else
        rc = rove_ini_error(ROVE_EINVAL, ini, sel[i],
                            rove_ini_key_find(sel[i], "norm"),
                            "expected linf or l2, got '%s'", norm);
    }
    if (rc) {
      free(sel);
      return rove_error_trace(rc, __FILE__, __LINE__, __func__);
    }
  }
  free(sel);

  const rove_ini_section *en = rove_ini_find(ini, "energy", NULL);
  job->energy = en;
  if (en) {
    static const char *const energy_keys[] = {"listen", "port", "token",
                                              "boards", "wait", NULL};
    ROVE_TRY(rove_ini_check_keys(ini, en, energy_keys));
    ROVE_TRY(
        rove_ini_get_str(ini, en, "listen", 0, "0.0.0.0", &job->energy_listen));
    ROVE_TRY(rove_ini_get_int(ini, en, "port", 0, 7878, 1, 65535,
                              &job->energy_port));
    const char *token = NULL;
    ROVE_TRY(rove_ini_get_str(ini, en, "token", 0, NULL, &token));
    if (token && !(job->energy_token_file = resolve(base_dir, token)))
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    ROVE_TRY(rove_ini_get_str(ini, en, "boards", 0, NULL, &job->energy_boards));
    ROVE_TRY(rove_ini_get_double(ini, en, "wait", 0, 0.0, 0.0, 86400.0,
                                 &job->energy_wait));
  }
  return 0;
}

int rove_job_load_string(rove_job *job, const char *text, const char *what,
                         const char *base_dir) {
  memset(job, 0, sizeof *job);
  ROVE_TRY(rove_ini_load_string(&job->ini, text, what));
  int rc = job_parse(job, base_dir);
  if (rc) {
    rove_job_deinit(job);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

int rove_job_load(rove_job *job, const char *path) {
  memset(job, 0, sizeof *job);
  ROVE_TRY(rove_ini_load(&job->ini, path));
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (slash && (size_t)(slash - path) < sizeof dir) {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (!dir[0])
      strcpy(dir, "/");
  } else {
    strcpy(dir, ".");
  }
  int rc = job_parse(job, dir);
  if (rc) {
    rove_job_deinit(job);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

void rove_job_deinit(rove_job *job) {
  for (int i = 0; i < job->n_models; i++)
    free(job->models[i].path);
  free(job->models);
  free(job->profiles);
  free(job->energy_token_file);
  rove_ini_deinit(&job->ini);
  memset(job, 0, sizeof *job);
}
