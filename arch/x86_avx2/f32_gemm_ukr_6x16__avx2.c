/* f32_gemm_ukr_6x16__avx2.c: the AVX2+FMA f32 GEMM microkernel, 6 x 16 tile. It must not allocate, and must not
 * touch C outside the m x n corner it is given (partial tiles go through an aligned stack tile).
 *
 * Register map (16 ymm):
 *   ymm0-11   accumulators: row i in ymm(2i) (columns 0-7) and ymm(2i+1) (columns 8-15)
 *   ymm12-13  one row of the packed B panel (16 floats)
 *   ymm14-15  a[i] broadcast (vbroadcastss), alternating between rows
 * Per k step: 2 loads, 6 broadcasts, 12 FMAs (6 cycles at two FMAs per cycle; 12 chains hide the latency).
 * The depth loop is inline assembly: with intrinsics gcc 12 kept spilling with all 16 registers in use.
 */
#include <immintrin.h>

#include "gemm.h"

#define ROWS(X, s) X(s, 0, 0, 1, 14) X(s, 1, 2, 3, 15) X(s, 2, 4, 5, 14) X(s, 3, 6, 7, 15) X(s, 4, 8, 9, 14) \
  X(s, 5, 10, 11, 15)
#define LOAD_B(s) "vmovaps 64*" #s "(%[b]), %%ymm12\n\t" "vmovaps 64*" #s "+32(%[b]), %%ymm13\n\t"
#define FMA_ROW(s, i, r0, r1, bc)                               \
  "vbroadcastss 4*(6*" #s "+" #i ")(%[a]), %%ymm" #bc "\n\t"    \
  "vfmadd231ps %%ymm12, %%ymm" #bc ", %%ymm" #r0 "\n\t"         \
  "vfmadd231ps %%ymm13, %%ymm" #bc ", %%ymm" #r1 "\n\t"
#define ZERO_ROW(s, i, r0, r1, bc) \
  "vxorps %%ymm" #r0 ", %%ymm" #r0 ", %%ymm" #r0 "\n\t" "vxorps %%ymm" #r1 ", %%ymm" #r1 ", %%ymm" #r1 "\n\t"
#define ADD_ROW(s, i, r0, r1, bc)                                                                         \
  "vaddps (%[c]), %%ymm" #r0 ", %%ymm" #r0 "\n\t" "vaddps 32(%[c]), %%ymm" #r1 ", %%ymm" #r1 "\n\t"       \
  "vmovups %%ymm" #r0 ", (%[c])\n\t" "vmovups %%ymm" #r1 ", 32(%[c])\n\t" "add %[ldc], %[c]\n\t"
#define STORE_ROW(s, i, r0, r1, bc) \
  "vmovups %%ymm" #r0 ", (%[c])\n\t" "vmovups %%ymm" #r1 ", 32(%[c])\n\t" "add %[ldc], %[c]\n\t"
#define TILE_ROW(s, i, r0, r1, bc) "vmovaps %%ymm" #r0 ", 32*" #r0 "(%[t])\n\t" "vmovaps %%ymm" #r1 ", 32*" #r1 "(%[t])\n\t"
#define STEP(s) LOAD_B(s) ROWS(FMA_ROW, s)

void sc_f32_gemm_ukr_6x16__avx2(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                size_t ldc, int accumulate) {
  float tile[6 * 16] __attribute__((aligned(32)));
  const size_t full = m == 6 && n == 16;
  for (size_t i = 0; i < m; i++) {
    _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);
  }
  size_t k4 = kc / 4, k1 = kc % 4, acc = (size_t)(accumulate != 0);
  float *cp = c;
  __asm__ volatile(
      ROWS(ZERO_ROW, 0)
      "test %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      ".p2align 5\n"
      "1:\n\t"
      STEP(0) STEP(1) STEP(2) STEP(3)
      "add $4*4*6, %[a]\n\t"
      "add $4*4*16, %[b]\n\t"
      "dec %[k4]\n\t"
      "jnz 1b\n"
      "2:\n\t"
      "test %[k1], %[k1]\n\t"
      "jz 4f\n"
      "3:\n\t"
      STEP(0)
      "add $4*6, %[a]\n\t"
      "add $4*16, %[b]\n\t"
      "dec %[k1]\n\t"
      "jnz 3b\n"
      "4:\n\t"
      "test %[full], %[full]\n\t"
      "jz 7f\n\t"
      "test %[acc], %[acc]\n\t"
      "jz 5f\n\t"
      ROWS(ADD_ROW, 0)
      "jmp 8f\n"
      "5:\n\t"
      ROWS(STORE_ROW, 0)
      "jmp 8f\n"
      "7:\n\t"
      ROWS(TILE_ROW, 0)
      "8:\n\t"
      "vzeroupper\n\t"
      : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [k1] "+r"(k1), [c] "+r"(cp)
      : [ldc] "r"(ldc * sizeof(float)), [full] "r"(full), [acc] "r"(acc), [t] "r"(tile)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  if (full) return;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * 16 + j];
}
