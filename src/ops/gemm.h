/* gemm.h (src/ops): the GEMM driver's internal interface, shared by sc_sgemm and the operators built on GEMM
 * (convolution as implicit GEMM, the NT-Xent similarity).
 *
 * The driver runs BLIS's loops around the microkernel of a kernel table. It never sees matrices directly: each
 * operand is a "source" that packs a block of itself into microkernel panels. sc_gemm_src_matrix() makes a source
 * from a plain row-major matrix; convolution supplies packers that gather im2col rows straight from NHWC.
 */
#ifndef SC_OPS_GEMM_H
#define SC_OPS_GEMM_H

#include <stddef.h>

#include "kernels.h"

typedef struct sc_gemm_src sc_gemm_src;

/* Packs rows [r0, r0+rc) and depth [p0, p0+kc) of the operand, multiplied by scale, into panels of w rows:
 * dst[(r / w) * w * kc + p * w + (r % w)] for r < rc, p < kc (r, p relative to r0, p0). The last panel is padded
 * with zeros up to w rows. For A, rows are the m index; for B, rows are the n index (B is seen transposed). */
typedef void (*sc_gemm_pack_fn)(const sc_gemm_src *src, size_t r0, size_t rc, size_t p0, size_t kc, size_t w,
                                float scale, float *dst);

/* Writes rows [r0, r0+rc) of the operand over its whole depth k, unscaled and untransposed: dst[r*ld + p] for
 * r < rc, p < k (r relative to r0). */
typedef void (*sc_gemm_rows_fn)(const sc_gemm_src *src, size_t r0, size_t rc, size_t k, float *dst, size_t ld);

struct sc_gemm_src {
  sc_gemm_pack_fn pack;
  const float *data; /* for matrix sources */
  size_t ld;
  int depth_contiguous; /* element (r, p) at data[r*ld + p] if 1, at data[p*ld + r] if 0 */
  const void *ctx;      /* for custom packers */
  /* optional, for A: its rows written out whole, which the driver can then read in place (the table's ukr_rowa)
   * where packing them would cost as much as the FMAs they feed: a gathered A's rows, or a matrix's rows that lie
   * a multiple of 4 KB apart and would collide in L1 if read where they are (NULL: none) */
  sc_gemm_rows_fn rows;
};

/* A source reading element (r, p) of a row-major matrix: at data[r*ld + p] when depth_contiguous, else at
 * data[p*ld + r]. For op(A) (m x k): depth_contiguous = !transA. For B seen as n x k: depth_contiguous = transB. */
sc_gemm_src sc_gemm_src_matrix(const float *data, size_t ld, int depth_contiguous);

/* C[m x n] (row stride ldc) = alpha * A * B^T + beta * C, where A's rows and B's rows (m and n of them) both run
 * over the depth k. Sizes are assumed valid (callers validate). Returns SC_ENOMEM if packing buffers could not be
 * had. Runs on sc_num_threads() threads (one when called inside a parallel region). Packing buffers are kept
 * and grown between calls, so a repeated shape does not allocate. The pack callbacks may run on several threads
 * at once (different blocks) and must not write anything but dst. A is packed with w = kern->gemm->mr and
 * scale = alpha, B with w = kern->gemm->nr and scale = 1. Thread-safe: concurrent calls work (the second uses
 * buffers of its own for that call). */
sc_status sc_gemm_run(const sc_kernels *kern, size_t m, size_t n, size_t k, const sc_gemm_src *a,
                      const sc_gemm_src *b, float alpha, float beta, float *c, size_t ldc);

/* What to do to C once it is final, while each block is still in cache: C += residual (row stride ldr, when not
 * NULL), then C += bias[column] (when not NULL), then C = max(C, 0) (when relu), each rounded as the separate
 * element-wise operators round it. Inference's convolution + residual add + folded BN + ReLU. */
typedef struct sc_gemm_epilogue {
  const float *residual;
  size_t ldr;
  const float *bias;
  int relu;
} sc_gemm_epilogue;

/* sc_gemm_run followed by the epilogue e (NULL: none), applied to each block of C as it is finished. */
sc_status sc_gemm_run_ep(const sc_kernels *kern, size_t m, size_t n, size_t k, const sc_gemm_src *a,
                         const sc_gemm_src *b, float alpha, float beta, float *c, size_t ldc,
                         const sc_gemm_epilogue *e);
/* The epilogue e on rows [i0, i0 + rows) and columns [j0, j1) of c (row stride ldc), on the calling thread. */
void sc_gemm_epilogue_apply(const sc_kernels *kern, const sc_gemm_epilogue *e, float *c, size_t ldc, size_t i0,
                            size_t rows, size_t j0, size_t j1);

/* Plans every later call as if L3 held `bytes` (0: the CPU's size, the default), for tests: which schedule a shape
 * takes depends on B's budget, a quarter of L3, and a machine with a large L3 would otherwise keep B resident in
 * every case meant to stream it. Not to be called while a GEMM runs. */
void sc_gemm_model_l3(size_t bytes);

/* The block sizes the driver plans with on this machine for a kernel table (each call then balances them to its
 * shape): mc rows of A and kc of depth filling half of L2, nc columns of B streamed per pass, the budget for B
 * kept packed whole (a quarter of L3), the L2 size the thread grid's cost model assumes and the L3 size planned
 * with. The table's own mc, kc, nc are only the fallback for unknown caches. */
typedef struct sc_gemm_limits {
  size_t mc, kc, nc, b_budget, l2, l3;
} sc_gemm_limits;
void sc_gemm_block_limits(const sc_kernels *kern, sc_gemm_limits *out);

/* For custom packers: packs rn <= w rows that are contiguous along the depth (row r at src + r*ld, kc floats used)
 * into one panel of width w: dst[p*w + r] = scale * src[r*ld + p], rows rn..w-1 zero. Uses the vectorised
 * transposing packer of the active kernel table when it has one. */
void sc_gemm_pack_rows_t(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale, float *dst);

#endif
