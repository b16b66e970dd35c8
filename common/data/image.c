/* image.c - PNG (libpng's simplified API) and JPEG (libjpeg-turbo) images
 * decoded to float CHW in [0, 1], for the folder: dataset reader. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* jpeglib.h needs size_t and FILE declared before it. */
#include <jpeglib.h>
#include <png.h>

#include "common/data/reader.h"
#include "common/err.h"
#include "common/fileio.h"

int data_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || name[0] == '.')
    return 0;
  return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
         !strcasecmp(dot, ".jpeg");
}

static int is_png(const unsigned char *b, size_t n) {
  return n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8);
}
static int is_jpeg(const unsigned char *b, size_t n) {
  return n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
}

/* libjpeg reports errors through a callback that must not return: it
 * jumps back here with the library's message. */
typedef struct jerr {
  struct jpeg_error_mgr mgr;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
} jerr;

static void jerr_exit(j_common_ptr ci) {
  jerr *e = (jerr *)ci->err;
  (*ci->err->format_message)(ci, e->msg);
  longjmp(e->jb, 1);
}
static void jerr_silent(j_common_ptr ci) {
  (void)ci;
}

/* Decodes (out != NULL) or probes a JPEG. Warnings (a corrupt but
 * decodable stream) are errors too: a dataset image that libjpeg had to
 * guess at is not the image the user meant. */
static int jpeg_run(const char *path, const unsigned char *b, size_t n, int *c,
                    int *h, int *w, float *out) {
  struct jpeg_decompress_struct ci;
  jerr e;
  ci.err = jpeg_std_error(&e.mgr);
  e.mgr.error_exit = jerr_exit;
  e.mgr.output_message = jerr_silent;
  /* volatile: it changes between setjmp and a longjmp back to it. */
  unsigned char *volatile row = NULL;
  snprintf(e.msg, sizeof e.msg, "out of memory");
  if (setjmp(e.jb)) {
    jpeg_destroy_decompress(&ci);
    free(row);
    return ROVE_ERR(ROVE_EFORMAT, "image '%s': not a readable JPEG (%s)", path,
                    e.msg);
  }
  jpeg_create_decompress(&ci);
  jpeg_mem_src(&ci, b, (unsigned long)n);
  jpeg_read_header(&ci, TRUE);
  int gray = ci.num_components == 1;
  ci.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  if (!out) {
    *c = gray ? 1 : 3;
    *h = (int)ci.image_height;
    *w = (int)ci.image_width;
    jpeg_destroy_decompress(&ci);
    return 0;
  }
  int gc = gray ? 1 : 3, gh = (int)ci.image_height, gw = (int)ci.image_width;
  if (gc != *c || gh != *h || gw != *w) {
    jpeg_destroy_decompress(&ci);
    return ROVE_ERR(ROVE_ESHAPE,
                    "image '%s' is %dx%dx%d (CxHxW), expected %dx%dx%d like "
                    "the dataset's first image (rove does not resize or "
                    "convert: prepare the images at the model's size)",
                    path, gc, gh, gw, *c, *h, *w);
  }
  jpeg_start_decompress(&ci);
  row = malloc((size_t)gw * (size_t)gc);
  if (!row)
    longjmp(e.jb, 1);
  while (ci.output_scanline < ci.output_height) {
    int y = (int)ci.output_scanline;
    JSAMPROW rp = row;
    jpeg_read_scanlines(&ci, &rp, 1);
    for (int x = 0; x < gw; x++)
      for (int ch = 0; ch < gc; ch++)
        out[((size_t)ch * gh + y) * gw + x] = row[x * gc + ch] / 255.0f;
  }
  int warned = e.mgr.num_warnings != 0;
  jpeg_finish_decompress(&ci);
  jpeg_destroy_decompress(&ci);
  free(row);
  if (warned)
    return ROVE_ERR(ROVE_EFORMAT,
                    "image '%s': the JPEG stream is corrupt (libjpeg "
                    "reported warnings while decoding it)",
                    path);
  return 0;
}

static int png_run(const char *path, const unsigned char *b, size_t n, int *c,
                   int *h, int *w, float *out) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&im, b, n))
    return ROVE_ERR(ROVE_EFORMAT, "image '%s': not a readable PNG (%s)", path,
                    im.message);
  int gc = (im.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  int gh = (int)im.height, gw = (int)im.width;
  if (!out) {
    png_image_free(&im);
    *c = gc;
    *h = gh;
    *w = gw;
    return 0;
  }
  if (gc != *c || gh != *h || gw != *w) {
    png_image_free(&im);
    return ROVE_ERR(ROVE_ESHAPE,
                    "image '%s' is %dx%dx%d (CxHxW), expected %dx%dx%d like "
                    "the dataset's first image (rove does not resize or "
                    "convert: prepare the images at the model's size)",
                    path, gc, gh, gw, *c, *h, *w);
  }
  /* 8-bit gray or RGB without alpha: libpng expands palettes, reduces
   * 16-bit samples and composites alpha onto black. */
  im.format = gc == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  size_t bytes = PNG_IMAGE_SIZE(im);
  unsigned char *px = malloc(bytes);
  if (!px) {
    png_image_free(&im);
    return ROVE_ERR(ROVE_ENOMEM, "image '%s': out of memory", path);
  }
  if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
    free(px);
    return ROVE_ERR(ROVE_EFORMAT, "image '%s': not a readable PNG (%s)", path,
                    im.message);
  }
  for (int y = 0; y < gh; y++)
    for (int x = 0; x < gw; x++)
      for (int ch = 0; ch < gc; ch++)
        out[((size_t)ch * gh + y) * gw + x] =
            px[((size_t)y * gw + x) * gc + ch] / 255.0f;
  free(px);
  return 0;
}

static int image_run(const char *path, int *c, int *h, int *w, float *out) {
  unsigned char *b;
  size_t n;
  ROVE_TRY(rove_file_read(path, "image", &b, &n));
  int rc;
  if (is_png(b, n))
    rc = png_run(path, b, n, c, h, w, out);
  else if (is_jpeg(b, n))
    rc = jpeg_run(path, b, n, c, h, w, out);
  else
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "image '%s' is neither PNG nor JPEG (by its first bytes)",
                  path);
  free(b);
  ROVE_TRY(rc);
  return 0;
}

int data_image_probe(const char *path, int *c, int *h, int *w) {
  ROVE_TRY(image_run(path, c, h, w, NULL));
  if (*h <= 0 || *w <= 0 || (long)*h * *w > (1L << 26))
    return ROVE_ERR(ROVE_ERANGE,
                    "image '%s' is %dx%d, which rove does not read", path, *h,
                    *w);
  return 0;
}

int data_image_decode(const char *path, int c, int h, int w, float *out) {
  ROVE_TRY(image_run(path, &c, &h, &w, out));
  return 0;
}
