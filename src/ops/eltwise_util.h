/* eltwise_util.h: what the element-wise, batch-norm and pooling drivers share: size checks, how many threads a
 * memory-bound loop deserves, and how rows are split between them; and the check of a backward's sc_grad_write,
 * which the convolution shares. Internal; no ISA code, no allocation. */
#ifndef SC_OPS_ELTWISE_UTIL_H
#define SC_OPS_ELTWISE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/error.h"
#include "simclr_ops.h"

/* Largest element count accepted: a byte size that stays far from overflowing size_t and int64_t. */
#define SC_ELT_MAX_COUNT (INT64_MAX / 16)

/* Channels handled per pass over the rows. A pass covers one block of channels for all its rows, so a tensor with
 * more channels than this is read in several strided passes (slower: the row segments get shorter); below it,
 * one pass. Per-thread partial sums and per-channel coefficients of one block live on the threads' stacks
 * (2 x 8 KiB of doubles per thread, 12 KiB of floats on the caller's). */
#define SC_ELT_CBLOCK 1024
/* Threads that take part in a per-channel reduction (the caller's stack holds a pointer per thread). Partial sums
 * are added in thread order, so a result depends on the thread count but never on scheduling. */
#define SC_ELT_MAX_REDUCE_THREADS 256

/* 1 if every size is >= 0 and their product is <= SC_ELT_MAX_COUNT; the product goes to *total. */
static inline int sc_elt_sizes_ok(int nsizes, const int64_t *sizes, int64_t *total) {
  int64_t t = 1;
  for (int i = 0; i < nsizes; i++) {
    if (sizes[i] < 0) return 0;
    if (sizes[i] != 0 && t > SC_ELT_MAX_COUNT / sizes[i]) return 0;
    t *= sizes[i];
  }
  *total = t;
  return 1;
}

/* Threads for a streaming loop over `work` floats: one per 16K floats (below that the fork costs more than the
 * loop), at most sc_num_threads(). */
static inline int sc_elt_threads(size_t work, int max_threads) {
  size_t t = work / 16384 + 1;
  int nt = sc_num_threads();
  if (max_threads > 0 && nt > max_threads) nt = max_threads;
  return t < (size_t)nt ? (int)t : nt;
}

/* Thread t of nt gets [*lo, *hi) of n items, boundaries rounded to multiples of `align` (so that threads writing
 * neighbouring blocks do not share cache lines). */
static inline void sc_elt_split(size_t n, int t, int nt, size_t align, size_t *lo, size_t *hi) {
  size_t units = (n + align - 1) / align;
  size_t a = units * (size_t)t / (size_t)nt, b = units * (size_t)(t + 1) / (size_t)nt;
  *lo = a * align < n ? a * align : n;
  *hi = b * align < n ? b * align : n;
}

/* SC_EINVAL naming the function unless w is SC_GRAD_ADD or SC_GRAD_SET. */
static inline sc_status sc_grad_write_check(const char *who, sc_grad_write w) {
  if (w == SC_GRAD_ADD || w == SC_GRAD_SET) return SC_OK;
  return sc_error(SC_EINVAL, "%s: gradient write mode %d is neither SC_GRAD_ADD nor SC_GRAD_SET", who, (int)w);
}

#endif
