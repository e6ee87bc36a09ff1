/* kernels__neon.c: the neon kernel table, the one symbol src/dispatch needs from arch/arm_neon/. */
#include "kernels.h"

extern const sc_gemm_config sc_gemm_config__neon;
extern const sc_xent_config sc_xent_config__neon;
extern const sc_eltwise_config sc_eltwise_config__neon;
extern const sc_logreg_config sc_logreg_config__neon;
extern const sc_image_config sc_image_config__neon;
extern const sc_conv_config sc_conv_config__neon;

const sc_kernels sc_kernels_neon = {
    .name = "neon",
    .isa = SC_ISA_NEON,
    .gemm = &sc_gemm_config__neon,
    .xent = &sc_xent_config__neon,
    .eltwise = &sc_eltwise_config__neon,
    .logreg = &sc_logreg_config__neon,
    .image = &sc_image_config__neon,
    .conv = &sc_conv_config__neon,
};
