/* f32_eltwise__avx2.c: ReLU, residual add, the epilogue (residual, bias, ReLU) and column sums with AVX2, 8 floats per
 * ymm; a ragged end goes through masked loads and stores (f32_tail__avx2.h). Must match
 * arch/scalar/f32_eltwise__scalar.c exactly: the same additions and comparisons in the same order (a masked-off update
 * is a blend, never "+ 0", so -0 stays). */
#include "eltwise.h"
#include "f32_tail__avx2.h"

SC_ELTWISE_DECLARE(avx2)

void sc_f32_relu_forward__avx2(size_t n, const float *x, float *y) {
  const __m256 zero = _mm256_setzero_ps();
  size_t i = 0;
  /* max(x, 0) returns its second operand when x is NaN: NaN becomes 0, as in the scalar kernel */
  for (; i + 32 <= n; i += 32) {
    __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    __m256 c = _mm256_loadu_ps(x + i + 16), d = _mm256_loadu_ps(x + i + 24);
    _mm256_storeu_ps(y + i, _mm256_max_ps(a, zero));
    _mm256_storeu_ps(y + i + 8, _mm256_max_ps(b, zero));
    _mm256_storeu_ps(y + i + 16, _mm256_max_ps(c, zero));
    _mm256_storeu_ps(y + i + 24, _mm256_max_ps(d, zero));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(_mm256_loadu_ps(x + i), zero));
  if (i < n) {
    __m256i m = sc_avx2_mask(n - i);
    sc_avx2_st(y + i, m, 0, _mm256_max_ps(sc_avx2_ld(x + i, m, 0), zero));
  }
}

static inline void relu_bwd8(const float *y, const float *dy, float *dx, __m256i m, int full, int acc) {
  __m256 pos = _mm256_cmp_ps(sc_avx2_ld(y, m, full), _mm256_setzero_ps(), _CMP_GT_OQ);
  if (!acc) {
    sc_avx2_st(dx, m, full, _mm256_and_ps(pos, sc_avx2_ld(dy, m, full)));
    return;
  }
  __m256 d = sc_avx2_ld(dx, m, full);
  sc_avx2_st(dx, m, full, _mm256_blendv_ps(d, _mm256_add_ps(d, sc_avx2_ld(dy, m, full)), pos));
}

void sc_f32_relu_backward__avx2(size_t n, const float *y, const float *dy, float *dx, int accumulate) {
  const __m256i all = _mm256_set1_epi32(-1);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) relu_bwd8(y + i, dy + i, dx + i, all, 1, accumulate);
  if (i < n) relu_bwd8(y + i, dy + i, dx + i, sc_avx2_mask(n - i), 0, accumulate);
}

void sc_f32_add__avx2(size_t n, const float *a, const float *b, float *y) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 s0 = _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 s1 = _mm256_add_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    _mm256_storeu_ps(y + i, s0);
    _mm256_storeu_ps(y + i + 8, s1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    __m256i m = sc_avx2_mask(n - i);
    sc_avx2_st(y + i, m, 0, _mm256_add_ps(sc_avx2_ld(a + i, m, 0), sc_avx2_ld(b + i, m, 0)));
  }
}

/* 8 lanes of the epilogue; the steps present are compile-time constants at every call */
static inline __m256 add_bias_relu8(__m256 v, const float *res, const float *b, int has_res, int has_b, int relu,
                                    __m256i m, int full) {
  if (has_res) v = _mm256_add_ps(v, sc_avx2_ld(res, m, full));
  if (has_b) v = _mm256_add_ps(v, sc_avx2_ld(b, m, full));
  return relu ? _mm256_max_ps(v, _mm256_setzero_ps()) : v; /* NaN gives 0, as in the scalar kernel */
}

static inline __attribute__((always_inline)) void add_bias_relu_rows(size_t rows, size_t c, size_t ld, float *y,
                                                                     const float *res, size_t ldr, const float *b,
                                                                     int has_res, int has_b, int relu) {
  const size_t cf = c & ~(size_t)7;
  const __m256i m = sc_avx2_mask(c - cf);
  for (size_t r = 0; r < rows; r++) {
    float *yr = y + r * ld;
    const float *rr = has_res ? res + r * ldr : NULL;
    for (size_t j = 0; j < cf; j += 8)
      _mm256_storeu_ps(yr + j, add_bias_relu8(_mm256_loadu_ps(yr + j), rr + j, b + j, has_res, has_b, relu, m, 1));
    if (cf < c)
      sc_avx2_st(yr + cf, m, 0,
                 add_bias_relu8(sc_avx2_ld(yr + cf, m, 0), rr + cf, b + cf, has_res, has_b, relu, m, 0));
  }
}

SC_ADD_BIAS_RELU_DEFINE(avx2)

/* acc[0..8) += rows nr of x (stride ld), each lane in row order */
static inline void col_sum8(size_t nr, size_t ld, const float *x, double *acc, __m256i m, int full) {
  __m256i ml = sc_avx2_mask_lo_pd(m), mh = sc_avx2_mask_hi_pd(m);
  __m256d a0 = sc_avx2_ld_pd(acc, ml, full), a1 = sc_avx2_ld_pd(acc + 4, mh, full);
  for (size_t q = 0; q < nr; q++) {
    __m256d lo, hi;
    sc_avx2_widen(sc_avx2_ld(x + q * ld, m, full), &lo, &hi);
    a0 = _mm256_add_pd(a0, lo), a1 = _mm256_add_pd(a1, hi);
  }
  sc_avx2_st_pd(acc, ml, full, a0), sc_avx2_st_pd(acc + 4, mh, full, a1);
}

void sc_f32_col_sum__avx2(size_t rows, size_t c, size_t ld, const float *x, double *acc) {
  /* four rows per trip of the accumulators through L1 */
  const size_t cf = c & ~(size_t)7;
  const __m256i all = _mm256_set1_epi32(-1), m = sc_avx2_mask(c - cf);
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4;
    for (size_t j = 0; j < cf; j += 8) col_sum8(nr, ld, x + r * ld + j, acc + j, all, 1);
    if (cf < c) col_sum8(nr, ld, x + r * ld + cf, acc + cf, m, 0);
  }
}
