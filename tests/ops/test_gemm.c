/* test_gemm.c: sc_sgemm and the driver behind it (sc_gemm_run) on every ISA against a plain triple loop in double:
 * NN, NT, TN, TT, random shapes (sizes of 1, primes, off-tile sizes), leading dimensions larger than rows,
 * misaligned pointers, alpha/beta cases, beta = 0 over NaN, two threads on tall, wide and deep shapes (both thread
 * grids, both schedules of the driver), every alternative tile of an ISA, custom pack callbacks, concurrent
 * calls; and argument validation. Integer-valued data keeps every product and partial sum exact (|values| <= 4,
 * k <= 17000: sums stay far below 2^24), so results must match exactly: the tolerance is zero. */
#include <math.h>
#include <omp.h>
#include <stdio.h>

#include "ops/gemm.h"
#include "simclr_ops.h"
#include "test.h"
#include "testutil.h"

/* C = alpha * op(A) op(B) + beta * C in double. Where B's rows run along C's (no transpose) each row of C is summed
 * as a row of partial sums, a multiple of one row of B per depth step (contiguous, so the compiler vectorizes it);
 * otherwise as dot products. The data are small integers, so every order of summation gives the same exact sums. */
static void reference(sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  double *row = malloc((size_t)(n > 0 ? n : 1) * sizeof *row);
  SC_ASSERT(row, "out of memory");
  for (int64_t i = 0; i < m; i++) {
    if (!tb) {
      for (int64_t j = 0; j < n; j++) row[j] = 0.0;
      for (int64_t p = 0; p < k; p++) {
        const double aip = ta ? a[p * lda + i] : a[i * lda + p];
        const float *bp = b + p * ldb;
        for (int64_t j = 0; j < n; j++) row[j] += aip * (double)bp[j];
      }
    } else {
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++) s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (double)b[j * ldb + p];
        row[j] = s;
      }
    }
    for (int64_t j = 0; j < n; j++)
      c[i * ldc + j] = (float)(alpha * row[j] + (beta == 0.0f ? 0.0 : beta * (double)c[i * ldc + j]));
  }
  free(row);
}

/* c_offset: C's misalignment in floats from a 64-byte boundary */
static void check_c(const sc_kernels *k, sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t kk, float alpha,
                    float beta, int64_t pad, uint64_t seed, int nan_c, size_t c_offset) {
  sc_test_rng r = {seed};
  int64_t lda = (ta ? m : kk) + pad, ldb = (tb ? kk : n) + pad, ldc = n + pad;
  int64_t arows = ta ? kk : m, brows = tb ? n : kk;
  float *a = sc_test_alloc((size_t)(arows * lda) + 1, 1), *b = sc_test_alloc((size_t)(brows * ldb) + 1, 3);
  float *c = sc_test_alloc((size_t)(m * ldc) + 1, c_offset), *ref = sc_test_alloc((size_t)(m * ldc) + 1, 0);
  sc_test_fill_int(&r, a, (size_t)(arows * lda), 4);
  sc_test_fill_int(&r, b, (size_t)(brows * ldb), 4);
  sc_test_fill_int(&r, c, (size_t)(m * ldc), 4);
  if (nan_c)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = NAN;
  for (int64_t i = 0; i < m * ldc; i++) ref[i] = c[i];
  reference(ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, ref, ldc);
  sc_status st = sc_sgemm(ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc);
  SC_ASSERT(st == SC_OK, "sgemm failed: %s", sc_last_error());
  size_t worst;
  double e = sc_test_max_err(c, ref, (size_t)(m * ldc), 0.0, 0.0 + 1e-30, &worst);
  SC_ASSERT(e <= 1.0, "isa=%s %c%c m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld seed=%llu threads=%d nan_c=%d "
            "c_offset=%zu: c[%zu]=%g, want %g", k->name, ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)m, (long long)n,
            (long long)kk, alpha, beta, (long long)pad, (unsigned long long)seed, sc_num_threads(), nan_c, c_offset,
            worst, c[worst], ref[worst]);
  sc_test_free(a), sc_test_free(b), sc_test_free(c), sc_test_free(ref);
}

static void check(const sc_kernels *k, sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t kk, float alpha,
                  float beta, int64_t pad, uint64_t seed) {
  check_c(k, ta, tb, m, n, kk, alpha, beta, pad, seed, 0, 2);
}

SC_ISA_TEST(gemm, small_shapes_all_transposes) {
  static const int64_t sizes[] = {1, 2, 3, 5, 7, 13, 16, 17, 31, 33};
  uint64_t seed = 1;
  for (int t = 0; t < 4; t++)
    for (size_t i = 0; i < 10; i += 3)
      for (size_t j = 0; j < 10; j += 2)
        for (size_t p = 0; p < 10; p += 4)
          check(k, t & 1, t >> 1, sizes[i], sizes[j], sizes[p], 1.0f, 0.0f, (int64_t)(seed % 3), seed), seed++;
}

SC_ISA_TEST(gemm, random_shapes_alpha_beta) {
  sc_test_rng r = {7};
  static const float alphas[] = {1.0f, 2.0f, -1.0f}, betas[] = {0.0f, 1.0f, 2.0f, -1.0f};
  for (int it = 0; it < 24; it++) {
    int64_t m = sc_test_int(&r, 1, 150), n = sc_test_int(&r, 1, 150), kk = sc_test_int(&r, 1, 300);
    check(k, it & 1, (it >> 1) & 1, m, n, kk, alphas[it % 3], betas[it % 4], it % 5, 100 + (uint64_t)it);
  }
}

SC_ISA_TEST(gemm, larger_than_one_cache_block) {
  (void)k;
  /* more rows than one row block (MC = 504 for a 1 MiB L2), several depth blocks, narrow and wide C */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 530, 300, 300, 1.0f, 0.0f, 0, 9);
  check(k, SC_NO_TRANS, SC_TRANS, 520, 70, 601, 1.0f, 1.0f, 3, 10);
  check(k, SC_TRANS, SC_NO_TRANS, 257, 130, 700, 1.0f, 1.0f, 3, 11);
}

SC_TEST(gemm, rejects_bad_arguments) {
  float a[4] = {0}, b[4] = {0}, c[4] = {0};
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2) == SC_EINVAL, "negative m");
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2) == SC_EINVAL, "lda < k");
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, 2, 2, 2, 1, a, 2, b, 1, 0, c, 2) == SC_EINVAL, "ldb < n");
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, 2, 2, 2, 1, a, 2, b, 2, 0, c, 1) == SC_EINVAL, "ldc < n");
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2) == SC_EINVAL, "null a");
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2) == SC_EINVAL, "null c");
  SC_ASSERT(sc_sgemm((sc_trans)5, SC_NO_TRANS, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2) == SC_EINVAL, "bad trans");
  SC_ASSERT(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, INT64_MAX / 2, 2, 2, 1, a, 2, b, 2, 0, c, INT64_MAX / 2) == SC_EINVAL,
            "overflowing size accepted");
}

SC_ISA_TEST(gemm, beta_zero_ignores_nan_in_c) {
  for (int t = 0; t < 4; t++) {
    check_c(k, t & 1, t >> 1, 37, 45, 19, 1.0f, 0.0f, 2, 300 + (uint64_t)t, 1, 2);
    check_c(k, t & 1, t >> 1, 37, 45, 0, 1.0f, 0.0f, 2, 310 + (uint64_t)t, 1, 2);    /* k = 0: C = 0 */
    check_c(k, t & 1, t >> 1, 37, 45, 19, 0.0f, 0.0f, 2, 320 + (uint64_t)t, 1, 2);  /* alpha = 0: C = 0 */
  }
}

/* The driver keeps B packed while it fits a quarter of L3; these tests plan as on a 32 MiB L3 (an 8 MiB budget)
 * whatever the machine's, so that the cases meant to stream B do so everywhere. */
#define TEST_L3 ((size_t)32 << 20)

SC_ISA_TEST(gemm, two_threads_tall_wide_deep) {
  SC_ASSERT(sc_set_num_threads(2) == SC_OK, "set threads: %s", sc_last_error());
  sc_gemm_model_l3(TEST_L3);
  check(k, SC_NO_TRANS, SC_NO_TRANS, 2000, 20, 50, 1.0f, 0.0f, 1, 400);  /* threads split M */
  check(k, SC_NO_TRANS, SC_TRANS, 9, 700, 60, 2.0f, 1.0f, 0, 401);       /* threads split N */
  check(k, SC_TRANS, SC_NO_TRANS, 150, 170, 300, -1.0f, 2.0f, 3, 402);   /* both, several blocks, beta scaling */
  /* op(B) too large to keep packed (over 8 MiB): the streaming schedule, many depth blocks */
  check(k, SC_TRANS, SC_NO_TRANS, 8, 150, 17000, 1.0f, 1.0f, 0, 403);
  check(k, SC_NO_TRANS, SC_TRANS, 3, 135, 17000, 1.0f, 0.0f, 1, 404);
  /* the same with the threads over N (few rows, a wide C): each packs and walks its own columns, in blocks */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 40, 2500, 1000, 1.0f, 0.0f, 1, 406);
  /* depth far beyond both sides of C: split between the threads (uneven slices, alpha and beta scaling) */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 20, 33, 9001, -1.5f, 0.5f, 2, 405);
  /* streamed B, A stored transposed, whole 64-column panels and few rows: B read in place where the table can
   * (ukr_rowb), with the threads over C and, deeper, over slices of the depth */
  check(k, SC_TRANS, SC_NO_TRANS, 100, 1088, 2000, 2.0f, 0.0f, 1, 407);
  check(k, SC_TRANS, SC_NO_TRANS, 70, 128, 17000, 1.0f, 1.0f, 2, 408);
  /* 256 rows (258 in 6-row tiles) in each slice of the depth: B read in place, the next block of A staged */
  check(k, SC_TRANS, SC_NO_TRANS, 256, 64, 8200, 1.0f, 0.0f, 1, 409);
  /* rows of A 4 KB apart under a narrow C (see one_thread_wide_and_deep), the row blocks shared */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 1200, 256, 1024, 1.0f, 0.0f, 0, 410);
  /* B of several MiB (over L2, within the budget) under a wide C, A read and packed by the microkernels: streamed
   * on two threads too */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 150, 1100, 1300, 1.0f, 0.0f, 1, 413);
  /* streamed B shared by both threads (over M), packed together a block at a time, two blocks of columns: planned
   * as on a 4 MiB L3 (a 1 MiB budget) to keep the case small */
  sc_gemm_model_l3((size_t)4 << 20);
  check(k, SC_NO_TRANS, SC_TRANS, 1000, 700, 600, 1.0f, 0.0f, 1, 411);
  check(k, SC_TRANS, SC_NO_TRANS, 999, 650, 601, 0.5f, 1.0f, 2, 412);
  sc_gemm_model_l3(0);
}

SC_ISA_TEST(gemm, c_stored_past_the_caches) {
  /* C written in one pass (one depth block, beta 0 over NaN) and larger than L3, planned as on a 1 MiB one: stored
   * past the caches where the table has ukr_stream and C's rows are 64-byte aligned (ldc 512 here); partial tiles
   * at both edges, the padding between rows untouched. Misaligned, or over two depth blocks, the plain stores. */
  sc_gemm_model_l3((size_t)1 << 20);
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
    for (int t = 0; t < 4; t++) {
      check_c(k, t & 1, t >> 1, 601, 500, 77, 1.0f, 0.0f, 12, 470 + (uint64_t)t, 1, 0);
      check_c(k, t & 1, t >> 1, 601, 500, 77, 1.0f, 0.0f, 12, 474 + (uint64_t)t, 1, 5);
    }
    check_c(k, SC_NO_TRANS, SC_NO_TRANS, 601, 496, 530, 1.0f, 0.0f, 0, 478, 1, 0);
  }
  sc_gemm_model_l3(0);
}

SC_ISA_TEST(gemm, one_thread_wide_and_deep) {
  /* one thread: B packed panel by panel behind the FMAs (C wider than 512 columns, or than 256 with B over four
   * times L2), the narrow path (A read in place where the table can: alpha 1, A not transposed), streaming (B over
   * L2 and C wide, or B too large to keep) */
  SC_ASSERT(sc_set_num_threads(1) == SC_OK, "set threads: %s", sc_last_error());
  sc_gemm_model_l3(TEST_L3);
  check(k, SC_NO_TRANS, SC_NO_TRANS, 100, 600, 300, 1.0f, 0.0f, 1, 458);
  check(k, SC_NO_TRANS, SC_NO_TRANS, 530, 300, 300, 1.0f, 0.0f, 1, 450);
  check(k, SC_NO_TRANS, SC_TRANS, 260, 333, 700, 2.0f, -1.0f, 0, 451);
  check(k, SC_NO_TRANS, SC_NO_TRANS, 700, 40, 520, 1.0f, 1.0f, 2, 452);
  check(k, SC_TRANS, SC_NO_TRANS, 8, 150, 17000, 1.0f, 1.0f, 0, 453);
  check(k, SC_TRANS, SC_NO_TRANS, 70, 128, 17000, -1.0f, 1.0f, 2, 454); /* B read in place (ukr_rowb) */
  check(k, SC_TRANS, SC_NO_TRANS, 130, 192, 700, 1.0f, 0.5f, 1, 455);    /* the same, though B would fit packed */
  /* B of several MiB (over L2) under a wide C: streamed in blocks of columns (two here), A packed whole during the
   * first and kept for the second */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 300, 1200, 1500, 1.0f, 0.0f, 1, 459);
  check(k, SC_TRANS, SC_NO_TRANS, 200, 1100, 1500, 0.5f, 1.0f, 3, 460);
  /* narrow C and rows of A 4 KB apart (lda 1024), which the driver copies a micro-panel at a time (to a row
   * stride that is not such a multiple, for k = 1024) before reading them in place */
  check(k, SC_NO_TRANS, SC_NO_TRANS, 300, 100, 1000, 1.0f, 1.0f, 24, 456);
  check(k, SC_NO_TRANS, SC_NO_TRANS, 150, 64, 1024, 1.0f, 0.0f, 0, 457);
  sc_gemm_model_l3(0);
}

SC_ISA_TEST(gemm, every_alternative_tile) {
  for (const sc_gemm_config *const *alt = k->gemm->alternatives; alt && *alt; alt++) {
    sc_kernels kk = *k;
    kk.gemm = *alt;
    SC_ASSERT(sc_set_num_threads(2) == SC_OK, "set threads: %s", sc_last_error());
    static const int64_t shapes[][3] = {{1, 1, 1}, {13, 65, 7}, {130, 129, 300}, {301, 70, 33}};
    for (int s = 0; s < 4; s++)
      for (int t = 0; t < 4; t++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], kd = shapes[s][2];
        const int ta = t & 1, tb = t >> 1;
        sc_test_rng r = {500 + (uint64_t)(4 * s + t)};
        int64_t lda = ta ? m : kd, ldb = tb ? kd : n;
        float *a = sc_test_alloc((size_t)(m * kd), 1), *b = sc_test_alloc((size_t)(kd * n), 2);
        float *c = sc_test_alloc((size_t)(m * n), 0), *ref = sc_test_alloc((size_t)(m * n), 0);
        sc_test_fill_int(&r, a, (size_t)(m * kd), 4);
        sc_test_fill_int(&r, b, (size_t)(kd * n), 4);
        sc_test_fill_int(&r, c, (size_t)(m * n), 4);
        for (int64_t i = 0; i < m * n; i++) ref[i] = c[i];
        reference(ta, tb, m, n, kd, 1.0f, a, lda, b, ldb, 1.0f, ref, n);
        sc_gemm_src sa = sc_gemm_src_matrix(a, (size_t)lda, !ta), sb = sc_gemm_src_matrix(b, (size_t)ldb, tb);
        sc_status st = sc_gemm_run(&kk, (size_t)m, (size_t)n, (size_t)kd, &sa, &sb, 1.0f, 1.0f, c, (size_t)n);
        SC_ASSERT(st == SC_OK, "sc_gemm_run: %s", sc_last_error());
        size_t worst;
        double e = sc_test_max_err(c, ref, (size_t)(m * n), 0.0, 1e-30, &worst);
        SC_ASSERT(e <= 1.0, "%s (isa %s) %c%c m=%lld n=%lld k=%lld: c[%zu]=%g, want %g", (*alt)->ukr_name, k->name,
                  ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)m, (long long)n, (long long)kd, worst, c[worst],
                  ref[worst]);
        sc_test_free(a), sc_test_free(b), sc_test_free(c), sc_test_free(ref);
      }
  }
}

/* A custom source, as convolution builds them: element (r, p) = f(r, p), packed through the callback and, for
 * depth-contiguous rows, through sc_gemm_pack_rows_t. */
typedef struct fn_src { size_t rows, depth; float *dense; } fn_src;
static void pack_fn(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w, float scale,
                    float *dst) {
  const fn_src *f = s->ctx;
  for (size_t rb = 0; rb < rc; rb += w) {
    size_t rn = rc - rb < w ? rc - rb : w;
    sc_gemm_pack_rows_t(w, rn, kc, f->dense + (r0 + rb) * f->depth + p0, f->depth, scale, dst + rb * kc);
  }
}

SC_ISA_TEST(gemm, custom_pack_callback) {
  SC_ASSERT(sc_set_num_threads(2) == SC_OK, "set threads: %s", sc_last_error());
  const size_t m = 333, n = 95, kd = 260;
  sc_test_rng r = {600};
  float *a = sc_test_alloc(m * kd, 0), *b = sc_test_alloc(n * kd, 0), *c = sc_test_alloc(m * n, 0);
  float *ref = sc_test_alloc(m * n, 0);
  sc_test_fill_int(&r, a, m * kd, 4);
  sc_test_fill_int(&r, b, n * kd, 4);
  fn_src fa = {m, kd, a}, fb = {n, kd, b};
  sc_gemm_src sa = {.pack = pack_fn, .ctx = &fa}, sb = {.pack = pack_fn, .ctx = &fb};
  SC_ASSERT(sc_gemm_run(k, m, n, kd, &sa, &sb, -2.0f, 0.0f, c, n) == SC_OK, "sc_gemm_run: %s", sc_last_error());
  reference(SC_NO_TRANS, SC_TRANS, (int64_t)m, (int64_t)n, (int64_t)kd, -2.0f, a, (int64_t)kd, b, (int64_t)kd, 0.0f,
            ref, (int64_t)n);
  size_t worst;
  double e = sc_test_max_err(c, ref, m * n, 0.0, 1e-30, &worst);
  SC_ASSERT(e <= 1.0, "custom packer (isa %s) m=%zu n=%zu k=%zu: c[%zu]=%g, want %g", k->name, m, n, kd, worst,
            c[worst], ref[worst]);
  sc_test_free(a), sc_test_free(b), sc_test_free(c), sc_test_free(ref);
}

SC_ISA_TEST(gemm, concurrent_calls) {
  /* two threads call sc_sgemm at once: the second finds the shared buffers busy and uses its own */
  int bad = 0;
  SC_ASSERT(sc_set_num_threads(2) == SC_OK, "set threads: %s", sc_last_error());
#pragma omp parallel num_threads(2) reduction(+ : bad)
  {
    const int64_t m = 120, n = 90, kd = 200;
    sc_test_rng r = {700 + (uint64_t)omp_get_thread_num()};
    float *a = malloc(sizeof(float) * m * kd), *b = malloc(sizeof(float) * kd * n), *c = malloc(sizeof(float) * m * n);
    float *ref = malloc(sizeof(float) * m * n);
    sc_test_fill_int(&r, a, (size_t)(m * kd), 4);
    sc_test_fill_int(&r, b, (size_t)(kd * n), 4);
    reference(SC_NO_TRANS, SC_NO_TRANS, m, n, kd, 1.0f, a, kd, b, n, 0.0f, ref, n);
    for (int rep = 0; rep < 20; rep++) {
      if (sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, m, n, kd, 1.0f, a, kd, b, n, 0.0f, c, n) != SC_OK) bad++;
      for (int64_t i = 0; i < m * n; i++) bad += c[i] != ref[i];
    }
    free(a), free(b), free(c), free(ref);
  }
  SC_ASSERT(bad == 0, "isa %s: %d wrong elements or failures over 2 threads x 20 calls of 120x90x200 NN", k->name,
            bad);
}
