/* f32_eltwise__scalar.c: the reference ReLU, residual add, epilogue (residual, bias, ReLU) and column-sum kernels,
 * plain C. Every vectorised twin is tested against these; keep them obvious rather than fast, and free of ISA code. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(scalar)

void sc_f32_relu_forward__scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void sc_f32_relu_backward__scalar(size_t n, const float *y, const float *dy, float *dx, int accumulate) {
  for (size_t i = 0; i < n; i++)
    if (accumulate) {
      if (y[i] > 0.0f) dx[i] += dy[i];
    } else {
      dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
}

void sc_f32_add__scalar(size_t n, const float *a, const float *b, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void sc_f32_add_bias_relu__scalar(size_t rows, size_t c, size_t ld, float *y, const float *res, size_t ldr,
                                  const float *b, int relu) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) {
      float v = y[r * ld + j];
      if (res) v += res[r * ldr + j];
      if (b) v += b[j];
      if (relu) v = v > 0.0f ? v : 0.0f;
      y[r * ld + j] = v;
    }
}

void sc_f32_col_sum__scalar(size_t rows, size_t c, size_t ld, const float *x, double *acc) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) acc[j] += (double)x[r * ld + j];
}
