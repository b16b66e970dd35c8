/* test_train.c - the training code: optimizers against closed forms, the
 * loss against finite differences, a short run that learns, determinism,
 * QAT and pruning invariants, logit scaling, and zoo file errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/arch_zoo.h"
#include "common/data.h"
#include "common/err.h"
#include "common/model.h"
#include "common/train/train.h"

/* A one-node model whose trainable parameters are a linear layer's. */
static void tiny_linear(rove_model *m, int in, int out) {
  rove_shape s = {1, {in}};
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = out;
  a.has_bias = 1;
  cr_assert_eq(rove_model_init(m, &s), 0);
  int x = ROVE_INPUT;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, "fc", &x, 1, &a, NULL), 0);
  cr_assert_eq(rove_model_finalize(m, -1), 0);
}

Test(optim, sgd_momentum_matches_hand_computation) {
  rove_model m;
  rove_train_spec s;
  rove_optim o;
  tiny_linear(&m, 2, 1); /* w0 w1 b */
  rove_train_spec_default(&s);
  s.momentum = 0.5;
  s.wd = 0.1;
  cr_assert_eq(rove_optim_init(&o, &m, &s), 0);
  cr_assert_eq(o.n, 3);
  float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, 0.25f, 1.0f};
  /* v = mu v + g + wd w (weights only); w -= lr v. Twice. */
  double ew[3] = {1, -2, 0.5}, ev[3] = {0, 0, 0};
  for (int step = 0; step < 2; step++) {
    rove_optim_step(&o, w, g, 0.1);
    for (int i = 0; i < 3; i++) {
      ev[i] = 0.5 * ev[i] + g[i] + (i < 2 ? 0.1 * ew[i] : 0);
      ew[i] -= 0.1 * ev[i];
    }
  }
  for (int i = 0; i < 3; i++)
    cr_assert_float_eq(w[i], ew[i], 1e-6, "param %d: %g vs %g", i, w[i], ew[i]);
  rove_optim_deinit(&o);
  rove_model_deinit(&m);
}

Test(optim, adam_first_step_is_lr_times_sign) {
  rove_model m;
  rove_train_spec s;
  rove_optim o;
  tiny_linear(&m, 3, 1);
  rove_train_spec_default(&s);
  s.opt = ROVE_TRAIN_ADAM;
  s.wd = 0;
  cr_assert_eq(rove_optim_init(&o, &m, &s), 0);
  float w[4] = {0, 0, 0, 0}, g[4] = {3.0f, -0.01f, 0.0f, 100.0f};
  rove_optim_step(&o, w, g, 0.01);
  /* Bias-corrected m/sqrt(v) = g/|g| on the first step. */
  cr_assert_float_eq(w[0], -0.01f, 1e-7);
  cr_assert_float_eq(w[1], 0.01f, 1e-6);
  cr_assert_eq(w[2], 0.0f);
  cr_assert_float_eq(w[3], -0.01f, 1e-7);
  rove_optim_deinit(&o);
  rove_model_deinit(&m);
}

Test(optim, schedules) {
  rove_train_spec s;
  rove_train_spec_default(&s);
  s.lr = 0.2;
  s.sched = ROVE_TRAIN_COSINE;
  cr_assert_float_eq(rove_train_lr(&s, 0, 100, 0), 0.2, 1e-12);
  cr_assert_float_eq(rove_train_lr(&s, 50, 100, 0), 0.1, 1e-12);
  cr_assert_float_eq(rove_train_lr(&s, 100, 100, 0), 0.0, 1e-12);
  s.sched = ROVE_TRAIN_STEP;
  s.gamma = 0.5;
  s.step_epochs = 2;
  cr_assert_float_eq(rove_train_lr(&s, 0, 100, 1), 0.2, 1e-12);
  cr_assert_float_eq(rove_train_lr(&s, 0, 100, 2), 0.1, 1e-12);
  cr_assert_float_eq(rove_train_lr(&s, 0, 100, 5), 0.05, 1e-12);
}

Test(loss, ce_gradient_matches_finite_differences) {
  float z[2 * 5] = {0.3f, -1.2f, 2.0f, 0.0f, 0.7f, 5.0f, 4.5f, -3.0f, 1.0f, 0};
  int32_t y[2] = {2, 1};
  float dz[10];
  int ok;
  double l = rove_train_ce(z, y, 2, 5, dz, &ok);
  cr_assert_eq(ok, 1); /* row 0 right (class 2), row 1 wrong (argmax 0) */
  cr_assert(l > 0);
  for (int j = 0; j < 10; j++) {
    float zp[10], zm[10];
    memcpy(zp, z, sizeof z);
    memcpy(zm, z, sizeof z);
    float h = 1e-2f;
    zp[j] += h;
    zm[j] -= h;
    double fd = (rove_train_ce(zp, y, 2, 5, NULL, NULL) -
                 rove_train_ce(zm, y, 2, 5, NULL, NULL)) /
                (double)(zp[j] - zm[j]);
    cr_assert_float_eq(dz[j], fd, 1e-4, "dz[%d] = %g, fd %g", j, dz[j], fd);
  }
}

Test(qat, weights_are_integer_levels_per_channel) {
  rove_model m;
  cr_assert_eq(rove_arch_smallcnn(&m, 0.25f, 10, 3), 0);
  float *q = malloc(m.n_params * sizeof *q);
  cr_assert(q);
  for (int bits = 2; bits <= 8; bits += 2) {
    if (bits == 6)
      continue;
    int Q = (1 << (bits - 1)) - 1;
    rove_qat_quantize_weights(&m, m.params, q, bits);
    for (int i = 0; i < m.n_nodes; i++) {
      const rove_node *n = &m.nodes[i];
      if (n->op != ROVE_OP_CONV && n->op != ROVE_OP_LINEAR)
        continue;
      size_t nw = n->n_params - (size_t)n->a.out, per = nw / n->a.out;
      for (int k = 0; k < n->a.out; k++) {
        const float *w = m.params + n->param_off + k * per;
        const float *v = q + n->param_off + k * per;
        /* The step s from the largest stored value (on level Q). */
        float a = 0;
        for (size_t j = 0; j < per; j++)
          a = fmaxf(a, fabsf(v[j]));
        float s = a / (float)Q;
        int top = 0;
        for (size_t j = 0; j < per; j++) {
          /* On the grid, within the range, the nearest level (or the
           * clamped end). */
          float lv = v[j] / s;
          cr_assert(fabsf(lv - rintf(lv)) < 1e-4f,
                    "bits %d node %s: %g not a level", bits, n->name, lv);
          cr_assert(fabsf(lv) <= (float)Q + 1e-4f);
          if (fabsf(w[j]) <= (float)Q * s)
            cr_assert(fabsf(v[j] - w[j]) <= 0.5f * s * 1.001f);
          else
            cr_assert(fabsf(v[j]) == a && (v[j] > 0) == (w[j] > 0));
          top |= fabsf(v[j]) == a;
        }
        cr_assert(top, "the largest weight sits on level Q");
      }
      /* Biases are not quantized. */
      cr_assert_eq(memcmp(m.params + n->param_off + nw, q + n->param_off + nw,
                          (size_t)n->a.out * sizeof(float)),
                   0);
    }
  }
  free(q);
  rove_model_deinit(&m);
}

/* Fake quant forward equals the ONNX QuantizeLinear/DequantizeLinear
 * formula evaluated independently here. */
Test(qat, fakequant_nodes_follow_qdq_semantics) {
  rove_model f, q;
  cr_assert_eq(rove_arch_smallcnn(&f, 0.25f, 10, 5), 0);
  float *scale = calloc((size_t)f.n_nodes, sizeof *scale);
  float x[4 * 784];
  for (int i = 0; i < 4 * 784; i++)
    x[i] = (float)((i * 37) % 256) / 255.0f;
  cr_assert_eq(rove_qat_calibrate(&f, x, 4, 4, scale), 0);
  for (int i = 0; i < f.n_nodes; i++)
    cr_assert_eq(scale[i] > 0, f.nodes[i].op == ROVE_OP_RELU);
  cr_assert_eq(rove_arch_quantized(&q, &f, 8, 4, scale), 0);
  cr_assert_eq(q.n_nodes, f.n_nodes + 7);
  cr_assert_eq(rove_model_count_nondiff(&q), 7);
  rove_exec e;
  cr_assert_eq(rove_exec_init(&e, &q, 4), 0);
  rove_exec_forward(&e, 4, x);
  int seen = 0;
  for (int i = 0; i < q.n_nodes; i++) {
    const rove_node *n = &q.nodes[i];
    if (n->op != ROVE_OP_FAKEQUANT)
      continue;
    seen++;
    float s = q.params[n->param_off], zp = q.params[n->param_off + 1];
    const float *in = n->in[0] == ROVE_INPUT ? x : e.act[n->in[0]];
    long N = 4 * rove_shape_numel(&n->out);
    for (long j = 0; j < N; j++) {
      float v = rintf(in[j] / s) + zp;
      v = fminf(fmaxf(v, (float)n->a.qmin), (float)n->a.qmax);
      float want = (v - zp) * s;
      cr_assert_eq(memcmp(&want, &e.act[i][j], 4), 0, "%s[%ld]", n->name, j);
    }
  }
  cr_assert_eq(seen, 7);
  rove_exec_deinit(&e);
  rove_model_deinit(&q);
  rove_model_deinit(&f);
  free(scale);
}

/* Small-slice training shared by the tests below. */
static void small_spec(rove_train_spec *s, const char *name) {
  rove_train_spec_default(s);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->width = 0.25;
  s->epochs = 2;
  s->batch = 50;
  s->opt = ROVE_TRAIN_ADAM;
  s->lr = 3e-3;
  s->n_train = 800;
}

static void load_data(rove_dataset *tr, rove_dataset *te) {
  cr_assert_eq(rove_dataset_load(tr, "fashion-mnist:train[0:800]"), 0, "%s",
               rove_error_message());
  cr_assert_eq(rove_dataset_load(te, "fashion-mnist:test[0:300]"), 0, "%s",
               rove_error_message());
}

Test(train, short_run_learns_and_is_deterministic) {
  rove_dataset tr, te;
  rove_train_spec s;
  rove_train_result r1, r2, r3;
  rove_model a, b, c;
  load_data(&tr, &te);
  small_spec(&s, "a");
  cr_assert_eq(rove_train_run(&s, &tr, &te, &a, &r1, NULL), 0, "%s",
               rove_error_message());
  /* Fashion-MNIST has 10 balanced classes: chance is 10%; 800 examples
   * and two epochs reach well over 60% on held-out examples. */
  cr_assert(r1.last_loss < r1.first_loss - 0.3, "loss %g -> %g", r1.first_loss,
            r1.last_loss);
  cr_assert(r1.test_acc >= 0.6, "test accuracy %g", r1.test_acc);
  cr_assert_eq(r1.steps, 2 * 16);
  cr_assert_eq(rove_train_run(&s, &tr, &te, &b, &r2, NULL), 0);
  cr_assert_eq(memcmp(a.hash, b.hash, 32), 0, "same seed, same weights");
  cr_assert_eq(memcmp(a.params, b.params, a.n_params * 4), 0);
  cr_assert_eq(r1.test_acc, r2.test_acc);
  s.seed = 2;
  cr_assert_eq(rove_train_run(&s, &tr, &te, &c, &r3, NULL), 0);
  cr_assert_neq(memcmp(a.hash, c.hash, 32), 0, "another seed, other weights");
  rove_model_deinit(&a);
  rove_model_deinit(&b);
  rove_model_deinit(&c);
  rove_dataset_deinit(&tr);
  rove_dataset_deinit(&te);
}

Test(train, qat_model_is_quantized_and_exportable_weights) {
  rove_dataset tr, te;
  rove_train_spec s;
  rove_train_result r;
  rove_model m;
  load_data(&tr, &te);
  small_spec(&s, "q");
  s.variant = ROVE_TRAIN_QAT;
  s.wbits = 4;
  s.abits = 2;
  cr_assert_eq(rove_train_run(&s, &tr, &te, &m, &r, NULL), 0, "%s",
               rove_error_message());
  /* Input quantizer plus one per ReLU, all with 2-bit (0..3) levels except
   * the 8-bit input. */
  int fq = 0;
  for (int i = 0; i < m.n_nodes; i++)
    if (m.nodes[i].op == ROVE_OP_FAKEQUANT) {
      fq++;
      cr_assert_eq(m.nodes[i].a.qmax, i == 0 ? 255 : 3);
    }
  cr_assert_eq(fq, 7);
  /* Weights already quantized: quantizing again changes nothing. */
  float *w = malloc(m.n_params * sizeof *w);
  rove_qat_quantize_weights(&m, m.params, w, 4);
  cr_assert_eq(memcmp(w, m.params, m.n_params * 4), 0);
  free(w);
  /* Two epochs on 800 examples at 2-bit activations: at least three
   * times chance (float training reaches about 0.7 here). */
  cr_assert(r.test_acc >= 0.3, "2-bit QAT accuracy %g", r.test_acc);
  rove_model_deinit(&m);
  rove_dataset_deinit(&tr);
  rove_dataset_deinit(&te);
}

Test(train, pgd_pruning_and_logit_scale) {
  rove_dataset tr, te;
  rove_train_spec s;
  rove_train_result r1, r2, r3;
  rove_model a, b, p;
  load_data(&tr, &te);
  small_spec(&s, "s");
  s.epochs = 1;
  s.n_train = 300;
  cr_assert_eq(rove_train_run(&s, &tr, &te, &a, &r1, NULL), 0);
  /* A power-of-two logit scale multiplies every logit exactly. */
  s.logit_scale = 64;
  cr_assert_eq(rove_train_run(&s, &tr, &te, &b, &r2, NULL), 0);
  cr_assert_eq(r1.test_acc, r2.test_acc);
  cr_assert_float_eq(r2.median_margin, 64 * r1.median_margin,
                     1e-9 * fabs(r2.median_margin));
  rove_exec ea, eb;
  cr_assert_eq(rove_exec_init(&ea, &a, 10), 0);
  cr_assert_eq(rove_exec_init(&eb, &b, 10), 0);
  rove_exec_forward(&ea, 10, te.x);
  rove_exec_forward(&eb, 10, te.x);
  for (int j = 0; j < 100; j++)
    cr_assert_eq(64.0f * rove_exec_logits(&ea)[j], rove_exec_logits(&eb)[j]);
  rove_exec_deinit(&ea);
  rove_exec_deinit(&eb);
  /* Pruning half of each layer's weights keeps them at zero. */
  s.logit_scale = 1;
  s.prune = 0.5;
  s.variant = ROVE_TRAIN_PGD;
  s.eps = 0.1;
  s.steps = 2;
  cr_assert_eq(rove_train_run(&s, &tr, &te, &p, &r3, NULL), 0, "%s",
               rove_error_message());
  for (int i = 0; i < p.n_nodes; i++) {
    const rove_node *n = &p.nodes[i];
    if (n->op != ROVE_OP_CONV && n->op != ROVE_OP_LINEAR)
      continue;
    size_t nw = n->n_params - (size_t)n->a.out, zeros = 0;
    for (size_t j = 0; j < nw; j++)
      zeros += p.params[n->param_off + j] == 0.0f;
    cr_assert(zeros >= nw / 2, "%s: %zu of %zu weights zero", n->name, zeros,
              nw);
  }
  rove_model_deinit(&a);
  rove_model_deinit(&b);
  rove_model_deinit(&p);
  rove_dataset_deinit(&tr);
  rove_dataset_deinit(&te);
}

Test(arch, rescnn_builds_and_runs) {
  rove_model m;
  cr_assert_eq(rove_arch_rescnn(&m, 0.5f, 10, 1), 0);
  cr_assert_eq(m.n_classes, 10);
  int adds = 0;
  for (int i = 0; i < m.n_nodes; i++)
    adds += m.nodes[i].op == ROVE_OP_ADD;
  cr_assert_eq(adds, 2);
  rove_exec e;
  float x[2 * 784] = {0};
  cr_assert_eq(rove_exec_init(&e, &m, 2), 0);
  rove_exec_forward(&e, 2, x);
  rove_exec_deinit(&e);
  rove_model_deinit(&m);
  cr_assert_lt(rove_arch_rescnn(&m, 0.0f, 10, 1), 0);
}

/* Loads a zoo text and expects an error whose message contains want. */
static void zoo_fails(const char *text, const char *want) {
  rove_zoo z;
  int rc = rove_zoo_load_string(&z, text, "t.zoo");
  cr_assert_lt(rc, 0, "accepted:\n%s", text);
  cr_assert(strstr(rove_error_message(), want), "message '%s' lacks '%s'",
            rove_error_message(), want);
}

Test(zoo, parses_defaults_and_overrides) {
  rove_zoo z;
  const char *text = "[zoo]\n"
                     "output = out/zoo\n"
                     "epochs = 3\n"
                     "optimizer = adam\n"
                     "[model a]\n"
                     "arch = smallcnn\n"
                     "width = 0.5\n"
                     "[model b]\n"
                     "arch = mlp\n"
                     "hidden = 64, 32\n"
                     "variant = qat\n"
                     "bits = 4\n"
                     "act_bits = 2\n"
                     "epochs = 1\n"
                     "[model c]\n"
                     "variant = pgd\n"
                     "eps = 0.2\n";
  cr_assert_eq(rove_zoo_load_string(&z, text, "t.zoo"), 0, "%s",
               rove_error_message());
  cr_assert_str_eq(z.output, "out/zoo");
  cr_assert_eq(z.n_models, 3);
  cr_assert_eq(z.models[0].epochs, 3);
  cr_assert_eq(z.models[0].opt, ROVE_TRAIN_ADAM);
  cr_assert_float_eq(z.models[0].lr, 1e-3, 1e-15);
  cr_assert_float_eq(z.models[0].width, 0.5, 0);
  cr_assert_eq(z.models[1].arch, ROVE_TRAIN_ARCH_MLP);
  cr_assert_eq(z.models[1].n_hidden, 2);
  cr_assert_eq(z.models[1].hidden[1], 32);
  cr_assert_eq(z.models[1].wbits, 4);
  cr_assert_eq(z.models[1].abits, 2);
  cr_assert_eq(z.models[1].epochs, 1);
  cr_assert_eq(z.models[2].variant, ROVE_TRAIN_PGD);
  cr_assert_float_eq(z.models[2].eps, 0.2, 0);
  char f0[2048], f1[2048];
  rove_train_fingerprint(&z.models[0], f0, sizeof f0);
  rove_train_fingerprint(&z.models[2], f1, sizeof f1);
  cr_assert_str_neq(f0, f1);
  rove_zoo_deinit(&z);
}

Test(zoo, errors_name_the_line_and_key) {
  zoo_fails("[model a]\narch = smallcnn\n\n[model b]\narch = vgg\n",
            "t.zoo:5: [model b] key 'arch': unknown value 'vgg'");
  zoo_fails("[model a]\nvariant = qat\nbits = 3\n",
            "t.zoo:3: [model a] key 'bits': bit width 3");
  zoo_fails("[model a]\nvariant = pgd\neps = -0.1\n", "t.zoo:3");
  zoo_fails("[model a]\nvariant = pgd\neps = -0.1\n", "key 'eps'");
  zoo_fails("[model a]\nvariant = pgd\neps = 0\n",
            "t.zoo:3: [model a] key 'eps': PGD training needs eps > 0");
  zoo_fails("[model a]\nepochs = 2\nepoch = 3\n", "t.zoo:3");
  zoo_fails("[model a]\nbits = 4\n", "only meaningful with variant = qat");
  zoo_fails("[model a]\n[model a]\n", "repeated");
  zoo_fails("[model a/b]\n", "model name 'a/b'");
  zoo_fails("[zoo]\nepochs = 2\n", "no [model NAME] sections");
  zoo_fails("[zoo]\nbits = 5\n[model a]\nvariant = qat\n",
            "t.zoo:2: [zoo] key 'bits'");
}

/* The zoo's architectures take the training set's shape: SmallCNN on
 * 3x32x32 (CIFAR) has conv1 3->c1 and fc1 from the 64x5x5 map; classes
 * beyond 10 widen the last layer. */
Test(train, architectures_follow_the_data_shape) {
  rove_train_spec s;
  rove_train_spec_default(&s);
  s.width = 0.5;
  rove_shape cifar = {3, {3, 32, 32, 0}};
  rove_model m;
  cr_assert_eq(rove_train_build(&m, &s, &cifar, 100), 0, "%s",
               rove_error_message());
  cr_assert_eq(m.in.d[0], 3);
  cr_assert_eq(m.in.d[1], 32);
  cr_assert_eq(m.n_classes, 100);
  int c1 = 16, c2 = 32, f = 100;
  size_t want = (size_t)(3 * 9 * c1 + c1) + (size_t)(c1 * 9 * c1 + c1) +
                (size_t)(c1 * 9 * c2 + c2) + (size_t)(c2 * 9 * c2 + c2) +
                (size_t)(c2 * 25 * f + f) + (size_t)(f * f + f) +
                (size_t)(f * 100 + 100);
  cr_assert_eq(m.n_params, want, "%zu params, expected %zu", m.n_params, want);
  rove_model_deinit(&m);
  s.arch = ROVE_TRAIN_ARCH_RESCNN;
  cr_assert_eq(rove_train_build(&m, &s, &cifar, 10), 0, "%s",
               rove_error_message());
  cr_assert_eq(m.n_classes, 10);
  rove_model_deinit(&m);
}
