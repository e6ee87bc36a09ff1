/* xent_config__avx2.c: the avx2 softmax-similarity kernels (see xent.h for the two paths they serve). */
#include "xent.h"

double sc_f32_xent_row_lse__avx2(size_t n, const float *s);
void sc_f32_xent_row_grad__avx2(size_t n, const float *s, float lse_i, const float *lse, float scale, float *g);
double sc_f32_xent_row_expsum__avx2(size_t n, const float *s, float shift, float *u, double *col);
void sc_f32_xent_row_symgrad__avx2(size_t n, const float *u, float w_i, const float *w, float scale, float *g);

const sc_xent_config sc_xent_config__avx2 = {
    .row_lse = sc_f32_xent_row_lse__avx2,
    .row_grad = sc_f32_xent_row_grad__avx2,
    .row_expsum = sc_f32_xent_row_expsum__avx2,
    .row_symgrad = sc_f32_xent_row_symgrad__avx2,
    .row_lse_name = "sc_f32_xent_row_lse__avx2",
    .row_grad_name = "sc_f32_xent_row_grad__avx2",
    .row_expsum_name = "sc_f32_xent_row_expsum__avx2",
    .row_symgrad_name = "sc_f32_xent_row_symgrad__avx2",
};
