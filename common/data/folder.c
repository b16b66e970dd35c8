/* folder.c - the folder: dataset reader: one subdirectory per class,
 * classes in name order (torchvision's ImageFolder), PNG and JPEG images
 * in each (found recursively, in path order, as ImageFolder does). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/data.h"
#include "common/data/reader.h"
#include "common/err.h"

typedef struct folder_priv {
  char **path; /* total image paths */
  long n, cap;
} folder_priv;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory `dir` (sorted), split into subdirectories and
 * image files. Hidden entries are skipped. */
static int list_dir(const data_src *s, const char *dir, char ***dirs, int *nd,
                    char ***files, int *nfl) {
  *dirs = *files = NULL;
  *nd = *nfl = 0;
  DIR *d = opendir(dir);
  if (!d)
    return ROVE_ERR(errno == ENOENT ? ROVE_ENOENT : ROVE_EIO,
                    "dataset '%s': cannot open directory '%s': %s", s->spec,
                    dir, strerror(errno));
  int cd = 0, cf = 0, rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) {
      rc = ROVE_ERR(ROVE_ERANGE, "dataset '%s': path '%s/%s' too long", s->spec,
                    dir, e->d_name);
      break;
    }
    struct stat st;
    if (stat(p, &st) != 0)
      continue;
    int isdir = S_ISDIR(st.st_mode);
    if (!isdir && !(S_ISREG(st.st_mode) && data_image_name(e->d_name)))
      continue;
    char ***list = isdir ? dirs : files;
    int *n = isdir ? nd : nfl, *cap = isdir ? &cd : &cf;
    if (*n == *cap) {
      int nc = *cap ? *cap * 2 : 16;
      char **nl = realloc(*list, (size_t)nc * sizeof *nl);
      if (!nl) {
        rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
        break;
      }
      *list = nl;
      *cap = nc;
    }
    if (!((*list)[*n] = strdup(p))) {
      rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
      break;
    }
    (*n)++;
  }
  closedir(d);
  if (*nd)
    qsort(*dirs, (size_t)*nd, sizeof **dirs, cmp_str);
  if (*nfl)
    qsort(*files, (size_t)*nfl, sizeof **files, cmp_str);
  return rc;
}

static void free_list(char **l, int n) {
  for (int i = 0; i < n; i++)
    free(l[i]);
  free(l);
}

/* Appends the images under `dir` with label `label`: its own files first,
 * then its subdirectories' in name order (sorted(os.walk) order). */
static int walk(data_src *s, folder_priv *p, const char *dir, int label,
                int depth) {
  if (depth > 32)
    return ROVE_ERR(ROVE_ERANGE,
                    "dataset '%s': directories nested deeper than 32 under "
                    "'%s'",
                    s->spec, dir);
  char **dirs, **files;
  int nd, nf;
  int rc = list_dir(s, dir, &dirs, &nd, &files, &nf);
  for (int i = 0; rc == 0 && i < nf; i++) {
    if (p->n == p->cap) {
      long nc = p->cap ? p->cap * 2 : 256;
      char **np = realloc(p->path, (size_t)nc * sizeof *np);
      int32_t *ny = realloc(s->y, (size_t)nc * sizeof *ny);
      if (np)
        p->path = np;
      if (ny)
        s->y = ny;
      if (!np || !ny) {
        rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
        break;
      }
      p->cap = nc;
    }
    s->y[p->n] = label;
    p->path[p->n++] = files[i];
    files[i] = NULL;
  }
  for (int i = 0; rc == 0 && i < nd; i++)
    rc = walk(s, p, dirs[i], label, depth + 1);
  free_list(dirs, nd);
  free_list(files, nf);
  return rc;
}

static int folder_fill(data_src *s, long a, long b, float *x) {
  folder_priv *p = s->priv;
  size_t per = (size_t)rove_shape_numel(&s->shape);
  for (long i = a; i < b; i++)
    ROVE_TRY(data_image_decode(p->path[i], s->shape.d[0], s->shape.d[1],
                               s->shape.d[2], x + (size_t)(i - a) * per));
  return 0;
}

static void folder_close(data_src *s) {
  folder_priv *p = s->priv;
  if (p)
    free_list(p->path, (int)p->n);
  free(p);
  s->priv = NULL;
}

int data_open_folder(data_src *s, const char *arg, const data_opts *o) {
  (void)o;
  if (!arg[0])
    return ROVE_ERR(ROVE_EINVAL, "dataset spec '%s': expected folder:DIR",
                    s->spec);
  folder_priv *p = calloc(1, sizeof *p);
  if (!p)
    return ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
  s->priv = p;
  s->fill = folder_fill;
  s->close = folder_close;
  char **classes, **top;
  int nc, nt;
  ROVE_TRY(list_dir(s, arg, &classes, &nc, &top, &nt));
  free_list(top, nt);
  int rc = 0;
  if (nc == 0)
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "dataset '%s': directory '%s' has no class "
                  "subdirectories (expected DIR/CLASS/IMAGE.png|jpg, one "
                  "subdirectory per class)",
                  s->spec, arg);
  for (int k = 0; rc == 0 && k < nc; k++) {
    long before = p->n;
    rc = walk(s, p, classes[k], k, 0);
    if (rc == 0 && p->n == before)
      rc = ROVE_ERR(ROVE_EFORMAT,
                    "dataset '%s': class directory '%s' holds no .png or "
                    ".jpg images",
                    s->spec, classes[k]);
  }
  free_list(classes, nc);
  ROVE_TRY(rc);
  s->total = p->n;
  s->n_classes = nc;
  int c, h, w;
  ROVE_TRY(data_image_probe(p->path[0], &c, &h, &w));
  s->shape = (rove_shape){3, {c, h, w}};
  return 0;
}
