/* f32_xent_row_symgrad__avx2.c: one row of H = scale * (P + P^T) from stored exponentials, g = scale * (u * (w_i +
 * w_j)), with AVX2: no exponential (see xent.h). The tail uses vmaskmov loads and stores, so nothing outside
 * [0, n) is read or written.
 *
 * Registers: ymm w_i and ymm scale broadcast; per 8 lanes u, w, their combination; two chains per iteration;
 * ymm tail mask.
 */
#include <immintrin.h>

#include "xent.h"

static inline __m256 symgrad8(__m256 u, __m256 w, __m256 vwi, __m256 vsc) {
  return _mm256_mul_ps(_mm256_mul_ps(u, _mm256_add_ps(vwi, w)), vsc);
}

void sc_f32_xent_row_symgrad__avx2(size_t n, const float *u, float w_i, const float *w, float scale, float *g) {
  const __m256 vwi = _mm256_set1_ps(w_i), vsc = _mm256_set1_ps(scale);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 g0 = symgrad8(_mm256_loadu_ps(u + j), _mm256_loadu_ps(w + j), vwi, vsc);
    __m256 g1 = symgrad8(_mm256_loadu_ps(u + j + 8), _mm256_loadu_ps(w + j + 8), vwi, vsc);
    _mm256_storeu_ps(g + j, g0);
    _mm256_storeu_ps(g + j + 8, g1);
  }
  for (; j + 8 <= n; j += 8)
    _mm256_storeu_ps(g + j, symgrad8(_mm256_loadu_ps(u + j), _mm256_loadu_ps(w + j), vwi, vsc));
  if (j < n) {
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 r = symgrad8(_mm256_maskload_ps(u + j, mask), _mm256_maskload_ps(w + j, mask), vwi, vsc);
    _mm256_maskstore_ps(g + j, mask, r);
  }
}
