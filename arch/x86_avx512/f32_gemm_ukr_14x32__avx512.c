/* f32_gemm_ukr_14x32__avx512.c: the AVX-512 f32 GEMM microkernel with a 14 x 32 tile, the default of the avx512
 * table (see gemm_config__avx512.c for how it was chosen). It must not allocate, and must not touch C outside the
 * m x n corner it is given. Register map: f32_gemm_tile_14x32__avx512.h.
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_14x32__avx512
#include "f32_gemm_tile_14x32__avx512.h"
#include "f32_gemm_ukr__avx512.h"
