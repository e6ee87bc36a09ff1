/* xent_config__neon.c: the neon softmax-similarity kernels (see xent.h for the two paths they serve). */
#include "xent.h"

double sc_f32_xent_row_lse__neon(size_t n, const float *s);
void sc_f32_xent_row_grad__neon(size_t n, const float *s, float lse_i, const float *lse, float scale, float *g);
double sc_f32_xent_row_expsum__neon(size_t n, const float *s, float shift, float *u, double *col);
void sc_f32_xent_row_symgrad__neon(size_t n, const float *u, float w_i, const float *w, float scale, float *g);

const sc_xent_config sc_xent_config__neon = {
    .row_lse = sc_f32_xent_row_lse__neon,
    .row_grad = sc_f32_xent_row_grad__neon,
    .row_expsum = sc_f32_xent_row_expsum__neon,
    .row_symgrad = sc_f32_xent_row_symgrad__neon,
    .row_lse_name = "sc_f32_xent_row_lse__neon",
    .row_grad_name = "sc_f32_xent_row_grad__neon",
    .row_expsum_name = "sc_f32_xent_row_expsum__neon",
    .row_symgrad_name = "sc_f32_xent_row_symgrad__neon",
};
