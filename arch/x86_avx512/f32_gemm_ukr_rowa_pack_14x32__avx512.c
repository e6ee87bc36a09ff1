/* f32_gemm_ukr_rowa_pack_14x32__avx512.c: the 14 x 32 AVX-512 microkernel reading A in place
 * (f32_gemm_ukr_rowa_14x32__avx512.c) that also writes the panel of A it reads, packed, for the packed kernel's
 * calls on the other panels of B (arch/gemm.h, ukr_rowa_pack). The driver calls it on the first column panel of a
 * block, so that A is packed by stores slotted between the FMAs (one scalar store per broadcast: 14 per depth step
 * against 28 FMAs) instead of by a pass of its own before them.
 *
 * Register map: as the packed kernel (zmm0-27 accumulators, zmm28-29 a row of B, zmm30-31 broadcasts).
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_rowa_pack_14x32__avx512
#define SC_UKR_ROW_A
#define SC_UKR_PACK_A
#define SC_UKR_MR 14
#define SC_UKR_NV 2
#define SC_UKR_B0 "28"
#define SC_UKR_B1 "29"
#define SC_UKR_ROWS(X, s)                                                                                    \
  X(s, 0, 0, 1, 30) X(s, 1, 2, 3, 31) X(s, 2, 4, 5, 30) X(s, 3, 6, 7, 31) X(s, 4, 8, 9, 30) X(s, 5, 10, 11, 31) \
  X(s, 6, 12, 13, 30) X(s, 7, 14, 15, 31) X(s, 8, 16, 17, 30) X(s, 9, 18, 19, 31) X(s, 10, 20, 21, 30)        \
  X(s, 11, 22, 23, 31) X(s, 12, 24, 25, 30) X(s, 13, 26, 27, 31)
#include "f32_gemm_ukr__avx512.h"
