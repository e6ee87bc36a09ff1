/* image_config__neon.c: the neon image kernels of the data pipeline. */
#include "image.h"

void sc_u8_rows_wsum__neon(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out);
void sc_f32_rows_wsum__neon(const float *const *rows, const float *w, int taps, size_t n, float *out);
void sc_f32_gather_wsum__neon(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out);
void sc_f32_hconv__neon(const float *src, const float *w, int taps, size_t stride, size_t n, float *out);
void sc_f32_affine_clamp__neon(float *x, size_t n, float a, float b);
void sc_f32_rgb_to_gray__neon(const float *rgb, size_t npix, float *gray);
void sc_f32_rgb_blend_gray__neon(float *rgb, size_t npix, float f);
void sc_f32_rgb_hue_shift__neon(float *rgb, size_t npix, float delta);

const sc_image_config sc_image_config__neon = {
    .u8_rows_wsum = sc_u8_rows_wsum__neon,
    .f32_rows_wsum = sc_f32_rows_wsum__neon,
    .f32_gather_wsum = sc_f32_gather_wsum__neon,
    .f32_hconv = sc_f32_hconv__neon,
    .f32_affine_clamp = sc_f32_affine_clamp__neon,
    .f32_rgb_to_gray = sc_f32_rgb_to_gray__neon,
    .f32_rgb_blend_gray = sc_f32_rgb_blend_gray__neon,
    .f32_rgb_hue_shift = sc_f32_rgb_hue_shift__neon,
};
