/* kernels__avx512.c: the avx512 kernel table, the one symbol src/dispatch needs from arch/x86_avx512/. */
#include "kernels.h"

extern const sc_gemm_config sc_gemm_config__avx512;
extern const sc_xent_config sc_xent_config__avx512;
extern const sc_eltwise_config sc_eltwise_config__avx512;
extern const sc_logreg_config sc_logreg_config__avx512;
extern const sc_image_config sc_image_config__avx512;
extern const sc_conv_config sc_conv_config__avx512;

const sc_kernels sc_kernels_avx512 = {
    .name = "avx512",
    .isa = SC_ISA_AVX512,
    .gemm = &sc_gemm_config__avx512,
    .xent = &sc_xent_config__avx512,
    .eltwise = &sc_eltwise_config__avx512,
    .logreg = &sc_logreg_config__avx512,
    .image = &sc_image_config__avx512,
    .conv = &sc_conv_config__avx512,
};
