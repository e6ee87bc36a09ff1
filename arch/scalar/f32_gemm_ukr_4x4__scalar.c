/* f32_gemm_ukr_4x4__scalar.c: the reference GEMM microkernel, plain C. Every vectorised microkernel is tested
 * against the same contract (arch/gemm.h); this one is kept simple rather than fast. */
#include "gemm.h"

void sc_f32_gemm_ukr_4x4__scalar(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                 size_t ldc, int accumulate) {
  float acc[4][4] = {{0}};
  for (size_t p = 0; p < kc; p++)
    for (size_t i = 0; i < 4; i++)
      for (size_t j = 0; j < 4; j++) acc[i][j] += a[p * 4 + i] * b[p * 4 + j];
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + acc[i][j];
}
