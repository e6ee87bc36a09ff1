/* fma_peak__avx2.c: the AVX2 FMA peak loop: 12 independent chains of 256-bit FMAs (more than latency x pipes =
 * 4 x 2), the denominator of "fraction of peak" for the avx2 table. It must do nothing else: no memory traffic in
 * the loop. */
#include <immintrin.h>

#include "gemm.h"

double sc_fma_peak__avx2(size_t iters) {
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  __m256 r0 = _mm256_set1_ps(1.00f), r1 = _mm256_set1_ps(1.01f), r2 = _mm256_set1_ps(1.02f);
  __m256 r3 = _mm256_set1_ps(1.03f), r4 = _mm256_set1_ps(1.04f), r5 = _mm256_set1_ps(1.05f);
  __m256 r6 = _mm256_set1_ps(1.06f), r7 = _mm256_set1_ps(1.07f), r8 = _mm256_set1_ps(1.08f);
  __m256 r9 = _mm256_set1_ps(1.09f), r10 = _mm256_set1_ps(1.10f), r11 = _mm256_set1_ps(1.11f);
  for (size_t i = 0; i < iters; i++) {
    r0 = _mm256_fmadd_ps(r0, x, y); r1 = _mm256_fmadd_ps(r1, x, y); r2 = _mm256_fmadd_ps(r2, x, y);
    r3 = _mm256_fmadd_ps(r3, x, y); r4 = _mm256_fmadd_ps(r4, x, y); r5 = _mm256_fmadd_ps(r5, x, y);
    r6 = _mm256_fmadd_ps(r6, x, y); r7 = _mm256_fmadd_ps(r7, x, y); r8 = _mm256_fmadd_ps(r8, x, y);
    r9 = _mm256_fmadd_ps(r9, x, y); r10 = _mm256_fmadd_ps(r10, x, y); r11 = _mm256_fmadd_ps(r11, x, y);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r0, r1), _mm256_add_ps(r2, r3)),
                           _mm256_add_ps(_mm256_add_ps(r4, r5), _mm256_add_ps(r6, r7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(r8, r9), _mm256_add_ps(r10, r11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  volatile float sink = out[0] + out[7];
  (void)sink;
  return 2.0 * 8.0 * 12.0 * (double)iters;
}
