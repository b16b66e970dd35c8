/* report_html.c - the report page: header summary, inline SVG plots
 * (robust accuracy vs eps, overestimation gaps, energy vs accuracy with
 * Pareto fronts), the model and diagnostics tables and run metadata. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/report.h"

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

#define ESC(s) rove_report_escape(f, (s))

/* ---- small helpers ------------------------------------------------------ */

static int rowof(const rove_report *r, int m, int p, int e) {
  if (m < 0 || p < 0 || e < 0)
    return -1;
  return r->row[((size_t)m * r->n_profiles + p) * r->n_eps + e];
}

static const char *cell(const rove_report *r, int row, int col) {
  return rove_csv_get(&r->sum, row, col);
}

static double num(const char *s) {
  char *e;
  double d = strtod(s, &e);
  return (*s && !*e) ? d : NAN;
}

static double robust(const rove_report *r, int m, int p, int e) {
  int row = rowof(r, m, p, e);
  return row < 0 ? NAN : num(cell(r, row, r->c_robust));
}

/* The model's clean accuracy as the CSV writes it: the first row of the
 * model that has it (every row of a model repeats the same clean pass). */
static const char *clean_str(const rove_report *r, int m) {
  for (int p = 0; p < r->n_profiles; p++)
    for (int e = 0; e < r->n_eps; e++) {
      int row = rowof(r, m, p, e);
      if (row >= 0)
        return cell(r, row, r->c_clean);
    }
  return "";
}

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
static void diff_str(const char *a, const char *b, char *out, size_t cap) {
  double x = num(a), y = num(b);
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

static const char *profile_color(const char *name, int i) {
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

/* Energy as text with an SI prefix (J per inference). */
static void fmt_energy(double j, char *buf, size_t cap) {
  static const struct {
    double s;
    const char *u;
  } u[] = {{1, "J"}, {1e-3, "mJ"}, {1e-6, "\xc2\xb5J"}, {1e-9, "nJ"}};
  for (int i = 0; i < 4; i++)
    if (fabs(j) >= u[i].s || i == 3) {
      snprintf(buf, cap, "%g %s", j / u[i].s, u[i].u);
      return;
    }
}

/* ---- plots -------------------------------------------------------------- */

typedef struct plot {
  double w, h;       /* viewBox size */
  double l, r, t, b; /* margins */
  double x0, x1, y0, y1;
  int logx;
} plot;

static double px(const plot *p, double x) {
  double a = p->x0, b = p->x1;
  if (p->logx) {
    x = log10(x);
    a = log10(a);
    b = log10(b);
  }
  return p->l + (x - a) / (b - a) * (p->w - p->l - p->r);
}

static double py(const plot *p, double y) {
  return p->h - p->b - (y - p->y0) / (p->y1 - p->y0) * (p->h - p->t - p->b);
}

static double nice_step(double span, int target) {
  double raw = span / target;
  double mag = pow(10, floor(log10(raw)));
  double fr = raw / mag;
  return (fr < 1.5 ? 1 : fr < 3 ? 2 : fr < 7 ? 5 : 10) * mag;
}

static void svg_open(FILE *f, const plot *p, const char *label) {
  fprintf(f,
          "<svg class=\"plot\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
          "height=\"%.0f\" role=\"img\" aria-label=\"",
          p->w, p->h, p->w, p->h);
  ESC(label);
  fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "class=\"frame\"/>\n",
          p->l, p->t, p->w - p->l - p->r, p->h - p->t - p->b);
}

static void title_text(FILE *f, const plot *p, const char *t) {
  fprintf(f, "<text x=\"%.1f\" y=\"14\" class=\"ptitle\">", p->l);
  ESC(t);
  fprintf(f, "</text>\n");
}

/* Horizontal grid and labelled y ticks. */
static void y_axis(FILE *f, const plot *p, const char *label, double step) {
  for (double y = ceil(p->y0 / step - 1e-9) * step; y <= p->y1 + 1e-9;
       y += step) {
    double v = fabs(y) < step * 1e-6 ? 0 : y;
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
            "class=\"grid\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
            "class=\"tick\" text-anchor=\"end\">%g</text>\n",
            p->l, p->w - p->r, py(p, v), py(p, v), p->l - 5, py(p, v) + 4, v);
  }
  fprintf(f,
          "<text class=\"alabel\" transform=\"translate(%.1f %.1f) "
          "rotate(-90)\" text-anchor=\"middle\">",
          12.0, (p->t + p->h - p->b) / 2);
  ESC(label);
  fprintf(f, "</text>\n");
}

static void x_tick(FILE *f, const plot *p, double x, const char *text) {
  double X = px(p, x), Y = p->h - p->b;
  fprintf(f,
          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
          "class=\"axis\"/>\n<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
          "text-anchor=\"middle\">",
          X, X, Y, Y + 5, X, Y + 17);
  ESC(text);
  fprintf(f, "</text>\n");
}

static void x_label(FILE *f, const plot *p, const char *label) {
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" class=\"alabel\" "
          "text-anchor=\"middle\">",
          (p->l + p->w - p->r) / 2, p->h - 6);
  ESC(label);
  fprintf(f, "</text>\n");
}

/* Greedy label placement: tries right, left, above and below a point and
 * takes the first spot that overlaps no earlier label and stays inside the
 * plot; labels that fit nowhere are dropped (the point keeps its tooltip). */
typedef struct boxes {
  double x[64][4];
  int n;
} boxes;

static int place_label(boxes *bx, const plot *p, double X, double Y,
                       const char *s, double *tx, double *ty, int *anchor) {
  double w = 6.2 * (double)strlen(s), h = 11;
  const double dx[4] = {7, -7, 0, 0}, dy[4] = {4, 4, -8, 16};
  const int an[4] = {0, 2, 1, 1}; /* start, end, middle */
  for (int k = 0; k < 4; k++) {
    double x0 = X + dx[k] - (an[k] == 2 ? w : an[k] == 1 ? w / 2 : 0);
    double y0 = Y + dy[k] - h + 2, x1 = x0 + w, y1 = y0 + h;
    if (x0 < p->l || x1 > p->w - p->r || y0 < p->t || y1 > p->h - p->b)
      continue;
    int clash = 0;
    for (int i = 0; i < bx->n && !clash; i++)
      clash = !(x1 < bx->x[i][0] || x0 > bx->x[i][2] || y1 < bx->x[i][1] ||
                y0 > bx->x[i][3]);
    if (clash)
      continue;
    if (bx->n < 64) {
      bx->x[bx->n][0] = x0;
      bx->x[bx->n][1] = y0;
      bx->x[bx->n][2] = x1;
      bx->x[bx->n][3] = y1;
      bx->n++;
    }
    *tx = X + dx[k];
    *ty = Y + dy[k];
    *anchor = an[k];
    return 1;
  }
  return 0;
}

/* A profile's name, with its preset when the job named it differently. */
static void profile_label(FILE *f, const rove_report *r, int p) {
  ESC(r->profiles[p]);
  if (strcmp(r->profiles[p], r->preset[p])) {
    fprintf(f, " (");
    ESC(r->preset[p]);
    fprintf(f, ")");
  }
}

static void legend_html(FILE *f, const rove_report *r, int only_main) {
  fprintf(f, "<div class=\"legend\">");
  for (int p = 0; p < r->n_profiles; p++) {
    int main_p = p == r->i_naive || p == r->i_precise;
    if (only_main && !main_p)
      continue;
    fprintf(f,
            "<span class=\"key\"><svg width=\"26\" height=\"10\" "
            "aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"25\" y2=\"5\" "
            "stroke=\"%s\" stroke-width=\"%s\"%s/></svg>",
            profile_color(r->preset[p], p), main_p ? "3" : "1.6",
            main_p ? "" : " stroke-dasharray=\"4 3\"");
    profile_label(f, r, p);
    fprintf(f, "</span>");
  }
  fprintf(f, "</div>\n");
}

/* 1. Robust accuracy vs eps: one small panel per model, every profile a
 * line starting at eps = 0 from the clean accuracy (robust accuracy at
 * eps 0 is the clean accuracy by definition). */
static void plot_robust(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"robust\"><h2>1. Robust accuracy vs "
             "&epsilon;</h2>\n<p class=\"note\">Fraction of the examples "
             "classified correctly with no adversarial example found within "
             "the L&infin; ball of radius &epsilon;. The naive profile "
             "(single first-order attack) and the precise profile (all three "
             "compensations) are drawn thick; ablation steps are dashed. The "
             "gap between the orange and the green line is robustness the "
             "naive attack overestimates.</p>\n");
  legend_html(f, r, 0);
  fprintf(f, "<div class=\"grid\">\n");
  double emax = r->eps_num[r->n_eps - 1];
  if (!(emax > 0))
    emax = 1;
  for (int m = 0; m < r->n_models; m++) {
    plot p = {300, 215, 44, 10, 22, 40, 0, emax * 1.04, 0, 1, 0};
    fprintf(f, "<figure class=\"panel\" data-m=\"");
    ESC(r->models[m]);
    fprintf(f, "\">");
    char lab[400];
    snprintf(lab, sizeof lab, "robust accuracy vs eps, model %s", r->models[m]);
    svg_open(f, &p, lab);
    title_text(f, &p, r->models[m]);
    y_axis(f, &p, "robust accuracy", 0.2);
    x_tick(f, &p, 0, "0");
    for (int e = 0; e < r->n_eps; e++)
      x_tick(f, &p, r->eps_num[e], r->eps[e]);
    x_label(f, &p, "\xce\xb5 (L\xe2\x88\x9e)");
    double clean = num(clean_str(r, m));
    /* Ablation steps first so naive and precise are drawn on top. */
    for (int pass = 0; pass < 2; pass++)
      for (int pr = 0; pr < r->n_profiles; pr++) {
        int main_p = pr == r->i_naive || pr == r->i_precise;
        if (main_p != pass)
          continue;
        const char *col = profile_color(r->preset[pr], pr);
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s "
                "points=\"",
                col, main_p ? "2.6" : "1.4",
                main_p ? "" : " stroke-dasharray=\"4 3\"");
        if (!isnan(clean))
          fprintf(f, "%.1f,%.1f ", px(&p, 0), py(&p, clean));
        for (int e = 0; e < r->n_eps; e++) {
          double v = robust(r, m, pr, e);
          if (!isnan(v))
            fprintf(f, "%.1f,%.1f ", px(&p, r->eps_num[e]), py(&p, v));
        }
        fprintf(f, "\"/>\n");
        for (int e = 0; e < r->n_eps; e++) {
          int row = rowof(r, m, pr, e);
          if (row < 0)
            continue;
          double v = num(cell(r, row, r->c_robust));
          fprintf(f,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\">"
                  "<title>",
                  px(&p, r->eps_num[e]), py(&p, v), main_p ? "3.2" : "2.2",
                  col);
          ESC(r->models[m]);
          fprintf(f, " \xc2\xb7 ");
          ESC(r->profiles[pr]);
          fprintf(f, " \xc2\xb7 \xce\xb5=");
          ESC(r->eps[e]);
          fprintf(f, ": robust accuracy ");
          ESC(cell(r, row, r->c_robust));
          fprintf(f, "</title></circle>\n");
        }
      }
    if (!isnan(clean)) {
      fprintf(f,
              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" class=\"cleanpt\">"
              "<title>clean accuracy ",
              px(&p, 0), py(&p, clean));
      ESC(clean_str(r, m));
      fprintf(f, "</title></circle>\n");
    }
    fprintf(f, "</svg></figure>\n");
  }
  fprintf(f, "</div></section>\n");
}

/* 2. Overestimation gaps: robust(naive) - robust(step) per model, one
 * bar per compensation (the ablation steps and precise), one chart per
 * eps. */
static void plot_gaps(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"gap\"><h2>2. Overestimation gap per "
             "case</h2>\n");
  if (r->i_naive < 0 || r->n_profiles < 2) {
    fprintf(f, "<p class=\"warn\">No gap to show: the sweep needs the "
               "<code>naive</code> profile and at least one other (the "
               "ablation steps naive+scaled, naive+bpda, naive+odi, or "
               "precise).</p></section>\n");
    return;
  }
  fprintf(f, "<p class=\"note\">How much robust accuracy the naive attack "
             "overestimates, per case: robust accuracy under "
             "<code>naive</code> minus robust accuracy with one compensation "
             "added (case 1 saturation: <code>naive+scaled</code>; case 2 "
             "non-differentiable layers: <code>naive+bpda</code>; case 3 "
             "initialization: <code>naive+odi</code>), and minus "
             "<code>precise</code> (all of them). Taller bars mean the naive "
             "figure is further from the truth.</p>\n");
  /* The compensations: every profile but naive. */
  int comp[64], nc = 0;
  for (int p = 0; p < r->n_profiles && nc < 64; p++)
    if (p != r->i_naive)
      comp[nc++] = p;
  fprintf(f, "<div class=\"legend\">");
  for (int c = 0; c < nc; c++) {
    fprintf(f,
            "<span class=\"key\"><span class=\"sw\" "
            "style=\"background:%s\"></span>",
            profile_color(r->preset[comp[c]], comp[c]));
    profile_label(f, r, r->i_naive);
    fprintf(f, " &minus; ");
    profile_label(f, r, comp[c]);
    fprintf(f, "</span>");
  }
  fprintf(f, "</div>\n<div class=\"grid\">\n");
  double lo = 0, hi = 0.1;
  for (int m = 0; m < r->n_models; m++)
    for (int e = 0; e < r->n_eps; e++)
      for (int c = 0; c < nc; c++) {
        double g = robust(r, m, r->i_naive, e) - robust(r, m, comp[c], e);
        if (!isnan(g)) {
          lo = g < lo ? g : lo;
          hi = g > hi ? g : hi;
        }
      }
  double step = nice_step(hi - lo, 5);
  lo = floor(lo / step - 1e-9) * step;
  hi = ceil(hi / step - 1e-9) * step;
  for (int e = 0; e < r->n_eps; e++) {
    double gw = 26.0 + 7.0 * nc;
    double w = 60 + gw * r->n_models;
    if (w < 300)
      w = 300;
    plot p = {w, 240, 50, 10, 22, 58, 0, 1, lo, hi, 0};
    char lab[200];
    snprintf(lab, sizeof lab, "overestimation gap at eps %s", r->eps[e]);
    svg_open(f, &p, lab);
    char t[160];
    snprintf(t, sizeof t, "\xce\xb5 = %s", r->eps[e]);
    title_text(f, &p, t);
    y_axis(f, &p, "gap (robust acc.)", step);
    double y0 = py(&p, 0);
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
            "class=\"axis\"/>\n",
            p.l, p.w - p.r, y0, y0);
    double slot = (p.w - p.l - p.r) / r->n_models;
    double bw = (slot - 12) / nc;
    if (bw > 14)
      bw = 14;
    for (int m = 0; m < r->n_models; m++) {
      double cx = p.l + slot * (m + 0.5);
      double x = cx - bw * nc / 2;
      fprintf(f, "<g data-m=\"");
      ESC(r->models[m]);
      fprintf(f, "\">");
      for (int c = 0; c < nc; c++, x += bw) {
        int ra = rowof(r, m, r->i_naive, e), rb = rowof(r, m, comp[c], e);
        if (ra < 0 || rb < 0)
          continue;
        char d[64];
        diff_str(cell(r, ra, r->c_robust), cell(r, rb, r->c_robust), d,
                 sizeof d);
        double g = num(d);
        double ya = py(&p, g > 0 ? g : 0), yb = py(&p, g > 0 ? 0 : g);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"><title>",
                x, ya, bw - 1, yb - ya > 0.6 ? yb - ya : 0.6,
                profile_color(r->preset[comp[c]], comp[c]));
        ESC(r->models[m]);
        fprintf(f, ", \xce\xb5=");
        ESC(r->eps[e]);
        fprintf(f, ": naive ");
        ESC(cell(r, ra, r->c_robust));
        fprintf(f, " \xe2\x88\x92 ");
        ESC(r->profiles[comp[c]]);
        fprintf(f, " ");
        ESC(cell(r, rb, r->c_robust));
        fprintf(f, " = %s</title></rect>\n", d);
      }
      fprintf(f,
              "<text x=\"%.1f\" y=\"%.1f\" class=\"tick\" "
              "text-anchor=\"end\" transform=\"rotate(-30 %.1f %.1f)\">",
              cx + 4, p.h - p.b + 14, cx + 4, p.h - p.b + 14);
      ESC(r->models[m]);
      fprintf(f, "</text></g>\n");
    }
    fprintf(f, "</svg>\n");
  }
  fprintf(f, "</div></section>\n");
}

/* One energy-vs-accuracy scatter with its Pareto front(s). series: 1 or
 * 2 accuracy series (profile index, or -1 for clean accuracy). */
static void scatter(FILE *f, const rove_report *r, int b, const int *series,
                    int ns, const char *title, const char *ylab) {
  int nm = r->n_models;
  double *cost = malloc((size_t)nm * sizeof *cost);
  double *gain = malloc((size_t)nm * ns * sizeof *gain);
  int *front = malloc((size_t)nm * sizeof *front);
  if (!cost || !gain || !front) {
    free(cost);
    free(gain);
    free(front);
    return;
  }
  double cmin = INFINITY, cmax = -INFINITY, gmin = 1, gmax = 0;
  int estimate = 0, n_ok = 0;
  for (int m = 0; m < nm; m++) {
    const rove_report_energy *en = &r->energy[(size_t)m * r->n_boards + b];
    cost[m] = en->j_num;
    if (!isnan(cost[m])) {
      n_ok++;
      estimate |= !strcmp(en->scope, "estimate");
      double lo = num(en->ci_lo), hi = num(en->ci_hi);
      cmin = fmin(cmin, isnan(lo) || lo <= 0 ? cost[m] : lo);
      cmax = fmax(cmax, isnan(hi) ? cost[m] : hi);
    }
    for (int s = 0; s < ns; s++) {
      gain[s * nm + m] = series[s] < 0 ? num(clean_str(r, m))
                                       : robust(r, m, series[s], r->ref_eps);
      if (!isnan(gain[s * nm + m]) && !isnan(cost[m])) {
        gmin = fmin(gmin, gain[s * nm + m]);
        gmax = fmax(gmax, gain[s * nm + m]);
      }
    }
  }
  plot p = {560, 380, 54, 16, 24, 44, 0, 1, 0, 1, 0};
  if (n_ok) {
    p.logx = cmax / cmin > 20;
    if (p.logx) {
      p.x0 = cmin / 1.6;
      p.x1 = cmax * 1.6;
    } else {
      double pad = (cmax - cmin) * 0.12 + cmax * 0.02;
      p.x0 = cmin - pad > 0 ? cmin - pad : 0;
      p.x1 = cmax + pad;
    }
    p.y0 = floor(gmin * 10 - 0.5) / 10;
    p.y1 = ceil(gmax * 10 + 0.5) / 10;
    p.y0 = p.y0 < 0 ? 0 : p.y0;
    p.y1 = p.y1 > 1 ? 1 : p.y1;
    if (p.y1 - p.y0 < 0.2)
      p.y1 = p.y0 + 0.2;
  }
  fprintf(f, "<figure class=\"wide\">");
  svg_open(f, &p, title);
  char t[400];
  snprintf(t, sizeof t, "%s%s", title, estimate ? " (energy: ESTIMATE)" : "");
  title_text(f, &p, t);
  y_axis(f, &p, ylab, p.y1 - p.y0 > 0.5 ? 0.2 : 0.1);
  x_label(f, &p,
          estimate ? "energy per inference (J, estimate)"
                   : "energy per inference (J)");
  if (!n_ok) {
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" class=\"big\" "
            "text-anchor=\"middle\">energy pending</text>\n",
            p.w / 2, p.h / 2);
  } else if (p.logx) {
    for (int k = (int)floor(log10(p.x0)); k <= (int)ceil(log10(p.x1)); k++)
      for (int mult = 1; mult <= 5; mult += (mult == 1 ? 1 : 3)) {
        double x = mult * pow(10, k);
        if (x < p.x0 || x > p.x1)
          continue;
        char s[32];
        fmt_energy(x, s, sizeof s);
        x_tick(f, &p, x, s);
      }
  } else {
    double st = nice_step(p.x1 - p.x0, 5);
    for (double x = ceil(p.x0 / st) * st; x <= p.x1; x += st) {
      char s[32];
      fmt_energy(x, s, sizeof s);
      x_tick(f, &p, x, s);
    }
  }
  boxes bx = {.n = 0};
  for (int s = 0; s < ns && n_ok; s++) {
    const char *col = series[s] < 0
                          ? "#444444"
                          : profile_color(r->preset[series[s]], series[s]);
    double *g = gain + (size_t)s * nm;
    rove_pareto_front(cost, g, nm, front);
    /* The staircase: with a budget between two front points the best
     * attainable accuracy is that of the cheaper one. */
    int order[256], no = 0;
    for (int m = 0; m < nm && no < 256; m++)
      if (front[m])
        order[no++] = m;
    for (int i = 1; i < no; i++)
      for (int j = i; j > 0 && cost[order[j - 1]] > cost[order[j]]; j--) {
        int tmp = order[j];
        order[j] = order[j - 1];
        order[j - 1] = tmp;
      }
    fprintf(f,
            "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
            "stroke-opacity=\"0.75\"%s d=\"",
            col, s == 0 && ns > 1 ? " stroke-dasharray=\"5 3\"" : "");
    for (int i = 0; i < no; i++) {
      double X = px(&p, cost[order[i]]), Y = py(&p, g[order[i]]);
      if (i == 0)
        fprintf(f, "M%.1f,%.1f", X, Y);
      else
        fprintf(f, " H%.1f V%.1f", X, Y);
    }
    if (no)
      fprintf(f, " H%.1f", p.w - p.r);
    fprintf(f, "\"/>\n");
    for (int m = 0; m < nm; m++) {
      if (isnan(cost[m]) || isnan(g[m]))
        continue;
      const rove_report_energy *en = &r->energy[(size_t)m * r->n_boards + b];
      int est = !strcmp(en->scope, "estimate");
      double X = px(&p, cost[m]), Y = py(&p, g[m]);
      fprintf(f, "<g data-m=\"");
      ESC(r->models[m]);
      fprintf(f, "\">");
      double lo = num(en->ci_lo), hi = num(en->ci_hi);
      if (!isnan(lo) && !isnan(hi) && lo > 0 && hi >= lo)
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"1.2\"/>",
                px(&p, lo), px(&p, hi), Y, Y, col);
      fprintf(f,
              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" "
              "stroke=\"%s\" stroke-width=\"1.8\"><title>",
              X, Y, front[m] ? "5.5" : "4", est ? "#ffffff" : col, col);
      ESC(r->models[m]);
      fprintf(f, ": %s ", series[s] < 0 ? "clean accuracy" : "robust acc.");
      ESC(series[s] < 0
              ? clean_str(r, m)
              : cell(r, rowof(r, m, series[s], r->ref_eps), r->c_robust));
      fprintf(f, ", energy ");
      ESC(en->j);
      fprintf(f, " J [");
      ESC(en->ci_lo);
      fprintf(f, ", ");
      ESC(en->ci_hi);
      fprintf(f, "] (");
      ESC(en->scope);
      fprintf(f, ")%s%s</title></circle>", front[m] ? ", Pareto-optimal" : "",
              est ? ", ESTIMATE" : "");
      /* Labels on the last series only (the one drawn on top). */
      double tx, ty;
      int an;
      if (s == ns - 1 &&
          place_label(&bx, &p, X, Y, r->models[m], &tx, &ty, &an)) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" class=\"plabel\" "
                "text-anchor=\"%s\">",
                tx, ty,
                an == 0   ? "start"
                : an == 1 ? "middle"
                          : "end");
        ESC(r->models[m]);
        fprintf(f, "</text>");
      }
      fprintf(f, "</g>\n");
    }
  }
  /* Naive-to-precise arrows show how far each model's robustness falls
   * once the attack is compensated. */
  if (ns == 2 && n_ok)
    for (int m = 0; m < nm; m++) {
      double a = gain[m], c = gain[nm + m];
      if (isnan(cost[m]) || isnan(a) || isnan(c) || fabs(a - c) < 1e-9)
        continue;
      double X = px(&p, cost[m]);
      fprintf(f,
              "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
              "class=\"drop\"/>\n",
              X, X, py(&p, a) + 5, py(&p, c) - 6);
    }
  fprintf(f, "</svg></figure>\n");
  free(cost);
  free(gain);
  free(front);
}

static void plot_energy(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"energy\"><h2>3. Energy per inference vs "
             "accuracy</h2>\n");
  int any = 0;
  for (int b = 0; b < r->n_boards; b++)
    for (int m = 0; m < r->n_models; m++)
      any |= !isnan(r->energy[(size_t)m * r->n_boards + b].j_num);
  if (!any) {
    fprintf(f,
            "<p class=\"warn\">Energy: <b>pending</b>. No board has "
            "reported a measurement for these models yet%s (start a "
            "<code>rove-agent</code> pointed at the sweep's hub, or run "
            "<code>rove hub</code>; then run <code>rove report</code> "
            "again).</p></section>\n",
            r->n_boards ? "" : " (summary.csv has no energy columns)");
    return;
  }
  fprintf(f,
          "<p class=\"note\">Each point is a model; filled markers are "
          "measured, hollow markers are <b>estimates</b>; horizontal bars "
          "are the 95&nbsp;%% confidence interval of the energy. The "
          "staircase is the Pareto front (no other model is both cheaper "
          "and more accurate); big markers lie on it. Left: robust accuracy "
          "at &epsilon; = %s, naive (dashed front) and precise (solid "
          "front), with grey lines from each model's naive to its precise "
          "figure. Right: clean accuracy. The two fronts pick different "
          "models: the accuracy&ndash;energy trade-off is not the "
          "robustness&ndash;energy one.</p>\n",
          r->eps[r->ref_eps]);
  for (int b = 0; b < r->n_boards; b++) {
    int est = 0, meas = 0;
    for (int m = 0; m < r->n_models; m++) {
      const rove_report_energy *en = &r->energy[(size_t)m * r->n_boards + b];
      if (isnan(en->j_num))
        continue;
      if (!strcmp(en->scope, "estimate"))
        est++;
      else
        meas++;
    }
    fprintf(f, "<h3>Board <code>");
    ESC(r->boards[b]);
    fprintf(f, "</code>%s</h3>\n",
            est && !meas  ? " <span class=\"badge\">ESTIMATE &mdash; "
                            "analytical model, not measured</span>"
            : est && meas ? " <span class=\"badge\">partly ESTIMATED</span>"
                          : "");
    int series[2], ns = 0;
    if (r->i_naive >= 0)
      series[ns++] = r->i_naive;
    if (r->i_precise >= 0)
      series[ns++] = r->i_precise;
    if (!ns)
      series[ns++] = 0;
    char title[300];
    snprintf(title, sizeof title, "robust accuracy (\xce\xb5 = %s) vs energy",
             r->eps[r->ref_eps]);
    fprintf(f, "<div class=\"grid\">\n");
    scatter(f, r, b, series, ns, title, "robust accuracy");
    int clean = -1;
    scatter(f, r, b, &clean, 1, "clean accuracy vs energy", "clean accuracy");
    fprintf(f, "</div>\n");
    if (ns == 2)
      fprintf(f,
              "<div class=\"legend\"><span class=\"key\"><span class=\"sw\" "
              "style=\"background:%s\"></span>naive</span><span "
              "class=\"key\"><span class=\"sw\" style=\"background:%s\"></span>"
              "precise</span><span class=\"key\"><span class=\"sw\" "
              "style=\"background:#444444\"></span>clean</span><span "
              "class=\"key\"><span class=\"sw hollow\"></span>estimate</span>"
              "</div>\n",
              profile_color("naive", 0), profile_color("precise", 0));
    int pend = 0;
    for (int m = 0; m < r->n_models; m++) {
      const rove_report_energy *en = &r->energy[(size_t)m * r->n_boards + b];
      if (!isnan(en->j_num))
        continue;
      fprintf(f, "%s", pend++ ? ", " : "<p class=\"warn\">Not plotted: ");
      ESC(r->models[m]);
      fprintf(f, " (");
      ESC(en->status);
      fprintf(f, ")");
    }
    if (pend)
      fprintf(f, "</p>\n");
  }
  fprintf(f, "</section>\n");
}

/* ---- tables ------------------------------------------------------------- */

static void td(FILE *f, const char *cls, const char *s) {
  fprintf(f, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "",
          cls ? "\"" : "");
  ESC(s && s[0] ? s : "\xe2\x80\x94");
  fprintf(f, "</td>");
}

/* Energy per inference of each model on each board, the hub's columns as
 * written; a model without a result is "pending". */
static void table_energy(FILE *f, const rove_report *r) {
  fprintf(f, "<h3>Energy per inference</h3>\n<div class=\"scroll\"><table "
             "class=\"energy\">\n<thead><tr><th rowspan=\"2\">model</th>");
  for (int b = 0; b < r->n_boards; b++) {
    fprintf(f, "<th colspan=\"4\">board ");
    ESC(r->boards[b]);
    fprintf(f, "</th>");
  }
  if (!r->n_boards)
    fprintf(f, "<th rowspan=\"2\">energy</th>");
  fprintf(f, "</tr>\n<tr>");
  for (int b = 0; b < r->n_boards; b++)
    fprintf(f, "<th>J / inference [95%% CI]</th><th>scope &middot; "
               "sensor</th><th>latency (s)</th><th>valid &middot; "
               "flags</th>");
  fprintf(f, "</tr></thead>\n<tbody>\n");
  for (int m = 0; m < r->n_models; m++) {
    fprintf(f, "<tr data-m=\"");
    ESC(r->models[m]);
    fprintf(f, "\"><th scope=\"row\">");
    ESC(r->models[m]);
    fprintf(f, "</th>");
    for (int b = 0; b < r->n_boards; b++) {
      const rove_report_energy *en = &r->energy[(size_t)m * r->n_boards + b];
      int est = !strcmp(en->scope, "estimate");
      if (strcmp(en->status, "ok")) {
        fprintf(f, "<td colspan=\"4\" class=\"pending\" data-k=\"energy\">");
        ESC(en->status);
        if (en->flags[0]) {
          fprintf(f, " (");
          ESC(en->flags);
          fprintf(f, ")");
        }
        fprintf(f, "</td>");
        continue;
      }
      fprintf(f, "<td class=\"num\" data-k=\"energy\">");
      ESC(en->j);
      fprintf(f, "<br><span class=\"ci\">[");
      ESC(en->ci_lo);
      fprintf(f, ", ");
      ESC(en->ci_hi);
      fprintf(f, "]</span>%s</td><td>",
              est ? "<br><span class=\"badge\">ESTIMATE</span>" : "");
      ESC(en->scope);
      if (en->sensor[0]) {
        fprintf(f, " &middot; ");
        ESC(en->sensor);
      }
      fprintf(f, "</td>");
      td(f, "num", en->latency);
      fprintf(f, "<td class=\"%s\">%s", !strcmp(en->valid, "1") ? "" : "bad",
              !strcmp(en->valid, "1") ? "valid" : "NOT valid");
      if (en->flags[0]) {
        fprintf(f, " &middot; ");
        ESC(en->flags);
      }
      fprintf(f, "</td>");
    }
    if (!r->n_boards)
      fprintf(f, "<td class=\"pending\" data-k=\"energy\">pending</td>");
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</tbody></table></div>\n");
}

static void table_models(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"models\"><h2>4. Models</h2>\n<p "
             "class=\"note\">Accuracies are printed exactly as in "
             "summary.csv. Gap = naive &minus; precise. Parameters, MACs "
             "(multiply-accumulates per example), precision and "
             "non-differentiable layers come from the sweep's run.json or "
             "the model files; training from the zoo's training log.</p>\n"
             "<div class=\"scroll\"><table class=\"models\">\n<thead><tr>"
             "<th rowspan=\"2\">model</th><th rowspan=\"2\">params</th>"
             "<th rowspan=\"2\">MACs</th><th rowspan=\"2\">precision</th>"
             "<th rowspan=\"2\">non-diff layers</th>"
             "<th rowspan=\"2\">training</th><th rowspan=\"2\">clean "
             "acc.</th>");
  for (int e = 0; e < r->n_eps; e++) {
    fprintf(f, "<th colspan=\"3\">robust acc. &epsilon; = ");
    ESC(r->eps[e]);
    fprintf(f, "</th>");
  }
  fprintf(f, "</tr>\n<tr>");
  for (int e = 0; e < r->n_eps; e++) {
    fprintf(f, "<th>");
    ESC(r->i_naive >= 0 ? r->profiles[r->i_naive] : "naive");
    fprintf(f, "</th><th>");
    ESC(r->i_precise >= 0 ? r->profiles[r->i_precise] : "precise");
    fprintf(f, "</th><th>gap</th>");
  }
  fprintf(f, "</tr></thead>\n<tbody>\n");
  for (int m = 0; m < r->n_models; m++) {
    const rove_report_model *mm = &r->meta[m];
    fprintf(f, "<tr data-m=\"");
    ESC(r->models[m]);
    fprintf(f, "\"><th scope=\"row\" title=\"hash ");
    ESC(mm->hash);
    fprintf(f, "\">");
    ESC(r->models[m]);
    fprintf(f, "<br><span class=\"hash\">");
    ESC(mm->hash[0] ? mm->hash : "no hash");
    fprintf(f, "</span></th>");
    td(f, "num", mm->params);
    td(f, "num", mm->macs);
    td(f, NULL, mm->precision);
    td(f, "num", mm->nondiff);
    td(f, "train", mm->training);
    fprintf(f, "<td class=\"num\" data-k=\"clean\" data-model=\"");
    ESC(r->models[m]);
    fprintf(f, "\">");
    ESC(clean_str(r, m));
    fprintf(f, "</td>");
    for (int e = 0; e < r->n_eps; e++) {
      int pp[2] = {r->i_naive, r->i_precise};
      for (int k = 0; k < 2; k++) {
        int row = rowof(r, m, pp[k], e);
        fprintf(f, "<td class=\"num\" data-k=\"robust\" data-model=\"");
        ESC(r->models[m]);
        fprintf(f, "\" data-profile=\"");
        ESC(pp[k] >= 0 ? r->profiles[pp[k]] : (k ? "precise" : "naive"));
        fprintf(f, "\" data-eps=\"");
        ESC(r->eps[e]);
        fprintf(f, "\">");
        ESC(row >= 0 ? cell(r, row, r->c_robust) : "\xe2\x80\x94");
        fprintf(f, "</td>");
      }
      int ra = rowof(r, m, r->i_naive, e), rb = rowof(r, m, r->i_precise, e);
      char d[64] = "\xe2\x80\x94";
      if (ra >= 0 && rb >= 0)
        diff_str(cell(r, ra, r->c_robust), cell(r, rb, r->c_robust), d,
                 sizeof d);
      td(f, num(d) > 0 ? "num gap" : "num", d);
    }
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</tbody></table></div>\n");
  table_energy(f, r);
  fprintf(f, "</section>\n");
}

static void table_diag(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"diag\"><h2>5. Attack diagnostics</h2>\n");
  if (!r->n_diag) {
    fprintf(f, "<p class=\"note\">summary.csv has no diag_* columns.</p>"
               "</section>\n");
    return;
  }
  fprintf(f, "<p class=\"note\">Indicators of attack failure (Pintor et al. "
             "2022): the number of examples flagged, per &epsilon; (");
  for (int e = 0; e < r->n_eps; e++) {
    fprintf(f, "%s", e ? " / " : "");
    ESC(r->eps[e]);
  }
  fprintf(f, "). A flag on the naive profile that disappears under precise "
             "is the failure the compensation fixed; a flag under precise "
             "means even the precise figure is an upper bound.</p>\n"
             "<div class=\"scroll\"><table class=\"diag\"><thead><tr>"
             "<th>model</th><th>profile</th>");
  for (int d = 0; d < r->n_diag; d++) {
    fprintf(f, "<th>");
    ESC(r->sum.cols[r->c_diag[d]] + 5);
    fprintf(f, "</th>");
  }
  fprintf(f, "</tr></thead>\n<tbody>\n");
  for (int m = 0; m < r->n_models; m++)
    for (int p = 0; p < r->n_profiles; p++) {
      fprintf(f, "<tr data-m=\"");
      ESC(r->models[m]);
      fprintf(f, "\">");
      if (p == 0) {
        fprintf(f, "<th scope=\"rowgroup\" rowspan=\"%d\">", r->n_profiles);
        ESC(r->models[m]);
        fprintf(f, "</th>");
      }
      td(f, NULL, r->profiles[p]);
      for (int d = 0; d < r->n_diag; d++) {
        int nonzero = 0;
        for (int e = 0; e < r->n_eps; e++) {
          double v = num(cell(r, rowof(r, m, p, e), r->c_diag[d]));
          nonzero |= v > 0;
        }
        fprintf(f, "<td class=\"num%s\">", nonzero ? " flag" : "");
        for (int e = 0; e < r->n_eps; e++) {
          int row = rowof(r, m, p, e);
          fprintf(f, "%s", e ? " / " : "");
          ESC(row >= 0 ? cell(r, row, r->c_diag[d]) : "\xe2\x80\x94");
        }
        fprintf(f, "</td>");
      }
      fprintf(f, "</tr>\n");
    }
  fprintf(f, "</tbody></table></div></section>\n");
}

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
  const char *n = cell(r, 0, r->c_n);
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
  /* The largest overestimation. */
  int bm = -1, be = -1;
  double best = 0;
  for (int m = 0; m < r->n_models && r->i_naive >= 0 && r->i_precise >= 0; m++)
    for (int e = 0; e < r->n_eps; e++) {
      double g = robust(r, m, r->i_naive, e) - robust(r, m, r->i_precise, e);
      if (g > best) {
        best = g;
        bm = m;
        be = e;
      }
    }
  if (bm >= 0) {
    int ra = rowof(r, bm, r->i_naive, be), rb = rowof(r, bm, r->i_precise, be);
    char d[64];
    diff_str(cell(r, ra, r->c_robust), cell(r, rb, r->c_robust), d, sizeof d);
    fprintf(f,
            "<div class=\"card\"><div class=\"big\">%s</div>largest "
            "overestimation: <b>",
            d);
    ESC(r->models[bm]);
    fprintf(f, "</b> at &epsilon; = ");
    ESC(r->eps[be]);
    fprintf(f, ": naive says ");
    ESC(cell(r, ra, r->c_robust));
    fprintf(f, ", precise ");
    ESC(cell(r, rb, r->c_robust));
    fprintf(f, "</div>\n");
  } else if (r->i_naive >= 0 && r->i_precise >= 0) {
    fprintf(f, "<div class=\"card\"><div class=\"big\">0</div>the naive "
               "attack overestimates no model</div>\n");
  }
  /* The most robust model under the strongest profile. */
  int pp = r->i_precise >= 0 ? r->i_precise : r->n_profiles - 1;
  int top = -1;
  double tv = -1;
  for (int m = 0; m < r->n_models; m++) {
    double v = robust(r, m, pp, r->ref_eps);
    if (v > tv) {
      tv = v;
      top = m;
    }
  }
  if (top >= 0) {
    fprintf(f, "<div class=\"card\"><div class=\"big\">");
    ESC(cell(r, rowof(r, top, pp, r->ref_eps), r->c_robust));
    fprintf(f, "</div>most robust (");
    ESC(r->profiles[pp]);
    fprintf(f, ", &epsilon; = ");
    ESC(r->eps[r->ref_eps]);
    fprintf(f, "): <b>");
    ESC(r->models[top]);
    fprintf(f, "</b></div>\n");
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
    double *c = malloc((size_t)nm * 3 * sizeof *c);
    int *fr = malloc((size_t)nm * 2 * sizeof *fr);
    if (c && fr) {
      for (int m = 0; m < nm; m++) {
        const rove_report_energy *en =
            &r->energy[(size_t)m * r->n_boards + board];
        c[m] = en->j_num;
        n_ok += !isnan(en->j_num);
        n_est += !isnan(en->j_num) && !strcmp(en->scope, "estimate");
        c[nm + m] = robust(r, m, pp, r->ref_eps);
        c[2 * nm + m] = num(clean_str(r, m));
      }
      rove_pareto_front(c, c + nm, nm, fr);
      rove_pareto_front(c, c + 2 * nm, nm, fr + nm);
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
  char p[1200];
  snprintf(p, sizeof p, "%s/summary.json", r->dir);
  rove_json sj;
  if (rove_json_load(&sj, p) == 0) {
    const rove_json *c = rove_json_get(&sj, "complete");
    const rove_json *fl = rove_json_get(&sj, "failures");
    if (c && c->type == ROVE_JSON_BOOL && !c->b) {
      fprintf(f, "<p class=\"warn\">The sweep is <b>incomplete</b>: ");
      ESC(rove_json_text(&sj, "units_done"));
      fprintf(f, " of ");
      ESC(rove_json_text(&sj, "units"));
      fprintf(f, " work units done. Resume it and run the report "
                 "again.</p>\n");
    }
    if (fl && fl->type == ROVE_JSON_ARR && fl->n)
      fprintf(f,
              "<p class=\"warn\">%d work unit(s) failed; see "
              "summary.json.</p>\n",
              fl->n);
    rove_json_deinit(&sj);
  } else {
    rove_error_clear();
  }
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
  plot_robust(f, r);
  plot_gaps(f, r);
  plot_energy(f, r);
  table_models(f, r);
  table_diag(f, r);
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
