/* eltwise_config__avx512.c: the avx512 element-wise and pooling kernels (ReLU, bias and residual add, batch norm,
 * max-pool; global average pool reuses col_sum and add_bias_relu). The kernels live in f32_eltwise__avx512.c,
 * f32_batchnorm__avx512.c and f32_maxpool__avx512.c; this file only lists them. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(avx512)

const sc_eltwise_config sc_eltwise_config__avx512 = SC_ELTWISE_CONFIG(avx512);
