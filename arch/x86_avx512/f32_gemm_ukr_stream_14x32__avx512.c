/* f32_gemm_ukr_stream_14x32__avx512.c: the 14 x 32 AVX-512 microkernel (f32_gemm_ukr_14x32__avx512.c) that writes
 * a whole tile it does not accumulate with non-temporal stores, past the caches (arch/gemm.h, ukr_stream). The
 * driver calls it where C is written in one pass and is larger than the last-level cache: there each line of C
 * would otherwise be read from memory before it is overwritten, and evict lines that are still wanted.
 *
 * Register map: as the packed kernel (f32_gemm_tile_14x32__avx512.h).
 */
#define SC_UKR_NAME sc_f32_gemm_ukr_stream_14x32__avx512
#define SC_UKR_STREAM_C
#include "f32_gemm_tile_14x32__avx512.h"
#include "f32_gemm_ukr__avx512.h"
