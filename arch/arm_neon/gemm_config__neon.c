/* gemm_config__neon.c: tile sizes, microkernel and transposing packer of the neon GEMM. It only names kernels; it
 * must not compute. */
#include <stddef.h>

#include "gemm.h"

void sc_f32_gemm_ukr_8x12__neon(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                size_t ldc, int accumulate);
double sc_fma_peak__neon(size_t iters);
void sc_f32_gemm_pack_t__neon(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                              float *dst);

const sc_gemm_config sc_gemm_config__neon = {
    .mr = 8, .nr = 12, .mc = 128, .kc = 256, .nc = 4092,
    .ukr = sc_f32_gemm_ukr_8x12__neon,
    .ukr_name = "sc_f32_gemm_ukr_8x12__neon",
    .fma_peak = sc_fma_peak__neon,
    .pack_t = sc_f32_gemm_pack_t__neon,
};
