/* f32_batchnorm__avx2.c: batch-norm statistics, apply (+ReLU) and the two backward passes with AVX2 and FMA, 8
 * channels per ymm, masked loads and stores for the ragged end (f32_tail__avx2.h). Sums widen to double and each
 * lane adds its rows in row order, so the reductions equal the scalar kernels'; apply and dx use FMA and may
 * differ from them by an ulp. */
#include "eltwise.h"
#include "f32_tail__avx2.h"

SC_ELTWISE_DECLARE(avx2)

static inline void stats8(size_t nr, size_t ld, const float *x, const float *shift, double *sum, double *sumsq,
                          __m256i m, int full) {
  __m256i ml = sc_avx2_mask_lo_pd(m), mh = sc_avx2_mask_hi_pd(m);
  __m256d s0 = sc_avx2_ld_pd(sum, ml, full), s1 = sc_avx2_ld_pd(sum + 4, mh, full);
  __m256d q0 = sc_avx2_ld_pd(sumsq, ml, full), q1 = sc_avx2_ld_pd(sumsq + 4, mh, full);
  __m256d h0, h1;
  sc_avx2_widen(sc_avx2_ld(shift, m, full), &h0, &h1);
  for (size_t q = 0; q < nr; q++) {
    __m256d lo, hi;
    sc_avx2_widen(sc_avx2_ld(x + q * ld, m, full), &lo, &hi);
    lo = _mm256_sub_pd(lo, h0), hi = _mm256_sub_pd(hi, h1);
    s0 = _mm256_add_pd(s0, lo), s1 = _mm256_add_pd(s1, hi);
    /* d has at most 25 significant bits: d*d is exact, so FMA rounds as mul-then-add does */
    q0 = _mm256_fmadd_pd(lo, lo, q0), q1 = _mm256_fmadd_pd(hi, hi, q1);
  }
  sc_avx2_st_pd(sum, ml, full, s0), sc_avx2_st_pd(sum + 4, mh, full, s1);
  sc_avx2_st_pd(sumsq, ml, full, q0), sc_avx2_st_pd(sumsq + 4, mh, full, q1);
}

void sc_f32_bn_stats__avx2(size_t rows, size_t c, size_t ld, const float *x, const float *shift, double *sum,
                           double *sumsq) {
  const size_t cf = c & ~(size_t)7;
  const __m256i all = _mm256_set1_epi32(-1), m = sc_avx2_mask(c - cf);
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4;
    for (size_t j = 0; j < cf; j += 8) stats8(nr, ld, x + r * ld + j, shift + j, sum + j, sumsq + j, all, 1);
    if (cf < c) stats8(nr, ld, x + r * ld + cf, shift + cf, sum + cf, sumsq + cf, m, 0);
  }
}

/* (x - mean) * scale + beta: the pre-activation of the fused ReLU, one expression for apply and both backward
 * kernels, so that the backward's recomputed mask is the forward's bit for bit. xm = x - mean. */
static inline __m256 pre_activation(__m256 xm, const float *scale, const float *beta, __m256i m, int full) {
  return _mm256_fmadd_ps(xm, sc_avx2_ld(scale, m, full), sc_avx2_ld(beta, m, full));
}

static inline void apply8(const float *x, const float *mean, const float *scale, const float *beta, float *y,
                          int relu, __m256i m, int full) {
  __m256 v = pre_activation(_mm256_sub_ps(sc_avx2_ld(x, m, full), sc_avx2_ld(mean, m, full)), scale, beta, m, full);
  if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
  sc_avx2_st(y, m, full, v);
}

void sc_f32_bn_apply__avx2(size_t rows, size_t c, size_t ld, const float *x, const float *mean,
                           const float *scale, const float *beta, float *y, int relu) {
  const size_t cf = c & ~(size_t)7;
  const __m256i all = _mm256_set1_epi32(-1), m = sc_avx2_mask(c - cf);
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ld;
    float *yr = y + r * ld;
    for (size_t j = 0; j < cf; j += 8) apply8(xr + j, mean + j, scale + j, beta + j, yr + j, relu, all, 1);
    if (cf < c) apply8(xr + cf, mean + cf, scale + cf, beta + cf, yr + cf, relu, m, 0);
  }
}

/* dy with the fused ReLU's mask applied (scale != NULL; scale and beta are read at channels j..j+7): 0 where the
 * pre-activation is not > 0, NaN included, as the scalar !(v > 0) */
static inline __m256 masked_dy(const float *dy, __m256 xm, const float *scale, const float *beta, size_t j,
                               __m256i m, int full) {
  __m256 g = sc_avx2_ld(dy, m, full);
  if (!scale) return g;
  __m256 v = pre_activation(xm, scale + j, beta + j, m, full);
  return _mm256_and_ps(g, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
}

static inline void reduce8(size_t nr, size_t ld, const float *x, const float *dy, const float *mean,
                           const float *scale, const float *beta, size_t j, double *sdy, double *sdyx, __m256i m,
                           int full) {
  __m256i ml = sc_avx2_mask_lo_pd(m), mh = sc_avx2_mask_hi_pd(m);
  __m256d s0 = sc_avx2_ld_pd(sdy, ml, full), s1 = sc_avx2_ld_pd(sdy + 4, mh, full);
  __m256d q0 = sc_avx2_ld_pd(sdyx, ml, full), q1 = sc_avx2_ld_pd(sdyx + 4, mh, full);
  __m256 mu = sc_avx2_ld(mean, m, full);
  for (size_t q = 0; q < nr; q++) {
    __m256d g0, g1, d0, d1;
    const __m256 xm = _mm256_sub_ps(sc_avx2_ld(x + q * ld, m, full), mu);
    sc_avx2_widen(masked_dy(dy + q * ld, xm, scale, beta, j, m, full), &g0, &g1);
    sc_avx2_widen(xm, &d0, &d1);
    s0 = _mm256_add_pd(s0, g0), s1 = _mm256_add_pd(s1, g1);
    /* a product of two floats is exact in double: FMA equals the scalar mul-then-add */
    q0 = _mm256_fmadd_pd(g0, d0, q0), q1 = _mm256_fmadd_pd(g1, d1, q1);
  }
  sc_avx2_st_pd(sdy, ml, full, s0), sc_avx2_st_pd(sdy + 4, mh, full, s1);
  sc_avx2_st_pd(sdyx, ml, full, q0), sc_avx2_st_pd(sdyx + 4, mh, full, q1);
}

void sc_f32_bn_backward_reduce__avx2(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                     const float *mean, const float *scale, const float *beta, double *sum_dy,
                                     double *sum_dyx) {
  const size_t cf = c & ~(size_t)7;
  const __m256i all = _mm256_set1_epi32(-1), m = sc_avx2_mask(c - cf);
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4, o = r * ld;
    for (size_t j = 0; j < cf; j += 8)
      reduce8(nr, ld, x + o + j, dy + o + j, mean + j, scale, beta, j, sum_dy + j, sum_dyx + j, all, 1);
    if (cf < c) reduce8(nr, ld, x + o + cf, dy + o + cf, mean + cf, scale, beta, cf, sum_dy + cf, sum_dyx + cf, m, 0);
  }
}

static inline void dx8(const float *x, const float *dy, const float *mean, const float *scale, const float *beta,
                       size_t j, const float *a, const float *b, const float *d, float *dx, __m256i m, int full,
                       int acc) {
  __m256 xm = _mm256_sub_ps(sc_avx2_ld(x, m, full), sc_avx2_ld(mean, m, full));
  __m256 g = masked_dy(dy, xm, scale, beta, j, m, full);
  __m256 t = _mm256_fmadd_ps(sc_avx2_ld(b, m, full), xm, sc_avx2_ld(d, m, full));
  t = _mm256_fmadd_ps(sc_avx2_ld(a, m, full), g, t);
  sc_avx2_st(dx, m, full, acc ? _mm256_add_ps(sc_avx2_ld(dx, m, full), t) : t);
}

void sc_f32_bn_backward_dx__avx2(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                 const float *mean, const float *scale, const float *beta, const float *a,
                                 const float *b, const float *d, float *dx, int accumulate) {
  const size_t cf = c & ~(size_t)7;
  const __m256i all = _mm256_set1_epi32(-1), m = sc_avx2_mask(c - cf);
  for (size_t r = 0; r < rows; r++) {
    size_t o = r * ld;
    for (size_t j = 0; j < cf; j += 8)
      dx8(x + o + j, dy + o + j, mean + j, scale, beta, j, a + j, b + j, d + j, dx + o + j, all, 1, accumulate);
    if (cf < c)
      dx8(x + o + cf, dy + o + cf, mean + cf, scale, beta, cf, a + cf, b + cf, d + cf, dx + o + cf, m, 0, accumulate);
  }
}
