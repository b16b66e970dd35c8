/* report_png_stat.c - prints "width height distinct_colours busy_fraction"
 * for an 8-bit RGB/RGBA PNG (what Chromium's --screenshot writes), so the
 * browser test can tell a rendered page from a blank one without Python.
 * busy_fraction is the share of pixels that differ from the most common
 * colour (the page background). Built by test_report_browser.sh with cc. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Open-addressing set of 24-bit colours with counts. */
#define SET_BITS 20
typedef struct slot {
  uint32_t key; /* colour + 1 (0: empty) */
  uint64_t count;
} slot;

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: report_png_stat FILE.png\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open\n", argv[1]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "%s: read error\n", argv[1]);
    return 1;
  }
  fclose(f);
  static const unsigned char sig[8] = {0x89, 'P',  'N',  'G',
                                       '\r', '\n', 0x1a, '\n'};
  if (n < 33 || memcmp(b, sig, 8)) {
    fprintf(stderr, "%s: not a PNG file\n", argv[1]);
    return 1;
  }
  uint32_t w = 0, h = 0;
  int depth = 0, ctype = 0, interlace = 0;
  unsigned char *z = NULL;
  size_t zn = 0;
  for (long off = 8; off + 12 <= n;) {
    uint32_t len = be32(b + off);
    const unsigned char *type = b + off + 4, *data = b + off + 8;
    if ((long)len > n - off - 12) {
      fprintf(stderr, "%s: truncated chunk\n", argv[1]);
      return 1;
    }
    if (!memcmp(type, "IHDR", 4)) {
      w = be32(data);
      h = be32(data + 4);
      depth = data[8];
      ctype = data[9];
      interlace = data[12];
    } else if (!memcmp(type, "IDAT", 4)) {
      unsigned char *nz = realloc(z, zn + len);
      if (!nz)
        return 1;
      z = nz;
      memcpy(z + zn, data, len);
      zn += len;
    } else if (!memcmp(type, "IEND", 4)) {
      break;
    }
    off += 12 + (long)len;
  }
  if (!w || !h || depth != 8 || (ctype != 2 && ctype != 6) || interlace) {
    fprintf(stderr,
            "%s: unsupported PNG (need 8-bit RGB/RGBA, not interlaced)\n",
            argv[1]);
    return 1;
  }
  int bpp = ctype == 6 ? 4 : 3;
  size_t stride = (size_t)w * bpp, rawn = (stride + 1) * h;
  unsigned char *raw = malloc(rawn);
  uLongf got = (uLongf)rawn;
  if (!raw || uncompress(raw, &got, z, (uLong)zn) != Z_OK || got != rawn) {
    fprintf(stderr, "%s: bad image data\n", argv[1]);
    return 1;
  }
  /* Undo the per-row filters in place. */
  for (uint32_t y = 0; y < h; y++) {
    unsigned char *row = raw + y * (stride + 1), *cur = row + 1;
    unsigned char *prev = y ? raw + (y - 1) * (stride + 1) + 1 : NULL;
    int ft = row[0];
    for (size_t i = 0; i < stride; i++) {
      int a = i >= (size_t)bpp ? cur[i - bpp] : 0;
      int up = prev ? prev[i] : 0;
      int c = prev && i >= (size_t)bpp ? prev[i - bpp] : 0;
      int v = cur[i];
      switch (ft) {
      case 0: break;
      case 1: v += a; break;
      case 2: v += up; break;
      case 3: v += (a + up) / 2; break;
      case 4: v += paeth(a, up, c); break;
      default: fprintf(stderr, "%s: bad filter %d\n", argv[1], ft); return 1;
      }
      cur[i] = (unsigned char)v;
    }
  }
  slot *set = calloc((size_t)1 << SET_BITS, sizeof *set);
  if (!set)
    return 1;
  size_t distinct = 0, cap = ((size_t)1 << SET_BITS) / 2;
  for (uint32_t y = 0; y < h; y++) {
    const unsigned char *p = raw + y * (stride + 1) + 1;
    for (uint32_t x = 0; x < w; x++, p += bpp) {
      uint32_t key = ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) + 1;
      size_t i = (key * 2654435761u) >> (32 - SET_BITS);
      while (set[i].key && set[i].key != key)
        i = (i + 1) & (((size_t)1 << SET_BITS) - 1);
      if (!set[i].key) {
        if (distinct == cap)
          continue; /* enough colours to know it is not blank */
        set[i].key = key;
        distinct++;
      }
      set[i].count++;
    }
  }
  uint64_t top = 0;
  for (size_t i = 0; i < ((size_t)1 << SET_BITS); i++)
    if (set[i].count > top)
      top = set[i].count;
  double total = (double)w * h;
  printf("%u %u %zu %.4f\n", w, h, distinct, (total - (double)top) / total);
  free(set);
  free(raw);
  free(z);
  free(b);
  return 0;
}
