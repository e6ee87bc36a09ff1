/* f32_batchnorm__neon.c: batch-norm statistics, apply (+ReLU) and the two backward passes with AArch64 Advanced
 * SIMD, 4 channels per q register and the scalar kernel's statements for the last c % 4. Sums widen to two
 * float64x2 per 4 channels and each lane adds its rows in row order, so the reductions equal the scalar
 * kernels'; apply and dx use FMA and may differ from them by an ulp. */
#include <arm_neon.h>

#include "eltwise.h"

SC_ELTWISE_DECLARE(neon)

void sc_f32_bn_stats__neon(size_t rows, size_t c, size_t ld, const float *x, const float *shift, double *sum,
                           double *sumsq) {
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4, j = 0;
    const float *xr = x + r * ld;
    for (; j + 4 <= c; j += 4) {
      float64x2_t s0 = vld1q_f64(sum + j), s1 = vld1q_f64(sum + j + 2);
      float64x2_t q0 = vld1q_f64(sumsq + j), q1 = vld1q_f64(sumsq + j + 2);
      float32x4_t sh = vld1q_f32(shift + j);
      float64x2_t h0 = vcvt_f64_f32(vget_low_f32(sh)), h1 = vcvt_high_f64_f32(sh);
      for (size_t q = 0; q < nr; q++) {
        float32x4_t v = vld1q_f32(xr + q * ld + j);
        float64x2_t d0 = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), h0), d1 = vsubq_f64(vcvt_high_f64_f32(v), h1);
        s0 = vaddq_f64(s0, d0), s1 = vaddq_f64(s1, d1);
        /* d has at most 25 significant bits: d*d is exact, so FMA rounds as mul-then-add does */
        q0 = vfmaq_f64(q0, d0, d0), q1 = vfmaq_f64(q1, d1, d1);
      }
      vst1q_f64(sum + j, s0), vst1q_f64(sum + j + 2, s1);
      vst1q_f64(sumsq + j, q0), vst1q_f64(sumsq + j + 2, q1);
    }
    for (; j < c; j++)
      for (size_t q = 0; q < nr; q++) {
        double d = (double)xr[q * ld + j] - (double)shift[j];
        sum[j] += d;
        sumsq[j] += d * d;
      }
  }
}

/* (x - mean) * scale + beta, the pre-activation of the fused ReLU, for 4 channels and for one (the tail): apply and
 * both backward kernels evaluate these same expressions, so that the backward's recomputed mask is the forward's
 * bit for bit. xm = x - mean. */
static inline float32x4_t pre_activation4(float32x4_t xm, const float *scale, const float *beta) {
  return vfmaq_f32(vld1q_f32(beta), xm, vld1q_f32(scale));
}
static inline float pre_activation1(float x, float mean, float scale, float beta) { return (x - mean) * scale + beta; }

void sc_f32_bn_apply__neon(size_t rows, size_t c, size_t ld, const float *x, const float *mean,
                           const float *scale, const float *beta, float *y, int relu) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * ld;
    float *yr = y + r * ld;
    size_t j = 0;
    for (; j + 4 <= c; j += 4) {
      float32x4_t v = pre_activation4(vsubq_f32(vld1q_f32(xr + j), vld1q_f32(mean + j)), scale + j, beta + j);
      if (relu) v = vmaxnmq_f32(v, zero); /* NaN -> 0, as the scalar !(v > 0) */
      vst1q_f32(yr + j, v);
    }
    for (; j < c; j++) {
      float v = pre_activation1(xr[j], mean[j], scale[j], beta[j]);
      yr[j] = relu && !(v > 0.0f) ? 0.0f : v;
    }
  }
}

/* dy with the fused ReLU's mask applied (scale != NULL; scale and beta are read at channels j..j+3): 0 where the
 * pre-activation is not > 0, NaN included */
static inline float32x4_t masked_dy(const float *dy, float32x4_t xm, const float *scale, const float *beta,
                                    size_t j) {
  float32x4_t g = vld1q_f32(dy);
  if (!scale) return g;
  uint32x4_t pos = vcgtq_f32(pre_activation4(xm, scale + j, beta + j), vdupq_n_f32(0.0f));
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(g), pos));
}

/* the same for one channel j of element i */
static inline float masked_dy1(size_t i, size_t j, const float *x, const float *dy, const float *mean,
                               const float *scale, const float *beta) {
  return scale && !(pre_activation1(x[i], mean[j], scale[j], beta[j]) > 0.0f) ? 0.0f : dy[i];
}

void sc_f32_bn_backward_reduce__neon(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                     const float *mean, const float *scale, const float *beta, double *sum_dy,
                                     double *sum_dyx) {
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4, j = 0, o = r * ld;
    for (; j + 4 <= c; j += 4) {
      float64x2_t s0 = vld1q_f64(sum_dy + j), s1 = vld1q_f64(sum_dy + j + 2);
      float64x2_t q0 = vld1q_f64(sum_dyx + j), q1 = vld1q_f64(sum_dyx + j + 2);
      float32x4_t mu = vld1q_f32(mean + j);
      for (size_t q = 0; q < nr; q++) {
        size_t i = o + q * ld + j;
        float32x4_t d = vsubq_f32(vld1q_f32(x + i), mu), g = masked_dy(dy + i, d, scale, beta, j);
        float64x2_t g0 = vcvt_f64_f32(vget_low_f32(g)), g1 = vcvt_high_f64_f32(g);
        s0 = vaddq_f64(s0, g0), s1 = vaddq_f64(s1, g1);
        /* a product of two floats is exact in double: FMA equals the scalar mul-then-add */
        q0 = vfmaq_f64(q0, g0, vcvt_f64_f32(vget_low_f32(d))), q1 = vfmaq_f64(q1, g1, vcvt_high_f64_f32(d));
      }
      vst1q_f64(sum_dy + j, s0), vst1q_f64(sum_dy + j + 2, s1);
      vst1q_f64(sum_dyx + j, q0), vst1q_f64(sum_dyx + j + 2, q1);
    }
    for (; j < c; j++)
      for (size_t q = 0; q < nr; q++) {
        size_t i = o + q * ld + j;
        float g = masked_dy1(i, j, x, dy, mean, scale, beta);
        sum_dy[j] += (double)g;
        sum_dyx[j] += (double)g * (double)(x[i] - mean[j]);
      }
  }
}

void sc_f32_bn_backward_dx__neon(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                 const float *mean, const float *scale, const float *beta, const float *a,
                                 const float *b, const float *d, float *dx, int accumulate) {
  for (size_t r = 0; r < rows; r++) {
    size_t o = r * ld, j = 0;
    for (; j + 4 <= c; j += 4) {
      size_t i = o + j;
      float32x4_t xm = vsubq_f32(vld1q_f32(x + i), vld1q_f32(mean + j));
      float32x4_t g = masked_dy(dy + i, xm, scale, beta, j);
      float32x4_t t = vfmaq_f32(vld1q_f32(d + j), vld1q_f32(b + j), xm);
      t = vfmaq_f32(t, vld1q_f32(a + j), g);
      vst1q_f32(dx + i, accumulate ? vaddq_f32(vld1q_f32(dx + i), t) : t);
    }
    for (; j < c; j++) {
      size_t i = o + j;
      float g = masked_dy1(i, j, x, dy, mean, scale, beta);
      float t = a[j] * g + b[j] * (x[i] - mean[j]) + d[j];
      dx[i] = accumulate ? dx[i] + t : t;
    }
  }
}
