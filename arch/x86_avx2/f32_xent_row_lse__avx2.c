/* f32_xent_row_lse__avx2.c: log-sum-exp of one similarity row with AVX2 and SLEEF's expf8. Two passes over the
 * row: the maximum, then the sum of exp(s - max) accumulated in double lanes. The tail is a masked load (vmaskmov
 * does not touch memory in inactive lanes) blended with -inf, which adds exp(-inf) = 0. It must not read past
 * s[n-1] and must not use libm.
 *
 * Registers: pass 1, ymm0/ymm1 running maxima; pass 2, ymm m = broadcast maximum and four ymm double
 * accumulators (the low and high four lanes of two exp results); ymm tail mask.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "xent.h"

static inline __m256i tail_mask(size_t rem) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256d widen_lo(__m256 e) { return _mm256_cvtps_pd(_mm256_castps256_ps128(e)); }
static inline __m256d widen_hi(__m256 e) { return _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)); }

double sc_f32_xent_row_lse__avx2(size_t n, const float *s) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = ninf, m1 = ninf, last = ninf;
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8));
  }
  for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
  const size_t body = j;
  if (j < n) {
    __m256i mask = tail_mask(n - j);
    last = _mm256_blendv_ps(ninf, _mm256_maskload_ps(s + j, mask), _mm256_castsi256_ps(mask));
    m1 = _mm256_max_ps(m1, last);
  }
  __m256 mm = _mm256_max_ps(m0, m1);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(mm), _mm256_extractf128_ps(mm, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  const float m = _mm_cvtss_f32(h);
  const __m256 vm = _mm256_set1_ps(m);

  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
  j = 0;
  for (; j + 16 <= body; j += 16) {
    __m256 e0 = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    __m256 e1 = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), vm));
    a0 = _mm256_add_pd(a0, widen_lo(e0));
    a1 = _mm256_add_pd(a1, widen_hi(e0));
    a2 = _mm256_add_pd(a2, widen_lo(e1));
    a3 = _mm256_add_pd(a3, widen_hi(e1));
  }
  for (; j < body; j += 8) {
    __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    a0 = _mm256_add_pd(a0, widen_lo(e));
    a1 = _mm256_add_pd(a1, widen_hi(e));
  }
  if (body < n) {
    __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(last, vm));
    a2 = _mm256_add_pd(a2, widen_lo(e));
    a3 = _mm256_add_pd(a3, widen_hi(e));
  }
  __m256d a = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
  __m128d d = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  d = _mm_add_sd(d, _mm_unpackhi_pd(d, d));
  return (double)m + Sleef_log_u10(_mm_cvtsd_f64(d));
}
