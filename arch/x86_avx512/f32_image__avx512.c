/* f32_image__avx512.c: the AVX-512 image kernels of the data pipeline (contracts in image.h; the scalar twins in
 * arch/scalar/f32_image__scalar.c are the reference). Sixteen floats per register; tails use masked loads and
 * stores instead of a scalar loop. Interleaved RGB is split into planes and rejoined with two-source permutes
 * (masked gathers and scatters for the last partial block).
 * Must not allocate, and must keep the scalar versions' formulas (only FMA rounding may differ). */
#include <immintrin.h>

#include "image.h"

static inline __m512 clamp01(__m512 v) {
  return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(1.0f));
}
static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

void sc_u8_rows_wsum__avx512(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out) {
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m128i b = _mm_maskz_loadu_epi8(m, rows[t] + i);
      acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), acc);
    }
    _mm512_mask_storeu_ps(out + i, m, acc);
  }
}

void sc_f32_rows_wsum__avx512(const float *const *rows, const float *w, int taps, size_t n, float *out) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) { /* two independent accumulators hide the FMA latency */
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m512 wt = _mm512_set1_ps(w[t]);
      a0 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(rows[t] + i), a0);
      a1 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(rows[t] + i + 16), a1);
    }
    _mm512_storeu_ps(out + i, a0);
    _mm512_storeu_ps(out + i + 16, a1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++)
      acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(m, rows[t] + i), acc);
    _mm512_mask_storeu_ps(out + i, m, acc);
  }
}

void sc_f32_gather_wsum__avx512(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out) {
  for (size_t e = 0; e < n; e += 16) {
    __mmask16 m = tail_mask(n - e);
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m512i ix = _mm512_maskz_loadu_epi32(m, idx + (size_t)t * n + e);
      __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, ix, src, 4);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + (size_t)t * n + e), x, acc);
    }
    _mm512_mask_storeu_ps(out + e, m, clamp01(acc));
  }
}

void sc_f32_hconv__avx512(const float *src, const float *w, int taps, size_t stride, size_t n, float *out) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m512 wt = _mm512_set1_ps(w[t]);
      const float *s = src + i + (size_t)t * stride;
      a0 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s), a0);
      a1 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 16), a1);
    }
    _mm512_storeu_ps(out + i, a0);
    _mm512_storeu_ps(out + i + 16, a1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++)
      acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(m, src + i + (size_t)t * stride), acc);
    _mm512_mask_storeu_ps(out + i, m, acc);
  }
}

void sc_f32_affine_clamp__avx512(float *x, size_t n, float a, float b) {
  __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, clamp01(_mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), vb)));
  }
}

/* Full blocks of 16 RGB pixels (48 floats) are split into planes with two two-source permutes per channel
 * (the first takes the lanes found in the first 32 floats, the second the rest); store_rgb16 is the inverse.
 * Partial blocks use masked stride-3 gathers and scatters instead. */
static inline void load_rgb16(const float *q, __mmask16 m, __m512 *r, __m512 *g, __m512 *b) {
  if (m != 0xffff) {
    const __m512i ix = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45);
    *r = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, ix, q, 4);
    *g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, ix, q + 1, 4);
    *b = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, ix, q + 2, 4);
    return;
  }
  __m512 a = _mm512_loadu_ps(q), v = _mm512_loadu_ps(q + 16), c = _mm512_loadu_ps(q + 32);
  *r = _mm512_permutex2var_ps(
      _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0, 0, 0), v),
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26, 29), c);
  *g = _mm512_permutex2var_ps(
      _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 0, 0, 0, 0, 0), v),
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 21, 24, 27, 30), c);
  *b = _mm512_permutex2var_ps(
      _mm512_permutex2var_ps(a, _mm512_setr_epi32(2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0, 0, 0, 0, 0, 0), v),
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19, 22, 25, 28, 31), c);
}
static inline void store_rgb16(float *q, __mmask16 m, __m512 r, __m512 g, __m512 b) {
  if (m != 0xffff) {
    const __m512i ix = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45);
    _mm512_mask_i32scatter_ps(q, m, ix, r, 4);
    _mm512_mask_i32scatter_ps(q + 1, m, ix, g, 4);
    _mm512_mask_i32scatter_ps(q + 2, m, ix, b, 4);
    return;
  }
  _mm512_storeu_ps(
      q, _mm512_permutex2var_ps(
             _mm512_permutex2var_ps(r, _mm512_setr_epi32(0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5), g),
             _mm512_setr_epi32(0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15), b));
  _mm512_storeu_ps(q + 16, _mm512_permutex2var_ps(
                               _mm512_permutex2var_ps(
                                   r, _mm512_setr_epi32(21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26), g),
                               _mm512_setr_epi32(0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15), b));
  _mm512_storeu_ps(q + 32, _mm512_permutex2var_ps(
                               _mm512_permutex2var_ps(
                                   r, _mm512_setr_epi32(0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0), g),
                               _mm512_setr_epi32(26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31), b));
}
static inline __m512 luma(__m512 r, __m512 g, __m512 b) {
  return _mm512_fmadd_ps(_mm512_set1_ps(0.114f), b,
                         _mm512_fmadd_ps(_mm512_set1_ps(0.587f), g, _mm512_mul_ps(_mm512_set1_ps(0.299f), r)));
}

void sc_f32_rgb_to_gray__avx512(const float *rgb, size_t npix, float *gray) {
  for (size_t p = 0; p < npix; p += 16) {
    __mmask16 m = tail_mask(npix - p);
    __m512 r, g, b;
    load_rgb16(rgb + 3 * p, m, &r, &g, &b);
    _mm512_mask_storeu_ps(gray + p, m, luma(r, g, b));
  }
}

void sc_f32_rgb_blend_gray__avx512(float *rgb, size_t npix, float f) {
  __m512 vf = _mm512_set1_ps(f), vg = _mm512_set1_ps(1.0f - f);
  for (size_t p = 0; p < npix; p += 16) {
    __mmask16 m = tail_mask(npix - p);
    __m512 r, g, b;
    load_rgb16(rgb + 3 * p, m, &r, &g, &b);
    __m512 y = _mm512_mul_ps(vg, luma(r, g, b));
    store_rgb16(rgb + 3 * p, m, clamp01(_mm512_fmadd_ps(vf, r, y)), clamp01(_mm512_fmadd_ps(vf, g, y)),
                clamp01(_mm512_fmadd_ps(vf, b, y)));
  }
}

static inline __m512 hue_channel(float nk, __m512 h6, __m512 mx, __m512 c) {
  const __m512 six = _mm512_set1_ps(6.0f);
  __m512 k = _mm512_add_ps(_mm512_set1_ps(nk), h6);
  k = _mm512_mask_sub_ps(k, _mm512_cmp_ps_mask(k, six, _CMP_GE_OQ), k, six);
  __m512 m = clamp01(_mm512_min_ps(k, _mm512_sub_ps(_mm512_set1_ps(4.0f), k)));
  return clamp01(_mm512_fnmadd_ps(c, m, mx));
}

void sc_f32_rgb_hue_shift__avx512(float *rgb, size_t npix, float delta) {
  const __m512 shift = _mm512_set1_ps(6.0f * delta), six = _mm512_set1_ps(6.0f);
  for (size_t p = 0; p < npix; p += 16) {
    __mmask16 m = tail_mask(npix - p);
    __m512 r, g, b;
    load_rgb16(rgb + 3 * p, m, &r, &g, &b);
    __m512 mx = _mm512_max_ps(_mm512_max_ps(r, g), b), mn = _mm512_min_ps(_mm512_min_ps(r, g), b);
    __m512 c = _mm512_sub_ps(mx, mn);
    __mmask16 live = _mm512_mask_cmp_ps_mask(m, c, _mm512_setzero_ps(), _CMP_GT_OQ);
    if (!live) continue;
    __m512 cs = _mm512_mask_blend_ps(live, _mm512_set1_ps(1.0f), c); /* no division by zero in dead lanes */
    __m512 h = _mm512_add_ps(_mm512_set1_ps(4.0f), _mm512_div_ps(_mm512_sub_ps(r, g), cs));
    h = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(mx, g, _CMP_EQ_OQ), h,
                             _mm512_add_ps(_mm512_set1_ps(2.0f), _mm512_div_ps(_mm512_sub_ps(b, r), cs)));
    h = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(mx, r, _CMP_EQ_OQ), h, _mm512_div_ps(_mm512_sub_ps(g, b), cs));
    h = _mm512_add_ps(h, shift);
    __m512 q =
        _mm512_roundscale_ps(_mm512_mul_ps(h, _mm512_set1_ps(1.0f / 6.0f)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    h = _mm512_sub_ps(h, _mm512_mul_ps(six, q));
    store_rgb16(rgb + 3 * p, m, _mm512_mask_blend_ps(live, r, hue_channel(5.0f, h, mx, c)),
                _mm512_mask_blend_ps(live, g, hue_channel(3.0f, h, mx, c)),
                _mm512_mask_blend_ps(live, b, hue_channel(1.0f, h, mx, c)));
  }
}
