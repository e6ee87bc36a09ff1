/* f32_conv_tap__avx2.c: the direct-convolution tap kernels (conv.h) with AVX2+FMA: the 16 output channels are two
 * ymm, and every input channel is broadcast straight from the activation tensor, so nothing is packed.
 *   tap:    6 pixels at a time (12 accumulators of the 16 registers), then 1.
 *   tap_dw: 4 input channels at a time (8 accumulators), across the whole pixel rectangle; one line of pf staged
 *           in L2 per pixel.
 * Each output lane adds its products in the scalar kernel's order; FMA rounds once per product. */
#include <immintrin.h>

#include "conv.h"

#define REP6(X) X(0) X(1) X(2) X(3) X(4) X(5)

void sc_f32_conv_tap__avx2(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                           const float *w, float *out, size_t ors, size_t ops) {
#define LOAD(u) __m256 l##u = _mm256_loadu_ps(o + (u)*ops), h##u = _mm256_loadu_ps(o + (u)*ops + 8);
#define FMA(u)                                                                                                    \
  {                                                                                                               \
    const __m256 b = _mm256_broadcast_ss(a + (u)*ips + c);                                                       \
    l##u = _mm256_fmadd_ps(b, wl, l##u), h##u = _mm256_fmadd_ps(b, wh, h##u);                                     \
  }
#define STORE(u) _mm256_storeu_ps(o + (u)*ops, l##u), _mm256_storeu_ps(o + (u)*ops + 8, h##u);
  for (size_t r = 0; r < rows; r++) {
    const float *ir = in + r * irs;
    float *orow = out + r * ors;
    size_t i = 0;
    for (; i + 6 <= cols; i += 6) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
      REP6(LOAD)
      for (size_t c = 0; c < cin; c++) {
        const __m256 wl = _mm256_load_ps(w + c * 16), wh = _mm256_load_ps(w + c * 16 + 8);
        REP6(FMA)
      }
      REP6(STORE)
    }
    for (; i < cols; i++) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
      LOAD(0)
      for (size_t c = 0; c < cin; c++) {
        const __m256 wl = _mm256_load_ps(w + c * 16), wh = _mm256_load_ps(w + c * 16 + 8);
        FMA(0)
      }
      STORE(0)
    }
  }
#undef LOAD
#undef FMA
#undef STORE
}

void sc_f32_conv_tap_dw__avx2(size_t rows, size_t cols, size_t cn, const float *x, size_t xrs, size_t xps,
                              const float *dy, size_t dyrs, size_t dyps, float *dw, const float *pf) {
  if (cn == 4) {
#define LOAD(u) __m256 l##u = _mm256_load_ps(dw + (u)*16), h##u = _mm256_load_ps(dw + (u)*16 + 8);
#define FMA(u)                                                                                                    \
  {                                                                                                               \
    const __m256 b = _mm256_broadcast_ss(a + (u));                                                               \
    l##u = _mm256_fmadd_ps(b, gl, l##u), h##u = _mm256_fmadd_ps(b, gh, h##u);                                     \
  }
#define STORE(u) _mm256_store_ps(dw + (u)*16, l##u), _mm256_store_ps(dw + (u)*16 + 8, h##u);
    LOAD(0) LOAD(1) LOAD(2) LOAD(3)
    for (size_t r = 0; r < rows; r++)
      for (size_t i = 0; i < cols; i++) {
        const float *a = x + r * xrs + i * xps, *g = dy + r * dyrs + i * dyps;
        const __m256 gl = _mm256_loadu_ps(g), gh = _mm256_loadu_ps(g + 8);
        _mm_prefetch((const char *)pf, _MM_HINT_T1), pf += 16;
        FMA(0) FMA(1) FMA(2) FMA(3)
      }
    STORE(0) STORE(1) STORE(2) STORE(3)
#undef LOAD
#undef FMA
#undef STORE
    return;
  }
  for (size_t c = 0; c < cn; c++) { /* a ragged block (stages nothing): one channel at a time, two pixels in flight */
    __m256 l0 = _mm256_load_ps(dw + c * 16), h0 = _mm256_load_ps(dw + c * 16 + 8);
    __m256 l1 = _mm256_setzero_ps(), h1 = _mm256_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
      const float *xr = x + r * xrs + c, *gr = dy + r * dyrs;
      size_t i = 0;
      for (; i + 2 <= cols; i += 2) {
        const float *g = gr + i * dyps, *g1 = g + dyps;
        const __m256 b = _mm256_broadcast_ss(xr + i * xps), b1 = _mm256_broadcast_ss(xr + (i + 1) * xps);
        l0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(g), l0), h0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(g + 8), h0);
        l1 = _mm256_fmadd_ps(b1, _mm256_loadu_ps(g1), l1), h1 = _mm256_fmadd_ps(b1, _mm256_loadu_ps(g1 + 8), h1);
      }
      if (i < cols) {
        const float *g = gr + i * dyps;
        const __m256 b = _mm256_broadcast_ss(xr + i * xps);
        l0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(g), l0), h0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(g + 8), h0);
      }
    }
    _mm256_store_ps(dw + c * 16, _mm256_add_ps(l0, l1)), _mm256_store_ps(dw + c * 16 + 8, _mm256_add_ps(h0, h1));
  }
}

void sc_f32_wino_in__avx2(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino_out__avx2(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                           size_t cols, int accumulate);
void sc_f32_wino4_in__avx2(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino4_out__avx2(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                            size_t cols, int accumulate);

const sc_conv_config sc_conv_config__avx2 = {
    .tap = sc_f32_conv_tap__avx2,
    .tap_dw = sc_f32_conv_tap_dw__avx2,
    .dw_block = 4,
    .tap_name = "sc_f32_conv_tap__avx2",
    .tap_dw_name = "sc_f32_conv_tap_dw__avx2",
    .wino_in = sc_f32_wino_in__avx2,
    .wino_out = sc_f32_wino_out__avx2,
    .wino_in_name = "sc_f32_wino_in__avx2",
    .wino_out_name = "sc_f32_wino_out__avx2",
    .wino4_in = sc_f32_wino4_in__avx2,
    .wino4_out = sc_f32_wino4_out__avx2,
    .wino4_in_name = "sc_f32_wino4_in__avx2",
    .wino4_out_name = "sc_f32_wino4_out__avx2",
};
