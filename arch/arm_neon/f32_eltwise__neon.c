/* f32_eltwise__neon.c: ReLU, residual add, the epilogue (residual, bias, ReLU) and column sums with AArch64 Advanced
 * SIMD, 4 floats per q register; the last c % 4 channels of a row run the scalar kernel's own statements. Must match
 * arch/scalar/f32_eltwise__scalar.c exactly: the same IEEE operations in the same order (a masked-off update is a bit
 * select, never "+ 0", so -0 survives). */
#include <arm_neon.h>

#include "eltwise.h"

SC_ELTWISE_DECLARE(neon)

void sc_f32_relu_forward__neon(size_t n, const float *x, float *y) {
  /* FMAXNM returns the number when the other operand is NaN: NaN becomes 0, and max(-0, +0) is +0, as the
   * scalar x > 0 ? x : 0 */
  const float32x4_t zero = vdupq_n_f32(0.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4), c = vld1q_f32(x + i + 8), d = vld1q_f32(x + i + 12);
    vst1q_f32(y + i, vmaxnmq_f32(a, zero));
    vst1q_f32(y + i + 4, vmaxnmq_f32(b, zero));
    vst1q_f32(y + i + 8, vmaxnmq_f32(c, zero));
    vst1q_f32(y + i + 12, vmaxnmq_f32(d, zero));
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmaxnmq_f32(vld1q_f32(x + i), zero));
  for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void sc_f32_relu_backward__neon(size_t n, const float *y, const float *dy, float *dx, int accumulate) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32x4_t pos = vcgtq_f32(vld1q_f32(y + i), zero);
    float32x4_t g = vld1q_f32(dy + i), d = accumulate ? vld1q_f32(dx + i) : zero;
    vst1q_f32(dx + i, accumulate ? vbslq_f32(pos, vaddq_f32(d, g), d) : vbslq_f32(pos, g, zero));
  }
  for (; i < n; i++)
    if (accumulate) {
      if (y[i] > 0.0f) dx[i] += dy[i];
    } else {
      dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
}

void sc_f32_add__neon(size_t n, const float *a, const float *b, float *y) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t s0 = vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
    float32x4_t s1 = vaddq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    vst1q_f32(y + i, s0);
    vst1q_f32(y + i + 4, s1);
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
  for (; i < n; i++) y[i] = a[i] + b[i];
}

static inline __attribute__((always_inline)) void add_bias_relu_rows(size_t rows, size_t c, size_t ld, float *y,
                                                                     const float *res, size_t ldr, const float *b,
                                                                     int has_res, int has_b, int relu) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (size_t r = 0; r < rows; r++) {
    float *yr = y + r * ld;
    const float *rr = has_res ? res + r * ldr : NULL;
    size_t j = 0;
    for (; j + 4 <= c; j += 4) {
      float32x4_t v = vld1q_f32(yr + j);
      if (has_res) v = vaddq_f32(v, vld1q_f32(rr + j));
      if (has_b) v = vaddq_f32(v, vld1q_f32(b + j));
      if (relu) v = vmaxnmq_f32(v, zero); /* NaN gives 0 and max(-0, +0) is +0, as in the scalar kernel */
      vst1q_f32(yr + j, v);
    }
    for (; j < c; j++) {
      float v = yr[j];
      if (has_res) v += rr[j];
      if (has_b) v += b[j];
      if (relu) v = v > 0.0f ? v : 0.0f;
      yr[j] = v;
    }
  }
}

SC_ADD_BIAS_RELU_DEFINE(neon)

void sc_f32_col_sum__neon(size_t rows, size_t c, size_t ld, const float *x, double *acc) {
  /* four rows per trip of the accumulators through L1; each lane adds its rows in row order */
  for (size_t r = 0; r < rows; r += 4) {
    size_t nr = rows - r < 4 ? rows - r : 4, j = 0;
    const float *xr = x + r * ld;
    for (; j + 4 <= c; j += 4) {
      float64x2_t a0 = vld1q_f64(acc + j), a1 = vld1q_f64(acc + j + 2);
      for (size_t q = 0; q < nr; q++) {
        float32x4_t v = vld1q_f32(xr + q * ld + j);
        a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(v)));
        a1 = vaddq_f64(a1, vcvt_high_f64_f32(v));
      }
      vst1q_f64(acc + j, a0);
      vst1q_f64(acc + j + 2, a1);
    }
    for (; j < c; j++)
      for (size_t q = 0; q < nr; q++) acc[j] += (double)xr[q * ld + j];
  }
}
