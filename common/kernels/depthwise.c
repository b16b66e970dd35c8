/* depthwise.c - direct depthwise convolution (depthwise.h): a zero-padded
 * copy of one plane, then per output row an fmaf chain over the taps for
 * each output, 16 (AVX-512) or 8 (AVX2+FMA) outputs at a time, or one at
 * a time in portable C; the three give the same bits. */
#include "common/kernels/depthwise.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/kernels/cpu.h"

#define MAXK 7 /* largest kernel side taken */

static atomic_int enabled = 1; /* rove_dw_enable */

int rove_dw_ok(const rove_conv_geom *g) {
  return g->G == g->C && g->K == g->C && g->Cg == 1 && g->Kg == 1 &&
         g->dh == 1 && g->dw == 1 && g->kh <= MAXK && g->kw <= MAXK &&
         g->sh >= 1 && g->sw >= 1;
}

int rove_dw_use(const rove_conv_geom *g) {
  return rove_dw_ok(g) && atomic_load_explicit(&enabled, memory_order_relaxed);
}

/* The padded planes: forward (and weight gradient) reads x padded to
 * Hp x Wp with x at (pt, pl); the stride-1 backward reads dy padded to
 * (H + kh - 1) x (W + kw - 1) with dy at (kh - 1 - pt, kw - 1 - pl). */
static void fwd_dims(const rove_conv_geom *g, int *hp, int *wp) {
  *hp = (g->OH - 1) * g->sh + g->kh;
  *wp = (g->OW - 1) * g->sw + g->kw;
}

/* ---- channels as lanes --------------------------------------------------
 *
 * Small maps (narrower than a vector) and strided convolutions leave the
 * row kernels little to work with (a row call per 2-4 outputs; strided
 * taps spread over column phases): there the channels are the lanes.
 * Sixteen channels of one example are copied transposed (pixel-major,
 * channel-minor), every output of the block is the same chain as in the
 * other forms for 16 channels at once, and the block is copied back. The
 * portable lane loops are plain C with fmaf; the AVX2 and AVX-512 forms
 * are the same loops with explicit FMAs over the 16 contiguous lanes (the
 * compiler keeps fmaf loops scalar). Every lane does exactly the scalar
 * chain, so the bits are those of the other forms. Channels past C in the
 * last block are zero lanes, never stored. */
#define CL 16

static int lanes_fit(const rove_conv_geom *g) {
  return (long)g->H * g->W <= 4096 && (long)g->OH * g->OW <= 4096;
}

static size_t lanes_workspace(const rove_conv_geom *g) {
  if (!lanes_fit(g))
    return 0;
  return (size_t)CL * ((size_t)g->H * g->W + (size_t)g->OH * g->OW +
                       (size_t)g->kh * g->kw + 1);
}

/* src (n planes of len floats, plane stride ps) -> dst[p * CL + l], zero
 * lanes from n on; and back. */
static void to_lanes(const float *src, size_t ps, int n, int len, float *dst) {
  for (int p = 0; p < len; p++)
    for (int l = 0; l < CL; l++)
      dst[(size_t)p * CL + l] = l < n ? src[(size_t)l * ps + p] : 0.0f;
}

static void from_lanes(const float *src, int n, int len, float *dst,
                       size_t ps) {
  for (int l = 0; l < n; l++)
    for (int p = 0; p < len; p++)
      dst[(size_t)l * ps + p] = src[(size_t)p * CL + l];
}

/* Forward of one block: xt (H x W pixels of CL lanes) -> yt; wt[t][l] the
 * lanes' taps; bias (CL lanes) added when has_bias. Taps outside x are
 * skipped, which is the padded forms' fmaf(w, 0, s) = s. */
static inline __attribute__((always_inline)) void
lanes_fwd_body(const rove_conv_geom *g, const float *restrict wt,
               const float *restrict bt, int has_bias, const float *restrict xt,
               float *restrict yt) {
  for (int oh = 0; oh < g->OH; oh++)
    for (int ow = 0; ow < g->OW; ow++) {
      float s[CL];
      for (int l = 0; l < CL; l++)
        s[l] = 0.0f;
      for (int i = 0; i < g->kh; i++) {
        int ih = oh * g->sh + i - g->pt;
        if (ih < 0 || ih >= g->H)
          continue;
        for (int j = 0; j < g->kw; j++) {
          int iw = ow * g->sw + j - g->pl;
          if (iw < 0 || iw >= g->W)
            continue;
          const float *xv = xt + ((size_t)ih * g->W + iw) * CL;
          const float *wv = wt + (size_t)(i * g->kw + j) * CL;
          for (int l = 0; l < CL; l++)
            s[l] = fmaf(wv[l], xv[l], s[l]);
        }
      }
      float *yv = yt + ((size_t)oh * g->OW + ow) * CL;
      for (int l = 0; l < CL; l++)
        yv[l] = has_bias ? s[l] + bt[l] : s[l];
    }
}

/* Input gradient of one block, the scatter's order: for each dy term in
 * (oh, ow) order, its taps in (i, j) order, dxt = fmaf(w, dy, dxt). */
static inline __attribute__((always_inline)) void
lanes_bwd_body(const rove_conv_geom *g, const float *restrict wt,
               const float *restrict dyt, float *restrict dxt) {
  for (int oh = 0; oh < g->OH; oh++)
    for (int ow = 0; ow < g->OW; ow++) {
      const float *d = dyt + ((size_t)oh * g->OW + ow) * CL;
      for (int i = 0; i < g->kh; i++) {
        int ih = oh * g->sh + i - g->pt;
        if (ih < 0 || ih >= g->H)
          continue;
        for (int j = 0; j < g->kw; j++) {
          int iw = ow * g->sw + j - g->pl;
          if (iw < 0 || iw >= g->W)
            continue;
          float *xv = dxt + ((size_t)ih * g->W + iw) * CL;
          const float *wv = wt + (size_t)(i * g->kw + j) * CL;
          for (int l = 0; l < CL; l++)
            xv[l] = fmaf(wv[l], d[l], xv[l]);
        }
      }
    }
}

typedef void (*lfwd_fn)(const rove_conv_geom *, const float *, const float *,
                        int, const float *, float *);
typedef void (*lbwd_fn)(const rove_conv_geom *, const float *, const float *,
                        float *);
static void lfwd_portable(const rove_conv_geom *g, const float *wt,
                          const float *bt, int hb, const float *xt, float *yt) {
  lanes_fwd_body(g, wt, bt, hb, xt, yt);
}
static void lbwd_portable(const rove_conv_geom *g, const float *wt,
                          const float *dyt, float *dxt) {
  lanes_bwd_body(g, wt, dyt, dxt);
}
#if defined(__x86_64__)
/* The same chains with explicit FMAs (the compiler does not vectorise the
 * fmaf lane loops): one zmm, or two ymm, holds the 16 lanes. */
#define LANES_LOOP(FWD_TAP, BWD_TAP)                                           \
  for (int oh = 0; oh < g->OH; oh++)                                           \
    for (int ow = 0; ow < g->OW; ow++) {                                       \
      size_t q = ((size_t)oh * g->OW + ow) * CL;                               \
      LANES_BEGIN                                                              \
      for (int i = 0; i < g->kh; i++) {                                        \
        int ih = oh * g->sh + i - g->pt;                                       \
        if (ih < 0 || ih >= g->H)                                              \
          continue;                                                            \
        for (int j = 0; j < g->kw; j++) {                                      \
          int iw = ow * g->sw + j - g->pl;                                     \
          if (iw < 0 || iw >= g->W)                                            \
            continue;                                                          \
          size_t p = ((size_t)ih * g->W + iw) * CL;                            \
          const float *wv = wt + (size_t)(i * g->kw + j) * CL;                 \
          FWD_TAP BWD_TAP                                                      \
        }                                                                      \
      }                                                                        \
      LANES_END                                                                \
    }

__attribute__((target("avx512f,avx2,fma"))) static void
lfwd_avx512(const rove_conv_geom *g, const float *wt, const float *bt, int hb,
            const float *xt, float *yt) {
  __m512 bv = _mm512_loadu_ps(bt), s;
#define LANES_BEGIN s = _mm512_setzero_ps();
#define LANES_END _mm512_storeu_ps(yt + q, hb ? _mm512_add_ps(s, bv) : s);
  LANES_LOOP(
      s = _mm512_fmadd_ps(_mm512_loadu_ps(wv), _mm512_loadu_ps(xt + p), s);, )
#undef LANES_BEGIN
#undef LANES_END
}

__attribute__((target("avx512f,avx2,fma"))) static void
lbwd_avx512(const rove_conv_geom *g, const float *wt, const float *dyt,
            float *dxt) {
  __m512 d;
#define LANES_BEGIN d = _mm512_loadu_ps(dyt + q);
#define LANES_END
  LANES_LOOP(
      , _mm512_storeu_ps(dxt + p, _mm512_fmadd_ps(_mm512_loadu_ps(wv), d,
                                                  _mm512_loadu_ps(dxt + p)));)
#undef LANES_BEGIN
#undef LANES_END
}

__attribute__((target("avx2,fma"))) static void
lfwd_avx2(const rove_conv_geom *g, const float *wt, const float *bt, int hb,
          const float *xt, float *yt) {
  __m256 b0 = _mm256_loadu_ps(bt), b1 = _mm256_loadu_ps(bt + 8), s0, s1;
#define LANES_BEGIN                                                            \
  s0 = _mm256_setzero_ps();                                                    \
  s1 = _mm256_setzero_ps();
#define LANES_END                                                              \
  _mm256_storeu_ps(yt + q, hb ? _mm256_add_ps(s0, b0) : s0);                   \
  _mm256_storeu_ps(yt + q + 8, hb ? _mm256_add_ps(s1, b1) : s1);
  LANES_LOOP(
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(wv), _mm256_loadu_ps(xt + p), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(wv + 8), _mm256_loadu_ps(xt + p + 8),
                           s1);
      , )
#undef LANES_BEGIN
#undef LANES_END
}

__attribute__((target("avx2,fma"))) static void
lbwd_avx2(const rove_conv_geom *g, const float *wt, const float *dyt,
          float *dxt) {
  __m256 d0, d1;
#define LANES_BEGIN                                                            \
  d0 = _mm256_loadu_ps(dyt + q);                                               \
  d1 = _mm256_loadu_ps(dyt + q + 8);
#define LANES_END
  LANES_LOOP(
      , _mm256_storeu_ps(dxt + p, _mm256_fmadd_ps(_mm256_loadu_ps(wv), d0,
                                                  _mm256_loadu_ps(dxt + p)));
      _mm256_storeu_ps(dxt + p + 8,
                       _mm256_fmadd_ps(_mm256_loadu_ps(wv + 8), d1,
                                       _mm256_loadu_ps(dxt + p + 8)));)
#undef LANES_BEGIN
#undef LANES_END
}
#undef LANES_LOOP
#endif

/* The lane weights (and bias) of channels [c0, c0 + n). */
static void lane_weights(const rove_conv_geom *g, const float *w,
                         const float *bias, int c0, int n, float *wt,
                         float *bt) {
  int taps = g->kh * g->kw;
  for (int t = 0; t < taps; t++)
    for (int l = 0; l < CL; l++)
      wt[(size_t)t * CL + l] = l < n ? w[(size_t)(c0 + l) * taps + t] : 0.0f;
  for (int l = 0; l < CL; l++)
    bt[l] = bias && l < n ? bias[c0 + l] : 0.0f;
}

/* The forward (y from x; dx and dy NULL) or the input gradient (dx += from
 * dy; x and y NULL) through the lanes: per block of 16 channels and
 * example, the planes of x (or dx) and y (or dy) are held transposed. */
static void lanes_run(const rove_conv_geom *g, const float *w,
                      const float *bias, int B, const float *x, float *y,
                      const float *dy, float *dx, float *ws) {
  lfwd_fn ff = lfwd_portable;
  lbwd_fn fb = lbwd_portable;
#if defined(__x86_64__)
  if (rove_cpu_level() >= 2) {
    ff = lfwd_avx512;
    fb = lbwd_avx512;
  } else if (rove_cpu_level() >= 1) {
    ff = lfwd_avx2;
    fb = lbwd_avx2;
  }
#endif
  size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->OH * g->OW;
  float *xt = ws, *yt = xt + CL * plane, *wt = yt + CL * oplane;
  float *bt = wt + (size_t)CL * g->kh * g->kw;
  for (int c0 = 0; c0 < g->C; c0 += CL) {
    int n = g->C - c0 < CL ? g->C - c0 : CL;
    lane_weights(g, w, bias, c0, n, wt, bt);
    for (int b = 0; b < B; b++) {
      size_t xo = ((size_t)b * g->C + c0) * plane;
      size_t yo = ((size_t)b * g->C + c0) * oplane;
      if (!dx) {
        to_lanes(x + xo, plane, n, (int)plane, xt);
        ff(g, wt, bt, bias != NULL, xt, yt);
        from_lanes(yt, n, (int)oplane, y + yo, oplane);
      } else {
        to_lanes(dx + xo, plane, n, (int)plane, xt);
        to_lanes(dy + yo, oplane, n, (int)oplane, yt);
        fb(g, wt, yt, xt);
        from_lanes(xt, n, (int)plane, dx + xo, plane);
      }
    }
  }
}

size_t rove_dw_workspace(const rove_conv_geom *g) {
  int hp, wp;
  fwd_dims(g, &hp, &wp);
  size_t f = (size_t)hp * (size_t)wp;
  if (g->sw > 1) /* and its column phases */
    f += (size_t)g->sw * hp * (size_t)((wp + g->sw - 1) / g->sw);
  size_t b = (size_t)(g->H + g->kh - 1) * (size_t)(g->W + g->kw - 1);
  size_t l = lanes_workspace(g);
  f = f > b ? f : b;
  return f > l ? f : l;
}

/* dst (hp x wp) = src (h x w) placed at (top, left), zeros elsewhere;
 * top and left may be negative (the part outside is cropped). */
static void pad_plane(const float *src, int h, int w, float *dst, int hp,
                      int wp, int top, int left) {
  for (int r = 0; r < hp; r++) {
    float *d = dst + (size_t)r * wp;
    int sr = r - top;
    if (sr < 0 || sr >= h) {
      memset(d, 0, sizeof(float) * (size_t)wp);
      continue;
    }
    const float *s = src + (size_t)sr * w;
    int c0 = left > 0 ? left : 0;           /* first column copied */
    int c1 = left + w < wp ? left + w : wp; /* one past the last */
    if (c0 > wp)
      c0 = wp;
    if (c1 < c0)
      c1 = c0;
    memset(d, 0, sizeof(float) * (size_t)c0);
    if (c1 > c0)
      memcpy(d + c0, s + (c0 - left), sizeof(float) * (size_t)(c1 - c0));
    memset(d + c1, 0, sizeof(float) * (size_t)(wp - c1));
  }
}

/* ---- one output row: out[o] = chain over the taps t of w[t] * tp[t][o],
 * then + bias (bias non-NULL), or added to out (acc). tp[t] is the tap's
 * input run for this row, unit stride (see tap_runs). */

#define MAXT (MAXK * MAXK)

static void row_portable(const float *const *tp, const float *w, int taps,
                         int n, float *out, const float *bias, int acc) {
  for (int o = 0; o < n; o++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++)
      s = fmaf(w[t], tp[t][o], s);
    if (acc)
      out[o] += s;
    else
      out[o] = bias ? s + *bias : s;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void
row_avx2(const float *const *tp, const float *w, int taps, int n, float *out,
         const float *bias, int acc) {
  int o = 0;
  for (; o + 8 <= n; o += 8) {
    __m256 s = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++)
      s = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), _mm256_loadu_ps(tp[t] + o), s);
    if (acc)
      s = _mm256_add_ps(_mm256_loadu_ps(out + o), s);
    else if (bias)
      s = _mm256_add_ps(s, _mm256_set1_ps(*bias));
    _mm256_storeu_ps(out + o, s);
  }
  if (o < n) { /* the last outputs one at a time: the same chains */
    const float *rest[MAXT];
    for (int t = 0; t < taps; t++)
      rest[t] = tp[t] + o;
    row_portable(rest, w, taps, n - o, out + o, bias, acc);
  }
}

__attribute__((target("avx512f,avx2,fma"))) static void
row_avx512(const float *const *tp, const float *w, int taps, int n, float *out,
           const float *bias, int acc) {
  int o = 0;
  for (; o + 16 <= n; o += 16) {
    __m512 s = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++)
      s = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_loadu_ps(tp[t] + o), s);
    if (acc)
      s = _mm512_add_ps(_mm512_loadu_ps(out + o), s);
    else if (bias)
      s = _mm512_add_ps(s, _mm512_set1_ps(*bias));
    _mm512_storeu_ps(out + o, s);
  }
  if (o < n) {
    const float *rest[MAXT];
    for (int t = 0; t < taps; t++)
      rest[t] = tp[t] + o;
    row_avx2(rest, w, taps, n - o, out + o, bias, acc);
  }
}
#endif

/* ---- the form ----------------------------------------------------------- */

void rove_dw_enable(int on) {
  atomic_store_explicit(&enabled, on != 0, memory_order_relaxed);
}

typedef void (*row_fn)(const float *const *, const float *, int, int, float *,
                       const float *, int);

static row_fn row_kernel(void) {
#if defined(__x86_64__)
  switch (rove_cpu_level()) {
  case 2: return row_avx512;
  case 1: return row_avx2;
  default: break;
  }
#endif
  return row_portable;
}

/* ---- forward ---------------------------------------------------------- */

/* The padded plane split by column phase for a horizontal stride sw > 1:
 * phase p holds columns p, p + sw, p + 2 sw, ... of each row, wq wide, so
 * a tap's inputs along an output row are a unit-stride run. */
static int phase_width(int wp, int sw) {
  return (wp + sw - 1) / sw;
}

static void split_phases(const float *xp, int hp, int wp, int sw, float *ph) {
  int wq = phase_width(wp, sw);
  for (int p = 0; p < sw; p++)
    for (int r = 0; r < hp; r++) {
      float *d = ph + ((size_t)p * hp + r) * wq;
      const float *src = xp + (size_t)r * wp;
      int q = 0;
      for (; q * sw + p < wp; q++)
        d[q] = src[q * sw + p];
      for (; q < wq; q++)
        d[q] = 0.0f;
    }
}

/* tp[t] for output row oh: the run of tap t = (i, j). */
static void tap_runs(const rove_conv_geom *g, const float *base, int hp, int wq,
                     int oh, const float **tp) {
  int sw = g->sw;
  for (int i = 0; i < g->kh; i++)
    for (int j = 0; j < g->kw; j++) {
      size_t row = (size_t)(oh * g->sh + i);
      if (sw == 1)
        tp[i * g->kw + j] = base + row * wq + j;
      else
        tp[i * g->kw + j] = base + ((size_t)(j % sw) * hp + row) * wq + j / sw;
    }
}

/* Maps narrower than one vector (MobileNetV2's last stages: 960 channels
 * of 2x2) gain nothing from a padded copy and row calls, which cost more
 * than their 36 multiply-adds: each output is the chain over the taps
 * that fall inside x. A tap outside would add fmaf(w, 0, s) = s (s is
 * never -0: it starts at +0 and an exact zero sum rounds to +0), so the
 * bits are those of the padded form. */
#define SMALL_FWD_BODY                                                         \
  int taps = g->kh * g->kw;                                                    \
  size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->OH * g->OW;          \
  for (int b = 0; b < B; b++)                                                  \
    for (int c = 0; c < g->C; c++) {                                           \
      const float *xc = x + ((size_t)b * g->C + c) * plane;                    \
      const float *wc = w + (size_t)c * taps;                                  \
      float *yc = y + ((size_t)b * g->C + c) * oplane;                         \
      for (int oh = 0; oh < g->OH; oh++)                                       \
        for (int ow = 0; ow < g->OW; ow++) {                                   \
          float s = 0.0f;                                                      \
          for (int i = 0; i < g->kh; i++) {                                    \
            int ih = oh * g->sh + i - g->pt;                                   \
            if (ih < 0 || ih >= g->H)                                          \
              continue;                                                        \
            for (int j = 0; j < g->kw; j++) {                                  \
              int iw = ow * g->sw + j - g->pl;                                 \
              if (iw >= 0 && iw < g->W)                                        \
                s = fmaf(wc[i * g->kw + j], xc[(size_t)ih * g->W + iw], s);    \
            }                                                                  \
          }                                                                    \
          yc[(size_t)oh * g->OW + ow] = bias ? s + bias[c] : s;                \
        }                                                                      \
    }

static void small_fwd_portable(const rove_conv_geom *g, const float *w,
                               const float *bias, int B, const float *x,
                               float *y) {
  SMALL_FWD_BODY
}

#if defined(__x86_64__)
__attribute__((target("fma"))) static void
small_fwd_fma(const rove_conv_geom *g, const float *w, const float *bias, int B,
              const float *x, float *y) {
  SMALL_FWD_BODY
}
#endif

void rove_dw_forward(const rove_conv_geom *g, const float *w, const float *bias,
                     int B, const float *x, float *y, float *ws) {
  if ((g->OW < 8 || g->sw > 1 || g->sh > 1) && lanes_fit(g) && g->C >= 8) {
    lanes_run(g, w, bias, B, x, y, NULL, NULL, ws);
    return;
  }
  if (g->OW < 8) {
#if defined(__x86_64__)
    if (rove_cpu_level() >= 1) {
      small_fwd_fma(g, w, bias, B, x, y);
      return;
    }
#endif
    small_fwd_portable(g, w, bias, B, x, y);
    return;
  }
  row_fn row = row_kernel();
  int hp, wp, taps = g->kh * g->kw;
  fwd_dims(g, &hp, &wp);
  int wq = g->sw > 1 ? phase_width(wp, g->sw) : wp;
  float *ph = ws + (size_t)hp * wp; /* the phases, when sw > 1 */
  const float *base = g->sw > 1 ? ph : ws;
  size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->OH * g->OW;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < g->C; c++) {
      pad_plane(x + ((size_t)b * g->C + c) * plane, g->H, g->W, ws, hp, wp,
                g->pt, g->pl);
      if (g->sw > 1)
        split_phases(ws, hp, wp, g->sw, ph);
      float *yc = y + ((size_t)b * g->C + c) * oplane;
      for (int oh = 0; oh < g->OH; oh++) {
        const float *tp[MAXT];
        tap_runs(g, base, hp, wq, oh, tp);
        row(tp, w + (size_t)c * taps, taps, g->OW, yc + (size_t)oh * g->OW,
            bias ? bias + c : 0, 0);
      }
    }
}

/* ---- backward to the input -------------------------------------------- */

#define SCATTER_BODY                                                           \
  int kh = g->kh, kw = g->kw, taps = kh * kw;                                  \
  size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->OH * g->OW;          \
  for (int b = 0; b < B; b++)                                                  \
    for (int c = 0; c < g->C; c++) {                                           \
      const float *dyc = dy + ((size_t)b * g->C + c) * oplane;                 \
      const float *wc = w + (size_t)c * taps;                                  \
      float *dxc = dx + ((size_t)b * g->C + c) * plane;                        \
      for (int oh = 0; oh < g->OH; oh++)                                       \
        for (int ow = 0; ow < g->OW; ow++) {                                   \
          float d = dyc[(size_t)oh * g->OW + ow];                              \
          for (int i = 0; i < kh; i++) {                                       \
            int ih = oh * g->sh + i - g->pt;                                   \
            if (ih < 0 || ih >= g->H)                                          \
              continue;                                                        \
            for (int j = 0; j < kw; j++) {                                     \
              int iw = ow * g->sw + j - g->pl;                                 \
              if (iw < 0 || iw >= g->W)                                        \
                continue;                                                      \
              float *t = &dxc[(size_t)ih * g->W + iw];                         \
              *t = fmaf(wc[i * kw + j], d, *t);                                \
            }                                                                  \
          }                                                                    \
        }                                                                      \
    }

static void scatter_portable(const rove_conv_geom *g, const float *w, int B,
                             const float *dy, float *dx) {
  SCATTER_BODY
}

#if defined(__x86_64__)
__attribute__((target("fma"))) static void scatter_fma(const rove_conv_geom *g,
                                                       const float *w, int B,
                                                       const float *dy,
                                                       float *dx) {
  SCATTER_BODY
}
#endif

void rove_dw_backward_x(const rove_conv_geom *g, const float *w, int B,
                        const float *dy, float *dx, float *ws) {
  int kh = g->kh, kw = g->kw, taps = kh * kw;
  size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->OH * g->OW;
  /* Stride 1 on maps of a vector or more: the correlation of padded dy
   * with the flipped kernel, a vector of inputs at a time. Narrower maps
   * (and strides) take the scatter, which needs no padded copy. */
  if (g->sh == 1 && g->sw == 1 && g->W >= 8) {
    row_fn row = row_kernel();
    int hp = g->H + kh - 1, wp = g->W + kw - 1;
    for (int c = 0; c < g->C; c++) {
      float wf[MAXK * MAXK];
      for (int t = 0; t < taps; t++)
        wf[t] = w[(size_t)c * taps + (taps - 1 - t)];
      for (int b = 0; b < B; b++) {
        pad_plane(dy + ((size_t)b * g->C + c) * oplane, g->OH, g->OW, ws, hp,
                  wp, kh - 1 - g->pt, kw - 1 - g->pl);
        float *dxc = dx + ((size_t)b * g->C + c) * plane;
        for (int ih = 0; ih < g->H; ih++) {
          const float *tp[MAXT];
          for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
              tp[i * kw + j] = ws + (size_t)(ih + i) * wp + j;
          row(tp, wf, taps, g->W, dxc + (size_t)ih * g->W, NULL, 1);
        }
      }
    }
    return;
  }
  /* Strided: each dy term scattered to the inputs its taps read, in
   * (oh, ow, i, j) order; fmaf is one instruction in the FMA build and a
   * libm call in the portable one, the same bits either way. With enough
   * channels, 16 of them at a time as lanes (the same order). */
  if (lanes_fit(g) && g->C >= 8) {
    lanes_run(g, w, NULL, B, NULL, NULL, dy, dx, ws);
    return;
  }
#if defined(__x86_64__)
  if (rove_cpu_level() >= 1) {
    scatter_fma(g, w, B, dy, dx);
    return;
  }
#endif
  scatter_portable(g, w, B, dy, dx);
}

/* ---- backward to the weights ------------------------------------------ */

/* The sum over a plane's pixels of dy * xp[tap]: eight partial sums, the
 * pixel (oh, ow) going to lane ow % 8 in (oh, ow) order, then summed as
 * ((0+1)+(2+3))+((4+5)+(6+7)). */
static float tap_sum_portable(const float *dyc, const float *xp, int wp,
                              const rove_conv_geom *g, int i, int j) {
  float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int oh = 0; oh < g->OH; oh++) {
    const float *d = dyc + (size_t)oh * g->OW;
    const float *r = xp + (size_t)(oh * g->sh + i) * wp + j;
    for (int ow = 0; ow < g->OW; ow++)
      a[ow % 8] = fmaf(d[ow], r[(size_t)ow * g->sw], a[ow % 8]);
  }
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float
tap_sum_avx2(const float *dyc, const float *xp, int wp, const rove_conv_geom *g,
             int i, int j) {
  __m256 s = _mm256_setzero_ps();
  float a[8];
  int n8 = g->OW / 8 * 8;
  for (int oh = 0; oh < g->OH; oh++) {
    const float *d = dyc + (size_t)oh * g->OW;
    const float *r = xp + (size_t)(oh * g->sh + i) * wp + j;
    for (int ow = 0; ow < n8; ow += 8)
      s = _mm256_fmadd_ps(_mm256_loadu_ps(d + ow), _mm256_loadu_ps(r + ow), s);
    if (n8 < g->OW) {
      _mm256_storeu_ps(a, s);
      for (int ow = n8; ow < g->OW; ow++)
        a[ow % 8] = fmaf(d[ow], r[ow], a[ow % 8]);
      s = _mm256_loadu_ps(a);
    }
  }
  _mm256_storeu_ps(a, s);
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
#endif

void rove_dw_backward_w(const rove_conv_geom *g, int B, const float *x,
                        const float *dy, float *dw, float *ws) {
  int hp, wp, taps = g->kh * g->kw;
  fwd_dims(g, &hp, &wp);
#if defined(__x86_64__)
  int simd = g->sw == 1 && rove_cpu_level() >= 1;
#endif
  size_t plane = (size_t)g->H * g->W, oplane = (size_t)g->OH * g->OW;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < g->C; c++) {
      pad_plane(x + ((size_t)b * g->C + c) * plane, g->H, g->W, ws, hp, wp,
                g->pt, g->pl);
      const float *dyc = dy + ((size_t)b * g->C + c) * oplane;
      for (int i = 0; i < g->kh; i++)
        for (int j = 0; j < g->kw; j++) {
          float s;
#if defined(__x86_64__)
          if (simd)
            s = tap_sum_avx2(dyc, ws, wp, g, i, j);
          else
#endif
            s = tap_sum_portable(dyc, ws, wp, g, i, j);
          dw[(size_t)c * taps + i * g->kw + j] += s;
        }
    }
}
