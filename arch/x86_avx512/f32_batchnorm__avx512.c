/* f32_batchnorm__avx512.c: batch-norm statistics, apply (+ReLU) and the two backward passes with AVX-512F, 16
 * channels per zmm, a lane mask only for the ragged end (f32_tail__avx512.h). Sums widen to double (two zmm of 8
 * per 16 channels) and each lane adds its rows in row order, so the reductions equal the scalar kernels'; apply
 * and dx use FMA and may differ from them by an ulp. */
#include "eltwise.h"
#include "f32_tail__avx512.h"

SC_ELTWISE_DECLARE(avx512)

static inline void stats16(size_t nr, size_t ld, const float *x, const float *shift, double *sum, double *sumsq,
                           __mmask16 m, int full) {
  const __mmask8 ml = (__mmask8)m, mh = (__mmask8)(m >> 8);
  __m512d s0 = sc_avx512_ld_pd(sum, ml, full), s1 = sc_avx512_ld_pd(sum + 8, mh, full);
  __m512d q0 = sc_avx512_ld_pd(sumsq, ml, full), q1 = sc_avx512_ld_pd(sumsq + 8, mh, full);
  __m512d h0, h1;
  sc_avx512_widen(sc_avx512_ld(shift, m, full), &h0, &h1);
  for (size_t q = 0; q < nr; q++) {
    __m512d lo, hi;
    sc_avx512_widen(sc_avx512_ld(x + q * ld, m, full), &lo, &hi);
    lo = _mm512_sub_pd(lo, h0), hi = _mm512_sub_pd(hi, h1);
    s0 = _mm512_add_pd(s0, lo), s1 = _mm512_add_pd(s1, hi);
    /* d has at most 25 significant bits, so d*d is exact and FMA rounds like mul-then-add */
    q0 = _mm512_fmadd_pd(lo, lo, q0), q1 = _mm512_fmadd_pd(hi, hi, q1);
  }
  sc_avx512_st_pd(sum, ml, full, s0), sc_avx512_st_pd(sum + 8, mh, full, s1);
  sc_avx512_st_pd(sumsq, ml, full, q0), sc_avx512_st_pd(sumsq + 8, mh, full, q1);
}

void sc_f32_bn_stats__avx512(size_t rows, size_t c, size_t ld, const float *x, const float *shift, double *sum,
                             double *sumsq) {
  const size_t cf = c & ~(size_t)15;
  const __mmask16 m = sc_avx512_mask(c - cf);
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4;
    for (size_t j = 0; j < cf; j += 16) stats16(nr, ld, x + r * ld + j, shift + j, sum + j, sumsq + j, 0xffff, 1);
    if (cf < c) stats16(nr, ld, x + r * ld + cf, shift + cf, sum + cf, sumsq + cf, m, 0);
  }
}

/* (x - mean) * scale + beta: the pre-activation of the fused ReLU, one expression for apply and both backward
 * kernels, so that the backward's recomputed mask is the forward's bit for bit. xm = x - mean. */
static inline __m512 pre_activation(__m512 xm, const float *scale, const float *beta, __mmask16 m, int full) {
  return _mm512_fmadd_ps(xm, sc_avx512_ld(scale, m, full), sc_avx512_ld(beta, m, full));
}

static inline void apply16(const float *x, const float *mean, const float *scale, const float *beta, float *y,
                           int relu, __mmask16 m, int full) {
  __m512 v = pre_activation(_mm512_sub_ps(sc_avx512_ld(x, m, full), sc_avx512_ld(mean, m, full)), scale, beta, m,
                            full);
  if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps()); /* NaN -> 0, as the scalar !(v > 0) */
  sc_avx512_st(y, m, full, v);
}

void sc_f32_bn_apply__avx512(size_t rows, size_t c, size_t ld, const float *x, const float *mean,
                             const float *scale, const float *beta, float *y, int relu) {
  const size_t cf = c & ~(size_t)15;
  const __mmask16 m = sc_avx512_mask(c - cf);
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ld;
    float *yr = y + r * ld;
    for (size_t j = 0; j < cf; j += 16) apply16(xr + j, mean + j, scale + j, beta + j, yr + j, relu, 0xffff, 1);
    if (cf < c) apply16(xr + cf, mean + cf, scale + cf, beta + cf, yr + cf, relu, m, 0);
  }
}

/* dy with the fused ReLU's mask applied (scale != NULL; scale and beta are read at channels j..j+15): 0 where the
 * pre-activation is not > 0, NaN included, as the scalar !(v > 0) */
static inline __m512 masked_dy(const float *dy, __m512 xm, const float *scale, const float *beta, size_t j,
                               __mmask16 m, int full) {
  __m512 g = sc_avx512_ld(dy, m, full);
  if (!scale) return g;
  g = sc_avx512_in_reg(g);
  __m512 v = pre_activation(xm, scale + j, beta + j, m, full);
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), g);
}

static inline void reduce16(size_t nr, size_t ld, const float *x, const float *dy, const float *mean,
                            const float *scale, const float *beta, size_t j, double *sdy, double *sdyx, __mmask16 m,
                            int full) {
  const __mmask8 ml = (__mmask8)m, mh = (__mmask8)(m >> 8);
  __m512d s0 = sc_avx512_ld_pd(sdy, ml, full), s1 = sc_avx512_ld_pd(sdy + 8, mh, full);
  __m512d q0 = sc_avx512_ld_pd(sdyx, ml, full), q1 = sc_avx512_ld_pd(sdyx + 8, mh, full);
  const __m512 mu = sc_avx512_ld(mean, m, full);
  for (size_t q = 0; q < nr; q++) {
    __m512d g0, g1, d0, d1;
    const __m512 xm = _mm512_sub_ps(sc_avx512_ld(x + q * ld, m, full), mu);
    sc_avx512_widen(masked_dy(dy + q * ld, xm, scale, beta, j, m, full), &g0, &g1);
    sc_avx512_widen(xm, &d0, &d1);
    s0 = _mm512_add_pd(s0, g0), s1 = _mm512_add_pd(s1, g1);
    /* a product of two floats is exact in double: FMA equals the scalar mul-then-add */
    q0 = _mm512_fmadd_pd(g0, d0, q0), q1 = _mm512_fmadd_pd(g1, d1, q1);
  }
  sc_avx512_st_pd(sdy, ml, full, s0), sc_avx512_st_pd(sdy + 8, mh, full, s1);
  sc_avx512_st_pd(sdyx, ml, full, q0), sc_avx512_st_pd(sdyx + 8, mh, full, q1);
}

void sc_f32_bn_backward_reduce__avx512(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                       const float *mean, const float *scale, const float *beta, double *sum_dy,
                                       double *sum_dyx) {
  const size_t cf = c & ~(size_t)15;
  const __mmask16 m = sc_avx512_mask(c - cf);
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4, o = r * ld;
    for (size_t j = 0; j < cf; j += 16)
      reduce16(nr, ld, x + o + j, dy + o + j, mean + j, scale, beta, j, sum_dy + j, sum_dyx + j, 0xffff, 1);
    if (cf < c) reduce16(nr, ld, x + o + cf, dy + o + cf, mean + cf, scale, beta, cf, sum_dy + cf, sum_dyx + cf, m, 0);
  }
}

static inline void dx16(const float *x, const float *dy, const float *mean, const float *scale, const float *beta,
                        size_t j, const float *a, const float *b, const float *d, float *dx, __mmask16 m, int full,
                        int acc) {
  __m512 xm = _mm512_sub_ps(sc_avx512_ld(x, m, full), sc_avx512_ld(mean, m, full));
  __m512 g = masked_dy(dy, xm, scale, beta, j, m, full);
  __m512 t = _mm512_fmadd_ps(sc_avx512_ld(b, m, full), xm, sc_avx512_ld(d, m, full));
  t = _mm512_fmadd_ps(sc_avx512_ld(a, m, full), g, t);
  sc_avx512_st(dx, m, full, acc ? _mm512_add_ps(sc_avx512_ld(dx, m, full), t) : t);
}

void sc_f32_bn_backward_dx__avx512(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                   const float *mean, const float *scale, const float *beta, const float *a,
                                   const float *b, const float *d, float *dx, int accumulate) {
  const size_t cf = c & ~(size_t)15;
  const __mmask16 m = sc_avx512_mask(c - cf);
  for (size_t r = 0; r < rows; r++) {
    size_t o = r * ld;
    for (size_t j = 0; j < cf; j += 16)
      dx16(x + o + j, dy + o + j, mean + j, scale, beta, j, a + j, b + j, d + j, dx + o + j, 0xffff, 1, accumulate);
    if (cf < c)
      dx16(x + o + cf, dy + o + cf, mean + cf, scale, beta, cf, a + cf, b + cf, d + cf, dx + o + cf, m, 0, accumulate);
  }
}
