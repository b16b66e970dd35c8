/* eval.h - one work unit of a robustness evaluation: the contract between
 * the attack library (common/attack/) and its callers (`rove attack`, the
 * sweep's workers, adversarial training). */
#ifndef ROVE_COMMON_EVAL_H
#define ROVE_COMMON_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/model.h"

/* A profile is the full attack configuration of an evaluation: which
 * attacks run in which order, losses, initialisation, restarts, steps,
 * BPDA, norm. Plain data (no pointers), so it can be encoded on the wire
 * with rove_profile_encode/decode. Fields are owned by the attack library;
 * callers use the functions below. */
typedef struct rove_profile rove_profile;

/* Diagnostic flags, one bit each, per example (see rove_diag_name). */
enum rove_diag {
  ROVE_DIAG_ZERO_GRAD = 0, /* gradient exactly zero at the start */
  ROVE_DIAG_SATURATED,     /* clean margin past the CE saturation point */
  ROVE_DIAG_INCOMPLETE,    /* loss still moving at the end */
  ROVE_DIAG_NONCONVERGING, /* restarts disagree */
  ROVE_DIAG_RANDOMIZED,    /* repeated forwards differ */
  ROVE_DIAG_PROB_OUTPUT,   /* model ends in softmax */
  ROVE_DIAG_TRANSFER_FAIL, /* adversarial under BPDA only, not on the true
                              forward */
  ROVE_DIAG_SQUARE_BEAT,   /* Square found what gradient attacks missed */
  ROVE_DIAG_COUNT
};
const char *rove_diag_name(int bit); /* e.g. "zero_grad" */

/* Result for one example of one unit. */
typedef struct rove_example_result {
  int8_t broken; /* 1: a verified adversarial example was found */
  int8_t attack; /* index into rove_attack_names() of the attack that
                    broke it; -1 when not broken (or broken because the
                    clean point is already misclassified) */
  double margin; /* lowest true-model margin z_y - max_{j!=y} z_j seen
                    (double), <= 0 when broken (misclassified means the
                    first argmax is not y, as in the frameworks) */
  uint32_t diag; /* bit set of enum rove_diag */
} rove_example_result;

typedef struct rove_unit_stats {
  uint64_t grad_evals;    /* forward+backward passes, per example summed */
  uint64_t forward_evals; /* forward-only passes, per example summed */
} rove_unit_stats;

/* The inputs of one unit. Examples are identified by their global index
 * idx[i] in the dataset, which (with seed, model hash, eps and restart)
 * keys every random draw, so a result never depends on batching or rank. */
typedef struct rove_unit {
  const rove_model *m;
  const rove_profile *p;
  int norm_linf; /* 1: L-inf ball, 0: L2 */
  double eps;
  int restart; /* 0 .. rove_profile_restarts(p) - 1 */
  uint64_t seed;
  int n;
  const float *x;     /* n * numel(m->in), in [0, 1] */
  const int *y;       /* n labels */
  const int64_t *idx; /* n global example indices */
  int bmax;           /* examples attacked together (0: 64); results do
                         not depend on it, only speed and memory do */
} rove_unit;

/* Runs restart `u->restart` of the profile's attack pipeline on the n
 * examples (the caller has already dropped examples that are clean-wrong or
 * broken earlier; one that is misclassified anyway comes back broken with
 * attack -1). out[i] is filled for every example; x_adv (optional,
 * n * numel(m->in)) receives verified adversarial examples of broken ones
 * and the lowest-margin candidate otherwise. *st (optional) is
 * overwritten. Everything is borrowed; nothing needs freeing. Returns 0 or
 * a negative code (a failing unit is reported by the caller as a unit with
 * an error, not a crash): eps outside [0, 1], labels outside the model's
 * classes, a loss the model cannot support (rove_profile_check). */
int rove_eval_unit(const rove_unit *u, rove_example_result *out, float *x_adv,
                   rove_unit_stats *st);

/* Every restart of the profile in order (restart k attacks only the
 * points no earlier restart broke), merged pointwise: broken by any
 * restart, lowest margin, union of diagnostics. For `rove attack` and
 * tests; the sweep runs the restarts as separate units instead. Same
 * arguments and ownership as rove_eval_unit (u->restart is ignored). */
int rove_eval_all(const rove_unit *u, rove_example_result *out, float *x_adv,
                  rove_unit_stats *st);

/* Profiles. */
size_t rove_profile_size(void);
/* Allocates a profile preset: "naive", "precise", or an ablation step
 * ("naive+scaled", "naive+bpda", "naive+odi"); error names the preset. */
int rove_profile_create(rove_profile **p, const char *preset);
void rove_profile_destroy(rove_profile **p); /* sets *p = NULL */
/* Sets one option by its CLI/job-file name (attack, loss, init, restarts,
 * steps, step-size, bpda, norm, ...). Errors name the key and what values
 * are accepted. */
int rove_profile_set(rove_profile *p, const char *key, const char *value);
/* The options rove_profile_set takes (common/attack/options.def), in the
 * order a command line applies them; *n gets their number. */
typedef struct rove_profile_option {
  const char *name, *metavar, *help;
} rove_profile_option;
const rove_profile_option *rove_profile_options(int *n);
/* Upper bound of their number (a caller's fixed arrays). */
#define ROVE_MAX_PROFILE_OPTIONS 32
int rove_profile_restarts(const rove_profile *p);
/* 1 for a profile of preset "certify": its units prove robustness by bound
 * propagation (common/certify/) instead of attacking; robust then means
 * certified, broken means not certified. */
int rove_profile_certifies(const rove_profile *p);
/* The norm the profile was configured for (option "norm"; default linf):
 * what a caller puts in rove_unit.norm_linf. */
int rove_profile_norm_linf(const rove_profile *p);
/* Checks that the profile can attack model m under the norm: DLR needs 3
 * classes, targeted DLR 4, Square alone only L-inf. Errors name the attack,
 * the loss and the reason. */
int rove_profile_check(const rove_profile *p, const rove_model *m,
                       int norm_linf);
/* The presets `rove attack --profile ablation` expands to, in order. */
extern const char *const rove_ablation_presets[];
/* One line describing the profile (for logs and the report). */
void rove_profile_describe(const rove_profile *p, char *buf, size_t cap);
/* Canonical encoding (for the wire and for the job hash). */
struct rove_wbuf;
struct rove_rbuf;
void rove_profile_encode(const rove_profile *p, struct rove_wbuf *w);
int rove_profile_decode(rove_profile *p, struct rove_rbuf *r);
/* Names of the attack components, indexable by rove_example_result.attack. */
const char *const *rove_attack_names(int *count);

/* The nested-ball rule. Balls of one norm around x grow with eps, so a
 * verified adversarial example within eps_a is one within every
 * eps_b >= eps_a: a break carries to every larger eps, which then need not
 * attack that example again. `rove attack` and the sweep's scheduler both
 * skip by these two functions (common/attack/nested.c). */
/* 1 when a break found at eps_from holds at eps_to. */
int rove_break_carries(double eps_from, double eps_to);
/* ord[0 .. n) gets the indices of eps in ascending order (ties keep their
 * order): the order in which breaks carry. */
void rove_eps_ascending(const double *eps, int n, int *ord);

/* Float tolerance of the ball check (common/NUMERICS.md: clipping can exceed
 * eps by float rounding). */
#define ROVE_EPS_TOL 1e-6

/* Re-verifies a candidate on the true model: within the ball (tolerance
 * ROVE_EPS_TOL), inside [0, 1], misclassified by a fresh forward. Returns
 * 1 if it is a valid adversarial example, 0 if not. `e` is an exec of the
 * true model (exact backward modes irrelevant: forward only). */
int rove_verify_adv(struct rove_exec *e, const float *x, const float *x_adv,
                    int label, int norm_linf, double eps);

#endif
