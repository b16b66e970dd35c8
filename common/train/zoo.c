/* zoo.c - zoo files: the variants `rove train` trains, in the job files'
 * INI syntax (common/ini.h), with errors naming file, line and key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/train/train.h"

static const char *const arch_names[] = {"smallcnn", "mlp", "rescnn", NULL};
static const char *const variant_names[] = {"standard", "pgd", "qat", NULL};
static const char *const opt_names[] = {"sgd", "adam", NULL};
static const char *const sched_names[] = {"constant", "cosine", "step", NULL};

const char *rove_train_arch_name(int arch) {
  return arch >= 0 && arch < 3 ? arch_names[arch] : "?";
}
const char *rove_train_variant_name(int variant) {
  return variant >= 0 && variant < 3 ? variant_names[variant] : "?";
}

void rove_train_spec_default(rove_train_spec *s) {
  memset(s, 0, sizeof *s);
  s->arch = ROVE_TRAIN_ARCH_SMALLCNN;
  s->width = 1;
  s->hidden[0] = 256;
  s->hidden[1] = 256;
  s->n_hidden = 2;
  s->variant = ROVE_TRAIN_STANDARD;
  s->epochs = 10;
  s->batch = 128;
  s->opt = ROVE_TRAIN_SGD;
  s->lr = 0.05;
  s->momentum = 0.9;
  s->wd = 5e-4;
  s->beta1 = 0.9;
  s->beta2 = 0.999;
  s->sched = ROVE_TRAIN_COSINE;
  s->gamma = 0.1;
  s->step_epochs = 10;
  s->eps = 0.1;
  s->steps = 7;
  s->qat_frac = 0.5;
  s->prune_at = 0.5;
  s->logit_scale = 1;
  s->seed = 1;
  snprintf(s->data, sizeof s->data, "fashion-mnist:train");
  snprintf(s->test, sizeof s->test, "fashion-mnist:test");
}

void rove_train_fingerprint(const rove_train_spec *s, char *buf, size_t cap) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, cap - k, "v1 arch=%s width=%.17g",
                        rove_train_arch_name(s->arch), s->width);
  if (s->arch == ROVE_TRAIN_ARCH_MLP)
    for (int i = 0; i < s->n_hidden && k < cap; i++)
      k += (size_t)snprintf(buf + k, cap - k, "%s%d",
                            i ? "," : " hidden=", s->hidden[i]);
  if (k >= cap)
    return;
  k += (size_t)snprintf(
      buf + k, cap - k,
      " variant=%s epochs=%d batch=%d opt=%s lr=%.17g momentum=%.17g "
      "wd=%.17g betas=%.17g,%.17g sched=%s gamma=%.17g step_epochs=%d",
      rove_train_variant_name(s->variant), s->epochs, s->batch,
      opt_names[s->opt], s->lr, s->momentum, s->wd, s->beta1, s->beta2,
      sched_names[s->sched], s->gamma, s->step_epochs);
  if (k < cap && s->variant == ROVE_TRAIN_PGD)
    k += (size_t)snprintf(buf + k, cap - k,
                          " eps=%.17g pgd_steps=%d pgd_step=%.17g", s->eps,
                          s->steps, s->step);
  if (k < cap && s->variant == ROVE_TRAIN_QAT)
    k += (size_t)snprintf(buf + k, cap - k, " wbits=%d abits=%d qat=%.17g",
                          s->wbits, s->abits, s->qat_frac);
  if (k < cap && s->prune > 0)
    k += (size_t)snprintf(buf + k, cap - k, " prune=%.17g@%.17g", s->prune,
                          s->prune_at);
  /* Only when given, so fingerprints of models without one are as before. */
  if (k < cap && rove_norm_given(&s->norm)) {
    char m[256], d[256];
    rove_norm_text(s->norm.mean, s->norm.n_mean, m, sizeof m);
    rove_norm_text(s->norm.std, s->norm.n_std, d, sizeof d);
    k += (size_t)snprintf(buf + k, cap - k, " mean=%s std=%s", m, d);
  }
  if (k < cap)
    snprintf(buf + k, cap - k,
             " logit_scale=%.17g seed=%llu data=%s n_train=%ld test=%s "
             "n_test=%ld",
             s->logit_scale, (unsigned long long)s->seed, s->data, s->n_train,
             s->test, s->n_test);
}

const char *const rove_zoo_model_keys[ROVE_ZOO_N_MODEL_KEYS + 1] = {
    "arch",     "width",        "hidden",   "variant",  "epochs",
    "batch",    "optimizer",    "lr",       "momentum", "weight_decay",
    "beta1",    "beta2",        "schedule", "gamma",    "step_epochs",
    "eps",      "pgd_steps",    "pgd_step", "bits",     "weight_bits",
    "act_bits", "qat_fraction", "prune",    "prune_at", "logit_scale",
    "seed",     "data",         "test",     "n_train",  "n_test",
    "mean",     "std",          NULL};

typedef struct zctx {
  const rove_ini *ini;
  const rove_ini_section *zs; /* [zoo], or NULL */
  const rove_ini_section *ms; /* [model NAME] */
} zctx;

/* The section a key is taken from: the model's own, else [zoo]. */
static const rove_ini_section *from(const zctx *c, const char *key) {
  if (rove_ini_key_find(c->ms, key))
    return c->ms;
  if (c->zs && rove_ini_key_find(c->zs, key))
    return c->zs;
  return c->ms;
}

static int get_d(const zctx *c, const char *key, double dflt, double lo,
                 double hi, double *out) {
  return rove_ini_get_double(c->ini, from(c, key), key, 0, dflt, lo, hi, out);
}

static int get_i(const zctx *c, const char *key, long long dflt, long long lo,
                 long long hi, long long *out) {
  return rove_ini_get_int(c->ini, from(c, key), key, 0, dflt, lo, hi, out);
}

/* mean = / std = (common/normalize.h); errors name the line and key. */
static int get_norm(const zctx *c, const char *key, float *v, int *n) {
  const rove_ini_section *sec = from(c, key);
  const char *text = NULL;
  *n = 0;
  ROVE_TRY(rove_ini_get_str(c->ini, sec, key, 0, NULL, &text));
  if (!text)
    return 0;
  if (rove_norm_parse(text, v, n, key) < 0) {
    char why[512];
    snprintf(why, sizeof why, "%s", rove_error_message());
    return rove_ini_error(ROVE_EINVAL, c->ini, sec, rove_ini_key_find(sec, key),
                          "%s", why);
  }
  return 0;
}

/* A name from a fixed list; the error lists the accepted names. */
static int get_enum(const zctx *c, const char *key, const char *const *names,
                    int dflt, int *out) {
  const rove_ini_section *s = from(c, key);
  const rove_ini_key *k = rove_ini_key_find(s, key);
  *out = dflt;
  if (!k)
    return 0;
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], k->value) == 0) {
      *out = i;
      return 0;
    }
  char list[160];
  size_t n = 0;
  list[0] = '\0';
  for (int i = 0; names[i] && n < sizeof list; i++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                          names[i]);
  return rove_ini_error(ROVE_EINVAL, c->ini, s, k,
                        "unknown value '%s' (expected one of: %s)", k->value,
                        list);
}

static int get_bits(const zctx *c, const char *key, int dflt, int *out) {
  long long v;
  const rove_ini_section *s = from(c, key);
  ROVE_TRY(rove_ini_get_int(c->ini, s, key, 0, dflt, 0, 64, &v));
  if (v != 0 && v != 2 && v != 4 && v != 8)
    return rove_ini_error(ROVE_EINVAL, c->ini, s, rove_ini_key_find(s, key),
                          "bit width %lld is not supported (expected 8, 4 or "
                          "2)",
                          v);
  *out = (int)v;
  return 0;
}

static int get_str(const zctx *c, const char *key, const char *dflt, char *out,
                   size_t cap) {
  const char *v;
  const rove_ini_section *s = from(c, key);
  ROVE_TRY(rove_ini_get_str(c->ini, s, key, 0, dflt, &v));
  if (strlen(v) >= cap)
    return rove_ini_error(ROVE_EINVAL, c->ini, s, rove_ini_key_find(s, key),
                          "value is longer than %zu characters", cap - 1);
  if (v != out)
    snprintf(out, cap, "%s", v);
  return 0;
}

static int name_ok(const char *n) {
  if (!n[0] || strlen(n) >= 64 || n[0] == '.')
    return 0;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
      return 0;
  return 1;
}

static int parse_model(const zctx *c, rove_train_spec *s) {
  const rove_ini *ini = c->ini;
  long long v;
  double d;
  rove_train_spec_default(s);
  if (!name_ok(c->ms->name))
    return rove_ini_error(ROVE_EINVAL, ini, c->ms, NULL,
                          "model name '%s' must be 1 to 63 letters, digits, "
                          "'-', '_' or '.' (it names the output files)",
                          c->ms->name);
  snprintf(s->name, sizeof s->name, "%s", c->ms->name);
  s->line = c->ms->line;
  ROVE_TRY(get_enum(c, "arch", arch_names, s->arch, &s->arch));
  ROVE_TRY(get_d(c, "width", s->width, 0.0625, 8, &s->width));
  if (rove_ini_key_find(from(c, "hidden"), "hidden")) {
    double h[ROVE_TRAIN_MAX_HIDDEN];
    int n;
    ROVE_TRY(rove_ini_get_doubles(ini, from(c, "hidden"), "hidden", 1, 65536, h,
                                  ROVE_TRAIN_MAX_HIDDEN, &n));
    for (int i = 0; i < n; i++) {
      if (h[i] != floor(h[i]))
        return rove_ini_error(ROVE_EINVAL, ini, from(c, "hidden"),
                              rove_ini_key_find(from(c, "hidden"), "hidden"),
                              "layer width %g is not an integer", h[i]);
      s->hidden[i] = (int)h[i];
    }
    s->n_hidden = n;
  }
  ROVE_TRY(get_enum(c, "variant", variant_names, s->variant, &s->variant));
  ROVE_TRY(get_i(c, "epochs", s->epochs, 1, 100000, &v));
  s->epochs = (int)v;
  ROVE_TRY(get_i(c, "batch", s->batch, 1, 65536, &v));
  s->batch = (int)v;
  ROVE_TRY(get_enum(c, "optimizer", opt_names, s->opt, &s->opt));
  ROVE_TRY(
      get_d(c, "lr", s->opt == ROVE_TRAIN_ADAM ? 1e-3 : s->lr, 0, 100, &s->lr));
  ROVE_TRY(get_d(c, "momentum", s->momentum, 0, 0.9999, &s->momentum));
  ROVE_TRY(get_d(c, "weight_decay", s->wd, 0, 1, &s->wd));
  ROVE_TRY(get_d(c, "beta1", s->beta1, 0, 0.9999, &s->beta1));
  ROVE_TRY(get_d(c, "beta2", s->beta2, 0, 0.999999, &s->beta2));
  ROVE_TRY(get_enum(c, "schedule", sched_names, s->sched, &s->sched));
  ROVE_TRY(get_d(c, "gamma", s->gamma, 0, 1, &s->gamma));
  ROVE_TRY(get_i(c, "step_epochs", s->step_epochs, 1, 100000, &v));
  s->step_epochs = (int)v;
  ROVE_TRY(get_d(c, "eps", s->eps, 0, 1, &s->eps));
  ROVE_TRY(get_i(c, "pgd_steps", s->steps, 1, 1000, &v));
  s->steps = (int)v;
  ROVE_TRY(get_d(c, "pgd_step", 0, 0, 1, &s->step));
  int bits;
  ROVE_TRY(get_bits(c, "bits", s->variant == ROVE_TRAIN_QAT ? 8 : 0, &bits));
  ROVE_TRY(get_bits(c, "weight_bits", bits, &s->wbits));
  ROVE_TRY(get_bits(c, "act_bits", bits, &s->abits));
  ROVE_TRY(get_d(c, "qat_fraction", s->qat_frac, 0, 1, &s->qat_frac));
  ROVE_TRY(get_d(c, "prune", 0, 0, 0.99, &s->prune));
  ROVE_TRY(get_d(c, "prune_at", s->prune_at, 0, 1, &s->prune_at));
  ROVE_TRY(get_d(c, "logit_scale", 1, 1e-3, 1e6, &s->logit_scale));
  ROVE_TRY(get_i(c, "seed", 1, 0, INT64_MAX, &v));
  s->seed = (uint64_t)v;
  ROVE_TRY(get_str(c, "data", s->data, s->data, sizeof s->data));
  ROVE_TRY(get_str(c, "test", s->test, s->test, sizeof s->test));
  ROVE_TRY(get_i(c, "n_train", 0, 0, INT32_MAX, &v));
  s->n_train = (long)v;
  ROVE_TRY(get_i(c, "n_test", 0, 0, INT32_MAX, &v));
  s->n_test = (long)v;
  ROVE_TRY(get_norm(c, "mean", s->norm.mean, &s->norm.n_mean));
  ROVE_TRY(get_norm(c, "std", s->norm.std, &s->norm.n_std));
  (void)d;
  if (s->variant != ROVE_TRAIN_QAT)
    s->wbits = s->abits = 0;
  /* Settings that only mean something for one variant are errors
   * elsewhere, so a typo never trains a different model silently. */
  static const char *const pgd_only[] = {"eps", "pgd_steps", "pgd_step", NULL};
  static const char *const qat_only[] = {"bits", "weight_bits", "act_bits",
                                         "qat_fraction", NULL};
  for (int i = 0; pgd_only[i]; i++) {
    const rove_ini_key *k = rove_ini_key_find(c->ms, pgd_only[i]);
    if (k && s->variant != ROVE_TRAIN_PGD)
      return rove_ini_error(ROVE_EINVAL, ini, c->ms, k,
                            "only meaningful with variant = pgd (this model "
                            "is '%s')",
                            rove_train_variant_name(s->variant));
  }
  for (int i = 0; qat_only[i]; i++) {
    const rove_ini_key *k = rove_ini_key_find(c->ms, qat_only[i]);
    if (k && s->variant != ROVE_TRAIN_QAT)
      return rove_ini_error(ROVE_EINVAL, ini, c->ms, k,
                            "only meaningful with variant = qat (this model "
                            "is '%s')",
                            rove_train_variant_name(s->variant));
  }
  if (s->variant == ROVE_TRAIN_PGD && !(s->eps > 0)) {
    const rove_ini_section *es = from(c, "eps");
    return rove_ini_error(ROVE_ERANGE, ini, es, rove_ini_key_find(es, "eps"),
                          "PGD training needs eps > 0");
  }
  if (s->variant == ROVE_TRAIN_QAT && s->wbits == 0 && s->abits == 0)
    return rove_ini_error(ROVE_EINVAL, ini, c->ms, NULL,
                          "variant = qat quantizes nothing (weight_bits and "
                          "act_bits are both 0)");
  if (s->arch == ROVE_TRAIN_ARCH_MLP && rove_ini_key_find(c->ms, "width"))
    return rove_ini_error(ROVE_EINVAL, ini, c->ms,
                          rove_ini_key_find(c->ms, "width"),
                          "the MLP's size is set by 'hidden', not 'width'");
  if (s->arch != ROVE_TRAIN_ARCH_MLP && rove_ini_key_find(c->ms, "hidden"))
    return rove_ini_error(ROVE_EINVAL, ini, c->ms,
                          rove_ini_key_find(c->ms, "hidden"),
                          "'hidden' is for arch = mlp");
  return 0;
}

static int zoo_parse(rove_zoo *z) {
  static const char *const types[] = {"zoo", "model", NULL};
  const rove_ini *ini = &z->ini;
  ROVE_TRY(rove_ini_check_sections(ini, types));
  const rove_ini_section *zs = rove_ini_find(ini, "zoo", NULL);
  const char *zoo_keys[ROVE_ZOO_N_MODEL_KEYS + 2];
  size_t nk = 0;
  for (; rove_zoo_model_keys[nk]; nk++)
    zoo_keys[nk] = rove_zoo_model_keys[nk];
  zoo_keys[nk] = "output";
  zoo_keys[nk + 1] = NULL;
  int nmod = 0;
  for (int i = 0; i < ini->n_secs; i++) {
    const rove_ini_section *s = &ini->secs[i];
    if (strcmp(s->type, "zoo") == 0) {
      if (s != zs)
        return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                              "a second [zoo] section");
      ROVE_TRY(rove_ini_check_keys(ini, s, zoo_keys));
    } else {
      ROVE_TRY(rove_ini_check_keys(ini, s, rove_zoo_model_keys));
      nmod++;
    }
  }
  if (nmod == 0)
    return ROVE_ERR(ROVE_EINVAL, "%s: no [model NAME] sections", ini->path);
  const char *out;
  ROVE_TRY(rove_ini_get_str(ini, zs, "output", 0, "", &out));
  if (strlen(out) >= sizeof z->output)
    return rove_ini_error(ROVE_EINVAL, ini, zs, rove_ini_key_find(zs, "output"),
                          "path too long");
  snprintf(z->output, sizeof z->output, "%s", out);
  z->models = calloc((size_t)nmod, sizeof *z->models);
  if (!z->models)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (int i = 0; i < ini->n_secs; i++) {
    const rove_ini_section *s = &ini->secs[i];
    if (strcmp(s->type, "model") != 0)
      continue;
    for (int j = 0; j < z->n_models; j++)
      if (strcmp(z->models[j].name, s->name) == 0)
        return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                              "model '%s' is already defined on line %d",
                              s->name, z->models[j].line);
    zctx c = {ini, zs, s};
    ROVE_TRY(parse_model(&c, &z->models[z->n_models]));
    z->n_models++;
  }
  return 0;
}

int rove_zoo_load(rove_zoo *z, const char *path) {
  memset(z, 0, sizeof *z);
  ROVE_TRY(rove_ini_load(&z->ini, path));
  int rc = zoo_parse(z);
  if (rc < 0) {
    rove_zoo_deinit(z);
    ROVE_TRY(rc);
  }
  return 0;
}

int rove_zoo_load_string(rove_zoo *z, const char *text, const char *what) {
  memset(z, 0, sizeof *z);
  ROVE_TRY(rove_ini_load_string(&z->ini, text, what));
  int rc = zoo_parse(z);
  if (rc < 0) {
    rove_zoo_deinit(z);
    ROVE_TRY(rc);
  }
  return 0;
}

void rove_zoo_deinit(rove_zoo *z) {
  rove_ini_deinit(&z->ini);
  free(z->models);
  memset(z, 0, sizeof *z);
}
