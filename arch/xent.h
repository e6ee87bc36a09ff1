/* xent.h: per-ISA kernels of the NT-Xent softmax-similarity (the row-wise exp / log-sum-exp work that follows
 * the similarity GEMM and precedes the gradient GEMM). */
#ifndef SC_ARCH_XENT_H
#define SC_ARCH_XENT_H

#include <stddef.h>

typedef struct sc_xent_config {
  int unused_; /* filled in by the softmax-similarity kernels */
} sc_xent_config;

#endif
