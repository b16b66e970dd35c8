/* test_data.c - IDX reading (raw and gzip), dataset specs, slices, errors. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/data.h"
#include "common/err.h"

#define N 5
#define R 3
#define C 2

static char dir[64];

/* Writes an IDX file: big-endian magic and dims, then `n` data bytes
 * (`n` may disagree with the dims, to make broken files). */
static void write_idx(const char *name, int gz, uint32_t magic,
                      const uint32_t *dims, int nd, const unsigned char *data,
                      size_t n) {
  unsigned char hdr[20];
  size_t h = 0;
  for (int k = 3; k >= 0; k--)
    hdr[h++] = (unsigned char)(magic >> (8 * k));
  for (int i = 0; i < nd; i++)
    for (int k = 3; k >= 0; k--)
      hdr[h++] = (unsigned char)(dims[i] >> (8 * k));
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (gz) {
    gzFile g = gzopen(path, "wb");
    cr_assert_not_null(g);
    cr_assert_eq(gzwrite(g, hdr, (unsigned)h), (int)h);
    if (n)
      cr_assert_eq(gzwrite(g, data, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(g), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(hdr, 1, h, f);
    fwrite(data, 1, n, f);
    fclose(f);
  }
}

static unsigned char pix[N * R * C];
static unsigned char lab[N] = {3, 0, 7, 1, 3};

/* Writes a consistent pair: <stem>-images-idx3-ubyte[.gz] and labels. */
static void write_pair(const char *stem, int gz) {
  char a[128], b[128];
  uint32_t di[3] = {N, R, C}, dl[1] = {N};
  snprintf(a, sizeof a, "%s-images-idx3-ubyte%s", stem, gz ? ".gz" : "");
  snprintf(b, sizeof b, "%s-labels-idx1-ubyte%s", stem, gz ? ".gz" : "");
  write_idx(a, gz, 0x803, di, 3, pix, sizeof pix);
  write_idx(b, gz, 0x801, dl, 1, lab, sizeof lab);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/rove-test-data-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  for (size_t i = 0; i < sizeof pix; i++)
    pix[i] = (unsigned char)((i * 53 + 7) % 256);
  pix[0] = 0;
  pix[1] = 255;
}

static void teardown(void) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char p[512];
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.') {
      snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
      unlink(p);
    }
  if (d)
    closedir(d);
  rmdir(dir);
}

TestSuite(data, .init = setup, .fini = teardown);

static char *spec_for(const char *stem, int gz, const char *slice) {
  static char s[512];
  snprintf(s, sizeof s,
           "idx:%s/%s-images-idx3-ubyte%s,%s/%s-labels-idx1-ubyte%s%s", dir,
           stem, gz ? ".gz" : "", dir, stem, gz ? ".gz" : "", slice);
  return s;
}

static void check_examples(const rove_dataset *d, int first, int n) {
  cr_assert_eq(d->n, n);
  cr_assert_eq(d->first, first);
  cr_assert_eq(d->shape.rank, 3);
  cr_assert_eq(d->shape.d[0], 1);
  cr_assert_eq(d->shape.d[1], R);
  cr_assert_eq(d->shape.d[2], C);
  cr_assert_eq(d->n_classes, 8); /* largest label in the file is 7 */
  for (int i = 0; i < n; i++) {
    cr_assert_eq(d->y[i], lab[first + i]);
    for (int k = 0; k < R * C; k++) {
      float want = (float)pix[(first + i) * R * C + k] / 255.0f;
      cr_assert_eq(rove_dataset_x(d, i)[k], want, "example %d pixel %d", i, k);
    }
  }
}

Test(data, raw_and_gzip_give_the_same_dataset) {
  rove_dataset d;
  write_pair("raw", 0);
  write_pair("gz", 1);
  cr_assert_eq(rove_dataset_load(&d, spec_for("raw", 0, "")), 0, "%s",
               rove_error_message());
  check_examples(&d, 0, N);
  cr_assert_eq(rove_dataset_x(&d, 0)[0], 0.0f);
  cr_assert_eq(rove_dataset_x(&d, 0)[1], 1.0f);
  rove_dataset_deinit(&d);
  cr_assert_eq(rove_dataset_load(&d, spec_for("gz", 1, "")), 0, "%s",
               rove_error_message());
  check_examples(&d, 0, N);
  cr_assert_str_eq(d.spec, spec_for("gz", 1, ""));
  rove_dataset_deinit(&d);
}

Test(data, slices_follow_python) {
  rove_dataset d;
  write_pair("t", 1);
  static const struct {
    const char *s;
    int first, n;
  } ok[] = {{"[1:4]", 1, 3}, {"[:2]", 0, 2},  {"[3:]", 3, 2},
            {"[-2:]", 3, 2}, {"[:-1]", 0, 4}, {"[ 0 : 5 ]", 0, 5},
            {"[:]", 0, 5}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cr_assert_eq(rove_dataset_load(&d, spec_for("t", 1, ok[i].s)), 0, "%s: %s",
                 ok[i].s, rove_error_message());
    check_examples(&d, ok[i].first, ok[i].n);
    rove_dataset_deinit(&d);
  }
  static const char *range[] = {"[2:2]", "[0:6]", "[4:1]", "[-6:]"};
  for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
    cr_assert_eq(rove_dataset_load(&d, spec_for("t", 1, range[i])), ROVE_ERANGE,
                 "%s", range[i]);
    cr_assert_not_null(strstr(rove_error_message(), "5 examples"), "%s",
                       rove_error_message());
    cr_assert_null(d.x);
  }
  static const char *syntax[] = {"[1-2]", "[x:1]", "[1:2:3]", "[1.5:2]",
                                 "[1:2"};
  for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++) {
    int rc = rove_dataset_load(&d, spec_for("t", 1, syntax[i]));
    cr_assert_lt(rc, 0, "%s accepted", syntax[i]);
    cr_assert_null(d.x);
  }
  cr_assert_eq(rove_dataset_load(&d, spec_for("t", 1, "[1-2]")), ROVE_EINVAL);
  cr_assert_not_null(strstr(rove_error_message(), "[a:b]"));
}

Test(data, bad_specs) {
  rove_dataset d;
  cr_assert_eq(rove_dataset_load(&d, "mnist:test"), ROVE_EINVAL);
  cr_assert_not_null(strstr(rove_error_message(), "unknown dataset"));
  cr_assert_eq(rove_dataset_load(&d, "fashion-mnist:val"), ROVE_EINVAL);
  cr_assert_not_null(strstr(rove_error_message(), "'val'"));
  cr_assert_eq(rove_dataset_load(&d, "idx:onlyone"), ROVE_EINVAL);
  cr_assert_eq(rove_dataset_load(&d, ""), ROVE_EINVAL);
}

Test(data, fashion_mnist_from_rove_data_dir) {
  rove_dataset d;
  write_pair("t10k", 1);
  write_pair("train", 0);
  setenv("ROVE_DATA_DIR", dir, 1);
  cr_assert_eq(rove_dataset_load(&d, "fashion-mnist:test[1:3]"), 0, "%s",
               rove_error_message());
  check_examples(&d, 1, 2);
  rove_dataset_deinit(&d);
  cr_assert_eq(rove_dataset_load(&d, "fashion-mnist:train"), 0, "%s",
               rove_error_message());
  check_examples(&d, 0, N);
  rove_dataset_deinit(&d);
}

Test(data, missing_files_and_directories_name_the_package) {
  rove_dataset d;
  setenv("ROVE_DATA_DIR", dir, 1);
  cr_assert_eq(rove_dataset_load(&d, "fashion-mnist:test"), ROVE_ENOENT);
  cr_assert_not_null(
      strstr(rove_error_message(), "apt-get install dataset-fashion-mnist"),
      "%s", rove_error_message());
  setenv("ROVE_DATA_DIR", "/nonexistent-rove-data", 1);
  cr_assert_eq(rove_dataset_load(&d, "fashion-mnist:test"), ROVE_ENOENT);
  cr_assert_not_null(strstr(rove_error_message(), "/nonexistent-rove-data"));
  char s[256];
  snprintf(s, sizeof s, "idx:%s/nope,%s/nope2", dir, dir);
  cr_assert_eq(rove_dataset_load(&d, s), ROVE_ENOENT);
  cr_assert_not_null(strstr(rove_error_message(), "nope"));
}

Test(data, wrong_magic_truncation_and_count_mismatch) {
  rove_dataset d;
  uint32_t di[3] = {N, R, C}, dl[1] = {N}, dl4[1] = {N - 1};
  char s[512];

  /* Labels where images should be. */
  write_idx("a-images-idx3-ubyte", 0, 0x801, dl, 1, lab, N);
  write_idx("a-labels-idx1-ubyte", 0, 0x801, dl, 1, lab, N);
  cr_assert_eq(rove_dataset_load(&d, spec_for("a", 0, "")), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "0x00000803"), "%s",
                     rove_error_message());
  cr_assert_not_null(strstr(rove_error_message(), "a-images"));

  /* One byte short, in a gzip file. */
  write_idx("b-images-idx3-ubyte", 1, 0x803, di, 3, pix, sizeof pix - 1);
  write_idx("b-labels-idx1-ubyte", 1, 0x801, dl, 1, lab, N);
  snprintf(s, sizeof s, "idx:%s/b-images-idx3-ubyte,%s/b-labels-idx1-ubyte",
           dir, dir);
  cr_assert_eq(rove_dataset_load(&d, s), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "truncated"), "%s",
                     rove_error_message());

  /* One byte too many. */
  unsigned char more[sizeof pix + 1] = {0};
  write_idx("c-images-idx3-ubyte", 0, 0x803, di, 3, more, sizeof more);
  write_idx("c-labels-idx1-ubyte", 0, 0x801, dl, 1, lab, N);
  cr_assert_eq(rove_dataset_load(&d, spec_for("c", 0, "")), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "but 31 data bytes"), "%s",
                     rove_error_message());

  /* Four labels for five images. */
  write_idx("d-images-idx3-ubyte", 0, 0x803, di, 3, pix, sizeof pix);
  write_idx("d-labels-idx1-ubyte", 0, 0x801, dl4, 1, lab, N - 1);
  cr_assert_eq(rove_dataset_load(&d, spec_for("d", 0, "")), ROVE_EFORMAT);
  cr_assert_not_null(strstr(rove_error_message(), "5 images"), "%s",
                     rove_error_message());
  cr_assert_not_null(strstr(rove_error_message(), "4 labels"));

  /* A header claiming 2^32-1 images must not be believed or overflow. */
  uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 2};
  write_idx("e-images-idx3-ubyte", 0, 0x803, huge, 3, pix, sizeof pix);
  write_idx("e-labels-idx1-ubyte", 0, 0x801, dl, 1, lab, N);
  cr_assert_eq(rove_dataset_load(&d, spec_for("e", 0, "")), ROVE_EFORMAT);
  cr_assert_null(d.x);
}

Test(data, corrupt_gzip_is_an_error) {
  rove_dataset d;
  write_pair("f", 1);
  char p[256];
  snprintf(p, sizeof p, "%s/f-images-idx3-ubyte.gz", dir);
  FILE *f = fopen(p, "r+b");
  cr_assert_not_null(f);
  fseek(f, 12, SEEK_SET);
  fputc(0xff, f);
  fputc(0xff, f);
  fputc(0xff, f);
  fclose(f);
  cr_assert_lt(rove_dataset_load(&d, spec_for("f", 1, "")), 0);
  cr_assert_neq(rove_error_message()[0], '\0');
  cr_assert_null(d.x);
}

/* The real Fashion-MNIST test set from the Debian package: its size and
 * first labels are facts about the published files (9 = ankle boot). */
Test(data, real_fashion_mnist_test_split) {
  struct stat st;
  if (stat(ROVE_DATA_DEFAULT_DIR, &st) != 0)
    cr_skip_test("dataset-fashion-mnist is not installed");
  unsetenv("ROVE_DATA_DIR");
  rove_dataset d;
  cr_assert_eq(rove_dataset_load(&d, "fashion-mnist:test[0:100]"), 0, "%s",
               rove_error_message());
  cr_assert_eq(d.n, 100);
  cr_assert_eq(d.shape.d[1], 28);
  cr_assert_eq(d.shape.d[2], 28);
  cr_assert_eq(d.n_classes, 10);
  cr_assert_eq(d.y[0], 9);
  cr_assert_eq(d.y[1], 2);
  cr_assert_eq(d.y[2], 1);
  float lo = 1, hi = 0;
  for (int i = 0; i < 100 * 784; i++) {
    lo = d.x[i] < lo ? d.x[i] : lo;
    hi = d.x[i] > hi ? d.x[i] : hi;
  }
  cr_assert_eq(lo, 0.0f);
  cr_assert_eq(hi, 1.0f);
  rove_dataset_deinit(&d);
}
