/* f32_xent_row_symgrad__neon.c: one row of H = scale * (P + P^T) from stored exponentials, g = scale * (u * (w_i +
 * w_j)), with AdvSIMD: no exponential (see xent.h). The last n % 4 elements go through a zero-filled stack block,
 * so nothing outside [0, n) is read or written.
 *
 * Registers: v w_i and v scale broadcast; per 4 lanes u, w, their combination; two chains per iteration.
 */
#include <arm_neon.h>
#include <string.h>

#include "xent.h"

static inline float32x4_t symgrad4(float32x4_t u, float32x4_t w, float32x4_t vwi, float32x4_t vsc) {
  return vmulq_f32(vmulq_f32(u, vaddq_f32(vwi, w)), vsc);
}

void sc_f32_xent_row_symgrad__neon(size_t n, const float *u, float w_i, const float *w, float scale, float *g) {
  const float32x4_t vwi = vdupq_n_f32(w_i), vsc = vdupq_n_f32(scale);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    float32x4_t g0 = symgrad4(vld1q_f32(u + j), vld1q_f32(w + j), vwi, vsc);
    float32x4_t g1 = symgrad4(vld1q_f32(u + j + 4), vld1q_f32(w + j + 4), vwi, vsc);
    vst1q_f32(g + j, g0);
    vst1q_f32(g + j + 4, g1);
  }
  for (; j + 4 <= n; j += 4) vst1q_f32(g + j, symgrad4(vld1q_f32(u + j), vld1q_f32(w + j), vwi, vsc));
  if (j < n) {
    float ub[4] = {0.0f, 0.0f, 0.0f, 0.0f}, wb[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(ub, u + j, (n - j) * sizeof *u);
    memcpy(wb, w + j, (n - j) * sizeof *w);
    vst1q_f32(ub, symgrad4(vld1q_f32(ub), vld1q_f32(wb), vwi, vsc));
    memcpy(g + j, ub, (n - j) * sizeof *g);
  }
}
