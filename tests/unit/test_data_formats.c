/* test_data_formats.c - the CIFAR binary, npy and image-folder dataset
 * readers on small files the tests write: values, labels, layouts, slices
 * and every malformed case with its message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* jpeglib.h needs size_t and FILE declared before it. */
#include <jpeglib.h>
#include <png.h>

#include "common/data.h"
#include "common/err.h"

static char dir[64];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/rove-test-fmt-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(formats, .init = setup, .fini = teardown);

static void write_file(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "%s", path);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static void mkdirp(const char *fmt, const char *a) {
  char p[512];
  snprintf(p, sizeof p, fmt, dir, a);
  mkdir(p, 0755);
}

/* Pixel (ch, y, x) of CIFAR record r, as a byte. */
static unsigned char cifar_px(int r, int ch, int y, int x) {
  return (unsigned char)((r * 31 + ch * 101 + y * 7 + x * 3) % 256);
}

/* Writes `n` CIFAR records starting at record number `r0` (labels r%10
 * fine, r%20 coarse), `lb` label bytes each, to DIR/sub/name. */
static void write_cifar(const char *sub, const char *name, int r0, int n,
                        int lb) {
  size_t rec = (size_t)lb + 3072;
  unsigned char *b = malloc(rec * (size_t)n);
  for (int i = 0; i < n; i++) {
    unsigned char *p = b + rec * (size_t)i;
    int r = r0 + i;
    if (lb == 1)
      p[0] = (unsigned char)(r % 10);
    else {
      p[0] = (unsigned char)(r % 20);
      p[1] = (unsigned char)((r * 7) % 100);
    }
    for (int ch = 0; ch < 3; ch++)
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
          p[lb + ch * 1024 + y * 32 + x] = cifar_px(r, ch, y, x);
  }
  char path[512];
  snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
  write_file(path, b, rec * (size_t)n);
  free(b);
}

static void load_ok(rove_dataset *d, const char *spec) {
  cr_assert_eq(rove_dataset_load(d, spec), 0, "%s: %s", spec,
               rove_error_message());
}

static void load_fails(const char *spec, const char *const *needles) {
  rove_dataset d;
  cr_assert_lt(rove_dataset_load(&d, spec), 0, "%s loaded", spec);
  const char *m = rove_error_message();
  for (; *needles; needles++)
    cr_assert_not_null(strstr(m, *needles), "'%s' not in: %s", *needles, m);
  cr_assert_null(d.x);
}

#define FAILS(spec, ...)                                                       \
  load_fails(spec, (const char *const[]){__VA_ARGS__, NULL})

static void check_cifar(const rove_dataset *d, int first, int n, int r0) {
  cr_assert_eq(d->n, n);
  cr_assert_eq(d->first, first);
  cr_assert_eq(d->shape.rank, 3);
  cr_assert_eq(d->shape.d[0], 3);
  cr_assert_eq(d->shape.d[1], 32);
  cr_assert_eq(d->shape.d[2], 32);
  for (int i = 0; i < n; i++) {
    int r = r0 + first + i;
    cr_assert_eq(d->y[i], r % 10);
    const float *x = rove_dataset_x(d, i);
    for (int ch = 0; ch < 3; ch++)
      for (int y = 0; y < 32; y += 5)
        for (int xx = 0; xx < 32; xx += 3)
          cr_assert_eq(x[ch * 1024 + y * 32 + xx],
                       cifar_px(r, ch, y, xx) / 255.0f);
  }
}

Test(formats, cifar10_test_and_train_splits) {
  mkdirp("%s/%s", "cifar-10-batches-bin");
  write_cifar("cifar-10-batches-bin", "test_batch.bin", 0, 6, 1);
  for (int f = 0; f < 5; f++) {
    char name[32];
    snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
    write_cifar("cifar-10-batches-bin", name, 100 + 3 * f, 3, 1);
  }
  char spec[256];
  rove_dataset d;
  snprintf(spec, sizeof spec, "cifar10:%s:test", dir);
  load_ok(&d, spec);
  cr_assert_eq(d.n_classes, 10);
  check_cifar(&d, 0, 6, 0);
  rove_dataset_deinit(&d);
  /* The slice keeps global indices; the directory may also be the batch
   * directory itself, or come from ROVE_DATA_DIR. */
  snprintf(spec, sizeof spec, "cifar10:%s/cifar-10-batches-bin:test[2:5]", dir);
  load_ok(&d, spec);
  check_cifar(&d, 2, 3, 0);
  rove_dataset_deinit(&d);
  setenv("ROVE_DATA_DIR", dir, 1);
  load_ok(&d, "cifar10:train[-4:]");
  unsetenv("ROVE_DATA_DIR");
  /* The five training batches in order: 15 records numbered 100.. */
  check_cifar(&d, 11, 4, 100);
  rove_dataset_deinit(&d);
}

Test(formats, cifar100_fine_and_coarse_labels) {
  mkdirp("%s/%s", "cifar-100-binary");
  write_cifar("cifar-100-binary", "test.bin", 0, 9, 2);
  char spec[256];
  rove_dataset d;
  snprintf(spec, sizeof spec, "cifar100:%s:test", dir);
  load_ok(&d, spec);
  cr_assert_eq(d.n_classes, 100);
  for (int i = 0; i < 9; i++)
    cr_assert_eq(d.y[i], (i * 7) % 100);
  cr_assert_eq(rove_dataset_x(&d, 4)[1024 + 33], cifar_px(4, 1, 1, 1) / 255.0f);
  rove_dataset_deinit(&d);
  snprintf(spec, sizeof spec, "cifar100:%s:test;coarse[3:]", dir);
  load_ok(&d, spec);
  cr_assert_eq(d.n_classes, 20);
  cr_assert_eq(d.n, 6);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(d.y[i], (3 + i) % 20);
  rove_dataset_deinit(&d);
}

Test(formats, cifar_errors_name_file_record_and_expectation) {
  mkdirp("%s/%s", "cifar-10-batches-bin");
  char spec[256], path[256];
  snprintf(spec, sizeof spec, "cifar10:%s:test", dir);
  FAILS(spec, "test_batch.bin not found", "cifar-10-batches-bin",
        "ROVE_DATA_DIR", "cifar-10-binary.tar.gz");
  /* Truncated: 2 records and 100 bytes of a third. */
  write_cifar("cifar-10-batches-bin", "test_batch.bin", 0, 3, 1);
  snprintf(path, sizeof path, "%s/cifar-10-batches-bin/test_batch.bin", dir);
  cr_assert_eq(truncate(path, 2 * 3073 + 100), 0);
  FAILS(spec, "test_batch.bin", "record 2 is truncated", "100 of 3073");
  /* A label byte out of range, in record 1. */
  write_cifar("cifar-10-batches-bin", "test_batch.bin", 0, 3, 1);
  FILE *f = fopen(path, "r+b");
  fseek(f, 3073, SEEK_SET);
  fputc(10, f);
  fclose(f);
  FAILS(spec, "test_batch.bin", "record 1 has label 10", "0..9");
  snprintf(spec, sizeof spec, "cifar10:%s:valid", dir);
  FAILS(spec, "unknown split 'valid'");
  snprintf(spec, sizeof spec, "cifar10:%s:test;coarse", dir);
  FAILS(spec, "coarse applies to cifar100");
  FAILS("cifar10:/nonexistent-rove-dir:test", "/nonexistent-rove-dir",
        "not found");
}

/* Writes a .npy file: version 1.0 header with descr, order and shape,
 * then `n` data bytes. */
static void write_npy(const char *name, const char *descr, int fortran,
                      const char *shape, const void *data, size_t n) {
  char hdr[256];
  int h = snprintf(hdr, sizeof hdr,
                   "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                   fortran ? "True" : "False", shape);
  int total = 10 + h + 1;
  int pad = (64 - total % 64) % 64;
  unsigned char buf[4096];
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  int hl = h + pad + 1;
  buf[8] = (unsigned char)(hl & 255);
  buf[9] = (unsigned char)(hl >> 8);
  memcpy(buf + 10, hdr, (size_t)h);
  memset(buf + 10 + h, ' ', (size_t)pad);
  buf[10 + h + pad] = '\n';
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "wb");
  cr_assert_not_null(fp);
  fwrite(buf, 1, (size_t)(10 + hl), fp);
  fwrite(data, 1, n, fp);
  fclose(fp);
}

/* 4 examples, 3 channels, 2x5, value v(i, c, y, x) as a byte. */
#define NN 4
#define NC 3
#define NH 6
#define NW 5
static unsigned char npx(int i, int c, int y, int x) {
  return (unsigned char)((i * 50 + c * 20 + y * 5 + x * 2) % 256);
}

static void npy_spec(char *spec, size_t cap, const char *img, const char *lab,
                     const char *tail) {
  snprintf(spec, cap, "npy:%s/%s,%s/%s%s", dir, img, dir, lab, tail);
}

Test(formats, npy_layouts_dtypes_and_byte_orders_agree) {
  unsigned char nhwc[NN * NH * NW * NC];
  float nchw[NN * NC * NH * NW];
  unsigned char nchw_be[sizeof nchw];
  for (int i = 0; i < NN; i++)
    for (int c = 0; c < NC; c++)
      for (int y = 0; y < NH; y++)
        for (int x = 0; x < NW; x++) {
          nhwc[((i * NH + y) * NW + x) * NC + c] = npx(i, c, y, x);
          int k = ((i * NC + c) * NH + y) * NW + x;
          nchw[k] = npx(i, c, y, x) / 255.0f;
          uint32_t u;
          memcpy(&u, &nchw[k], 4);
          for (int b = 0; b < 4; b++)
            nchw_be[4 * k + b] = (unsigned char)(u >> (24 - 8 * b));
        }
  int64_t y64[NN] = {2, 0, 1, 2};
  int32_t y32[NN] = {2, 0, 1, 2};
  unsigned char y8[NN] = {2, 0, 1, 2};
  write_npy("u8_nhwc.npy", "|u1", 0, "(4, 6, 5, 3)", nhwc, sizeof nhwc);
  write_npy("f4_nchw.npy", "<f4", 0, "(4, 3, 6, 5)", nchw, sizeof nchw);
  write_npy("f4be_nchw.npy", ">f4", 0, "(4, 3, 6, 5)", nchw_be, sizeof nchw_be);
  write_npy("y64.npy", "<i8", 0, "(4,)", y64, sizeof y64);
  write_npy("y32.npy", "<i4", 0, "(4,)", y32, sizeof y32);
  write_npy("y8.npy", "|u1", 0, "(4,)", y8, sizeof y8);
  const char *imgs[] = {"u8_nhwc.npy", "f4_nchw.npy", "f4be_nchw.npy"};
  const char *labs[] = {"y64.npy", "y32.npy", "y8.npy"};
  for (int k = 0; k < 3; k++) {
    char spec[512];
    npy_spec(spec, sizeof spec, imgs[k], labs[k], "[1:]");
    rove_dataset d;
    load_ok(&d, spec);
    cr_assert_eq(d.n, 3);
    cr_assert_eq(d.first, 1);
    cr_assert_eq(d.n_classes, 3);
    cr_assert_eq(d.shape.d[0], NC);
    cr_assert_eq(d.shape.d[1], NH);
    cr_assert_eq(d.shape.d[2], NW);
    for (int i = 0; i < 3; i++) {
      cr_assert_eq(d.y[i], y64[i + 1]);
      for (int j = 0; j < NC * NH * NW; j++)
        cr_assert_eq(rove_dataset_x(&d, i)[j], nchw[(i + 1) * NC * NH * NW + j],
                     "%s example %d value %d", imgs[k], i, j);
    }
    rove_dataset_deinit(&d);
  }
  /* (N, H, W) is one channel. */
  write_npy("gray.npy", "|u1", 0, "(4, 6, 5)", nhwc, NN * 30);
  char spec[512];
  npy_spec(spec, sizeof spec, "gray.npy", "y8.npy", "");
  rove_dataset d;
  load_ok(&d, spec);
  cr_assert_eq(d.shape.d[0], 1);
  cr_assert_eq(d.shape.d[1], 6);
  cr_assert_eq(rove_dataset_x(&d, 3)[29], nhwc[3 * 30 + 29] / 255.0f);
  rove_dataset_deinit(&d);
}

Test(formats, npy_ambiguous_layout_needs_the_option) {
  float v[2 * 3 * 4 * 3];
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    v[i] = (float)i / 100.0f;
  unsigned char y[2] = {0, 1};
  write_npy("amb.npy", "<f4", 0, "(2, 3, 4, 3)", v, sizeof v);
  write_npy("y.npy", "|u1", 0, "(2,)", y, 2);
  char spec[512];
  npy_spec(spec, sizeof spec, "amb.npy", "y.npy", "");
  FAILS(spec, "ambiguous", ";layout=nchw", "(2, 3, 4, 3)");
  rove_dataset d;
  npy_spec(spec, sizeof spec, "amb.npy", "y.npy", ";layout=nhwc");
  load_ok(&d, spec);
  cr_assert_eq(d.shape.d[0], 3);
  cr_assert_eq(d.shape.d[1], 3);
  cr_assert_eq(d.shape.d[2], 4);
  /* channel 1, row 2, column 3 of example 1 = element (1, 2, 3, 1). */
  cr_assert_eq(rove_dataset_x(&d, 1)[1 * 12 + 2 * 4 + 3],
               v[((1 * 3 + 2) * 4 + 3) * 3 + 1]);
  rove_dataset_deinit(&d);
  npy_spec(spec, sizeof spec, "amb.npy", "y.npy", ";layout=nchw[1:2]");
  load_ok(&d, spec);
  cr_assert_eq(d.shape.d[0], 3);
  cr_assert_eq(d.shape.d[2], 3);
  cr_assert_eq(rove_dataset_x(&d, 0)[5], v[36 + 5]);
  rove_dataset_deinit(&d);
  npy_spec(spec, sizeof spec, "amb.npy", "y.npy", ";layout=chwn");
  FAILS(spec, "unknown option 'layout=chwn'");
}

Test(formats, npy_malformed_inputs) {
  float v[2 * 4] = {0, 0.5f, 1, 0.25f, 0.1f, 1.5f, 0, 0};
  unsigned char y[2] = {0, 1};
  int64_t yneg[2] = {0, -3};
  float yf[2] = {0, 1};
  write_npy("range.npy", "<f4", 0, "(2, 2, 2)", v, sizeof v);
  write_npy("y.npy", "|u1", 0, "(2,)", y, 2);
  write_npy("y3.npy", "|u1", 0, "(3,)", y, 2);
  write_npy("yneg.npy", "<i8", 0, "(2,)", yneg, sizeof yneg);
  write_npy("yf.npy", "<f4", 0, "(2,)", yf, sizeof yf);
  write_npy("fort.npy", "<f4", 1, "(2, 2, 2)", v, sizeof v);
  write_npy("short.npy", "<f4", 0, "(2, 2, 3)", v, sizeof v);
  write_npy("i4img.npy", "<i4", 0, "(2, 2, 2)", v, sizeof v);
  write_npy("flat.npy", "<f4", 0, "(8,)", v, sizeof v);
  char spec[512];
  npy_spec(spec, sizeof spec, "range.npy", "y.npy", "");
  FAILS(spec, "range.npy", "value 1.5 at flat index 5 (example 1)",
        "outside [0, 1]");
  npy_spec(spec, sizeof spec, "fort.npy", "y.npy", "");
  FAILS(spec, "fort.npy", "Fortran");
  npy_spec(spec, sizeof spec, "short.npy", "y.npy", "");
  FAILS(spec, "short.npy", "truncated");
  npy_spec(spec, sizeof spec, "i4img.npy", "y.npy", "");
  FAILS(spec, "i4img.npy", "dtype i4", "uint8");
  npy_spec(spec, sizeof spec, "flat.npy", "y.npy", "");
  FAILS(spec, "flat.npy", "shape (8,)", "(N, H, W)");
  write_npy("ok.npy", "<f4", 0, "(2, 2, 2)", v, 0);
  write_npy("ok.npy", "<f4", 0, "(2, 2, 2)", (float[8]){0}, 32);
  npy_spec(spec, sizeof spec, "ok.npy", "yneg.npy", "");
  FAILS(spec, "yneg.npy", "label -3 at index 1");
  npy_spec(spec, sizeof spec, "ok.npy", "yf.npy", "");
  FAILS(spec, "yf.npy", "dtype f4", "int64");
  npy_spec(spec, sizeof spec, "ok.npy", "y3.npy", "");
  FAILS(spec, "y3.npy", "truncated");
  write_npy("y3.npy", "|u1", 0, "(3,)", (unsigned char[3]){0}, 3);
  FAILS(spec, "hold 2 examples", "hold 3");
  FAILS("npy:onlyone.npy", "npy:IMAGES.npy,LABELS.npy");
}

/* Writes an 8-bit PNG (c = 1 gray or 3 RGB) of value f(i, ch, y, x). */
static void write_png(const char *rel, int c, int h, int w, int seed) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  unsigned char *px = malloc((size_t)c * h * w);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int ch = 0; ch < c; ch++)
        px[(y * w + x) * c + ch] =
            (unsigned char)((seed * 40 + ch * 70 + y * 9 + x * 4) % 256);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  cr_assert(png_image_write_to_file(&im, path, 0, px, 0, NULL), "%s",
            im.message);
  free(px);
}

/* Writes a constant-colour JPEG at quality 100 (it decodes to within a
 * step or two of the value). */
static void write_jpeg(const char *rel, int c, int h, int w, int value) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr jerr;
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  jpeg_stdio_dest(&ci, f);
  ci.image_width = (JDIMENSION)w;
  ci.image_height = (JDIMENSION)h;
  ci.input_components = c;
  ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 100, TRUE);
  jpeg_start_compress(&ci, TRUE);
  unsigned char *row = malloc((size_t)w * c);
  memset(row, value, (size_t)w * c);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW r = row;
    jpeg_write_scanlines(&ci, &r, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  free(row);
  fclose(f);
}

Test(formats, folder_classes_sorted_png_and_jpeg) {
  mkdirp("%s/%s", "imgs");
  mkdirp("%s/imgs/%s", "zebra");
  mkdirp("%s/imgs/%s", "ant");
  mkdirp("%s/imgs/%s", "ant/deeper");
  write_png("imgs/zebra/b.png", 3, 4, 6, 1);
  write_png("imgs/zebra/a.png", 3, 4, 6, 2);
  write_jpeg("imgs/ant/x.JPG", 3, 4, 6, 200);
  write_png("imgs/ant/deeper/y.png", 3, 4, 6, 3);
  char p[512];
  snprintf(p, sizeof p, "%s/imgs/ant/notes.txt", dir);
  write_file(p, "not an image", 12);
  char spec[256];
  snprintf(spec, sizeof spec, "folder:%s/imgs", dir);
  rove_dataset d;
  load_ok(&d, spec);
  /* ant (0): x.JPG, deeper/y.png; zebra (1): a.png, b.png. */
  cr_assert_eq(d.n, 4);
  cr_assert_eq(d.n_classes, 2);
  int want_y[4] = {0, 0, 1, 1};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(d.y[i], want_y[i]);
  cr_assert_eq(d.shape.d[0], 3);
  cr_assert_eq(d.shape.d[1], 4);
  cr_assert_eq(d.shape.d[2], 6);
  for (int j = 0; j < 72; j++)
    cr_assert(fabsf(rove_dataset_x(&d, 0)[j] - 200 / 255.0f) <= 2.5f / 255,
              "jpeg value %d: %g", j, rove_dataset_x(&d, 0)[j] * 255);
  int seeds[4] = {0, 3, 2, 1};
  for (int i = 1; i < 4; i++)
    for (int ch = 0; ch < 3; ch++)
      for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++)
          cr_assert_eq(rove_dataset_x(&d, i)[(ch * 4 + y) * 6 + x],
                       ((seeds[i] * 40 + ch * 70 + y * 9 + x * 4) % 256) /
                           255.0f);
  rove_dataset_deinit(&d);
  snprintf(spec, sizeof spec, "folder:%s/imgs[2:3]", dir);
  load_ok(&d, spec);
  cr_assert_eq(d.first, 2);
  cr_assert_eq(d.y[0], 1);
  rove_dataset_deinit(&d);
}

Test(formats, folder_gray_and_errors) {
  mkdirp("%s/%s", "g");
  mkdirp("%s/g/%s", "0");
  mkdirp("%s/g/%s", "1");
  write_png("g/0/a.png", 1, 5, 5, 1);
  write_jpeg("g/1/b.jpeg", 1, 5, 5, 90);
  char spec[256];
  snprintf(spec, sizeof spec, "folder:%s/g", dir);
  rove_dataset d;
  load_ok(&d, spec);
  cr_assert_eq(d.shape.d[0], 1);
  cr_assert_eq(d.shape.d[1], 5);
  rove_dataset_deinit(&d);
  /* A different size, then a colour image among gray ones. */
  write_png("g/1/c.png", 1, 6, 5, 1);
  FAILS(spec, "c.png' is 1x6x5", "expected 1x5x5", "does not resize");
  write_png("g/1/c.png", 3, 5, 5, 1);
  FAILS(spec, "c.png' is 3x5x5", "expected 1x5x5");
  char p[512];
  snprintf(p, sizeof p, "%s/g/1/c.png", dir);
  write_file(p, "\x89PNG\r\n\x1a\ngarbage", 15);
  FAILS(spec, "c.png", "not a readable PNG");
  unlink(p);
  snprintf(p, sizeof p, "%s/g/1/d.jpg", dir);
  write_file(p, "\xff\xd8\xff\xe0 truncated", 14);
  FAILS(spec, "d.jpg", "not a readable JPEG");
  unlink(p);
  mkdirp("%s/g/%s", "2");
  FAILS(spec, "class directory", "/g/2", "no .png or .jpg images");
  snprintf(spec, sizeof spec, "folder:%s/g/0", dir);
  FAILS(spec, "no class subdirectories");
  snprintf(spec, sizeof spec, "folder:%s/none", dir);
  FAILS(spec, "cannot open directory");
}

Test(formats, unknown_prefix_lists_every_reader) {
  FAILS("imagenet:val", "unknown dataset",
        "cifar10:", "npy:", "folder:", "fashion-mnist:", "idx:");
}
