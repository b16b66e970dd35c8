/* unit.c - one work unit of an evaluation: clean pass and model checks,
 * the profile's attacks in order on the points still robust, verification
 * of every candidate on the true model, and the per-example diagnostics. */
#include <math.h>
#include <string.h>

#include "common/arena.h"
#include "common/attack/attack.h"
#include "common/certify/certify.h"
#include "common/err.h"

typedef int (*chunk_fn)(rove__ctx *c, const rove__stage *s, int nb);
static const chunk_fn chunk_fns[] = {
#define X(E, name, fn, grad) fn,
#include "common/attack/attacks.def"
#undef X
};

static int check_unit(const rove_unit *u) {
  if (!u || !u->m || !u->p)
    return ROVE_ERR(ROVE_EINVAL, "unit: model or profile missing");
  if (!u->m->finalized)
    return ROVE_ERR(ROVE_ESTATE, "unit: model was not finalized");
  if (!(u->eps >= 0.0 && u->eps <= 1.0))
    return ROVE_ERR(ROVE_ERANGE, "unit: eps %g outside [0, 1]", u->eps);
  if (u->norm_linf != 0 && u->norm_linf != 1)
    return ROVE_ERR(ROVE_EINVAL, "unit: norm_linf %d (expected 0 or 1)",
                    u->norm_linf);
  if (u->n < 0)
    return ROVE_ERR(ROVE_EINVAL, "unit: %d examples", u->n);
  if (u->n > 0 && (!u->x || !u->y || !u->idx))
    return ROVE_ERR(ROVE_EINVAL, "unit: inputs, labels or indices missing");
  if (u->restart < 0 || u->restart >= rove_profile_restarts(u->p))
    return ROVE_ERR(ROVE_ERANGE,
                    "unit: restart %d outside the profile's 0 .. %d",
                    u->restart, rove_profile_restarts(u->p) - 1);
  for (int i = 0; i < u->n; i++)
    if (u->y[i] < 0 || u->y[i] >= u->m->n_classes)
      return ROVE_ERR(ROVE_ERANGE,
                      "unit: example %lld has label %d; the model has %d "
                      "classes",
                      (long long)u->idx[i], u->y[i], u->m->n_classes);
  ROVE_TRY(rove_profile_check(u->p, u->m, u->norm_linf));
  return 0;
}

/* Scratch planned once per unit. */
typedef struct plan {
  size_t bytes;
  rove_arena a;
} plan;

static void *take(plan *p, size_t bytes) {
  if (!p->a.base) {
    p->bytes += rove_arena_need(bytes ? bytes : 1);
    return NULL;
  }
  return rove_arena_calloc(&p->a, bytes ? bytes : 1);
}

static void layout(rove__ctx *c, plan *p, int n) {
  size_t d = (size_t)c->d, K = (size_t)c->K, B = (size_t)c->bmax;
  c->z0 = take(p, (size_t)n * K * sizeof(float));
  c->cand = take(p, (size_t)n);
  c->xcand = take(p, (size_t)n * d * sizeof(float));
  c->xlow = take(p, (size_t)n * d * sizeof(float));
  c->xsur = take(p, (size_t)n * d * sizeof(float));
  c->has_sur = take(p, (size_t)n);
  c->mlow = take(p, (size_t)n * sizeof(double));
  c->diag = take(p, (size_t)n * sizeof(uint32_t));
  c->ex_of = take(p, B * sizeof(int));
  c->act = take(p, B * sizeof(int));
  c->bx = take(p, B * d * sizeof(float));
  c->bg = take(p, B * d * sizeof(float));
  c->bdz = take(p, B * K * sizeof(float));
  c->wodi = take(p, B * K * sizeof(float));
  for (int i = 0; i < 6; i++) {
    c->s[i] = take(p, B * d * sizeof(float));
    c->dv[i] = take(p, B * sizeof(double));
  }
  c->trace = take(p, B * ((size_t)c->max_steps + 2) * sizeof(double));
  c->iv[0] = take(p, B * sizeof(int));
  c->iv[1] = take(p, B * sizeof(int));
  c->adv = take(p, B);
  c->la = take(p, B * sizeof(rove__lossarg));
  c->rng = take(p, B * sizeof(rove_rng));
}

/* Fills the slots of a chunk from the example list ex[0 .. nb). */
static void fill_chunk(rove__ctx *c, const int *ex, int nb) {
  for (int j = 0; j < nb; j++) {
    int i = ex[j];
    c->ex_of[j] = i;
    c->la[j].y = c->u->y[i];
    c->la[j].t = 0;
    c->la[j].temp = rove__scaled_temp(c->z0 + (size_t)i * c->K, c->K);
    c->la[j].w = NULL;
  }
}

/* The clean pass: logits, margins, and the model-level checks. */
static void clean_pass(rove__ctx *c, rove_example_result *out, int *alive,
                       int *n_alive) {
  const rove_unit *u = c->u;
  size_t d = (size_t)c->d, K = (size_t)c->K;
  *n_alive = 0;
  for (int i0 = 0; i0 < u->n; i0 += c->bmax) {
    int nb = u->n - i0 < c->bmax ? u->n - i0 : c->bmax;
    rove_exec_forward(c->e, nb, u->x + (size_t)i0 * d);
    float *z0 = (float *)c->z0 + (size_t)i0 * K;
    memcpy(z0, rove_exec_logits(c->e), (size_t)nb * K * sizeof(float));
    /* A randomized model (dropout left on, stochastic layers) makes
     * every gradient a sample; AutoAttack checks for it the same way. */
    rove_exec_forward(c->e, nb, u->x + (size_t)i0 * d);
    const float *z1 = rove_exec_logits(c->e);
    c->st->forward_evals += 2 * (uint64_t)nb;
    for (int k = 0; k < nb; k++) {
      int i = i0 + k;
      const float *zi = z0 + (size_t)k * K;
      uint32_t dg = 0;
      if (memcmp(zi, z1 + (size_t)k * K, K * sizeof(float)))
        dg |= 1u << ROVE_DIAG_RANDOMIZED;
      double sum = 0;
      int in01 = 1;
      for (size_t j = 0; j < K; j++) {
        sum += zi[j];
        in01 &= zi[j] >= 0.0f && zi[j] <= 1.0f;
      }
      if (c->m->softmax_stripped || (in01 && fabs(sum - 1.0) < 1e-4))
        dg |= 1u << ROVE_DIAG_PROB_OUTPUT;
      double mg = rove__margin(zi, c->K, u->y[i]);
      if (mg >= ROVE_SAT_F32_CE)
        dg |= 1u << ROVE_DIAG_SATURATED;
      c->diag[i] = dg;
      c->mlow[i] = mg;
      memcpy(c->xlow + (size_t)i * d, u->x + (size_t)i * d, d * sizeof(float));
      out[i].broken = 0;
      out[i].attack = -1;
      if (rove__argmax(zi, c->K) != u->y[i])
        out[i].broken = 1;
      else
        alive[(*n_alive)++] = i;
    }
  }
}

/* Gradient of the first gradient stage's loss at the clean point, with
 * the profile's backward modes: exactly zero means the attack starts
 * blind (saturation or non-differentiable layers). */
static void zero_grad_check(rove__ctx *c, const rove__stage *s,
                            const int *alive, int n_alive) {
  size_t d = (size_t)c->d;
  int loss = s->attack == ROVE__ATK_APGD_T ? ROVE__LOSS_DLR_T : s->loss;
  for (int i0 = 0; i0 < n_alive; i0 += c->bmax) {
    int nb = n_alive - i0 < c->bmax ? n_alive - i0 : c->bmax;
    fill_chunk(c, alive + i0, nb);
    for (int j = 0; j < nb; j++) {
      const float *z = c->z0 + (size_t)c->ex_of[j] * c->K;
      int t = -1;
      for (int q = 0; q < c->K; q++)
        if (q != c->la[j].y && (t < 0 || z[q] > z[t]))
          t = q;
      c->la[j].t = t;
      c->act[j] = j;
      memcpy(c->s[0] + (size_t)j * d, rove__x(c, j), d * sizeof(float));
    }
    rove__eval(c, loss, c->act, nb, c->s[0], c->dv[0], c->s[1], c->dv[1]);
    for (int j = 0; j < nb; j++) {
      const float *g = c->s[1] + (size_t)j * d;
      size_t q = 0;
      while (q < d && g[q] == 0.0f)
        q++;
      if (q == d)
        c->diag[c->ex_of[j]] |= 1u << ROVE_DIAG_ZERO_GRAD;
    }
  }
}

/* The model BPDA differentiates: every straight-through node replaced by
 * what its backward pretends it is, the identity (Round, Floor) or a clip
 * to the quantizer's output range (clipped STE); the integer operators
 * run their surrogate forward (rounding removed, saturation kept).
 * Forward only. */
static int surrogate_model(rove_model *dst, const rove_model *src) {
  ROVE_TRY(rove_model_clone(dst, src));
  for (int i = 0; i < dst->n_nodes; i++) {
    rove_node *n = &dst->nodes[i];
    /* Integer operators keep their node: the exec runs their own
     * surrogate forward (rove_exec.surrogate). */
    if (!(rove_layers[n->op]->flags & ROVE_OPF_NONDIFF) ||
        (rove_layers[n->op]->flags & ROVE_OPF_INTEGER))
      continue;
    float lo = -3.402823466e38f, hi = 3.402823466e38f;
    if (n->op == ROVE_OP_FAKEQUANT) {
      const float *p = src->params + n->param_off;
      size_t nc = n->n_params / 2;
      lo = 3.402823466e38f;
      hi = -3.402823466e38f;
      for (size_t k = 0; k < nc; k++) {
        float a = ((float)n->a.qmin - p[nc + k]) * p[k];
        float b = ((float)n->a.qmax - p[nc + k]) * p[k];
        lo = fminf(lo, fminf(a, b));
        hi = fmaxf(hi, fmaxf(a, b));
      }
    }
    /* The node keeps its parameter slot; Clip ignores it. */
    n->op = ROVE_OP_CLIP;
    n->a.lo = lo;
    n->a.hi = hi;
  }
  return 0;
}

/* Survivors whose final attack point fools the surrogate the gradients
 * came from, but not the true model, are transfer failures. */
static int surrogate_check(rove__ctx *c, const rove_example_result *out) {
  rove_model sm;
  rove_exec se;
  ROVE_TRY(surrogate_model(&sm, c->m));
  int rc = rove_exec_init(&se, &sm, 1);
  if (rc < 0) {
    rove_model_deinit(&sm);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  se.surrogate = 1;
  for (int i = 0; i < c->n; i++) {
    if (out[i].broken || !c->has_sur[i])
      continue;
    rove_exec_forward(&se, 1, c->xsur + (size_t)i * (size_t)c->d);
    c->st->forward_evals++;
    if (rove__argmax(rove_exec_logits(&se), c->K) != c->u->y[i])
      c->diag[i] |= 1u << ROVE_DIAG_TRANSFER_FAIL;
  }
  rove_exec_deinit(&se);
  rove_model_deinit(&sm);
  return 0;
}

/* A certify profile's unit: each example certified (robust) or not
 * (broken, with no adversarial example: x_adv gets the clean point). */
static int certify_unit(const rove_unit *u, rove_example_result *out,
                        float *x_adv, rove_unit_stats *st) {
  size_t d = (size_t)rove_shape_numel(&u->m->in);
  rove_cert_opts o = {u->p->cert, u->norm_linf, 0};
  for (int i = 0; i < u->n; i++) {
    rove_cert_result r;
    const float *x = u->x + (size_t)i * d;
    ROVE_TRY(rove_certify(u->m, x, u->y[i], u->eps, &o, &r, NULL));
    out[i].broken = !r.certified;
    out[i].attack = -1;
    out[i].margin = r.min_lb;
    out[i].diag = 0;
    if (x_adv)
      memcpy(x_adv + (size_t)i * d, x, d * sizeof(float));
    st->forward_evals++;
  }
  return 0;
}

int rove__eval_unit_traced(const rove_unit *u, rove_example_result *out,
                           float *x_adv, rove_unit_stats *st,
                           double *eta_trace) {
  rove_unit_stats local;
  if (!st)
    st = &local;
  memset(st, 0, sizeof *st);
  ROVE_TRY(check_unit(u));
  if (u->n == 0)
    return 0;
  const rove_profile *p = u->p;
  if (p->cert >= 0)
    return certify_unit(u, out, x_adv, st);
  rove__ctx c;
  memset(&c, 0, sizeof c);
  c.u = u;
  c.m = u->m;
  c.n = u->n;
  c.d = (int)rove_shape_numel(&u->m->in);
  c.K = u->m->n_classes;
  c.norm_linf = u->norm_linf;
  c.eps = u->eps;
  c.st = st;
  c.eta_trace = eta_trace;
  int bmax = u->bmax > 0 ? u->bmax : 64;
  c.bmax = bmax < u->n ? bmax : u->n;
  /* Loss traces are kept for gradient attacks only (Square's query
   * budget can be far larger and needs none). */
  for (int i = 0; i < p->n_stages; i++)
    if (rove__atk_uses_grad(p->st[i].attack) && p->st[i].steps > c.max_steps)
      c.max_steps = p->st[i].steps;

  plan pl;
  memset(&pl, 0, sizeof pl);
  layout(&c, &pl, u->n);
  pl.bytes += rove_arena_need((size_t)u->n * sizeof(int));
  ROVE_TRY(rove_arena_init(&pl.a, pl.bytes));
  layout(&c, &pl, u->n);
  int *alive = rove_arena_alloc(&pl.a, (size_t)u->n * sizeof(int));
  rove_exec e, ev;
  int rc = rove_exec_init(&e, u->m, c.bmax);
  /* The attack's thousands of passes run on fixed params. */
  if (rc >= 0 && (rc = rove_exec_freeze_params(&e, NULL)) < 0)
    rove_exec_deinit(&e);
  if (rc >= 0 && (rc = rove_exec_init(&ev, u->m, 1)) < 0)
    rove_exec_deinit(&e);
  if (rc < 0) {
    rove_arena_deinit(&pl.a);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  c.e = &e;
  rove__bpda_apply(&e, p->bpda, p->beta);

  int n_alive;
  clean_pass(&c, out, alive, &n_alive);
  for (int i = 0; i < p->n_stages; i++)
    if (rove__atk_uses_grad(p->st[i].attack)) {
      zero_grad_check(&c, &p->st[i], alive, n_alive);
      break;
    }

  size_t d = (size_t)c.d;
  int grad_ran = 0;
  for (int si = 0; si < p->n_stages && n_alive > 0; si++) {
    const rove__stage *s = &p->st[si];
    if (u->restart >= s->restarts)
      continue;
    if (s->attack == ROVE__ATK_SQUARE && !u->norm_linf)
      continue; /* L-inf only; rove_profile_check refused it alone */
    int occ = 0;
    for (int k = 0; k < si; k++)
      occ += p->st[k].attack == s->attack && p->st[k].loss == s->loss &&
             p->st[k].init == s->init;
    c.stage_key = (uint64_t)s->attack | (uint64_t)s->loss << 8 |
                  (uint64_t)s->init << 16 | (uint64_t)occ << 24;
    memset(c.cand, 0, (size_t)u->n);
    for (int i0 = 0; i0 < n_alive; i0 += c.bmax) {
      int nb = n_alive - i0 < c.bmax ? n_alive - i0 : c.bmax;
      fill_chunk(&c, alive + i0, nb);
      rc = chunk_fns[s->attack](&c, s, nb);
      if (rc < 0)
        goto done;
    }
    int nn = 0;
    for (int k = 0; k < n_alive; k++) {
      int i = alive[k];
      if (c.cand[i]) {
        const float *xi = u->x + (size_t)i * d;
        const float *xc = c.xcand + (size_t)i * d;
        st->forward_evals++;
        if (rove_verify_adv(&ev, xi, xc, u->y[i], u->norm_linf, u->eps)) {
          out[i].broken = 1;
          out[i].attack = (int8_t)s->attack;
          if (s->attack == ROVE__ATK_SQUARE && grad_ran)
            c.diag[i] |= 1u << ROVE_DIAG_SQUARE_BEAT;
          if (u->restart > 0)
            c.diag[i] |= 1u << ROVE_DIAG_NONCONVERGING;
          if (x_adv)
            memcpy(x_adv + (size_t)i * d, xc, d * sizeof(float));
          continue;
        }
        /* The attack saw a misclassified point that a fresh forward of
         * the true model does not confirm. */
        c.diag[i] |= 1u << ROVE_DIAG_TRANSFER_FAIL;
      }
      alive[nn++] = i;
    }
    n_alive = nn;
    if (rove__atk_uses_grad(s->attack))
      grad_ran = 1;
  }
  if (p->bpda != ROVE__BPDA_OFF && rove_model_count_nondiff(u->m) > 0) {
    rc = surrogate_check(&c, out);
    if (rc < 0)
      goto done;
  }
  for (int i = 0; i < u->n; i++) {
    /* An optimisation left unfinished matters only where no attack
     * succeeded in the end. */
    if (out[i].broken)
      c.diag[i] &= ~(1u << ROVE_DIAG_INCOMPLETE);
    out[i].margin = c.mlow[i];
    out[i].diag = c.diag[i];
    if (x_adv && !(out[i].broken && out[i].attack >= 0))
      memcpy(x_adv + (size_t)i * d, c.xlow + (size_t)i * d, d * sizeof(float));
  }
  rc = 0;
done:
  rove_exec_deinit(&ev);
  rove_exec_deinit(&e);
  rove_arena_deinit(&pl.a);
  return rc < 0 ? rove_error_trace(rc, __FILE__, __LINE__, __func__) : 0;
}

int rove_eval_unit(const rove_unit *u, rove_example_result *out, float *x_adv,
                   rove_unit_stats *st) {
  return rove__eval_unit_traced(u, out, x_adv, st, NULL);
}

int rove_eval_all(const rove_unit *u, rove_example_result *out, float *x_adv,
                  rove_unit_stats *st) {
  rove_unit_stats local;
  if (!st)
    st = &local;
  memset(st, 0, sizeof *st);
  rove_unit u0 = *u;
  u0.restart = 0;
  ROVE_TRY(check_unit(&u0));
  if (u->n == 0)
    return 0;
  size_t d = (size_t)rove_shape_numel(&u->m->in), n = (size_t)u->n;
  /* One allocation for the whole run; the restarts reuse it. */
  plan pl;
  memset(&pl, 0, sizeof pl);
  size_t need = rove_arena_need(n * d * sizeof(float)) * 2 +
                rove_arena_need(n * sizeof(int)) * 2 +
                rove_arena_need(n * sizeof(int64_t)) +
                rove_arena_need(n * sizeof(rove_example_result));
  ROVE_TRY(rove_arena_init(&pl.a, need));
  float *xs = rove_arena_alloc(&pl.a, n * d * sizeof(float));
  float *xa = rove_arena_alloc(&pl.a, n * d * sizeof(float));
  int *ys = rove_arena_alloc(&pl.a, n * sizeof(int));
  int *pos = rove_arena_alloc(&pl.a, n * sizeof(int));
  int64_t *ids = rove_arena_alloc(&pl.a, n * sizeof(int64_t));
  rove_example_result *r = rove_arena_alloc(&pl.a, n * sizeof *r);
  int rc = 0, R = rove_profile_restarts(u->p);
  for (int k = 0; k < R; k++) {
    int m = 0;
    for (size_t i = 0; i < n; i++) {
      if (k > 0 && out[i].broken)
        continue;
      memcpy(xs + (size_t)m * d, u->x + i * d, d * sizeof(float));
      ys[m] = u->y[i];
      ids[m] = u->idx[i];
      pos[m++] = (int)i;
    }
    if (m == 0)
      break;
    rove_unit sub = *u;
    sub.restart = k;
    sub.n = m;
    sub.x = xs;
    sub.y = ys;
    sub.idx = ids;
    rove_unit_stats s1;
    rc = rove_eval_unit(&sub, r, xa, &s1);
    if (rc < 0)
      break;
    st->grad_evals += s1.grad_evals;
    st->forward_evals += s1.forward_evals;
    for (int j = 0; j < m; j++) {
      size_t i = (size_t)pos[j];
      /* Pointwise worst case over restarts: broken by any, lowest margin,
       * every diagnostic any restart raised. */
      int better = k == 0 || r[j].broken || r[j].margin < out[i].margin;
      if (k == 0) {
        out[i] = r[j];
      } else {
        out[i].diag |= r[j].diag;
        if (r[j].broken) {
          out[i].broken = 1;
          out[i].attack = r[j].attack;
          out[i].diag &= ~(1u << ROVE_DIAG_INCOMPLETE);
        }
        if (r[j].margin < out[i].margin)
          out[i].margin = r[j].margin;
      }
      if (x_adv && better)
        memcpy(x_adv + i * d, xa + (size_t)j * d, d * sizeof(float));
    }
  }
  rove_arena_deinit(&pl.a);
  return rc < 0 ? rove_error_trace(rc, __FILE__, __LINE__, __func__) : 0;
}
