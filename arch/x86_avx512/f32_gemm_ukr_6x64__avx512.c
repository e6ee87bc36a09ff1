/* f32_gemm_ukr_6x64__avx512.c: the AVX-512 f32 GEMM microkernel with a 6 x 64 tile (64 = the smallest ResNet
 * channel count), kept as a measured alternative to 14x32. It must not allocate, and must not touch C outside the
 * m x n corner it is given.
 *
 * Register map (32 zmm):
 *   zmm0-23   accumulators: row i in zmm(4i) .. zmm(4i+3) (columns 16v .. 16v+15)
 *   zmm24-27  one row of the packed B panel (64 floats)
 *   zmm28-29  a[i] broadcast, alternating between rows; zmm30-31 unused
 * Per k step: 4 vector loads and 6 broadcasts for 24 FMAs: more loads per FMA than 14x32.
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_6x64__avx512
#define SC_UKR_MR 6
#define SC_UKR_NV 4
#define SC_UKR_B0 "24"
#define SC_UKR_B1 "25"
#define SC_UKR_B2 "26"
#define SC_UKR_B3 "27"
#define SC_UKR_ROWS(X, s)                                                                          \
  X(s, 0, 0, 1, 2, 3, 28) X(s, 1, 4, 5, 6, 7, 29) X(s, 2, 8, 9, 10, 11, 28) X(s, 3, 12, 13, 14, 15, 29) \
  X(s, 4, 16, 17, 18, 19, 28) X(s, 5, 20, 21, 22, 23, 29)
#include "f32_gemm_ukr__avx512.h"
