/* f32_conv_tap__avx512.c: the direct-convolution tap kernels (conv.h) with AVX-512F: the 16 output channels are
 * one zmm, and every input channel is a broadcast straight from the activation tensor (FMA with a memory operand),
 * so nothing is packed.
 *   tap:    12 pixels at a time, 12 accumulators in registers across the input channels, then 4, then 1.
 *   tap64:  64 output channels (4 zmm) for up to 6 pixels at a time, taken across the rows of the rectangle.
 *   row3:   three taps of a kernel row for up to 14 pixels; each broadcast input value feeds three FMAs.
 *   tap_dw: 16 input channels at a time, 16 accumulators in registers across the whole pixel rectangle, and one
 *           line of pf staged in L2 per pixel.
 * Each output lane adds its products in the same order as the scalar kernel; FMA rounds once per product where
 * the scalar kernel rounds twice, so results may differ from it in the last bits. */
#include <immintrin.h>

#include "conv.h"

#define REP1(X) X(0)
#define REP2(X) X(0) X(1)
#define REP3(X) X(0) X(1) X(2)
#define REP4(X) X(0) X(1) X(2) X(3)
#define REP5(X) REP4(X) X(4)
#define REP6(X) REP5(X) X(5)
#define REP12(X) REP4(X) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REP16(X) REP12(X) X(12) X(13) X(14) X(15)

void sc_f32_conv_tap__avx512(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                             const float *w, float *out, size_t ors, size_t ops) {
  for (size_t r = 0; r < rows; r++) {
    const float *ir = in + r * irs;
    float *orow = out + r * ors;
    size_t i = 0;
    for (; i + 12 <= cols; i += 12) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
#define LOAD(u) __m512 c##u = _mm512_loadu_ps(o + (u)*ops);
#define FMA(u) c##u = _mm512_fmadd_ps(_mm512_set1_ps(a[(u)*ips + c]), wv, c##u);
#define STORE(u) _mm512_storeu_ps(o + (u)*ops, c##u);
      REP12(LOAD)
      for (size_t c = 0; c < cin; c++) {
        const __m512 wv = _mm512_load_ps(w + c * 16);
        REP12(FMA)
      }
      REP12(STORE)
    }
    for (; i + 4 <= cols; i += 4) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
      REP4(LOAD)
      for (size_t c = 0; c < cin; c++) {
        const __m512 wv = _mm512_load_ps(w + c * 16);
        REP4(FMA)
      }
      REP4(STORE)
    }
    for (; i < cols; i++) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
      LOAD(0)
      for (size_t c = 0; c < cin; c++) {
        const __m512 wv = _mm512_load_ps(w + c * 16);
        FMA(0)
      }
      STORE(0)
    }
#undef LOAD
#undef FMA
#undef STORE
  }
}

/* 64 output lanes (4 zmm) for up to 6 pixels anywhere in the rectangle, by their addresses: up to 24 accumulators,
 * 4 weight loads and up to 6 broadcasts per input channel, so each weight load feeds up to 6 FMAs. Taken row by
 * row (4 pixels at most, 16 accumulators), a 4x4 image's taps loaded their weights once per 4 pixels: ResNet-18's
 * 8x8x256-512s2 at batch 64 (Zen 4, paired with oneDNN, medians of 3), backward-data 0.84x -> 0.90-0.91x oneDNN on
 * one core and 0.85x -> 0.89-0.91x on two, forward 0.92-0.94x -> 0.96-0.97x; 32x32x64-128s2 and 16x16x128-256s2
 * within 1-4%. */
#define PLOAD(u)                                                                                                  \
  __m512 c##u##0 = _mm512_loadu_ps(o[u]), c##u##1 = _mm512_loadu_ps(o[u] + 16),                                   \
         c##u##2 = _mm512_loadu_ps(o[u] + 32), c##u##3 = _mm512_loadu_ps(o[u] + 48);
#define PFMA(u)                                                                                                   \
  {                                                                                                               \
    const __m512 b = _mm512_set1_ps(a[u][c]);                                                                     \
    c##u##0 = _mm512_fmadd_ps(b, w0, c##u##0), c##u##1 = _mm512_fmadd_ps(b, w1, c##u##1);                         \
    c##u##2 = _mm512_fmadd_ps(b, w2, c##u##2), c##u##3 = _mm512_fmadd_ps(b, w3, c##u##3);                         \
  }
#define PSTORE(u)                                                                                                 \
  _mm512_storeu_ps(o[u], c##u##0), _mm512_storeu_ps(o[u] + 16, c##u##1), _mm512_storeu_ps(o[u] + 32, c##u##2),   \
      _mm512_storeu_ps(o[u] + 48, c##u##3);
#define PIX_GROUP(M, REP)                                                                                         \
  static void pix##M(size_t cin, const float *const *a, const float *w, float *const *o) {                        \
    REP(PLOAD)                                                                                                    \
    for (size_t c = 0; c < cin; c++) {                                                                            \
      const float *wc = w + c * 64;                                                                               \
      const __m512 w0 = _mm512_load_ps(wc), w1 = _mm512_load_ps(wc + 16), w2 = _mm512_load_ps(wc + 32),           \
                   w3 = _mm512_load_ps(wc + 48);                                                                  \
      REP(PFMA)                                                                                                   \
    }                                                                                                             \
    REP(PSTORE)                                                                                                   \
  }
PIX_GROUP(1, REP1)
PIX_GROUP(2, REP2)
PIX_GROUP(3, REP3)
PIX_GROUP(4, REP4)
PIX_GROUP(5, REP5)
PIX_GROUP(6, REP6)
typedef void (*pix_fn)(size_t, const float *const *, const float *, float *const *);
static const pix_fn pix_groups[7] = {NULL, pix1, pix2, pix3, pix4, pix5, pix6};
void sc_f32_conv_tap64__avx512(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                               const float *w, float *out, size_t ors, size_t ops) {
  const float *a[6];
  float *o[6];
  const size_t total = rows * cols;
  size_t n = 0, done = 0;
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0; i < cols; i++) {
      a[n] = in + r * irs + i * ips, o[n] = out + r * ors + i * ops, n++, done++;
      if (n == 6 || done == total) pix_groups[n](cin, a, w, o), n = 0;
    }
}

/* row3: P output pixels at a time (P up to 14: P accumulators, three weight vectors and a broadcast in registers).
 * Input pixel q of the group's P + 2 is broadcast once per channel and feeds outputs q, q - 1 and q - 2 through
 * taps 0, 1 and 2: 3P FMAs for P + 5 loads, where the tap kernel needs a load per FMA. Rows are cut into groups of
 * nearly equal size, so a 26-pixel interior (28x28 images) runs as 13 + 13, not 14 + 12 or 12 + 12 + 2. */
#define ROW3_GROUP(P)                                                                                              \
  static void row3_##P(size_t cin, const float *a, size_t ips, const float *w, float *o, size_t ops) {            \
    const size_t wts = cin * 16; /* from one tap's weights to the next's */                                       \
    __m512 acc[P];                                                                                                \
    _Pragma("GCC unroll 16") for (int u = 0; u < (P); u++) acc[u] = _mm512_loadu_ps(o + u * ops);                \
    for (size_t c = 0; c < cin; c++) {                                                                            \
      const float *wc = w + c * 16;                                                                               \
      const __m512 w0 = _mm512_load_ps(wc), w1 = _mm512_load_ps(wc + wts), w2 = _mm512_load_ps(wc + 2 * wts);     \
      _Pragma("GCC unroll 16") for (int q = 0; q < (P) + 2; q++) {                                                \
        const __m512 b = _mm512_set1_ps(a[q * ips + c]);                                                          \
        if (q < (P)) acc[q] = _mm512_fmadd_ps(b, w0, acc[q]);                                                     \
        if (q >= 1 && q <= (P)) acc[q - 1] = _mm512_fmadd_ps(b, w1, acc[q - 1]);                                  \
        if (q >= 2) acc[q - 2] = _mm512_fmadd_ps(b, w2, acc[q - 2]);                                              \
      }                                                                                                           \
    }                                                                                                             \
    _Pragma("GCC unroll 16") for (int u = 0; u < (P); u++) _mm512_storeu_ps(o + u * ops, acc[u]);               \
  }
ROW3_GROUP(1)
ROW3_GROUP(2)
ROW3_GROUP(3)
ROW3_GROUP(4)
ROW3_GROUP(5)
ROW3_GROUP(6)
ROW3_GROUP(7)
ROW3_GROUP(8)
ROW3_GROUP(9)
ROW3_GROUP(10)
ROW3_GROUP(11)
ROW3_GROUP(12)
ROW3_GROUP(13)
ROW3_GROUP(14)
#undef ROW3_GROUP

typedef void (*row3_group_fn)(size_t, const float *, size_t, const float *, float *, size_t);
static const row3_group_fn row3_groups[15] = {NULL,     row3_1,  row3_2,  row3_3,  row3_4,  row3_5,  row3_6, row3_7,
                                              row3_8,   row3_9,  row3_10, row3_11, row3_12, row3_13, row3_14};

void sc_f32_conv_row3__avx512(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                              const float *w, float *out, size_t ors, size_t ops) {
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0, left = cols; left > 0;) {
      const size_t groups = (left + 13) / 14, p = (left + groups - 1) / groups;
      row3_groups[p](cin, in + r * irs + i * ips, ips, w, out + r * ors + i * ops, ops);
      i += p, left -= p;
    }
}

void sc_f32_conv_tap_dw__avx512(size_t rows, size_t cols, size_t cn, const float *x, size_t xrs, size_t xps,
                                const float *dy, size_t dyrs, size_t dyps, float *dw, const float *pf) {
  if (cn == 16) {
#define LOAD(u) __m512 c##u = _mm512_load_ps(dw + (u)*16);
#define FMA(u) c##u = _mm512_fmadd_ps(_mm512_set1_ps(a[u]), g, c##u);
#define STORE(u) _mm512_store_ps(dw + (u)*16, c##u);
    REP16(LOAD)
    for (size_t r = 0; r < rows; r++)
      for (size_t i = 0; i < cols; i++) {
        const float *a = x + r * xrs + i * xps;
        const __m512 g = _mm512_loadu_ps(dy + r * dyrs + i * dyps);
        _mm_prefetch((const char *)pf, _MM_HINT_T1), pf += 16;
        REP16(FMA)
      }
    REP16(STORE)
#undef LOAD
#undef FMA
#undef STORE
    return;
  }
  for (size_t c = 0; c < cn; c++) { /* a ragged block (stages nothing): one channel at a time, four pixels in flight */
    __m512 s0 = _mm512_load_ps(dw + c * 16), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps();
    __m512 s3 = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
      const float *xr = x + r * xrs + c, *gr = dy + r * dyrs;
      size_t i = 0;
      for (; i + 4 <= cols; i += 4) {
        s0 = _mm512_fmadd_ps(_mm512_set1_ps(xr[i * xps]), _mm512_loadu_ps(gr + i * dyps), s0);
        s1 = _mm512_fmadd_ps(_mm512_set1_ps(xr[(i + 1) * xps]), _mm512_loadu_ps(gr + (i + 1) * dyps), s1);
        s2 = _mm512_fmadd_ps(_mm512_set1_ps(xr[(i + 2) * xps]), _mm512_loadu_ps(gr + (i + 2) * dyps), s2);
        s3 = _mm512_fmadd_ps(_mm512_set1_ps(xr[(i + 3) * xps]), _mm512_loadu_ps(gr + (i + 3) * dyps), s3);
      }
      for (; i < cols; i++) s0 = _mm512_fmadd_ps(_mm512_set1_ps(xr[i * xps]), _mm512_loadu_ps(gr + i * dyps), s0);
    }
    _mm512_store_ps(dw + c * 16, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  }
}

void sc_f32_wino_in__avx512(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino_out__avx512(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                             size_t cols, int accumulate);
void sc_f32_wino4_in__avx512(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino4_out__avx512(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                              size_t cols, int accumulate);

const sc_conv_config sc_conv_config__avx512 = {
    .tap = sc_f32_conv_tap__avx512,
    .tap_dw = sc_f32_conv_tap_dw__avx512,
    .tap64 = sc_f32_conv_tap64__avx512,
    .row3 = sc_f32_conv_row3__avx512,
    .dw_block = 16,
    .tap_name = "sc_f32_conv_tap__avx512",
    .tap_dw_name = "sc_f32_conv_tap_dw__avx512",
    .tap64_name = "sc_f32_conv_tap64__avx512",
    .row3_name = "sc_f32_conv_row3__avx512",
    .wino_in = sc_f32_wino_in__avx512,
    .wino_out = sc_f32_wino_out__avx512,
    .wino_in_name = "sc_f32_wino_in__avx512",
    .wino_out_name = "sc_f32_wino_out__avx512",
    .wino4_in = sc_f32_wino4_in__avx512,
    .wino4_out = sc_f32_wino4_out__avx512,
    .wino4_in_name = "sc_f32_wino4_in__avx512",
    .wino4_out_name = "sc_f32_wino4_out__avx512",
};
