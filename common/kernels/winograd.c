/* winograd.c - F(2x2, 3x3) convolution (winograd.h).
 *
 * With g the 3x3 kernel, d a 4x4 input patch and m the 4x4 products,
 *   U = G g G^T,  V = B^T d B,  m = U .* V (summed over channels),
 *   Y = A^T m A  (the 2x2 outputs),
 * where
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * The sum over channels is 16 GEMMs, one per point e of the 4x4 tile:
 * M_e (K x tiles) = U_e (K x C) . V_e (C x tiles), on rove_gemm (packed
 * A = U_e, packed B = V_e written straight into its panels). The tiles of
 * the whole batch are the GEMMs' columns, a chunk of whole tile rows at a
 * time; a column depends on its own patch only, so neither the batch nor
 * the chunking changes a bit.
 *
 * The input and output transforms run on one GEMM panel (16 tiles) at a
 * time, lane by lane: plain loops over 16 lanes that the compiler turns
 * into vector code, compiled three times (portable, AVX2, AVX-512) and
 * picked by rove_cpu_level(). They only add and subtract, so every form
 * gives the same bits (there is no multiply for a compiler to fuse). The
 * input patches come from a zero-padded copy of the chunk's rows of one
 * channel, so no patch needs a bounds check; 16 tiles in a row of the map
 * read as strided loads, others as gathers. */
#include "common/kernels/winograd.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/kernels/cpu.h"
#include "common/kernels/gemm.h"

#define MR ROVE_GEMM_MR
#define NR ROVE_GEMM_NR

static atomic_int mode = -1; /* -1: ROVE_WINOGRAD not read yet */

void rove_wino_set_mode(int m) {
  atomic_store_explicit(&mode, m, memory_order_relaxed);
}

static int eligible(const rove_conv_geom *g) {
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
         g->dw == 1 && g->G == 1 && g->OH >= 1 && g->OW >= 1;
}

int rove_wino_use(const rove_conv_geom *g, int backward) {
  int m = atomic_load_explicit(&mode, memory_order_relaxed);
  if (m < 0) {
    const char *e = getenv("ROVE_WINOGRAD");
    m = e && !strcmp(e, "0")     ? ROVE_WINO_OFF
        : e && !strcmp(e, "all") ? ROVE_WINO_ALL
                                 : ROVE_WINO_AUTO;
    atomic_store_explicit(&mode, m, memory_order_relaxed);
  }
  if (m == ROVE_WINO_OFF || !eligible(g))
    return 0;
  if (m == ROVE_WINO_ALL)
    return 1;
  /* Where it measured faster (bench/README.md): the transforms cost
   * O(C + K) per tile against the O(C K) multiplies saved, so many
   * channels; and the multiplies must really be fewer: the input gradient
   * of an unpadded convolution is a full correlation whose map (H x W) is
   * larger than the forward's, 16 per 2 x 2 tile against 9 per pixel of
   * the smaller map. */
  int ch = g->C < g->K ? g->C : g->K;
  long oh = backward ? g->H : g->OH, ow = backward ? g->W : g->OW;
  long wino = 16 * ((oh + 1) / 2) * ((ow + 1) / 2);
  long direct = 9L * g->OH * g->OW;
  return ch >= ROVE_WINO_MIN_CHANNELS && 9 * direct >= 16 * wino;
}

/* The tiling of g: TH x TW tiles per example; the padded copy of a tile
 * row is 4 rows of PW floats. */
typedef struct {
  int TH, TW, PW;
  int rows; /* tile rows per chunk */
  int ncp;  /* columns of the largest chunk, a multiple of NR */
} tiling;

static void tiling_of(const rove_conv_geom *g, tiling *t) {
  t->TH = (g->OH + 1) / 2;
  t->TW = (g->OW + 1) / 2;
  /* 2 TW + 2 columns, and slack for vector loads past the last tile. */
  t->PW = 2 * t->TW + 2 + NR;
  /* About 24K floats of V and M per point, so that both stay in a core's
   * L2, but at least 128 columns: each point's U is read once per chunk,
   * and with many channels U is the larger matrix. */
  int kp = rove_gemm_up(g->K, MR), want = 24576 / (g->C + kp);
  if (want < 128)
    want = 128;
  if (want > 512)
    want = 512;
  t->rows = want / t->TW;
  if (t->rows < 1)
    t->rows = 1;
  t->ncp = rove_gemm_up(t->rows * t->TW, NR);
}

/* Floats of one forward's workspace before its column table: U (16 x Kp
 * x C), V (16 x C x ncp), M (16 x Kp x ncp) and the padded rows (rows x 4
 * x PW, and slack), rounded up to an even count so that the table's longs
 * are aligned. */
static size_t fwd_floats(const rove_conv_geom *g, const tiling *t) {
  size_t kp = (size_t)rove_gemm_up(g->K, MR), C = (size_t)g->C;
  size_t ncp = (size_t)t->ncp;
  size_t n =
      16 * (kp * C + C * ncp + kp * ncp) + (size_t)t->rows * 4 * t->PW + NR;
  return (n + 1) / 2 * 2;
}

/* The column table: per column, its output offset (long), its patch
 * offset (int) and its output rows and columns (two bytes): 4 floats. */
static size_t fwd_workspace(const rove_conv_geom *g) {
  tiling t;
  tiling_of(g, &t);
  return fwd_floats(g, &t) + 4 * (size_t)t.ncp;
}

/* The geometry of the input gradient as a forward convolution of dy. */
static void back_geom(const rove_conv_geom *g, rove_conv_geom *t) {
  *t = *g;
  t->C = t->Cg = g->K;
  t->K = t->Kg = g->C;
  t->H = g->OH;
  t->W = g->OW;
  t->OH = g->H;
  t->OW = g->W;
  t->pt = 2 - g->pt;
  t->pl = 2 - g->pl;
  t->R = t->C * 9;
  t->direct = 0;
}

size_t rove_wino_workspace(const rove_conv_geom *g) {
  rove_conv_geom t;
  back_geom(g, &t);
  size_t f = fwd_workspace(g), b = fwd_workspace(&t);
  return f > b ? f : b;
}

/* U_e = (G g G^T)[e] for every (k, c), packed as the GEMMs' A: point e's
 * matrix at up + e * Kp * C, element (k, c) at
 * [((k / MR) * C + c) * MR + k % MR], rows past K zero. Kernel (k, c)'s
 * tap f is w[k * sk + c * sc + f], or tap 8 - f with flip.
 *
 * One (k, c) in scalar code, the reference the lane form below repeats
 * operation for operation (adds and halvings only: no multiply-add for a
 * compiler to fuse, so the same bits). */
static void kernel_one(const float *s, int flip, float u[16]) {
  float f[9], t[4][3];
  for (int i = 0; i < 9; i++)
    f[i] = s[flip ? 8 - i : i];
  for (int j = 0; j < 3; j++) {
    t[0][j] = f[j];
    t[1][j] = 0.5f * ((f[j] + f[3 + j]) + f[6 + j]);
    t[2][j] = 0.5f * ((f[j] - f[3 + j]) + f[6 + j]);
    t[3][j] = f[6 + j];
  }
  for (int i = 0; i < 4; i++) {
    u[4 * i] = t[i][0];
    u[4 * i + 1] = 0.5f * ((t[i][0] + t[i][1]) + t[i][2]);
    u[4 * i + 2] = 0.5f * ((t[i][0] - t[i][1]) + t[i][2]);
    u[4 * i + 3] = t[i][2];
  }
}

/* 16 channels c .. c + 15 of kernel row k at once (lane l: channel c + l,
 * its taps at s + l * sc), written to blk[e][l * MR] for the 16 points e
 * (blk rows 16 * MR apart). */
static inline __attribute__((always_inline)) void
kernel_lanes(const float *restrict s, size_t sc, int flip,
             float *restrict blk) {
  float f[9][NR], t[4][3][NR];
  for (int i = 0; i < 9; i++)
    for (int l = 0; l < NR; l++)
      f[i][l] = s[(size_t)l * sc + (size_t)(flip ? 8 - i : i)];
  for (int j = 0; j < 3; j++)
    for (int l = 0; l < NR; l++) {
      t[0][j][l] = f[j][l];
      t[1][j][l] = 0.5f * ((f[j][l] + f[3 + j][l]) + f[6 + j][l]);
      t[2][j][l] = 0.5f * ((f[j][l] - f[3 + j][l]) + f[6 + j][l]);
      t[3][j][l] = f[6 + j][l];
    }
  for (int i = 0; i < 4; i++) {
    float *b0 = blk + (size_t)(4 * i) * NR * MR, *b1 = b0 + NR * MR,
          *b2 = b1 + NR * MR, *b3 = b2 + NR * MR;
    for (int l = 0; l < NR; l++) {
      b0[l * MR] = t[i][0][l];
      b1[l * MR] = 0.5f * ((t[i][0][l] + t[i][1][l]) + t[i][2][l]);
      b2[l * MR] = 0.5f * ((t[i][0][l] - t[i][1][l]) + t[i][2][l]);
      b3[l * MR] = t[i][2][l];
    }
  }
}

typedef void (*klanes_fn)(const float *, size_t, int, float *);
static void klanes_portable(const float *s, size_t sc, int flip, float *b) {
  kernel_lanes(s, sc, flip, b);
}
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void
klanes_avx2(const float *s, size_t sc, int flip, float *b) {
  kernel_lanes(s, sc, flip, b);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) static void
klanes_avx512(const float *s, size_t sc, int flip, float *b) {
  kernel_lanes(s, sc, flip, b);
}
#endif

/* Blocks of MR rows by 16 channels go through a small buffer, so that
 * each point's part of the packed matrix is written as one contiguous run
 * of 16 * MR floats. */
static void transform_kernel(int K, int C, const float *w, size_t sk, size_t sc,
                             int flip, float *up) {
  int kp = rove_gemm_up(K, MR);
  size_t pe = (size_t)kp * C;
  klanes_fn lanes = klanes_portable;
#if defined(__x86_64__)
  if (rove_cpu_level() >= ROVE_CPU_AVX512)
    lanes = klanes_avx512;
  else if (rove_cpu_simd())
    lanes = klanes_avx2;
#endif
  float blk[16 * NR * MR];
  for (int kb = 0; kb < kp; kb += MR) {
    int c = 0;
    for (; c + NR <= C; c += NR) {
      for (int kr = 0; kr < MR; kr++) {
        int k = kb + kr;
        if (k < K) {
          lanes(w + (size_t)k * sk + (size_t)c * sc, sc, flip, blk + kr);
        } else {
          for (int e = 0; e < 16; e++)
            for (int l = 0; l < NR; l++)
              blk[(size_t)e * NR * MR + l * MR + kr] = 0.0f;
        }
      }
      size_t at = (size_t)kb * C + (size_t)c * MR;
      for (int e = 0; e < 16; e++)
        memcpy(up + e * pe + at, blk + (size_t)e * NR * MR,
               sizeof(float) * NR * MR);
    }
    for (; c < C; c++) {
      size_t at = (size_t)kb * C + (size_t)c * MR;
      for (int kr = 0; kr < MR; kr++) {
        int k = kb + kr;
        float u[16];
        if (k < K)
          kernel_one(w + (size_t)k * sk + (size_t)c * sc, flip, u);
        for (int e = 0; e < 16; e++)
          up[e * pe + at + kr] = k < K ? u[e] : 0.0f;
      }
    }
  }
}

/* V of one panel (16 tiles) of one channel: tile l's patch is the 4 x 4
 * block at src + off[l] (rows PW apart); contiguous: the 16 tiles are
 * side by side in one row (off[l] = off[0] + 2 l). Point e's 16 values go
 * to v + e * pe. */
static inline __attribute__((always_inline)) void
in_panel(const float *restrict src, const int *restrict off, int contiguous,
         int PW, float *restrict v, size_t pe) {
  float d[4][4][NR];
  if (contiguous) {
    const float *s = src + off[0];
    for (int i = 0; i < 4; i++)
      for (int q = 0; q < 4; q++)
        for (int l = 0; l < NR; l++)
          d[i][q][l] = s[i * PW + 2 * l + q];
  } else {
    for (int i = 0; i < 4; i++)
      for (int q = 0; q < 4; q++)
        for (int l = 0; l < NR; l++)
          d[i][q][l] = src[off[l] + i * PW + q];
  }
  float t[4][4][NR];
  for (int q = 0; q < 4; q++)
    for (int l = 0; l < NR; l++) {
      t[0][q][l] = d[0][q][l] - d[2][q][l];
      t[1][q][l] = d[1][q][l] + d[2][q][l];
      t[2][q][l] = d[2][q][l] - d[1][q][l];
      t[3][q][l] = d[1][q][l] - d[3][q][l];
    }
  for (int i = 0; i < 4; i++) {
    float *v0 = v + (size_t)(4 * i) * pe, *v1 = v0 + pe, *v2 = v1 + pe,
          *v3 = v2 + pe;
    for (int l = 0; l < NR; l++) {
      v0[l] = t[i][0][l] - t[i][2][l];
      v1[l] = t[i][1][l] + t[i][2][l];
      v2[l] = t[i][2][l] - t[i][1][l];
      v3[l] = t[i][1][l] - t[i][3][l];
    }
  }
}

/* Y = A^T m A of one panel of one output channel: point e's products of
 * the 16 tiles at m + e * pe; tile l's 2 x 2 outputs at y + off[l] (rows
 * OW apart), only the first nr[l] rows and nc[l] columns of it inside
 * the map; contiguous: all 16 whole and side by side in one row. Written,
 * plus bias when bias_on, or added with acc. */
static inline __attribute__((always_inline)) void
out_panel(const float *restrict m, size_t pe, float *restrict y,
          const long *restrict off, const unsigned char *restrict nr,
          const unsigned char *restrict nc, int contiguous, int OW, int bias_on,
          float bias, int acc) {
  float t[2][4][NR], o[2][2][NR];
  for (int q = 0; q < 4; q++) {
    const float *m0 = m + (size_t)q * pe, *m1 = m0 + 4 * pe, *m2 = m1 + 4 * pe,
                *m3 = m2 + 4 * pe;
    for (int l = 0; l < NR; l++) {
      t[0][q][l] = (m0[l] + m1[l]) + m2[l];
      t[1][q][l] = (m1[l] - m2[l]) - m3[l];
    }
  }
  for (int i = 0; i < 2; i++)
    for (int l = 0; l < NR; l++) {
      o[i][0][l] = (t[i][0][l] + t[i][1][l]) + t[i][2][l];
      o[i][1][l] = (t[i][1][l] - t[i][2][l]) - t[i][3][l];
    }
  if (contiguous) {
    float *r = y + off[0];
    for (int i = 0; i < 2; i++)
      for (int l = 0; l < NR; l++)
        for (int q = 0; q < 2; q++) {
          float *p = &r[i * OW + 2 * l + q];
          *p = acc ? *p + o[i][q][l] : bias_on ? o[i][q][l] + bias : o[i][q][l];
        }
    return;
  }
  for (int l = 0; l < NR; l++)
    for (int i = 0; i < nr[l]; i++)
      for (int q = 0; q < nc[l]; q++) {
        float *p = &y[off[l] + i * OW + q];
        *p = acc ? *p + o[i][q][l] : bias_on ? o[i][q][l] + bias : o[i][q][l];
      }
}

typedef void (*in_fn)(const float *, const int *, int, int, float *, size_t);
typedef void (*out_fn)(const float *, size_t, float *, const long *,
                       const unsigned char *, const unsigned char *, int, int,
                       int, float, int);

static void in_portable(const float *s, const int *o, int c, int PW, float *v,
                        size_t pe) {
  in_panel(s, o, c, PW, v, pe);
}
static void out_portable(const float *m, size_t pe, float *y, const long *o,
                         const unsigned char *nr, const unsigned char *nc,
                         int c, int OW, int bo, float b, int acc) {
  out_panel(m, pe, y, o, nr, nc, c, OW, bo, b, acc);
}
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void
in_avx2(const float *s, const int *o, int c, int PW, float *v, size_t pe) {
  in_panel(s, o, c, PW, v, pe);
}
__attribute__((target("avx2,fma"))) static void
out_avx2(const float *m, size_t pe, float *y, const long *o,
         const unsigned char *nr, const unsigned char *nc, int c, int OW,
         int bo, float b, int acc) {
  out_panel(m, pe, y, o, nr, nc, c, OW, bo, b, acc);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) static void
in_avx512(const float *s, const int *o, int c, int PW, float *v, size_t pe) {
  in_panel(s, o, c, PW, v, pe);
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma"))) static void
out_avx512(const float *m, size_t pe, float *y, const long *o,
           const unsigned char *nr, const unsigned char *nc, int c, int OW,
           int bo, float b, int acc) {
  out_panel(m, pe, y, o, nr, nc, c, OW, bo, b, acc);
}
#endif

/* Copies the 4 input rows of each tile row [gr0, gr0 + rows) of channel c
 * into pad (4 x PW floats per tile row), zero outside the input. */
static void pad_rows(const rove_conv_geom *g, const tiling *t, const float *x,
                     int c, int gr0, int rows, float *pad) {
  int H = g->H, W = g->W;
  for (int r = 0; r < rows; r++) {
    int gr = gr0 + r, b = gr / t->TH, th = gr % t->TH;
    const float *xc = x + ((size_t)b * g->C + c) * H * W;
    for (int i = 0; i < 4; i++) {
      float *d = pad + ((size_t)r * 4 + i) * t->PW;
      int ih = 2 * th + i - g->pt;
      if (ih < 0 || ih >= H) {
        memset(d, 0, sizeof(float) * (size_t)t->PW);
        continue;
      }
      /* Padded column s holds input column s - pl. */
      int s0 = g->pl > 0 ? g->pl : 0, s1 = W + g->pl;
      if (s1 > t->PW)
        s1 = t->PW;
      if (s1 < 0)
        s1 = 0;
      if (s0 > s1)
        s0 = s1;
      if (s0 > 0)
        memset(d, 0, sizeof(float) * (size_t)s0);
      if (s1 > s0)
        memcpy(d + s0, xc + (size_t)ih * W + (s0 - g->pl),
               sizeof(float) * (size_t)(s1 - s0));
      if (t->PW > s1)
        memset(d + s1, 0, sizeof(float) * (size_t)(t->PW - s1));
    }
  }
}

/* The forward of g; U from w (taps at w[k * sk + c * sc], reversed with
 * flip) into the workspace, or already transformed in u. */
static void forward(const rove_conv_geom *g, const float *w, size_t sk,
                    size_t sc, int flip, const float *u, const float *bias,
                    int B, const float *x, float *y, int acc, float *ws) {
  tiling t;
  tiling_of(g, &t);
  int C = g->C, K = g->K, kp = rove_gemm_up(K, MR), OH = g->OH, OW = g->OW;
  float *up = ws, *vp = up + (size_t)16 * kp * C;
  float *mp = vp + (size_t)16 * C * t.ncp;
  float *pad = mp + (size_t)16 * kp * t.ncp;
  long *yoff = (long *)(ws + fwd_floats(g, &t));
  int *ioff = (int *)(yoff + t.ncp);
  unsigned char *lim = (unsigned char *)(ioff + t.ncp); /* rows, columns */
  in_fn in = in_portable;
  out_fn out = out_portable;
#if defined(__x86_64__)
  if (rove_cpu_level() >= ROVE_CPU_AVX512) {
    in = in_avx512;
    out = out_avx512;
  } else if (rove_cpu_simd()) {
    in = in_avx2;
    out = out_avx2;
  }
#endif
  if (u)
    up = (float *)u; /* read only */
  else
    transform_kernel(K, C, w, sk, sc, flip, up);
  int total = B * t.TH;
  size_t plane = (size_t)OH * OW;
  for (int gr0 = 0; gr0 < total; gr0 += t.rows) {
    int rows = total - gr0 < t.rows ? total - gr0 : t.rows;
    int nc = rows * t.TW, ncc = rove_gemm_up(nc, NR);
    size_t pv = (size_t)C * ncc, pm = (size_t)kp * ncc;
    /* Each column's patch in pad and its outputs in y (of channel 0);
     * columns past nc repeat the last tile (computed, never written). */
    for (int j = 0; j < ncc; j++) {
      int jj = j < nc ? j : nc - 1, r = jj / t.TW, tw = jj % t.TW;
      int gr = gr0 + r, b = gr / t.TH, th = gr % t.TH;
      ioff[j] = r * 4 * t.PW + 2 * tw;
      yoff[j] = (long)b * K * (long)plane + 2L * th * OW + 2 * tw;
      lim[2 * j] = (unsigned char)(OH - 2 * th < 2 ? OH - 2 * th : 2);
      lim[2 * j + 1] = (unsigned char)(OW - 2 * tw < 2 ? OW - 2 * tw : 2);
    }
    memset(pad + (size_t)rows * 4 * t.PW, 0, sizeof(float) * NR);
    for (int c = 0; c < C; c++) {
      pad_rows(g, &t, x, c, gr0, rows, pad);
      for (int j0 = 0; j0 < ncc; j0 += NR) {
        int contig = ioff[j0 + NR - 1] == ioff[j0] + 2 * (NR - 1);
        in(pad, ioff + j0, contig, t.PW, vp + (size_t)j0 * C + (size_t)c * NR,
           pv);
      }
    }
    for (int e = 0; e < 16; e++)
      rove_gemm_packed(kp, ncc, C, up + (size_t)e * kp * C, vp + e * pv,
                       mp + e * pm, ncc);
    for (int j0 = 0; j0 < ncc; j0 += NR) {
      int whole = 1;
      for (int l = 0; l < NR; l++)
        whole &= j0 + l < nc && lim[2 * (j0 + l)] == 2 &&
                 lim[2 * (j0 + l) + 1] == 2 && yoff[j0 + l] == yoff[j0] + 2 * l;
      /* Stack copies of the limits: padding columns write nothing. */
      unsigned char nr[NR], ncl[NR];
      for (int l = 0; l < NR; l++) {
        int in_chunk = j0 + l < nc;
        nr[l] = in_chunk ? lim[2 * (j0 + l)] : 0;
        ncl[l] = in_chunk ? lim[2 * (j0 + l) + 1] : 0;
      }
      for (int k = 0; k < K; k++)
        out(mp + (size_t)k * ncc + j0, pm, y + (size_t)k * plane, yoff + j0, nr,
            ncl, whole, OW, bias != NULL, bias ? bias[k] : 0.0f, acc);
    }
  }
}

/* Floats of the forward's and the backward's U. */
static size_t u_fwd(const rove_conv_geom *g) {
  return (size_t)16 * rove_gemm_up(g->K, MR) * g->C;
}
static size_t u_bwd(const rove_conv_geom *g) {
  return (size_t)16 * rove_gemm_up(g->C, MR) * g->K;
}

size_t rove_wino_prep_size(const rove_conv_geom *g) {
  return eligible(g) ? u_fwd(g) + u_bwd(g) : 0;
}

void rove_wino_prepare(const rove_conv_geom *g, const float *w, float *prep) {
  if (!eligible(g))
    return;
  transform_kernel(g->K, g->C, w, (size_t)g->C * 9, 9, 0, prep);
  /* Kernel (c, k) of the transposed, flipped convolution is w[k][c]
   * reversed. */
  transform_kernel(g->C, g->K, w, 9, (size_t)g->C * 9, 1, prep + u_fwd(g));
}

void rove_wino_forward(const rove_conv_geom *g, const float *w,
                       const float *prep, const float *bias, int B,
                       const float *x, float *y, int acc, float *ws) {
  forward(g, w, (size_t)g->C * 9, 9, 0, prep, bias, B, x, y, acc, ws);
}

void rove_wino_backward_x(const rove_conv_geom *g, const float *w,
                          const float *prep, int B, const float *dy, float *dx,
                          float *ws) {
  rove_conv_geom t;
  back_geom(g, &t);
  forward(&t, w, 9, (size_t)g->C * 9, 1, prep ? prep + u_fwd(g) : NULL, NULL, B,
          dy, dx, 1, ws);
}
