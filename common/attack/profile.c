/* profile.c - attack profiles: presets (naive, precise, ablation steps),
 * options by name, the canonical wire encoding, and the name registries. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/attack/attack.h"
#include "common/certify/certify.h"
#include "common/err.h"
#include "common/wire.h"

static const char *const atk_names[] = {
#define X(E, name, fn, grad) name,
#include "common/attack/attacks.def"
#undef X
    NULL};
_Static_assert(sizeof atk_names / sizeof atk_names[0] == ROVE__ATK_COUNT + 1,
               "one name per attack");
static const int atk_grad[] = {
#define X(E, name, fn, grad) grad,
#include "common/attack/attacks.def"
#undef X
};
static const char *const loss_names[] = {
#define X(E, name, fn, min_k, sel) name,
#include "common/attack/losses.def"
#undef X
    NULL};
_Static_assert(sizeof loss_names / sizeof loss_names[0] == ROVE__LOSS_COUNT + 1,
               "one name per loss");
static const char *const init_names[] = {"zero", "uniform", "gaussian", "odi",
                                         NULL};
_Static_assert(sizeof init_names / sizeof init_names[0] == ROVE__INIT_COUNT + 1,
               "one name per enum rove__init");
static const char *const bpda_names[] = {"off", "on", "auto", NULL};
_Static_assert(sizeof bpda_names / sizeof bpda_names[0] == ROVE__BPDA_AUTO + 2,
               "one name per enum rove__bpda");
static const char *const diag_names[] = {
    "zero_grad",  "saturated",   "incomplete",    "nonconverging",
    "randomized", "prob_output", "transfer_fail", "square_beat"};
_Static_assert(sizeof diag_names / sizeof diag_names[0] == ROVE_DIAG_COUNT,
               "one name per enum rove_diag");

const char *const rove_ablation_presets[] = {
    "naive", "naive+scaled", "naive+bpda", "naive+odi", "precise", NULL};

const char *const *rove_attack_names(int *count) {
  if (count)
    *count = ROVE__ATK_COUNT;
  return atk_names;
}

const char *rove_diag_name(int bit) {
  return bit >= 0 && bit < ROVE_DIAG_COUNT ? diag_names[bit] : "?";
}

static int find(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], s))
      return i;
  return -1;
}

const char *rove__atk_name(int atk) {
  return atk >= 0 && atk < ROVE__ATK_COUNT ? atk_names[atk] : "?";
}
int rove__atk_find(const char *name) {
  return find(atk_names, name);
}
int rove__atk_uses_grad(int atk) {
  return atk >= 0 && atk < ROVE__ATK_COUNT && atk_grad[atk];
}
const char *rove__loss_name(int loss) {
  return loss >= 0 && loss < ROVE__LOSS_COUNT ? loss_names[loss] : "?";
}
int rove__loss_find(const char *name) {
  return find(loss_names, name);
}
const char *rove__init_name(int init) {
  return init >= 0 && init < ROVE__INIT_COUNT ? init_names[init] : "?";
}
int rove__init_find(const char *name) {
  return find(init_names, name);
}
const char *rove__bpda_name(int bpda) {
  return bpda >= 0 && bpda <= ROVE__BPDA_AUTO ? bpda_names[bpda] : "?";
}

size_t rove_profile_size(void) {
  return sizeof(struct rove_profile);
}

/* Default iteration counts per attack: PGD-20 is what papers usually
 * report; 100 is AutoAttack's APGD budget; Square gets 1000 queries (5000
 * in AutoAttack, which is too slow for a two-core demo; --queries raises
 * it). */
static int default_steps(int atk) {
  switch (atk) {
  case ROVE__ATK_FGSM: return 1;
  case ROVE__ATK_PGD: return 20;
  case ROVE__ATK_SQUARE: return 1000;
  default: return 100;
  }
}

static rove__stage stage(int atk, int loss, int init, int restarts,
                         int follow) {
  rove__stage s;
  memset(&s, 0, sizeof s);
  s.attack = atk;
  s.loss = atk == ROVE__ATK_APGD_T   ? ROVE__LOSS_DLR_T
           : atk == ROVE__ATK_SQUARE ? ROVE__LOSS_CW
                                     : loss;
  s.init = init;
  s.steps = default_steps(atk);
  s.restarts = restarts;
  s.follow = follow;
  s.targets = 9;
  s.p_init = 0.8;
  return s;
}

static int preset(rove_profile *p, const char *name) {
  memset(p, 0, sizeof *p);
  snprintf(p->preset, sizeof p->preset, "%s", name);
  p->beta = 10.0f;
  p->norm_linf = 1;
  p->bpda = ROVE__BPDA_OFF;
  p->cert = -1;
  rove__stage naive =
      stage(ROVE__ATK_PGD, ROVE__LOSS_CE, ROVE__INIT_UNIFORM, 1, 1);
  if (!strcmp(name, "naive")) {
    p->st[p->n_stages++] = naive;
  } else if (!strcmp(name, "naive+scaled")) {
    naive.loss = ROVE__LOSS_CE_SCALED;
    p->st[p->n_stages++] = naive;
  } else if (!strcmp(name, "naive+bpda")) {
    p->bpda = ROVE__BPDA_AUTO;
    p->st[p->n_stages++] = naive;
  } else if (!strcmp(name, "naive+odi")) {
    naive.init = ROVE__INIT_ODI;
    naive.restarts = 4;
    p->st[p->n_stages++] = naive;
  } else if (!strcmp(name, "precise")) {
    /* See common/attack/README.md for why each stage is there. */
    p->bpda = ROVE__BPDA_AUTO;
    p->st[p->n_stages++] =
        stage(ROVE__ATK_APGD, ROVE__LOSS_CE, ROVE__INIT_UNIFORM, 1, 0);
    p->st[p->n_stages++] =
        stage(ROVE__ATK_APGD, ROVE__LOSS_CE_SCALED, ROVE__INIT_ODI, 2, 1);
    p->st[p->n_stages++] =
        stage(ROVE__ATK_APGD_T, ROVE__LOSS_DLR_T, ROVE__INIT_UNIFORM, 1, 0);
    p->st[p->n_stages++] =
        stage(ROVE__ATK_SQUARE, ROVE__LOSS_CW, ROVE__INIT_UNIFORM, 1, 0);
  } else if (!strcmp(name, "certify")) {
    /* No attack: bound propagation (common/certify/), a lower bound. */
    p->cert = ROVE_CERT_BEST;
  } else {
    return ROVE_ERR(ROVE_EINVAL,
                    "unknown profile '%s' (expected naive, precise, "
                    "naive+scaled, naive+bpda, naive+odi or certify)",
                    name);
  }
  return 0;
}

int rove_profile_create(rove_profile **out, const char *name) {
  *out = NULL;
  rove_profile *p = calloc(1, sizeof *p);
  if (!p)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory creating a profile");
  int rc = preset(p, name);
  if (rc < 0) {
    free(p);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  *out = p;
  return 0;
}

void rove_profile_destroy(rove_profile **p) {
  if (p && *p) {
    free(*p);
    *p = NULL;
  }
}

int rove_profile_restarts(const rove_profile *p) {
  int r = 1;
  for (int i = 0; i < p->n_stages; i++)
    if (p->st[i].restarts > r)
      r = p->st[i].restarts;
  return r;
}

int rove_profile_certifies(const rove_profile *p) {
  return p->cert >= 0;
}

int rove_profile_norm_linf(const rove_profile *p) {
  return p->norm_linf;
}

static int parse_int(const char *key, const char *v, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    return ROVE_ERR(ROVE_EINVAL, "%s: '%s' is not an integer in [%d, %d]", key,
                    v, lo, hi);
  *out = (int)x;
  return 0;
}

static void join(char *buf, size_t cap, const char *const *names, int n) {
  buf[0] = 0;
  for (int i = 0; i < n && names[i]; i++) {
    size_t l = strlen(buf);
    snprintf(buf + l, cap - l, "%s%s", i ? "|" : "", names[i]);
  }
}

static int set_attack(rove_profile *p, const char *value) {
  char names[256];
  int a = rove__atk_find(value);
  if (a < 0) {
    join(names, sizeof names, atk_names, ROVE__ATK_COUNT);
    return ROVE_ERR(ROVE_EINVAL, "attack: unknown attack '%s' (expected %s)",
                    value, names);
  }
  /* One attack replaces the pipeline; it keeps the loss and start of
   * the profile's first untargeted gradient stage. */
  int loss = ROVE__LOSS_CE, init = ROVE__INIT_UNIFORM;
  for (int i = 0; i < p->n_stages; i++)
    if (p->st[i].attack != ROVE__ATK_APGD_T &&
        rove__atk_uses_grad(p->st[i].attack)) {
      loss = p->st[i].loss;
      init = p->st[i].init;
      break;
    }
  if (a == ROVE__ATK_FGSM)
    init = ROVE__INIT_ZERO;
  /* One restart, as the attack's authors run it, unless `restarts`
   * says otherwise. */
  p->n_stages = 1;
  p->st[0] = stage(a, loss, init, 1, 1);
  return 0;
}

static int set_loss(rove_profile *p, const char *value) {
  int l = rove__loss_find(value);
  if (!rove__loss_selectable(l)) {
    char names[256];
    size_t k = 0;
    names[0] = 0;
    for (int i = 0; i < ROVE__LOSS_COUNT && k < sizeof names; i++)
      if (rove__loss_selectable(i))
        k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? "|" : "",
                              loss_names[i]);
    return ROVE_ERR(ROVE_EINVAL, "loss: unknown loss '%s' (expected %s)", value,
                    names);
  }
  int any = 0;
  for (int i = 0; i < p->n_stages; i++)
    if (rove__atk_uses_grad(p->st[i].attack) &&
        p->st[i].attack != ROVE__ATK_APGD_T) {
      p->st[i].loss = l;
      any = 1;
    }
  if (!any)
    return ROVE_ERR(ROVE_EINVAL,
                    "loss: the profile has no untargeted gradient attack "
                    "to use '%s' (apgd-t always uses the targeted DLR "
                    "loss; square uses the margin)",
                    value);
  return 0;
}

static int set_init(rove_profile *p, const char *value) {
  int v = rove__init_find(value);
  if (v < 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "init: unknown start '%s' (expected "
                    "zero|uniform|gaussian|odi)",
                    value);
  for (int i = 0; i < p->n_stages; i++)
    if (rove__atk_uses_grad(p->st[i].attack))
      p->st[i].init = v;
  return 0;
}

static int set_restarts(rove_profile *p, const char *value) {
  int r = 0;
  ROVE_TRY(parse_int("restarts", value, 1, 100000, &r));
  for (int i = 0; i < p->n_stages; i++)
    if (p->st[i].follow)
      p->st[i].restarts = r;
  return 0;
}

static int set_steps(rove_profile *p, const char *value) {
  int s = 0;
  ROVE_TRY(parse_int("steps", value, 1, 1000000, &s));
  for (int i = 0; i < p->n_stages; i++)
    if (rove__atk_uses_grad(p->st[i].attack))
      p->st[i].steps = s;
  return 0;
}

static int set_queries(rove_profile *p, const char *value) {
  int s = 0;
  ROVE_TRY(parse_int("queries", value, 1, 10000000, &s));
  for (int i = 0; i < p->n_stages; i++)
    if (p->st[i].attack == ROVE__ATK_SQUARE)
      p->st[i].steps = s;
  return 0;
}

static int set_targets(rove_profile *p, const char *value) {
  int s = 0;
  ROVE_TRY(parse_int("targets", value, 1, 100000, &s));
  for (int i = 0; i < p->n_stages; i++)
    p->st[i].targets = s;
  return 0;
}

static int set_step_size(rove_profile *p, const char *value) {
  /* "0.01" is an absolute step; "0.25eps" a multiple of eps (what a
   * run over several epsilons usually wants). */
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  int rel = !strcmp(end, "eps");
  if (errno || end == value || (*end && !rel) || !(v > 0) || !isfinite(v))
    return ROVE_ERR(ROVE_EINVAL,
                    "step-size: '%s' is not a positive number or a "
                    "multiple of eps like '0.25eps'",
                    value);
  for (int i = 0; i < p->n_stages; i++) {
    p->st[i].step_abs = rel ? 0 : v;
    p->st[i].step_rel = rel ? v : 0;
  }
  return 0;
}

static int set_bpda(rove_profile *p, const char *value) {
  int b = find(bpda_names, value);
  if (b < 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "bpda: unknown mode '%s' (expected off|on|auto)", value);
  p->bpda = b;
  return 0;
}

static int set_method(rove_profile *p, const char *v) {
  int m = rove_cert_method_find(v);
  if (p->cert < 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "option 'method' is for the certify preset (profile "
                    "'%s' attacks)",
                    p->preset);
  if (m < 0)
    return ROVE_ERR(ROVE_EINVAL, "method '%s' (expected ibp, crown or best)",
                    v);
  p->cert = m;
  return 0;
}

static int set_norm(rove_profile *p, const char *value) {
  if (!strcmp(value, "linf"))
    p->norm_linf = 1;
  else if (!strcmp(value, "l2"))
    p->norm_linf = 0;
  else
    return ROVE_ERR(ROVE_EINVAL, "norm: unknown norm '%s' (expected linf|l2)",
                    value);
  return 0;
}

static int set_beta(rove_profile *p, const char *value) {
  char *end;
  double v = strtod(value, &end);
  if (end == value || *end || !(v > 0) || !isfinite(v))
    return ROVE_ERR(ROVE_EINVAL, "beta: '%s' is not a positive number", value);
  p->beta = (float)v;
  return 0;
}

typedef int (*option_setter)(rove_profile *p, const char *value);
static const option_setter setters[] = {
#define X(sym, name, metavar, help) set_##sym,
#include "common/attack/options.def"
#undef X
};
static const rove_profile_option options[] = {
#define X(sym, name, metavar, help) {name, metavar, help},
#include "common/attack/options.def"
#undef X
};
_Static_assert(sizeof setters / sizeof setters[0] ==
                   sizeof options / sizeof options[0],
               "one setter per option of options.def");
_Static_assert(sizeof options / sizeof options[0] <= ROVE_MAX_PROFILE_OPTIONS,
               "raise ROVE_MAX_PROFILE_OPTIONS");

const rove_profile_option *rove_profile_options(int *n) {
  *n = (int)(sizeof options / sizeof options[0]);
  return options;
}

int rove_profile_set(rove_profile *p, const char *key, const char *value) {
  int n = (int)(sizeof options / sizeof options[0]);
  for (int i = 0; i < n; i++)
    if (!strcmp(key, options[i].name)) {
      /* A certify profile has no attacks for the other options to set. */
      if (p->cert >= 0 && strcmp(key, "norm") && strcmp(key, "method"))
        return ROVE_ERR(ROVE_EINVAL,
                        "option '%s' does not apply to the certify preset "
                        "(it takes norm and method)",
                        key);
      return setters[i](p, value);
    }
  char names[512];
  size_t l = 0;
  names[0] = 0;
  for (int i = 0; i < n && l < sizeof names; i++)
    l += (size_t)snprintf(names + l, sizeof names - l, "%s%s",
                          i ? (i == n - 1 ? " or " : ", ") : "",
                          options[i].name);
  return ROVE_ERR(ROVE_EINVAL, "unknown profile option '%s' (expected %s)", key,
                  names);
}

int rove_profile_check(const rove_profile *p, const rove_model *m,
                       int norm_linf) {
  int K = m->n_classes;
  if (K < 2)
    return ROVE_ERR(ROVE_EINVAL,
                    "model has %d output class(es); attacks need at least 2",
                    K);
  for (int i = 0; i < p->n_stages; i++) {
    const rove__stage *s = &p->st[i];
    int need = rove__loss_min_classes(s->loss);
    if (K < need)
      return ROVE_ERR(
          ROVE_EINVAL,
          "%s with loss %s needs at least %d classes; the model has %d "
          "(DLR divides by the gap between the 1st and %s largest logits)%s",
          rove__atk_name(s->attack), rove__loss_name(s->loss), need, K,
          need == 3 ? "3rd" : "3rd/4th",
          p->n_stages > 1 ? "; pick --attack apgd --loss ce-scaled" : "");
    if (s->attack == ROVE__ATK_SQUARE && !norm_linf && p->n_stages == 1)
      return ROVE_ERR(ROVE_EUNSUPPORTED,
                      "attack square implements the L-inf threat model only "
                      "(asked for l2)");
  }
  return 0;
}

void rove_profile_describe(const rove_profile *p, char *buf, size_t cap) {
  size_t l = 0;
  buf[0] = 0;
#define OUT(...)                                                               \
  do {                                                                         \
    if (l < cap)                                                               \
      l += (size_t)snprintf(buf + l, cap - l, __VA_ARGS__);                    \
  } while (0)
  OUT("%s:", p->preset);
  for (int i = 0; i < p->n_stages; i++) {
    const rove__stage *s = &p->st[i];
    OUT("%s %s(", i ? " ->" : "", rove__atk_name(s->attack));
    if (s->attack == ROVE__ATK_SQUARE) {
      OUT("%d queries)", s->steps);
    } else {
      OUT("%s, %s start, %d steps", rove__loss_name(s->loss),
          rove__init_name(s->init), s->steps);
      if (s->attack == ROVE__ATK_APGD_T)
        OUT(", %d targets", s->targets);
      if (s->step_abs > 0)
        OUT(", step %g", s->step_abs);
      else if (s->step_rel > 0)
        OUT(", step %geps", s->step_rel);
      OUT(")");
    }
    if (s->restarts > 1)
      OUT(" x%d restarts", s->restarts);
  }
  if (p->cert >= 0)
    OUT(" bound propagation, %s", rove_cert_method_name(p->cert));
  else
    OUT("; bpda %s", rove__bpda_name(p->bpda));
  OUT("; %s", p->norm_linf ? "linf" : "l2");
#undef OUT
}

#define PROFILE_MAGIC 0x31465052u      /* "RPF1" */
#define PROFILE_MAGIC_CERT 0x32465052u /* "RPF2": RPF1 + the method */

void rove_profile_encode(const rove_profile *p, struct rove_wbuf *w) {
  /* Attack profiles keep RPF1, so existing journals and job hashes stay
   * valid; a certify profile says so in its magic and carries its method. */
  rove_put_u32(w, p->cert >= 0 ? PROFILE_MAGIC_CERT : PROFILE_MAGIC);
  rove_put_str(w, p->preset);
  rove_put_i32(w, p->n_stages);
  for (int i = 0; i < p->n_stages; i++) {
    const rove__stage *s = &p->st[i];
    rove_put_i32(w, s->attack);
    rove_put_i32(w, s->loss);
    rove_put_i32(w, s->init);
    rove_put_i32(w, s->steps);
    rove_put_i32(w, s->restarts);
    rove_put_i32(w, s->follow);
    rove_put_i32(w, s->targets);
    rove_put_f64(w, s->step_rel);
    rove_put_f64(w, s->step_abs);
    rove_put_f64(w, s->p_init);
  }
  rove_put_i32(w, p->bpda);
  rove_put_f32(w, p->beta);
  rove_put_i32(w, p->norm_linf);
  if (p->cert >= 0)
    rove_put_i32(w, p->cert);
}

int rove_profile_decode(rove_profile *p, struct rove_rbuf *r) {
  rove_profile q;
  memset(&q, 0, sizeof q);
  uint32_t magic = rove_get_u32(r);
  if (!r->failed && magic != PROFILE_MAGIC && magic != PROFILE_MAGIC_CERT)
    return ROVE_ERR(ROVE_EVERSION,
                    "profile encoding: magic 0x%08x (expected 0x%08x)", magic,
                    PROFILE_MAGIC);
  int certify = magic == PROFILE_MAGIC_CERT;
  rove_get_str(r, q.preset, sizeof q.preset);
  q.n_stages = rove_get_i32(r);
  if (r->failed || q.n_stages < (certify ? 0 : 1) ||
      q.n_stages > ROVE__MAX_STAGES)
    return ROVE_ERR(ROVE_EFORMAT,
                    "profile encoding: %d stages (expected 1 to %d)",
                    q.n_stages, ROVE__MAX_STAGES);
  for (int i = 0; i < q.n_stages; i++) {
    rove__stage *s = &q.st[i];
    s->attack = rove_get_i32(r);
    s->loss = rove_get_i32(r);
    s->init = rove_get_i32(r);
    s->steps = rove_get_i32(r);
    s->restarts = rove_get_i32(r);
    s->follow = rove_get_i32(r);
    s->targets = rove_get_i32(r);
    s->step_rel = rove_get_f64(r);
    s->step_abs = rove_get_f64(r);
    s->p_init = rove_get_f64(r);
    if (!r->failed &&
        (s->attack < 0 || s->attack >= ROVE__ATK_COUNT || s->loss < 0 ||
         s->loss >= ROVE__LOSS_COUNT || s->init < 0 ||
         s->init >= ROVE__INIT_COUNT || s->steps < 1 || s->restarts < 1 ||
         s->targets < 1 || !(s->step_rel >= 0) || !(s->step_abs >= 0) ||
         !(s->p_init >= 0 && s->p_init <= 1)))
      return ROVE_ERR(ROVE_EFORMAT,
                      "profile encoding: stage %d has out-of-range fields", i);
  }
  q.bpda = rove_get_i32(r);
  q.beta = rove_get_f32(r);
  q.norm_linf = rove_get_i32(r);
  q.cert = certify ? rove_get_i32(r) : -1;
  if (r->failed)
    return ROVE_ERR(ROVE_EFORMAT, "profile encoding: truncated");
  if (q.bpda < 0 || q.bpda > ROVE__BPDA_AUTO || !(q.beta > 0) ||
      (q.norm_linf != 0 && q.norm_linf != 1) ||
      (certify && (q.cert < 0 || q.cert > ROVE_CERT_BEST || q.n_stages)))
    return ROVE_ERR(ROVE_EFORMAT,
                    "profile encoding: bpda/beta/norm out of range");
  *p = q;
  return 0;
}
