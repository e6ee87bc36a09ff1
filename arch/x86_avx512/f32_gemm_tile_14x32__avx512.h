/* f32_gemm_tile_14x32__avx512.h: the register map of the 14 x 32 AVX-512 tile, shared by its three microkernels
 * (packed, A read in place, A read in place and packed), which define their name and options, include this, then
 * f32_gemm_ukr__avx512.h. Not a public header and not to be included anywhere else.
 *
 * Register map (32 zmm):
 *   zmm0-27   accumulators: row i in zmm(2i) (columns 0-15) and zmm(2i+1) (columns 16-31)
 *   zmm28-29  one row of the packed B panel (32 floats)
 *   zmm30-31  a[i] broadcast, alternating between rows so consecutive rows do not wait on one register
 * Per k step: 2 vector loads, 14 broadcast loads, 28 FMAs (14 cycles at two 512-bit FMAs per cycle, far more
 * than the 4-cycle FMA latency needs).
 */
#define SC_UKR_MR 14
#define SC_UKR_NV 2
#define SC_UKR_B0 "28"
#define SC_UKR_B1 "29"
#define SC_UKR_ROWS(X, s)                                                                                    \
  X(s, 0, 0, 1, 30) X(s, 1, 2, 3, 31) X(s, 2, 4, 5, 30) X(s, 3, 6, 7, 31) X(s, 4, 8, 9, 30) X(s, 5, 10, 11, 31) \
  X(s, 6, 12, 13, 30) X(s, 7, 14, 15, 31) X(s, 8, 16, 17, 30) X(s, 9, 18, 19, 31) X(s, 10, 20, 21, 30)        \
  X(s, 11, 22, 23, 31) X(s, 12, 24, 25, 30) X(s, 13, 26, 27, 31)
