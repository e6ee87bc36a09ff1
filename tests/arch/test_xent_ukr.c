/* test_xent_ukr.c: every ISA's NT-Xent row kernels (row_lse, row_grad, row_expsum, row_symgrad) against the
 * scalar reference table, over lengths of 1, primes and sizes that are not multiples of any vector width,
 * unaligned pointers, rows with -inf entries (the masked diagonal), and large-magnitude values that overflow a
 * naive exp. Also checks that nothing outside [0, n) is written, that the in-place form matches the out-of-place
 * one, and a few exact values. It tests kernels through the tables only; the driver has its own test
 * (tests/ops/test_ntxent.c). */
#include <math.h>
#include <stdio.h>

#include "kernels.h"
#include "test.h"
#include "testutil.h"

static const size_t lengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 97, 127,
                                 128, 130, 257, 1021, 4096};
#define NLENGTHS (sizeof lengths / sizeof lengths[0])

/* Fills a row like one of S: values in [-range, range], with the element at `masked` (if < n) set to -inf. */
static void fill_row(sc_test_rng *r, float *s, size_t n, float center, float range, size_t masked) {
  for (size_t j = 0; j < n; j++) s[j] = center + sc_test_uniform(r, -range, range);
  if (masked < n) s[masked] = -INFINITY;
}

/* Both results are m + log(sum) with m identical (same maximum, exact) and the sum of n terms in [0, 1], each
 * off by at most ~1 ulp (SLEEF u10 and glibc expf both stay within 1 ulp), summed in double: |sum error| <=
 * 2^-23 * sum, so |lse error| <= 2^-23 ~ 1.2e-7 plus the double log's rounding. 4e-7 allows 3 ulp. */
#define LSE_ATOL 4e-7

SC_ISA_TEST(xent_ukr, row_lse_matches_scalar) {
  const sc_xent_config *ref = sc_kernels_scalar.xent, *x = k->xent;
  static const float centers[] = {0.0f, 80.0f, -300.0f, 1.0e4f};
  static const float ranges[] = {1.0f, 10.0f, 60.0f};
  uint64_t seed = 11;
  for (size_t li = 0; li < NLENGTHS; li++)
    for (size_t ci = 0; ci < 4; ci++)
      for (size_t ri = 0; ri < 3; ri++)
        for (size_t off = 0; off < 3; off += 2, seed++) {
          const size_t n = lengths[li];
          sc_test_rng r = {seed};
          float *s = sc_test_alloc(n, off + 1);
          size_t masked = n > 1 ? (size_t)sc_test_int(&r, 0, (int64_t)n - 1) : n; /* n = 1: keep it finite */
          fill_row(&r, s, n, centers[ci], ranges[ri], masked);
          double want = ref->row_lse(n, s), got = x->row_lse(n, s);
          SC_ASSERT(isfinite(got) && fabs(got - want) <= LSE_ATOL,
                    "%s n=%zu center=%g range=%g offset=%zu seed=%llu: lse %.9g, scalar %.9g", x->row_lse_name, n,
                    (double)centers[ci], (double)ranges[ri], off + 1, (unsigned long long)seed, got, want);
          sc_test_free(s);
        }
}

SC_ISA_TEST(xent_ukr, row_lse_exact_values) {
  const sc_xent_config *x = k->xent;
  /* n equal values v: lse = v + log(n), whatever the magnitude of v (a naive exp(1e4) would be inf) */
  for (size_t li = 0; li < NLENGTHS; li++) {
    const size_t n = lengths[li];
    float *s = sc_test_alloc(n, 3);
    static const float vs[] = {0.0f, 88.5f, 1.0e4f, -1.0e4f};
    for (int vi = 0; vi < 4; vi++) {
      for (size_t j = 0; j < n; j++) s[j] = vs[vi];
      double want = (double)vs[vi] + log((double)n), got = x->row_lse(n, s);
      /* the sum of n ones is exact, so only the log's rounding remains; scaled for |v| since the result is
       * v + log(n) rounded in double */
      SC_ASSERT(fabs(got - want) <= 1e-9 * (1.0 + fabs(want)), "%s n=%zu v=%g: lse %.12g, want %.12g",
                x->row_lse_name, n, (double)vs[vi], got, want);
    }
    /* all but one element masked: lse is that element */
    for (size_t j = 0; j < n; j++) s[j] = -INFINITY;
    s[n / 2] = 3.25f;
    double got = x->row_lse(n, s);
    SC_ASSERT(got == 3.25, "%s n=%zu one finite element 3.25: lse %.12g", x->row_lse_name, n, got);
    /* a NaN anywhere must surface, not be hidden by the maximum */
    for (size_t j = 0; j < n; j++) s[j] = (float)j * 0.01f;
    s[(n * 2) / 3] = NAN;
    got = x->row_lse(n, s);
    SC_ASSERT(isnan(got), "%s n=%zu NaN at %zu: lse %g, want NaN", x->row_lse_name, n, (n * 2) / 3, got);
    sc_test_free(s);
  }
}

/* Each output is scale * (e0 + e1) with each exponential within ~1 ulp of glibc's, plus one rounding of the add
 * and one of the multiply in both: relative error <= ~4 ulp = 4.8e-7; 6e-7 (5 ulp) is the bound. Results below
 * FLT_MIN are denormal, where a few ulp of absolute error (1.4e-45 each) exceed any relative bound: ATOL 1e-43. */
#define GRAD_RTOL 6e-7
#define GRAD_ATOL 1e-43

SC_ISA_TEST(xent_ukr, row_grad_matches_scalar) {
  const sc_xent_config *ref = sc_kernels_scalar.xent, *x = k->xent;
  static const float centers[] = {0.0f, 50.0f, -2000.0f};
  static const float ranges[] = {1.0f, 10.0f, 40.0f};
  uint64_t seed = 101;
  for (size_t li = 0; li < NLENGTHS; li++)
    for (size_t ci = 0; ci < 3; ci++)
      for (size_t ri = 0; ri < 3; ri++, seed++) {
        const size_t n = lengths[li], off = seed % 4;
        sc_test_rng r = {seed};
        /* guard floats on both sides catch writes outside [0, n) */
        float *s = sc_test_alloc(n + 32, off), *l = sc_test_alloc(n, (off + 1) % 4);
        float *g = sc_test_alloc(n + 32, (off + 2) % 4), *want = sc_test_alloc(n, 0);
        fill_row(&r, s + 16, n, centers[ci], ranges[ri], n > 1 ? (size_t)sc_test_int(&r, 0, (int64_t)n - 1) : n);
        for (size_t j = 0; j < 16; j++) s[j] = s[n + 16 + j] = 1.0e30f;
        /* lse_j >= s_j as for a symmetric S (every S_ij <= lse_j); spread so that terms span many binades,
         * some underflowing to denormals and zero */
        float lse_i = centers[ci] + ranges[ri] + sc_test_uniform(&r, 0.0f, 5.0f);
        for (size_t j = 0; j < n; j++) l[j] = centers[ci] + ranges[ri] + sc_test_uniform(&r, 0.0f, 120.0f);
        const float scale = 1.0f / (float)(2 * n + 2);
        for (size_t j = 0; j < n + 32; j++) g[j] = -7.0f;
        ref->row_grad(n, s + 16, lse_i, l, scale, want);
        x->row_grad(n, s + 16, lse_i, l, scale, g + 16);
        size_t worst;
        double e = sc_test_max_err(g + 16, want, n, GRAD_RTOL, GRAD_ATOL, &worst);
        SC_ASSERT(e <= 1.0, "%s n=%zu center=%g range=%g offset=%zu seed=%llu: g[%zu]=%.9g, scalar %.9g (err %.3g)",
                  x->row_grad_name, n, (double)centers[ci], (double)ranges[ri], off, (unsigned long long)seed,
                  worst, g[16 + worst], want[worst], e);
        for (size_t j = 0; j < 16; j++)
          SC_ASSERT(g[j] == -7.0f && g[n + 16 + j] == -7.0f, "%s n=%zu seed=%llu: wrote outside the row",
                    x->row_grad_name, n, (unsigned long long)seed);
        /* in place (g == s) gives the same bits as out of place */
        x->row_grad(n, s + 16, lse_i, l, scale, s + 16);
        SC_ASSERT(memcmp(s + 16, g + 16, n * sizeof(float)) == 0, "%s n=%zu seed=%llu: in-place result differs",
                  x->row_grad_name, n, (unsigned long long)seed);
        for (size_t j = 0; j < 16; j++)
          SC_ASSERT(s[j] == 1.0e30f && s[n + 16 + j] == 1.0e30f, "%s n=%zu seed=%llu: in place wrote outside",
                    x->row_grad_name, n, (unsigned long long)seed);
        sc_test_free(s), sc_test_free(l), sc_test_free(g), sc_test_free(want);
      }
}

SC_ISA_TEST(xent_ukr, row_grad_exact_values) {
  const sc_xent_config *x = k->xent;
  for (size_t li = 0; li < NLENGTHS; li++) {
    const size_t n = lengths[li];
    float *s = sc_test_alloc(n, 1), *l = sc_test_alloc(n, 2), *g = sc_test_alloc(n, 3);
    /* s_j = lse_j = 1e4 - j and lse_i = 1e4 = max s: g_j = scale * (exp(-j) + 1), so g_0 = 2 * scale exactly
     * (exp(0) = 1 in every implementation) and g_1 = scale * (e^-1 + 1); the -inf element gives exactly 0 */
    for (size_t j = 0; j < n; j++) s[j] = l[j] = 1.0e4f - (float)j;
    s[n - 1] = -INFINITY;
    x->row_grad(n, s, 1.0e4f, l, 0.25f, g);
    if (n >= 2) SC_ASSERT(g[0] == 0.5f, "%s n=%zu: g[0]=%.9g, want 0.5", x->row_grad_name, n, g[0]);
    if (n >= 3) {
      float want = (float)(0.25 * (exp(-1.0) + 1.0));
      SC_ASSERT(fabsf(g[1] - want) <= 4e-7f * want, "%s n=%zu: g[1]=%.9g, want %.9g (3 ulp)", x->row_grad_name, n,
                g[1], want);
    }
    SC_ASSERT(g[n - 1] == 0.0f, "%s n=%zu: -inf input gave %g, want 0", x->row_grad_name, n, g[n - 1]);
    sc_test_free(s), sc_test_free(l), sc_test_free(g);
  }
}

/* Each u is one exponential within ~1 ulp of the true value in both implementations, so they differ by <= 2 ulp;
 * 3 ulp (3.6e-7) is the bound. The sums add n such terms in double: the same relative bound holds for them. */
#define EXPSUM_RTOL 3.6e-7

SC_ISA_TEST(xent_ukr, row_expsum_matches_scalar) {
  const sc_xent_config *ref = sc_kernels_scalar.xent, *x = k->xent;
  /* shifts as 1/tau for tau = 1, 1/20, 1/32 (the largest the driver uses) and a large one: s - shift spans
   * [-2 shift, 0] like S - 1/tau, so the large shift checks that the subtraction comes before the exponential */
  static const float shifts[] = {1.0f, 20.0f, 32.0f, 5000.0f};
  uint64_t seed = 201;
  for (size_t li = 0; li < NLENGTHS; li++)
    for (size_t si = 0; si < 4; si++, seed++) {
      const size_t n = lengths[li], off = seed % 4;
      const float shift = shifts[si], lo = si == 3 ? shift - 64.0f : -shift;
      sc_test_rng r = {seed};
      float *s = sc_test_alloc(n + 32, off), *u = sc_test_alloc(n + 32, (off + 3) % 4), *want = sc_test_alloc(n, 0);
      double *col = malloc((n + 32) * sizeof *col), *col0 = malloc((n + 32) * sizeof *col0);
      for (size_t j = 0; j < n + 32; j++) s[j] = j < 16 || j >= n + 16 ? 1.0e30f : sc_test_uniform(&r, lo, shift);
      if (n > 1) s[16 + (size_t)sc_test_int(&r, 0, (int64_t)n - 1)] = -INFINITY;
      for (size_t j = 0; j < n + 32; j++) u[j] = -7.0f, col[j] = col0[j] = sc_test_uniform(&r, 0.0f, 100.0f);
      double sum_ref = ref->row_expsum(n, s + 16, shift, want, NULL);
      /* with column sums */
      double sum = x->row_expsum(n, s + 16, shift, u + 16, col + 16);
      size_t worst;
      double e = sc_test_max_err(u + 16, want, n, EXPSUM_RTOL, 1e-44, &worst); /* atol: exact zeros */
      SC_ASSERT(e <= 1.0, "%s n=%zu shift=%g offset=%zu seed=%llu: u[%zu]=%.9g, scalar %.9g", x->row_expsum_name, n,
                (double)shift, off, (unsigned long long)seed, worst, u[16 + worst], want[worst]);
      SC_ASSERT(fabs(sum - sum_ref) <= EXPSUM_RTOL * sum_ref, "%s n=%zu shift=%g seed=%llu: sum %.12g, scalar %.12g",
                x->row_expsum_name, n, (double)shift, (unsigned long long)seed, sum, sum_ref);
      for (size_t j = 0; j < 16; j++)
        SC_ASSERT(u[j] == -7.0f && u[n + 16 + j] == -7.0f, "%s n=%zu seed=%llu: wrote outside the row",
                  x->row_expsum_name, n, (unsigned long long)seed);
      /* each column sum gained exactly its u, widened: one double addition, as in the scalar kernel */
      for (size_t j = 0; j < n + 32; j++) {
        const double want_col = j < 16 || j >= n + 16 ? col0[j] : col0[j] + (double)u[j];
        SC_ASSERT(col[j] == want_col, "%s n=%zu seed=%llu: col[%zd] = %.17g, want %.17g%s", x->row_expsum_name, n,
                  (unsigned long long)seed, (ptrdiff_t)j - 16, col[j], want_col,
                  j < 16 || j >= n + 16 ? " (outside the row)" : "");
      }
      /* in place and without column sums gives the same bits and the same sum */
      double sum_in = x->row_expsum(n, s + 16, shift, s + 16, NULL);
      SC_ASSERT(sum_in == sum && memcmp(s + 16, u + 16, n * sizeof(float)) == 0,
                "%s n=%zu seed=%llu: in-place result differs", x->row_expsum_name, n, (unsigned long long)seed);
      SC_ASSERT(s[15] == 1.0e30f && s[n + 16] == 1.0e30f, "%s n=%zu seed=%llu: in place wrote outside the row",
                x->row_expsum_name, n, (unsigned long long)seed);
      sc_test_free(s), sc_test_free(u), sc_test_free(want);
      free(col), free(col0);
    }
}

SC_ISA_TEST(xent_ukr, row_expsum_exact_values) {
  const sc_xent_config *x = k->xent;
  for (size_t li = 0; li < NLENGTHS; li++) {
    const size_t n = lengths[li];
    float *s = sc_test_alloc(n, 2);
    /* s = shift everywhere but one -inf: u = exp(0) = 1 exactly, the -inf gives exactly 0, the sum is n - 1 */
    for (size_t j = 0; j < n; j++) s[j] = 1.0e4f;
    s[n / 3] = -INFINITY;
    double sum = x->row_expsum(n, s, 1.0e4f, s, NULL);
    SC_ASSERT(sum == (double)(n - 1), "%s n=%zu: sum %.12g, want %zu", x->row_expsum_name, n, sum, n - 1);
    for (size_t j = 0; j < n; j++)
      SC_ASSERT(s[j] == (j == n / 3 ? 0.0f : 1.0f), "%s n=%zu: u[%zu]=%.9g", x->row_expsum_name, n, j, s[j]);
    /* a NaN surfaces in the sum */
    for (size_t j = 0; j < n; j++) s[j] = -(float)j * 0.01f;
    s[n - 1] = NAN;
    sum = x->row_expsum(n, s, 0.0f, s, NULL);
    SC_ASSERT(isnan(sum), "%s n=%zu: NaN input gave sum %g", x->row_expsum_name, n, sum);
    sc_test_free(s);
  }
}

SC_ISA_TEST(xent_ukr, row_symgrad_matches_scalar) {
  /* the same three roundings (add, multiply, multiply) in the same order as the scalar reference: results agree
   * to the bit unless a compiler contracts a multiply-add somewhere, which can move a result by 1 ulp; the bound
   * is 2 ulp */
  const sc_xent_config *ref = sc_kernels_scalar.xent, *x = k->xent;
  uint64_t seed = 401;
  for (size_t li = 0; li < NLENGTHS; li++, seed++) {
    const size_t n = lengths[li], off = seed % 4;
    sc_test_rng r = {seed};
    float *u = sc_test_alloc(n + 32, off), *w = sc_test_alloc(n, (off + 1) % 4);
    float *g = sc_test_alloc(n + 32, (off + 2) % 4), *want = sc_test_alloc(n, 0);
    /* u in [e^-64, 1] like e^(S - 1/tau), w = 1 / row sums in [1/n, e^40] */
    for (size_t j = 0; j < n + 32; j++)
      u[j] = j < 16 || j >= n + 16 ? 1.0e30f : expf(sc_test_uniform(&r, -64.0f, 0.0f));
    for (size_t j = 0; j < n; j++) w[j] = expf(sc_test_uniform(&r, -logf((float)n + 1.0f), 40.0f));
    if (n > 1) u[16 + (size_t)sc_test_int(&r, 0, (int64_t)n - 1)] = 0.0f; /* the diagonal */
    const float w_i = expf(sc_test_uniform(&r, 0.0f, 40.0f)), scale = 1.0f / (float)(n + 1);
    for (size_t j = 0; j < n + 32; j++) g[j] = -7.0f;
    ref->row_symgrad(n, u + 16, w_i, w, scale, want);
    x->row_symgrad(n, u + 16, w_i, w, scale, g + 16);
    size_t worst;
    double e = sc_test_max_err(g + 16, want, n, 2.4e-7, 1e-44, &worst); /* atol: exact zeros */
    SC_ASSERT(e <= 1.0, "%s n=%zu offset=%zu seed=%llu: g[%zu]=%.9g, scalar %.9g", x->row_symgrad_name, n, off,
              (unsigned long long)seed, worst, g[16 + worst], want[worst]);
    for (size_t j = 0; j < 16; j++)
      SC_ASSERT(g[j] == -7.0f && g[n + 16 + j] == -7.0f, "%s n=%zu seed=%llu: wrote outside the row",
                x->row_symgrad_name, n, (unsigned long long)seed);
    x->row_symgrad(n, u + 16, w_i, w, scale, u + 16);
    SC_ASSERT(memcmp(u + 16, g + 16, n * sizeof(float)) == 0 && u[15] == 1.0e30f && u[n + 16] == 1.0e30f,
              "%s n=%zu seed=%llu: in-place result differs or wrote outside", x->row_symgrad_name, n,
              (unsigned long long)seed);
    sc_test_free(u), sc_test_free(w), sc_test_free(g), sc_test_free(want);
  }
}
