/* report_plot.c - the report's inline SVG plots: robust accuracy against
 * eps, the overestimation gaps, and energy against accuracy with the
 * Pareto fronts that rove_report_load computed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/report_page.h"

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
void report__profile_label(FILE *f, const rove_report *r, int p) {
  ESC(r->profiles[p]);
  if (strcmp(r->profiles[p], r->preset[p])) {
    fprintf(f, " (");
    ESC(r->preset[p]);
    fprintf(f, ")");
  }
}

void report__legend(FILE *f, const rove_report *r, int only_main) {
  fprintf(f, "<div class=\"legend\">");
  for (int p = 0; p < r->n_profiles; p++) {
    int main_p = p == r->i_naive || p == r->i_precise;
    if (only_main && !main_p)
      continue;
    fprintf(f,
            "<span class=\"key\"><svg width=\"26\" height=\"10\" "
            "aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"25\" y2=\"5\" "
            "stroke=\"%s\" stroke-width=\"%s\"%s/></svg>",
            report__color(r->preset[p], p), main_p ? "3" : "1.6",
            main_p ? "" : " stroke-dasharray=\"4 3\"");
    report__profile_label(f, r, p);
    fprintf(f, "</span>");
  }
  fprintf(f, "</div>\n");
}

/* 1. Robust accuracy vs eps: one small panel per model, every profile a
 * line starting at eps = 0 from the clean accuracy (robust accuracy at
 * eps 0 is the clean accuracy by definition). */
void report__plot_robust(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"robust\"><h2>1. Robust accuracy vs "
             "&epsilon;</h2>\n<p class=\"note\">Fraction of the examples "
             "classified correctly with no adversarial example found within "
             "the L&infin; ball of radius &epsilon;. The naive profile "
             "(single first-order attack) and the precise profile (all three "
             "compensations) are drawn thick; ablation steps are dashed. The "
             "gap between the orange and the green line is robustness the "
             "naive attack overestimates. When the job has a certify profile, "
             "the shaded band is the robustness bracket: from the certified "
             "accuracy (proved by bound propagation, a lower bound) up to the "
             "precise attack's (an upper bound); the true robust accuracy "
             "lies inside it, and a narrow band means the number is "
             "settled.</p>\n");
  report__legend(f, r, 0);
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
    double clean = report__num(report__clean(r, m));
    if (r->i_cert >= 0 && r->i_precise >= 0) {
      /* The bracket: precise's line forward, certified's back. */
      fprintf(f, "<polygon class=\"bracket\" fill=\"#7a5cff\" "
                 "fill-opacity=\"0.16\" stroke=\"none\" points=\"");
      for (int e = 0; e < r->n_eps; e++) {
        double v = report__robust(r, m, r->i_precise, e);
        if (!isnan(v))
          fprintf(f, "%.1f,%.1f ", px(&p, r->eps_num[e]), py(&p, v));
      }
      for (int e = r->n_eps - 1; e >= 0; e--) {
        double v = report__robust(r, m, r->i_cert, e);
        if (!isnan(v))
          fprintf(f, "%.1f,%.1f ", px(&p, r->eps_num[e]), py(&p, v));
      }
      fprintf(f, "\"><title>robustness bracket of ");
      ESC(r->models[m]);
      fprintf(f, ": certified (lower) to precise (upper)</title></polygon>\n");
    }
    /* Ablation steps first so naive and precise are drawn on top. */
    for (int pass = 0; pass < 2; pass++)
      for (int pr = 0; pr < r->n_profiles; pr++) {
        int main_p = pr == r->i_naive || pr == r->i_precise;
        if (main_p != pass)
          continue;
        const char *col = report__color(r->preset[pr], pr);
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s "
                "points=\"",
                col, main_p ? "2.6" : "1.4",
                main_p ? "" : " stroke-dasharray=\"4 3\"");
        if (!isnan(clean))
          fprintf(f, "%.1f,%.1f ", px(&p, 0), py(&p, clean));
        for (int e = 0; e < r->n_eps; e++) {
          double v = report__robust(r, m, pr, e);
          if (!isnan(v))
            fprintf(f, "%.1f,%.1f ", px(&p, r->eps_num[e]), py(&p, v));
        }
        fprintf(f, "\"/>\n");
        for (int e = 0; e < r->n_eps; e++) {
          int row = report__row(r, m, pr, e);
          if (row < 0)
            continue;
          double v = report__num(report__cell(r, row, r->c_robust));
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
          PCT(report__cell(r, row, r->c_robust));
          fprintf(f, "</title></circle>\n");
        }
      }
    if (!isnan(clean)) {
      fprintf(f,
              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" class=\"cleanpt\">"
              "<title>clean accuracy ",
              px(&p, 0), py(&p, clean));
      PCT(report__clean(r, m));
      fprintf(f, "</title></circle>\n");
    }
    fprintf(f, "</svg></figure>\n");
  }
  fprintf(f, "</div></section>\n");
}

/* 2. Overestimation gaps: report__robust(naive) - report__robust(step) per
 * model, one bar per compensation (the ablation steps and precise), one chart
 * per eps. */
void report__plot_gaps(FILE *f, const rove_report *r) {
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
            report__color(r->preset[comp[c]], comp[c]));
    report__profile_label(f, r, r->i_naive);
    fprintf(f, " &minus; ");
    report__profile_label(f, r, comp[c]);
    fprintf(f, "</span>");
  }
  fprintf(f, "</div>\n<div class=\"grid\">\n");
  double lo = 0, hi = 0.1;
  for (int m = 0; m < r->n_models; m++)
    for (int e = 0; e < r->n_eps; e++)
      for (int c = 0; c < nc; c++) {
        double g = report__robust(r, m, r->i_naive, e) -
                   report__robust(r, m, comp[c], e);
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
        int ra = report__row(r, m, r->i_naive, e),
            rb = report__row(r, m, comp[c], e);
        if (ra < 0 || rb < 0)
          continue;
        char d[64];
        report__diff(report__cell(r, ra, r->c_robust),
                     report__cell(r, rb, r->c_robust), d, sizeof d);
        double g = report__num(d);
        double ya = py(&p, g > 0 ? g : 0), yb = py(&p, g > 0 ? 0 : g);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"><title>",
                x, ya, bw - 1, yb - ya > 0.6 ? yb - ya : 0.6,
                report__color(r->preset[comp[c]], comp[c]));
        ESC(r->models[m]);
        fprintf(f, ", \xce\xb5=");
        ESC(r->eps[e]);
        char dp[64];
        report__pts(report__cell(r, ra, r->c_robust),
                    report__cell(r, rb, r->c_robust), dp, sizeof dp);
        fprintf(f, ": naive ");
        PCT(report__cell(r, ra, r->c_robust));
        fprintf(f, " \xe2\x88\x92 ");
        ESC(r->profiles[comp[c]]);
        fprintf(f, " ");
        PCT(report__cell(r, rb, r->c_robust));
        fprintf(f, " = %s points</title></rect>\n", dp);
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
      double lo = report__num(en->ci_lo), hi = report__num(en->ci_hi);
      cmin = fmin(cmin, isnan(lo) || lo <= 0 ? cost[m] : lo);
      cmax = fmax(cmax, isnan(hi) ? cost[m] : hi);
    }
    for (int s = 0; s < ns; s++) {
      gain[s * nm + m] = series[s] < 0
                             ? report__num(report__clean(r, m))
                             : report__robust(r, m, series[s], r->ref_eps);
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
        report__energy_text(x, s, sizeof s);
        x_tick(f, &p, x, s);
      }
  } else {
    double st = nice_step(p.x1 - p.x0, 5);
    for (double x = ceil(p.x0 / st) * st; x <= p.x1; x += st) {
      char s[32];
      report__energy_text(x, s, sizeof s);
      x_tick(f, &p, x, s);
    }
  }
  boxes bx = {.n = 0};
  for (int s = 0; s < ns && n_ok; s++) {
    const char *col = series[s] < 0
                          ? "#444444"
                          : report__color(r->preset[series[s]], series[s]);
    double *g = gain + (size_t)s * nm;
    for (int m = 0; m < nm; m++)
      front[m] =
          rove_report_front(r, b, series[s] < 0 ? r->n_profiles : series[s], m);
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
      double lo = report__num(en->ci_lo), hi = report__num(en->ci_hi);
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
      PCT(series[s] < 0
              ? report__clean(r, m)
              : report__cell(r, report__row(r, m, series[s], r->ref_eps),
                             r->c_robust));
      char eb[48];
      fprintf(f, ", energy ");
      ESC(report__energy_cell(en->j, eb, sizeof eb));
      if (strcmp(en->ci_lo, en->ci_hi)) {
        fprintf(f, " [");
        ESC(report__energy_cell(en->ci_lo, eb, sizeof eb));
        fprintf(f, ", ");
        ESC(report__energy_cell(en->ci_hi, eb, sizeof eb));
        fprintf(f, "]");
      } else {
        fprintf(f, ", 1 trial");
      }
      fprintf(f, " (");
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

void report__plot_energy(FILE *f, const rove_report *r) {
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
          "robustness&ndash;energy one. With a certify profile, a third "
          "chart draws the front on certified accuracy, the proved lower "
          "bound.</p>\n",
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
    if (r->i_cert >= 0) {
      /* The Pareto front on the bracket's lower end: what a designer can
       * rely on, not what the attack failed to break. */
      snprintf(title, sizeof title,
               "certified accuracy (\xce\xb5 = %s) vs energy",
               r->eps[r->ref_eps]);
      scatter(f, r, b, &r->i_cert, 1, title, "certified accuracy");
    }
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
              report__color("naive", 0), report__color("precise", 0));
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

/* Robust accuracy against restarts (case 3: ineffective initialization
 * shows as a curve that keeps falling). */
void report__plot_restarts(FILE *f, const rove_report *r) {
  if (r->rs_max < 1)
    return;
  fprintf(f, "<section id=\"restarts\"><h2>2b. Robust accuracy vs "
             "restarts (&epsilon; = ");
  ESC(r->eps[r->ref_eps]);
  fprintf(f, ")</h2>\n<p class=\"note\">How many examples each profile "
             "still calls robust after 1, 2, &hellip; restarts (from "
             "per_example.csv: the restart that broke each one). A curve that "
             "keeps falling means one start was not enough &mdash; case 3, "
             "ineffective initialization (the odi curve of the saturated "
             "model, for instance); a flat line means the later restarts "
             "broke nothing more, or that the profile runs a single "
             "restart (naive, and the ablation steps other than odi).</p>\n");
  report__legend(f, r, 0);
  fprintf(f, "<div class=\"grid\">\n");
  int R = r->rs_max;
  for (int m = 0; m < r->n_models; m++) {
    plot p = {300, 215, 44, 10, 22, 40, 0.7, R + 0.3, 0, 1, 0};
    fprintf(f, "<figure class=\"panel\" data-m=\"");
    ESC(r->models[m]);
    fprintf(f, "\">");
    char lab[400];
    snprintf(lab, sizeof lab, "robust accuracy vs restarts, model %s",
             r->models[m]);
    svg_open(f, &p, lab);
    title_text(f, &p, r->models[m]);
    y_axis(f, &p, "robust accuracy", 0.2);
    for (int k = 1; k <= R; k++) {
      char t[16];
      snprintf(t, sizeof t, "%d", k);
      x_tick(f, &p, k, t);
    }
    x_label(f, &p, "restarts");
    for (int pr = 0; pr < r->n_profiles; pr++) {
      const double *v = r->rs + ((size_t)m * r->n_profiles + pr) * R;
      if (isnan(v[0]))
        continue;
      int main_p = pr == r->i_naive || pr == r->i_precise;
      const char *col = report__color(r->preset[pr], pr);
      fprintf(f,
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s "
              "points=\"",
              col, main_p ? "2.6" : "1.4",
              main_p ? "" : " stroke-dasharray=\"4 3\"");
      for (int k = 0; k < R; k++)
        fprintf(f, "%.1f,%.1f ", px(&p, k + 1), py(&p, v[k]));
      fprintf(f, "\"/>\n");
      for (int k = 0; k < R; k++) {
        char b[32];
        snprintf(b, sizeof b, "%.1f%%", 100 * v[k]);
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.4\" fill=\"%s\">"
                "<title>",
                px(&p, k + 1), py(&p, v[k]), col);
        ESC(r->profiles[pr]);
        fprintf(f, ", %d restart%s: %s</title></circle>\n", k + 1, k ? "s" : "",
                b);
      }
    }
    fprintf(f, "</svg><figcaption>");
    ESC(r->models[m]);
    fprintf(f, ": robust share after each added restart</figcaption>"
               "</figure>\n");
  }
  fprintf(f, "</div></section>\n");
}
