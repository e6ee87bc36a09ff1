/* f32_xent_row_expsum__avx2.c: u = exp(s - shift) for one similarity row, stored (in place or not), the sum of u
 * in double lanes and, when col is given, each u added to its column's double sum, with AVX2 and SLEEF's expf8.
 * One pass (the shift is known in advance). The tail uses vmaskmov loads (blended with -inf, exp = 0) and stores,
 * so nothing outside [0, n) is touched. It must not use libm.
 *
 * Registers: ymm shift broadcast; per 16 lanes two exp results, stored and widened into four ymm double
 * accumulators (low and high four lanes of each), and with col four ymm of column sums loaded, added and stored;
 * ymm tail masks.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "xent.h"

static inline __m256d widen_lo(__m256 e) { return _mm256_cvtps_pd(_mm256_castps256_ps128(e)); }
static inline __m256d widen_hi(__m256 e) { return _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)); }

/* col[0..8) += the 8 lanes of e, widened */
static inline void add_cols(double *col, __m256 e) {
  _mm256_storeu_pd(col, _mm256_add_pd(_mm256_loadu_pd(col), widen_lo(e)));
  _mm256_storeu_pd(col + 4, _mm256_add_pd(_mm256_loadu_pd(col + 4), widen_hi(e)));
}

double sc_f32_xent_row_expsum__avx2(size_t n, const float *s, float shift, float *u, double *col) {
  const __m256 vsh = _mm256_set1_ps(shift);
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 e0 = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vsh));
    __m256 e1 = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), vsh));
    _mm256_storeu_ps(u + j, e0);
    _mm256_storeu_ps(u + j + 8, e1);
    a0 = _mm256_add_pd(a0, widen_lo(e0));
    a1 = _mm256_add_pd(a1, widen_hi(e0));
    a2 = _mm256_add_pd(a2, widen_lo(e1));
    a3 = _mm256_add_pd(a3, widen_hi(e1));
    if (col) add_cols(col + j, e0), add_cols(col + j + 8, e1);
  }
  for (; j + 8 <= n; j += 8) {
    __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vsh));
    _mm256_storeu_ps(u + j, e);
    a0 = _mm256_add_pd(a0, widen_lo(e));
    a1 = _mm256_add_pd(a1, widen_hi(e));
    if (col) add_cols(col + j, e);
  }
  if (j < n) {
    const int left = (int)(n - j);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(s + j, mask),
                                _mm256_castsi256_ps(mask));
    __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(x, vsh));
    _mm256_maskstore_ps(u + j, mask, e);
    a2 = _mm256_add_pd(a2, widen_lo(e));
    a3 = _mm256_add_pd(a3, widen_hi(e));
    if (col) {
      const __m256i m0 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(left), _mm256_setr_epi64x(0, 1, 2, 3));
      const __m256i m1 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(left), _mm256_setr_epi64x(4, 5, 6, 7));
      _mm256_maskstore_pd(col + j, m0, _mm256_add_pd(_mm256_maskload_pd(col + j, m0), widen_lo(e)));
      _mm256_maskstore_pd(col + j + 4, m1, _mm256_add_pd(_mm256_maskload_pd(col + j + 4, m1), widen_hi(e)));
    }
  }
  __m256d a = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
  __m128d d = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(d, _mm_unpackhi_pd(d, d)));
}
