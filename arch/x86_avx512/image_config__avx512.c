/* image_config__avx512.c: the avx512 image kernels of the data pipeline. */
#include "image.h"

void sc_u8_rows_wsum__avx512(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out);
void sc_f32_rows_wsum__avx512(const float *const *rows, const float *w, int taps, size_t n, float *out);
void sc_f32_gather_wsum__avx512(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out);
void sc_f32_hconv__avx512(const float *src, const float *w, int taps, size_t stride, size_t n, float *out);
void sc_f32_affine_clamp__avx512(float *x, size_t n, float a, float b);
void sc_f32_rgb_to_gray__avx512(const float *rgb, size_t npix, float *gray);
void sc_f32_rgb_blend_gray__avx512(float *rgb, size_t npix, float f);
void sc_f32_rgb_hue_shift__avx512(float *rgb, size_t npix, float delta);

const sc_image_config sc_image_config__avx512 = {
    .u8_rows_wsum = sc_u8_rows_wsum__avx512,
    .f32_rows_wsum = sc_f32_rows_wsum__avx512,
    .f32_gather_wsum = sc_f32_gather_wsum__avx512,
    .f32_hconv = sc_f32_hconv__avx512,
    .f32_affine_clamp = sc_f32_affine_clamp__avx512,
    .f32_rgb_to_gray = sc_f32_rgb_to_gray__avx512,
    .f32_rgb_blend_gray = sc_f32_rgb_blend_gray__avx512,
    .f32_rgb_hue_shift = sc_f32_rgb_hue_shift__avx512,
};
