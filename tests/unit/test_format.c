/* test_format.c - .rove round trips, atomic save and corrupt-file handling. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"
#include "common/format_rove.h"
#include "common/model.h"
#include "common/rng.h"
#include "common/wire.h"

/* A small CNN with every kind of field the format carries: padding,
 * strides, a reshape target, biases and a trailing Softmax that gets
 * stripped. Parameters are random so a swapped or dropped value shows. */
static void build(rove_model *m, uint64_t seed) {
  rove_shape in = {3, {1, 8, 8}};
  rove_attrs a;
  int id, prev;
  cr_assert_eq(rove_model_init(m, &in), 0);

  rove_attrs_default(&a);
  a.out = 4;
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.has_bias = 1;
  prev = ROVE_INPUT;
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONV, "c1", &prev, 1, &a, &id), 0,
               "%s", rove_error_message());
  prev = id;
  cr_assert_eq(rove_model_add(m, ROVE_OP_RELU, "act", &prev, 1, NULL, &id), 0);
  prev = id;
  rove_attrs_default(&a);
  a.kh = a.kw = 2;
  a.sh = a.sw = 2;
  cr_assert_eq(rove_model_add(m, ROVE_OP_MAXPOOL, "pool", &prev, 1, &a, &id), 0,
               "%s", rove_error_message());
  prev = id;
  rove_attrs_default(&a);
  a.shape.rank = 1;
  a.shape.d[0] = 64;
  cr_assert_eq(rove_model_add(m, ROVE_OP_RESHAPE, "flat", &prev, 1, &a, &id), 0,
               "%s", rove_error_message());
  prev = id;
  rove_attrs_default(&a);
  a.out = 10;
  a.has_bias = 1;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, "fc", &prev, 1, &a, &id), 0,
               "%s", rove_error_message());
  prev = id;
  rove_attrs_default(&a);
  a.axis = 0;
  cr_assert_eq(rove_model_add(m, ROVE_OP_SOFTMAX, "prob", &prev, 1, &a, &id), 0,
               "%s", rove_error_message());
  rove_rng r;
  rove_rng_init(&r, &seed, 1);
  for (size_t i = 0; i < m->n_params; i++)
    m->params[i] = (float)rove_rng_normal(&r) * 0.3f;
  cr_assert_eq(rove_model_finalize(m, -1), 0, "%s", rove_error_message());
  cr_assert_eq(m->softmax_stripped, 1);
}

static void encode(const rove_model *m, rove_wbuf *w) {
  rove_wbuf_init(w);
  cr_assert_eq(rove_model_encode(m, w), 0, "%s", rove_error_message());
}

/* Rewrites the trailing CRC so a deliberate edit passes the checksum and
 * reaches the check the test is aimed at. */
static void fix_crc(unsigned char *b, size_t len) {
  uint32_t c = (uint32_t)crc32_z(0L, b, len - 4);
  for (int k = 0; k < 4; k++)
    b[len - 4 + (size_t)k] = (unsigned char)(c >> (8 * k));
}

static void assert_same(const rove_model *a, const rove_model *b) {
  cr_assert_eq(a->n_nodes, b->n_nodes);
  cr_assert_eq(a->n_params, b->n_params);
  cr_assert_eq(a->output, b->output);
  cr_assert_eq(a->n_classes, b->n_classes);
  cr_assert_eq(a->softmax_stripped, b->softmax_stripped);
  cr_assert_eq(memcmp(&a->in, &b->in, sizeof a->in), 0);
  for (int i = 0; i < a->n_nodes; i++) {
    const rove_node *x = &a->nodes[i], *y = &b->nodes[i];
    unsigned int wx[ROVE_ATTRS_WORDS], wy[ROVE_ATTRS_WORDS];
    cr_assert_eq(x->op, y->op);
    cr_assert_str_eq(x->name, y->name);
    cr_assert_eq(x->n_in, y->n_in);
    cr_assert_eq(memcmp(x->in, y->in, sizeof(int) * (size_t)x->n_in), 0);
    cr_assert_eq(memcmp(&x->out, &y->out, sizeof x->out), 0);
    rove_attrs_to_words(&x->a, wx);
    rove_attrs_to_words(&y->a, wy);
    cr_assert_eq(memcmp(wx, wy, sizeof wx), 0, "node %d attrs differ", i);
    cr_assert_eq(x->param_off, y->param_off);
  }
  cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0,
               "params are not bit-identical");
  cr_assert_eq(memcmp(a->hash, b->hash, 32), 0);
}

Test(format, round_trip_is_bit_exact_and_runs_identically) {
  rove_model m, d;
  rove_wbuf w;
  build(&m, 7);
  encode(&m, &w);
  cr_assert_eq(rove_model_decode(&d, w.data, w.len, "mem"), 0, "%s",
               rove_error_message());
  assert_same(&m, &d);

  /* Same logits from the original and the decoded copy. */
  rove_exec e1, e2;
  float x[2 * 64];
  for (int i = 0; i < 128; i++)
    x[i] = (float)((i * 37) % 101) / 100.0f;
  cr_assert_eq(rove_exec_init(&e1, &m, 2), 0);
  cr_assert_eq(rove_exec_init(&e2, &d, 2), 0);
  rove_exec_forward(&e1, 2, x);
  rove_exec_forward(&e2, 2, x);
  cr_assert_eq(
      memcmp(rove_exec_logits(&e1), rove_exec_logits(&e2), 20 * sizeof(float)),
      0);
  rove_exec_deinit(&e1);
  rove_exec_deinit(&e2);

  /* Encoding is a function of the model: re-encoding the copy gives the
   * same bytes. */
  rove_wbuf w2;
  encode(&d, &w2);
  cr_assert_eq(w.len, w2.len);
  cr_assert_eq(memcmp(w.data, w2.data, w.len), 0);
  rove_wbuf_deinit(&w2);
  rove_wbuf_deinit(&w);
  rove_model_deinit(&d);
  rove_model_deinit(&m);
}

Test(format, different_params_give_different_hash_and_bytes) {
  rove_model a, b;
  build(&a, 1);
  build(&b, 2);
  cr_assert_neq(memcmp(a.hash, b.hash, 32), 0);
  rove_model_deinit(&a);
  rove_model_deinit(&b);
}

Test(format, encode_appends_after_existing_bytes) {
  rove_model m, d;
  rove_wbuf w;
  build(&m, 3);
  rove_wbuf_init(&w);
  rove_put_u32(&w, 0xdeadbeef);
  cr_assert_eq(rove_model_encode(&m, &w), 0);
  cr_assert_eq(rove_model_decode(&d, w.data + 4, w.len - 4, "msg"), 0, "%s",
               rove_error_message());
  assert_same(&m, &d);
  rove_model_deinit(&d);
  rove_wbuf_deinit(&w);
  rove_model_deinit(&m);
}

Test(format, unfinalized_model_is_refused) {
  rove_model m;
  rove_wbuf w;
  build(&m, 3);
  m.finalized = 0;
  rove_wbuf_init(&w);
  cr_assert_eq(rove_model_encode(&m, &w), ROVE_ESTATE);
  rove_wbuf_deinit(&w);
  rove_model_deinit(&m);
}

static char tmpdir[64];

static void mk_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rove-test-format-XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void) {
  DIR *dir = opendir(tmpdir);
  struct dirent *de;
  char p[512];
  while (dir && (de = readdir(dir)))
    if (de->d_name[0] != '.') {
      snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
      unlink(p);
    }
  if (dir)
    closedir(dir);
  rmdir(tmpdir);
}

static int count_entries(const char *dirpath) {
  DIR *dir = opendir(dirpath);
  struct dirent *de;
  int n = 0;
  while (dir && (de = readdir(dir)))
    n += de->d_name[0] != '.';
  if (dir)
    closedir(dir);
  return n;
}

static void write_file(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  fclose(f);
}

Test(format, save_load_file_and_overwrite, .init = mk_tmpdir,
     .fini = rm_tmpdir) {
  rove_model a, b, d;
  char path[128];
  snprintf(path, sizeof path, "%s/m.rove", tmpdir);
  build(&a, 11);
  build(&b, 12);
  cr_assert_eq(rove_model_save(&a, path), 0, "%s", rove_error_message());
  cr_assert_eq(rove_model_load(&d, path), 0, "%s", rove_error_message());
  assert_same(&a, &d);
  rove_model_deinit(&d);
  /* Overwriting replaces the file whole and leaves no temporary behind. */
  cr_assert_eq(rove_model_save(&b, path), 0, "%s", rove_error_message());
  cr_assert_eq(count_entries(tmpdir), 1);
  cr_assert_eq(rove_model_load(&d, path), 0, "%s", rove_error_message());
  assert_same(&b, &d);
  rove_model_deinit(&d);
  rove_model_deinit(&a);
  rove_model_deinit(&b);
}

Test(format, save_into_missing_directory_fails_cleanly) {
  rove_model a;
  build(&a, 1);
  int rc = rove_model_save(&a, "/nonexistent-rove-dir/x/m.rove");
  cr_assert_eq(rc, ROVE_ENOENT);
  cr_assert_not_null(strstr(rove_error_message(), "/nonexistent-rove-dir"));
  rove_model_deinit(&a);
}

Test(format, load_missing_or_empty_file_names_it, .init = mk_tmpdir,
     .fini = rm_tmpdir) {
  rove_model m;
  char path[128];
  snprintf(path, sizeof path, "%s/none.rove", tmpdir);
  cr_assert_eq(rove_model_load(&m, path), ROVE_ENOENT);
  cr_assert_not_null(strstr(rove_error_message(), path));
  write_file(path, "", 0);
  cr_assert_lt(rove_model_load(&m, path), 0);
  cr_assert_not_null(strstr(rove_error_message(), "empty"));
  cr_assert_eq(m.n_nodes, 0);
  cr_assert_null(m.nodes);
}

Test(format, wrong_magic) {
  rove_model m;
  rove_wbuf w;
  build(&m, 1);
  encode(&m, &w);
  rove_model_deinit(&m);
  w.data[0] = 'X';
  cr_assert_eq(rove_model_decode(&m, w.data, w.len, "f.rove"), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "not a .rove model"));
  cr_assert_not_null(strstr(rove_error_message(), "f.rove"));
  rove_wbuf_deinit(&w);
}

Test(format, unsupported_version) {
  rove_model m;
  rove_wbuf w;
  build(&m, 1);
  encode(&m, &w);
  rove_model_deinit(&m);
  w.data[8] = 2;
  fix_crc(w.data, w.len);
  cr_assert_eq(rove_model_decode(&m, w.data, w.len, "f.rove"), ROVE_EVERSION);
  cr_assert_not_null(strstr(rove_error_message(), "version 2"), "message: %s",
                     rove_error_message());
  rove_wbuf_deinit(&w);
}

static unsigned char *find(unsigned char *b, size_t len, const char *s,
                           size_t k) {
  for (size_t i = 0; i + k <= len; i++)
    if (memcmp(b + i, s, k) == 0)
      return b + i;
  return NULL;
}

Test(format, unknown_layer_name) {
  rove_model m;
  rove_wbuf w;
  build(&m, 1);
  encode(&m, &w);
  rove_model_deinit(&m);
  /* The layer kind is stored by name: "relu" preceded by its length. */
  unsigned char *p = find(w.data, w.len, "\x04\0\0\0relu", 8);
  cr_assert_not_null(p);
  p[7] = 'x';
  fix_crc(w.data, w.len);
  cr_assert_eq(rove_model_decode(&m, w.data, w.len, "f.rove"),
               ROVE_EUNSUPPORTED);
  cr_assert_not_null(strstr(rove_error_message(), "'relx'"), "message: %s",
                     rove_error_message());
  cr_assert_not_null(strstr(rove_error_message(), "'act'"));
  cr_assert_null(m.nodes);
  rove_wbuf_deinit(&w);
}

Test(format, hash_mismatch) {
  rove_model m;
  rove_wbuf w;
  build(&m, 1);
  encode(&m, &w);
  rove_model_deinit(&m);
  w.data[w.len - 4 - 32] ^= 1; /* first byte of the stored hash */
  fix_crc(w.data, w.len);
  cr_assert_eq(rove_model_decode(&m, w.data, w.len, "f.rove"), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "hash mismatch"),
                     "message: %s", rove_error_message());
  rove_wbuf_deinit(&w);
}

Test(format, inconsistent_shape_is_caught) {
  rove_model m;
  rove_wbuf w;
  build(&m, 1);
  encode(&m, &w);
  rove_model_deinit(&m);
  /* The linear layer's stored output width, 10, sits after "fc". Change
   * the node's stored out shape while keeping everything else. */
  unsigned char *p = find(w.data, w.len, "\x02\0\0\0fc", 6);
  cr_assert_not_null(p);
  p += 6 + 4 + 4 + 4; /* name, n_in, in[0], out.rank */
  cr_assert_eq(p[0], 10);
  p[0] = 11;
  fix_crc(w.data, w.len);
  cr_assert_eq(rove_model_decode(&m, w.data, w.len, "f.rove"), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "output shape"),
                     "message: %s", rove_error_message());
  rove_wbuf_deinit(&w);
}

/* Every single-byte corruption and every truncation must be an error with
 * a message, never a crash or a silently different model. */
Test(format, fuzz_every_byte_and_every_length) {
  rove_model m;
  rove_wbuf w;
  build(&m, 5);
  encode(&m, &w);
  rove_model_deinit(&m);
  unsigned char *b = malloc(w.len);
  for (size_t i = 0; i < w.len; i++) {
    memcpy(b, w.data, w.len);
    b[i] ^= (unsigned char)(1u << (i % 8));
    int rc = rove_model_decode(&m, b, w.len, "fuzz.rove");
    cr_assert_lt(rc, 0, "flipping byte %zu was accepted", i);
    cr_assert_null(m.nodes);
    if (i >= 24)
      cr_assert_not_null(strstr(rove_error_message(), "corrupt"),
                         "byte %zu: %s", i, rove_error_message());
    else
      cr_assert_neq(rove_error_message()[0], '\0');
  }
  for (size_t len = 0; len < w.len; len++) {
    int rc = rove_model_decode(&m, w.data, len, "fuzz.rove");
    cr_assert_lt(rc, 0, "a %zu-byte prefix was accepted", len);
    cr_assert_null(m.nodes);
    if (len >= 8)
      cr_assert_not_null(strstr(rove_error_message(), "truncated"),
                         "len %zu: %s", len, rove_error_message());
  }
  free(b);
  rove_wbuf_deinit(&w);
}
