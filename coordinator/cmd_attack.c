/* cmd_attack.c - `rove attack`: robust accuracy of one model at one or more
 * epsilons under an attack profile (naive, precise, or the ablation). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/data.h"
#include "common/err.h"
#include "common/eval.h"
#include "common/model.h"
#include "common/util.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove attack MODEL --eps E[,E2,...] [options]\n\n"
          "Robust accuracy of a model (.rove or ONNX) against adversarial\n"
          "examples, every one re-verified on the true model. See\n"
          "common/attack/README.md for the profiles and diagnostics.\n\n"
          "  --eps E[,E2,...]   radii in [0, 1] (inputs are in [0, 1])\n"
          "  --profile P        naive | precise (default) | ablation (naive,\n"
          "                     naive + each compensation alone, precise)\n");
  /* The profile's options (common/attack/options.def). */
  int n;
  const rove_profile_option *po = rove_profile_options(&n);
  for (int i = 0; i < n; i++) {
    char flag[64];
    snprintf(flag, sizeof flag, "--%s %s", po[i].name, po[i].metavar);
    fprintf(f, "  %-18s %s\n", flag, po[i].help);
  }
  fprintf(
      f,
      "  --data SPEC        dataset (default fashion-mnist:test)\n"
      "  --n N              first N examples (default 100)\n"
      "  --seed S           seed of every random draw (default 0)\n"
      "  --batch B          examples attacked together (default 64); the\n"
      "                     results do not depend on it\n"
      "  --save-adv FILE    write the adversarial examples (IDX float32,\n"
      "                     [eps, n, ...input]) and FILE.csv describing them\n"
      "                     (an ablation saves its last profile, precise)\n"
      "  --json             print one JSON object\n" ROVE_CLI_NORM_USAGE
      "  -h, --help         this text\n");
}

typedef struct attack_opts {
  const char *model, *data, *save, *profile;
  double eps[64];
  int n_eps;
  int norm_linf, n, batch, json;
  uint64_t seed;
  /* Profile options (options.def order, the order they are applied). */
  const char *set_val[ROVE_MAX_PROFILE_OPTIONS];
  rove_norm input_norm; /* --mean/--std */
} attack_opts;

/* Results of one profile at one eps. */
typedef struct eps_result {
  double eps;
  int robust;
  int by_attack[16];
  int diag[ROVE_DIAG_COUNT];
  rove_unit_stats st;
  double seconds;
} eps_result;

typedef struct run_state {
  const attack_opts *o;
  rove_model m;
  rove_dataset d;
  int n, dim, n_clean;
  int *y;
  int64_t *idx;
  int *clean_ok;
  /* scratch for one profile: per eps the verdicts and points */
  rove_example_result *res; /* n_eps * n */
  float *adv;               /* n_eps * n * dim (only with --save-adv) */
  float *xs;                /* n * dim: the examples still attacked */
  int *ys;
  int64_t *ids;
  int *pos;
  rove_example_result *tmp;
  float *xtmp;
} run_state;

static void progress(const attack_opts *o, const char *prof, double eps,
                     int done, int total) {
  if (o->json || !isatty(2))
    return;
  int w = 30, k = total ? done * w / total : w;
  fprintf(stderr, "\r%-12s eps %-8g [", prof, eps);
  for (int i = 0; i < w; i++)
    fputc(i < k ? '#' : '.', stderr);
  fprintf(stderr, "] %d/%d", done, total);
  if (done == total)
    fprintf(stderr, "\r%*s\r", 70, "");
  fflush(stderr);
}

/* Attacks every clean-correct example at every eps with profile p. */
static int run_profile(run_state *s, const rove_profile *p, const char *name,
                       eps_result *er) {
  const attack_opts *o = s->o;
  size_t dim = (size_t)s->dim;
  int ord[64];
  rove_eps_ascending(o->eps, o->n_eps, ord);
  for (int oi = 0; oi < o->n_eps; oi++) {
    int ei = ord[oi];
    double t0 = rove_now();
    eps_result *r = &er[ei];
    memset(r, 0, sizeof *r);
    r->eps = o->eps[ei];
    rove_example_result *res = s->res + (size_t)ei * s->n;
    /* A point broken at a smaller eps stays broken inside every larger
     * (nested) ball: its verified example carries over. */
    int prev = oi > 0 ? ord[oi - 1] : -1;
    int m = 0;
    for (int i = 0; i < s->n; i++) {
      rove_example_result *ri = &res[i];
      memset(ri, 0, sizeof *ri);
      ri->attack = -1;
      if (!s->clean_ok[i]) {
        ri->broken = 1;
        continue;
      }
      if (prev >= 0 && s->res[(size_t)prev * s->n + i].broken &&
          rove_break_carries(o->eps[prev], o->eps[ei])) {
        *ri = s->res[(size_t)prev * s->n + i];
        if (s->adv)
          memcpy(s->adv + ((size_t)ei * s->n + i) * dim,
                 s->adv + ((size_t)prev * s->n + i) * dim, dim * sizeof(float));
        continue;
      }
      memcpy(s->xs + (size_t)m * dim, rove_dataset_x(&s->d, i),
             dim * sizeof(float));
      s->ys[m] = s->y[i];
      s->ids[m] = s->idx[i];
      s->pos[m++] = i;
    }
    /* Units of 32 examples: a progress tick per unit. Per-example results
     * do not depend on the split (randomness is keyed by example). */
    const int unit_n = 32;
    for (int j0 = 0; j0 < m; j0 += unit_n) {
      progress(o, name, r->eps, j0, m);
      int nb = m - j0 < unit_n ? m - j0 : unit_n;
      rove_unit u;
      memset(&u, 0, sizeof u);
      u.m = &s->m;
      u.p = p;
      u.norm_linf = o->norm_linf;
      u.eps = r->eps;
      u.seed = o->seed;
      u.n = nb;
      u.x = s->xs + (size_t)j0 * dim;
      u.y = s->ys + j0;
      u.idx = s->ids + j0;
      u.bmax = o->batch;
      rove_unit_stats st;
      ROVE_TRY(rove_eval_all(&u, s->tmp, s->adv ? s->xtmp : NULL, &st));
      r->st.grad_evals += st.grad_evals;
      r->st.forward_evals += st.forward_evals;
      for (int j = 0; j < nb; j++) {
        int i = s->pos[j0 + j];
        res[i] = s->tmp[j];
        if (s->adv)
          memcpy(s->adv + ((size_t)ei * s->n + i) * dim,
                 s->xtmp + (size_t)j * dim, dim * sizeof(float));
      }
    }
    progress(o, name, r->eps, m, m);
    for (int i = 0; i < s->n; i++) {
      if (!s->clean_ok[i])
        continue;
      const rove_example_result *ri = &res[i];
      if (!ri->broken)
        r->robust++;
      else if (ri->attack >= 0 && ri->attack < 16)
        r->by_attack[ri->attack]++;
      for (int b = 0; b < ROVE_DIAG_COUNT; b++)
        r->diag[b] += (ri->diag >> b) & 1;
    }
    r->seconds = rove_now() - t0;
  }
  return 0;
}

static void print_human(const run_state *s, const char *desc,
                        const eps_result *er) {
  const attack_opts *o = s->o;
  int na;
  const char *const *names = rove_attack_names(&na);
  printf("\nprofile %s\n", desc);
  printf("%-8s %8s %8s  %-34s %s\n", "eps", "clean", "robust", "broken by",
         "diagnostics (examples)");
  for (int e = 0; e < o->n_eps; e++) {
    const eps_result *r = &er[e];
    char by[256] = "", dg[512] = "";
    size_t l = 0;
    for (int a = 0; a < na && a < 16; a++)
      if (r->by_attack[a])
        l += (size_t)snprintf(by + l, sizeof by - l, "%s%s %d", l ? ", " : "",
                              names[a], r->by_attack[a]);
    if (!l)
      snprintf(by, sizeof by, "-");
    l = 0;
    for (int b = 0; b < ROVE_DIAG_COUNT; b++)
      if (r->diag[b])
        l += (size_t)snprintf(dg + l, sizeof dg - l, "%s%s %d", l ? ", " : "",
                              rove_diag_name(b), r->diag[b]);
    if (!l)
      snprintf(dg, sizeof dg, "none");
    printf("%-8g %7.2f%% %7.2f%%  %-34s %s\n", r->eps,
           100.0 * s->n_clean / s->n, 100.0 * r->robust / s->n, by, dg);
  }
}

static void print_json_results(FILE *f, const run_state *s,
                               const eps_result *er) {
  int na;
  const char *const *names = rove_attack_names(&na);
  fprintf(f, "[");
  for (int e = 0; e < s->o->n_eps; e++) {
    const eps_result *r = &er[e];
    fprintf(f,
            "%s{\"eps\": %.17g, \"robust_acc\": %.17g, \"robust\": %d, "
            "\"broken_by\": {",
            e ? ", " : "", r->eps, (double)r->robust / s->n, r->robust);
    for (int a = 0; a < na && a < 16; a++)
      fprintf(f, "%s\"%s\": %d", a ? ", " : "", names[a], r->by_attack[a]);
    fprintf(f, "}, \"diagnostics\": {");
    for (int b = 0; b < ROVE_DIAG_COUNT; b++)
      fprintf(f, "%s\"%s\": %d", b ? ", " : "", rove_diag_name(b), r->diag[b]);
    fprintf(f,
            "}, \"grad_evals\": %llu, \"forward_evals\": %llu, "
            "\"seconds\": %.3f}",
            (unsigned long long)r->st.grad_evals,
            (unsigned long long)r->st.forward_evals, r->seconds);
  }
  fprintf(f, "]");
}

static void put_be32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  fwrite(b, 1, 4, f);
}

/* IDX float32 (type 0x0D, big-endian) of dims [n_eps, n, input...] and a
 * CSV row per point; both written beside the target and renamed, so a
 * failed run never leaves a truncated file where a good one was. */
static int save_adv(const run_state *s, const char *path) {
  const attack_opts *o = s->o;
  int na;
  const char *const *names = rove_attack_names(&na);
  size_t len = strlen(path) + 48;
  char *tmp = malloc(len), *csv = malloc(len), *tmpc = malloc(len);
  int rc = 0;
  FILE *f = NULL, *c = NULL;
  if (!tmp || !csv || !tmpc) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
  snprintf(csv, len, "%s.csv", path);
  snprintf(tmpc, len, "%s.csv.tmp.%ld", path, (long)getpid());
  f = fopen(tmp, "wb");
  c = f ? fopen(tmpc, "w") : NULL;
  if (!f || !c) {
    rc = ROVE_ERR(ROVE_EIO,
                  "--save-adv '%s': cannot create a file beside it: %s", path,
                  strerror(errno));
    goto out;
  }
  const rove_shape *in = &s->m.in;
  fputc(0, f);
  fputc(0, f);
  fputc(0x0D, f);
  fputc(2 + in->rank, f);
  put_be32(f, (uint32_t)o->n_eps);
  put_be32(f, (uint32_t)s->n);
  for (int i = 0; i < in->rank; i++)
    put_be32(f, (uint32_t)in->d[i]);
  size_t total = (size_t)o->n_eps * s->n * s->dim;
  for (size_t i = 0; i < total; i++) {
    uint32_t v;
    memcpy(&v, &s->adv[i], 4);
    put_be32(f, v);
  }
  fprintf(c,
          "eps_index,eps,example,label,clean_correct,broken,attack,margin\n");
  for (int e = 0; e < o->n_eps; e++)
    for (int i = 0; i < s->n; i++) {
      const rove_example_result *r = &s->res[(size_t)e * s->n + i];
      fprintf(c, "%d,%.17g,%lld,%d,%d,%d,%s,%.17g\n", e, o->eps[e],
              (long long)s->idx[i], s->y[i], s->clean_ok[i], r->broken,
              r->attack >= 0 && r->attack < na ? names[r->attack]
              : s->clean_ok[i]                 ? "-"
                                               : "clean",
              r->margin);
    }
  if (ferror(f) || ferror(c)) {
    rc = ROVE_ERR(ROVE_EIO, "--save-adv '%s': write failed", path);
    goto out;
  }
  int e1 = fclose(f), e2 = fclose(c);
  f = c = NULL;
  if (e1 || e2 || rename(tmp, path) || rename(tmpc, csv)) {
    rc = ROVE_ERR(ROVE_EIO, "--save-adv '%s': cannot write: %s", path,
                  strerror(errno));
    goto out;
  }
out:
  if (f)
    fclose(f);
  if (c)
    fclose(c);
  if (rc < 0 && tmp) {
    unlink(tmp);
    if (tmpc)
      unlink(tmpc);
  }
  free(tmp);
  free(csv);
  free(tmpc);
  return rc;
}

/* Creates the profile `name` with the command line's options. Errors are
 * usage errors (exit 2). */
static int make_profile(const attack_opts *o, const rove_model *m,
                        const char *name, rove_profile **p) {
  ROVE_TRY(rove_profile_create(p, name));
  int n_opt;
  const rove_profile_option *po = rove_profile_options(&n_opt);
  for (int k = 0; k < n_opt; k++) {
    if (!o->set_val[k])
      continue;
    int rc = rove_profile_set(*p, po[k].name, o->set_val[k]);
    if (rc < 0) {
      rove_profile_destroy(p);
      return rove_error_trace(rc, __FILE__, __LINE__, __func__);
    }
  }
  int rc = rove_profile_check(*p, m, o->norm_linf);
  if (rc < 0) {
    rove_profile_destroy(p);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

static int run(const attack_opts *o, int *usage_err) {
  run_state s;
  memset(&s, 0, sizeof s);
  s.o = o;
  int rc;
  const char *single[2] = {o->profile, NULL};
  const char *const *presets =
      strcmp(o->profile, "ablation") ? single : rove_ablation_presets;
  int n_prof = 0;
  while (presets[n_prof])
    n_prof++;
  rove_profile *profs[8] = {NULL};
  eps_result *er = NULL;
  ROVE_TRY(rove_model_load_norm(&s.m, o->model, &o->input_norm));
  rc = rove_dataset_load(&s.d, o->data);
  if (rc < 0)
    goto out;
  rc = rove_dataset_check_model(&s.d, &s.m, o->model);
  if (rc < 0)
    goto out;
  for (int k = 0; k < n_prof && k < 8; k++) {
    rc = make_profile(o, &s.m, presets[k], &profs[k]);
    if (rc < 0) {
      *usage_err = 1;
      goto out;
    }
  }
  s.n = o->n > 0 ? o->n : s.d.n;
  if (s.n > s.d.n) {
    rc =
        ROVE_ERR(ROVE_ERANGE, "--n %d, but dataset '%s' holds only %d examples",
                 o->n, s.d.spec, s.d.n);
    *usage_err = 1;
    goto out;
  }
  s.dim = (int)rove_shape_numel(&s.m.in);
  size_t n = (size_t)s.n, dim = (size_t)s.dim;
  s.y = calloc(n, sizeof(int));
  s.idx = calloc(n, sizeof(int64_t));
  s.clean_ok = calloc(n, sizeof(int));
  s.res = calloc(n * (size_t)o->n_eps, sizeof *s.res);
  s.xs = malloc(n * dim * sizeof(float));
  s.ys = calloc(n, sizeof(int));
  s.ids = calloc(n, sizeof(int64_t));
  s.pos = calloc(n, sizeof(int));
  s.tmp = calloc(n, sizeof *s.tmp);
  er = calloc((size_t)n_prof * (size_t)o->n_eps, sizeof *er);
  if (o->save) {
    s.adv = malloc(n * dim * (size_t)o->n_eps * sizeof(float));
    s.xtmp = malloc(n * dim * sizeof(float));
  }
  if (!s.y || !s.idx || !s.clean_ok || !s.res || !s.xs || !s.ys || !s.ids ||
      !s.pos || !s.tmp || !er || (o->save && (!s.adv || !s.xtmp))) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory for %d examples", s.n);
    goto out;
  }
  /* Clean pass. */
  rove_exec e;
  rc = rove_exec_init(&e, &s.m, 1);
  if (rc < 0)
    goto out;
  for (int i = 0; i < s.n; i++) {
    s.y[i] = s.d.y[i];
    s.idx[i] = s.d.first + i;
    rove_exec_forward(&e, 1, rove_dataset_x(&s.d, i));
    const float *z = rove_exec_logits(&e);
    int b = 0;
    for (int j = 1; j < s.m.n_classes; j++)
      if (z[j] > z[b])
        b = j;
    s.clean_ok[i] = b == s.y[i] && z[b] == z[b];
    s.n_clean += s.clean_ok[i];
  }
  rove_exec_deinit(&e);

  char hash[65];
  rove_model_hash_hex(&s.m, hash);
  if (!o->json) {
    printf("model %s (%s%s), %d classes\n", o->model, hash,
           s.m.softmax_stripped ? ", trailing softmax stripped" : "",
           s.m.n_classes);
    printf("data %s: %d examples, clean accuracy %.2f%%; %s ball; seed %llu\n",
           s.d.spec, s.n, 100.0 * s.n_clean / s.n,
           o->norm_linf ? "L-inf" : "L2", (unsigned long long)o->seed);
  }
  for (int k = 0; k < n_prof; k++) {
    char desc[512];
    rove_profile_describe(profs[k], desc, sizeof desc);
    rc = run_profile(&s, profs[k], presets[k], er + (size_t)k * o->n_eps);
    if (rc < 0)
      goto out;
    if (!o->json) {
      print_human(&s, desc, er + (size_t)k * o->n_eps);
      fflush(stdout);
    }
  }
  if (n_prof > 1 && !o->json) {
    printf("\nablation: robust accuracy (pp above precise)\n%-8s", "eps");
    for (int k = 0; k < n_prof; k++)
      printf(" %14s", presets[k]);
    printf("\n");
    for (int ei = 0; ei < o->n_eps; ei++) {
      printf("%-8g", o->eps[ei]);
      double pr = 100.0 * er[(size_t)(n_prof - 1) * o->n_eps + ei].robust / s.n;
      for (int k = 0; k < n_prof; k++) {
        double v = 100.0 * er[(size_t)k * o->n_eps + ei].robust / s.n;
        char cell[32];
        snprintf(cell, sizeof cell, "%.2f%% (%+.1f)", v, v - pr);
        printf(" %14s", cell);
      }
      printf("\n");
    }
  }
  if (o->json) {
    printf("{\"model\": ");
    rove_json_str(stdout, o->model);
    printf(", \"model_hash\": \"%s\", \"data\": ", hash);
    rove_json_str(stdout, s.d.spec);
    printf(", \"n\": %d, \"clean_acc\": %.17g, \"norm\": \"%s\", "
           "\"seed\": %llu, \"profiles\": [",
           s.n, (double)s.n_clean / s.n, o->norm_linf ? "linf" : "l2",
           (unsigned long long)o->seed);
    for (int k = 0; k < n_prof; k++) {
      char desc[512];
      rove_profile_describe(profs[k], desc, sizeof desc);
      printf("%s{\"profile\": ", k ? ", " : "");
      rove_json_str(stdout, presets[k]);
      printf(", \"describe\": ");
      rove_json_str(stdout, desc);
      printf(", \"results\": ");
      print_json_results(stdout, &s, er + (size_t)k * o->n_eps);
      printf("}");
    }
    /* The headline: the last profile (precise in an ablation). */
    printf("], \"results\": ");
    print_json_results(stdout, &s, er + (size_t)(n_prof - 1) * o->n_eps);
    printf("}\n");
  }
  if (o->save) {
    rc = save_adv(&s, o->save);
    if (rc < 0)
      goto out;
  }
  rc = 0;
out:
  for (int k = 0; k < 8; k++)
    rove_profile_destroy(&profs[k]);
  free(er);
  free(s.y);
  free(s.idx);
  free(s.clean_ok);
  free(s.res);
  free(s.xs);
  free(s.ys);
  free(s.ids);
  free(s.pos);
  free(s.tmp);
  free(s.adv);
  free(s.xtmp);
  if (s.d.x || s.d.y)
    rove_dataset_deinit(&s.d);
  rove_model_deinit(&s.m);
  return rc;
}

int rove_cmd_attack(int argc, char **argv) {
  attack_opts o;
  memset(&o, 0, sizeof o);
  o.data = "fashion-mnist:test";
  o.profile = "precise";
  o.norm_linf = 1;
  o.n = 100;
  o.batch = 64;
  enum {
    O_EPS = 256,
    O_PROFILE,
    O_DATA,
    O_N,
    O_SEED,
    O_SAVE,
    O_JSON,
    O_BATCH,
    O_SET /* + index into set_keys */
  };
  static const struct option fixed[] = {
      {"eps", required_argument, 0, O_EPS},
      {"profile", required_argument, 0, O_PROFILE},
      {"data", required_argument, 0, O_DATA},
      {"n", required_argument, 0, O_N},
      {"seed", required_argument, 0, O_SEED},
      {"save-adv", required_argument, 0, O_SAVE},
      {"json", no_argument, 0, O_JSON},
      {"batch", required_argument, 0, O_BATCH},
      ROVE_CLI_NORM_OPTIONS,
      {"help", no_argument, 0, 'h'}};
  enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
  struct option lo[N_FIXED + ROVE_MAX_PROFILE_OPTIONS + 1];
  int n_opt, i_norm = -1;
  const rove_profile_option *po = rove_profile_options(&n_opt);
  memcpy(lo, fixed, sizeof fixed);
  for (int k = 0; k < n_opt; k++) {
    lo[N_FIXED + k] =
        (struct option){po[k].name, required_argument, 0, O_SET + k};
    if (!strcmp(po[k].name, "norm"))
      i_norm = k;
  }
  lo[N_FIXED + n_opt] = (struct option){0, 0, 0, 0};
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
    int nr = rove_cli_norm_opt("rove attack", c, optarg, &o.input_norm);
    if (nr == 2)
      return ROVE_EXIT_USAGE;
    if (nr)
      continue;
    switch (c) {
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    case O_EPS:
      if (rove_cli_parse_eps("rove attack", optarg, 1.0, o.eps, 64, &o.n_eps) <
          0)
        return ROVE_EXIT_USAGE;
      break;
    case O_PROFILE:
      if (strcmp(optarg, "naive") && strcmp(optarg, "precise") &&
          strcmp(optarg, "ablation")) {
        fprintf(stderr,
                "rove attack: --profile: '%s' (expected naive, precise or "
                "ablation)\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      o.profile = optarg;
      break;
    case O_DATA: o.data = optarg; break;
    case O_N:
      if (rove_parse_int(optarg, 1, 1 << 30, &o.n) < 0) {
        fprintf(stderr, "rove attack: --n: '%s' is not a positive integer\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case O_BATCH:
      if (rove_parse_int(optarg, 1, 4096, &o.batch) < 0) {
        fprintf(stderr, "rove attack: --batch: '%s' (expected 1 to 4096)\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case O_SEED: {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (!*optarg || *end || errno || optarg[0] == '-') {
        fprintf(stderr,
                "rove attack: --seed: '%s' is not a non-negative integer\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      o.seed = v;
      break;
    }
    case O_SAVE: o.save = optarg; break;
    case O_JSON: o.json = 1; break;
    case ':':
      fprintf(stderr, "rove attack: %s needs a value\n", argv[optind - 1]);
      return ROVE_EXIT_USAGE;
    case '?':
      fprintf(stderr, "rove attack: unknown option '%s'\n\n", argv[optind - 1]);
      usage(stderr);
      return ROVE_EXIT_USAGE;
    default:
      if (c >= O_SET && c < O_SET + n_opt) {
        /* --norm is also the ball the verdicts are checked in. */
        if (c - O_SET == i_norm) {
          if (strcmp(optarg, "linf") && strcmp(optarg, "l2")) {
            fprintf(stderr, "rove attack: --norm: '%s' (expected linf or l2)\n",
                    optarg);
            return ROVE_EXIT_USAGE;
          }
          o.norm_linf = !strcmp(optarg, "linf");
        }
        o.set_val[c - O_SET] = optarg;
      }
      break;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, optind >= argc
                        ? "rove attack: no MODEL given\n\n"
                        : "rove attack: exactly one MODEL expected\n\n");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  if (o.n_eps == 0) {
    fprintf(stderr, "rove attack: --eps is required\n\n");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  o.model = argv[optind];
  int usage_err = 0;
  int rc = run(&o, &usage_err);
  if (rc < 0) {
    fprintf(stderr, "rove attack: ");
    rove_error_print(stderr);
    return usage_err ? ROVE_EXIT_USAGE : ROVE_EXIT_FAIL;
  }
  return ROVE_EXIT_OK;
}
