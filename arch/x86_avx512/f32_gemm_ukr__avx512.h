/* f32_gemm_ukr__avx512.h: the body shared by the AVX-512 f32 GEMM microkernels, expanded once per kernel by the
 * f32_gemm_ukr_*__avx512.c files (which also carry their tile's register map, or include it where several kernels
 * share a tile: f32_gemm_tile_14x32__avx512.h). Not a public header and not to be included anywhere else.
 *
 * The depth loop is inline assembly with a fixed register assignment: written with intrinsics, gcc 12 spilled
 * accumulators inside the loop once 28 of the 32 zmm registers held them. In assembly the loop is only loads,
 * broadcasts and FMAs, unrolled by 4. A full tile is written to C by the assembly as well; a partial one
 * (m < MR or n < NR) is stored to an aligned stack tile and merged with masked loads and stores, which never touch
 * memory outside the m x n corner (masked-off lanes do not fault).
 *
 * Before including, define:
 *   SC_UKR_NAME         the function name
 *   SC_UKR_MR           rows of the tile (broadcast from the packed A panel)
 *   SC_UKR_NV           16-float vectors per row: 1 (NR = 16), 2 (NR = 32) or 4 (NR = 64)
 *   SC_UKR_B0..B<NV-1>  the registers holding one row of B, as strings ("28")
 *   SC_UKR_ROWS(X, s)   X(s, i, acc registers of row i..., broadcast register) for i = 0 .. MR-1, where the NV
 *                       accumulators of row i are zmm(NV*i) .. zmm(NV*i + NV-1) (the stack tile relies on it);
 *                       with NV = 1 there is no broadcast register: the FMA broadcasts a[i] from memory itself
 *   SC_UKR_ROW_A        (optional, NV = 2 and MR = 14 only) A is read in place rather than from a packed panel:
 *                       the function takes lda after a, reads row i of the tile at a + i*lda (kc contiguous floats)
 *                       and needs m == MR (arch/gemm.h, sc_f32_gemm_ukr_rowa_fn). Rows are addressed from two
 *                       bases, a and a + 7*lda, with lda, 3*lda and 5*lda as scaled indices. It takes pf after b
 *                       and stages the line at pf + 16p in L2 at step p. It takes ep last and finishes the tile
 *                       with it: a full tile in the assembly (the loop's A and B registers, free by then, hold
 *                       ep's fields; zmm28-29 the bias, zmm30 zero), a partial one in the merge below.
 *   SC_UKR_PACK_A       (optional, with SC_UKR_ROW_A) instead of pf the function takes ap, and instead of staging
 *                       lines it writes the A panel it reads, packed: each broadcast's low lane is stored to
 *                       ap[p*MR + i] (sc_f32_gemm_ukr_rowa_pack_fn).
 *   SC_UKR_STREAM_C     (optional, packed A and B) a whole tile that does not accumulate is written to C with
 *                       non-temporal stores, which bypass the caches (sc_gemm_config.ukr_stream): its rows must be
 *                       64-byte aligned; C is then not fetched ahead either.
 *   SC_UKR_ROW_B        (optional, NV = 4 only) B is read in place: the function takes ldb after b, reads row p of
 *                       the panel at b + p*ldb (NR floats, any alignment) and needs n == NR
 *                       (sc_f32_gemm_ukr_rowb_fn); it takes pf and pf_ld after ldb and stages pf + p*pf_ld in L2
 *                       at step p.
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

/* the store of a whole tile that does not accumulate */
#ifdef SC_UKR_STREAM_C
#define SC_ST "vmovntps"
#else
#define SC_ST "vmovups"
#endif

#define SC_STR_(x) #x
#define SC_STR(x) SC_STR_(x)
#define SC_NR (16 * SC_UKR_NV)
#define SC_MRS SC_STR(SC_UKR_MR)

#if SC_UKR_NV == 1
#define SC_LOAD_B(s) "vmovaps 64*" #s "(%[b]), %%zmm" SC_UKR_B0 "\n\t"
#define SC_FMA_ROW(s, i, r0) \
  "vfmadd231ps 4*(" SC_MRS "*" #s "+" #i ")(%[a])%{1to16%}, %%zmm" SC_UKR_B0 ", %%zmm" #r0 "\n\t"
#define SC_ZERO_ROW(s, i, r0) "vpxord %%zmm" #r0 ", %%zmm" #r0 ", %%zmm" #r0 "\n\t"
#define SC_ADD_ROW(s, i, r0)                      \
  "vaddps (%[c]), %%zmm" #r0 ", %%zmm" #r0 "\n\t" \
  "vmovups %%zmm" #r0 ", (%[c])\n\t"              \
  "add %[ldc], %[c]\n\t"
#define SC_STORE_ROW(s, i, r0)       \
  SC_ST " %%zmm" #r0 ", (%[c])\n\t"  \
  "add %[ldc], %[c]\n\t"
#define SC_TILE_ROW(s, i, r0) "vmovaps %%zmm" #r0 ", 64*" #r0 "(%[t])\n\t"
#elif SC_UKR_NV == 2
#define SC_LOAD_B(s)                                                \
  "vmovaps 128*" #s "(%[b]), %%zmm" SC_UKR_B0 "\n\t"                \
  "vmovaps 128*" #s "+64(%[b]), %%zmm" SC_UKR_B1 "\n\t"
#ifdef SC_UKR_ROW_A
/* a[i][s] of the rows read in place (see SC_UKR_ROW_A above) */
#define SC_A_0(s) "4*" #s "(%[a])"
#define SC_A_1(s) "4*" #s "(%[a],%[l1])"
#define SC_A_2(s) "4*" #s "(%[a],%[l1],2)"
#define SC_A_3(s) "4*" #s "(%[a],%[l3])"
#define SC_A_4(s) "4*" #s "(%[a],%[l1],4)"
#define SC_A_5(s) "4*" #s "(%[a],%[l5])"
#define SC_A_6(s) "4*" #s "(%[a],%[l3],2)"
#define SC_A_7(s) "4*" #s "(%[a7])"
#define SC_A_8(s) "4*" #s "(%[a7],%[l1])"
#define SC_A_9(s) "4*" #s "(%[a7],%[l1],2)"
#define SC_A_10(s) "4*" #s "(%[a7],%[l3])"
#define SC_A_11(s) "4*" #s "(%[a7],%[l1],4)"
#define SC_A_12(s) "4*" #s "(%[a7],%[l5])"
#define SC_A_13(s) "4*" #s "(%[a7],%[l3],2)"
#define SC_A_AT(s, i) SC_A_##i(s)
#else
#define SC_A_AT(s, i) "4*(" SC_MRS "*" #s "+" #i ")(%[a])"
#endif
#ifdef SC_UKR_PACK_A
#define SC_PACK_A(s, i, bc) "vmovss %%xmm" #bc ", 4*(" SC_MRS "*" #s "+" #i ")(%[ap])\n\t"
#else
#define SC_PACK_A(s, i, bc) ""
#endif
#define SC_FMA_ROW(s, i, r0, r1, bc)                                     \
  "vbroadcastss " SC_A_AT(s, i) ", %%zmm" #bc "\n\t"                     \
  SC_PACK_A(s, i, bc)                                                    \
  "vfmadd231ps %%zmm" SC_UKR_B0 ", %%zmm" #bc ", %%zmm" #r0 "\n\t"      \
  "vfmadd231ps %%zmm" SC_UKR_B1 ", %%zmm" #bc ", %%zmm" #r1 "\n\t"
#define SC_ZERO_ROW(s, i, r0, r1, bc)                   \
  "vpxord %%zmm" #r0 ", %%zmm" #r0 ", %%zmm" #r0 "\n\t" \
  "vpxord %%zmm" #r1 ", %%zmm" #r1 ", %%zmm" #r1 "\n\t"
#define SC_ADD_ROW(s, i, r0, r1, bc)                    \
  "vaddps (%[c]), %%zmm" #r0 ", %%zmm" #r0 "\n\t"       \
  "vaddps 64(%[c]), %%zmm" #r1 ", %%zmm" #r1 "\n\t"     \
  "vmovups %%zmm" #r0 ", (%[c])\n\t"                    \
  "vmovups %%zmm" #r1 ", 64(%[c])\n\t"                  \
  "add %[ldc], %[c]\n\t"
#define SC_STORE_ROW(s, i, r0, r1, bc)                  \
  SC_ST " %%zmm" #r0 ", (%[c])\n\t"                     \
  SC_ST " %%zmm" #r1 ", 64(%[c])\n\t"                   \
  "add %[ldc], %[c]\n\t"
#define SC_TILE_ROW(s, i, r0, r1, bc)                   \
  "vmovaps %%zmm" #r0 ", 64*" #r0 "(%[t])\n\t"          \
  "vmovaps %%zmm" #r1 ", 64*" #r1 "(%[t])\n\t"
/* a row finished with the tile's epilogue (SC_UKR_ROW_A): + C when accumulating, + the residual row (at a, rows
 * k4 bytes apart; none when a is 0), + the bias (zmm28-29; none when b is 0), max with zero (zmm30; when k1) */
#define SC_EP_ROW(s, i, r0, r1, bc)                                                                \
  "test $2, %[mode]\n\tjz 31f\n\t"                                                              \
  "vaddps (%[c]), %%zmm" #r0 ", %%zmm" #r0 "\n\tvaddps 64(%[c]), %%zmm" #r1 ", %%zmm" #r1 "\n"    \
  "31:\n\ttest %[a], %[a]\n\tjz 32f\n\t"                                                        \
  "vaddps (%[a]), %%zmm" #r0 ", %%zmm" #r0 "\n\tvaddps 64(%[a]), %%zmm" #r1 ", %%zmm" #r1 "\n\t"  \
  "add %[k4], %[a]\n"                                                                             \
  "32:\n\ttest %[b], %[b]\n\tjz 33f\n\t"                                                        \
  "vaddps %%zmm28, %%zmm" #r0 ", %%zmm" #r0 "\n\tvaddps %%zmm29, %%zmm" #r1 ", %%zmm" #r1 "\n"     \
  "33:\n\ttest %[k1], %[k1]\n\tjz 34f\n\t"                                                      \
  "vmaxps %%zmm30, %%zmm" #r0 ", %%zmm" #r0 "\n\tvmaxps %%zmm30, %%zmm" #r1 ", %%zmm" #r1 "\n"     \
  "34:\n\t"                                                                                       \
  "vmovups %%zmm" #r0 ", (%[c])\n\tvmovups %%zmm" #r1 ", 64(%[c])\n\tadd %[ldc], %[c]\n\t"
#elif SC_UKR_NV == 4
#ifdef SC_UKR_ROW_B
/* one row of B in place, then the pointer moves to the next row */
#define SC_LOAD_B(s)                                  \
  "vmovups (%[b]), %%zmm" SC_UKR_B0 "\n\t"            \
  "vmovups 64(%[b]), %%zmm" SC_UKR_B1 "\n\t"          \
  "vmovups 128(%[b]), %%zmm" SC_UKR_B2 "\n\t"         \
  "vmovups 192(%[b]), %%zmm" SC_UKR_B3 "\n\t"         \
  "add %[ldb], %[b]\n\t"
#else
#define SC_LOAD_B(s)                                                \
  "vmovaps 256*" #s "(%[b]), %%zmm" SC_UKR_B0 "\n\t"                \
  "vmovaps 256*" #s "+64(%[b]), %%zmm" SC_UKR_B1 "\n\t"             \
  "vmovaps 256*" #s "+128(%[b]), %%zmm" SC_UKR_B2 "\n\t"            \
  "vmovaps 256*" #s "+192(%[b]), %%zmm" SC_UKR_B3 "\n\t"
#endif
#define SC_FMA_ROW(s, i, r0, r1, r2, r3, bc)                             \
  "vbroadcastss 4*(" SC_MRS "*" #s "+" #i ")(%[a]), %%zmm" #bc "\n\t"   \
  "vfmadd231ps %%zmm" SC_UKR_B0 ", %%zmm" #bc ", %%zmm" #r0 "\n\t"      \
  "vfmadd231ps %%zmm" SC_UKR_B1 ", %%zmm" #bc ", %%zmm" #r1 "\n\t"      \
  "vfmadd231ps %%zmm" SC_UKR_B2 ", %%zmm" #bc ", %%zmm" #r2 "\n\t"      \
  "vfmadd231ps %%zmm" SC_UKR_B3 ", %%zmm" #bc ", %%zmm" #r3 "\n\t"
#define SC_ZERO_ROW(s, i, r0, r1, r2, r3, bc)           \
  "vpxord %%zmm" #r0 ", %%zmm" #r0 ", %%zmm" #r0 "\n\t" \
  "vpxord %%zmm" #r1 ", %%zmm" #r1 ", %%zmm" #r1 "\n\t" \
  "vpxord %%zmm" #r2 ", %%zmm" #r2 ", %%zmm" #r2 "\n\t" \
  "vpxord %%zmm" #r3 ", %%zmm" #r3 ", %%zmm" #r3 "\n\t"
#define SC_ADD_ROW(s, i, r0, r1, r2, r3, bc)            \
  "vaddps (%[c]), %%zmm" #r0 ", %%zmm" #r0 "\n\t"       \
  "vaddps 64(%[c]), %%zmm" #r1 ", %%zmm" #r1 "\n\t"     \
  "vaddps 128(%[c]), %%zmm" #r2 ", %%zmm" #r2 "\n\t"    \
  "vaddps 192(%[c]), %%zmm" #r3 ", %%zmm" #r3 "\n\t"    \
  "vmovups %%zmm" #r0 ", (%[c])\n\t"                    \
  "vmovups %%zmm" #r1 ", 64(%[c])\n\t"                  \
  "vmovups %%zmm" #r2 ", 128(%[c])\n\t"                 \
  "vmovups %%zmm" #r3 ", 192(%[c])\n\t"                 \
  "add %[ldc], %[c]\n\t"
#define SC_STORE_ROW(s, i, r0, r1, r2, r3, bc)          \
  SC_ST " %%zmm" #r0 ", (%[c])\n\t"                     \
  SC_ST " %%zmm" #r1 ", 64(%[c])\n\t"                   \
  SC_ST " %%zmm" #r2 ", 128(%[c])\n\t"                  \
  SC_ST " %%zmm" #r3 ", 192(%[c])\n\t"                  \
  "add %[ldc], %[c]\n\t"
#define SC_TILE_ROW(s, i, r0, r1, r2, r3, bc)           \
  "vmovaps %%zmm" #r0 ", 64*" #r0 "(%[t])\n\t"          \
  "vmovaps %%zmm" #r1 ", 64*" #r1 "(%[t])\n\t"          \
  "vmovaps %%zmm" #r2 ", 64*" #r2 "(%[t])\n\t"          \
  "vmovaps %%zmm" #r3 ", 64*" #r3 "(%[t])\n\t"
#else
#error "SC_UKR_NV must be 1, 2 or 4"
#endif
#if defined(SC_UKR_ROW_A) && (SC_UKR_NV != 2 || SC_UKR_MR != 14)
#error "SC_UKR_ROW_A needs NV = 2 and MR = 14"
#endif
#if defined(SC_UKR_PACK_A) && !defined(SC_UKR_ROW_A)
#error "SC_UKR_PACK_A needs SC_UKR_ROW_A"
#endif
#if defined(SC_UKR_ROW_B) && (SC_UKR_NV != 4 || defined(SC_UKR_ROW_A))
#error "SC_UKR_ROW_B needs NV = 4 (and A packed)"
#endif
#ifdef SC_UKR_ROW_B
#define SC_B_STEP(f) "" /* SC_LOAD_B has moved b already */
#else
#define SC_B_STEP(f) "add $4*" #f "*" SC_STR(SC_NR) ", %[b]\n\t"
#endif

/* the in-place kernels stage one line in L2 per depth step: the next of kc consecutive lines (A in place), or the
 * line pf_ld floats further (B in place); the kernel packing A stages nothing */
#if defined(SC_UKR_PACK_A)
#define SC_STAGE ""
#elif defined(SC_UKR_ROW_A)
#define SC_STAGE "prefetcht1 (%[pf])\n\tadd $64, %[pf]\n\t"
#elif defined(SC_UKR_ROW_B)
#define SC_STAGE "prefetcht1 (%[pf])\n\tadd %[pfl], %[pf]\n\t"
#else
#define SC_STAGE ""
#endif

#define SC_STEP(s) SC_LOAD_B(s) SC_STAGE SC_UKR_ROWS(SC_FMA_ROW, s)

/* lanes [16v, 16v+16) of a row that are below n */
static inline __mmask16 sc_lane_mask(size_t n, size_t v) {
  if (n <= 16 * v) return 0;
  size_t r = n - 16 * v;
  return r >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << r) - 1u);
}

/* A full tile with an epilogue (mode bit 2) is finished at label 9, after the partial tile's path: ep's fields
 * go to the registers the loop no longer needs (a: res, k4: its row stride in bytes, b: bias, k1: relu) */
#ifdef SC_UKR_ROW_A
#define SC_EP_BRANCH "test $4, %[mode]\n\tjnz 9f\n\t"
#define SC_EP_TILE                                                                                        \
  "jmp 8f\n"                                                                                             \
  "9:\n\t"                                                                                              \
  "mov 16(%[ep]), %[b]\n\ttest %[b], %[b]\n\tjz 30f\n\t"                                                \
  "vmovups (%[b]), %%zmm28\n\tvmovups 64(%[b]), %%zmm29\n"                                              \
  "30:\n\t"                                                                                             \
  "mov (%[ep]), %[a]\n\tmov 8(%[ep]), %[k4]\n\tshl $2, %[k4]\n\tmov 24(%[ep]), %[k1]\n\t"              \
  "vpxord %%zmm30, %%zmm30, %%zmm30\n\t" SC_UKR_ROWS(SC_EP_ROW, 0)
#else
#define SC_EP_BRANCH ""
#define SC_EP_TILE ""
#endif

/* the A pointers step along f depth steps (4 in the unrolled loop, 1 in the tail) */
#ifdef SC_UKR_PACK_A
#define SC_A_STEP(f) "add $4*" #f ", %[a]\n\tadd $4*" #f ", %[a7]\n\tadd $4*" #f "*" SC_MRS ", %[ap]\n\t"
#elif defined(SC_UKR_ROW_A)
#define SC_A_STEP(f) "add $4*" #f ", %[a]\n\tadd $4*" #f ", %[a7]\n\t"
#else
#define SC_A_STEP(f) "add $4*" #f "*" SC_MRS ", %[a]\n\t"
#endif

#if defined(SC_UKR_ROW_A)
#ifdef SC_UKR_PACK_A
void SC_UKR_NAME(size_t m, size_t n, size_t kc, const float *a, size_t lda, const float *b, float *ap, float *c,
                 size_t ldc, int accumulate, const sc_f32_gemm_tile_ep *ep) {
#else
void SC_UKR_NAME(size_t m, size_t n, size_t kc, const float *a, size_t lda, const float *b, const float *pf,
                 float *c, size_t ldc, int accumulate, const sc_f32_gemm_tile_ep *ep) {
#endif
  const float *a7 = a + 7 * lda;
  _Static_assert(offsetof(sc_f32_gemm_tile_ep, res) == 0 && offsetof(sc_f32_gemm_tile_ep, ldr) == 8 &&
                     offsetof(sc_f32_gemm_tile_ep, bias) == 16 && offsetof(sc_f32_gemm_tile_ep, relu) == 24,
                 "the assembly reads sc_f32_gemm_tile_ep's fields at these offsets");
#elif defined(SC_UKR_ROW_B)
void SC_UKR_NAME(size_t m, size_t n, size_t kc, const float *a, const float *b, size_t ldb, const float *pf,
                 size_t pf_ld, float *c, size_t ldc, int accumulate) {
#else
void SC_UKR_NAME(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c, size_t ldc,
                 int accumulate) {
#endif
  float tile[SC_UKR_MR * SC_NR] __attribute__((aligned(64)));
  const size_t full = m == SC_UKR_MR && n == SC_NR;
  /* the tile's rows of C are needed at the end: start fetching them now, behind the FMAs (unless they are to be
   * streamed past the caches) */
#ifdef SC_UKR_STREAM_C
  const size_t fetch_c = accumulate || !full ? m : 0;
#else
  const size_t fetch_c = m;
#endif
  for (size_t i = 0; i < fetch_c; i++) {
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + i * ldc + SC_NR - 1), _MM_HINT_T0);
#if SC_UKR_NV == 4
    _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + i * ldc + 32), _MM_HINT_T0);
#endif
  }
  /* bit 0: a full tile, stored by the assembly; bit 1: accumulate; bit 2: an epilogue (SC_UKR_ROW_A) */
#ifdef SC_UKR_ROW_A
  const size_t mode = (size_t)full | (size_t)(accumulate != 0) << 1 | (size_t)(ep != NULL) << 2;
#else
  const size_t mode = (size_t)full | (size_t)(accumulate != 0) << 1;
#endif
  size_t k4 = kc / 4, k1 = kc % 4;
  float *cp = c;
  __asm__ volatile(
      SC_UKR_ROWS(SC_ZERO_ROW, 0)
      "test %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      SC_STEP(0) SC_STEP(1) SC_STEP(2) SC_STEP(3)
      SC_A_STEP(4)
      SC_B_STEP(4)
      "dec %[k4]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "test %[k1], %[k1]\n\t"
      "jz 4f\n"
      "3:\n\t"
      SC_STEP(0)
      SC_A_STEP(1)
      SC_B_STEP(1)
      "dec %[k1]\n\t"
      "jnz 3b\n"
      "4:\n\t"
      "test $1, %[mode]\n\t"
      "jz 7f\n\t"
      SC_EP_BRANCH
      "test $2, %[mode]\n\t"
      "jz 5f\n\t"
      SC_UKR_ROWS(SC_ADD_ROW, 0)
      "jmp 8f\n"
      "5:\n\t"
      SC_UKR_ROWS(SC_STORE_ROW, 0)
      "jmp 8f\n"
      "7:\n\t"
      SC_UKR_ROWS(SC_TILE_ROW, 0)
      SC_EP_TILE
      "8:\n\t"
      "vzeroupper\n\t"
      : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [k1] "+r"(k1), [c] "+r"(cp)
#if defined(SC_UKR_PACK_A)
        , [a7] "+r"(a7), [ap] "+r"(ap)
      : [l1] "r"(lda * sizeof(float)), [l3] "r"(3 * lda * sizeof(float)), [l5] "r"(5 * lda * sizeof(float)),
#elif defined(SC_UKR_ROW_A)
        , [a7] "+r"(a7), [pf] "+r"(pf)
      : [l1] "r"(lda * sizeof(float)), [l3] "r"(3 * lda * sizeof(float)), [l5] "r"(5 * lda * sizeof(float)),
#elif defined(SC_UKR_ROW_B)
        , [pf] "+r"(pf)
      : [ldb] "r"(ldb * sizeof(float)), [pfl] "r"(pf_ld * sizeof(float)),
#else
      :
#endif
        [ldc] "r"(ldc * sizeof(float)), [mode] "r"(mode), [t] "r"(tile)
#ifdef SC_UKR_ROW_A
        , [ep] "r"(ep)
#endif
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
  if (full) return;
  for (size_t i = 0; i < m; i++)
    for (size_t v = 0; v < SC_UKR_NV; v++) {
      const __mmask16 k = sc_lane_mask(n, v);
      if (!k) break;
      float *ci = c + i * ldc + 16 * v;
      __m512 x = _mm512_load_ps(tile + (i * SC_UKR_NV + v) * 16);
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(k, ci));
#ifdef SC_UKR_ROW_A
      if (ep) {
        if (ep->res) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(k, ep->res + i * ep->ldr + 16 * v));
        if (ep->bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(k, ep->bias + 16 * v));
        if (ep->relu) x = _mm512_max_ps(x, _mm512_setzero_ps()); /* NaN gives 0, as add_bias_relu */
      }
#endif
      _mm512_mask_storeu_ps(ci, k, x);
    }
}
