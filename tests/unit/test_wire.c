/* test_wire.c - wire codec round trips, bounds checks; arena and error stack.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/util.h"
#include "common/wire.h"

Test(wire, round_trip_every_width) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_u8(&w, 0xAB);
  rove_put_u16(&w, 0xBEEF);
  rove_put_u32(&w, 0xDEADBEEFu);
  rove_put_u64(&w, 0x0123456789ABCDEFull);
  rove_put_i32(&w, -7);
  rove_put_i64(&w, INT64_MIN);
  rove_put_f32(&w, -0.0f);
  rove_put_f64(&w, NAN);
  rove_put_str(&w, "hello");
  rove_put_bytes(&w, "xyz", 3);
  cr_assert_eq(w.failed, 0);
  cr_assert_eq(w.len, 1 + 2 + 4 + 8 + 4 + 8 + 4 + 8 + 4 + 5 + 3);

  rove_rbuf r;
  char s[16];
  char b[3];
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_get_u8(&r), 0xAB);
  cr_assert_eq(rove_get_u16(&r), 0xBEEF);
  cr_assert_eq(rove_get_u32(&r), 0xDEADBEEFu);
  cr_assert_eq(rove_get_u64(&r), 0x0123456789ABCDEFull);
  cr_assert_eq(rove_get_i32(&r), -7);
  cr_assert_eq(rove_get_i64(&r), INT64_MIN);
  float z = rove_get_f32(&r);
  cr_assert(z == 0.0f && signbit(z), "negative zero survives");
  cr_assert(isnan(rove_get_f64(&r)));
  rove_get_str(&r, s, sizeof s);
  cr_assert_str_eq(s, "hello");
  rove_get_bytes(&r, b, 3);
  cr_assert_eq(memcmp(b, "xyz", 3), 0);
  cr_assert_eq(r.failed, 0);
  cr_assert_eq(rove_rbuf_left(&r), 0);
  rove_wbuf_deinit(&w);
}

Test(wire, little_endian_on_the_wire) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_u32(&w, 0x01020304u);
  const unsigned char want[4] = {4, 3, 2, 1};
  cr_assert_eq(memcmp(w.data, want, 4), 0);
  rove_patch_u32(&w, 0, 0xA0B0C0D0u);
  cr_assert_eq(w.data[0], 0xD0);
  cr_assert_eq(w.data[3], 0xA0);
  rove_wbuf_deinit(&w);
}

Test(wire, short_reads_fail_and_stay_failed) {
  const unsigned char buf[3] = {1, 2, 3};
  rove_rbuf r;
  rove_rbuf_init(&r, buf, sizeof buf);
  cr_assert_eq(rove_get_u32(&r), 0);
  cr_assert_eq(r.failed, 1);
  /* Once failed, even a read that would fit yields zero. */
  cr_assert_eq(rove_get_u8(&r), 0);
  cr_assert_eq(r.failed, 1);
}

Test(wire, string_longer_than_buffer_or_with_nul_fails) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_str(&w, "abcdefgh");
  rove_rbuf r;
  char s[4];
  rove_rbuf_init(&r, w.data, w.len);
  rove_get_str(&r, s, sizeof s);
  cr_assert_eq(r.failed, 1);
  cr_assert_str_eq(s, "");
  rove_wbuf_deinit(&w);

  /* Length claims more bytes than present. */
  const unsigned char lie[6] = {200, 0, 0, 0, 'a', 'b'};
  char t[300];
  rove_rbuf_init(&r, lie, sizeof lie);
  rove_get_str(&r, t, sizeof t);
  cr_assert_eq(r.failed, 1);

  const unsigned char nul[7] = {3, 0, 0, 0, 'a', 0, 'b'};
  rove_rbuf_init(&r, nul, sizeof nul);
  rove_get_str(&r, t, sizeof t);
  cr_assert_eq(r.failed, 1);
}

Test(wire, huge_length_does_not_overflow) {
  const unsigned char buf[8] = {0};
  rove_rbuf r;
  rove_rbuf_init(&r, buf, sizeof buf);
  rove_get_u8(&r);
  cr_assert_null(rove_get_view(&r, SIZE_MAX));
  cr_assert_eq(r.failed, 1);
}

Test(arena, aligned_bounded_and_reset) {
  rove_arena a;
  cr_assert_eq(rove_arena_init(&a, 1000), 0);
  unsigned char *p = rove_arena_alloc(&a, 10);
  unsigned char *q = rove_arena_calloc(&a, 100);
  cr_assert_not_null(p);
  cr_assert_not_null(q);
  cr_assert_eq((uintptr_t)p % 64, 0);
  cr_assert_eq((uintptr_t)q % 64, 0);
  cr_assert_geq(q - p, 10);
  for (int i = 0; i < 100; i++)
    cr_assert_eq(q[i], 0);
  /* 1000 rounds up to 1024; 64 + 128 used, so 832 more fit, 833 do not. */
  cr_assert_null(rove_arena_alloc(&a, 833));
  cr_assert_not_null(rove_arena_alloc(&a, 832));
  cr_assert_eq(a.peak, 1024);
  rove_arena_reset(&a);
  cr_assert_eq(rove_arena_alloc(&a, 10), p, "reset starts from the base");
  rove_arena_deinit(&a);
}

static int inner(void) {
  return ROVE_ERR(ROVE_EFORMAT, "file '%s', line %d: expected %s", "x.job", 12,
                  "a number");
}
static int middle(void) {
  ROVE_TRY(inner());
  return 0;
}

Test(err, message_and_traceback) {
  rove_error_clear();
  cr_assert_eq(middle(), ROVE_EFORMAT);
  cr_assert_str_eq(rove_error_message(),
                   "file 'x.job', line 12: expected a number");
  cr_assert_str_eq(rove_strerror(ROVE_ECRC), "checksum mismatch");
  cr_assert_str_eq(rove_strerror(12345), "unknown error");
  /* A code passed up without a recorded message is named. */
  rove_error_clear();
  cr_assert_eq(rove_error_trace(ROVE_ENOMEM, __FILE__, __LINE__, __func__),
               ROVE_ENOMEM);
  cr_assert_str_eq(rove_error_message(), "out of memory");
}

Test(fileio, reads_whole_file_and_names_it_on_error) {
  char dir[] = "/tmp/rove-fileio-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/f.bin", dir);
  /* 200000 bytes: larger than the first buffer guess when size is unknown,
   * and containing NULs, which must survive. */
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  for (int i = 0; i < 200000; i++)
    fputc(i % 251, f);
  fclose(f);
  unsigned char *b;
  size_t n;
  cr_assert_eq(rove_file_read(path, "test file", &b, &n), 0);
  cr_assert_eq(n, 200000);
  int ok = 1;
  for (int i = 0; i < 200000; i++)
    ok &= b[i] == (unsigned char)(i % 251);
  cr_assert(ok, "content differs");
  cr_assert_eq(b[n], 0, "NUL terminator after the data");
  free(b);

  char missing[80];
  snprintf(missing, sizeof missing, "%s/nope", dir);
  cr_assert_eq(rove_file_read(missing, "model file", &b, &n), ROVE_ENOENT);
  cr_assert_null(b);
  cr_assert_not_null(strstr(rove_error_message(), "model file"));
  cr_assert_not_null(strstr(rove_error_message(), missing));
  cr_assert_eq(rove_file_read(dir, NULL, &b, &n), ROVE_EINVAL);
  cr_assert_not_null(strstr(rove_error_message(), "is a directory"));
  unlink(path);
  rmdir(dir);
}

/* An atomic write lands whole, replacing the old file; one that cannot
 * be renamed into place leaves the old file alone, removes its temporary
 * and names the target. */
Test(fileio, commit_replaces_atomically_or_not_at_all) {
  char dir[] = "/tmp/rove-commit-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[80], tmp[96], bad[96];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("old\n", f);
  fclose(f);

  f = fopen(tmp, "w");
  cr_assert_not_null(f);
  fputs("new contents\n", f);
  cr_assert_eq(rove_file_commit(f, tmp, path, "test file"), 0, "%s",
               rove_error_message());
  unsigned char *b;
  size_t n;
  cr_assert_eq(rove_file_read(path, NULL, &b, &n), 0);
  cr_assert_str_eq((char *)b, "new contents\n");
  free(b);
  cr_assert_neq(access(tmp, F_OK), 0, "the temporary is gone");

  /* The target's directory does not exist: the rename fails. */
  snprintf(bad, sizeof bad, "%s/missing/out.txt", dir);
  f = fopen(tmp, "w");
  cr_assert_not_null(f);
  fputs("lost\n", f);
  cr_assert_eq(rove_file_commit(f, tmp, bad, "test file"), ROVE_EIO);
  cr_assert_not_null(strstr(rove_error_message(), bad));
  cr_assert_not_null(strstr(rove_error_message(), "test file"));
  cr_assert_neq(access(tmp, F_OK), 0, "the temporary is removed");
  cr_assert_eq(rove_file_read(path, NULL, &b, &n), 0);
  cr_assert_str_eq((char *)b, "new contents\n", "the old file is untouched");
  free(b);
  unlink(path);
  rmdir(dir);
}

/* mkdir -p: nested and trailing-slash paths, again (already there), and
 * a file in the way named in the error. */
Test(fileio, mkdirs_creates_parents_and_names_failures) {
  char dir[] = "/tmp/rove-mkdirs-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char deep[128], file[128], under[160];
  snprintf(deep, sizeof deep, "%s/a/b/c/", dir);
  cr_assert_eq(rove_mkdirs(deep), 0, "%s", rove_error_message());
  cr_assert_eq(rove_mkdirs(deep), 0, "an existing directory is fine");
  struct stat st;
  cr_assert_eq(stat(deep, &st), 0);
  cr_assert(S_ISDIR(st.st_mode));
  snprintf(file, sizeof file, "%s/a/f", dir);
  FILE *f = fopen(file, "w");
  cr_assert_not_null(f);
  fclose(f);
  snprintf(under, sizeof under, "%s/g/h", file);
  cr_assert_eq(rove_mkdirs(under), ROVE_EIO);
  cr_assert_not_null(strstr(rove_error_message(), file));
  cr_assert_eq(rove_mkdirs(""), ROVE_EINVAL);
  unlink(file);
  snprintf(under, sizeof under, "%s/a/b/c", dir);
  rmdir(under);
  snprintf(under, sizeof under, "%s/a/b", dir);
  rmdir(under);
  snprintf(under, sizeof under, "%s/a", dir);
  rmdir(under);
  rmdir(dir);
}

Test(util, parse_int_is_strict) {
  int v = 99;
  cr_assert_eq(rove_parse_int("42", 0, 100, &v), 0);
  cr_assert_eq(v, 42);
  cr_assert_eq(rove_parse_int("-3", -5, 5, &v), 0);
  cr_assert_eq(v, -3);
  const char *bad[] = {"", "4x", "101", "-6", "99999999999999999999", " "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 7;
    cr_assert_eq(rove_parse_int(bad[i], -5, 100, &v), -1, "'%s'", bad[i]);
    cr_assert_eq(v, 7, "'%s' must leave the output alone", bad[i]);
  }
}

Test(util, json_str_escapes) {
  char buf[128] = {0};
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  cr_assert_not_null(f);
  rove_json_str(f, "a\"b\\c\n\x01");
  rove_json_str(f, NULL);
  fclose(f);
  cr_assert_str_eq(buf, "\"a\\\"b\\\\c\\u000a\\u0001\"\"\"");
}
