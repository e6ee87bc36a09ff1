/* f32_image__scalar.c: the plain-C image kernels of the data pipeline, the reference the vector versions are
 * tested against (see image.h for each contract). Kept simple on purpose: no blocking, no tricks, so that a
 * mismatch points at the vector code. Must not allocate or depend on any instruction set. */
#include <math.h>

#include "image.h"

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

void sc_u8_rows_wsum__scalar(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * (float)rows[t][i];
    out[i] = s;
  }
}

void sc_f32_rows_wsum__scalar(const float *const *rows, const float *w, int taps, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * rows[t][i];
    out[i] = s;
  }
}

void sc_f32_gather_wsum__scalar(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out) {
  for (size_t e = 0; e < n; e++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[(size_t)t * n + e] * src[idx[(size_t)t * n + e]];
    out[e] = clamp01(s);
  }
}

void sc_f32_hconv__scalar(const float *src, const float *w, int taps, size_t stride, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) {
    float s = 0.0f;
    for (int t = 0; t < taps; t++) s += w[t] * src[i + (size_t)t * stride];
    out[i] = s;
  }
}

void sc_f32_affine_clamp__scalar(float *x, size_t n, float a, float b) {
  for (size_t i = 0; i < n; i++) x[i] = clamp01(a * x[i] + b);
}

void sc_f32_rgb_to_gray__scalar(const float *rgb, size_t npix, float *gray) {
  for (size_t p = 0; p < npix; p++) gray[p] = 0.299f * rgb[3 * p] + 0.587f * rgb[3 * p + 1] + 0.114f * rgb[3 * p + 2];
}

void sc_f32_rgb_blend_gray__scalar(float *rgb, size_t npix, float f) {
  for (size_t p = 0; p < npix; p++) {
    float *q = rgb + 3 * p;
    float g = (1.0f - f) * (0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2]);
    q[0] = clamp01(f * q[0] + g), q[1] = clamp01(f * q[1] + g), q[2] = clamp01(f * q[2] + g);
  }
}

/* Hue rotation without branches on the sector: with h6 = hue * 6 in [0,6), c = max - min, each channel is
 * max - c * clamp(min(k, 4 - k), 0, 1) where k = (n + h6) mod 6 and n = 5, 3, 1 for r, g, b. The vector
 * versions use exactly this formula, so ties (two equal maxima) resolve the same way. */
void sc_f32_rgb_hue_shift__scalar(float *rgb, size_t npix, float delta) {
  const float shift = 6.0f * delta;
  for (size_t p = 0; p < npix; p++) {
    float *q = rgb + 3 * p, r = q[0], g = q[1], b = q[2];
    float mx = r > g ? r : g, mn = r < g ? r : g;
    mx = mx > b ? mx : b, mn = mn < b ? mn : b;
    float c = mx - mn;
    if (!(c > 0.0f)) continue; /* gray: no hue to rotate */
    float h6 = mx == r ? (g - b) / c : (mx == g ? 2.0f + (b - r) / c : 4.0f + (r - g) / c);
    h6 += shift;
    h6 -= 6.0f * floorf(h6 * (1.0f / 6.0f));
    static const float nk[3] = {5.0f, 3.0f, 1.0f};
    for (int ch = 0; ch < 3; ch++) {
      float k = nk[ch] + h6;
      k = k >= 6.0f ? k - 6.0f : k;
      float m = k < 4.0f - k ? k : 4.0f - k;
      q[ch] = clamp01(mx - c * (m < 0.0f ? 0.0f : (m > 1.0f ? 1.0f : m)));
    }
  }
}
