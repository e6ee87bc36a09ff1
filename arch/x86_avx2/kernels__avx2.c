/* kernels__avx2.c: the avx2 kernel table, the one symbol src/dispatch needs from arch/x86_avx2/. */
#include "kernels.h"

extern const sc_gemm_config sc_gemm_config__avx2;
extern const sc_xent_config sc_xent_config__avx2;
extern const sc_eltwise_config sc_eltwise_config__avx2;
extern const sc_logreg_config sc_logreg_config__avx2;
extern const sc_image_config sc_image_config__avx2;
extern const sc_conv_config sc_conv_config__avx2;

const sc_kernels sc_kernels_avx2 = {
    .name = "avx2",
    .isa = SC_ISA_AVX2,
    .gemm = &sc_gemm_config__avx2,
    .xent = &sc_xent_config__avx2,
    .eltwise = &sc_eltwise_config__avx2,
    .logreg = &sc_logreg_config__avx2,
    .image = &sc_image_config__avx2,
    .conv = &sc_conv_config__avx2,
};
