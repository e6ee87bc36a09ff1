/* f32_xent_row_lse__neon.c: log-sum-exp of one similarity row with AdvSIMD and SLEEF's expf4. Two passes over
 * the row: the maximum, then the sum of exp(s - max) accumulated in float64x2 lanes. The last n % 4 elements are
 * copied into a -inf-filled block (exp(-inf) = 0) so that nothing past s[n-1] is read. It must not use libm.
 *
 * Registers: pass 1, v0/v1 running maxima; pass 2, v m = broadcast maximum and four float64x2 accumulators (the
 * low and high halves of two exp results).
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

double sc_f32_xent_row_lse__neon(size_t n, const float *s) {
  const float32x4_t ninf = vdupq_n_f32(-INFINITY);
  float32x4_t m0 = ninf, m1 = ninf, last = ninf;
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    m0 = vmaxq_f32(m0, vld1q_f32(s + j));
    m1 = vmaxq_f32(m1, vld1q_f32(s + j + 4));
  }
  for (; j + 4 <= n; j += 4) m0 = vmaxq_f32(m0, vld1q_f32(s + j));
  const size_t body = j;
  if (j < n) {
    float buf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    memcpy(buf, s + j, (n - j) * sizeof *s);
    last = vld1q_f32(buf);
    m1 = vmaxq_f32(m1, last);
  }
  const float m = vmaxvq_f32(vmaxq_f32(m0, m1));
  const float32x4_t vm = vdupq_n_f32(m);

  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, a2 = a0, a3 = a0;
  j = 0;
  for (; j + 8 <= body; j += 8) {
    float32x4_t e0 = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(s + j), vm));
    float32x4_t e1 = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(s + j + 4), vm));
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e0)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(e0));
    a2 = vaddq_f64(a2, vcvt_f64_f32(vget_low_f32(e1)));
    a3 = vaddq_f64(a3, vcvt_high_f64_f32(e1));
  }
  for (; j < body; j += 4) {
    float32x4_t e = Sleef_expf4_u10advsimd(vsubq_f32(vld1q_f32(s + j), vm));
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(e));
  }
  if (body < n) {
    float32x4_t e = Sleef_expf4_u10advsimd(vsubq_f32(last, vm));
    a2 = vaddq_f64(a2, vcvt_f64_f32(vget_low_f32(e)));
    a3 = vaddq_f64(a3, vcvt_high_f64_f32(e));
  }
  const double sum = vaddvq_f64(vaddq_f64(vaddq_f64(a0, a1), vaddq_f64(a2, a3)));
  return (double)m + Sleef_log_u10(sum);
}
