/* test_report.c - `rove report` on the committed results fixture: the HTML
 * is well formed and escaped, every model and eps appears, the numbers are
 * the CSV's strings; Pareto fronts in closed form; CSV/JSON errors name the
 * file and line; missing energy is "pending"; run.json round trip. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/arch.h"
#include "common/err.h"
#include "coordinator/report.h"

#define FIXTURE "tests/fixtures/results"

/* ---- helpers --------------------------------------------------------------
 */

static char *render(const char *dir, const rove_report_opts *o) {
  rove_report r;
  int rc = rove_report_load(&r, dir, o);
  cr_assert_eq(rc, 0, "load %s: %s", dir, rove_error_message());
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert(f);
  cr_assert_eq(rove_report_html(&r, o, f), 0);
  fclose(f);
  rove_report_deinit(&r);
  return buf;
}

static void mkdtemp_dir(char *dir, size_t cap) {
  snprintf(dir, cap, "/tmp/rove-report-test-XXXXXX");
  cr_assert(mkdtemp(dir));
}

static void write_file(const char *dir, const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  cr_assert(f);
  fputs(text, f);
  fclose(f);
}

static void rm_dir(const char *dir) {
  const char *names[] = {"summary.csv", "run.json",     "job.ini",
                         "report.html", "summary.json", "per_example.csv"};
  char p[512];
  for (int i = 0; i < 6; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

/* A tag-balance checker for the report's HTML: every opened element is
 * closed, in order, except void elements and self-closed SVG tags; script
 * and style bodies are raw text; outside them every '&' starts an entity
 * and every '<' a tag, in text and in attribute values alike (so data can
 * neither open a tag nor an unknown entity). Returns NULL when well formed,
 * else a static description of the first problem. */
static const char *check_html(const char *s) {
  static char why[512];
  static const char *const voids[] = {"meta",  "br",   "img", "hr",
                                      "input", "link", NULL};
  char stack[256][32];
  int depth = 0;
  const char *p = s;
  while (*p) {
    if (*p == '&') {
      const char *q = p + 1;
      if (*q == '#') {
        q++;
        if (!(*q >= '0' && *q <= '9'))
          goto bad_entity;
        while (*q >= '0' && *q <= '9')
          q++;
      } else {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
          goto bad_entity;
        while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))
          q++;
      }
      if (*q != ';')
        goto bad_entity;
      p = q + 1;
      continue;
    bad_entity:
      snprintf(why, sizeof why, "bare '&' at offset %ld: %.30s", (long)(p - s),
               p);
      return why;
    }
    if (*p != '<') {
      if (*p == '>') {
        snprintf(why, sizeof why, "stray '>' at offset %ld", (long)(p - s));
        return why;
      }
      p++;
      continue;
    }
    if (!strncmp(p, "<!--", 4)) {
      const char *e = strstr(p, "-->");
      if (!e)
        return "unterminated comment";
      p = e + 3;
      continue;
    }
    if (!strncmp(p, "<!DOCTYPE", 9)) {
      p = strchr(p, '>');
      if (!p)
        return "unterminated doctype";
      p++;
      continue;
    }
    int closing = p[1] == '/';
    const char *n = p + 1 + closing;
    char name[32];
    int k = 0;
    while ((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
           (*n >= '0' && *n <= '9')) {
      if (k < 31)
        name[k++] = *n;
      n++;
    }
    name[k] = '\0';
    if (!k) {
      snprintf(why, sizeof why, "'<' not starting a tag at offset %ld: %.30s",
               (long)(p - s), p);
      return why;
    }
    /* Attributes: quoted values may hold '>' only escaped. */
    const char *q = n;
    while (*q && *q != '>') {
      if (*q == '"') {
        q++;
        while (*q && *q != '"') {
          if (*q == '<' || *q == '>') {
            snprintf(why, sizeof why, "raw '%c' in an attribute of <%s>", *q,
                     name);
            return why;
          }
          if (*q == '&') {
            const char *r = q + 1;
            while ((*r >= 'a' && *r <= 'z') || *r == '#' ||
                   (*r >= '0' && *r <= '9'))
              r++;
            if (*r != ';' || r == q + 1) {
              snprintf(why, sizeof why, "bare '&' in an attribute of <%s>",
                       name);
              return why;
            }
          }
          q++;
        }
        if (!*q)
          return "unterminated attribute value";
      } else if (*q == '<') {
        snprintf(why, sizeof why, "'<' inside tag <%s>", name);
        return why;
      }
      q++;
    }
    if (!*q)
      return "unterminated tag";
    int self = q[-1] == '/';
    p = q + 1;
    if (closing) {
      if (!depth || strcmp(stack[depth - 1], name)) {
        snprintf(why, sizeof why, "</%s> closes <%s> at offset %ld", name,
                 depth ? stack[depth - 1] : "(nothing)", (long)(p - s));
        return why;
      }
      depth--;
      continue;
    }
    int is_void = 0;
    for (int i = 0; voids[i]; i++)
      is_void |= !strcmp(voids[i], name);
    if (is_void || self)
      continue;
    if (!strcmp(name, "script") || !strcmp(name, "style")) {
      char end[48];
      snprintf(end, sizeof end, "</%s>", name);
      const char *e = strstr(p, end);
      if (!e)
        return "unterminated script/style";
      p = e + strlen(end);
      continue;
    }
    if (depth == 256)
      return "nesting too deep";
    snprintf(stack[depth++], 32, "%s", name);
  }
  if (depth) {
    snprintf(why, sizeof why, "<%s> never closed", stack[depth - 1]);
    return why;
  }
  return NULL;
}

/* ---- the fixture ----------------------------------------------------------
 */

/* An independent reading of the fixture: the first seven fields of each
 * line (none of them quoted in this file) split at commas. */
typedef struct frow {
  char model[64], profile[64], eps[32], clean[32], robust[32];
} frow;

static int fixture_rows(frow *rows, int cap) {
  FILE *f = fopen(FIXTURE "/summary.csv", "r");
  cr_assert(f, "cannot open the fixture (run from the repo root)");
  char line[8192];
  int n = 0;
  cr_assert(fgets(line, sizeof line, f));
  cr_assert(!strncmp(line,
                     "model,model_hash,profile,eps,n,clean_acc,"
                     "robust_acc,",
                     48));
  while (fgets(line, sizeof line, f) && n < cap) {
    char *fld[7];
    char *save = NULL, *t = strtok_r(line, ",", &save);
    for (int i = 0; i < 7 && t; i++, t = strtok_r(NULL, ",", &save))
      fld[i] = t;
    snprintf(rows[n].model, 64, "%.63s", fld[0]);
    snprintf(rows[n].profile, 64, "%.63s", fld[2]);
    snprintf(rows[n].eps, 32, "%.31s", fld[3]);
    snprintf(rows[n].clean, 32, "%.31s", fld[5]);
    snprintf(rows[n].robust, 32, "%.31s", fld[6]);
    n++;
  }
  fclose(f);
  return n;
}

Test(report, fixture_html_is_well_formed) {
  char *html = render(FIXTURE, NULL);
  const char *why = check_html(html);
  cr_assert_null(why, "%s", why ? why : "");
  cr_assert(strstr(html, "<!DOCTYPE html>"));
  /* Self-contained: nothing fetched from anywhere. */
  cr_assert_null(strstr(html, "src=\""));
  cr_assert_null(strstr(html, "href=\"http"));
  cr_assert_null(strstr(html, "@import"));
  cr_assert_null(strstr(html, "url("));
  free(html);
}

Test(report, every_model_and_eps_appears) {
  static frow rows[512];
  int n = fixture_rows(rows, 512);
  cr_assert_eq(n, 6 * 5 * 3, "fixture rows: %d", n);
  char *html = render(FIXTURE, NULL);
  for (int i = 0; i < n; i++) {
    char want[1024];
    snprintf(want, sizeof want, "data-model=\"%.63s\"", rows[i].model);
    cr_assert(strstr(html, want), "model %s missing", rows[i].model);
    snprintf(want, sizeof want, "robust acc. &epsilon; = %.31s</th>",
             rows[i].eps);
    cr_assert(strstr(html, want), "eps %s missing", rows[i].eps);
    snprintf(want, sizeof want, "<svg class=\"plot\" viewBox=\"0 0 ");
    cr_assert(strstr(html, want));
  }
  /* Every profile of the ablation is in the legend of plot 1. */
  const char *prof[] = {"naive+scaled", "naive+bpda", "naive+odi", "precise"};
  for (int k = 0; k < 4; k++)
    cr_assert(strstr(html, prof[k]), "%s missing", prof[k]);
  free(html);
}

/* A printed percentage "92.0%" at c equals the CSV fraction within its
 * printed precision (half a unit of the last printed digit). */
static void same_pct(const char *c, const char *csv, const char *what) {
  char *end;
  double p = strtod(c, &end);
  cr_assert(end != c && *end == '%', "%s: '%.12s' is not a percentage", what,
            c);
  double v = strtod(csv, NULL);
  cr_assert(fabs(p / 100 - v) <= 0.0005 + 1e-12, "%s: printed %.1f%%, csv %s",
            what, p, csv);
}

Test(report, table_numbers_are_the_csv_strings) {
  static frow rows[512];
  int n = fixture_rows(rows, 512);
  char *html = render(FIXTURE, NULL);
  int checked = 0;
  for (int i = 0; i < n; i++) {
    char want[1024];
    snprintf(want, sizeof want, "data-k=\"clean\" data-model=\"%.63s\">",
             rows[i].model);
    const char *cc = strstr(html, want);
    cr_assert(cc, "no clean cell for %s", rows[i].model);
    same_pct(cc + strlen(want), rows[i].clean, rows[i].model);
    if (strcmp(rows[i].profile, "naive") && strcmp(rows[i].profile, "precise"))
      continue;
    /* The cell is located by its data attributes; its text is the CSV's
     * number as a percentage. */
    snprintf(want, sizeof want,
             "data-k=\"robust\" data-model=\"%.63s\" data-profile=\"%.63s\" "
             "data-eps=\"%.31s\">",
             rows[i].model, rows[i].profile, rows[i].eps);
    const char *c = strstr(html, want);
    cr_assert(c, "no cell for %s/%s/%s", rows[i].model, rows[i].profile,
              rows[i].eps);
    c += strlen(want);
    char what[256];
    snprintf(what, sizeof what, "%.60s/%.60s/%.30s", rows[i].model,
             rows[i].profile, rows[i].eps);
    same_pct(c, rows[i].robust, what);
    checked++;
  }
  cr_assert_eq(checked, 6 * 2 * 3);
  /* The gap column is naive - precise in points: cnn-sat at 0.05 is
   * 0.800000 - 0.060000. */
  cr_assert(strstr(html, ">74.0</td>"));
  /* No raw CSV fraction is left in the visible text of the tables. */
  cr_assert_null(strstr(html, ">0.740000<"));
  free(html);
}

Test(report, fixture_energy_boards_estimate_and_pending) {
  rove_report r;
  cr_assert_eq(rove_report_load(&r, FIXTURE, NULL), 0, "%s",
               rove_error_message());
  cr_assert_eq(r.n_boards, 2);
  cr_assert_str_eq(r.boards[0], "jetson_nano");
  cr_assert_str_eq(r.boards[1], "x86");
  int w2 = -1;
  for (int m = 0; m < r.n_models; m++)
    if (!strcmp(r.models[m], "cnn-w2"))
      w2 = m;
  cr_assert_geq(w2, 0);
  cr_assert_str_eq(r.energy[(size_t)w2 * 2 + 0].status, "pending");
  cr_assert(isnan(r.energy[(size_t)w2 * 2 + 0].j_num));
  /* The quoted sensor cell with a comma comes through whole. */
  cr_assert_str_eq(r.energy[1].sensor, "horowitz-45nm: macs, bytes");
  cr_assert_str_eq(r.energy[1].scope, "estimate");
  /* Metadata from run.json. */
  cr_assert_str_eq(r.meta[0].params, "94698");
  cr_assert_str_eq(r.meta[0].source, "run.json");
  cr_assert_str_eq(r.job_seed, "1");
  /* eps sorted numerically and the automatic reference eps. */
  cr_assert_eq(r.n_eps, 3);
  cr_assert_str_eq(r.eps[0], "0.01");
  cr_assert_str_eq(r.eps[2], "0.05");
  cr_assert_str_eq(r.eps[r.ref_eps], "0.02");
  rove_report_deinit(&r);
  char *html = render(FIXTURE, NULL);
  cr_assert(strstr(html, "ESTIMATE"));
  cr_assert(strstr(html, "Not plotted: cnn-w2 (pending)"));
  free(html);
}

/* ---- Pareto front: closed forms -------------------------------------------
 */

Test(report, pareto_front_closed_form) {
  /* Hand-made: A (1, .5), B (2, .7), C (2, .6) dominated by B, D (3, .7)
   * dominated by B (same gain, dearer), E (.5, .1) cheapest, F (4, .9)
   * best, G = A duplicated (both stay), H NaN (ignored). */
  double c[] = {1, 2, 2, 3, 0.5, 4, 1, NAN};
  double g[] = {0.5, 0.7, 0.6, 0.7, 0.1, 0.9, 0.5, 0.99};
  int fr[8];
  int want[] = {1, 1, 0, 0, 1, 1, 1, 0};
  cr_assert_eq(rove_pareto_front(c, g, 8, fr), 5);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(fr[i], want[i], "point %d", i);
  /* Gain strictly increasing with cost: every point is on the front;
   * decreasing: only the cheapest. */
  double c2[50], g2[50], g3[50];
  int f2[50];
  for (int i = 0; i < 50; i++) {
    c2[i] = 1.0 + i * i;
    g2[i] = sqrt((double)i);
    g3[i] = -g2[i];
  }
  cr_assert_eq(rove_pareto_front(c2, g2, 50, f2), 50);
  cr_assert_eq(rove_pareto_front(c2, g3, 50, f2), 1);
  cr_assert_eq(f2[0], 1);
}

/* ---- pending energy, escaping, errors ------------------------------------ */

static const char *small_csv =
    "model,profile,eps,n,clean_acc,robust_acc,diag_zero_grad\n"
    "\"net, v2\",naive,0.1,10,0.900000,0.500000,0\n"
    "\"net, v2\",precise,0.1,10,0.900000,0.300000,1\n"
    "\"a<b>&\"\"c\"\"\",naive,0.1,10,0.800000,0.700000,0\n"
    "\"a<b>&\"\"c\"\"\",precise,0.1,10,0.800000,0.200000,0\n";

Test(report, missing_energy_columns_are_pending_and_names_escaped) {
  char dir[64];
  mkdtemp_dir(dir, sizeof dir);
  write_file(dir, "summary.csv", small_csv);
  rove_report r;
  cr_assert_eq(rove_report_load(&r, dir, NULL), 0, "%s", rove_error_message());
  cr_assert_eq(r.n_boards, 0);
  cr_assert_eq(r.n_models, 2);
  cr_assert_str_eq(r.models[0], "net, v2");
  cr_assert_str_eq(r.models[1], "a<b>&\"c\"");
  rove_report_deinit(&r);
  char *html = render(dir, NULL);
  const char *why = check_html(html);
  cr_assert_null(why, "%s", why ? why : "");
  cr_assert(strstr(html, "a&lt;b&gt;&amp;&quot;c&quot;"));
  cr_assert_null(strstr(html, "a<b>"));
  cr_assert(strstr(html, "data-k=\"energy\">pending</td>"));
  cr_assert(strstr(html, "Energy: <b>pending</b>"));
  free(html);
  /* rove_report_write puts report.html in the directory. */
  char out[512];
  cr_assert_eq(rove_report_write(dir, NULL, out, sizeof out), 0);
  cr_assert_eq(access(out, R_OK), 0);
  rm_dir(dir);
}

static void expect_error(const char *csv, const char *want1,
                         const char *want2) {
  char dir[64];
  mkdtemp_dir(dir, sizeof dir);
  write_file(dir, "summary.csv", csv);
  rove_report r;
  int rc = rove_report_load(&r, dir, NULL);
  cr_assert_lt(rc, 0, "accepted a bad file");
  const char *msg = rove_error_message();
  cr_assert(strstr(msg, want1), "message '%s' lacks '%s'", msg, want1);
  cr_assert(strstr(msg, want2), "message '%s' lacks '%s'", msg, want2);
  /* A failed report never leaves a half-written page behind. */
  char out[512];
  cr_assert_lt(rove_report_write(dir, NULL, out, sizeof out), 0);
  char p[256];
  snprintf(p, sizeof p, "%s/report.html", dir);
  cr_assert_neq(access(p, F_OK), 0);
  rm_dir(dir);
}

Test(report, bad_csv_names_file_line_and_column) {
  expect_error("model,profile,eps,n,clean_acc\nm,naive,0.1,10,0.9\n",
               "summary.csv:1:", "'robust_acc'");
  expect_error("model,profile,eps,n,clean_acc,robust_acc\n"
               "m,naive,0.1,10,0.9,0.5\n"
               "m,precise,0.1,10,0.9\n",
               "summary.csv:3:", "expected 6 fields");
  expect_error("model,profile,eps,n,clean_acc,robust_acc\n"
               "m,naive,0.1,10,0.9,0.5\n\n"
               "m,precise,0.1,10,0.9,1.5\n",
               "summary.csv:4:", "'robust_acc'");
  expect_error("model,profile,eps,n,clean_acc,robust_acc\n"
               "m,naive,zero,10,0.9,0.5\n",
               "summary.csv:2:", "'eps'");
  expect_error("model,profile,eps,n,clean_acc,robust_acc\n"
               "m,naive,0.1,10,0.9,0.5\n"
               "m,naive,0.1,10,0.9,0.4\n",
               "summary.csv:3:", "line 2");
  expect_error("model,profile,eps,n,clean_acc,robust_acc\n"
               "\"m,naive,0.1,10,0.9,0.5\n",
               "summary.csv:2:", "never closed");
  expect_error("", "summary.csv", "empty");
}

Test(report, csv_quoting_rules) {
  rove_csv t;
  const char *s = "a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
                  ",,\n";
  cr_assert_eq(rove_csv_parse(&t, s, strlen(s), "t.csv"), 0, "%s",
               rove_error_message());
  cr_assert_eq(t.n_rows, 2);
  cr_assert_str_eq(rove_csv_get(&t, 0, 0), "x,1");
  cr_assert_str_eq(rove_csv_get(&t, 0, 1), "say \"hi\"");
  cr_assert_str_eq(rove_csv_get(&t, 0, 2), "two\nlines");
  cr_assert_str_eq(rove_csv_get(&t, 1, 2), "");
  cr_assert_eq(t.line[1], 4); /* the quoted newline counts as a line */
  cr_assert_eq(rove_csv_col(&t, "c"), 2);
  cr_assert_eq(rove_csv_col(&t, "d"), -1);
  rove_csv_deinit(&t);
  const char *bad = "a,b\n\"x\"y,1\n";
  cr_assert_lt(rove_csv_parse(&t, bad, strlen(bad), "t.csv"), 0);
  cr_assert(strstr(rove_error_message(), "t.csv:2:"));
  bad = "a,a\n1,2\n";
  cr_assert_lt(rove_csv_parse(&t, bad, strlen(bad), "t.csv"), 0);
  cr_assert(strstr(rove_error_message(), "twice"));
}

Test(report, json_reader) {
  rove_json v;
  const char *s =
      "{\"a\": [1, 2.5e-3, -0], \"b\": {\"c\": \"x\\\"\\u00e9\\ud83d"
      "\\ude00\"}, \"t\": true, \"n\": null}";
  cr_assert_eq(rove_json_parse(&v, s, strlen(s), "t.json"), 0, "%s",
               rove_error_message());
  const rove_json *a = rove_json_get(&v, "a");
  cr_assert_eq(a->type, ROVE_JSON_ARR);
  cr_assert_eq(a->n, 3);
  cr_assert_str_eq(a->items[1].str, "2.5e-3");
  cr_assert_float_eq(a->items[1].num, 2.5e-3, 1e-15);
  cr_assert_str_eq(rove_json_text(rove_json_get(&v, "b"), "c"),
                   "x\"\xc3\xa9\xf0\x9f\x98\x80");
  cr_assert_eq(rove_json_get(&v, "t")->b, 1);
  cr_assert_eq(rove_json_get(&v, "n")->type, ROVE_JSON_NULL);
  rove_json_deinit(&v);
  const char *bad = "{\n\"a\": 1,\n\"b\" 2}";
  cr_assert_lt(rove_json_parse(&v, bad, strlen(bad), "t.json"), 0);
  cr_assert(strstr(rove_error_message(), "t.json:3:"), "%s",
            rove_error_message());
  char deep[300];
  memset(deep, '[', sizeof deep);
  cr_assert_lt(rove_json_parse(&v, deep, sizeof deep, "d.json"), 0);
}

Test(report, run_json_round_trip) {
  rove_model m;
  cr_assert_eq(rove_arch_smallcnn(&m, 0.25f, 10, 3), 0);
  char dir[64];
  mkdtemp_dir(dir, sizeof dir);
  unsigned char jh[32];
  for (int i = 0; i < 32; i++)
    jh[i] = (unsigned char)(i * 7);
  const char *profiles[] = {"naive", "precise"};
  rove_run_model rm[2] = {{"small", "/nonexistent/small.rove", &m},
                          {"gone", "/nonexistent/gone.rove", NULL}};
  rove_run_info ri = {.job_name = "t\"job",
                      .job_path = "jobs/t.job",
                      .job_hash = jh,
                      .seed = 12345678901234ull,
                      .data = "fashion-mnist:test",
                      .n = 77,
                      .ranks = 3,
                      .profiles = profiles,
                      .n_profiles = 2,
                      .models = rm,
                      .n_models = 2};
  cr_assert_eq(rove_run_write(dir, &ri), 0, "%s", rove_error_message());
  char p[256];
  snprintf(p, sizeof p, "%s/run.json", dir);
  rove_json v;
  cr_assert_eq(rove_json_load(&v, p), 0, "%s", rove_error_message());
  cr_assert_str_eq(rove_json_text(&v, "job"), "t\"job");
  cr_assert_str_eq(rove_json_text(&v, "seed"), "12345678901234");
  cr_assert_str_eq(rove_json_text(&v, "ranks"), "3");
  cr_assert_str_eq(rove_json_text(&v, "rove_version"), ROVE_VERSION);
  const char *h = rove_json_text(&v, "job_hash");
  cr_assert(h && strlen(h) == 64 && !strncmp(h, "00070e15", 8));
  const rove_json *ms = rove_json_get(&v, "models");
  cr_assert_eq(ms->n, 2);
  char want[64];
  snprintf(want, sizeof want, "%zu", m.n_params);
  cr_assert_str_eq(rove_json_text(&ms->items[0], "params"), want);
  cr_assert_str_eq(rove_json_text(&ms->items[0], "precision"), "float32");
  char hx[65];
  rove_model_hash_hex(&m, hx);
  cr_assert_str_eq(rove_json_text(&ms->items[0], "hash"), hx);
  cr_assert_null(rove_json_get(&ms->items[1], "params"));
  rove_json_deinit(&v);
  rove_model_deinit(&m);
  rm_dir(dir);
}

Test(report, profiles_found_by_preset_from_job_ini) {
  char dir[64];
  mkdtemp_dir(dir, sizeof dir);
  write_file(dir, "summary.csv",
             "model,profile,eps,n,clean_acc,robust_acc\n"
             "m,base,0.1,10,0.900000,0.600000\n"
             "m,full,0.1,10,0.900000,0.100000\n"
             "m,base,0.05,10,0.900000,0.800000\n"
             "m,full,0.05,10,0.900000,0.700000\n");
  write_file(dir, "job.ini",
             "[job]\nname = j\nseed = 9\n[profile base]\npreset = naive\n"
             "[profile full]\npreset = precise\n");
  rove_report r;
  cr_assert_eq(rove_report_load(&r, dir, NULL), 0, "%s", rove_error_message());
  cr_assert_eq(r.i_naive, 0);
  cr_assert_eq(r.i_precise, 1);
  cr_assert_str_eq(r.job_seed, "9");
  /* eps sorted numerically although the CSV lists 0.1 first. */
  cr_assert_str_eq(r.eps[0], "0.05");
  cr_assert(strstr(r.job_hash, "(of job.ini)"));
  rove_report_deinit(&r);
  char *html = render(dir, NULL);
  cr_assert(strstr(html, "base (naive)"));
  /* The headline gap: 0.600000 - 0.100000. */
  cr_assert(strstr(
      html, ">50.0 points</div>precise finds 50.0 points lower robustness"));
  free(html);
  rm_dir(dir);
}

/* Robust accuracy against restarts, from per_example.csv's breaking
 * restart: 4 examples, one clean-wrong; odi breaks one at restart 0 and
 * one at restart 2, so 2/4 then 2/4 then 1/4 stay robust. */
Test(report, restarts_curve_from_per_example) {
  char dir[64];
  mkdtemp_dir(dir, sizeof dir);
  write_file(dir, "summary.csv",
             "model,profile,eps,n,clean_acc,robust_acc\n"
             "m,naive,0.1,4,0.750000,0.500000\n"
             "m,odi,0.1,4,0.750000,0.250000\n");
  write_file(dir, "per_example.csv",
             "model,profile,eps,index,label,verdict,eps_found,restart,attack,"
             "margin\n"
             "m,naive,0.1,0,1,robust,,,,0.5\n"
             "m,naive,0.1,1,1,robust,,,,0.5\n"
             "m,naive,0.1,2,1,broken,0.1,0,pgd,-1\n"
             "m,naive,0.1,3,1,clean-wrong,,,,-2\n"
             "m,odi,0.1,0,1,broken,0.1,2,pgd,-1\n"
             "m,odi,0.1,1,1,robust,,,,0.5\n"
             "m,odi,0.1,2,1,broken,0.1,0,pgd,-1\n"
             "m,odi,0.1,3,1,clean-wrong,,,,-2\n");
  rove_report r;
  cr_assert_eq(rove_report_load(&r, dir, NULL), 0, "%s", rove_error_message());
  cr_assert_eq(r.rs_max, 3);
  double want[2][3] = {{0.5, 0.5, 0.5}, {0.5, 0.5, 0.25}};
  for (int p = 0; p < 2; p++)
    for (int k = 0; k < 3; k++)
      cr_expect_float_eq(r.rs[p * 3 + k], want[p][k], 1e-12, "profile %d k %d",
                         p, k);
  rove_report_deinit(&r);
  char *html = render(dir, NULL);
  cr_assert(strstr(html, "id=\"restarts\""));
  cr_assert(strstr(html, "odi, 3 restarts: 25.0%"));
  free(html);
  rm_dir(dir);
}
