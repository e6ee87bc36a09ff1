/* f32_xent_row_expsum__avx512.c: u = exp(s - shift) for one similarity row, stored (in place or not), the sum of u
 * in double lanes and, when col is given, each u added to its column's double sum, with AVX-512 and SLEEF's
 * expf16. One pass: with the shift known in advance (1/tau, an upper bound of every S entry) no maximum pass is
 * needed. The tail is a masked load filled with -inf (exp = 0) and masked stores, so nothing outside [0, n) is
 * touched. It must not use libm.
 *
 * Registers: zmm shift broadcast; per 32 lanes two exp results, stored and widened into four zmm double
 * accumulators (low and high eight lanes of each), and with col four zmm of column sums loaded, added and stored;
 * k1 = tail mask.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "xent.h"

static inline __m512d widen_lo(__m512 e) { return _mm512_cvtps_pd(_mm512_castps512_ps256(e)); }
static inline __m512d widen_hi(__m512 e) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)); }

/* col[0..16) += the 16 lanes of e, widened */
static inline void add_cols(double *col, __m512 e) {
  _mm512_storeu_pd(col, _mm512_add_pd(_mm512_loadu_pd(col), widen_lo(e)));
  _mm512_storeu_pd(col + 8, _mm512_add_pd(_mm512_loadu_pd(col + 8), widen_hi(e)));
}

double sc_f32_xent_row_expsum__avx512(size_t n, const float *s, float shift, float *u, double *col) {
  const __m512 vsh = _mm512_set1_ps(shift);
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd(), a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m512 e0 = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(s + j), vsh));
    __m512 e1 = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), vsh));
    _mm512_storeu_ps(u + j, e0);
    _mm512_storeu_ps(u + j + 16, e1);
    a0 = _mm512_add_pd(a0, widen_lo(e0));
    a1 = _mm512_add_pd(a1, widen_hi(e0));
    a2 = _mm512_add_pd(a2, widen_lo(e1));
    a3 = _mm512_add_pd(a3, widen_hi(e1));
    if (col) add_cols(col + j, e0), add_cols(col + j + 16, e1);
  }
  for (; j + 16 <= n; j += 16) {
    __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_loadu_ps(s + j), vsh));
    _mm512_storeu_ps(u + j, e);
    a0 = _mm512_add_pd(a0, widen_lo(e));
    a1 = _mm512_add_pd(a1, widen_hi(e));
    if (col) add_cols(col + j, e);
  }
  if (j < n) {
    const __mmask16 tail = (__mmask16)((1u << (n - j)) - 1u);
    __m512 x = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, s + j);
    __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(x, vsh));
    _mm512_mask_storeu_ps(u + j, tail, e);
    a2 = _mm512_add_pd(a2, widen_lo(e));
    a3 = _mm512_add_pd(a3, widen_hi(e));
    if (col) {
      const __mmask8 t0 = (__mmask8)tail, t1 = (__mmask8)(tail >> 8);
      const __m512d z = _mm512_setzero_pd();
      _mm512_mask_storeu_pd(col + j, t0, _mm512_add_pd(_mm512_mask_loadu_pd(z, t0, col + j), widen_lo(e)));
      _mm512_mask_storeu_pd(col + j + 8, t1, _mm512_add_pd(_mm512_mask_loadu_pd(z, t1, col + j + 8), widen_hi(e)));
    }
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
}
