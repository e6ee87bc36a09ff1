/* gemm.h: the GEMM microkernel contract and the per-ISA GEMM configuration.
 *
 * A microkernel multiplies one packed MR x kc panel of A by one packed kc x NR panel of B and writes (or adds to)
 * an m x n corner (m <= MR, n <= NR) of C. Packing, blocking and threads are the driver's job (src/ops/gemm.c);
 * an ISA may also offer a transposing packer, which the driver uses for operands whose rows run along the depth.
 * Nothing here may depend on an instruction set.
 */
#ifndef SC_ARCH_GEMM_H
#define SC_ARCH_GEMM_H

#include <stddef.h>

/* a: kc columns of MR floats (a[p*MR + i] = A[i][p]); b: kc rows of NR floats (b[p*NR + j] = B[p][j]);
 * c: row stride ldc. Computes C[i][j] = (accumulate ? C[i][j] : 0) + sum_p a[p*MR+i] * b[p*NR+j] for i < m,
 * j < n; never reads or writes C outside the m x n corner. When accumulate is 0, C is not read (a NaN there
 * does not propagate). kc == 0 is allowed: the sum is empty, so C becomes 0 or stays as it is. b is 64-byte
 * aligned (panels of NR*kc floats, NR >= 16 on x86, laid end to end from an aligned buffer); a and c need only
 * float alignment. */
typedef void (*sc_f32_gemm_ukr_fn)(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, int accumulate);

/* What a microkernel may finish its tile with before storing it (the layer's epilogue, on the tile's last depth
 * block): v += res[i*ldr + j] (res NULL: skipped), then v += bias[j] (bias NULL: skipped), then v = max(v, 0)
 * (relu nonzero; NaN gives 0), each rounded as the table's add_bias_relu rounds it; res and bias point at the
 * tile's first row and column, and res does not overlap C. Fields are word-sized: assembly reads them by offset. */
typedef struct sc_f32_gemm_tile_ep {
  const float *res;
  size_t ldr;
  const float *bias;
  size_t relu;
} sc_f32_gemm_tile_ep;

/* The same product with A read in place: row i of the tile at a + i*lda (kc contiguous floats, any alignment),
 * for all MR rows (m == MR: the driver packs the last, partial panel instead); everything else as above, and the
 * result equal to the packed kernel's bit for bit. Along the depth steps it also stages kc consecutive cache lines
 * from pf in L2 (pf + 16p at step p), one per step between the FMAs, so that the driver can have the next panel's
 * rows fetched from DRAM while this one computes, without a burst of prefetches. pf is never dereferenced. With
 * ep (NULL: none) the tile is finished as sc_f32_gemm_tile_ep says, in registers, before it is stored. */
typedef void (*sc_f32_gemm_ukr_rowa_fn)(size_t m, size_t n, size_t kc, const float *a, size_t lda, const float *b,
                                        const float *pf, float *c, size_t ldc, int accumulate,
                                        const sc_f32_gemm_tile_ep *ep);

/* The kernel above that also writes the panel of A it reads, packed, for the packed kernel's later calls:
 * ap[p*MR + i] = a[i*lda + p] for i < MR, p < kc (ap float-aligned, MR*kc floats, not overlapping a). It stages
 * nothing in L2. Everything else, C included, as ukr_rowa. */
typedef void (*sc_f32_gemm_ukr_rowa_pack_fn)(size_t m, size_t n, size_t kc, const float *a, size_t lda,
                                             const float *b, float *ap, float *c, size_t ldc, int accumulate,
                                             const sc_f32_gemm_tile_ep *ep);

/* The same product with B read in place: row p of the panel at b + p*ldb (NR floats, any alignment), for all NR
 * columns (n == NR: the driver uses it only where every panel is whole); everything else as the packed kernel, and
 * the result equal to its result bit for bit. Along the depth steps it stages pf + p*pf_ld in L2, as the kernel
 * above stages its lines: the driver points pf at one line of each row of the next panel of B, or of the next
 * block of A to pack. */
typedef void (*sc_f32_gemm_ukr_rowb_fn)(size_t m, size_t n, size_t kc, const float *a, const float *b, size_t ldb,
                                        const float *pf, size_t pf_ld, float *c, size_t ldc, int accumulate);

/* Packs rn <= w rows of a depth-contiguous operand into one panel of width w: dst[p*w + r] = scale * src[r*ld + p]
 * for r < rn, p < kc, and dst[p*w + r] = 0 for rn <= r < w. dst is 64-byte aligned; src may have any alignment.
 * Reads nothing outside the rn x kc block. */
typedef void (*sc_f32_gemm_pack_t_fn)(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                                      float *dst);

/* Runs iters rounds of independent FMA chains and returns the number of floating-point operations done: the
 * denominator of "fraction of peak". */
typedef double (*sc_fma_peak_fn)(size_t iters);

typedef struct sc_gemm_config {
  size_t mr, nr;             /* register tile */
  size_t mc, kc, nc;         /* cache blocking defaults (the driver retunes them from the cache sizes) */
  sc_f32_gemm_ukr_fn ukr;
  const char *ukr_name;      /* e.g. "sc_f32_gemm_ukr_14x32__avx512" */
  sc_fma_peak_fn fma_peak;
  sc_f32_gemm_pack_t_fn pack_t; /* NULL: the driver's portable transposing packer */
  /* optional: the microkernel reading A in place, for A whose panels would meet few panels of B; NULL if none */
  sc_f32_gemm_ukr_rowa_fn ukr_rowa;
  const char *ukr_rowa_name;
  /* optional: the same, also writing the panel of A it reads, packed (a block's first column panel); NULL if none */
  sc_f32_gemm_ukr_rowa_pack_fn ukr_rowa_pack;
  const char *ukr_rowa_pack_name;
  /* optional: the packed kernel (ukr's contract, bit for bit) writing a whole tile it does not accumulate with
   * non-temporal stores, past the caches, for C written in one pass and too large to stay in cache; such a tile's
   * rows must be 64-byte aligned. The driver orders those stores before C is read (a fence after the call's last
   * tile). NULL if none */
  sc_f32_gemm_ukr_fn ukr_stream;
  const char *ukr_stream_name;
  /* optional: the microkernel reading B in place, for B whose panels would meet few panels of A; NULL if none */
  sc_f32_gemm_ukr_rowb_fn ukr_rowb;
  const char *ukr_rowb_name;
  /* other tiles of the same ISA, kept for measurement (tests and the benchmark run each one through the driver);
   * NULL-terminated, or NULL if there are none */
  const struct sc_gemm_config *const *alternatives;
  /* optional: the tile the driver uses instead when op(A) is a matrix stored transposed (its panels are packed by
   * plain row copies, as in the backward-weights GEMM), where it measured faster; NULL if none */
  const struct sc_gemm_config *strided_a;
  /* optional: the tile the driver uses instead when C has at most its nr columns (a narrower tile than the
   * default, so that few output channels do not leave most of each vector zero); NULL if none */
  const struct sc_gemm_config *narrow_n;
} sc_gemm_config;

#endif
