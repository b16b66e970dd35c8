/* cmd_bench.c - `rove bench`: model throughput against the sgemm peak. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "common/arch.h"
#include "common/err.h"
#include "common/kernels/cpu.h"
#include "common/kernels/gemm.h"
#include "common/layer.h"
#include "common/model.h"
#include "common/profile.h"
#include "common/rng.h"
#include "common/util.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(
      f, "usage: rove bench [--model MODEL] [--batch B] [--min-time S] "
         "[--layers] [--json]\n\n"
         "Throughput of the built-in SmallCNN (random weights) and, if given,\n"
         "MODEL: forward passes and PGD steps (forward, cross-entropy "
         "gradient,\n"
         "backward to the input, sign step) in examples/s at batch 1 and B,\n"
         "the GFLOP/s they achieve (2 FLOPs per MAC; a step counts the "
         "forward\n"
         "and the backward-to-input GEMMs, 4 FLOPs per MAC, counted as a\n"
         "direct convolution's even where Winograd does fewer), the OpenBLAS\n"
         "sgemm and rove's own packed GEMM GFLOP/s measured in the same run\n"
         "for comparison (%%sgemm, %%rgemm), the\n"
         "level of rove's kernels that ran (avx512, avx2 or portable;\n"
         "ROVE_SIMD=avx2|portable caps it) and the process's peak\n"
         "resident memory (what one rank needs at batch B).\n\n"
         "  --model MODEL  also benchmark this model (.rove or ONNX)\n"
         "  --batch B      the large batch (default 100)\n"
         "  --min-time S   seconds each figure is timed for (default 1.0)\n"
         "  --layers       also each node's forward and backward-to-input "
         "time at\n"
         "                 batch B, timed alone: where a step's time goes\n"
         "  --json         print one JSON object\n"
         "  -h, --help     this text\n");
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs fn until at least min_time seconds have passed (after a warm-up of
 * a tenth of that, which also faults in every page the arena and BLAS
 * touch) and returns the mean seconds per call. */
static double time_it(void (*fn)(void *), void *ctx, double min_time) {
  double t0 = now();
  do
    fn(ctx);
  while (now() - t0 < 0.1 * min_time);
  long reps = 0;
  t0 = now();
  double t;
  do {
    fn(ctx);
    reps++;
    t = now() - t0;
  } while (t < min_time);
  return t / (double)reps;
}

typedef struct gemm_ctx {
  int n;
  float *a, *b, *c;
} gemm_ctx;

static void gemm_run(void *p) {
  gemm_ctx *g = p;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f,
              g->a, g->n, g->b, g->n, 0.0f, g->c, g->n);
}

/* rove's own packed GEMM (common/kernels/gemm.h) on a convolution-like
 * shape, operands packed once: the machine's limit for rove's kernels. */
typedef struct rgemm_ctx {
  int m, n, k;
  float *ap, *bp, *c;
} rgemm_ctx;

static void rgemm_run(void *p) {
  rgemm_ctx *g = p;
  rove_gemm_packed(g->m, g->n, g->k, g->ap, g->bp, g->c, g->n);
}

typedef struct model_ctx {
  rove_exec e;
  int B, K;
  long D;
  float *x, *xadv, *dz, *dx;
  int32_t *y;
} model_ctx;

static void fwd_run(void *p) {
  model_ctx *c = p;
  rove_exec_forward(&c->e, c->B, c->x);
}

/* One L-inf PGD step, the unit of work of an attack: forward, the
 * cross-entropy gradient softmax(z) - e_y, backward to the input, and
 * x' = clip(x' + alpha * sign(dx), 0, 1) (the projection onto the ball is
 * left out: it costs the same elementwise pass as the clip). */
static void step_run(void *p) {
  model_ctx *c = p;
  rove_exec_forward(&c->e, c->B, c->xadv);
  const float *z = rove_exec_logits(&c->e);
  for (int b = 0; b < c->B; b++) {
    const float *zb = z + (size_t)b * c->K;
    float *g = c->dz + (size_t)b * c->K, mx = zb[0];
    double s = 0;
    for (int j = 1; j < c->K; j++)
      mx = zb[j] > mx ? zb[j] : mx;
    for (int j = 0; j < c->K; j++)
      s += exp((double)(zb[j] - mx));
    for (int j = 0; j < c->K; j++)
      g[j] = (float)(exp((double)(zb[j] - mx)) / s) - (j == c->y[b]);
  }
  rove_exec_backward(&c->e, c->B, c->xadv, c->dz, c->dx, NULL);
  long n = c->D * c->B;
  for (long i = 0; i < n; i++) {
    float v = c->xadv[i] + (c->dx[i] > 0   ? 0.01f
                            : c->dx[i] < 0 ? -0.01f
                                           : 0.0f);
    c->xadv[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

typedef struct figure {
  const char *model;
  int batch;
  double macs, fwd_eps, fwd_gflops, step_eps, step_gflops;
} figure;

static int bench_model(const rove_model *m, const char *label, int B,
                       double min_time, figure *f) {
  model_ctx c;
  memset(&c, 0, sizeof c);
  c.B = B;
  c.K = m->n_classes;
  c.D = rove_shape_numel(&m->in);
  ROVE_TRY(rove_exec_init(&c.e, m, B));
  int rc = rove_exec_freeze_params(&c.e, NULL);
  if (rc < 0) {
    rove_exec_deinit(&c.e);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  c.x = malloc(sizeof(float) * (size_t)(c.D * B));
  c.xadv = malloc(sizeof(float) * (size_t)(c.D * B));
  c.dx = malloc(sizeof(float) * (size_t)(c.D * B));
  c.dz = malloc(sizeof(float) * (size_t)c.K * (size_t)B);
  c.y = malloc(sizeof(int32_t) * (size_t)B);
  if (!c.x || !c.xadv || !c.dx || !c.dz || !c.y) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory benchmarking %s", label);
    goto out;
  }
  uint64_t id[2] = {0x62656e6368ull, (uint64_t)B};
  rove_rng r;
  rove_rng_init(&r, id, 2);
  for (long i = 0; i < c.D * B; i++)
    c.x[i] = c.xadv[i] = rove_rng_uniform(&r);
  for (int b = 0; b < B; b++)
    c.y[b] = (int32_t)rove_rng_below(&r, (uint32_t)c.K);
  double macs = rove_model_macs(m);
  double tf = time_it(fwd_run, &c, min_time);
  double ts = time_it(step_run, &c, min_time);
  f->model = label;
  f->batch = B;
  f->macs = macs;
  f->fwd_eps = B / tf;
  f->fwd_gflops = 2.0 * macs * B / tf * 1e-9;
  f->step_eps = B / ts;
  f->step_gflops = 4.0 * macs * B / ts * 1e-9;
out:
  free(c.x);
  free(c.xadv);
  free(c.dx);
  free(c.dz);
  free(c.y);
  rove_exec_deinit(&c.e);
  return rc;
}

/* Per-node times of m at batch B (rove_exec_profile), printed as a table
 * or, with json, as the value of a "layers" member. */
static int print_layers(const rove_model *m, const char *label, int B,
                        double min_time, int json) {
  rove_exec e;
  ROVE_TRY(rove_exec_init(&e, m, B));
  int rc = rove_exec_freeze_params(&e, NULL);
  if (rc < 0) {
    rove_exec_deinit(&e);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  size_t nx = (size_t)B * (size_t)rove_shape_numel(&m->in);
  float *x = malloc(sizeof(float) * (nx ? nx : 1));
  rove_node_time *t = calloc((size_t)m->n_nodes, sizeof *t);
  if (!x || !t) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory profiling %s", label);
    goto out;
  }
  uint64_t id[2] = {0x6c6179657273ull, (uint64_t)B};
  rove_rng r;
  rove_rng_init(&r, id, 2);
  for (size_t i = 0; i < nx; i++)
    x[i] = rove_rng_uniform(&r);
  if ((rc = rove_exec_profile(&e, B, x, min_time, t)) < 0)
    goto out;
  double tf = 0, tb = 0;
  for (int i = 0; i <= m->output; i++) {
    tf += t[i].fwd_s;
    tb += t[i].bwd_s;
  }
  if (!json) {
    const char *name = strrchr(label, '/');
    printf("\n%s, per node at batch %d (each timed alone; backward = to the "
           "input)\n",
           name ? name + 1 : label, B);
    printf("%-4s %-16.16s %-9s %-13s %9s %8s %9s %8s %6s\n", "node", "name",
           "op", "output", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s", "share");
  }
  for (int i = 0; i <= m->output; i++) {
    const rove_node *n = &m->nodes[i];
    char shp[48];
    int o = 0;
    for (int k = 0; k < n->out.rank && o < (int)sizeof shp - 12; k++)
      o += snprintf(shp + o, sizeof shp - (size_t)o, k ? "x%d" : "%d",
                    n->out.d[k]);
    double f = t[i].fwd_s, b = t[i].bwd_s;
    double gf = f > 0 ? 2.0 * t[i].macs * B / f * 1e-9 : 0;
    double gb = b > 0 ? 2.0 * t[i].macs * B / b * 1e-9 : 0;
    double share = tf + tb > 0 ? 100.0 * (f + b) / (tf + tb) : 0;
    if (json) {
      printf("%s\n    {\"node\": %d, \"name\": ", i ? "," : "", i);
      rove_json_str(stdout, n->name);
      printf(", \"op\": \"%s\", \"output\": \"%s\", \"macs\": %.0f, "
             "\"fwd_ms\": %.4f, \"bwd_ms\": %.4f}",
             rove_layers[n->op]->name, shp, t[i].macs, f * 1e3, b * 1e3);
    } else {
      printf("%-4d %-16.16s %-9s %-13s %9.3f %8.1f %9.3f %8.1f %5.1f%%\n", i,
             n->name, rove_layers[n->op]->name, shp, f * 1e3, gf, b * 1e3, gb,
             share);
    }
  }
  if (!json)
    printf("%-44s %9.3f %8s %9.3f\n", "sum", tf * 1e3, "", tb * 1e3);
out:
  free(x);
  free(t);
  rove_exec_deinit(&e);
  return rc;
}

static int parse_pos(const char *s, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v > 0) || v > hi)
    return -1;
  *out = v;
  return 0;
}

int rove_cmd_bench(int argc, char **argv) {
  static const struct option opts[] = {
      {"model", required_argument, NULL, 'm'},
      {"batch", required_argument, NULL, 'b'},
      {"min-time", required_argument, NULL, 't'},
      {"json", no_argument, NULL, 'j'},
      {"layers", no_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *model = NULL;
  double bd = 100, min_time = 1.0;
  int json = 0, layers = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'm': model = optarg; break;
    case 'j': json = 1; break;
    case 'l': layers = 1; break;
    case 'b':
      if (parse_pos(optarg, 65536, &bd) < 0 || bd != floor(bd)) {
        fprintf(stderr,
                "rove bench: --batch '%s': expected an integer from 1 to "
                "65536\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 't':
      if (parse_pos(optarg, 3600, &min_time) < 0) {
        fprintf(stderr,
                "rove bench: --min-time '%s': expected seconds in (0, "
                "3600]\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    default: usage(stderr); return ROVE_EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "rove bench: unexpected argument '%s'\n\n", argv[optind]);
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  int B = (int)bd;

  rove_model models[2];
  const char *labels[2] = {"smallcnn", model};
  int nm = 0;
  memset(models, 0, sizeof models);
  if (rove_arch_smallcnn(&models[0], 1.0f, 10, 1) < 0 ||
      (!models[0].finalized && rove_model_finalize(&models[0], -1) < 0)) {
    rove_error_print(stderr);
    rove_model_deinit(&models[0]);
    return ROVE_EXIT_FAIL;
  }
  nm = 1;
  if (model) {
    if (rove_model_load(&models[1], model) < 0) {
      rove_error_print(stderr);
      rove_model_deinit(&models[0]);
      return ROVE_EXIT_FAIL;
    }
    nm = 2;
  }

  gemm_ctx g = {.n = 1024};
  size_t nn = (size_t)g.n * (size_t)g.n;
  g.a = malloc(nn * sizeof(float));
  g.b = malloc(nn * sizeof(float));
  g.c = malloc(nn * sizeof(float));
  int rc = ROVE_EXIT_OK;
  figure figs[4];
  int nf = 0;
  if (!g.a || !g.b || !g.c) {
    fprintf(stderr, "error: out of memory for the sgemm benchmark\n");
    rc = ROVE_EXIT_FAIL;
    goto out;
  }
  for (size_t i = 0; i < nn; i++) {
    g.a[i] = (float)(i % 17) * 0.01f;
    g.b[i] = (float)(i % 13) * 0.01f;
  }
  double tg = time_it(gemm_run, &g, min_time);
  double gemm_gflops = 2.0 * g.n * (double)g.n * g.n / tg * 1e-9;
  /* 516 x 512 x 512 fits in the sgemm buffers (packed layouts are flat). */
  rgemm_ctx rg = {.m = 516, .n = 512, .k = 512, .ap = g.a, .bp = g.b, .c = g.c};
  double trg = time_it(rgemm_run, &rg, min_time);
  double rgemm_gflops = 2.0 * rg.m * (double)rg.n * rg.k / trg * 1e-9;
  for (int i = 0; i < nm; i++) {
    int batches[2] = {1, B};
    for (int k = 0; k < (B == 1 ? 1 : 2); k++) {
      if (bench_model(&models[i], labels[i], batches[k], min_time, &figs[nf]) <
          0) {
        rove_error_print(stderr);
        rc = ROVE_EXIT_FAIL;
        goto out;
      }
      nf++;
    }
  }

  /* The process's peak resident memory: the models, their activations
   * and gradients at batch B, the workspaces (what one rank needs). */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double peak_mib = (double)ru.ru_maxrss / 1024.0;
  if (json) {
    printf("{\"openblas_core\": \"%s\", \"blas_threads\": %d, "
           "\"rove_kernels\": \"%s\", \"peak_rss_mib\": %.1f, "
           "\"sgemm_n\": %d, \"sgemm_gflops\": %.2f, "
           "\"rove_gemm_gflops\": %.2f, \"results\": [",
           openblas_get_corename(), openblas_get_num_threads(),
           rove_cpu_level_name(rove_cpu_level()), peak_mib, g.n, gemm_gflops,
           rgemm_gflops);
    for (int i = 0; i < nf; i++) {
      printf("%s\n  {\"model\": \"", i ? "," : "");
      for (const char *p = figs[i].model; *p; p++)
        printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
      printf("\", \"macs\": %.0f, \"batch\": %d, \"fwd_ex_per_s\": %.1f, "
             "\"fwd_gflops\": %.2f, \"step_ex_per_s\": %.1f, "
             "\"step_gflops\": %.2f}",
             figs[i].macs, figs[i].batch, figs[i].fwd_eps, figs[i].fwd_gflops,
             figs[i].step_eps, figs[i].step_gflops);
    }
    printf("]");
    if (layers) {
      printf(",\n \"layers_batch\": %d, \"layers\": {", B);
      for (int i = 0; i < nm; i++) {
        printf("%s\n  ", i ? "," : "");
        rove_json_str(stdout, labels[i]);
        printf(": [");
        if (print_layers(&models[i], labels[i], B, min_time, 1) < 0) {
          printf("]}}\n");
          rove_error_print(stderr);
          rc = ROVE_EXIT_FAIL;
          goto out;
        }
        printf("]");
      }
      printf("}");
    }
    printf("}\n");
  } else {
    printf("openblas core %s, %d BLAS thread(s); rove kernels %s; peak "
           "RSS %.1f MiB\n",
           openblas_get_corename(), openblas_get_num_threads(),
           rove_cpu_level_name(rove_cpu_level()), peak_mib);
    printf("sgemm %dx%dx%d: %.1f GFLOP/s (OpenBLAS)\n", g.n, g.n, g.n,
           gemm_gflops);
    printf("rove gemm %dx%dx%d: %.1f GFLOP/s (rove_gemm_packed, %s)\n\n", rg.m,
           rg.n, rg.k, rgemm_gflops, rove_cpu_level_name(rove_cpu_level()));
    for (int i = 0; i < nm; i++)
      printf("%s: %.0f MACs per example\n", labels[i],
             rove_model_macs(&models[i]));
    printf("\n%-12s %6s %12s %9s %7s %7s %12s %9s %7s %7s\n", "model", "batch",
           "fwd ex/s", "GFLOP/s", "%sgemm", "%rgemm", "step ex/s", "GFLOP/s",
           "%sgemm", "%rgemm");
    for (int i = 0; i < nf; i++) {
      const char *name = strrchr(figs[i].model, '/');
      name = name ? name + 1 : figs[i].model;
      printf("%-12.12s %6d %12.1f %9.2f %6.1f%% %6.1f%% %12.1f %9.2f %6.1f%% "
             "%6.1f%%\n",
             name, figs[i].batch, figs[i].fwd_eps, figs[i].fwd_gflops,
             100.0 * figs[i].fwd_gflops / gemm_gflops,
             100.0 * figs[i].fwd_gflops / rgemm_gflops, figs[i].step_eps,
             figs[i].step_gflops, 100.0 * figs[i].step_gflops / gemm_gflops,
             100.0 * figs[i].step_gflops / rgemm_gflops);
    }
    printf("\nstep = PGD step: forward, CE gradient, backward to the input, "
           "sign step; GFLOP/s count direct-convolution FLOPs (Winograd does "
           "fewer); %%sgemm and %%rgemm: of the OpenBLAS and the rove GEMM "
           "figures above\n");
    for (int i = 0; layers && i < nm; i++)
      if (print_layers(&models[i], labels[i], B, min_time, 0) < 0) {
        rove_error_print(stderr);
        rc = ROVE_EXIT_FAIL;
        goto out;
      }
  }
out:
  free(g.a);
  free(g.b);
  free(g.c);
  for (int i = 0; i < nm; i++)
    rove_model_deinit(&models[i]);
  return rc;
}
