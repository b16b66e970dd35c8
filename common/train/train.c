/* train.c - the training loop: seeded shuffling, cross-entropy, PGD
 * adversarial training, the switch to quantization-aware training, pruning,
 * and the deployed model's final form. */
#include "common/train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arch.h"
#include "common/arch_zoo.h"
#include "common/err.h"
#include "common/rng.h"

/* Identity words that key the training's random draws (ASCII tags). */
#define TAG_SHUFFLE 0x73687566666c65ull /* "shuffle" */
#define TAG_PGD 0x70676461747461ull     /* "pgdatta" */

int rove_train_build(rove_model *m, const rove_train_spec *s,
                     const rove_shape *in, int n_classes) {
  rove_shape fm = {3, {1, 28, 28, 0}};
  if (!in)
    in = &fm;
  int K = n_classes >= 2 ? n_classes : 10;
  switch (s->arch) {
  case ROVE_TRAIN_ARCH_SMALLCNN:
    ROVE_TRY(rove_arch_smallcnn_in(m, in, (float)s->width, K, s->seed));
    return 0;
  case ROVE_TRAIN_ARCH_RESCNN:
    ROVE_TRY(rove_arch_rescnn_in(m, in, (float)s->width, K, s->seed));
    return 0;
  case ROVE_TRAIN_ARCH_MLP:
    ROVE_TRY(rove_arch_mlp(m, in, s->hidden, s->n_hidden, K, s->seed));
    return 0;
  default:
    memset(m, 0, sizeof *m);
    return ROVE_ERR(ROVE_EINVAL, "model '%s': unknown architecture %d", s->name,
                    s->arch);
  }
}

/* ---- trainer -------------------------------------------------------- */

int rove_trainer_init(rove_trainer *t, rove_model *m, const rove_train_spec *s,
                      int bmax) {
  memset(t, 0, sizeof *t);
  t->m = m;
  t->bmax = bmax;
  int rc = rove_exec_init(&t->e, m, bmax);
  if (rc == 0)
    rc = rove_optim_init(&t->o, m, s);
  if (rc == 0) {
    t->grads = malloc((m->n_params + 1) * sizeof *t->grads);
    t->dz = malloc((size_t)bmax * (size_t)m->n_classes * sizeof *t->dz);
    if (!t->grads || !t->dz)
      rc = ROVE_ERR(ROVE_ENOMEM, "out of memory for training buffers");
  }
  if (rc < 0) {
    rove_trainer_deinit(t);
    ROVE_TRY(rc);
  }
  return 0;
}

void rove_trainer_deinit(rove_trainer *t) {
  rove_exec_deinit(&t->e);
  rove_optim_deinit(&t->o);
  free(t->grads);
  free(t->dz);
  memset(t, 0, sizeof *t);
}

/* Forward, loss, backward with parameter gradients (into t->grads). */
static double grad_step(rove_trainer *t, int B, const float *x,
                        const int32_t *y, int *correct) {
  rove_exec_forward(&t->e, B, x);
  double loss = rove_train_ce(rove_exec_logits(&t->e), y, B, t->m->n_classes,
                              t->dz, correct);
  memset(t->grads, 0, t->m->n_params * sizeof *t->grads);
  rove_exec_backward(&t->e, B, x, t->dz, NULL, t->grads);
  return loss;
}

void rove_trainer_step(rove_trainer *t, int B, const float *x, const int32_t *y,
                       double lr, double *loss) {
  double l = grad_step(t, B, x, y, NULL);
  rove_optim_step(&t->o, t->m->params, t->grads, lr);
  if (loss)
    *loss = l;
}

/* ---- evaluation ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int rove_train_accuracy(const rove_model *m, const rove_dataset *d, long n,
                        double *acc, double *median_margin) {
  rove_exec e;
  if (n <= 0 || n > d->n)
    n = d->n;
  int bmax = n < 100 ? (int)n : 100, K = m->n_classes;
  double *mg = malloc(sizeof *mg * (size_t)n);
  if (!mg)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  int rc = rove_exec_init(&e, m, bmax);
  if (rc < 0) {
    free(mg);
    ROVE_TRY(rc);
  }
  long ok = 0;
  for (long i0 = 0; i0 < n; i0 += bmax) {
    int B = n - i0 < bmax ? (int)(n - i0) : bmax;
    rove_exec_forward(&e, B, rove_dataset_x(d, (int)i0));
    const float *z = rove_exec_logits(&e);
    for (int b = 0; b < B; b++) {
      const float *zb = z + (size_t)b * K;
      int y = d->y[i0 + b], am = 0;
      double other = -INFINITY;
      for (int j = 0; j < K; j++) {
        if (zb[j] > zb[am])
          am = j;
        if (j != y && zb[j] > other)
          other = zb[j];
      }
      ok += am == y;
      mg[i0 + b] = (double)zb[y] - other;
    }
  }
  rove_exec_deinit(&e);
  *acc = (double)ok / (double)n;
  if (median_margin) {
    qsort(mg, (size_t)n, sizeof *mg, cmp_double);
    *median_margin = n % 2 ? mg[n / 2] : 0.5 * (mg[n / 2 - 1] + mg[n / 2]);
  }
  free(mg);
  return 0;
}

/* ---- the run -------------------------------------------------------- */

typedef struct run_state {
  const rove_train_spec *s;
  rove_model m; /* the model being trained (float, then quantized) */
  rove_trainer t;
  float *master; /* QAT: float weights the optimizer updates, or NULL */
  int wbits;
  float *xb, *xadv, *gx;
  int32_t *yb;
  int *perm;
} run_state;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes the weights the forward pass uses: quantized from the master
 * copy in QAT, the parameters themselves otherwise. */
static void materialize(run_state *r) {
  if (r->master)
    rove_qat_quantize_weights(&r->m, r->master, r->m.params, r->wbits);
}

/* PGD on the cross-entropy from a uniform start in the eps-ball (keyed by
 * seed, epoch and the example's global index), sign steps, projection onto
 * the ball and [0, 1]: Madry et al.'s training attack. */
static void pgd_batch(run_state *r, int B, const int64_t *gidx, int epoch) {
  const rove_train_spec *s = r->s;
  size_t d = (size_t)rove_shape_numel(&r->m.in);
  float eps = (float)s->eps;
  float a = (float)(s->step > 0 ? s->step : 2.5 * s->eps / s->steps);
  for (int b = 0; b < B; b++) {
    rove_rng g;
    uint64_t id[4] = {TAG_PGD, s->seed, (uint64_t)epoch, (uint64_t)gidx[b]};
    rove_rng_init(&g, id, 4);
    for (size_t i = 0; i < d; i++) {
      float x0 = r->xb[b * d + i];
      float v = x0 + eps * (2.0f * rove_rng_uniform(&g) - 1.0f);
      r->xadv[b * d + i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  for (int k = 0; k < s->steps; k++) {
    rove_exec_forward(&r->t.e, B, r->xadv);
    rove_train_ce(rove_exec_logits(&r->t.e), r->yb, B, r->m.n_classes, r->t.dz,
                  NULL);
    rove_exec_backward(&r->t.e, B, r->xadv, r->t.dz, r->gx, NULL);
    for (size_t i = 0; i < (size_t)B * d; i++) {
      float g = r->gx[i], x0 = r->xb[i];
      float v = r->xadv[i] + (g > 0 ? a : g < 0 ? -a : 0.0f);
      float lo = x0 - eps, hi = x0 + eps;
      v = v < lo ? lo : v > hi ? hi : v;
      r->xadv[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}

static void set_ste(run_state *r) {
  for (int i = 0; i < r->m.n_nodes; i++)
    if (r->m.nodes[i].op == ROVE_OP_FAKEQUANT)
      rove_exec_set_bwd(&r->t.e, i, (rove_bwd){ROVE_BWD_CLIPPED_STE, 0});
}

/* Moves from float training to QAT: calibrates the activation ranges on
 * the quantized-weight model, rebuilds the graph with fake-quant nodes,
 * and continues with the same optimizer state (the trainable layout is
 * unchanged) on a float master copy of the weights. */
static int switch_to_qat(run_state *r, const rove_dataset *train, long n) {
  const rove_train_spec *s = r->s;
  rove_model qm;
  float *scale = calloc((size_t)r->m.n_nodes + 1, sizeof *scale);
  float *keep = malloc((r->m.n_params + 1) * sizeof *keep);
  int rc = 0;
  if (!scale || !keep) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory switching to QAT");
    goto out;
  }
  memcpy(keep, r->m.params, r->m.n_params * sizeof *keep);
  rove_qat_quantize_weights(&r->m, keep, r->m.params, s->wbits);
  int ncal = n < 512 ? (int)n : 512;
  if (s->abits > 0 &&
      (rc = rove_qat_calibrate(&r->m, train->x, ncal, s->abits, scale)) < 0)
    goto out;
  memcpy(r->m.params, keep, r->m.n_params * sizeof *keep);
  if ((rc = rove_arch_quantized(&qm, &r->m, s->abits > 0 ? 8 : 0, s->abits,
                                scale)) < 0)
    goto out;
  rove_optim o = r->t.o;
  int bmax = r->t.bmax;
  memset(&r->t.o, 0, sizeof r->t.o);
  rove_trainer_deinit(&r->t);
  rove_model_deinit(&r->m);
  r->m = qm;
  r->t.o = o;
  /* Re-plan the exec and buffers for the new graph, keeping the
   * optimizer. */
  rove_trainer nt;
  if ((rc = rove_trainer_init(&nt, &r->m, s, bmax)) < 0) {
    rove_optim_deinit(&o);
    memset(&r->t, 0, sizeof r->t);
    goto out;
  }
  rove_optim_deinit(&nt.o);
  nt.o = o;
  r->t = nt;
  r->t.m = &r->m;
  if ((rc = rove_optim_rebind(&r->t.o, &r->m)) < 0)
    goto out;
  set_ste(r);
  r->wbits = s->wbits;
  r->master = malloc((r->m.n_params + 1) * sizeof *r->master);
  if (!r->master) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory for the QAT master weights");
    goto out;
  }
  memcpy(r->master, r->m.params, r->m.n_params * sizeof *r->master);
out:
  free(scale);
  free(keep);
  ROVE_TRY(rc);
  return 0;
}

static int fold_logit_scale(rove_model *m, double T) {
  if (T == 1.0)
    return 0;
  rove_node *o = &m->nodes[m->output];
  if (o->op != ROVE_OP_LINEAR && o->op != ROVE_OP_CONV)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "logit_scale needs a linear or conv output layer, the "
                    "output '%s' is a %s",
                    o->name, rove_layers[o->op]->name);
  float *p = m->params + o->param_off;
  for (size_t i = 0; i < o->n_params; i++)
    p[i] *= (float)T;
  return 0;
}

static int check_data(const rove_model *m, const rove_dataset *d) {
  if (rove_shape_numel(&m->in) != rove_shape_numel(&d->shape))
    return ROVE_ERR(ROVE_ESHAPE,
                    "dataset '%s' has examples of %ld values, the model "
                    "expects %ld",
                    d->spec, rove_shape_numel(&d->shape),
                    rove_shape_numel(&m->in));
  if (d->n_classes > m->n_classes)
    return ROVE_ERR(ROVE_ESHAPE,
                    "dataset '%s' has %d classes, the model outputs %d",
                    d->spec, d->n_classes, m->n_classes);
  return 0;
}

static void shuffle(int *perm, long n, uint64_t seed, int epoch) {
  rove_rng g;
  uint64_t id[3] = {TAG_SHUFFLE, seed, (uint64_t)epoch};
  rove_rng_init(&g, id, 3);
  for (long i = 0; i < n; i++)
    perm[i] = (int)i;
  for (long i = n - 1; i > 0; i--) {
    long j = (long)rove_rng_below(&g, (uint32_t)(i + 1));
    int tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

static int run_loop(run_state *r, const rove_dataset *train,
                    rove_train_result *res, FILE *log) {
  const rove_train_spec *s = r->s;
  long n = s->n_train > 0 && s->n_train < train->n ? s->n_train : train->n;
  int B = s->batch < n ? s->batch : (int)n;
  size_t d = (size_t)rove_shape_numel(&r->m.in);
  long spe = (n + B - 1) / B, T = spe * s->epochs, t = 0;
  long qat_step = s->variant == ROVE_TRAIN_QAT
                      ? (long)floor((double)T * (1.0 - s->qat_frac))
                      : -1;
  long prune_step = s->prune > 0 ? (long)floor((double)T * s->prune_at) : -1;
  int64_t *gidx = malloc(sizeof *gidx * (size_t)B);
  r->perm = malloc(sizeof *r->perm * (size_t)n);
  r->xb = malloc(sizeof *r->xb * (size_t)B * d);
  r->yb = malloc(sizeof *r->yb * (size_t)B);
  r->xadv = malloc(sizeof *r->xadv * (size_t)B * d);
  r->gx = malloc(sizeof *r->gx * (size_t)B * d);
  if (!gidx || !r->perm || !r->xb || !r->yb || !r->xadv || !r->gx) {
    free(gidx);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory for training batches");
  }
  int rc = rove_trainer_init(&r->t, &r->m, s, B);
  if (rc < 0) {
    free(gidx);
    ROVE_TRY(rc);
  }
  double t0 = now_s();
  for (int ep = 0; ep < s->epochs; ep++) {
    shuffle(r->perm, n, s->seed, ep);
    double lsum = 0;
    long seen = 0, ok = 0;
    for (long i0 = 0; i0 < n; i0 += B, t++) {
      if (t == qat_step && (rc = switch_to_qat(r, train, n)) < 0)
        break;
      if (t == prune_step &&
          (rc = rove_optim_prune(&r->t.o, r->master ? r->master : r->m.params,
                                 s->prune)) < 0)
        break;
      int Bk = n - i0 < B ? (int)(n - i0) : B;
      for (int b = 0; b < Bk; b++) {
        int ix = r->perm[i0 + b];
        memcpy(r->xb + (size_t)b * d, rove_dataset_x(train, ix),
               d * sizeof *r->xb);
        r->yb[b] = train->y[ix];
        gidx[b] = train->first + ix;
      }
      materialize(r);
      const float *x = r->xb;
      if (s->variant == ROVE_TRAIN_PGD) {
        pgd_batch(r, Bk, gidx, ep);
        x = r->xadv;
      }
      int c;
      double loss = grad_step(&r->t, Bk, x, r->yb, &c);
      double lr = rove_train_lr(s, t, T, ep);
      rove_optim_step(&r->t.o, r->master ? r->master : r->m.params, r->t.grads,
                      lr);
      lsum += loss * Bk;
      seen += Bk;
      ok += c;
    }
    if (rc < 0)
      break;
    double mean = lsum / (double)seen;
    if (ep == 0)
      res->first_loss = mean;
    res->last_loss = mean;
    res->train_acc = (double)ok / (double)seen;
    res->epochs = ep + 1;
    if (log)
      fprintf(log, "  %s: epoch %d/%d loss %.4f train acc %.4f (%.1f s)\n",
              s->name, ep + 1, s->epochs, mean, res->train_acc, now_s() - t0);
    if (log)
      fflush(log);
  }
  res->steps = t;
  free(gidx);
  ROVE_TRY(rc);
  /* Training may have ended before a scheduled switch (qat_frac 0). */
  if (qat_step >= t && s->variant == ROVE_TRAIN_QAT)
    ROVE_TRY(switch_to_qat(r, train, n));
  materialize(r);
  return 0;
}

int rove_train_run(const rove_train_spec *s, const rove_dataset *train,
                   const rove_dataset *test, rove_model *m,
                   rove_train_result *res, FILE *log) {
  run_state r;
  memset(&r, 0, sizeof r);
  memset(res, 0, sizeof *res);
  memset(m, 0, sizeof *m);
  r.s = s;
  if (s->epochs < 1 || s->batch < 1)
    return ROVE_ERR(ROVE_EINVAL,
                    "model '%s': epochs %d, batch %d (expected "
                    ">= 1)",
                    s->name, s->epochs, s->batch);
  if (s->variant == ROVE_TRAIN_PGD && !(s->eps > 0 && s->steps >= 1))
    return ROVE_ERR(ROVE_EINVAL,
                    "model '%s': PGD training needs eps > 0 and steps >= 1",
                    s->name);
  ROVE_TRY(rove_train_build(&r.m, s, &train->shape,
                            train->n_classes > 10 ? train->n_classes : 10));
  int nrc = rove_model_normalize(&r.m, &s->norm);
  if (nrc < 0) {
    rove_model_deinit(&r.m);
    return ROVE_WRAP(nrc, "model '%s'", s->name);
  }
  double t0 = now_s();
  int rc = check_data(&r.m, train);
  if (rc == 0)
    rc = run_loop(&r, train, res, log);
  if (rc == 0)
    rc = fold_logit_scale(&r.m, s->logit_scale);
  if (rc == 0)
    rc = rove_model_finalize(&r.m, r.m.output);
  res->seconds = now_s() - t0;
  if (rc == 0 && test) {
    rc = check_data(&r.m, test);
    if (rc == 0)
      rc = rove_train_accuracy(&r.m, test, s->n_test, &res->test_acc,
                               &res->median_margin);
  }
  rove_trainer_deinit(&r.t);
  free(r.master);
  free(r.xb);
  free(r.xadv);
  free(r.gx);
  free(r.yb);
  free(r.perm);
  if (rc < 0) {
    rove_model_deinit(&r.m);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  *m = r.m;
  return 0;
}
