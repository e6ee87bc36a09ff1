/* f32_maxpool__neon.c: max-pool forward and backward for one NHWC output pixel with AArch64 Advanced SIMD, 4
 * channels per q register and the scalar kernel's statements for the last c % 4. The maximum is a compare and
 * bit select (v > m ? v : m), not FMAX, so NaN and signed zeros resolve exactly as in the scalar kernel. The
 * backward keeps a per-lane "still looking" mask so only the first window element equal to the maximum gets the
 * gradient. Results are exact. */
#include <arm_neon.h>

#include "eltwise.h"

SC_ELTWISE_DECLARE(neon)

void sc_f32_maxpool_forward__neon(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y) {
  size_t j = 0;
  for (; j + 4 <= c; j += 4) {
    float32x4_t m = vld1q_f32(x + j);
    for (size_t i = 0; i < kh; i++)
      for (size_t k = 0; k < kw; k++) {
        float32x4_t v = vld1q_f32(x + i * rs + k * cs + j);
        m = vbslq_f32(vcgtq_f32(v, m), v, m);
      }
    vst1q_f32(y + j, m);
  }
  for (; j < c; j++) {
    float m = x[j];
    for (size_t i = 0; i < kh; i++)
      for (size_t k = 0; k < kw; k++) {
        float v = x[i * rs + k * cs + j];
        m = v > m ? v : m;
      }
    y[j] = m;
  }
}

void sc_f32_maxpool_backward__neon(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                   const float *y, const float *dy, float *dx) {
  size_t j = 0;
  for (; j + 4 <= c; j += 4) {
    const float32x4_t yv = vld1q_f32(y + j), g = vld1q_f32(dy + j);
    uint32x4_t todo = vdupq_n_u32(~0u);
    for (size_t i = 0; i < kh; i++)
      for (size_t k = 0; k < kw; k++) {
        size_t o = i * rs + k * cs + j;
        uint32x4_t hit = vandq_u32(todo, vceqq_f32(vld1q_f32(x + o), yv));
        if (vmaxvq_u32(hit)) {
          float32x4_t d = vld1q_f32(dx + o);
          vst1q_f32(dx + o, vbslq_f32(hit, vaddq_f32(d, g), d));
          todo = vbicq_u32(todo, hit);
          if (!vmaxvq_u32(todo)) goto next;
        }
      }
  next:;
  }
  for (; j < c; j++) {
    for (size_t i = 0; i < kh; i++)
      for (size_t k = 0; k < kw; k++)
        if (x[i * rs + k * cs + j] == y[j]) {
          dx[i * rs + k * cs + j] += dy[j];
          goto next_scalar;
        }
  next_scalar:;
  }
}
