/* eltwise_config__scalar.c: the scalar element-wise and pooling kernels. */
#include "eltwise.h"

const sc_eltwise_config sc_eltwise_config__scalar = {0};
