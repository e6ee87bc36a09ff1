/* f32_image__avx2.c: the AVX2+FMA image kernels of the data pipeline (contracts in image.h; the scalar twins in
 * arch/scalar/f32_image__scalar.c are the reference). Eight floats per register. Interleaved RGB is split into
 * planes and rejoined with blends and lane permutes (3 loads and 3 stores per 8 pixels, no gathers); only the
 * horizontal resize pass gathers. Must not allocate, and must keep the scalar versions' formulas (only FMA
 * rounding may differ). */
#include <immintrin.h>
#include <math.h>

#include "image.h"

/* the remainder of a row (fewer than 8 pixels) goes to the reference */
void sc_f32_rgb_hue_shift__scalar(float *rgb, size_t npix, float delta);

static inline __m256 clamp01(__m256 v) {
  return _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
}
static inline float clamp01s(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

void sc_u8_rows_wsum__avx2(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m128i b = _mm_loadl_epi64((const __m128i *)(rows[t] + i));
      __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), x, acc);
    }
    _mm256_storeu_ps(out + i, acc);
  }
  for (; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * (float)rows[t][i];
    out[i] = s;
  }
}

void sc_f32_rows_wsum__avx2(const float *const *rows, const float *w, int taps, size_t n, float *out) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) { /* two independent accumulators hide the FMA latency */
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m256 wt = _mm256_set1_ps(w[t]);
      a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(rows[t] + i), a0);
      a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(rows[t] + i + 8), a1);
    }
    _mm256_storeu_ps(out + i, a0);
    _mm256_storeu_ps(out + i + 8, a1);
  }
  for (; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * rows[t][i];
    out[i] = s;
  }
}

void sc_f32_gather_wsum__avx2(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out) {
  size_t e = 0;
  for (; e + 8 <= n; e += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m256i ix = _mm256_loadu_si256((const __m256i *)(idx + (size_t)t * n + e));
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + (size_t)t * n + e), _mm256_i32gather_ps(src, ix, 4), acc);
    }
    _mm256_storeu_ps(out + e, clamp01(acc));
  }
  for (; e < n; e++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[(size_t)t * n + e] * src[idx[(size_t)t * n + e]];
    out[e] = clamp01s(s);
  }
}

void sc_f32_hconv__avx2(const float *src, const float *w, int taps, size_t stride, size_t n, float *out) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++) {
      __m256 wt = _mm256_set1_ps(w[t]);
      const float *s = src + i + (size_t)t * stride;
      a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s), a0);
      a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 8), a1);
    }
    _mm256_storeu_ps(out + i, a0);
    _mm256_storeu_ps(out + i + 8, a1);
  }
  for (; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * src[i + (size_t)t * stride];
    out[i] = s;
  }
}

void sc_f32_affine_clamp__avx2(float *x, size_t n, float a, float b) {
  __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, clamp01(_mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), vb)));
  for (; i < n; i++) x[i] = clamp01s(a * x[i] + b);
}

/* De-interleaves 8 RGB pixels (24 floats in three registers) into r, g, b planes: two blends gather each
 * channel's lanes (in a rotated order), one lane permute puts them in pixel order. store_rgb8 is the inverse. */
static inline void load_rgb8(const float *q, __m256 *r, __m256 *g, __m256 *b) {
  __m256 a = _mm256_loadu_ps(q), m = _mm256_loadu_ps(q + 8), c = _mm256_loadu_ps(q + 16);
  *r = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a, m, 0x92), c, 0x24),
                                _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
  *g = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a, m, 0x24), c, 0x49),
                                _mm256_setr_epi32(1, 4, 7, 2, 5, 0, 3, 6));
  *b = _mm256_permutevar8x32_ps(_mm256_blend_ps(_mm256_blend_ps(a, m, 0x49), c, 0x92),
                                _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));
}
static inline void store_rgb8(float *q, __m256 r, __m256 g, __m256 b) {
  __m256 tr = _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5));
  __m256 tg = _mm256_permutevar8x32_ps(g, _mm256_setr_epi32(5, 0, 3, 6, 1, 4, 7, 2));
  __m256 tb = _mm256_permutevar8x32_ps(b, _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7));
  _mm256_storeu_ps(q, _mm256_blend_ps(_mm256_blend_ps(tr, tg, 0x92), tb, 0x24));
  _mm256_storeu_ps(q + 8, _mm256_blend_ps(_mm256_blend_ps(tb, tr, 0x92), tg, 0x24));
  _mm256_storeu_ps(q + 16, _mm256_blend_ps(_mm256_blend_ps(tg, tb, 0x92), tr, 0x24));
}
static inline __m256 luma(__m256 r, __m256 g, __m256 b) {
  return _mm256_fmadd_ps(_mm256_set1_ps(0.114f), b,
                         _mm256_fmadd_ps(_mm256_set1_ps(0.587f), g, _mm256_mul_ps(_mm256_set1_ps(0.299f), r)));
}

void sc_f32_rgb_to_gray__avx2(const float *rgb, size_t npix, float *gray) {
  size_t p = 0;
  for (; p + 8 <= npix; p += 8) {
    __m256 r, g, b;
    load_rgb8(rgb + 3 * p, &r, &g, &b);
    _mm256_storeu_ps(gray + p, luma(r, g, b));
  }
  for (; p < npix; p++) gray[p] = 0.299f * rgb[3 * p] + 0.587f * rgb[3 * p + 1] + 0.114f * rgb[3 * p + 2];
}

void sc_f32_rgb_blend_gray__avx2(float *rgb, size_t npix, float f) {
  __m256 vf = _mm256_set1_ps(f), vg = _mm256_set1_ps(1.0f - f);
  size_t p = 0;
  for (; p + 8 <= npix; p += 8) {
    __m256 r, g, b;
    load_rgb8(rgb + 3 * p, &r, &g, &b);
    __m256 y = _mm256_mul_ps(vg, luma(r, g, b));
    store_rgb8(rgb + 3 * p, clamp01(_mm256_fmadd_ps(vf, r, y)), clamp01(_mm256_fmadd_ps(vf, g, y)),
               clamp01(_mm256_fmadd_ps(vf, b, y)));
  }
  for (; p < npix; p++) {
    float *q = rgb + 3 * p;
    float y = (1.0f - f) * (0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2]);
    q[0] = clamp01s(f * q[0] + y), q[1] = clamp01s(f * q[1] + y), q[2] = clamp01s(f * q[2] + y);
  }
}

static inline __m256 hue_channel(__m256 nk, __m256 h6, __m256 mx, __m256 c) {
  const __m256 six = _mm256_set1_ps(6.0f), four = _mm256_set1_ps(4.0f);
  __m256 k = _mm256_add_ps(nk, h6);
  k = _mm256_blendv_ps(k, _mm256_sub_ps(k, six), _mm256_cmp_ps(k, six, _CMP_GE_OQ));
  __m256 m = _mm256_min_ps(k, _mm256_sub_ps(four, k));
  m = clamp01(m);
  return clamp01(_mm256_fnmadd_ps(c, m, mx));
}

void sc_f32_rgb_hue_shift__avx2(float *rgb, size_t npix, float delta) {
  const __m256 shift = _mm256_set1_ps(6.0f * delta), six = _mm256_set1_ps(6.0f), sixth = _mm256_set1_ps(1.0f / 6.0f);
  size_t p = 0;
  for (; p + 8 <= npix; p += 8) {
    __m256 r, g, b;
    load_rgb8(rgb + 3 * p, &r, &g, &b);
    __m256 mx = _mm256_max_ps(_mm256_max_ps(r, g), b), mn = _mm256_min_ps(_mm256_min_ps(r, g), b);
    __m256 c = _mm256_sub_ps(mx, mn);
    __m256 live = _mm256_cmp_ps(c, _mm256_setzero_ps(), _CMP_GT_OQ);
    if (_mm256_movemask_ps(live) == 0) continue;
    __m256 cs = _mm256_blendv_ps(_mm256_set1_ps(1.0f), c, live); /* no division by zero in dead lanes */
    __m256 h = _mm256_add_ps(_mm256_set1_ps(4.0f), _mm256_div_ps(_mm256_sub_ps(r, g), cs));
    h = _mm256_blendv_ps(h, _mm256_add_ps(_mm256_set1_ps(2.0f), _mm256_div_ps(_mm256_sub_ps(b, r), cs)),
                         _mm256_cmp_ps(mx, g, _CMP_EQ_OQ));
    h = _mm256_blendv_ps(h, _mm256_div_ps(_mm256_sub_ps(g, b), cs), _mm256_cmp_ps(mx, r, _CMP_EQ_OQ));
    h = _mm256_add_ps(h, shift);
    h = _mm256_sub_ps(h, _mm256_mul_ps(six, _mm256_floor_ps(_mm256_mul_ps(h, sixth))));
    __m256 nr = hue_channel(_mm256_set1_ps(5.0f), h, mx, c);
    __m256 ng = hue_channel(_mm256_set1_ps(3.0f), h, mx, c);
    __m256 nb = hue_channel(_mm256_set1_ps(1.0f), h, mx, c);
    store_rgb8(rgb + 3 * p, _mm256_blendv_ps(r, nr, live), _mm256_blendv_ps(g, ng, live),
               _mm256_blendv_ps(b, nb, live));
  }
  if (p < npix) sc_f32_rgb_hue_shift__scalar(rgb + 3 * p, npix - p, delta);
}
