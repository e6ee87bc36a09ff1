/* f32_wino__neon.c: the Winograd F(2x2, 3x3) transforms (conv.h) with NEON, 4 channels per vector; the last
 * few channels go to the scalar kernel (NEON has no masked loads), whose adds and subtracts are the same. */
#include <arm_neon.h>

#include "conv.h"

void sc_f32_wino_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                             size_t cols, int accumulate);

void sc_f32_wino_in__neon(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs) {
  size_t c = 0;
  for (; c + 4 <= cn; c += 4) {
    float32x4_t t[4][4];
    for (size_t j = 0; j < 4; j++) {
      const float *p = in + j * ps + c;
      const float32x4_t d0 = vld1q_f32(p), d1 = vld1q_f32(p + rs), d2 = vld1q_f32(p + 2 * rs);
      const float32x4_t d3 = vld1q_f32(p + 3 * rs);
      t[0][j] = vsubq_f32(d0, d2);
      t[1][j] = vaddq_f32(d1, d2);
      t[2][j] = vsubq_f32(d2, d1);
      t[3][j] = vsubq_f32(d1, d3);
    }
    for (size_t r = 0; r < 4; r++) {
      vst1q_f32(v + (4 * r + 0) * vs + c, vsubq_f32(t[r][0], t[r][2]));
      vst1q_f32(v + (4 * r + 1) * vs + c, vaddq_f32(t[r][1], t[r][2]));
      vst1q_f32(v + (4 * r + 2) * vs + c, vsubq_f32(t[r][2], t[r][1]));
      vst1q_f32(v + (4 * r + 3) * vs + c, vsubq_f32(t[r][1], t[r][3]));
    }
  }
  if (c < cn) sc_f32_wino_in__scalar(cn - c, in + c, rs, ps, v + c, vs);
}

void sc_f32_wino_out__neon(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                           size_t cols, int accumulate) {
  size_t c = 0;
  for (; c + 4 <= cn; c += 4) {
    float32x4_t s[2][4];
    for (size_t j = 0; j < 4; j++) {
      const float *p = m + j * ms + c;
      const float32x4_t m0 = vld1q_f32(p), m1 = vld1q_f32(p + 4 * ms), m2 = vld1q_f32(p + 8 * ms);
      const float32x4_t m3 = vld1q_f32(p + 12 * ms);
      s[0][j] = vaddq_f32(vaddq_f32(m0, m1), m2);
      s[1][j] = vsubq_f32(vsubq_f32(m1, m2), m3);
    }
    for (size_t i = 0; i < rows; i++) {
      const float32x4_t y[2] = {vaddq_f32(vaddq_f32(s[i][0], s[i][1]), s[i][2]),
                                vsubq_f32(vsubq_f32(s[i][1], s[i][2]), s[i][3])};
      for (size_t j = 0; j < cols; j++) {
        float *o = out + i * rs + j * ps + c;
        vst1q_f32(o, accumulate ? vaddq_f32(vld1q_f32(o), y[j]) : y[j]);
      }
    }
  }
  if (c < cn) sc_f32_wino_out__scalar(cn - c, m + c, ms, out + c, rs, ps, rows, cols, accumulate);
}
