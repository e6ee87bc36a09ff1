/* gemm.h: the GEMM microkernel contract and the per-ISA GEMM configuration.
 *
 * A microkernel multiplies one packed MR x kc panel of A by one packed kc x NR panel of B and writes (or adds to)
 * an m x n corner (m <= MR, n <= NR) of C. Packing, blocking and threads are the driver's job (src/ops/gemm.c).
 */
#ifndef SC_ARCH_GEMM_H
#define SC_ARCH_GEMM_H

#include <stddef.h>

/* a: kc columns of MR floats (a[p*MR + i] = A[i][p]); b: kc rows of NR floats (b[p*NR + j] = B[p][j]);
 * c: row stride ldc. Computes C[i][j] = (accumulate ? C[i][j] : 0) + sum_p a[p*MR+i] * b[p*NR+j] for i < m,
 * j < n; never reads or writes C outside the m x n corner. */
typedef void (*sc_f32_gemm_ukr_fn)(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, int accumulate);

/* Runs iters rounds of independent FMA chains and returns the number of floating-point operations done: the
 * denominator of "fraction of peak". */
typedef double (*sc_fma_peak_fn)(size_t iters);

typedef struct sc_gemm_config {
  size_t mr, nr;             /* register tile */
  size_t mc, kc, nc;         /* cache blocking defaults (the driver may retune them from the cache sizes) */
  sc_f32_gemm_ukr_fn ukr;
  const char *ukr_name;      /* e.g. "sc_f32_gemm_ukr_14x32__avx512" */
  sc_fma_peak_fn fma_peak;
} sc_gemm_config;

#endif
