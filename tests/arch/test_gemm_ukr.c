/* test_gemm_ukr.c: every f32 GEMM microkernel of every ISA (the table's default tile and its alternatives), called
 * directly through sc_kernels_for() on packed panels, against a plain loop. Covers kc = 0 (allowed by the
 * contract: the empty sum, so C becomes 0 or is left as it is), 1, small primes, the driver's block size and
 * around it; every m <= MR and n <= NR for small kc, the corners for larger kc; accumulate on and off; a large
 * ldc and a misaligned C. Also the transposing packers (the ISA's pack_t) against the definition, and the
 * microkernels that read A or B in place (ukr_rowa, ukr_rowb, and ukr_rowa_pack with its packed copy of A)
 * against the same loop, with the last row read ending at an unreadable page, and ukr_rowa finishing its tile
 * with each kind of epilogue (residual, bias, ReLU) against the loop followed by those steps; and the kernels that
 * store whole tiles past the caches (ukr_stream) like the packed ones, on 64-byte aligned rows where they need them.
 *
 * Data are small integers, so every product and partial sum is exact in fp32 and results must match bit for bit
 * (tolerance zero). Non-accumulating calls start from NaN in C, which must not leak into the result; every
 * element of C outside the m x n corner holds a sentinel that must survive.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"
#include "testutil.h"

static const float sentinel = 12345.0f;

typedef struct ukr_case {
  const sc_kernels *k;
  const sc_gemm_config *g;
  size_t m, n, kc, ldc;
  int accumulate;
  uint64_t seed;
  size_t lda; /* 0: A packed; else ukr_rowa, A's rows lda floats apart */
  size_t ldb; /* 0: B packed; else ukr_rowb, B's rows ldb floats apart */
  int ep;     /* ukr_rowa only: the tile's epilogue, 0 for none, else 1 + (bit 0: residual, 1: bias, 2: ReLU) */
  int pack_a; /* with lda: ukr_rowa_pack, whose packed copy of A is checked too */
  int stream; /* ukr_stream instead of ukr: C is 64-byte aligned where the tile is whole and not accumulated */
} ukr_case;

/* nrows rows of len floats, ld apart, the last ending where an unreadable page begins (a read past them faults;
 * inline assembly is invisible to the address sanitizer). *map and *map_len are what to munmap. */
static float *guarded_rows(size_t nrows, size_t len, size_t ld, void **map, size_t *map_len) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = ((nrows ? nrows - 1 : 0) * ld + len) * sizeof(float);
  const size_t map_bytes = (bytes + page - 1) / page * page + page;
  char *base = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SC_ASSERT(base != MAP_FAILED, "mmap failed");
  SC_ASSERT(mprotect(base + map_bytes - page, page, PROT_NONE) == 0, "mprotect failed");
  *map = base, *map_len = map_bytes;
  return (float *)(base + map_bytes - page - bytes);
}

static void check_ukr(const ukr_case *t) {
  const size_t mr = t->g->mr, nr = t->g->nr, kc = t->kc, ldc = t->ldc, rows = mr + 2;
  sc_test_rng r = {t->seed};
  float *a = aligned_alloc(64, ((mr * kc + 16) * sizeof(float) + 63) / 64 * 64);
  float *b = aligned_alloc(64, ((nr * kc + 16) * sizeof(float) + 63) / 64 * 64);
  /* C misaligned by 3 floats (but where ukr_stream needs it aligned); one row of margin on each side */
  const int aligned = t->stream && t->m == mr && t->n == nr && !t->accumulate;
  float *c = sc_test_alloc(rows * ldc, aligned ? 0 : 3);
  float *ref = malloc(rows * ldc * sizeof(float));
  SC_ASSERT(a && b && ref, "out of memory");
  sc_test_fill_int(&r, a, mr * kc, 8);
  sc_test_fill_int(&r, b, nr * kc, 8);
  for (size_t i = 0; i < rows * ldc; i++) c[i] = sentinel;
  float *c0 = c + ldc; /* the tile starts one row in */
  for (size_t i = 0; i < t->m; i++)
    for (size_t j = 0; j < t->n; j++) c0[i * ldc + j] = t->accumulate ? (float)sc_test_int(&r, -50, 50) : NAN;
  for (size_t i = 0; i < rows * ldc; i++) ref[i] = c[i];
  float *ref0 = ref + ldc;
  /* the epilogue's operands: a residual with a row stride of its own, a bias, small integers of both signs */
  const int with_ep = t->ep > 0, with_res = with_ep && ((t->ep - 1) & 1), with_bias = with_ep && ((t->ep - 1) & 2);
  const int with_relu = with_ep && ((t->ep - 1) & 4);
  const size_t ldr = t->n + 5;
  float *res = malloc(mr * ldr * sizeof(float)), *bias = malloc(nr * sizeof(float));
  SC_ASSERT(res && bias, "out of memory");
  sc_test_fill_int(&r, res, mr * ldr, 40);
  sc_test_fill_int(&r, bias, nr, 40);
  if (with_res && with_relu) res[ldr + 1] = NAN; /* the ReLU makes it 0, as add_bias_relu does */
  for (size_t i = 0; i < t->m; i++)
    for (size_t j = 0; j < t->n; j++) {
      double s = t->accumulate ? ref0[i * ldc + j] : 0.0;
      for (size_t p = 0; p < kc; p++) s += (double)a[p * mr + i] * (double)b[p * nr + j];
      float v = (float)s;
      if (with_res) v += res[i * ldr + j];
      if (with_bias) v += bias[j];
      if (with_relu) v = v > 0.0f ? v : 0.0f;
      ref0[i * ldc + j] = v;
    }
  const sc_f32_gemm_tile_ep ep = {.res = with_res ? res : NULL, .ldr = ldr, .bias = with_bias ? bias : NULL,
                                  .relu = (size_t)with_relu};
  void *map;
  size_t map_len;
  if (t->lda) { /* A's rows in place: row i of the tile is column i of the packed panel */
    float *ar = guarded_rows(mr, kc, t->lda, &map, &map_len);
    for (size_t i = 0; i < mr; i++)
      for (size_t p = 0; p < kc; p++) ar[i * t->lda + p] = a[p * mr + i];
    if (t->pack_a) { /* the packed copy must equal the panel, and nothing past it be written */
      float *ap = malloc((mr * kc + 16) * sizeof(float));
      SC_ASSERT(ap, "out of memory");
      for (size_t i = 0; i < mr * kc + 16; i++) ap[i] = sentinel;
      t->g->ukr_rowa_pack(t->m, t->n, kc, ar, t->lda, b, ap, c0, ldc, t->accumulate, with_ep ? &ep : NULL);
      for (size_t i = 0; i < mr * kc + 16; i++)
        SC_ASSERT(ap[i] == (i < mr * kc ? a[i] : sentinel), "%s (isa %s) kc=%zu lda=%zu seed=%llu: packed A[%zu] = "
                  "%g, want %g", t->g->ukr_rowa_pack_name, t->k->name, kc, t->lda, (unsigned long long)t->seed, i,
                  ap[i], i < mr * kc ? a[i] : sentinel);
      free(ap);
    } else {
      /* the staging pointer starts on the guard page: it must never be read */
      t->g->ukr_rowa(t->m, t->n, kc, ar, t->lda, b, ar + (mr - 1) * t->lda + kc, c0, ldc, t->accumulate,
                     with_ep ? &ep : NULL);
    }
    munmap(map, map_len);
  } else if (t->ldb) { /* B's rows in place: row p is row p of the packed panel */
    float *br = guarded_rows(kc, nr, t->ldb, &map, &map_len);
    for (size_t p = 0; p < kc; p++)
      for (size_t j = 0; j < nr; j++) br[p * t->ldb + j] = b[p * nr + j];
    /* the staging pointer runs past the last row, onto the guard page: it must never be read */
    t->g->ukr_rowb(t->m, t->n, kc, a, br, t->ldb, br + kc * t->ldb, t->ldb, c0, ldc, t->accumulate);
    munmap(map, map_len);
  } else {
    (t->stream ? t->g->ukr_stream : t->g->ukr)(t->m, t->n, kc, a, b, c0, ldc, t->accumulate);
  }
  const char *name = t->pack_a   ? t->g->ukr_rowa_pack_name
                     : t->lda    ? t->g->ukr_rowa_name
                     : t->ldb    ? t->g->ukr_rowb_name
                     : t->stream ? t->g->ukr_stream_name
                                 : t->g->ukr_name;
  for (size_t i = 0; i < rows * ldc; i++) {
    int same = c[i] == ref[i];
    SC_ASSERT(same, "%s (isa %s) m=%zu n=%zu kc=%zu ldc=%zu lda=%zu ldb=%zu accumulate=%d ep=%d seed=%llu: "
              "C[%zd][%zu] = %g, want %g%s", name, t->k->name, t->m, t->n, kc, ldc, t->lda, t->ldb, t->accumulate,
              t->ep,
              (unsigned long long)t->seed,
              (ssize_t)(i / ldc) - 1, i % ldc, c[i], ref[i],
              ref[i] == sentinel ? " (outside the m x n corner: must be untouched)" : "");
  }
  free(a), free(b), free(ref), free(res), free(bias), sc_test_free(c);
}

/* the table's tile and its alternatives */
static size_t configs_of(const sc_kernels *k, const sc_gemm_config **out, size_t cap) {
  size_t n = 0;
  out[n++] = k->gemm;
  for (const sc_gemm_config *const *alt = k->gemm->alternatives; alt && *alt && n < cap; alt++) out[n++] = *alt;
  return n;
}

SC_ISA_TEST(gemm_ukr, every_corner_small_kc) {
  const sc_gemm_config *cfgs[8];
  size_t ncfg = configs_of(k, cfgs, 8);
  static const size_t kcs[] = {0, 1, 2, 5};
  uint64_t seed = 1;
  for (size_t ci = 0; ci < ncfg; ci++)
    for (size_t q = 0; q < sizeof kcs / sizeof *kcs; q++)
      for (size_t m = 1; m <= cfgs[ci]->mr; m++)
        for (size_t n = 1; n <= cfgs[ci]->nr; n++) {
          ukr_case t = {k, cfgs[ci], m, n, kcs[q], cfgs[ci]->nr + (seed % 5), (int)(seed & 1), seed,
                        0, 0, 0, 0, 0};
          check_ukr(&t);
          seed++;
        }
}

SC_ISA_TEST(gemm_ukr, depths_around_blocks) {
  const sc_gemm_config *cfgs[8];
  size_t ncfg = configs_of(k, cfgs, 8);
  uint64_t seed = 1000;
  for (size_t ci = 0; ci < ncfg; ci++) {
    const sc_gemm_config *g = cfgs[ci];
    const size_t kcs[] = {3, 7, 13, 16, 17, 31, 64, g->kc - 1, g->kc, g->kc + 1, 1000};
    const size_t ms[] = {1, g->mr - 1, g->mr}, ns[] = {1, g->nr / 2, g->nr - 1, g->nr};
    for (size_t q = 0; q < sizeof kcs / sizeof *kcs; q++)
      for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
          for (int acc = 0; acc < 2; acc++) {
            ukr_case t = {k, g, ms[i], ns[j], kcs[q], g->nr + 1, acc, seed++, 0, 0, 0, 0, 0};
            check_ukr(&t);
          }
  }
}

SC_ISA_TEST(gemm_ukr, large_ldc) {
  const sc_gemm_config *cfgs[8];
  size_t ncfg = configs_of(k, cfgs, 8);
  for (size_t ci = 0; ci < ncfg; ci++)
    for (int acc = 0; acc < 2; acc++) {
      ukr_case full = {k, cfgs[ci], cfgs[ci]->mr, cfgs[ci]->nr, 37, 4099, acc, 77, 0, 0, 0, 0, 0};
      check_ukr(&full);
      ukr_case part = {k, cfgs[ci], cfgs[ci]->mr - 1, cfgs[ci]->nr - 3, 37, 4099, acc, 78, 0, 0, 0, 0, 0};
      check_ukr(&part);
    }
}

/* the tiles of the table, its alternatives and its special tiles that have a microkernel reading A or B in place */
static size_t configs_in_place(const sc_kernels *k, const sc_gemm_config **out, size_t cap, int b_side) {
  const sc_gemm_config *all[10];
  size_t n = configs_of(k, all, 8), m = 0;
  if (k->gemm->strided_a) all[n++] = k->gemm->strided_a;
  if (k->gemm->narrow_n) all[n++] = k->gemm->narrow_n;
  for (size_t i = 0; i < n && m < cap; i++) {
    int dup = 0;
    for (size_t j = 0; j < m; j++) dup |= out[j] == all[i];
    if (!dup && (b_side ? all[i]->ukr_rowb != NULL : all[i]->ukr_rowa != NULL)) out[m++] = all[i];
  }
  return m;
}

/* every tile of the table with a microkernel reading A (b_side 0) or B (1) in place; returns how many */
static size_t check_in_place(const sc_kernels *k, int b_side, uint64_t seed) {
  const sc_gemm_config *cfgs[8];
  const size_t ncfg = configs_in_place(k, cfgs, 8, b_side);
  /* the contract's m == MR (A in place) or n == NR (B in place), the other side every size; depths around the
   * unrolling and the blocks; rows exactly as long as used or longer (they then start off the 64-byte grid) */
  for (size_t ci = 0; ci < ncfg; ci++) {
    const sc_gemm_config *g = cfgs[ci];
    const size_t kcs[] = {0, 1, 2, 3, 4, 5, 7, 16, 17, g->kc - 1, g->kc, 1000};
    const size_t other = b_side ? g->mr : g->nr;
    for (size_t q = 0; q < sizeof kcs / sizeof *kcs; q++)
      for (size_t x = 1; x <= other; x += (kcs[q] <= 17 || other <= 8 ? 1 : 7))
        for (int acc = 0; acc < 2; acc++) {
          ukr_case t = {k, g, b_side ? x : g->mr, b_side ? g->nr : x, kcs[q], g->nr + (seed % 3), acc, seed,
                        0, 0, 0, 0, 0};
          if (b_side)
            t.ldb = g->nr + (seed % 4);
          else
            t.lda = kcs[q] + (seed % 4) + (kcs[q] == 0), t.ep = (int)(seed % 9); /* none, then each of 8 kinds */
          check_ukr(&t);
          t.pack_a = !b_side && g->ukr_rowa_pack != NULL; /* again through the kernel that packs A too */
          if (t.pack_a) check_ukr(&t);
          seed++;
        }
    ukr_case wide = {k, g, g->mr, g->nr, 37, 4099, 1, seed, b_side ? 0 : 4099, b_side ? 4099 : 0, 0, 0, 0};
    check_ukr(&wide);
    wide.pack_a = !b_side && g->ukr_rowa_pack != NULL;
    if (wide.pack_a) check_ukr(&wide);
    for (int e = 1; !b_side && e <= 8; e++) { /* every epilogue on a full tile and on a partial one */
      ukr_case full = {k, g, g->mr, g->nr, 37, 4099, e & 1, seed++, 4099, 0, e, 0, 0};
      check_ukr(&full);
      ukr_case part = {k, g, g->mr, g->nr - 5, 37, g->nr + 2, (e >> 1) & 1, seed++, 40, 0, e, 0, 0};
      check_ukr(&part);
      full.pack_a = part.pack_a = g->ukr_rowa_pack != NULL;
      if (full.pack_a) check_ukr(&full), check_ukr(&part);
    }
  }
  return ncfg;
}

SC_ISA_TEST(gemm_ukr, a_read_in_place) {
  if (!check_in_place(k, 0, 2000)) SC_SKIP("%s has no microkernel reading A in place", k->name);
}

SC_ISA_TEST(gemm_ukr, b_read_in_place) {
  if (!check_in_place(k, 1, 3000)) SC_SKIP("%s has no microkernel reading B in place", k->name);
}

/* The kernels writing whole tiles past the caches: every corner (partial tiles and accumulated ones take the plain
 * stores, on misaligned C), depths around the unrolling and the blocks, and row strides of 16-float multiples. */
SC_ISA_TEST(gemm_ukr, stream_stores) {
  const sc_gemm_config *cfgs[8];
  size_t ncfg = configs_of(k, cfgs, 8), tested = 0;
  uint64_t seed = 4000;
  for (size_t ci = 0; ci < ncfg; ci++) {
    const sc_gemm_config *g = cfgs[ci];
    if (!g->ukr_stream) continue;
    tested++;
    const size_t ldc0 = (g->nr + 15) / 16 * 16;
    const size_t kcs[] = {0, 1, 2, 5, 16, 17, 64, g->kc - 1, g->kc, 1000};
    for (size_t q = 0; q < sizeof kcs / sizeof *kcs; q++)
      for (size_t m = 1; m <= g->mr; m += (kcs[q] <= 5 || m + 1 >= g->mr ? 1 : 5))
        for (size_t n = 1; n <= g->nr; n += (kcs[q] <= 5 || n + 1 >= g->nr ? 1 : 7))
          for (int acc = 0; acc < 2; acc++) {
            ukr_case t = {k, g, m, n, kcs[q], ldc0 + 16 * (seed % 3), acc, seed, 0, 0, 0, 0, 1};
            check_ukr(&t);
            seed++;
          }
    ukr_case wide = {k, g, g->mr, g->nr, 37, 4096, 0, seed, 0, 0, 0, 0, 1};
    check_ukr(&wide);
  }
  if (!tested) SC_SKIP("%s has no microkernel storing past the caches", k->name);
}

SC_ISA_TEST(gemm_ukr, transposing_packer) {
  if (!k->gemm->pack_t) SC_SKIP("%s has no transposing packer of its own", k->name);
  static const size_t ws[] = {6, 8, 12, 14, 16, 32, 64}, kcs[] = {1, 5, 15, 16, 17, 33, 256};
  uint64_t seed = 5;
  for (size_t wi = 0; wi < sizeof ws / sizeof *ws; wi++)
    for (size_t q = 0; q < sizeof kcs / sizeof *kcs; q++)
      for (size_t rn = 1; rn <= ws[wi]; rn += (rn < 3 || rn + 2 > ws[wi]) ? 1 : ws[wi] / 3) {
        const size_t w = ws[wi], kc = kcs[q], ld = kc + 3;
        sc_test_rng r = {seed};
        float *src = sc_test_alloc(rn * ld, 1);
        float *dst = aligned_alloc(64, ((w * kc + 16) * sizeof(float) + 63) / 64 * 64);
        SC_ASSERT(dst, "out of memory");
        sc_test_fill_int(&r, src, rn * ld, 100);
        for (size_t i = 0; i < w * kc + 16; i++) dst[i] = sentinel;
        k->gemm->pack_t(w, rn, kc, src, ld, 2.0f, dst);
        for (size_t p = 0; p < kc; p++)
          for (size_t i = 0; i < w; i++) {
            float want = i < rn ? 2.0f * src[i * ld + p] : 0.0f;
            SC_ASSERT(dst[p * w + i] == want, "pack_t (isa %s) w=%zu rn=%zu kc=%zu seed=%llu: dst[%zu*%zu+%zu] = %g, "
                      "want %g", k->name, w, rn, kc, (unsigned long long)seed, p, w, i, dst[p * w + i], want);
          }
        for (size_t i = w * kc; i < w * kc + 16; i++)
          SC_ASSERT(dst[i] == sentinel, "pack_t (isa %s) w=%zu rn=%zu kc=%zu wrote past the panel", k->name, w, rn,
                    kc);
        sc_test_free(src), free(dst);
        seed++;
      }
}

SC_ISA_TEST(gemm_ukr, fma_peak_counts_flops) {
  /* the flop count must be linear in iters and positive: the benchmark divides by it */
  double f1 = k->gemm->fma_peak(1), f10 = k->gemm->fma_peak(10);
  SC_ASSERT(f1 > 0 && f10 == 10 * f1, "%s fma_peak: %g flops for 1 round, %g for 10", k->name, f1, f10);
}
