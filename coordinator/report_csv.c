/* report_csv.c - RFC 4180 CSV parsing with line numbers for messages. */
#include "coordinator/report_csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

int rove_csv_load(rove_csv *t, const char *path) {
  unsigned char *b = NULL;
  size_t n = 0;
  memset(t, 0, sizeof *t);
  ROVE_TRY(rove_file_read(path, "CSV file", &b, &n));
  int rc = rove_csv_parse(t, (const char *)b, n, path);
  free(b);
  return rc;
}

void rove_csv_deinit(rove_csv *t) {
  free(t->what);
  free(t->text);
  free(t->cols);
  free(t->cells);
  free(t->line);
  memset(t, 0, sizeof *t);
}

/* Growable list of cell pointers (offsets into text while parsing, since
 * text is written in place and never moves). */
typedef struct cellv {
  size_t *off;
  int *line; /* per record */
  size_t n, cap, n_rec, cap_rec;
} cellv;

static int cell_push(cellv *v, size_t off) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 256;
    size_t *p = realloc(v->off, nc * sizeof *p);
    if (!p)
      return ROVE_ENOMEM;
    v->off = p;
    v->cap = nc;
  }
  v->off[v->n++] = off;
  return 0;
}

static int rec_push(cellv *v, int line) {
  if (v->n_rec == v->cap_rec) {
    size_t nc = v->cap_rec ? v->cap_rec * 2 : 64;
    int *p = realloc(v->line, nc * sizeof *p);
    if (!p)
      return ROVE_ENOMEM;
    v->line = p;
    v->cap_rec = nc;
  }
  v->line[v->n_rec++] = line;
  return 0;
}

/* The parser copies each field's unquoted text into `out` (never longer
 * than the input) followed by a NUL. A record is a run of fields ending at
 * an unquoted newline; blank lines are skipped. Each record's field count
 * is checked against the header's as soon as it ends, so the message can
 * name its line. */
int rove_csv_parse(rove_csv *t, const char *buf, size_t len, const char *what) {
  memset(t, 0, sizeof *t);
  cellv v = {0};
  char *out = malloc(len + 1);
  t->what = strdup(what ? what : "csv");
  if (!out || !t->what) {
    free(out);
    rove_csv_deinit(t);
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", what);
  }
  size_t o = 0, i = 0, rec_first = 0;
  int line = 1, rec_line = 1, n_cols = -1, rc = 0;
  while (i <= len) {
    /* Skip blank lines between records. */
    if (i < len && (buf[i] == '\n' || buf[i] == '\r')) {
      if (buf[i] == '\n')
        line++;
      i++;
      continue;
    }
    if (i == len)
      break;
    rec_line = line;
    rec_first = v.n;
    for (;;) { /* one field */
      size_t start = o;
      if (i < len && buf[i] == '"') {
        int qline = line;
        i++;
        for (;;) {
          if (i >= len) {
            rc = ROVE_ERR(ROVE_EFORMAT,
                          "%s:%d: quoted field opened here is never closed",
                          what, qline);
            goto fail;
          }
          if (buf[i] == '"') {
            if (i + 1 < len && buf[i + 1] == '"') {
              out[o++] = '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (buf[i] == '\n')
            line++;
          out[o++] = buf[i++];
        }
        if (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') {
          rc = ROVE_ERR(ROVE_EFORMAT,
                        "%s:%d: expected ',' or end of line after a closing "
                        "quote, found '%c'",
                        what, line, buf[i]);
          goto fail;
        }
      } else {
        while (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') {
          if (buf[i] == '"') {
            rc = ROVE_ERR(ROVE_EFORMAT,
                          "%s:%d: a quote inside an unquoted field (quote the "
                          "whole field and double the quote)",
                          what, line);
            goto fail;
          }
          out[o++] = buf[i++];
        }
      }
      out[o++] = '\0';
      if (cell_push(&v, start)) {
        rc = ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", what);
        goto fail;
      }
      if (i < len && buf[i] == ',') {
        i++;
        continue;
      }
      break;
    }
    /* End of record: "\r\n", "\n", "\r" or end of input. */
    if (i < len && buf[i] == '\r')
      i++;
    if (i < len && buf[i] == '\n') {
      i++;
      line++;
    }
    int nf = (int)(v.n - rec_first);
    if (n_cols < 0) {
      n_cols = nf;
    } else if (nf != n_cols) {
      rc = ROVE_ERR(ROVE_EFORMAT,
                    "%s:%d: expected %d fields (as in the header), found %d",
                    what, rec_line, n_cols, nf);
      goto fail;
    } else if (rec_push(&v, rec_line)) {
      rc = ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", what);
      goto fail;
    }
  }
  if (n_cols < 0) {
    rc = ROVE_ERR(ROVE_EFORMAT, "%s: empty file: expected a header line", what);
    goto fail;
  }
  t->text = out;
  out = NULL;
  t->n_cols = n_cols;
  t->n_rows = (int)v.n_rec;
  t->cols = malloc((size_t)n_cols * sizeof *t->cols);
  t->cells = malloc((v.n - (size_t)n_cols + 1) * sizeof *t->cells);
  t->line = malloc((v.n_rec + 1) * sizeof *t->line);
  if (!t->cols || !t->cells || !t->line) {
    rc = ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", what);
    goto fail;
  }
  for (int c = 0; c < n_cols; c++)
    t->cols[c] = t->text + v.off[c];
  for (size_t k = (size_t)n_cols; k < v.n; k++)
    t->cells[k - (size_t)n_cols] = t->text + v.off[k];
  for (size_t r = 0; r < v.n_rec; r++)
    t->line[r] = v.line[r];
  for (int c = 0; c < n_cols; c++) {
    if (!t->cols[c][0]) {
      rc = ROVE_ERR(ROVE_EFORMAT, "%s:1: column %d of the header is empty",
                    what, c + 1);
      goto fail;
    }
    for (int d = 0; d < c; d++)
      if (!strcmp(t->cols[c], t->cols[d])) {
        rc = ROVE_ERR(ROVE_EFORMAT,
                      "%s:1: column '%s' appears twice in the header", what,
                      t->cols[c]);
        goto fail;
      }
  }
  free(v.off);
  free(v.line);
  return 0;
fail:
  free(out);
  free(v.off);
  free(v.line);
  rove_csv_deinit(t);
  return rc;
}

int rove_csv_col(const rove_csv *t, const char *name) {
  for (int c = 0; c < t->n_cols; c++)
    if (!strcmp(t->cols[c], name))
      return c;
  return -1;
}

int rove_csv_require(const rove_csv *t, const char *name, int *col) {
  int c = rove_csv_col(t, name);
  if (c < 0)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s:1: required column '%s' is missing from the header",
                    t->what, name);
  *col = c;
  return 0;
}

const char *rove_csv_get(const rove_csv *t, int row, int col) {
  if (col < 0 || row < 0 || row >= t->n_rows)
    return "";
  return t->cells[(size_t)row * t->n_cols + col];
}
