/* test_gemm.c: sc_sgemm on every ISA against a plain triple loop in double, over NN, NT, TN, TT, random shapes
 * (sizes of 1, primes, off-tile sizes), leading dimensions larger than rows, alpha/beta cases; and argument
 * validation. Integer-valued data keeps every product and partial sum exact, so results must match exactly. */
#include <stdio.h>

#include "simclr_ops.h"
#include "test.h"
#include "testutil.h"

static void reference(sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++)
        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * (double)c[i * ldc + j]));
    }
}

static void check(const sc_kernels *k, sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t kk, float alpha,
                  float beta, int64_t pad, uint64_t seed) {
  sc_test_rng r = {seed};
  int64_t lda = (ta ? m : kk) + pad, ldb = (tb ? kk : n) + pad, ldc = n + pad;
  int64_t arows = ta ? kk : m, brows = tb ? n : kk;
  float *a = sc_test_alloc((size_t)(arows * lda) + 1, 1), *b = sc_test_alloc((size_t)(brows * ldb) + 1, 3);
  float *c = sc_test_alloc((size_t)(m * ldc) + 1, 2), *ref = sc_test_alloc((size_t)(m * ldc) + 1, 0);
  sc_test_fill_int(&r, a, (size_t)(arows * lda), 4);
  sc_test_fill_int(&r, b, (size_t)(brows * ldb), 4);
  sc_test_fill_int(&r, c, (size_t)(m * ldc), 4);
  for (int64_t i = 0; i < m * ldc; i++) ref[i] = c[i];
  reference(ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, ref, ldc);
  sc_status st = sc_sgemm(ta, tb, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc);
  SC_ASSERT(st == SC_OK, "sgemm failed: %s", sc_last_error());
  size_t worst;
  double e = sc_test_max_err(c, ref, (size_t)(m * ldc), 0.0, 0.0 + 1e-30, &worst);
  SC_ASSERT(e <= 1.0, "isa=%s %c%c m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld seed=%llu: c[%zu]=%g, want %g",
            k->name, ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)m, (long long)n, (long long)kk, alpha, beta,
            (long long)pad, (unsigned long long)seed, worst, c[worst], ref[worst]);
  sc_test_free(a), sc_test_free(b), sc_test_free(c), sc_test_free(ref);
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
  check(k, SC_NO_TRANS, SC_NO_TRANS, 301, 1100, 601, 1.0f, 0.0f, 0, 9);
  check(k, SC_TRANS, SC_NO_TRANS, 257, 130, 700, 1.0f, 1.0f, 3, 10);
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
