/* f32_xent_row_lse__avx512.c: log-sum-exp of one similarity row with AVX-512 and SLEEF's expf16. Two passes over
 * the row (it is at most a few tens of KiB, so the second pass reads L1/L2): the maximum, then the sum of
 * exp(s - max) in double lanes so that the loss does not depend on summation order at fp32 precision. The tail
 * is a masked load filled with -inf, which adds exp(-inf) = 0. It must not read past s[n-1] and must not use
 * libm.
 *
 * Registers: pass 1, zmm0/zmm1 running maxima (two chains to hide the max latency); pass 2, zmm m = broadcast
 * maximum, four zmm double accumulators (the low and high eight lanes of two exp results), kept in memory across
 * the SLEEF calls by the compiler, which clobber every vector register.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "xent.h"

double sc_f32_xent_row_lse__avx512(size_t n, const float *s) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m0 = ninf, m1 = ninf;
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(s + j + 16));
  }
  for (; j + 16 <= n; j += 16) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
  const __mmask16 tail = (__mmask16)((1u << (n - j)) - 1u);
  if (j < n) m1 = _mm512_max_ps(m1, _mm512_mask_loadu_ps(ninf, tail, s + j));
  const float m = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  const __m512 vm = _mm512_set1_ps(m);

  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(), a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
  j = 0;
  for (; j + 32 <= n; j += 32) {
    __m512 e0 = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
    __m512 e1 = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), vm));
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e0)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e0, 1)));
    a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm512_castps512_ps256(e1)));
    a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e1, 1)));
  }
  for (; j + 16 <= n; j += 16) {
    __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  if (j < n) {
    __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, tail, s + j), vm));
    a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
  return (double)m + Sleef_log_u10(sum);
}
