/* fma_peak__avx512.c: the AVX-512 FMA peak loop: 16 independent chains of 512-bit FMAs, more than the
 * latency x throughput product (4 cycles x 2 pipes = 8) of current cores, so the FMA pipes, not a dependency,
 * limit the rate. It is the denominator of "fraction of peak" for the avx512 table; it must do nothing else
 * (no memory traffic inside the loop). */
#include <immintrin.h>

#include "gemm.h"

double sc_fma_peak__avx512(size_t iters) {
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  __m512 r[16];
  for (int j = 0; j < 16; j++) r[j] = _mm512_set1_ps(1.0f + 0.01f * (float)j);
  __m512 r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r4 = r[4], r5 = r[5], r6 = r[6], r7 = r[7];
  __m512 r8 = r[8], r9 = r[9], r10 = r[10], r11 = r[11], r12 = r[12], r13 = r[13], r14 = r[14], r15 = r[15];
  for (size_t i = 0; i < iters; i++) {
    r0 = _mm512_fmadd_ps(r0, x, y); r1 = _mm512_fmadd_ps(r1, x, y);
    r2 = _mm512_fmadd_ps(r2, x, y); r3 = _mm512_fmadd_ps(r3, x, y);
    r4 = _mm512_fmadd_ps(r4, x, y); r5 = _mm512_fmadd_ps(r5, x, y);
    r6 = _mm512_fmadd_ps(r6, x, y); r7 = _mm512_fmadd_ps(r7, x, y);
    r8 = _mm512_fmadd_ps(r8, x, y); r9 = _mm512_fmadd_ps(r9, x, y);
    r10 = _mm512_fmadd_ps(r10, x, y); r11 = _mm512_fmadd_ps(r11, x, y);
    r12 = _mm512_fmadd_ps(r12, x, y); r13 = _mm512_fmadd_ps(r13, x, y);
    r14 = _mm512_fmadd_ps(r14, x, y); r15 = _mm512_fmadd_ps(r15, x, y);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r0, r1), _mm512_add_ps(r2, r3)),
                           _mm512_add_ps(_mm512_add_ps(r4, r5), _mm512_add_ps(r6, r7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r8, r9), _mm512_add_ps(r10, r11)),
                                     _mm512_add_ps(_mm512_add_ps(r12, r13), _mm512_add_ps(r14, r15))));
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return 2.0 * 16.0 * 16.0 * (double)iters;
}
