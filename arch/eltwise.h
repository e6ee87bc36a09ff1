/* eltwise.h: per-ISA element-wise and pooling kernels on NHWC tensors (ReLU, bias and residual add, batch-norm
 * statistics and apply, max-pool, global average pool; forward and backward). */
#ifndef SC_ARCH_ELTWISE_H
#define SC_ARCH_ELTWISE_H

#include <stddef.h>

typedef struct sc_eltwise_config {
  int unused_; /* filled in by the element-wise kernels */
} sc_eltwise_config;

#endif
