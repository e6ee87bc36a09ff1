/* f32_tail__avx2.h: loads and stores of a ragged row end for the AVX2 element-wise kernels. AVX2 has no lane
 * masks, so the last n < 8 floats go through vmaskmov with an integer mask cut from a table; masked lanes are
 * never read or written (no fault past the end). `full` is a compile-time constant at every inlined call, so the
 * full-vector path is a plain unaligned load or store. Included by the arch/x86_avx2 kernel files only. */
#ifndef SC_ARCH_F32_TAIL_AVX2_H
#define SC_ARCH_F32_TAIL_AVX2_H

#include <immintrin.h>
#include <stddef.h>

static const int sc_avx2_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* mask of the first n lanes, n <= 8 */
static inline __m256i sc_avx2_mask(size_t n) {
  return _mm256_loadu_si256((const __m256i *)(sc_avx2_mask_table + 8 - n));
}
/* the same lanes seen as two halves of four doubles each */
static inline __m256i sc_avx2_mask_lo_pd(__m256i m) { return _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)); }
static inline __m256i sc_avx2_mask_hi_pd(__m256i m) { return _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)); }

static inline __m256 sc_avx2_ld(const float *p, __m256i m, int full) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
static inline void sc_avx2_st(float *p, __m256i m, int full, __m256 v) {
  if (full)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, m, v);
}
static inline __m256d sc_avx2_ld_pd(const double *p, __m256i m, int full) {
  return full ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, m);
}
static inline void sc_avx2_st_pd(double *p, __m256i m, int full, __m256d v) {
  if (full)
    _mm256_storeu_pd(p, v);
  else
    _mm256_maskstore_pd(p, m, v);
}
/* 8 floats widened to two vectors of 4 doubles */
static inline void sc_avx2_widen(__m256 v, __m256d *lo, __m256d *hi) {
  *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

#endif
