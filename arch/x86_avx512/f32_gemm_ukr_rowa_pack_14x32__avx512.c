/* f32_gemm_ukr_rowa_pack_14x32__avx512.c: the 14 x 32 AVX-512 microkernel reading A in place
 * (f32_gemm_ukr_rowa_14x32__avx512.c) that also writes the panel of A it reads, packed, for the packed kernel's
 * calls on the other panels of B (arch/gemm.h, ukr_rowa_pack). The driver calls it on the first column panel of a
 * block, so that A is packed by stores slotted between the FMAs (one scalar store per broadcast: 14 per depth step
 * against 28 FMAs) instead of by a pass of its own before them.
 *
 * Register map: as the packed kernel (f32_gemm_tile_14x32__avx512.h).
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_rowa_pack_14x32__avx512
#define SC_UKR_ROW_A
#define SC_UKR_PACK_A
#include "f32_gemm_tile_14x32__avx512.h"
#include "f32_gemm_ukr__avx512.h"
