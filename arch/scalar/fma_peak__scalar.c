/* fma_peak__scalar.c: independent multiply-add chains in plain C, the scalar "peak" that fractions of peak for
 * the scalar table are measured against. */
#include "gemm.h"

double sc_fma_peak__scalar(size_t iters) {
  float a0 = 1.0f, a1 = 1.1f, a2 = 1.2f, a3 = 1.3f, a4 = 1.4f, a5 = 1.5f, a6 = 1.6f, a7 = 1.7f;
  const float x = 0.999999f, y = 1e-7f;
  for (size_t i = 0; i < iters; i++) {
    a0 = a0 * x + y; a1 = a1 * x + y; a2 = a2 * x + y; a3 = a3 * x + y;
    a4 = a4 * x + y; a5 = a5 * x + y; a6 = a6 * x + y; a7 = a7 * x + y;
  }
  volatile float sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  (void)sink;
  return 16.0 * (double)iters;
}
