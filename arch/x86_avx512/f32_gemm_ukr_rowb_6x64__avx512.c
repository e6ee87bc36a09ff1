/* f32_gemm_ukr_rowb_6x64__avx512.c: the 6 x 64 AVX-512 microkernel of f32_gemm_ukr_6x64__avx512.c, reading B in
 * place from kc rows of a matrix whose rows run along N instead of a packed panel (arch/gemm.h, ukr_rowb). The
 * driver uses it where a thread has few rows of C, so that each panel of B would meet only a few panels of A and
 * packing B would cost as much as the FMAs it feeds (weight gradients: M = output channels, depth = pixels).
 *
 * Register map: as the packed kernel (zmm0-23 accumulators, zmm24-27 a row of B, zmm28-29 broadcasts).
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_rowb_6x64__avx512
#define SC_UKR_ROW_B
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
