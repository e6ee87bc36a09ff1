/* f32_xent_row_grad__neon.c: one row of the symmetrised softmax H = scale * (P + P^T), in place, with AdvSIMD and
 * SLEEF's expf4 (see xent.h). The last n % 4 elements go through a small stack block (s filled with -inf, so
 * inactive lanes compute exp(-inf) = 0) and only the valid ones are copied back. It must not use libm.
 *
 * Registers: v lse_i and v scale broadcast; per 4 lanes: x = s[j..], l = lse[j..], the two exp results and their
 * scaled sum.
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

static inline float32x4_t grad4(float32x4_t x, float32x4_t l, float32x4_t vli, float32x4_t vsc) {
  float32x4_t e0 = Sleef_expf4_u10advsimd(vsubq_f32(x, vli));
  float32x4_t e1 = Sleef_expf4_u10advsimd(vsubq_f32(x, l));
  return vmulq_f32(vaddq_f32(e0, e1), vsc);
}

void sc_f32_xent_row_grad__neon(size_t n, const float *s, float lse_i, const float *lse, float scale, float *g) {
  const float32x4_t vli = vdupq_n_f32(lse_i), vsc = vdupq_n_f32(scale);
  size_t j = 0;
  for (; j + 4 <= n; j += 4) vst1q_f32(g + j, grad4(vld1q_f32(s + j), vld1q_f32(lse + j), vli, vsc));
  if (j < n) {
    float xb[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, lb[4] = {0.0f, 0.0f, 0.0f, 0.0f}, gb[4];
    memcpy(xb, s + j, (n - j) * sizeof *s);
    memcpy(lb, lse + j, (n - j) * sizeof *lse);
    vst1q_f32(gb, grad4(vld1q_f32(xb), vld1q_f32(lb), vli, vsc));
    memcpy(g + j, gb, (n - j) * sizeof *g);
  }
}
