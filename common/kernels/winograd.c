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
 * the whole batch are the GEMMs' columns, taken a chunk at a time; a
 * column depends on its own patch only, so neither the batch nor the
 * chunking changes a bit. */
#include "common/kernels/winograd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
   * O(C + K) per tile against O(C K) multiplies saved, so many channels;
   * the forward also wants a map of at least 8 x 8. */
  int ch = g->C < g->K ? g->C : g->K;
  return ch >= 256 && (backward || g->OH * g->OW >= 64);
}

/* Columns (tiles) per chunk: about 32K floats of V and M per point. */
static int chunk_cols(int C, int Kp) {
  int n = 32768 / (C + Kp);
  if (n < NR)
    n = NR;
  if (n > 512)
    n = 512;
  return rove_gemm_up(n, NR);
}

/* Floats the forward of g needs: U (16 x Kp x C), V (16 x C x ncp),
 * M (16 x Kp x ncp). */
static size_t fwd_workspace(const rove_conv_geom *g) {
  size_t kp = (size_t)rove_gemm_up(g->K, MR), C = (size_t)g->C;
  size_t ncp = (size_t)chunk_cols(g->C, (int)kp);
  return 16 * (kp * C + C * ncp + kp * ncp);
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
  size_t f = fwd_workspace(g), b = fwd_workspace(&t) + (size_t)g->K * g->C * 9;
  return f > b ? f : b;
}

/* U_e = (G g G^T)[e] for every (k, c), packed as the GEMMs' A: point e's
 * matrix at up + e * Kp * C, element (k, c) at
 * [((k / MR) * C + c) * MR + k % MR], rows past K zero. */
static void transform_kernel(const rove_conv_geom *g, const float *w,
                             float *up) {
  int K = g->K, C = g->C, kp = rove_gemm_up(K, MR);
  size_t pe = (size_t)kp * C;
  memset(up, 0, sizeof(float) * 16 * pe);
  for (int k = 0; k < K; k++)
    for (int c = 0; c < C; c++) {
      const float *f = w + ((size_t)k * C + c) * 9;
      float t[4][3], u[4][4];
      for (int j = 0; j < 3; j++) {
        t[0][j] = f[j];
        t[1][j] = 0.5f * ((f[j] + f[3 + j]) + f[6 + j]);
        t[2][j] = 0.5f * ((f[j] - f[3 + j]) + f[6 + j]);
        t[3][j] = f[6 + j];
      }
      for (int i = 0; i < 4; i++) {
        u[i][0] = t[i][0];
        u[i][1] = 0.5f * ((t[i][0] + t[i][1]) + t[i][2]);
        u[i][2] = 0.5f * ((t[i][0] - t[i][1]) + t[i][2]);
        u[i][3] = t[i][2];
      }
      size_t at = ((size_t)(k / MR) * C + c) * MR + k % MR;
      for (int e = 0; e < 16; e++)
        up[e * pe + at] = u[e / 4][e % 4];
    }
}

/* V_e for the columns [n0, n0 + nc) (tile n = (b, th, tw)), packed as B
 * panels of the chunk: point e's at vp + e * C * ncp, element (c, j) at
 * [((j / NR) * C + c) * NR + j % NR], columns past nc zero. */
static void transform_input(const rove_conv_geom *g, const float *x, int n0,
                            int nc, int ncp, float *vp) {
  int C = g->C, H = g->H, W = g->W, TW = (g->OW + 1) / 2;
  int T = ((g->OH + 1) / 2) * TW;
  size_t pe = (size_t)C * ncp;
  /* Channel by channel, the chunk's tiles in order: the patches of one
   * plane are read close together, and each point's values of a panel
   * are written contiguously. */
  for (int c = 0; c < C; c++)
    for (int j = 0; j < ncp; j++) {
      size_t at = ((size_t)(j / NR) * C + c) * NR + j % NR;
      if (j >= nc) {
        for (int e = 0; e < 16; e++)
          vp[e * pe + at] = 0.0f;
        continue;
      }
      int n = n0 + j, b = n / T, tt = n % T, th = tt / TW, tw = tt % TW;
      int r0 = 2 * th - g->pt, c0 = 2 * tw - g->pl;
      const float *xc = x + ((size_t)b * C + c) * H * W;
      float d[4][4], t[4][4];
      if (r0 >= 0 && c0 >= 0 && r0 + 4 <= H && c0 + 4 <= W) {
        for (int i = 0; i < 4; i++)
          memcpy(d[i], xc + (size_t)(r0 + i) * W + c0, sizeof d[i]);
      } else {
        for (int i = 0; i < 4; i++)
          for (int q = 0; q < 4; q++) {
            int r = r0 + i, s = c0 + q;
            d[i][q] = r >= 0 && r < H && s >= 0 && s < W ? xc[(size_t)r * W + s]
                                                         : 0.0f;
          }
      }
      for (int q = 0; q < 4; q++) {
        t[0][q] = d[0][q] - d[2][q];
        t[1][q] = d[1][q] + d[2][q];
        t[2][q] = d[2][q] - d[1][q];
        t[3][q] = d[1][q] - d[3][q];
      }
      for (int i = 0; i < 4; i++) {
        vp[(4 * i + 0) * pe + at] = t[i][0] - t[i][2];
        vp[(4 * i + 1) * pe + at] = t[i][1] + t[i][2];
        vp[(4 * i + 2) * pe + at] = t[i][2] - t[i][1];
        vp[(4 * i + 3) * pe + at] = t[i][1] - t[i][3];
      }
    }
}

/* Y = A^T m A for the chunk's columns, written to y (or added). */
static void transform_output(const rove_conv_geom *g, const float *mp, int n0,
                             int nc, int ncp, const float *bias, int acc,
                             float *y) {
  int K = g->K, OH = g->OH, OW = g->OW, TW = (OW + 1) / 2;
  int T = ((OH + 1) / 2) * TW;
  size_t pe = (size_t)rove_gemm_up(K, MR) * ncp;
  for (int k = 0; k < K; k++) {
    const float *mk = mp + (size_t)k * ncp;
    for (int j = 0; j < nc; j++) {
      int n = n0 + j, b = n / T, tt = n % T, th = tt / TW, tw = tt % TW;
      int oh = 2 * th, ow = 2 * tw;
      float m[16], t[2][4];
      for (int e = 0; e < 16; e++)
        m[e] = mk[e * pe + j];
      for (int q = 0; q < 4; q++) {
        t[0][q] = (m[q] + m[4 + q]) + m[8 + q];
        t[1][q] = (m[4 + q] - m[8 + q]) - m[12 + q];
      }
      float *yk = y + ((size_t)b * K + k) * OH * OW;
      for (int i = 0; i < 2 && oh + i < OH; i++) {
        float v[2] = {(t[i][0] + t[i][1]) + t[i][2],
                      (t[i][1] - t[i][2]) - t[i][3]};
        for (int q = 0; q < 2 && ow + q < OW; q++) {
          float *o = &yk[(size_t)(oh + i) * OW + ow + q];
          if (acc)
            *o += v[q];
          else
            *o = bias ? v[q] + bias[k] : v[q];
        }
      }
    }
  }
}

void rove_wino_forward(const rove_conv_geom *g, const float *w,
                       const float *bias, int B, const float *x, float *y,
                       int acc, float *ws) {
  int C = g->C, kp = rove_gemm_up(g->K, MR), ncp = chunk_cols(C, kp);
  int N = B * ((g->OH + 1) / 2) * ((g->OW + 1) / 2);
  float *up = ws, *vp = up + (size_t)16 * kp * C;
  float *mp = vp + (size_t)16 * C * ncp;
  transform_kernel(g, w, up);
  for (int n0 = 0; n0 < N; n0 += ncp) {
    int nc = N - n0 < ncp ? N - n0 : ncp;
    int ncc = rove_gemm_up(nc, NR);
    transform_input(g, x, n0, nc, ncc, vp);
    for (int e = 0; e < 16; e++)
      rove_gemm_packed(kp, ncc, C, up + (size_t)e * kp * C,
                       vp + (size_t)e * C * ncc, mp + (size_t)e * kp * ncc,
                       ncc);
    transform_output(g, mp, n0, nc, ncc, bias, acc, y);
  }
}

void rove_wino_backward_x(const rove_conv_geom *g, const float *w, int B,
                          const float *dy, float *dx, float *ws) {
  rove_conv_geom t;
  back_geom(g, &t);
  /* wf[c][k][f] = w[k][c][8 - f]: transposed and flipped. */
  float *wf = ws, *rest = ws + (size_t)g->K * g->C * 9;
  for (int c = 0; c < g->C; c++)
    for (int k = 0; k < g->K; k++)
      for (int f = 0; f < 9; f++)
        wf[((size_t)c * g->K + k) * 9 + f] =
            w[((size_t)k * g->C + c) * 9 + 8 - f];
  rove_wino_forward(&t, wf, NULL, B, dy, dx, 1, rest);
}
