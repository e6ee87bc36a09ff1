/* eltwise_config__scalar.c: the scalar element-wise and pooling kernels (ReLU, bias and residual add, batch norm,
 * max-pool; global average pool reuses col_sum and add_bias_relu). The kernels live in f32_eltwise__scalar.c,
 * f32_batchnorm__scalar.c and f32_maxpool__scalar.c; this file only lists them. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(scalar)

const sc_eltwise_config sc_eltwise_config__scalar = SC_ELTWISE_CONFIG(scalar);
