/* f32_xent_row_grad__avx512.c: one row of the symmetrised softmax H = scale * (P + P^T), in place, with AVX-512
 * and SLEEF's expf16 (see xent.h for why two exponentials replace a transpose). The tail uses masked loads and a
 * masked store, so nothing past g[n-1] is read or written. It must not use libm.
 *
 * Registers: zmm lse_i and zmm scale broadcast; per 16 lanes: x = s[j..], l = lse[j..], the two exp results and
 * their scaled sum; k1 = tail mask.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "xent.h"

void sc_f32_xent_row_grad__avx512(size_t n, const float *s, float lse_i, const float *lse, float scale, float *g) {
  const __m512 vli = _mm512_set1_ps(lse_i), vsc = _mm512_set1_ps(scale);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 x = _mm512_loadu_ps(s + j);
    __m512 e0 = Sleef_expf16_u10avx512f(_mm512_sub_ps(x, vli));
    __m512 e1 = Sleef_expf16_u10avx512f(_mm512_sub_ps(x, _mm512_loadu_ps(lse + j)));
    _mm512_storeu_ps(g + j, _mm512_mul_ps(_mm512_add_ps(e0, e1), vsc));
  }
  if (j < n) {
    const __mmask16 tail = (__mmask16)((1u << (n - j)) - 1u);
    /* inactive lanes hold -inf, so they compute exp(-inf) = 0 (no overflow), and are never stored */
    __m512 x = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, s + j);
    __m512 e0 = Sleef_expf16_u10avx512f(_mm512_sub_ps(x, vli));
    __m512 e1 = Sleef_expf16_u10avx512f(_mm512_sub_ps(x, _mm512_maskz_loadu_ps(tail, lse + j)));
    _mm512_mask_storeu_ps(g + j, tail, _mm512_mul_ps(_mm512_add_ps(e0, e1), vsc));
  }
}
