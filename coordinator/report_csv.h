/* report_csv.h - an RFC 4180 CSV reader (quoted fields, doubled quotes,
 * CRLF) that keeps line numbers, so every complaint names file and line. */
#ifndef ROVE_COORDINATOR_REPORT_CSV_H
#define ROVE_COORDINATOR_REPORT_CSV_H

#include <stddef.h>

/* A parsed table: a header row of column names and n_rows data rows, all
 * with exactly n_cols fields. Cells are NUL-terminated strings owned by the
 * table (one block, `text`); `line[r]` is the 1-based line on which data
 * row r starts (the header is line 1 unless blank lines precede it). */
typedef struct rove_csv {
  char *what; /* the file name used in messages (owned) */
  char *text; /* every cell, NUL-separated (owned) */
  char **cols;
  int n_cols;
  char **cells; /* n_rows * n_cols, row major, pointing into text */
  int *line;
  int n_rows;
} rove_csv;

/* Parses a whole CSV file. `t` is uninitialised on entry; on error it is
 * left deinitialised and the message names the file and line (unterminated
 * quote, wrong number of fields, a character after a closing quote, an
 * empty or duplicate column name, an empty file). */
int rove_csv_load(rove_csv *t, const char *path);
/* Same from a buffer of `len` bytes (copied); `what` names it. */
int rove_csv_parse(rove_csv *t, const char *buf, size_t len, const char *what);
void rove_csv_deinit(rove_csv *t);

/* Index of the column named `name`, or -1. */
int rove_csv_col(const rove_csv *t, const char *name);
/* Like rove_csv_col but a missing column is an error naming the file, the
 * column and what it is needed for; *col gets the index. */
int rove_csv_require(const rove_csv *t, const char *name, int *col);
/* Borrowed cell text; "" when col < 0 (an absent optional column). */
const char *rove_csv_get(const rove_csv *t, int row, int col);

#endif
