/* gemm_config__avx2.c: tile sizes, microkernel and transposing packer of the avx2 GEMM. It only names kernels; it
 * must not compute. */
#include <stddef.h>

#include "gemm.h"

void sc_f32_gemm_ukr_6x16__avx2(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                size_t ldc, int accumulate);
double sc_fma_peak__avx2(size_t iters);
void sc_f32_gemm_pack_t__avx2(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                              float *dst);

const sc_gemm_config sc_gemm_config__avx2 = {
    .mr = 6, .nr = 16, .mc = 168, .kc = 256, .nc = 4096,
    .ukr = sc_f32_gemm_ukr_6x16__avx2,
    .ukr_name = "sc_f32_gemm_ukr_6x16__avx2",
    .fma_peak = sc_fma_peak__avx2,
    .pack_t = sc_f32_gemm_pack_t__avx2,
};
