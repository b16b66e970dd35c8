/* report_html.c - the report page: the header's cards, the sections in
 * order (plots from report_plot.c, tables from report_table.c), run
 * metadata, the style sheet and the hover script; plus the HTML escaping
 * and number formatting every section shares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/report_page.h"

void rove_report_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* ---- formatting shared by the sections ---- */

static int decimals(const char *s) {
  const char *d = strchr(s, '.');
  if (!d)
    return 0;
  int n = 0;
  for (d++; *d >= '0' && *d <= '9'; d++)
    n++;
  return n;
}

/* a - b printed with as many decimals as the more precise input, so a gap
 * between two six-decimal CSV numbers is exact ("0.410000", "-0.020000"). */
void report__diff(const char *a, const char *b, char *out, size_t cap) {
  double x = report__num(a), y = report__num(b);
  if (isnan(x) || isnan(y)) {
    snprintf(out, cap, "-");
    return;
  }
  int d = decimals(a) > decimals(b) ? decimals(a) : decimals(b);
  if (d > 9)
    d = 9;
  double v = x - y;
  if (fabs(v) < 0.5 * pow(10, -d))
    v = 0; /* never print "-0.000000" */
  snprintf(out, cap, "%.*f", d, v);
}

const char *report__color(const char *name, int i) {
  static const struct {
    const char *n, *c;
  } known[] = {{"naive", "#d95f02"},
               {"precise", "#1b7f62"},
               {"naive+scaled", "#c9a100"},
               {"naive+bpda", "#7570b3"},
               {"naive+odi", "#e7298a"}};
  static const char *const other[] = {"#66a61e", "#a6761d", "#555555",
                                      "#1f78b4"};
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
    if (!strcmp(known[k].n, name))
      return known[k].c;
  return other[i % 4];
}

const char *report__pct(const char *frac, char *buf, size_t cap) {
  double v = report__num(frac);
  if (isnan(v))
    return frac;
  snprintf(buf, cap, "%.1f%%", 100 * v);
  return buf;
}

void report__pts(const char *a, const char *b, char *out, size_t cap) {
  double x = report__num(a), y = report__num(b);
  if (isnan(x) || isnan(y)) {
    snprintf(out, cap, "-");
    return;
  }
  double v = 100 * (x - y);
  if (fabs(v) < 0.05)
    v = 0; /* never print "-0.0" */
  snprintf(out, cap, "%.1f", v);
}

const char *report__energy_cell(const char *j, char *buf, size_t cap) {
  double v = report__num(j);
  if (isnan(v))
    return j;
  report__energy_text(v, buf, cap);
  return buf;
}

const char *report__time_cell(const char *sec, char *buf, size_t cap) {
  double v = report__num(sec);
  if (isnan(v))
    return sec;
  double a = fabs(v);
  if (a >= 1 || a == 0)
    snprintf(buf, cap, "%.3g s", v);
  else if (a >= 1e-3)
    snprintf(buf, cap, "%.3g ms", v * 1e3);
  else
    snprintf(buf, cap, "%.3g \xc2\xb5s", v * 1e6);
  return buf;
}

/* Energy as text with an SI prefix and 3 significant digits (J per
 * inference). */
void report__energy_text(double j, char *buf, size_t cap) {
  static const struct {
    double s;
    const char *u;
  } u[] = {{1, "J"}, {1e-3, "mJ"}, {1e-6, "\xc2\xb5J"}, {1e-9, "nJ"}};
  for (int i = 0; i < 4; i++)
    if (fabs(j) >= u[i].s || i == 3) {
      snprintf(buf, cap, "%.3g %s", j / u[i].s, u[i].u);
      return;
    }
}

/* ---- the page ---- */

static void dl_item(FILE *f, const char *k, const char *v) {
  fprintf(f, "<dt>");
  ESC(k);
  fprintf(f, "</dt><dd>");
  ESC(v && v[0] ? v : "not recorded");
  fprintf(f, "</dd>\n");
}

static void run_meta(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"run\"><h2>6. Run</h2>\n<dl class=\"meta\">\n");
  const rove_json *run = &r->run;
  dl_item(f, "job", r->job_name);
  dl_item(f, "job file", rove_json_text(run, "job_file"));
  dl_item(f, "job hash", r->job_hash);
  dl_item(f, "seed", r->job_seed);
  dl_item(f, "data", rove_json_text(run, "data"));
  dl_item(f, "examples", rove_json_text(run, "n"));
  dl_item(f, "rove version", rove_json_text(run, "rove_version"));
  dl_item(f, "machine", rove_json_text(run, "machine"));
  dl_item(f, "CPUs", rove_json_text(run, "cpus"));
  dl_item(f, "MPI ranks", rove_json_text(run, "ranks"));
  dl_item(f, "date (UTC)", rove_json_text(run, "date"));
  dl_item(f, "results", r->dir);
  fprintf(f, "</dl>\n");
  if (!r->have_run)
    fprintf(f, "<p class=\"note\">This sweep wrote no run.json; fields "
               "marked &ldquo;not recorded&rdquo; are unknown.</p>\n");
  fprintf(f, "</section>\n");
}

/* ---- header ------------------------------------------------------------- */

static void header(FILE *f, const rove_report *r, const rove_report_opts *o) {
  fprintf(f, "<header><h1>");
  if (o && o->title)
    ESC(o->title);
  else {
    fprintf(f, "rove report");
    if (r->job_name[0]) {
      fprintf(f, ": ");
      ESC(r->job_name);
    }
  }
  fprintf(f, "</h1>\n<p class=\"sub\">Robustness versus energy &mdash; "
             "adversarial robustness with the three compensations of Lee "
             "&amp; Chandrakasan (SiPS 2021) and inference energy.</p>\n"
             "<div class=\"cards\">\n");
  /* Scope of the sweep. */
  const char *n = report__cell(r, 0, r->c_n);
  fprintf(f,
          "<div class=\"card\"><div class=\"big\">%d</div>models &times; "
          "%d profiles &times; %d &epsilon; (",
          r->n_models, r->n_profiles, r->n_eps);
  for (int e = 0; e < r->n_eps; e++) {
    fprintf(f, "%s", e ? ", " : "");
    ESC(r->eps[e]);
  }
  fprintf(f, "), n = ");
  ESC(n);
  fprintf(f, " examples</div>\n");
  /* The largest overestimation, in words. */
  int bm = -1, be = -1;
  double best = 0;
  for (int m = 0; m < r->n_models && r->i_naive >= 0 && r->i_precise >= 0; m++)
    for (int e = 0; e < r->n_eps; e++) {
      double g = report__robust(r, m, r->i_naive, e) -
                 report__robust(r, m, r->i_precise, e);
      if (g > best) {
        best = g;
        bm = m;
        be = e;
      }
    }
  if (bm >= 0) {
    int ra = report__row(r, bm, r->i_naive, be),
        rb = report__row(r, bm, r->i_precise, be);
    char d[64];
    report__pts(report__cell(r, ra, r->c_robust),
                report__cell(r, rb, r->c_robust), d, sizeof d);
    fprintf(f,
            "<div class=\"card\"><div class=\"big\">%s points</div>precise "
            "finds %s points lower robustness than naive on <b>",
            d, d);
    ESC(r->models[bm]);
    fprintf(f, "</b> at &epsilon; = ");
    ESC(r->eps[be]);
    fprintf(f, " (naive ");
    PCT(report__cell(r, ra, r->c_robust));
    fprintf(f, ", precise ");
    PCT(report__cell(r, rb, r->c_robust));
    fprintf(f, "): the naive attack overestimated it</div>\n");
  } else if (r->i_naive >= 0 && r->i_precise >= 0) {
    fprintf(f, "<div class=\"card\"><div class=\"big\">0 points</div>the "
               "naive attack overestimates no model: precise finds nothing "
               "it missed</div>\n");
  }
  /* The most robust model under the strongest profile. */
  int pp = r->i_precise >= 0 ? r->i_precise : r->n_profiles - 1;
  int top = -1;
  double tv = -1;
  for (int m = 0; m < r->n_models; m++) {
    double v = report__robust(r, m, pp, r->ref_eps);
    if (v > tv) {
      tv = v;
      top = m;
    }
  }
  if (top >= 0) {
    fprintf(f, "<div class=\"card\"><div class=\"big\">");
    PCT(report__cell(r, report__row(r, top, pp, r->ref_eps), r->c_robust));
    fprintf(f, "</div><b>");
    ESC(r->models[top]);
    fprintf(f, "</b> is the most robust model: ");
    PCT(report__cell(r, report__row(r, top, pp, r->ref_eps), r->c_robust));
    fprintf(f, " of the examples withstand the ");
    ESC(r->profiles[pp]);
    fprintf(f, " attack at &epsilon; = ");
    ESC(r->eps[r->ref_eps]);
    fprintf(f, "</div>\n");
  }
  /* Energy status and the two fronts on the first board with data. */
  int board = -1, n_ok = 0, n_est = 0;
  for (int b = 0; b < r->n_boards && board < 0; b++)
    for (int m = 0; m < r->n_models; m++)
      if (!isnan(r->energy[(size_t)m * r->n_boards + b].j_num))
        board = b;
  if (board < 0) {
    fprintf(f, "<div class=\"card\"><div class=\"big\">pending</div>energy: "
               "no measurement yet</div>\n");
  } else {
    int nm = r->n_models;
    double *c = malloc((size_t)nm * sizeof *c);
    int *fr = malloc((size_t)nm * 2 * sizeof *fr);
    if (c && fr) {
      for (int m = 0; m < nm; m++) {
        const rove_report_energy *en =
            &r->energy[(size_t)m * r->n_boards + board];
        c[m] = en->j_num;
        n_ok += !isnan(en->j_num);
        n_est += !isnan(en->j_num) && !strcmp(en->scope, "estimate");
      }
      for (int m = 0; m < nm; m++) {
        fr[m] = rove_report_front(r, board, pp, m);
        fr[nm + m] = rove_report_front(r, board, r->n_profiles, m);
      }
      fprintf(f,
              "<div class=\"card\"><div class=\"big\">%d/%d</div>models "
              "with energy on <b>",
              n_ok, nm);
      ESC(r->boards[board]);
      fprintf(f, "</b>%s. Pareto-optimal for robustness: ",
              n_est ? " (<span class=\"badge\">ESTIMATE</span>)" : "");
      for (int k = 0, first = 1; k < nm; k++)
        if (fr[k]) {
          fprintf(f, "%s<b>", first ? "" : ", ");
          ESC(r->models[k]);
          fprintf(f, "</b>");
          first = 0;
        }
      fprintf(f, "; for clean accuracy: ");
      for (int k = 0, first = 1; k < nm; k++)
        if (fr[nm + k]) {
          fprintf(f, "%s<b>", first ? "" : ", ");
          ESC(r->models[k]);
          fprintf(f, "</b>");
          first = 0;
        }
      fprintf(f, "</div>\n");
    }
    free(c);
    free(fr);
  }
  fprintf(f, "</div>\n");
  /* A sweep that stopped early must not pass for a finished one. */
  if (r->complete == 0) {
    fprintf(f, "<p class=\"warn\">The sweep is <b>incomplete</b>: ");
    ESC(r->units_done);
    fprintf(f, " of ");
    ESC(r->units);
    fprintf(f, " work units done. Resume it and run the report "
               "again.</p>\n");
  }
  if (r->n_failures)
    fprintf(f,
            "<p class=\"warn\">%d work unit(s) failed; see "
            "summary.json.</p>\n",
            r->n_failures);
  fprintf(f, "<nav><a href=\"#robust\">robust accuracy</a> <a "
             "href=\"#gap\">overestimation</a> <a href=\"#energy\">energy</a> "
             "<a href=\"#models\">models</a> <a "
             "href=\"#diag\">diagnostics</a> <a href=\"#run\">run</a></nav>"
             "</header>\n");
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
    "'DejaVu Sans',sans-serif;margin:0;background:#f6f7f9;color:#1d2430;"
    "font-size:14px;line-height:1.45}\n"
    "main{max-width:1240px;margin:0 auto;padding:0 20px 40px}\n"
    "header{background:#1d2b3a;color:#fff;padding:18px 20px 12px}\n"
    "header h1{margin:0 auto;max-width:1240px;font-size:24px}\n"
    "header .sub{margin:4px auto 10px;max-width:1240px;color:#c6d3e1}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;max-width:1240px;"
    "margin:0 auto}\n"
    ".card{background:#fff;color:#1d2430;border-radius:6px;padding:8px 12px;"
    "flex:1 1 220px;font-size:13px}\n"
    ".card .big{font-size:22px;font-weight:700;color:#1b7f62}\n"
    "header .warn{max-width:1240px;margin:10px auto 0}\n"
    "nav{max-width:1240px;margin:10px auto 0}nav a{color:#9fd4ff;"
    "margin-right:14px}\n"
    "section{background:#fff;margin:18px 0;padding:4px 18px 14px;"
    "border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08)}\n"
    "h2{font-size:19px;border-bottom:1px solid #e3e6ea;padding-bottom:4px}\n"
    "h3{font-size:15px}\n"
    ".note{color:#4a5565;max-width:980px}\n"
    ".warn{background:#fff4e0;border-left:4px solid #e69500;padding:6px 10px;"
    "color:#1d2430}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:8px}\n"
    "figure{margin:0}\n"
    ".plot{background:#fff;max-width:100%;height:auto}\n"
    ".plot .frame{fill:#fbfcfd;stroke:#9aa3ad;stroke-width:1}\n"
    ".plot .grid{stroke:#e3e6ea;stroke-width:1}\n"
    ".plot .axis{stroke:#6b7480;stroke-width:1}\n"
    ".plot .tick{font-size:10.5px;fill:#4a5565}\n"
    ".plot .alabel{font-size:11.5px;fill:#1d2430}\n"
    ".plot .ptitle{font-size:12.5px;font-weight:600;fill:#1d2430}\n"
    ".plot .plabel{font-size:10.5px;fill:#1d2430}\n"
    ".plot .big{font-size:20px;fill:#8a94a0}\n"
    ".plot .cleanpt{fill:#444;stroke:#fff;stroke-width:1}\n"
    ".plot .drop{stroke:#9aa3ad;stroke-width:1.2;stroke-dasharray:2 2}\n"
    ".legend{margin:6px 0 10px}.key{margin-right:16px;white-space:nowrap}\n"
    ".key svg{vertical-align:middle;margin-right:4px}\n"
    ".sw{display:inline-block;width:12px;height:12px;margin-right:5px;"
    "vertical-align:-1px;border-radius:2px}\n"
    ".sw.hollow{border:2px solid #444;width:8px;height:8px;"
    "border-radius:50%}\n"
    ".badge{background:#e69500;color:#fff;font-size:11px;font-weight:700;"
    "padding:1px 6px;border-radius:3px;letter-spacing:.03em}\n"
    ".scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;font-size:12.5px}\n"
    "th,td{border:1px solid #dde1e6;padding:4px 7px;vertical-align:top}\n"
    "thead th{background:#eef1f4}\n"
    "td.train{min-width:190px}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td.gap{color:#b03a00;font-weight:600}\n"
    "td.pending{color:#8a6d00;font-style:italic}\n"
    "td.bad{color:#b00020;font-weight:600}\n"
    "td.flag{background:#fff1e6;color:#b03a00}\n"
    ".hash,.ci{color:#7a8592;font-size:11px;font-weight:400}\n"
    ".hash{font-family:ui-monospace,monospace;display:inline-block;"
    "max-width:110px;overflow:hidden;text-overflow:ellipsis}\n"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;"
    "gap:3px 14px}dl.meta dt{color:#4a5565}dl.meta dd{margin:0;"
    "font-family:ui-monospace,monospace;font-size:12.5px;"
    "overflow-wrap:anywhere}\n"
    "footer{color:#7a8592;font-size:12px;max-width:1240px;margin:0 auto;"
    "padding:0 20px 20px}\n"
    ".dim{opacity:.25}\n";

/* The script only adds hover highlighting; the page reads without it. It
 * marks #rove-js so a headless browser test can tell it ran without
 * error. Written without '<' and '&' so it needs no escaping. */
static const char script[] =
    "(function(){\n"
    "var els=document.querySelectorAll('[data-m]');\n"
    "function hl(n){for(var i=0;i!==els.length;i++){var e=els[i];"
    "e.classList.toggle('dim',n!==null?e.getAttribute('data-m')!==n:false);}}\n"
    "for(var i=0;i!==els.length;i++){(function(e){"
    "e.addEventListener('mouseenter',function(){hl(e.getAttribute('data-m'));"
    "});e.addEventListener('mouseleave',function(){hl(null);});})(els[i]);}\n"
    "var m=document.getElementById('rove-js');m.setAttribute('data-ok','1');"
    "m.textContent='hover a model to highlight it everywhere';\n"
    "})();\n";

int rove_report_html(const rove_report *r, const rove_report_opts *o, FILE *f) {
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
             "charset=\"utf-8\">\n<meta name=\"viewport\" "
             "content=\"width=device-width, initial-scale=1\">\n<title>");
  if (o && o->title)
    ESC(o->title);
  else {
    fprintf(f, "rove report");
    if (r->job_name[0]) {
      fprintf(f, " \xe2\x80\x94 ");
      ESC(r->job_name);
    }
  }
  fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
  header(f, r, o);
  fprintf(f, "<main>\n");
  report__plot_robust(f, r);
  report__plot_gaps(f, r);
  report__plot_restarts(f, r);
  report__plot_energy(f, r);
  report__table_models(f, r);
  report__table_diag(f, r);
  run_meta(f, r);
  fprintf(f,
          "</main>\n<footer>Written by <code>rove report</code> %s from "
          "<code>",
          ROVE_VERSION);
  ESC(r->dir);
  fprintf(f,
          "/summary.csv</code>. Self-contained: no network access, no "
          "external fonts or scripts. <span id=\"rove-js\" "
          "data-ok=\"0\">static view</span></footer>\n<script>\n%s"
          "</script>\n</body>\n</html>\n",
          script);
  if (ferror(f))
    return ROVE_ERR(ROVE_EIO, "writing the report failed");
  return 0;
}
