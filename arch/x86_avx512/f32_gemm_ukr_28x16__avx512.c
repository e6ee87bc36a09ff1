/* f32_gemm_ukr_28x16__avx512.c: the AVX-512 f32 GEMM microkernel with a 28 x 16 tile, which the avx512 table uses
 * when C has at most 16 columns (the convolutions of 16-channel layers, small classifiers): there a 32-wide tile
 * spends half its FMAs on zero padding. It must not allocate, and must not touch C outside the m x n corner it is
 * given.
 *
 * Register map (32 zmm):
 *   zmm0-27   accumulators: row i in zmm(i)
 *   zmm28     one row of the packed B panel (16 floats)
 * Per k step: 1 vector load and 28 FMAs that each broadcast a[i] from memory (14 cycles at two 512-bit FMAs per
 * cycle); 28 rows keep the loads of A at one per FMA.
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_28x16__avx512
#define SC_UKR_MR 28
#define SC_UKR_NV 1
#define SC_UKR_B0 "28"
#define SC_UKR_ROWS(X, s) \
  X(s, 0, 0) X(s, 1, 1) X(s, 2, 2) X(s, 3, 3) X(s, 4, 4) X(s, 5, 5) X(s, 6, 6) X(s, 7, 7) X(s, 8, 8) X(s, 9, 9) \
  X(s, 10, 10) X(s, 11, 11) X(s, 12, 12) X(s, 13, 13) X(s, 14, 14) X(s, 15, 15) X(s, 16, 16) X(s, 17, 17) \
  X(s, 18, 18) X(s, 19, 19) X(s, 20, 20) X(s, 21, 21) X(s, 22, 22) X(s, 23, 23) X(s, 24, 24) X(s, 25, 25) \
  X(s, 26, 26) X(s, 27, 27)
#include "f32_gemm_ukr__avx512.h"
