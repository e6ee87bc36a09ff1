/* xent.h: per-ISA kernels of the NT-Xent softmax-similarity (the row-wise exp / log-sum-exp work that follows
 * the similarity GEMM and precedes the gradient GEMM).
 *
 * The driver (src/ops/ntxent.c) stores the similarity row S_i (or a block's part of it) with its diagonal set to
 * -inf (so no kernel needs to know where the diagonal is; exp(-inf) = 0). Rows are normalised, so every S entry is
 * at most 1/tau, and two paths exist:
 *   fixed shift (1/tau <= 32, the usual temperatures): on S's upper triangle, row_expsum stores u_ij =
 *     e^(S_ij - 1/tau) in place and sums it along the row and down the columns (no maximum pass: u >= e^-64
 *     never underflows); with w_k = 1 / sum_j u_kj, P_ij = u_ij w_i and, because S is symmetric, P_ji = u_ij w_j;
 *     row_symgrad forms H = scale * (P + P^T) with no exponential;
 *   general (small tau): row_lse (maximum, then exp, sum and log), and row_grad with two exponentials per
 *     element, H_ij = scale * (e^(S_ij - lse_i) + e^(S_ij - lse_j)).
 * Either way H = G + G^T is formed row by row in place, without reading S's transpose. Kernels take unaligned
 * pointers and any n >= 1; they must not allocate, and must not read or write outside [0, n). exp and log come
 * from SLEEF's ISA-suffixed functions (libm only in the scalar reference). Sums are accumulated in double.
 */
#ifndef SC_ARCH_XENT_H
#define SC_ARCH_XENT_H

#include <stddef.h>

/* Returns log(sum_j exp(s[j])) over j < n, computed as m + log(sum_j exp(s[j] - m)) with m = max_j s[j]; the sum
 * is accumulated in double. Elements equal to -inf contribute nothing. n >= 1 and at least one element must be
 * finite; a NaN in s gives NaN. */
typedef double (*sc_f32_xent_row_lse_fn)(size_t n, const float *s);

/* g[j] = scale * (exp(s[j] - lse_i) + exp(s[j] - lse[j])) for j < n. g may equal s (in place). An element of s
 * equal to -inf gives 0. The caller guarantees s[j] <= lse_i and s[j] <= lse[j] (true for a symmetric S and
 * lse its row log-sum-exp), so no exponential overflows. */
typedef void (*sc_f32_xent_row_grad_fn)(size_t n, const float *s, float lse_i, const float *lse, float scale,
                                        float *g);

/* u[j] = exp(s[j] - shift) for j < n, and returns sum_j u[j] accumulated in double; when col is not NULL, also
 * col[j] += (double)u[j] (the column sums of the rows above: S's stored triangle). u may equal s (in place). An
 * element equal to -inf gives 0. The caller guarantees s[j] - shift <= ~0 (no overflow). */
typedef double (*sc_f32_xent_row_expsum_fn)(size_t n, const float *s, float shift, float *u, double *col);

/* g[j] = scale * (u[j] * (w_i + w[j])) for j < n, rounded in that order (the product u * (w_i + w[j]) is
 * P_ij + P_ji, at most 2, so it is scaled last and never goes subnormal). g may equal u (in place). */
typedef void (*sc_f32_xent_row_symgrad_fn)(size_t n, const float *u, float w_i, const float *w, float scale,
                                           float *g);

typedef struct sc_xent_config {
  sc_f32_xent_row_lse_fn row_lse;
  sc_f32_xent_row_grad_fn row_grad;
  sc_f32_xent_row_expsum_fn row_expsum;
  sc_f32_xent_row_symgrad_fn row_symgrad;
  const char *row_lse_name; /* e.g. "sc_f32_xent_row_lse__avx512" */
  const char *row_grad_name;
  const char *row_expsum_name;
  const char *row_symgrad_name;
} sc_xent_config;

#endif
