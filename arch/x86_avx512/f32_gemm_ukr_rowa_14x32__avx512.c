/* f32_gemm_ukr_rowa_14x32__avx512.c: the 14 x 32 AVX-512 microkernel of f32_gemm_ukr_14x32__avx512.c, reading A
 * in place from 14 rows of a depth-contiguous matrix instead of a packed panel (arch/gemm.h, ukr_rowa). The driver
 * uses it where each panel of A would meet only a few panels of B, so that packing A would cost as much as the
 * FMAs it feeds (C of at most a few hundred columns: 1x1 convolutions, ResNet stage 1 im2col shapes).
 *
 * Register map: as the packed kernel (f32_gemm_tile_14x32__avx512.h).
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_rowa_14x32__avx512
#define SC_UKR_ROW_A
#include "f32_gemm_tile_14x32__avx512.h"
#include "f32_gemm_ukr__avx512.h"
