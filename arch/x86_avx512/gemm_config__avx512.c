/* gemm_config__avx512.c: tile sizes, microkernel and packer of the avx512 GEMM, and the alternative tiles that
 * tests and the benchmark exercise one by one. It only names kernels; it must not compute.
 *
 * Tile choice, measured on AMD EPYC (Zen 5, one thread, thread CPU time, OpenBLAS 0.3.21 in the same process):
 * all three tiles run at 100-102% of the FMA peak loop on L1-resident panels, so the differences come from
 * packing and edges. 14x32 vs 6x64, GFLOP/s: NN 65536x64x576 141 / 97, NN 16384x128x576 183 / 140 (6x64 pays
 * 16-row transposes for 6-row panels when packing A); TN 64x576x65536 140 / 156, TN 512x4608x1024 215 / 227
 * (A is packed by copies, and 64 rows fit 6-row tiles better than 14-row ones). 12x32 was never the best.
 * So 14x32 is the default and 6x64 the tile for A stored transposed. With at most 16 columns (16-channel
 * convolutions) 28x16 takes over: the 32-wide tiles would spend half their FMAs on padding. The 14x32 tile also
 * has a twin reading A in place (ukr_rowa), for C of few columns, where packing A would cost as much as the FMAs:
 * NN 65536x64x576 169 -> 211 GFLOP/s, 12544x64x256 191 -> 249, 16384x128x576 215 -> 250 (one core, medians of 3),
 * and a third that packs the panel of A while it reads it in place (ukr_rowa_pack), for the first column panel of
 * each block where B streams: NN 1024x512x4608 176.3 -> 179.9, 1024x512x2304 191.4 -> 194.7 (one core, best of 11);
 * a fourth that writes whole tiles past the caches (ukr_stream), for C written in one pass and larger than the L3:
 * NT 65536x576x64 94-100 -> 107-109 GFLOP/s, 16384x1152x128 104-106 -> 110-111 (Zen 4, one core, paired with
 * OpenBLAS, medians of 3); and 6x64 a twin reading B in place (ukr_rowb), for few rows of C and A stored
 * transposed (weight gradients): TN 64x576x65536 161 -> 204, 128x576x16384 189 -> 220.
 */
#include <stddef.h>

#include "gemm.h"

void sc_f32_gemm_ukr_14x32__avx512(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, int accumulate);
void sc_f32_gemm_ukr_12x32__avx512(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, int accumulate);
void sc_f32_gemm_ukr_stream_14x32__avx512(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                          size_t ldc, int accumulate);
void sc_f32_gemm_ukr_28x16__avx512(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                   size_t ldc, int accumulate);
void sc_f32_gemm_ukr_6x64__avx512(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                  size_t ldc, int accumulate);
void sc_f32_gemm_ukr_rowa_14x32__avx512(size_t m, size_t n, size_t kc, const float *a, size_t lda, const float *b,
                                        const float *pf, float *c, size_t ldc, int accumulate,
                                        const sc_f32_gemm_tile_ep *ep);
void sc_f32_gemm_ukr_rowa_pack_14x32__avx512(size_t m, size_t n, size_t kc, const float *a, size_t lda,
                                             const float *b, float *ap, float *c, size_t ldc, int accumulate,
                                             const sc_f32_gemm_tile_ep *ep);
void sc_f32_gemm_ukr_rowb_6x64__avx512(size_t m, size_t n, size_t kc, const float *a, const float *b, size_t ldb,
                                       const float *pf, size_t pf_ld, float *c, size_t ldc, int accumulate);
void sc_f32_gemm_pack_t__avx512(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                                float *dst);
double sc_fma_peak__avx512(size_t iters);

/* The fields every tile of this table shares, named after its MR x NR; a tile adds its in-place twin, and the
 * table its alternatives, after them. */
#define SC_AVX512_TILE(MR, NR)                                                                                   \
  .mr = MR, .nr = NR, .mc = 504, .kc = 256, .nc = 4096, .ukr = sc_f32_gemm_ukr_##MR##x##NR##__avx512,            \
  .ukr_name = "sc_f32_gemm_ukr_" #MR "x" #NR "__avx512", .fma_peak = sc_fma_peak__avx512,                       \
  .pack_t = sc_f32_gemm_pack_t__avx512

static const sc_gemm_config config_12x32 = {SC_AVX512_TILE(12, 32)};
static const sc_gemm_config config_6x64 = {
    SC_AVX512_TILE(6, 64),
    .ukr_rowb = sc_f32_gemm_ukr_rowb_6x64__avx512,
    .ukr_rowb_name = "sc_f32_gemm_ukr_rowb_6x64__avx512",
};
static const sc_gemm_config config_28x16 = {SC_AVX512_TILE(28, 16)};
static const sc_gemm_config *const alternatives[] = {&config_12x32, &config_6x64, &config_28x16, NULL};

const sc_gemm_config sc_gemm_config__avx512 = {
    SC_AVX512_TILE(14, 32),
    .ukr_rowa = sc_f32_gemm_ukr_rowa_14x32__avx512,
    .ukr_rowa_name = "sc_f32_gemm_ukr_rowa_14x32__avx512",
    .ukr_rowa_pack = sc_f32_gemm_ukr_rowa_pack_14x32__avx512,
    .ukr_rowa_pack_name = "sc_f32_gemm_ukr_rowa_pack_14x32__avx512",
    .ukr_stream = sc_f32_gemm_ukr_stream_14x32__avx512,
    .ukr_stream_name = "sc_f32_gemm_ukr_stream_14x32__avx512",
    .alternatives = alternatives,
    .strided_a = &config_6x64,
    .narrow_n = &config_28x16,
};
