/* image.h: per-ISA kernels of the data pipeline's heavy steps (resize, blur, colour conversion and jitter) on
 * float or uint8 pixel buffers.
 *
 * Images are HWC (channels last), C = 1 or 3, float values in [0,1] once converted. Resizing and blurring are
 * separable and split into two shapes that vectorise well: a weighted sum of whole rows (vertical pass), and a
 * per-element tap table or a strided 1-D convolution (horizontal pass). The tables (which source elements, which
 * weights) are built in src/data; kernels only do arithmetic and never allocate, validate or fail. Every kernel
 * has a plain-C twin in arch/scalar that the tests compare against; vector versions may differ from it by the
 * rounding of fused multiply-adds (a few ulps of 1.0).
 */
#ifndef SC_ARCH_IMAGE_H
#define SC_ARCH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sc_image_config {
  /* out[i] = sum_t w[t] * rows[t][i] for i < n (uint8 rows: the first resize pass converts to float here). */
  void (*u8_rows_wsum)(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out);
  void (*f32_rows_wsum)(const float *const *rows, const float *w, int taps, size_t n, float *out);
  /* out[e] = clamp(sum_t w[t*n + e] * src[idx[t*n + e]], 0, 1) for e < n: the horizontal resize pass, with one
   * tap table entry per output element (so channels need no special case). Tables are tap-major. */
  void (*f32_gather_wsum)(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out);
  /* out[i] = sum_t w[t] * src[i + t*stride] for i < n: the horizontal blur pass on a row padded by the caller. */
  void (*f32_hconv)(const float *src, const float *w, int taps, size_t stride, size_t n, float *out);
  /* x[i] = clamp(a * x[i] + b, 0, 1): brightness (b = 0) and contrast (b = (1 - a) * mean). */
  void (*f32_affine_clamp)(float *x, size_t n, float a, float b);
  /* gray[p] = 0.299 r + 0.587 g + 0.114 b (ITU-R 601 luma, as PIL and torchvision) for npix RGB pixels. */
  void (*f32_rgb_to_gray)(const float *rgb, size_t npix, float *gray);
  /* rgb = clamp(f * rgb + (1 - f) * gray(rgb), 0, 1) per pixel: saturation; f = 0 gives grayscale. */
  void (*f32_rgb_blend_gray)(float *rgb, size_t npix, float f);
  /* Rotates the hue of each pixel by delta turns (HSV model; value and saturation kept), result in [0,1]. */
  void (*f32_rgb_hue_shift)(float *rgb, size_t npix, float delta);
} sc_image_config;

#endif
