/* attack.h - internals shared by the files of common/attack/ (not public). */
#ifndef ROVE_COMMON_ATTACK_ATTACK_H
#define ROVE_COMMON_ATTACK_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/eval.h"
#include "common/model.h"
#include "common/rng.h"

/* Attack components, from the registry common/attack/attacks.def. */
enum rove__atk {
#define X(E, name, fn, grad) ROVE__ATK_##E,
#include "common/attack/attacks.def"
#undef X
  ROVE__ATK_COUNT
};

/* Losses. Every loss is maximised by the attacks and computed in double
 * from the float32 logits. */
enum rove__loss {
#define X(E, name, fn, min_k, sel) ROVE__LOSS_##E,
#include "common/attack/losses.def"
#undef X
  ROVE__LOSS_COUNT
};

enum rove__init {
  ROVE__INIT_ZERO = 0,
  ROVE__INIT_UNIFORM,
  ROVE__INIT_GAUSSIAN,
  ROVE__INIT_ODI,
  ROVE__INIT_COUNT
};

enum rove__bpda { ROVE__BPDA_OFF = 0, ROVE__BPDA_ON, ROVE__BPDA_AUTO };

/* Thresholds of the top logit margin where float32 cross-entropy
 * saturates (common/NUMERICS.md, case 1): CE exactly 0, probabilities of the
 * other classes subnormal, every logit gradient exactly 0. */
#define ROVE_SAT_F32_CE 16.6355
#define ROVE_SAT_F32_SUBNORMAL 87.3365
#define ROVE_SAT_F32_ZERO_GRAD 103.972
#define ROVE_SAT_F16_CE 7.6246
#define ROVE_SAT_F16_SUBNORMAL 9.7041
#define ROVE_SAT_F16_ZERO_GRAD 17.3287

#define ROVE__MAX_STAGES 8

/* One attack of a profile's pipeline. Plain fixed-width data: it is
 * encoded field by field on the wire. */
typedef struct rove__stage {
  int32_t attack;   /* enum rove__atk */
  int32_t loss;     /* enum rove__loss (apgd-t always uses DLR_T) */
  int32_t init;     /* enum rove__init */
  int32_t steps;    /* iterations; Square: queries */
  int32_t restarts; /* the stage runs in restarts 0 .. restarts-1 */
  int32_t follow;   /* 1: `--restarts R` sets this stage's restarts */
  int32_t targets;  /* apgd-t: number of target classes */
  double step_rel;  /* step size as a multiple of eps (0: the default) */
  double step_abs;  /* absolute step size (0: unused; wins over step_rel) */
  double p_init;    /* Square: initial fraction of pixels changed */
} rove__stage;

struct rove_profile {
  char preset[32];
  int32_t n_stages;
  rove__stage st[ROVE__MAX_STAGES];
  int32_t bpda;      /* enum rove__bpda */
  float beta;        /* sharpness of the smooth ReLU/MaxPool surrogates */
  int32_t norm_linf; /* the norm the profile was written for (default) */
  int32_t cert;      /* -1: an attack profile; else preset "certify", by
                        this method (enum rove_cert_method): the unit
                        certifies instead of attacking */
};

/* Registry lookups. */
const char *rove__atk_name(int atk);
int rove__atk_find(const char *name);
int rove__atk_uses_grad(int atk);
const char *rove__loss_name(int loss);
int rove__loss_find(const char *name);
const char *rove__init_name(int init);
int rove__init_find(const char *name);
const char *rove__bpda_name(int bpda);

/* Per-example arguments of a loss. */
typedef struct rove__lossarg {
  int y;          /* true class */
  int t;          /* target class (DLR_T) */
  double temp;    /* temperature T (CE_SCALED) */
  const float *w; /* K weights (ODI) */
} rove__lossarg;

/* One loss of losses.def: value and, when dz != NULL, gradient. */
#define X(E, name, fn, min_k, sel)                                             \
  double fn(const float *z, int K, const struct rove__lossarg *a, float *dz);
#include "common/attack/losses.def"
#undef X
/* 1 when a user may select the loss (losses.def). */
int rove__loss_selectable(int loss);

/* Loss value (double) of logits z[0..K) and, when dz != NULL, its
 * gradient with respect to z, computed in double and rounded to float.
 * K must satisfy rove__loss_min_classes. */
double rove__loss_eval(int loss, const float *z, int K, const rove__lossarg *a,
                       float *dz);
/* Smallest number of classes a loss is defined for (DLR 3, DLR_T 4). */
int rove__loss_min_classes(int loss);
/* z_y - max_{j != y} z_j in double (the true class masked, not zeroed). */
double rove__margin(const float *z, int K, int y);
/* First index of the largest logit (what frameworks' argmax returns). */
int rove__argmax(const float *z, int K);
/* The temperature CE_SCALED uses for clean logits z: the gap between the
 * two largest logits, so (z_pi1 - z_pi2) / T = 1 whatever the logit scale;
 * 1 when the gap is zero or not finite. */
double rove__scaled_temp(const float *z, int K);

/* Everything one unit's attacks share. Built by unit.c; attacks read the
 * configuration and per-example inputs and write candidates through
 * rove__offer. Per-example arrays have n entries (example index `ex`),
 * per-slot arrays bmax entries (a chunk of at most bmax examples is
 * attacked together; slot j holds example ex_of[j]). */
typedef struct rove__ctx {
  const rove_unit *u;
  const rove_model *m;
  rove_exec *e; /* bmax, with the profile's backward modes */
  int bmax, d, K, n;
  int norm_linf;
  double eps;
  /* Identity of the running stage in the random keys: its attack, loss
   * and start, and how many identical stages precede it. Not its position,
   * so a stage draws the same numbers in every profile that contains it
   * (precise's APGD-CE is exactly a stand-alone APGD-CE run). */
  uint64_t stage_key;
  int max_steps; /* largest `steps` of any stage (sizes the traces) */
  /* per example */
  const float *z0; /* clean logits, n * K */
  int8_t *cand;    /* the current stage found an adversarial candidate */
  float *xcand;    /* n * d: that candidate */
  float *xlow;     /* n * d: the lowest-margin point seen */
  float *xsur;     /* n * d: the point a gradient attack ended on (its
                      best loss), checked on the BPDA surrogate */
  int8_t *has_sur; /* xsur is set */
  double *mlow;    /* its margin */
  uint32_t *diag;
  rove_unit_stats *st;
  /* per slot (scratch, planned once) */
  int *ex_of;
  int *act;          /* active slot list */
  float *bx;         /* bmax * d: gathered batch */
  float *bg;         /* bmax * d: its input gradient */
  float *bdz;        /* bmax * K */
  float *wodi;       /* bmax * K */
  float *s[6];       /* bmax * d each: attack state */
  double *dv[6];     /* bmax each */
  double *trace;     /* bmax * (max_steps + 2) */
  int *iv[2];        /* bmax each */
  int8_t *adv;       /* bmax: the last evaluation was misclassified */
  rove__lossarg *la; /* bmax */
  rove_rng *rng;     /* bmax */
  /* Test hook: when non-NULL, APGD writes slot 0's step size before each
   * iteration here (max_steps entries). */
  double *eta_trace;
} rove__ctx;

/* Keys slot j's generator by the unit's identity, the example's global
 * index, the stage and `sub` (target index, restart of a sub-run, ...). */
void rove__rng_slot(rove__ctx *c, int slot, int atk, uint64_t sub);

/* Forward (and backward when g != NULL) of the points xs[slot * d] for the
 * slots act[0 .. na): loss[slot], margin[slot] (true model, double),
 * c->adv[slot], and the input gradient into g[slot * d]. Counts the
 * evaluations in c->st. */
void rove__eval(rove__ctx *c, int loss, const int *act, int na, const float *xs,
                double *loss_out, float *g, double *margin);

/* Records point xp (d floats) of slot's example with true margin m:
 * keeps the lowest-margin point, and when c->adv[slot] says it is
 * misclassified stores it as the stage's candidate and returns 1 (the
 * attack then stops working on the slot). */
int rove__offer(rove__ctx *c, int slot, const float *xp, double m);
/* Records the point a gradient attack ended on for a slot it did not
 * break: the candidate the BPDA surrogate check looks at. */
void rove__final(rove__ctx *c, int slot, const float *xp);

/* Projection of p onto the ball around x (radius eps, c->norm_linf) and
 * [0, 1]. L-inf: exact clipping; L2: radial projection, then clip. */
void rove__project(const rove__ctx *c, const float *x, float *p);
/* Writes the start points of `init` for the slots act[0 .. na) (rngs
 * already keyed) into p[slot * d]. ODI draws its output weights into
 * c->wodi and runs its two diversification steps (2 gradient evaluations
 * per slot, using c->s[5] as scratch). */
void rove__init_points(rove__ctx *c, int init, const int *act, int na,
                       float *p);
/* Clean input of slot's example (borrowed). */
const float *rove__x(const rove__ctx *c, int slot);
/* p += a * dir, where dir is sign(g) (L-inf) or g / ||g||_2 (L2). */
void rove__step(const rove__ctx *c, float *p, const float *g, double a);

/* Incomplete-optimization check (Pintor et al. 2022) of a loss trace of
 * len values: normalised to [0, 1], running best, the last 10 values span
 * more than 0.05. */
int rove__trace_incomplete(const double *trace, int len);

/* Step size of a stage at radius eps: step_abs, else step_rel * eps,
 * else def_rel * eps. */
double rove__step_size(const rove__stage *s, double eps, double def_rel);

/* Chunk runners, one per registry line: attack the slots 0 .. nb-1
 * (c->ex_of filled). */
#define X(E, name, fn, grad) int fn(rove__ctx *c, const rove__stage *s, int nb);
#include "common/attack/attacks.def"
#undef X

/* APGD's checkpoints for N iterations: writes the iteration indices (0
 * based, the check happens after that iteration) into out (at most cap)
 * and returns how many there are. */
int rove__apgd_checkpoints(int N, int *out, int cap);

/* rove_eval_unit with a test hook: eta_trace (may be NULL) receives the
 * step sizes of APGD's first slot (see rove__ctx.eta_trace). */
int rove__eval_unit_traced(const rove_unit *u, rove_example_result *out,
                           float *x_adv, rove_unit_stats *st,
                           double *eta_trace);

/* The per-node backward modes a BPDA setting selects for model m. */
void rove__bpda_apply(rove_exec *e, int bpda, float beta);

#endif
