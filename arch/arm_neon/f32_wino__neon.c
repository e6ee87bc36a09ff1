/* f32_wino__neon.c: the Winograd transforms of F(2x2, 3x3) and F(4x4, 3x3) (conv.h) with NEON, 4 channels per
 * vector; the last few channels go to the scalar kernel (NEON has no masked loads), whose operations are the same. */
#include <arm_neon.h>

#include "conv.h"

void sc_f32_wino_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                             size_t cols, int accumulate);
void sc_f32_wino4_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino4_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
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

/* F(4x4, 3x3): conv.h's one-dimensional transforms, down the columns, then along the rows (vmulq then vaddq: the
 * products are by powers of two, exact, so the sums round as the scalar kernel's) */
static inline void wino4_in_1d(const float32x4_t x[6], float32x4_t r[6]) {
  r[0] = vaddq_f32(vmulq_n_f32(vsubq_f32(x[0], x[2]), 4.0f), vsubq_f32(x[4], x[2]));
  r[1] = vsubq_f32(vaddq_f32(x[3], x[4]), vmulq_n_f32(vaddq_f32(x[1], x[2]), 4.0f));
  r[2] = vaddq_f32(vsubq_f32(x[4], x[3]), vmulq_n_f32(vsubq_f32(x[1], x[2]), 4.0f));
  r[3] = vaddq_f32(vsubq_f32(x[4], x[2]), vmulq_n_f32(vsubq_f32(x[3], x[1]), 2.0f));
  r[4] = vsubq_f32(vsubq_f32(x[4], x[2]), vmulq_n_f32(vsubq_f32(x[3], x[1]), 2.0f));
  r[5] = vaddq_f32(vmulq_n_f32(vsubq_f32(x[1], x[3]), 4.0f), vsubq_f32(x[5], x[3]));
}

static inline void wino4_out_1d(const float32x4_t m[6], float32x4_t y[4]) {
  const float32x4_t a = vaddq_f32(m[1], m[2]), b = vsubq_f32(m[1], m[2]);
  const float32x4_t c = vaddq_f32(m[3], m[4]), d = vsubq_f32(m[3], m[4]);
  y[0] = vaddq_f32(vaddq_f32(m[0], a), c);
  y[1] = vaddq_f32(b, vmulq_n_f32(d, 2.0f));
  y[2] = vaddq_f32(a, vmulq_n_f32(c, 4.0f));
  y[3] = vaddq_f32(vaddq_f32(b, vmulq_n_f32(d, 8.0f)), m[5]);
}

void sc_f32_wino4_in__neon(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs) {
  size_t c = 0;
  for (; c + 4 <= cn; c += 4) {
    float32x4_t t[6][6], col[6], row[6];
    for (size_t j = 0; j < 6; j++) {
      for (size_t i = 0; i < 6; i++) col[i] = vld1q_f32(in + i * rs + j * ps + c);
      wino4_in_1d(col, row);
      for (size_t r = 0; r < 6; r++) t[r][j] = row[r];
    }
    for (size_t r = 0; r < 6; r++) {
      wino4_in_1d(t[r], row);
      for (size_t j = 0; j < 6; j++) vst1q_f32(v + (6 * r + j) * vs + c, row[j]);
    }
  }
  if (c < cn) sc_f32_wino4_in__scalar(cn - c, in + c, rs, ps, v + c, vs);
}

void sc_f32_wino4_out__neon(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                            size_t cols, int accumulate) {
  size_t c = 0;
  for (; c + 4 <= cn; c += 4) {
    float32x4_t s[4][6], col[6], y[4];
    for (size_t j = 0; j < 6; j++) {
      for (size_t i = 0; i < 6; i++) col[i] = vld1q_f32(m + (6 * i + j) * ms + c);
      wino4_out_1d(col, y);
      for (size_t i = 0; i < 4; i++) s[i][j] = y[i];
    }
    for (size_t i = 0; i < rows; i++) {
      wino4_out_1d(s[i], y);
      for (size_t j = 0; j < cols; j++) {
        float *o = out + i * rs + j * ps + c;
        vst1q_f32(o, accumulate ? vaddq_f32(vld1q_f32(o), y[j]) : y[j]);
      }
    }
  }
  if (c < cn) sc_f32_wino4_out__scalar(cn - c, m + c, ms, out + c, rs, ps, rows, cols, accumulate);
}
