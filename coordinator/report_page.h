/* report_page.h - what the files of the report page share (report.c,
 * report_html.c, report_plot.c, report_table.c): accessors of the loaded
 * report, formatting, and the sections. Not for use outside them. */
#ifndef ROVE_COORDINATOR_REPORT_PAGE_H
#define ROVE_COORDINATOR_REPORT_PAGE_H

#include <stdio.h>

#include "coordinator/report.h"

#define ESC(s) rove_report_escape(f, (s))

/* Accessors (report.c). */
int report__row(const rove_report *r, int m, int p, int e); /* -1: none */
const char *report__cell(const rove_report *r, int row, int col);
double report__num(const char *s); /* NaN unless all of s is a number */
double report__robust(const rove_report *r, int m, int p, int e);
/* The model's clean accuracy as the CSV writes it. */
const char *report__clean(const rove_report *r, int m);

/* Formatting (report_html.c). */
/* a - b with as many decimals as the more precise input. */
void report__diff(const char *a, const char *b, char *out, size_t cap);
/* Numbers for people (the CSV and JSON keep full precision): a fraction
 * as a percentage with one decimal ("53.3%"; text that is not a number is
 * returned as is), a difference of two fractions in points ("53.3"), and
 * an energy CSV cell with an SI prefix and 3 significant digits. */
const char *report__pct(const char *frac, char *buf, size_t cap);
void report__pts(const char *a, const char *b, char *out, size_t cap);
const char *report__energy_cell(const char *j, char *buf, size_t cap);
const char *report__time_cell(const char *sec, char *buf, size_t cap);
#define PCT(s)                                                                 \
  do {                                                                         \
    char pct_[48];                                                             \
    ESC(report__pct((s), pct_, sizeof pct_));                                  \
  } while (0)
const char *report__color(const char *preset, int i);
/* Energy in J with an SI prefix. */
void report__energy_text(double j, char *buf, size_t cap);

/* Sections (report_plot.c, report_table.c). */
void report__profile_label(FILE *f, const rove_report *r, int p);
void report__legend(FILE *f, const rove_report *r, int only_main);
void report__plot_robust(FILE *f, const rove_report *r);
void report__plot_gaps(FILE *f, const rove_report *r);
void report__plot_energy(FILE *f, const rove_report *r);
void report__plot_restarts(FILE *f, const rove_report *r);
void report__table_models(FILE *f, const rove_report *r);
void report__table_diag(FILE *f, const rove_report *r);

#endif
