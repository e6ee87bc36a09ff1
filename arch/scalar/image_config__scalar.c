/* image_config__scalar.c: the scalar image kernels of the data pipeline (the reference table). */
#include "image.h"

void sc_u8_rows_wsum__scalar(const uint8_t *const *rows, const float *w, int taps, size_t n, float *out);
void sc_f32_rows_wsum__scalar(const float *const *rows, const float *w, int taps, size_t n, float *out);
void sc_f32_gather_wsum__scalar(const float *src, const int32_t *idx, const float *w, int taps, size_t n, float *out);
void sc_f32_hconv__scalar(const float *src, const float *w, int taps, size_t stride, size_t n, float *out);
void sc_f32_affine_clamp__scalar(float *x, size_t n, float a, float b);
void sc_f32_rgb_to_gray__scalar(const float *rgb, size_t npix, float *gray);
void sc_f32_rgb_blend_gray__scalar(float *rgb, size_t npix, float f);
void sc_f32_rgb_hue_shift__scalar(float *rgb, size_t npix, float delta);

const sc_image_config sc_image_config__scalar = {
    .u8_rows_wsum = sc_u8_rows_wsum__scalar,
    .f32_rows_wsum = sc_f32_rows_wsum__scalar,
    .f32_gather_wsum = sc_f32_gather_wsum__scalar,
    .f32_hconv = sc_f32_hconv__scalar,
    .f32_affine_clamp = sc_f32_affine_clamp__scalar,
    .f32_rgb_to_gray = sc_f32_rgb_to_gray__scalar,
    .f32_rgb_blend_gray = sc_f32_rgb_blend_gray__scalar,
    .f32_rgb_hue_shift = sc_f32_rgb_hue_shift__scalar,
};
