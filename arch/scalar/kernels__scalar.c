/* kernels__scalar.c: the scalar kernel table, the one symbol src/dispatch needs from arch/scalar/. */
#include "kernels.h"

extern const sc_gemm_config sc_gemm_config__scalar;
extern const sc_xent_config sc_xent_config__scalar;
extern const sc_eltwise_config sc_eltwise_config__scalar;
extern const sc_logreg_config sc_logreg_config__scalar;
extern const sc_image_config sc_image_config__scalar;
extern const sc_conv_config sc_conv_config__scalar;

const sc_kernels sc_kernels_scalar = {
    .name = "scalar",
    .isa = SC_ISA_SCALAR,
    .gemm = &sc_gemm_config__scalar,
    .xent = &sc_xent_config__scalar,
    .eltwise = &sc_eltwise_config__scalar,
    .logreg = &sc_logreg_config__scalar,
    .image = &sc_image_config__scalar,
    .conv = &sc_conv_config__scalar,
};
