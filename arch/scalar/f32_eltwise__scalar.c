/* f32_eltwise__scalar.c: the reference ReLU, residual add, bias add and column-sum kernels, plain C. Every
 * vectorised twin is tested against these; keep them obvious rather than fast, and free of ISA code. */
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

void sc_f32_bias_add__scalar(size_t rows, size_t c, size_t ld, const float *b, float *y) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) y[r * ld + j] += b[j];
}

void sc_f32_col_sum__scalar(size_t rows, size_t c, size_t ld, const float *x, double *acc) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) acc[j] += (double)x[r * ld + j];
}
