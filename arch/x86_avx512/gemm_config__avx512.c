/* gemm_config__avx512.c: tile sizes and microkernel of the avx512 GEMM. (Placeholder: the scalar microkernel until the
 * avx512 one exists.) */
#include "gemm.h"

void sc_f32_gemm_ukr_4x4__scalar(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                 size_t ldc, int accumulate);
double sc_fma_peak__scalar(size_t iters);

const sc_gemm_config sc_gemm_config__avx512 = {
    .mr = 4, .nr = 4, .mc = 64, .kc = 256, .nc = 1024,
    .ukr = sc_f32_gemm_ukr_4x4__scalar,
    .ukr_name = "sc_f32_gemm_ukr_4x4__scalar",
    .fma_peak = sc_fma_peak__scalar,
};
