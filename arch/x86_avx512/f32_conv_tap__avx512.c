/* f32_conv_tap__avx512.c: the direct-convolution tap kernels (conv.h) with AVX-512F: the 16 output channels are
 * one zmm, and every input channel is a broadcast straight from the activation tensor (FMA with a memory operand),
 * so nothing is packed.
 *   tap:    12 pixels at a time, 12 accumulators in registers across the input channels, then 4, then 1.
 *   tap_dw: 16 input channels at a time, 16 accumulators in registers across the whole pixel rectangle.
 * Each output lane adds its products in the same order as the scalar kernel; FMA rounds once per product where
 * the scalar kernel rounds twice, so results may differ from it in the last bits. */
#include <immintrin.h>

#include "conv.h"

#define REP4(X) X(0) X(1) X(2) X(3)
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

/* 64 output lanes (4 zmm) for up to 4 pixels: 16 accumulators, 4 weight loads and 4 broadcasts per input channel,
 * so each broadcast feeds 4 FMAs; short rows (7x7, 4x4 images) still fill most of the tile. */
#define WIDE_GROUP(M, REP)                                                                                         \
  static inline void wide##M(size_t cin, const float *a, size_t ips, const float *w, float *o, size_t ops) {      \
    REP(WLOAD)                                                                                                    \
    for (size_t c = 0; c < cin; c++) {                                                                            \
      const float *wc = w + c * 64;                                                                               \
      const __m512 w0 = _mm512_load_ps(wc), w1 = _mm512_load_ps(wc + 16), w2 = _mm512_load_ps(wc + 32),           \
                   w3 = _mm512_load_ps(wc + 48);                                                                  \
      REP(WFMA)                                                                                                   \
    }                                                                                                             \
    REP(WSTORE)                                                                                                   \
  }
#define WLOAD(u)                                                                                                  \
  __m512 c##u##0 = _mm512_loadu_ps(o + (u)*ops), c##u##1 = _mm512_loadu_ps(o + (u)*ops + 16),                     \
         c##u##2 = _mm512_loadu_ps(o + (u)*ops + 32), c##u##3 = _mm512_loadu_ps(o + (u)*ops + 48);
#define WFMA(u)                                                                                                   \
  {                                                                                                               \
    const __m512 b = _mm512_set1_ps(a[(u)*ips + c]);                                                              \
    c##u##0 = _mm512_fmadd_ps(b, w0, c##u##0), c##u##1 = _mm512_fmadd_ps(b, w1, c##u##1);                         \
    c##u##2 = _mm512_fmadd_ps(b, w2, c##u##2), c##u##3 = _mm512_fmadd_ps(b, w3, c##u##3);                         \
  }
#define WSTORE(u)                                                                                                 \
  _mm512_storeu_ps(o + (u)*ops, c##u##0), _mm512_storeu_ps(o + (u)*ops + 16, c##u##1),                            \
      _mm512_storeu_ps(o + (u)*ops + 32, c##u##2), _mm512_storeu_ps(o + (u)*ops + 48, c##u##3);
#define REP1(X) X(0)
#define REP2(X) X(0) X(1)
#define REP3(X) X(0) X(1) X(2)
#define REP4(X) X(0) X(1) X(2) X(3)
WIDE_GROUP(1, REP1)
WIDE_GROUP(2, REP2)
WIDE_GROUP(3, REP3)
WIDE_GROUP(4, REP4)
#undef WLOAD
#undef WFMA
#undef WSTORE

void sc_f32_conv_tap64__avx512(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                               const float *w, float *out, size_t ors, size_t ops) {
  for (size_t r = 0; r < rows; r++) {
    const float *ir = in + r * irs;
    float *orow = out + r * ors;
    size_t i = 0;
    for (; i + 4 <= cols; i += 4) wide4(cin, ir + i * ips, ips, w, orow + i * ops, ops);
    switch (cols - i) {
    case 3: wide3(cin, ir + i * ips, ips, w, orow + i * ops, ops); break;
    case 2: wide2(cin, ir + i * ips, ips, w, orow + i * ops, ops); break;
    case 1: wide1(cin, ir + i * ips, ips, w, orow + i * ops, ops); break;
    default: break;
    }
  }
}

void sc_f32_conv_tap_dw__avx512(size_t rows, size_t cols, size_t cn, const float *x, size_t xrs, size_t xps,
                                const float *dy, size_t dyrs, size_t dyps, float *dw) {
  if (cn == 16) {
#define LOAD(u) __m512 c##u = _mm512_load_ps(dw + (u)*16);
#define FMA(u) c##u = _mm512_fmadd_ps(_mm512_set1_ps(a[u]), g, c##u);
#define STORE(u) _mm512_store_ps(dw + (u)*16, c##u);
    REP16(LOAD)
    for (size_t r = 0; r < rows; r++)
      for (size_t i = 0; i < cols; i++) {
        const float *a = x + r * xrs + i * xps;
        const __m512 g = _mm512_loadu_ps(dy + r * dyrs + i * dyps);
        REP16(FMA)
      }
    REP16(STORE)
#undef LOAD
#undef FMA
#undef STORE
    return;
  }
  for (size_t c = 0; c < cn; c++) { /* a ragged block: one channel at a time, four pixels in flight */
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

const sc_conv_config sc_conv_config__avx512 = {
    .tap = sc_f32_conv_tap__avx512,
    .tap_dw = sc_f32_conv_tap_dw__avx512,
    .tap64 = sc_f32_conv_tap64__avx512,
    .dw_block = 16,
    .tap_name = "sc_f32_conv_tap__avx512",
    .tap_dw_name = "sc_f32_conv_tap_dw__avx512",
    .tap64_name = "sc_f32_conv_tap64__avx512",
};
