/* eltwise_config__neon.c: the neon element-wise and pooling kernels. */
#include "eltwise.h"

const sc_eltwise_config sc_eltwise_config__neon = {0};
