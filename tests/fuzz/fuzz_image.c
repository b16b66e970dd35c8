/* fuzz_image.c - PNG (libpng) and JPEG (libjpeg-turbo) decoding of the
 * folder: dataset reader, probe then decode at the probed size (decoded only up
 * to 64K samples: larger headers exercise the same code, only slower). */
#include "common/data/reader.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  const char *p = fuzz_file("img", d, n);
  int c, h, w;
  if (data_image_probe(p, &c, &h, &w) == 0 && (long)c * h * w <= (1L << 16)) {
    float *x = malloc(sizeof(float) * (size_t)c * (size_t)h * (size_t)w);
    if (x)
      data_image_decode(p, c, h, w, x);
    free(x);
  }
  rove_error_clear();
  return 0;
}
