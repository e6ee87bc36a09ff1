/* f32_xent_row_grad__avx2.c: one row of the symmetrised softmax H = scale * (P + P^T), in place, with AVX2 and
 * SLEEF's expf8 (see xent.h). The tail uses vmaskmov loads and stores, which leave memory past g[n-1] untouched.
 * It must not use libm.
 *
 * Registers: ymm lse_i and ymm scale broadcast; per 8 lanes: x = s[j..], l = lse[j..], the two exp results and
 * their scaled sum; ymm tail mask.
 */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "xent.h"

void sc_f32_xent_row_grad__avx2(size_t n, const float *s, float lse_i, const float *lse, float scale, float *g) {
  const __m256 vli = _mm256_set1_ps(lse_i), vsc = _mm256_set1_ps(scale);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 x = _mm256_loadu_ps(s + j);
    __m256 e0 = Sleef_expf8_u10avx2(_mm256_sub_ps(x, vli));
    __m256 e1 = Sleef_expf8_u10avx2(_mm256_sub_ps(x, _mm256_loadu_ps(lse + j)));
    _mm256_storeu_ps(g + j, _mm256_mul_ps(_mm256_add_ps(e0, e1), vsc));
  }
  if (j < n) {
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    /* inactive lanes hold -inf, so they compute exp(-inf) = 0 (no overflow), and are never stored */
    __m256 x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(s + j, mask),
                                _mm256_castsi256_ps(mask));
    __m256 e0 = Sleef_expf8_u10avx2(_mm256_sub_ps(x, vli));
    __m256 e1 = Sleef_expf8_u10avx2(_mm256_sub_ps(x, _mm256_maskload_ps(lse + j, mask)));
    _mm256_maskstore_ps(g + j, mask, _mm256_mul_ps(_mm256_add_ps(e0, e1), vsc));
  }
}
