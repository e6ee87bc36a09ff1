/* eltwise_config__avx2.c: the avx2 element-wise and pooling kernels (ReLU, bias and residual add, batch norm,
 * max-pool; global average pool reuses col_sum and add_bias_relu). The kernels live in f32_eltwise__avx2.c,
 * f32_batchnorm__avx2.c and f32_maxpool__avx2.c; this file only lists them. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(avx2)

const sc_eltwise_config sc_eltwise_config__avx2 = SC_ELTWISE_CONFIG(avx2);
