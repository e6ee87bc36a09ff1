/* f32_eltwise__avx512.c: ReLU, residual add, the epilogue (residual, bias, ReLU) and column sums with AVX-512F, 16
 * floats per zmm; the ragged end of a row goes through a lane mask (f32_tail__avx512.h), never a read or write past
 * the end. Must match arch/scalar/f32_eltwise__scalar.c exactly: the same additions and comparisons in the same order
 * (a masked-off update keeps the old value, never "+ 0", so -0 stays). */
#include "eltwise.h"
#include "f32_tail__avx512.h"

SC_ELTWISE_DECLARE(avx512)

void sc_f32_relu_forward__avx512(size_t n, const float *x, float *y) {
  const __m512 zero = _mm512_setzero_ps();
  size_t i = 0;
  /* max(x, 0) returns its second operand when x is NaN: NaN becomes 0, as in the scalar kernel */
  for (; i + 64 <= n; i += 64) {
    __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    __m512 c = _mm512_loadu_ps(x + i + 32), d = _mm512_loadu_ps(x + i + 48);
    _mm512_storeu_ps(y + i, _mm512_max_ps(a, zero));
    _mm512_storeu_ps(y + i + 16, _mm512_max_ps(b, zero));
    _mm512_storeu_ps(y + i + 32, _mm512_max_ps(c, zero));
    _mm512_storeu_ps(y + i + 48, _mm512_max_ps(d, zero));
  }
  for (; i < n; i += 16) {
    __mmask16 m = sc_avx512_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i), zero));
  }
}

static inline void relu_bwd16(const float *y, const float *dy, float *dx, __mmask16 m, int full, int acc) {
  __mmask16 pos = _mm512_cmp_ps_mask(sc_avx512_ld(y, m, full), _mm512_setzero_ps(), _CMP_GT_OQ);
  __m512 g = sc_avx512_in_reg(sc_avx512_ld(dy, m, full));
  if (!acc) {
    sc_avx512_st(dx, m, full, _mm512_maskz_mov_ps(pos, g));
    return;
  }
  __m512 d = sc_avx512_ld(dx, m, full);
  sc_avx512_st(dx, m, full, _mm512_mask_add_ps(d, pos, d, g));
}

void sc_f32_relu_backward__avx512(size_t n, const float *y, const float *dy, float *dx, int accumulate) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) relu_bwd16(y + i, dy + i, dx + i, 0xffff, 1, accumulate);
  if (i < n) relu_bwd16(y + i, dy + i, dx + i, sc_avx512_mask(n - i), 0, accumulate);
}

void sc_f32_add__avx512(size_t n, const float *a, const float *b, float *y) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 s0 = _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 s1 = _mm512_add_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    _mm512_storeu_ps(y + i, s0);
    _mm512_storeu_ps(y + i + 16, s1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = sc_avx512_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

/* 16 lanes of the epilogue; the steps present are compile-time constants at every call */
static inline __m512 add_bias_relu16(__m512 v, const float *res, const float *b, int has_res, int has_b, int relu,
                                     __mmask16 m, int full) {
  if (has_res) v = _mm512_add_ps(v, sc_avx512_ld(res, m, full));
  if (has_b) v = _mm512_add_ps(v, sc_avx512_ld(b, m, full));
  return relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v; /* NaN gives 0, as in the scalar kernel */
}

static inline __attribute__((always_inline)) void add_bias_relu_rows(size_t rows, size_t c, size_t ld, float *y,
                                                                     const float *res, size_t ldr, const float *b,
                                                                     int has_res, int has_b, int relu) {
  const size_t cf = c & ~(size_t)15;
  const __mmask16 m = sc_avx512_mask(c - cf);
  for (size_t r = 0; r < rows; r++) {
    float *yr = y + r * ld;
    const float *rr = has_res ? res + r * ldr : NULL;
    for (size_t j = 0; j < cf; j += 16)
      _mm512_storeu_ps(yr + j, add_bias_relu16(_mm512_loadu_ps(yr + j), rr + j, b + j, has_res, has_b, relu, m, 1));
    if (cf < c)
      _mm512_mask_storeu_ps(
          yr + cf, m, add_bias_relu16(_mm512_maskz_loadu_ps(m, yr + cf), rr + cf, b + cf, has_res, has_b, relu, m, 0));
  }
}

SC_ADD_BIAS_RELU_DEFINE(avx512)

/* acc[0..16) += nr rows of x (stride ld), each lane in row order */
static inline void col_sum16(size_t nr, size_t ld, const float *x, double *acc, __mmask16 m, int full) {
  const __mmask8 ml = (__mmask8)m, mh = (__mmask8)(m >> 8);
  __m512d a0 = sc_avx512_ld_pd(acc, ml, full), a1 = sc_avx512_ld_pd(acc + 8, mh, full);
  for (size_t q = 0; q < nr; q++) {
    __m512d lo, hi;
    sc_avx512_widen(sc_avx512_ld(x + q * ld, m, full), &lo, &hi);
    a0 = _mm512_add_pd(a0, lo), a1 = _mm512_add_pd(a1, hi);
  }
  sc_avx512_st_pd(acc, ml, full, a0), sc_avx512_st_pd(acc + 8, mh, full, a1);
}

void sc_f32_col_sum__avx512(size_t rows, size_t c, size_t ld, const float *x, double *acc) {
  /* rows four at a time: one trip of the accumulators through L1 per four rows */
  const size_t cf = c & ~(size_t)15;
  const __mmask16 m = sc_avx512_mask(c - cf);
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4;
    for (size_t j = 0; j < cf; j += 16) col_sum16(nr, ld, x + r * ld + j, acc + j, 0xffff, 1);
    if (cf < c) col_sum16(nr, ld, x + r * ld + cf, acc + cf, m, 0);
  }
}
