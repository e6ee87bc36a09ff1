/* eltwise_config__neon.c: the neon element-wise and pooling kernels (ReLU, bias and residual add, batch norm,
 * max-pool; global average pool reuses col_sum and add_bias_relu). The kernels live in f32_eltwise__neon.c,
 * f32_batchnorm__neon.c and f32_maxpool__neon.c; this file only lists them. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(neon)

const sc_eltwise_config sc_eltwise_config__neon = SC_ELTWISE_CONFIG(neon);
