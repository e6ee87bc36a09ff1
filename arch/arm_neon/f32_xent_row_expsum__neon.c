/* f32_xent_row_expsum__neon.c: u = exp(s - shift) for one similarity row, stored (in place or not), the sum of u
 * in float64x2 lanes and, when col is given, each u added to its column's double sum, with AdvSIMD and SLEEF's
 * expf4. One pass (the shift is known in advance). The last n % 4 elements go through a -inf-filled stack block
 * (exp = 0) and only the valid ones are copied back. It must not use libm.
 *
 * Registers: v shift broadcast; per 8 lanes two exp results, stored and widened into four float64x2 accumulators,
 * and with col four float64x2 of column sums loaded, added and stored.
 */
#include <arm_neon.h>
#include <math.h>
/* sleef.h declares `const` return types; where it is not found as a system header (the cross build's sysroot),
 * -Wextra would flag every declaration */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-qualifiers"
#include <sleef.h>
#pragma GCC diagnostic pop

#include <string.h>

#include "xent.h"

/* col[0..4) += the 4 lanes of e, widened */
static inline void add_cols(double *col, float32x4_t e) {
  vst1q_f64(col, vaddq_f64(vld1q_f64(col), vcvt_f64_f32(vget_low_f32(e))));
  vst1q_f64(col + 2, vaddq_f64(vld1q_f64(col + 2), vcvt_high_f64_f32(e)));
}

double sc_f32_xent_row_expsum__neon(size_t n, const float *s, float shift, float *u, double *col) {
  const float32x4_t vsh = vdupq_n_f32(shift);
  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, a2 = a0, a3 = a0;
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    float32x4_t e0 = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(s + j), vsh));
    float32x4_t e1 = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(s + j + 4), vsh));
    vst1q_f32(u + j, e0);
    vst1q_f32(u + j + 4, e1);
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e0)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(e0));
    a2 = vaddq_f64(a2, vcvt_f64_f32(vget_low_f32(e1)));
    a3 = vaddq_f64(a3, vcvt_high_f64_f32(e1));
    if (col) add_cols(col + j, e0), add_cols(col + j + 4, e1);
  }
  for (; j + 4 <= n; j += 4) {
    float32x4_t e = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(s + j), vsh));
    vst1q_f32(u + j, e);
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(e));
    if (col) add_cols(col + j, e);
  }
  if (j < n) {
    float buf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    memcpy(buf, s + j, (n - j) * sizeof *s);
    float32x4_t e = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(buf), vsh));
    vst1q_f32(buf, e);
    memcpy(u + j, buf, (n - j) * sizeof *u);
    a2 = vaddq_f64(a2, vcvt_f64_f32(vget_low_f32(e)));
    a3 = vaddq_f64(a3, vcvt_high_f64_f32(e));
    if (col)
      for (size_t t = 0; t < n - j; t++) col[j + t] += (double)buf[t];
  }
  return vaddvq_f64(vaddq_f64(vaddq_f64(a0, a1), vaddq_f64(a2, a3)));
}
