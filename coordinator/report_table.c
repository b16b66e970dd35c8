/* report_table.c - the report's tables: models (with their energy per
 * board) and diagnostics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/report_page.h"

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
    fprintf(f, "<th>energy / inference [95%% CI]</th><th>scope &middot; "
               "sensor</th><th>latency</th><th>valid &middot; "
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
      char eb[48];
      fprintf(f, "<td class=\"num\" data-k=\"energy\" data-v=\"");
      ESC(en->j);
      fprintf(f, "\">");
      ESC(report__energy_cell(en->j, eb, sizeof eb));
      fprintf(f, "<br><span class=\"ci\">");
      /* A confidence interval of zero width is one trial, not a
       * measurement of spread: say so. */
      if (!strcmp(en->ci_lo, en->ci_hi)) {
        fprintf(f, "1 trial");
      } else {
        fprintf(f, "[");
        ESC(report__energy_cell(en->ci_lo, eb, sizeof eb));
        fprintf(f, ", ");
        ESC(report__energy_cell(en->ci_hi, eb, sizeof eb));
        fprintf(f, "]");
      }
      fprintf(f, "</span>%s</td><td>",
              est ? "<br><span class=\"badge\">ESTIMATE</span>" : "");
      ESC(en->scope);
      if (en->sensor[0]) {
        fprintf(f, " &middot; ");
        ESC(en->sensor);
      }
      fprintf(f, "</td>");
      td(f, "num", report__time_cell(en->latency, eb, sizeof eb));
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

void report__table_models(FILE *f, const rove_report *r) {
  fprintf(f, "<section id=\"models\"><h2>4. Models</h2>\n<p "
             "class=\"note\">Accuracies are printed exactly as in "
             "summary.csv, as percentages with one decimal (summary.csv and "
             "summary.json keep every digit). Gap = naive &minus; precise, "
             "in points; with a certify profile, bracket = precise &minus; "
             "certified, in points. Parameters, MACs "
             "(multiply-accumulates per example), precision and "
             "non-differentiable layers come from the sweep's run.json or "
             "the model files; training from the zoo's training log.</p>\n"
             "<div class=\"scroll\"><table class=\"models\">\n<thead><tr>"
             "<th rowspan=\"2\">model</th><th rowspan=\"2\">params</th>"
             "<th rowspan=\"2\">MACs</th><th rowspan=\"2\">precision</th>"
             "<th rowspan=\"2\">non-diff layers</th>"
             "<th rowspan=\"2\">training</th><th rowspan=\"2\">clean "
             "acc.</th>");
  int nc = r->i_cert >= 0 ? 5 : 3;
  for (int e = 0; e < r->n_eps; e++) {
    fprintf(f, "<th colspan=\"%d\">robust acc. &epsilon; = ", nc);
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
    if (r->i_cert >= 0)
      fprintf(f, "<th>certified</th><th>bracket</th>");
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
    PCT(report__clean(r, m));
    fprintf(f, "</td>");
    for (int e = 0; e < r->n_eps; e++) {
      int pp[2] = {r->i_naive, r->i_precise};
      for (int k = 0; k < 2; k++) {
        int row = report__row(r, m, pp[k], e);
        fprintf(f, "<td class=\"num\" data-k=\"robust\" data-model=\"");
        ESC(r->models[m]);
        fprintf(f, "\" data-profile=\"");
        ESC(pp[k] >= 0 ? r->profiles[pp[k]] : (k ? "precise" : "naive"));
        fprintf(f, "\" data-eps=\"");
        ESC(r->eps[e]);
        fprintf(f, "\">");
        PCT(row >= 0 ? report__cell(r, row, r->c_robust) : "\xe2\x80\x94");
        fprintf(f, "</td>");
      }
      int ra = report__row(r, m, r->i_naive, e),
          rb = report__row(r, m, r->i_precise, e);
      char d[64] = "\xe2\x80\x94";
      if (ra >= 0 && rb >= 0)
        report__pts(report__cell(r, ra, r->c_robust),
                    report__cell(r, rb, r->c_robust), d, sizeof d);
      td(f, report__num(d) > 0 ? "num gap" : "num", d);
      if (r->i_cert >= 0) {
        /* Certified accuracy and the bracket's width, precise - certified:
         * how far the truth can be below the attack's figure. */
        int rc = report__row(r, m, r->i_cert, e);
        char w[64] = "\xe2\x80\x94";
        fprintf(f, "<td class=\"num\" data-k=\"robust\" data-model=\"");
        ESC(r->models[m]);
        fprintf(f, "\" data-profile=\"");
        ESC(r->profiles[r->i_cert]);
        fprintf(f, "\" data-eps=\"");
        ESC(r->eps[e]);
        fprintf(f, "\">");
        PCT(rc >= 0 ? report__cell(r, rc, r->c_robust) : "\xe2\x80\x94");
        fprintf(f, "</td>");
        if (rc >= 0 && rb >= 0)
          report__pts(report__cell(r, rb, r->c_robust),
                      report__cell(r, rc, r->c_robust), w, sizeof w);
        td(f, "num bracket", w);
      }
    }
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</tbody></table></div>\n");
  table_energy(f, r);
  fprintf(f, "</section>\n");
}

void report__table_diag(FILE *f, const rove_report *r) {
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
          double v = report__num(
              report__cell(r, report__row(r, m, p, e), r->c_diag[d]));
          nonzero |= v > 0;
        }
        fprintf(f, "<td class=\"num%s\">", nonzero ? " flag" : "");
        for (int e = 0; e < r->n_eps; e++) {
          int row = report__row(r, m, p, e);
          fprintf(f, "%s", e ? " / " : "");
          ESC(row >= 0 ? report__cell(r, row, r->c_diag[d]) : "\xe2\x80\x94");
        }
        fprintf(f, "</td>");
      }
      fprintf(f, "</tr>\n");
    }
  fprintf(f, "</tbody></table></div></section>\n");
}
