/* sched.c - units in a fixed dependency order, so the set of examples each
 * unit attacks (and hence every verdict) never depends on timing or ranks. */
#include "coordinator/sched.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/eval.h"

enum { ST_BLOCKED, ST_READY, ST_INFLIGHT, ST_DONE, ST_NOT_OWNED };

static int n_ms(const rove_sched *s) {
  return s->plan.n_models * s->n_shards;
}

void rove_sched_key(const rove_sched *s, uint32_t unit, rove_unit_key *k) {
  memset(k, 0, sizeof *k);
  uint32_t nc = (uint32_t)n_ms(s);
  if (unit < nc) {
    k->kind = ROVE_UNIT_CLEAN;
    k->model = (int)(unit / (uint32_t)s->n_shards);
    k->shard = (int)(unit % (uint32_t)s->n_shards);
    return;
  }
  uint32_t x = unit - nc;
  uint32_t block = x / (uint32_t)s->tot, off = x % (uint32_t)s->tot;
  k->kind = ROVE_UNIT_ATTACK;
  k->model = (int)(block / (uint32_t)s->n_shards);
  k->shard = (int)(block % (uint32_t)s->n_shards);
  int p = 0;
  while (p + 1 < s->plan.n_profiles && (uint32_t)s->prof_off[p + 1] <= off)
    p++;
  int rem = (int)off - s->prof_off[p], R = s->plan.restarts[p];
  k->profile = p;
  k->eps = rem / R;
  k->restart = rem % R;
}

int64_t rove_sched_id(const rove_sched *s, const rove_unit_key *k) {
  const rove_plan *pl = &s->plan;
  if (k->model < 0 || k->model >= pl->n_models || k->shard < 0 ||
      k->shard >= s->n_shards)
    return -1;
  if (k->kind == ROVE_UNIT_CLEAN)
    return (int64_t)k->model * s->n_shards + k->shard;
  if (k->kind != ROVE_UNIT_ATTACK || k->profile < 0 ||
      k->profile >= pl->n_profiles || k->eps < 0 || k->eps >= pl->n_eps ||
      k->restart < 0 || k->restart >= pl->restarts[k->profile])
    return -1;
  return n_ms(s) + ((int64_t)k->model * s->n_shards + k->shard) * s->tot +
         s->prof_off[k->profile] + k->eps * pl->restarts[k->profile] +
         k->restart;
}

static rove_verdict *vref(const rove_sched *s, int m, int p, int e, int i) {
  const rove_plan *pl = &s->plan;
  return &s->v[(((size_t)m * pl->n_profiles + p) * pl->n_eps + e) *
                   (size_t)pl->n +
               (size_t)i];
}

static rove_row *rowref(const rove_sched *s, int m, int p, int e) {
  const rove_plan *pl = &s->plan;
  return &s->rows[((size_t)m * pl->n_profiles + p) * pl->n_eps + e];
}

static void shard_range(const rove_sched *s, int shard, int *lo, int *hi) {
  *lo = shard * s->plan.shard;
  *hi = *lo + s->plan.shard;
  if (*hi > s->plan.n)
    *hi = s->plan.n;
}

int rove_sched_owns(const rove_sched *s, int i) {
  int shard = i / s->plan.shard;
  return shard % s->plan.n_parts == s->plan.part;
}

/* The examples a unit attacks, derived only from results of units it
 * depends on, which are all done by the time it is ready. */
static uint32_t expected(const rove_sched *s, const rove_unit_key *k,
                         int64_t *idx) {
  int lo, hi;
  shard_range(s, k->shard, &lo, &hi);
  uint32_t n = 0;
  for (int i = lo; i < hi; i++) {
    if (k->kind == ROVE_UNIT_ATTACK && s->plan.skip) {
      const rove_clean *c = &s->clean[(size_t)k->model * s->plan.n + i];
      if (!c->correct || vref(s, k->model, k->profile, k->eps, i)->broken)
        continue;
    }
    idx[n++] = i;
  }
  return n;
}

/* ---- ready heap: clean passes first, then most examples, then lowest id */

static int better(const rove_sched *s, uint32_t a, uint32_t b) {
  int ca = a < (uint32_t)n_ms(s), cb = b < (uint32_t)n_ms(s);
  if (ca != cb)
    return ca;
  if (s->prio[a] != s->prio[b])
    return s->prio[a] > s->prio[b];
  return a < b;
}

static void heap_push(rove_sched *s, uint32_t u) {
  int i = s->n_heap++;
  s->heap[i] = u;
  while (i > 0) {
    int p = (i - 1) / 2;
    if (!better(s, s->heap[i], s->heap[p]))
      break;
    uint32_t t = s->heap[i];
    s->heap[i] = s->heap[p];
    s->heap[p] = t;
    i = p;
  }
}

static uint32_t heap_pop(rove_sched *s) {
  uint32_t top = s->heap[0];
  s->heap[0] = s->heap[--s->n_heap];
  int i = 0;
  for (;;) {
    int l = 2 * i + 1, r = l + 1, b = i;
    if (l < s->n_heap && better(s, s->heap[l], s->heap[b]))
      b = l;
    if (r < s->n_heap && better(s, s->heap[r], s->heap[b]))
      b = r;
    if (b == i)
      break;
    uint32_t t = s->heap[i];
    s->heap[i] = s->heap[b];
    s->heap[b] = t;
    i = b;
  }
  return top;
}

/* Next unit in a (model, profile, shard) chain: restarts of one eps, then
 * the next eps. -1 at the end. */
static int64_t chain_next(const rove_sched *s, const rove_unit_key *k) {
  rove_unit_key n = *k;
  if (++n.restart == s->plan.restarts[k->profile]) {
    n.restart = 0;
    if (++n.eps == s->plan.n_eps)
      return -1;
  }
  return rove_sched_id(s, &n);
}

/* Makes `u` ready; in skip mode a unit left with nothing to attack is done
 * at once and its successor considered in turn. */
static void make_ready(rove_sched *s, int64_t u) {
  while (u >= 0) {
    rove_unit_key k;
    rove_sched_key(s, (uint32_t)u, &k);
    uint32_t n = expected(s, &k, s->scratch);
    if (n > 0 || k.kind == ROVE_UNIT_CLEAN || !s->plan.skip) {
      s->state[u] = ST_READY;
      s->prio[u] = n;
      heap_push(s, (uint32_t)u);
      return;
    }
    s->state[u] = ST_DONE;
    s->done++;
    u = chain_next(s, &k);
  }
}

int rove_sched_init(rove_sched *s, const rove_plan *plan) {
  memset(s, 0, sizeof *s);
  const rove_plan *p = plan;
  if (p->n_models < 1 || p->n_profiles < 1 || p->n_eps < 1 || p->n < 1 ||
      p->shard < 1 || p->n_profiles > 64 || p->n_parts < 1 || p->part < 0 ||
      p->part >= p->n_parts)
    return ROVE_ERR(ROVE_EINVAL,
                    "sweep plan: need >= 1 model, 1..64 profiles, >= 1 eps, "
                    ">= 1 example, shard >= 1 and 0 <= part < parts");
  if (p->n_eps > 64)
    return ROVE_ERR(ROVE_EINVAL, "sweep plan: %d eps, at most 64", p->n_eps);
  /* The skip chain runs eps in the order breaks carry: ascending. */
  int ord[64];
  rove_eps_ascending(p->eps, p->n_eps, ord);
  for (int e = 0; e < p->n_eps; e++)
    if (ord[e] != e || (e > 0 && !(p->eps[e - 1] < p->eps[e])))
      return ROVE_ERR(ROVE_EINVAL,
                      "sweep plan: eps must be strictly increasing");
  for (int i = 0; i < p->n_profiles; i++)
    if (p->restarts[i] < 1 || p->restarts[i] > 127)
      return ROVE_ERR(ROVE_ERANGE,
                      "sweep plan: profile %d has %d restarts, expected "
                      "1..127",
                      i, p->restarts[i]);
  s->plan = *plan;
  s->n_shards = (p->n + p->shard - 1) / p->shard;
  s->prof_off = calloc((size_t)p->n_profiles + 1, sizeof *s->prof_off);
  if (!s->prof_off)
    return ROVE_ERR(ROVE_ENOMEM, "sweep plan: out of memory");
  for (int i = 0; i < p->n_profiles; i++)
    s->prof_off[i + 1] = s->prof_off[i] + p->n_eps * p->restarts[i];
  s->tot = s->prof_off[p->n_profiles];
  double nu = (double)p->n_models * s->n_shards * (1.0 + s->tot);
  if (nu > 2e9) {
    rove_sched_deinit(s);
    return ROVE_ERR(ROVE_ERANGE, "sweep plan: %.0f units is too many", nu);
  }
  s->n_units = (int)nu;
  size_t nv = (size_t)p->n_models * p->n_profiles * p->n_eps * p->n;
  size_t nr = (size_t)p->n_models * p->n_profiles * p->n_eps;
  s->state = calloc((size_t)s->n_units, 1);
  s->prio = calloc((size_t)s->n_units, sizeof *s->prio);
  s->heap = calloc((size_t)s->n_units, sizeof *s->heap);
  s->clean = calloc((size_t)p->n_models * p->n, sizeof *s->clean);
  s->v = malloc(nv * sizeof *s->v);
  s->rows = calloc(nr, sizeof *s->rows);
  s->model_hash = calloc((size_t)p->n_models, sizeof *s->model_hash);
  s->hash_known = calloc((size_t)p->n_models, 1);
  s->scratch = calloc((size_t)p->shard, sizeof *s->scratch);
  if (!s->state || !s->prio || !s->heap || !s->clean || !s->v || !s->rows ||
      !s->model_hash || !s->hash_known || !s->scratch) {
    rove_sched_deinit(s);
    return ROVE_ERR(ROVE_ENOMEM, "sweep plan: out of memory (%zu verdicts)",
                    nv);
  }
  for (size_t i = 0; i < nv; i++) {
    rove_verdict *v = &s->v[i];
    memset(v, 0, sizeof *v);
    v->attack = v->restart = -1;
    v->eps_found = -1;
    v->margin = NAN;
  }
  for (int u = 0; u < s->n_units; u++) {
    rove_unit_key k;
    rove_sched_key(s, (uint32_t)u, &k);
    if (k.shard % p->n_parts != p->part) {
      s->state[u] = ST_NOT_OWNED;
      continue;
    }
    s->total++;
    if (k.kind == ROVE_UNIT_CLEAN)
      make_ready(s, u);
  }
  return 0;
}

void rove_sched_deinit(rove_sched *s) {
  free(s->prof_off);
  free(s->state);
  free(s->prio);
  free(s->heap);
  free(s->clean);
  free(s->v);
  free(s->rows);
  free(s->model_hash);
  free(s->hash_known);
  free(s->scratch);
  memset(s, 0, sizeof *s);
}

int rove_sched_next(rove_sched *s, rove_sched_task *t) {
  uint32_t u;
  do {
    if (s->n_heap == 0)
      return 0;
    u = heap_pop(s);
  } while (s->state[u] != ST_READY);
  s->state[u] = ST_INFLIGHT;
  s->inflight++;
  t->unit = u;
  rove_sched_key(s, u, &t->key);
  t->n = expected(s, &t->key, s->scratch);
  t->idx = s->scratch;
  return 1;
}

int rove_sched_unit_done(const rove_sched *s, uint32_t unit) {
  return unit < (uint32_t)s->n_units && s->state[unit] == ST_DONE;
}

int rove_sched_requeue(rove_sched *s, uint32_t unit) {
  if (unit >= (uint32_t)s->n_units || s->state[unit] != ST_INFLIGHT)
    return ROVE_ERR(ROVE_ESTATE, "sweep: unit %u is not in flight",
                    (unsigned)unit);
  s->state[unit] = ST_READY;
  s->inflight--;
  heap_push(s, unit);
  return 0;
}

/* A failed clean pass leaves nothing to attack on that shard: every unit
 * depending on it is done as failed, and the examples read "error". */
static void poison(rove_sched *s, const rove_unit_key *ck) {
  const rove_plan *pl = &s->plan;
  for (int p = 0; p < pl->n_profiles; p++)
    for (int e = 0; e < pl->n_eps; e++)
      for (int r = 0; r < pl->restarts[p]; r++) {
        rove_unit_key k = {ROVE_UNIT_ATTACK, ck->model, p, e, r, ck->shard};
        int64_t u = rove_sched_id(s, &k);
        if (s->state[u] == ST_DONE)
          continue;
        s->state[u] = ST_DONE;
        s->done++;
        rowref(s, ck->model, p, e)->failed_units++;
      }
}

static void release_clean(rove_sched *s, const rove_unit_key *ck) {
  const rove_plan *pl = &s->plan;
  for (int p = 0; p < pl->n_profiles; p++) {
    if (pl->skip) {
      rove_unit_key k = {ROVE_UNIT_ATTACK, ck->model, p, 0, 0, ck->shard};
      make_ready(s, rove_sched_id(s, &k));
      continue;
    }
    for (int e = 0; e < pl->n_eps; e++)
      for (int r = 0; r < pl->restarts[p]; r++) {
        rove_unit_key k = {ROVE_UNIT_ATTACK, ck->model, p, e, r, ck->shard};
        make_ready(s, rove_sched_id(s, &k));
      }
  }
}

/* Chain position of a break, for "first break in dependency order" when
 * skipping is off and later units may report breaks too. */
static int earlier(int e1, int r1, int e2, int r2) {
  return e1 < e2 || (e1 == e2 && r1 < r2);
}

static void apply_attack(rove_sched *s, const rove_unit_key *k,
                         const rove_unit_result *r) {
  const rove_plan *pl = &s->plan;
  rove_row *row = rowref(s, k->model, k->profile, k->eps);
  if (r->status < 0) {
    row->failed_units++;
    s->failed++;
    for (uint32_t j = 0; j < r->n; j++)
      vref(s, k->model, k->profile, k->eps, (int)r->idx[j])->failed = 1;
    return;
  }
  if (r->n > 0)
    row->units++;
  row->grad_evals += r->grad_evals;
  row->forward_evals += r->forward_evals;
  row->seconds += r->seconds;
  for (uint32_t j = 0; j < r->n; j++) {
    int i = (int)r->idx[j];
    const rove_example_result *x = &r->ex[j];
    rove_verdict *v = vref(s, k->model, k->profile, k->eps, i);
    if (v->attacked < UINT16_MAX)
      v->attacked++;
    v->diag |= x->diag;
    if (isnan(v->margin) || x->margin < v->margin)
      v->margin = x->margin;
    const rove_clean *c = &s->clean[(size_t)k->model * pl->n + i];
    if (!x->broken || !c->correct)
      continue;
    for (int e = 0; e < pl->n_eps; e++) {
      if (!rove_break_carries(pl->eps[k->eps], pl->eps[e]))
        continue;
      rove_verdict *w = vref(s, k->model, k->profile, e, i);
      if (e != k->eps && (isnan(w->margin) || x->margin < w->margin))
        w->margin = x->margin;
      if (w->broken && !earlier(k->eps, k->restart, w->eps_found, w->restart))
        continue;
      w->broken = 1;
      w->attack = x->attack;
      w->restart = (int8_t)k->restart;
      w->eps_found = (int16_t)k->eps;
    }
  }
}

int rove_sched_complete(rove_sched *s, const rove_unit_result *r) {
  if (r->unit >= (uint32_t)s->n_units)
    return ROVE_ERR(ROVE_EFORMAT, "sweep: result for unit %u of %d",
                    (unsigned)r->unit, s->n_units);
  uint32_t u = r->unit;
  rove_unit_key k;
  rove_sched_key(s, u, &k);
  if (k.kind != r->kind)
    return ROVE_ERR(ROVE_EFORMAT,
                    "sweep: result for unit %u has the wrong "
                    "kind",
                    (unsigned)u);
  switch (s->state[u]) {
  case ST_READY:
  case ST_INFLIGHT: break;
  case ST_DONE:
    return ROVE_ERR(ROVE_ESTATE, "sweep: unit %u reported twice", (unsigned)u);
  case ST_NOT_OWNED:
    return ROVE_ERR(ROVE_ESTATE,
                    "sweep: unit %u belongs to another part of the sweep",
                    (unsigned)u);
  default:
    return ROVE_ERR(ROVE_ESTATE,
                    "sweep: unit %u reported before the units it depends on",
                    (unsigned)u);
  }
  uint32_t n = expected(s, &k, s->scratch);
  int ok = n == r->n;
  for (uint32_t j = 0; ok && j < n; j++)
    ok = s->scratch[j] == r->idx[j];
  if (!ok)
    return ROVE_ERR(ROVE_EFORMAT,
                    "sweep: result of unit %u covers other examples than the "
                    "%u it was given",
                    (unsigned)u, (unsigned)n);
  if (k.kind == ROVE_UNIT_CLEAN && r->status == 0 && s->hash_known[k.model] &&
      memcmp(s->model_hash[k.model], r->model_hash, 32) != 0)
    return ROVE_ERR(ROVE_EFORMAT,
                    "sweep: clean pass of unit %u ran a different model "
                    "(content hash differs from another shard's)",
                    (unsigned)u);
  /* A unit replayed from the journal may still sit in the ready heap: it
   * is dropped lazily when popped (rove_sched_next skips units no longer
   * ready), which keeps a long replay linear. */
  if (s->state[u] == ST_INFLIGHT)
    s->inflight--;
  s->state[u] = ST_DONE;
  s->done++;

  if (k.kind == ROVE_UNIT_CLEAN) {
    if (r->status < 0) {
      s->failed++;
      for (uint32_t j = 0; j < n; j++)
        s->clean[(size_t)k.model * s->plan.n + r->idx[j]].known = -1;
      poison(s, &k);
      return 0;
    }
    memcpy(s->model_hash[k.model], r->model_hash, 32);
    s->hash_known[k.model] = 1;
    for (uint32_t j = 0; j < n; j++) {
      rove_clean *c = &s->clean[(size_t)k.model * s->plan.n + r->idx[j]];
      c->known = 1;
      c->label = r->label[j];
      c->correct = r->pred[j] == r->label[j];
      c->margin = r->margin[j];
    }
    release_clean(s, &k);
    return 0;
  }
  apply_attack(s, &k, r);
  if (s->plan.skip)
    make_ready(s, chain_next(s, &k));
  return 0;
}

/* Robust needs every unit at this eps and below done for the shard. */
static int settled(const rove_sched *s, int m, int p, int e, int shard) {
  for (int ee = s->plan.skip ? e : 0; ee <= e; ee++)
    for (int r = s->plan.skip ? s->plan.restarts[p] - 1 : 0;
         r < s->plan.restarts[p]; r++) {
      rove_unit_key k = {ROVE_UNIT_ATTACK, m, p, ee, r, shard};
      if (s->state[rove_sched_id(s, &k)] != ST_DONE)
        return 0;
    }
  return 1;
}

int rove_sched_verdict(const rove_sched *s, int m, int p, int e, int i,
                       const rove_verdict **v) {
  const rove_verdict *x = vref(s, m, p, e, i);
  if (v)
    *v = x;
  const rove_clean *c = &s->clean[(size_t)m * s->plan.n + i];
  if (c->known < 0)
    return ROVE_V_ERROR;
  if (c->known == 0)
    return ROVE_V_PENDING;
  if (!c->correct)
    return ROVE_V_CLEAN_WRONG;
  if (x->broken)
    return ROVE_V_BROKEN;
  if (!settled(s, m, p, e, i / s->plan.shard))
    return ROVE_V_PENDING;
  if (x->failed)
    return ROVE_V_ERROR;
  for (int ee = 0; ee < e; ee++)
    if (vref(s, m, p, ee, i)->failed)
      return ROVE_V_ERROR;
  return ROVE_V_ROBUST;
}

const rove_row *rove_sched_row(rove_sched *s, int m, int p, int e) {
  rove_row *row = rowref(s, m, p, e);
  row->n = row->clean_correct = row->clean_wrong = 0;
  row->robust = row->broken = row->errors = 0;
  memset(row->diag, 0, sizeof row->diag);
  for (int i = 0; i < s->plan.n; i++) {
    if (!rove_sched_owns(s, i))
      continue;
    row->n++;
    const rove_verdict *v;
    int kind = rove_sched_verdict(s, m, p, e, i, &v);
    const rove_clean *c = &s->clean[(size_t)m * s->plan.n + i];
    row->clean_correct += c->known > 0 && c->correct;
    row->clean_wrong += kind == ROVE_V_CLEAN_WRONG;
    row->robust += kind == ROVE_V_ROBUST;
    row->broken += kind == ROVE_V_BROKEN;
    row->errors += kind == ROVE_V_ERROR;
    for (int b = 0; b < ROVE_DIAG_COUNT; b++)
      row->diag[b] += (v->diag >> b) & 1;
  }
  return row;
}
