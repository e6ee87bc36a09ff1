/* eltwise_config__avx2.c: the avx2 element-wise and pooling kernels. */
#include "eltwise.h"

const sc_eltwise_config sc_eltwise_config__avx2 = {0};
