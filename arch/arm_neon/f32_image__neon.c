/* f32_image__neon.c: the AArch64 NEON image kernels of the data pipeline (contracts in image.h; the scalar twins
 * in arch/scalar/f32_image__scalar.c are the reference). Four floats per register; interleaved RGB is split and
 * rejoined with vld3q/vst3q. NEON has no gather, so the horizontal resize pass is the reference loop. Tails of
 * fewer than 4 elements use the reference formulas. Must not allocate, and must keep the scalar versions'
 * formulas (only FMA rounding may differ). */
#include <arm_neon.h>

#include "image.h"

/* shared with the scalar table: the kernels NEON cannot do better, and the remainders */
void sc_f32_gather_wsum__scalar(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out);
void sc_f32_rgb_to_gray__scalar(const float *rgb, size_t npix, float *gray);
void sc_f32_rgb_blend_gray__scalar(float *rgb, size_t npix, float f);
void sc_f32_rgb_hue_shift__scalar(float *rgb, size_t npix, float delta);

static inline float32x4_t clamp01(float32x4_t v) {
  return vminq_f32(vmaxq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(1.0f));
}
static inline float clamp01s(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

void sc_u8_rows_wsum__neon(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    for (int t = 0; t < taps; t++) {
      uint16x8_t x = vmovl_u8(vld1_u8(rows[t] + i));
      a0 = vfmaq_n_f32(a0, vcvtq_f32_u32(vmovl_u16(vget_low_u16(x))), w[t]);
      a1 = vfmaq_n_f32(a1, vcvtq_f32_u32(vmovl_u16(vget_high_u16(x))), w[t]);
    }
    vst1q_f32(out + i, a0);
    vst1q_f32(out + i + 4, a1);
  }
  for (; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * (float)rows[t][i];
    out[i] = s;
  }
}

void sc_f32_rows_wsum__neon(const float *const *rows, const float *w, int taps, size_t n, float *out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    for (int t = 0; t < taps; t++) {
      a0 = vfmaq_n_f32(a0, vld1q_f32(rows[t] + i), w[t]);
      a1 = vfmaq_n_f32(a1, vld1q_f32(rows[t] + i + 4), w[t]);
    }
    vst1q_f32(out + i, a0);
    vst1q_f32(out + i + 4, a1);
  }
  for (; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * rows[t][i];
    out[i] = s;
  }
}

void sc_f32_gather_wsum__neon(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out) {
  sc_f32_gather_wsum__scalar(src, idx, w, taps, n, out);
}

void sc_f32_hconv__neon(const float *src, const float *w, int taps, size_t stride, size_t n, float *out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    for (int t = 0; t < taps; t++) {
      const float *s = src + i + (size_t)t * stride;
      a0 = vfmaq_n_f32(a0, vld1q_f32(s), w[t]);
      a1 = vfmaq_n_f32(a1, vld1q_f32(s + 4), w[t]);
    }
    vst1q_f32(out + i, a0);
    vst1q_f32(out + i + 4, a1);
  }
  for (; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * src[i + (size_t)t * stride];
    out[i] = s;
  }
}

void sc_f32_affine_clamp__neon(float *x, size_t n, float a, float b) {
  float32x4_t vb = vdupq_n_f32(b);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, clamp01(vfmaq_n_f32(vb, vld1q_f32(x + i), a)));
  for (; i < n; i++) x[i] = clamp01s(a * x[i] + b);
}

static inline float32x4_t luma(float32x4x3_t p) {
  return vfmaq_n_f32(vfmaq_n_f32(vmulq_n_f32(p.val[0], 0.299f), p.val[1], 0.587f), p.val[2], 0.114f);
}

void sc_f32_rgb_to_gray__neon(const float *rgb, size_t npix, float *gray) {
  size_t p = 0;
  for (; p + 4 <= npix; p += 4) vst1q_f32(gray + p, luma(vld3q_f32(rgb + 3 * p)));
  if (p < npix) sc_f32_rgb_to_gray__scalar(rgb + 3 * p, npix - p, gray + p);
}

void sc_f32_rgb_blend_gray__neon(float *rgb, size_t npix, float f) {
  size_t p = 0;
  for (; p + 4 <= npix; p += 4) {
    float32x4x3_t q = vld3q_f32(rgb + 3 * p);
    float32x4_t y = vmulq_n_f32(luma(q), 1.0f - f);
    for (int c = 0; c < 3; c++) q.val[c] = clamp01(vfmaq_n_f32(y, q.val[c], f));
    vst3q_f32(rgb + 3 * p, q);
  }
  if (p < npix) sc_f32_rgb_blend_gray__scalar(rgb + 3 * p, npix - p, f);
}

static inline float32x4_t hue_channel(float nk, float32x4_t h6, float32x4_t mx, float32x4_t c) {
  float32x4_t k = vaddq_f32(vdupq_n_f32(nk), h6), six = vdupq_n_f32(6.0f);
  k = vbslq_f32(vcgeq_f32(k, six), vsubq_f32(k, six), k);
  float32x4_t m = clamp01(vminq_f32(k, vsubq_f32(vdupq_n_f32(4.0f), k)));
  return clamp01(vfmsq_f32(mx, c, m));
}

void sc_f32_rgb_hue_shift__neon(float *rgb, size_t npix, float delta) {
  const float32x4_t shift = vdupq_n_f32(6.0f * delta), one = vdupq_n_f32(1.0f);
  size_t p = 0;
  for (; p + 4 <= npix; p += 4) {
    float32x4x3_t q = vld3q_f32(rgb + 3 * p);
    float32x4_t r = q.val[0], g = q.val[1], b = q.val[2];
    float32x4_t mx = vmaxq_f32(vmaxq_f32(r, g), b), mn = vminq_f32(vminq_f32(r, g), b), c = vsubq_f32(mx, mn);
    uint32x4_t live = vcgtq_f32(c, vdupq_n_f32(0.0f));
    if (vmaxvq_u32(live) == 0) continue;
    float32x4_t cs = vbslq_f32(live, c, one); /* no division by zero in dead lanes */
    float32x4_t h = vaddq_f32(vdupq_n_f32(4.0f), vdivq_f32(vsubq_f32(r, g), cs));
    h = vbslq_f32(vceqq_f32(mx, g), vaddq_f32(vdupq_n_f32(2.0f), vdivq_f32(vsubq_f32(b, r), cs)), h);
    h = vbslq_f32(vceqq_f32(mx, r), vdivq_f32(vsubq_f32(g, b), cs), h);
    h = vaddq_f32(h, shift);
    h = vsubq_f32(h, vmulq_n_f32(vrndmq_f32(vmulq_n_f32(h, 1.0f / 6.0f)), 6.0f));
    q.val[0] = vbslq_f32(live, hue_channel(5.0f, h, mx, c), r);
    q.val[1] = vbslq_f32(live, hue_channel(3.0f, h, mx, c), g);
    q.val[2] = vbslq_f32(live, hue_channel(1.0f, h, mx, c), b);
    vst3q_f32(rgb + 3 * p, q);
  }
  if (p < npix) sc_f32_rgb_hue_shift__scalar(rgb + 3 * p, npix - p, delta);
}
