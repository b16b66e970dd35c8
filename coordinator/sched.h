/* sched.h - the sweep's scheduler: units, their fixed dependency order,
 * per-example verdicts and aggregates. No MPI inside (unit-testable). */
#ifndef ROVE_COORDINATOR_SCHED_H
#define ROVE_COORDINATOR_SCHED_H

#include <stdint.h>

#include "common/eval.h"
#include "common/sweep_wire.h"

/* What is swept. Units are models x shards clean passes, and models x
 * profiles x eps x restarts x shards attacks. Shard s holds examples
 * [s*shard, min(n, (s+1)*shard)). With parts > 1 (a Slurm job array) this
 * scheduler owns only shards with s % n_parts == part. */
typedef struct rove_plan {
  int n_models, n_profiles, n_eps;
  double eps[64];   /* ascending (rove_eps_ascending): the order breaks
                       carry in, and the skip chain's order */
  int restarts[64]; /* per profile, >= 1 */
  int n;            /* examples */
  int shard;        /* examples per shard */
  int skip;         /* 1: skip work that cannot change a verdict */
  int part, n_parts;
} rove_plan;

/* Verdict of one (model, profile, eps, example). A point is robust only if
 * clean-correct and no restart at this eps or a smaller one broke it
 * (nested balls: an adversarial example found within a smaller eps is
 * valid at every larger one). */
enum rove_verdict_kind {
  ROVE_V_PENDING = 0,     /* not decided yet */
  ROVE_V_ROBUST = 1,      /* every restart ran and none broke it */
  ROVE_V_BROKEN = 2,      /* a verified adversarial example exists */
  ROVE_V_CLEAN_WRONG = 3, /* misclassified without attack */
  ROVE_V_ERROR = 4        /* a unit that covered it failed */
};

typedef struct rove_verdict {
  int8_t broken;     /* 1: broken at this eps (found here or inherited) */
  int8_t failed;     /* some unit that should have attacked it failed */
  int8_t attack;     /* attack that broke it, -1 */
  int8_t restart;    /* restart that broke it, -1 */
  int16_t eps_found; /* eps index where the break was found, -1 */
  uint16_t attacked; /* units that attacked it at this eps */
  uint32_t diag;     /* OR of diagnostic bits at this eps */
  double margin;     /* lowest true-model margin seen (NAN: never attacked) */
} rove_verdict;

typedef struct rove_clean {
  int8_t known; /* 1: clean pass done, -1: it failed, 0: not yet */
  int8_t correct;
  int32_t label;
  double margin;
} rove_clean;

/* Per (model, profile, eps) aggregates over this scheduler's shards. */
typedef struct rove_row {
  int n, clean_correct, clean_wrong, robust, broken, errors;
  int units;        /* attack units that ran (non-empty) */
  int failed_units; /* attack units that failed (or whose clean pass did) */
  uint64_t grad_evals, forward_evals;
  double seconds;
  int diag[ROVE_DIAG_COUNT]; /* examples with each diagnostic bit */
} rove_row;

typedef struct rove_unit_key {
  uint8_t kind;
  int model, profile, eps, restart, shard;
} rove_unit_key;

/* A unit ready to send. idx is borrowed from the scheduler until the next
 * rove_sched_next call. */
typedef struct rove_sched_task {
  uint32_t unit;
  rove_unit_key key;
  uint32_t n;
  const int64_t *idx; /* global indices to attack, ascending */
} rove_sched_task;

typedef struct rove_sched {
  rove_plan plan;
  int n_shards, n_units;
  int tot;        /* attack units per (model, shard) chain block */
  int *prof_off;  /* n_profiles: offset of a profile's chain in a block */
  uint8_t *state; /* n_units */
  uint32_t *prio; /* n_units: examples to attack when it became ready */
  uint32_t *heap; /* ready units, best first */
  int n_heap;
  rove_clean *clean;               /* n_models * n */
  rove_verdict *v;                 /* ((m * P + p) * E + e) * n + i */
  rove_row *rows;                  /* (m * P + p) * E + e */
  unsigned char (*model_hash)[32]; /* n_models, from the clean passes */
  uint8_t *hash_known;
  int64_t *scratch; /* shard-sized index list */
  int total, done, inflight, failed;
} rove_sched;

/* Copies `plan`. Errors name the field that is out of range. */
int rove_sched_init(rove_sched *s, const rove_plan *plan);
void rove_sched_deinit(rove_sched *s);

/* Takes the best ready unit (clean passes first, then the most examples,
 * then the lowest id) and marks it in flight. Returns 1 and fills *t, or 0
 * when nothing is ready. */
int rove_sched_next(rove_sched *s, rove_sched_task *t);

/* Applies a unit's result (from a worker or the journal). The unit must be
 * ready or in flight (its dependencies done) and the result must cover
 * exactly the examples the scheduler expects; otherwise ROVE_ESTATE or
 * ROVE_EFORMAT and nothing changes. A failed unit (status < 0) is applied
 * as "broke nothing" and marks its examples failed; a failed clean pass
 * fails every unit that depends on it. */
int rove_sched_complete(rove_sched *s, const rove_unit_result *r);

/* Puts an in-flight unit back in the ready heap (a worker went away). */
int rove_sched_requeue(rove_sched *s, uint32_t unit);

static inline int rove_sched_finished(const rove_sched *s) {
  return s->done == s->total;
}

/* 1 when the unit's result has been applied. */
int rove_sched_unit_done(const rove_sched *s, uint32_t unit);

void rove_sched_key(const rove_sched *s, uint32_t unit, rove_unit_key *k);
/* Unit id of a key, or -1 when out of range. */
int64_t rove_sched_id(const rove_sched *s, const rove_unit_key *k);

/* Verdict of example i (0 <= i < n) for (m, p, e). */
/* Returns an enum rove_verdict_kind; *v (optional) borrows the record. */
int rove_sched_verdict(const rove_sched *s, int m, int p, int e, int i,
                       const rove_verdict **v);
/* Aggregates of (m, p, e), recomputed from the verdicts on each call;
 * borrowed until the next call. */
const rove_row *rove_sched_row(rove_sched *s, int m, int p, int e);
/* 1 when the example belongs to one of this scheduler's shards. */
int rove_sched_owns(const rove_sched *s, int i);

#endif
