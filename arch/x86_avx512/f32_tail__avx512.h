/* f32_tail__avx512.h: loads and stores for the AVX-512 element-wise kernels. Full vectors use plain unaligned
 * loads and stores; only the ragged end of a row uses a lane mask. (A masked store that a later load reads back,
 * such as an accumulator or an overlapping max-pool window, cannot be store-forwarded on current Intel cores and
 * costs a pipeline stall, so masks stay off the hot path.) `full` is a compile-time constant at every inlined
 * call. Included by the arch/x86_avx512 kernel files only. */
#ifndef SC_ARCH_F32_TAIL_AVX512_H
#define SC_ARCH_F32_TAIL_AVX512_H

#include <immintrin.h>
#include <stddef.h>

/* mask of the first min(n, 16) lanes */
static inline __mmask16 sc_avx512_mask(size_t n) {
  return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}
static inline __m512 sc_avx512_ld(const float *p, __mmask16 m, int full) {
  return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}
static inline void sc_avx512_st(float *p, __mmask16 m, int full, __m512 v) {
  if (full)
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, m, v);
}
/* 8 doubles: m selects them (the low or high half of a 16-lane float mask) */
static inline __m512d sc_avx512_ld_pd(const double *p, __mmask8 m, int full) {
  return full ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(m, p);
}
static inline void sc_avx512_st_pd(double *p, __mmask8 m, int full, __m512d v) {
  if (full)
    _mm512_storeu_pd(p, v);
  else
    _mm512_mask_storeu_pd(p, m, v);
}
/* v, forced into a register. Where a mask comes from data (y > 0, x == max), the compiler likes to fold the load
 * of the other operand into the masked instruction; a masked load waits for its mask, so the second cache miss
 * would start only when the first resolves (measured: 2-3x slower on streams that miss). Loading first keeps the
 * two misses overlapped. */
static inline __m512 sc_avx512_in_reg(__m512 v) {
  __asm__("" : "+v"(v));
  return v;
}
/* 16 floats widened to two vectors of 8 doubles */
static inline void sc_avx512_widen(__m512 v, __m512d *lo, __m512d *hi) {
  *lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  *hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

#endif
