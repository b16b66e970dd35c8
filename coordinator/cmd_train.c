/* cmd_train.c - `rove train`: trains the models of a zoo file (or one model
 * given by flags) into .rove files with a JSON log each; `--bench` times a
 * training step. */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/arch.h"
#include "common/data.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/format_rove.h"
#include "common/kernels/cpu.h"
#include "common/model.h"
#include "common/rng.h"
#include "common/train/train.h"
#include "common/util.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove train ZOO_FILE [--out DIR] [--only NAME,...] [--force]\n"
          "       rove train --name NAME [--KEY VALUE ...] [--out DIR]\n"
          "       rove train --bench [--model MODEL] [--batch B] [--width W] "
          "[--steps N] [--optimizer sgd|adam] "
          "[--json]\n\n"
          "Trains the models a zoo file lists (common/train/README.md) and\n"
          "writes DIR/NAME.rove and DIR/NAME.json (the training log: arch,\n"
          "variant, settings, seconds, train/test accuracy, seed, hash). A\n"
          "model whose log shows the same settings and whose .rove file still\n"
          "has the logged hash is skipped.\n\n"
          "  --out DIR        output directory (default: the zoo file's\n"
          "                   `output`, else zoo/)\n"
          "  --only NAMES     train only these models (comma-separated)\n"
          "  --force          retrain even when the log matches\n"
          "  --quiet          no per-epoch lines\n"
          "  --name NAME      one model from flags: every zoo key is a flag\n"
          "                   (--arch smallcnn --width 0.5 --variant qat\n"
          "                   --bits 4 --epochs 3 --eps 0.1 --n-train 1000 "
          "...)\n"
          "  --bench          time training steps (forward, backward with\n"
          "                   parameter gradients, one SGD or --optimizer\n"
          "                   adam update) of SmallCNN, or of --model MODEL\n"
          "                   (.rove or ONNX), on random data (--batch,\n"
          "                   default 128; --width, default 1; --steps,\n"
          "                   default 20) and print the figures\n"
          "  -h, --help       this text\n");
}

/* A JSON number, or null for NaN and infinities (a diverged run). */
static void json_num(FILE *f, const char *key, double v, const char *end) {
  if (isfinite(v))
    fprintf(f, "  \"%s\": %.6g%s", key, v, end);
  else
    fprintf(f, "  \"%s\": null%s", key, end);
}

/* Reads a whole small file into a NUL-terminated buffer, or NULL. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *q = realloc(buf, cap);
      if (!q) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = q;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0)
      break;
  }
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* 1 when dir/NAME.json records this fingerprint and dir/NAME.rove loads
 * with the hash the log names: the model is already trained. */
static int already_trained(const char *dir, const rove_train_spec *s,
                           const char *fp) {
  char path[1200], want[80];
  snprintf(path, sizeof path, "%s/%s.json", dir, s->name);
  char *log = slurp(path);
  if (!log)
    return 0;
  char *f = strstr(log, "\"fingerprint\": \"");
  int ok =
      f && strncmp(f + 16, fp, strlen(fp)) == 0 && f[16 + strlen(fp)] == '"';
  char *h = strstr(log, "\"hash\": \"");
  if (ok && h && strlen(h + 9) >= 64) {
    memcpy(want, h + 9, 64);
    want[64] = '\0';
  } else {
    ok = 0;
  }
  free(log);
  if (!ok)
    return 0;
  rove_model m;
  snprintf(path, sizeof path, "%s/%s.rove", dir, s->name);
  if (rove_model_load(&m, path) < 0) {
    rove_error_clear();
    return 0;
  }
  char hex[65];
  rove_model_hash_hex(&m, hex);
  rove_model_deinit(&m);
  return strcmp(hex, want) == 0;
}

static int write_log(const char *dir, const rove_train_spec *s, const char *fp,
                     const rove_model *m, const rove_train_result *r,
                     long n_train, long n_test) {
  char path[1200], tmp[1300], hex[65];
  snprintf(path, sizeof path, "%s/%s.json", dir, s->name);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f)
    return ROVE_ERR(ROVE_EIO, "cannot create '%s': %s", tmp, strerror(errno));
  rove_model_hash_hex(m, hex);
  fprintf(f, "{\n  \"name\": ");
  rove_json_str(f, s->name);
  fprintf(f, ",\n  \"model\": ");
  char mf[100];
  snprintf(mf, sizeof mf, "%s.rove", s->name);
  rove_json_str(f, mf);
  fprintf(f, ",\n  \"arch\": \"%s\",\n", rove_train_arch_name(s->arch));
  if (s->arch == ROVE_TRAIN_ARCH_MLP) {
    fprintf(f, "  \"hidden\": [");
    for (int i = 0; i < s->n_hidden; i++)
      fprintf(f, "%s%d", i ? ", " : "", s->hidden[i]);
    fprintf(f, "],\n");
  } else {
    fprintf(f, "  \"width\": %.17g,\n", s->width);
  }
  fprintf(f, "  \"variant\": \"%s\",\n", rove_train_variant_name(s->variant));
  if (s->variant == ROVE_TRAIN_PGD)
    fprintf(f, "  \"pgd\": {\"eps\": %.17g, \"steps\": %d, \"step\": %.17g},\n",
            s->eps, s->steps, s->step > 0 ? s->step : 2.5 * s->eps / s->steps);
  fprintf(f, "  \"weight_bits\": %d,\n  \"act_bits\": %d,\n", s->wbits,
          s->abits);
  fprintf(f, "  \"prune\": %.17g,\n  \"logit_scale\": %.17g,\n", s->prune,
          s->logit_scale);
  fprintf(f, "  \"epochs\": %d,\n  \"batch\": %d,\n  \"steps\": %ld,\n",
          r->epochs, s->batch, r->steps);
  fprintf(f, "  \"seed\": %llu,\n  \"data\": ", (unsigned long long)s->seed);
  rove_json_str(f, s->data);
  fprintf(f, ",\n  \"n_train\": %ld,\n  \"test\": ", n_train);
  rove_json_str(f, s->test);
  fprintf(f, ",\n  \"n_test\": %ld,\n", n_test);
  fprintf(f, "  \"seconds\": %.3f,\n", r->seconds);
  json_num(f, "first_epoch_loss", r->first_loss, ",\n");
  json_num(f, "last_epoch_loss", r->last_loss, ",\n");
  json_num(f, "train_acc", r->train_acc, ",\n");
  json_num(f, "test_acc", r->test_acc, ",\n");
  json_num(f, "median_test_margin", r->median_margin, ",\n");
  fprintf(f, "  \"params\": %zu,\n  \"macs\": %.0f,\n", m->n_params,
          rove_model_macs(m));
  fprintf(f, "  \"nondiff_layers\": %d,\n", rove_model_count_nondiff(m));
  fprintf(f, "  \"hash\": \"%s\",\n  \"fingerprint\": ", hex);
  rove_json_str(f, fp);
  fprintf(f, ",\n  \"rove_version\": \"%s\"\n}\n", ROVE_VERSION);
  return rove_file_commit(f, tmp, path, "training log");
}

/* Datasets loaded once and reused while consecutive models share specs. */
typedef struct data_cache {
  rove_dataset train, test;
  int have_train, have_test;
} data_cache;

static int cache_get(rove_dataset *d, int *have, const char *spec) {
  if (*have && strcmp(d->spec, spec) == 0)
    return 0;
  if (*have)
    rove_dataset_deinit(d);
  *have = 0;
  ROVE_TRY(rove_dataset_load(d, spec));
  *have = 1;
  return 0;
}

static int in_list(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = list; p && *p;) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p = c ? c + 1 : NULL;
  }
  return 0;
}

static int train_one(const rove_train_spec *s, const char *dir, data_cache *dc,
                     int force, int quiet) {
  char fp[2048];
  rove_train_fingerprint(s, fp, sizeof fp);
  if (!force && already_trained(dir, s, fp)) {
    printf("%-24s up to date (%s/%s.json)\n", s->name, dir, s->name);
    return 0;
  }
  ROVE_TRY(cache_get(&dc->train, &dc->have_train, s->data));
  ROVE_TRY(cache_get(&dc->test, &dc->have_test, s->test));
  rove_model m;
  rove_train_result r;
  if (!quiet)
    printf("%-24s training (%s, %s, %d epochs)\n", s->name,
           rove_train_arch_name(s->arch), rove_train_variant_name(s->variant),
           s->epochs);
  fflush(stdout);
  ROVE_TRY(
      rove_train_run(s, &dc->train, &dc->test, &m, &r, quiet ? NULL : stdout));
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.rove", dir, s->name);
  long ntr =
      s->n_train > 0 && s->n_train < dc->train.n ? s->n_train : dc->train.n;
  long nte = s->n_test > 0 && s->n_test < dc->test.n ? s->n_test : dc->test.n;
  int rc = rove_model_save(&m, path);
  if (rc == 0)
    rc = write_log(dir, s, fp, &m, &r, ntr, nte);
  if (rc == 0) {
    char hex[65];
    rove_model_hash_hex(&m, hex);
    printf("%-24s test acc %.4f  median margin %.3g  %.1f s  %.16s\n", s->name,
           r.test_acc, r.median_margin, r.seconds, hex);
  }
  rove_model_deinit(&m);
  ROVE_TRY(rc);
  return 0;
}

static int run_zoo(rove_zoo *z, const char *out, const char *only, int force,
                   int quiet) {
  const char *dir = out ? out : z->output[0] ? z->output : "zoo";
  data_cache dc;
  memset(&dc, 0, sizeof dc);
  int rc = rove_mkdirs(dir), any = 0;
  for (int i = 0; rc == 0 && i < z->n_models; i++) {
    if (only && !in_list(only, z->models[i].name))
      continue;
    any = 1;
    rc = train_one(&z->models[i], dir, &dc, force, quiet);
  }
  if (rc == 0 && !any)
    rc = ROVE_ERR(ROVE_EINVAL, "--only '%s' names no model of %s", only,
                  z->ini.path);
  if (dc.have_train)
    rove_dataset_deinit(&dc.train);
  if (dc.have_test)
    rove_dataset_deinit(&dc.test);
  ROVE_TRY(rc);
  return 0;
}

/* Times training steps of SmallCNN (model NULL) or of a model file; adam
 * picks Adam instead of SGD. */
static int run_bench(const char *model, int batch, double width, int steps,
                     int adam, int json) {
  rove_model m;
  rove_train_spec s;
  rove_trainer t;
  rove_train_spec_default(&s);
  s.width = width;
  if (adam)
    s.opt = ROVE_TRAIN_ADAM;
  if (model)
    ROVE_TRY(rove_model_load(&m, model));
  else
    ROVE_TRY(rove_train_build(&m, &s, NULL, 10));
  const char *label = model ? model : "smallcnn";
  int K = m.n_classes;
  size_t d = (size_t)rove_shape_numel(&m.in);
  float *x = malloc(sizeof *x * d * (size_t)batch);
  int32_t *y = malloc(sizeof *y * (size_t)batch);
  int rc = 0;
  if (!x || !y) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
    goto out;
  }
  rove_rng g;
  uint64_t id[1] = {7};
  rove_rng_init(&g, id, 1);
  for (size_t i = 0; i < d * (size_t)batch; i++)
    x[i] = rove_rng_uniform(&g);
  for (int b = 0; b < batch; b++)
    y[b] = (int32_t)rove_rng_below(&g, (uint32_t)K);
  if ((rc = rove_trainer_init(&t, &m, &s, batch)) < 0)
    goto out;
  double loss;
  for (int i = 0; i < 2; i++)
    rove_trainer_step(&t, batch, x, y, 0.01, &loss);
  double t0 = rove_now();
  for (int i = 0; i < steps; i++)
    rove_trainer_step(&t, batch, x, y, 0.01, &loss);
  double dt = rove_now() - t0;
  rove_trainer_deinit(&t);
  double ms = 1e3 * dt / steps, eps = (double)batch * steps / dt;
  double gflop = 3.0 * 2.0 * rove_model_macs(&m) * batch * steps / dt / 1e9;
  const char *opt = adam ? "adam" : "sgd";
  if (json)
    printf("{\"arch\": \"%s\", \"width\": %g, \"batch\": %d, \"steps\": "
           "%d, \"optimizer\": \"%s\", \"ms_per_step\": %.3f, "
           "\"examples_per_s\": %.1f, \"approx_gflops\": %.1f, "
           "\"openblas_core\": \"%s\", \"blas_threads\": %d, "
           "\"rove_kernels\": \"%s\"}\n",
           label, model ? 1.0 : width, batch, steps, opt, ms, eps, gflop,
           openblas_get_corename(), openblas_get_num_threads(),
           rove_cpu_level_name(rove_cpu_level()));
  else
    printf("rove train step (%s), %s x%g, batch %d: %.2f ms/step, %.0f "
           "examples/s, ~%.1f GFLOP/s (openblas core %s, %d thread(s); rove "
           "kernels %s)\n",
           opt, label, model ? 1.0 : width, batch, ms, eps, gflop,
           openblas_get_corename(), openblas_get_num_threads(),
           rove_cpu_level_name(rove_cpu_level()));
out:
  free(x);
  free(y);
  rove_model_deinit(&m);
  ROVE_TRY(rc);
  return 0;
}

/* Appends "key = value" to the INI text the flags become. */
static int add_kv(char **text, size_t *len, const char *k, const char *v) {
  if (strchr(v, '\n') || strchr(v, ';') || strchr(v, '#'))
    return -1;
  size_t need = *len + strlen(k) + strlen(v) + 8;
  char *q = realloc(*text, need);
  if (!q)
    return -1;
  *text = q;
  *len += (size_t)sprintf(q + *len, "%s = %s\n", k, v);
  return 0;
}

int rove_cmd_train(int argc, char **argv) {
  enum {
    O_OUT = 1000,
    O_ONLY,
    O_FORCE,
    O_QUIET,
    O_NAME,
    O_BENCH,
    O_STEPS,
    O_JSON,
    O_MODEL,
    O_KEY
  };
  struct option opts[ROVE_ZOO_N_MODEL_KEYS + 16];
  int no = 0;
  char flagname[ROVE_ZOO_N_MODEL_KEYS][24];
  opts[no++] = (struct option){"out", required_argument, NULL, O_OUT};
  opts[no++] = (struct option){"only", required_argument, NULL, O_ONLY};
  opts[no++] = (struct option){"force", no_argument, NULL, O_FORCE};
  opts[no++] = (struct option){"quiet", no_argument, NULL, O_QUIET};
  opts[no++] = (struct option){"name", required_argument, NULL, O_NAME};
  opts[no++] = (struct option){"bench", no_argument, NULL, O_BENCH};
  opts[no++] = (struct option){"steps", required_argument, NULL, O_STEPS};
  opts[no++] = (struct option){"json", no_argument, NULL, O_JSON};
  opts[no++] = (struct option){"model", required_argument, NULL, O_MODEL};
  opts[no++] = (struct option){"help", no_argument, NULL, 'h'};
  for (int i = 0; rove_zoo_model_keys[i]; i++) {
    snprintf(flagname[i], sizeof flagname[i], "%s", rove_zoo_model_keys[i]);
    for (char *p = flagname[i]; *p; p++)
      if (*p == '_')
        *p = '-';
    opts[no++] =
        (struct option){flagname[i], required_argument, NULL, O_KEY + i};
  }
  opts[no] = (struct option){NULL, 0, NULL, 0};
  const char *out = NULL, *only = NULL, *name = NULL, *bench_model = NULL;
  int bench_adam = 0;
  int force = 0, quiet = 0, bench = 0, json = 0, steps = 20;
  int bench_batch = 128;
  double bench_width = 1;
  char *kv = NULL;
  size_t kvlen = 0;
  int c, rc = ROVE_EXIT_OK;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c >= O_KEY) {
      const char *key = rove_zoo_model_keys[c - O_KEY];
      if (!strcmp(key, "batch"))
        rove_parse_int(optarg, 1, 1 << 16, &bench_batch);
      if (!strcmp(key, "width"))
        bench_width = atof(optarg);
      if (!strcmp(key, "optimizer"))
        bench_adam = !strcmp(optarg, "adam");
      if (add_kv(&kv, &kvlen, key, optarg) < 0) {
        fprintf(stderr, "rove train: --%s '%s': bad value\n",
                flagname[c - O_KEY], optarg);
        free(kv);
        return ROVE_EXIT_USAGE;
      }
      continue;
    }
    switch (c) {
    case O_OUT: out = optarg; break;
    case O_ONLY: only = optarg; break;
    case O_FORCE: force = 1; break;
    case O_QUIET: quiet = 1; break;
    case O_NAME: name = optarg; break;
    case O_BENCH: bench = 1; break;
    case O_JSON: json = 1; break;
    case O_MODEL: bench_model = optarg; break;
    case O_STEPS:
      if (rove_parse_int(optarg, 1, 1000000, &steps) < 0) {
        fprintf(stderr,
                "rove train: --steps '%s': expected a positive "
                "integer\n",
                optarg);
        free(kv);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'h':
      usage(stdout);
      free(kv);
      return ROVE_EXIT_OK;
    default:
      usage(stderr);
      free(kv);
      return ROVE_EXIT_USAGE;
    }
  }
  int nargs = argc - optind;
  if (bench) {
    free(kv);
    if (!(bench_width > 0)) {
      fprintf(stderr, "rove train: --width must be > 0\n");
      return ROVE_EXIT_USAGE;
    }
    if (run_bench(bench_model, bench_batch, bench_width, steps, bench_adam,
                  json) < 0) {
      rove_error_print(stderr);
      return ROVE_EXIT_FAIL;
    }
    return ROVE_EXIT_OK;
  }
  if ((name != NULL) == (nargs == 1) || nargs > 1 || (kv && !name)) {
    fprintf(stderr, "rove train: give either one ZOO_FILE or --name NAME "
                    "with model flags\n\n");
    usage(stderr);
    free(kv);
    return ROVE_EXIT_USAGE;
  }
  rove_zoo z;
  int err;
  if (name) {
    size_t need = strlen(name) + kvlen + 32;
    char *text = malloc(need);
    if (!text) {
      free(kv);
      return ROVE_EXIT_FAIL;
    }
    snprintf(text, need, "[model %s]\n%s", name, kv ? kv : "");
    err = rove_zoo_load_string(&z, text, "command line");
    free(text);
  } else {
    err = rove_zoo_load(&z, argv[optind]);
  }
  free(kv);
  if (err < 0) {
    rove_error_print(stderr);
    return ROVE_EXIT_USAGE;
  }
  if (run_zoo(&z, out, only, force, quiet) < 0) {
    rove_error_print(stderr);
    rc = ROVE_EXIT_FAIL;
  }
  rove_zoo_deinit(&z);
  return rc;
}
