/* f32_xent_row_symgrad__avx512.c: one row of H = scale * (P + P^T) from stored exponentials, g = scale * (u * (w_i
 * + w_j)), with AVX-512: no exponential, two loads, three operations and a store per 16 lanes (see xent.h). The
 * tail is masked, so nothing outside [0, n) is read or written.
 *
 * Registers: zmm w_i and zmm scale broadcast; per 16 lanes u, w, their combination; two chains per iteration;
 * k1 = tail mask.
 */
#include <immintrin.h>

#include "xent.h"

static inline __m512 symgrad16(__m512 u, __m512 w, __m512 vwi, __m512 vsc) {
  return _mm512_mul_ps(_mm512_mul_ps(u, _mm512_add_ps(vwi, w)), vsc);
}

void sc_f32_xent_row_symgrad__avx512(size_t n, const float *u, float w_i, const float *w, float scale, float *g) {
  const __m512 vwi = _mm512_set1_ps(w_i), vsc = _mm512_set1_ps(scale);
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m512 g0 = symgrad16(_mm512_loadu_ps(u + j), _mm512_loadu_ps(w + j), vwi, vsc);
    __m512 g1 = symgrad16(_mm512_loadu_ps(u + j + 16), _mm512_loadu_ps(w + j + 16), vwi, vsc);
    _mm512_storeu_ps(g + j, g0);
    _mm512_storeu_ps(g + j + 16, g1);
  }
  for (; j + 16 <= n; j += 16)
    _mm512_storeu_ps(g + j, symgrad16(_mm512_loadu_ps(u + j), _mm512_loadu_ps(w + j), vwi, vsc));
  if (j < n) {
    const __mmask16 tail = (__mmask16)((1u << (n - j)) - 1u);
    __m512 r = symgrad16(_mm512_maskz_loadu_ps(tail, u + j), _mm512_maskz_loadu_ps(tail, w + j), vwi, vsc);
    _mm512_mask_storeu_ps(g + j, tail, r);
  }
}
