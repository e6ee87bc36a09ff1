/* test_eltwise_ukr.c: every ISA's element-wise, batch-norm and max-pool kernels (arch/eltwise.h) against the
 * scalar reference table: channel counts of 1, primes, sizes that are not multiples of any vector width and the
 * ResNet widths 64/128/512; row counts from 1 (and not multiples of the 4-row blocking); row strides larger than
 * the channel count; pointers off a 64-byte boundary; NaN and ties where the contract pins their handling. The
 * whole buffer, padding and a guard zone past the end included, is compared, so a write outside the rows shows.
 * It tests kernels through the tables only; the public entry points have tests/ops/test_eltwise.c.
 */
#include <math.h>
#include <stdio.h>

#include "kernels.h"
#include "test.h"
#include "testutil.h"

static const size_t chans[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 23, 31, 32, 33, 47, 64, 65, 128, 131, 512};
#define NCHANS (sizeof chans / sizeof chans[0])
static const size_t rowcounts[] = {1, 2, 3, 4, 5, 7, 9};
#define NROWS (sizeof rowcounts / sizeof rowcounts[0])
#define GUARD 19 /* floats past the last row that no kernel may touch */

static const sc_eltwise_config *ref_table(void) { return sc_kernels_scalar.eltwise; }

/* Exact comparison of n floats (bitwise for non-NaN, NaN only against NaN); returns the first differing index or
 * n. The kernels compared exactly do the same IEEE operations in the same order as the scalar ones. */
static size_t first_diff(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) || isnan(b[i])) {
      if (!(isnan(a[i]) && isnan(b[i]))) return i;
    } else if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      return i;
    }
  }
  return n;
}
static size_t first_diff_d(const double *a, const double *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof(double)) != 0) return i;
  return n;
}

/* ---- flat kernels ---------------------------------------------------------------------------------------- */

SC_ISA_TEST(eltwise_ukr, relu_forward_matches_scalar) {
  uint64_t seed = 11;
  for (size_t n = 0; n <= 200; n += (n < 40 ? 1 : 37), seed++) {
    sc_test_rng r = {seed};
    size_t off = seed % 5;
    float *x = sc_test_alloc(n + GUARD, off), *y = sc_test_alloc(n + GUARD, off + 1), *yr = sc_test_alloc(n + GUARD, 0);
    sc_test_fill(&r, x, n + GUARD, -2, 2);
    if (n > 3) x[n / 2] = NAN, x[n / 3] = -0.0f, x[1] = 0.0f;
    sc_test_fill(&r, y, n + GUARD, 5, 6);
    memcpy(yr, y, (n + GUARD) * sizeof *y);
    k->eltwise->relu(n, x, y);
    ref_table()->relu(n, x, yr);
    size_t d = first_diff(y, yr, n + GUARD);
    SC_ASSERT(d == n + GUARD, "isa=%s relu n=%zu offset=%zu seed=%llu: y[%zu]=%g, scalar %g (x=%g)", k->name, n, off,
              (unsigned long long)seed, d, y[d], yr[d], x[d]);
    /* in place */
    memcpy(y, x, (n + GUARD) * sizeof *y);
    k->eltwise->relu(n, y, y);
    for (size_t i = n; i < n + GUARD; i++) yr[i] = x[i];
    d = first_diff(y, yr, n + GUARD);
    SC_ASSERT(d == n + GUARD, "isa=%s relu in place n=%zu seed=%llu: y[%zu]=%g, scalar %g", k->name, n,
              (unsigned long long)seed, d, y[d], yr[d]);
    sc_test_free(x), sc_test_free(y), sc_test_free(yr);
  }
}

SC_ISA_TEST(eltwise_ukr, relu_backward_and_add_match_scalar) {
  uint64_t seed = 21;
  for (size_t n = 0; n <= 200; n += (n < 40 ? 1 : 29), seed++) {
    sc_test_rng r = {seed};
    size_t m = n + GUARD;
    float *y = sc_test_alloc(m, 1), *dy = sc_test_alloc(m, 2), *dx = sc_test_alloc(m, 3), *dxr = sc_test_alloc(m, 0);
    sc_test_fill(&r, y, m, -1, 1);
    for (size_t i = 0; i < m; i += 3) y[i] = 0.0f; /* the kink itself: y == 0 passes nothing */
    sc_test_fill(&r, dy, m, -1, 1);
    size_t d;
    /* accumulate, then set over NaN (a set never reads dx; the guard after n keeps its NaN) */
    for (int acc = 1; acc >= 0; acc--) {
      if (acc) sc_test_fill(&r, dx, m, -1, 1);
      else for (size_t i = 0; i < m; i++) dx[i] = NAN;
      memcpy(dxr, dx, m * sizeof *dx);
      k->eltwise->relu_backward(n, y, dy, dx, acc);
      ref_table()->relu_backward(n, y, dy, dxr, acc);
      d = first_diff(dx, dxr, m);
      SC_ASSERT(d == m, "isa=%s relu_backward accumulate=%d n=%zu seed=%llu: dx[%zu]=%g, scalar %g", k->name, acc, n,
                (unsigned long long)seed, d, dx[d], dxr[d]);
      for (size_t i = 0; i < n && !acc; i++)
        SC_ASSERT(dx[i] == (y[i] > 0.0f ? dy[i] : 0.0f), "isa=%s relu_backward set n=%zu: dx[%zu]=%g", k->name, n, i,
                  dx[i]);
    }
    /* add: out of place, then in place on each operand */
    k->eltwise->add(n, y, dy, dx);
    ref_table()->add(n, y, dy, dxr);
    d = first_diff(dx, dxr, m);
    SC_ASSERT(d == m, "isa=%s add n=%zu seed=%llu: y[%zu]=%g, scalar %g", k->name, n, (unsigned long long)seed, d,
              dx[d], dxr[d]);
    memcpy(dxr, dx, m * sizeof *dx);
    k->eltwise->add(n, dx, y, dx);
    ref_table()->add(n, y, dxr, dxr);
    d = first_diff(dx, dxr, m);
    SC_ASSERT(d == m, "isa=%s add in place n=%zu seed=%llu: y[%zu]=%g, scalar %g", k->name, n,
              (unsigned long long)seed, d, dx[d], dxr[d]);
    sc_test_free(y), sc_test_free(dy), sc_test_free(dx), sc_test_free(dxr);
  }
}

/* ---- per-channel kernels over rows x c with row stride ld ------------------------------------------------ */

typedef struct rc_case { size_t rows, c, ld, off; uint64_t seed; } rc_case;

/* Walks every (rows, c) pair with a stride of c plus 0..3 and a misalignment of 0..4 floats. */
#define FOR_EACH_RC(cs)                                                                                           \
  for (size_t ci_ = 0; ci_ < NCHANS; ci_++)                                                                       \
    for (size_t ri_ = 0; ri_ < NROWS; ri_++)                                                                      \
      for (rc_case cs = {rowcounts[ri_], chans[ci_], chans[ci_] + (ci_ + ri_) % 4, (ci_ * 7 + ri_) % 5,           \
                         1000 + ci_ * 100 + ri_},                                                                 \
                   *once_ = &cs;                                                                                  \
           once_; once_ = NULL)

#define RC_FMT "rows=%zu c=%zu ld=%zu offset=%zu seed=%llu"
#define RC_ARGS(cs) (cs).rows, (cs).c, (cs).ld, (cs).off, (unsigned long long)(cs).seed

static size_t rc_len(rc_case cs) { return cs.rows * cs.ld + GUARD; }

/* Per-channel scale (+-[0.5, 2]) and beta ([-1, 1]) of a fused BN + ReLU, and x moved by 0.01 wherever the
 * pre-activation (x - mean) * scale + beta lies within 1e-3 of the kink: there an FMA and a rounded product could
 * disagree on the ReLU's mask, which the comparisons with the scalar kernel do not test (see
 * bn_relu_mask_matches_apply for that). */
static void fill_relu_away_from_kink(sc_test_rng *r, rc_case cs, float *x, const float *mean, float *scale,
                                     float *beta) {
  for (size_t j = 0; j < cs.c; j++) {
    scale[j] = sc_test_uniform(r, 0.5f, 2.0f) * (sc_test_int(r, 0, 1) ? 1.0f : -1.0f);
    beta[j] = sc_test_uniform(r, -1.0f, 1.0f);
  }
  for (size_t q = 0; q < cs.rows; q++)
    for (size_t j = 0; j < cs.c; j++) {
      float *v = &x[q * cs.ld + j];
      while (fabs(((double)*v - mean[j]) * scale[j] + beta[j]) < 1e-3) *v += 0.01f;
    }
}

/* The epilogue y = relu((y + res) + b), each step optional: every combination of steps, against the scalar table
 * and against the same steps written out here (so the scalar kernel is checked too). y holds NaN, -0 and +0 where
 * ReLU and the skipped steps must keep their bits; the residual has a row stride of its own, or is y itself. */
SC_ISA_TEST(eltwise_ukr, add_bias_relu_matches_scalar) {
  FOR_EACH_RC(cs) {
    for (int steps = 0; steps < 8; steps++) {
      const int has_res = steps & 4, has_b = steps & 2, relu = steps & 1, self = has_res && cs.seed % 3 == 0;
      sc_test_rng r = {cs.seed * 8 + (uint64_t)steps};
      const size_t m = rc_len(cs), ldr = self ? cs.ld : cs.c + cs.seed % 3;
      float *b = sc_test_alloc(cs.c, cs.off), *y = sc_test_alloc(m, cs.off + 1), *yr = sc_test_alloc(m, 0);
      float *want = sc_test_alloc(m, 2), *res = sc_test_alloc(cs.rows * ldr + GUARD, cs.off + 2);
      sc_test_fill(&r, b, cs.c, -1, 1);
      sc_test_fill(&r, y, m, -1, 1);
      sc_test_fill(&r, res, cs.rows * ldr + GUARD, -1, 1);
      y[0] = -0.0f;
      if (m > 3) y[m / 2] = NAN, y[m / 3] = 0.0f;
      memcpy(yr, y, m * sizeof *y);
      memcpy(want, y, m * sizeof *y);
      for (size_t q = 0; q < cs.rows; q++)
        for (size_t j = 0; j < cs.c; j++) {
          float v = want[q * cs.ld + j];
          if (has_res) v = v + (self ? v : res[q * ldr + j]);
          if (has_b) v = v + b[j];
          if (relu) v = v > 0.0f ? v : 0.0f;
          want[q * cs.ld + j] = v;
        }
      const float *rk = has_res ? (self ? y : res) : NULL, *rr = has_res ? (self ? yr : res) : NULL;
      k->eltwise->add_bias_relu(cs.rows, cs.c, cs.ld, y, rk, ldr, has_b ? b : NULL, relu);
      ref_table()->add_bias_relu(cs.rows, cs.c, cs.ld, yr, rr, ldr, has_b ? b : NULL, relu);
      size_t d = first_diff(y, yr, m);
      SC_ASSERT(d == m, "isa=%s add_bias_relu steps=%d self=%d " RC_FMT ": y[%zu]=%g, scalar %g", k->name, steps,
                self, RC_ARGS(cs), d, y[d], yr[d]);
      d = first_diff(yr, want, m);
      SC_ASSERT(d == m, "scalar add_bias_relu steps=%d self=%d " RC_FMT ": y[%zu]=%g, written out %g", steps, self,
                RC_ARGS(cs), d, yr[d], want[d]);
      sc_test_free(b), sc_test_free(y), sc_test_free(yr), sc_test_free(want), sc_test_free(res);
    }
  }
}

/* The double reductions are exact matches: each lane adds its rows in row order as the scalar loop does, and
 * every product or difference fed to them is exact in double (float x float, float - float). */
SC_ISA_TEST(eltwise_ukr, reductions_match_scalar) {
  FOR_EACH_RC(cs) {
    sc_test_rng r = {cs.seed};
    size_t m = rc_len(cs), c = cs.c;
    float *x = sc_test_alloc(m, cs.off), *dy = sc_test_alloc(m, cs.off + 2);
    float *shift = sc_test_alloc(c, 1), *mean = sc_test_alloc(c, 2), *scale = sc_test_alloc(c, 3);
    float *beta = sc_test_alloc(c, 0);
    double *acc = calloc(4 * (c + GUARD), sizeof(double)), *accr = calloc(4 * (c + GUARD), sizeof(double));
    double *s1 = acc + (c + GUARD), *q1 = acc + 2 * (c + GUARD), *s1r = accr + (c + GUARD),
           *q1r = accr + 2 * (c + GUARD);
    sc_test_fill(&r, x, m, 99, 101);
    sc_test_fill(&r, dy, m, -1, 1);
    sc_test_fill(&r, shift, c, 99, 101);
    sc_test_fill(&r, mean, c, 99, 101);
    fill_relu_away_from_kink(&r, cs, x, mean, scale, beta);
    for (size_t j = 0; j < 4 * (c + GUARD); j++) acc[j] = accr[j] = (double)j * 0.5; /* non-zero: kernels add */

    k->eltwise->col_sum(cs.rows, c, cs.ld, x, acc);
    ref_table()->col_sum(cs.rows, c, cs.ld, x, accr);
    size_t d = first_diff_d(acc, accr, c + GUARD);
    SC_ASSERT(d == c + GUARD, "isa=%s col_sum " RC_FMT ": acc[%zu]=%.17g, scalar %.17g", k->name, RC_ARGS(cs), d,
              acc[d], accr[d]);

    k->eltwise->bn_stats(cs.rows, c, cs.ld, x, shift, s1, q1);
    ref_table()->bn_stats(cs.rows, c, cs.ld, x, shift, s1r, q1r);
    d = first_diff_d(s1, s1r, 2 * (c + GUARD));
    SC_ASSERT(d == 2 * (c + GUARD), "isa=%s bn_stats " RC_FMT ": sum/sumsq[%zu]=%.17g, scalar %.17g", k->name,
              RC_ARGS(cs), d, s1[d], s1r[d]);

    for (int masked = 0; masked < 2; masked++) {
      k->eltwise->bn_backward_reduce(cs.rows, c, cs.ld, x, dy, mean, masked ? scale : NULL, beta, s1, q1);
      ref_table()->bn_backward_reduce(cs.rows, c, cs.ld, x, dy, mean, masked ? scale : NULL, beta, s1r, q1r);
      d = first_diff_d(s1, s1r, 2 * (c + GUARD));
      SC_ASSERT(d == 2 * (c + GUARD), "isa=%s bn_backward_reduce relu=%d " RC_FMT ": sum[%zu]=%.17g, scalar %.17g",
                k->name, masked, RC_ARGS(cs), d, s1[d], s1r[d]);
    }
    free(acc), free(accr);
    sc_test_free(x), sc_test_free(dy), sc_test_free(shift), sc_test_free(mean), sc_test_free(scale);
    sc_test_free(beta);
  }
}

/* apply and dx may use FMA where the scalar kernel rounds the product first: each result is a sum of at most four
 * terms, so both lie within 4 roundings (4 * 2^-24 relative) of the sum of the terms' magnitudes. */
static int within_terms(float got, float want, double magnitude) {
  return fabs((double)got - (double)want) <= 4.0 * 0x1p-24 * magnitude + 1e-37;
}

SC_ISA_TEST(eltwise_ukr, bn_apply_matches_scalar) {
  FOR_EACH_RC(cs) {
    sc_test_rng r = {cs.seed};
    size_t m = rc_len(cs), c = cs.c;
    float *x = sc_test_alloc(m, cs.off), *y = sc_test_alloc(m, cs.off + 1), *yr = sc_test_alloc(m, 0);
    float *mean = sc_test_alloc(c, 1), *scale = sc_test_alloc(c, 2), *beta = sc_test_alloc(c, 3);
    sc_test_fill(&r, x, m, -3, 3);
    sc_test_fill(&r, mean, c, -1, 1);
    sc_test_fill(&r, scale, c, -2, 2);
    sc_test_fill(&r, beta, c, -1, 1);
    for (int relu = 0; relu < 2; relu++) {
      sc_test_fill(&r, y, m, 7, 8);
      memcpy(yr, y, m * sizeof *y);
      k->eltwise->bn_apply(cs.rows, c, cs.ld, x, mean, scale, beta, y, relu);
      ref_table()->bn_apply(cs.rows, c, cs.ld, x, mean, scale, beta, yr, relu);
      for (size_t i = 0; i < m; i++) {
        size_t j = i % cs.ld;
        int inside = i < cs.rows * cs.ld && j < c;
        double mag = inside ? fabs(((double)x[i] - mean[j]) * scale[j]) + fabs(beta[j]) : 0.0;
        SC_ASSERT(within_terms(y[i], yr[i], mag), "isa=%s bn_apply relu=%d " RC_FMT ": y[%zu]=%.9g, scalar %.9g",
                  k->name, relu, RC_ARGS(cs), i, y[i], yr[i]);
      }
    }
    /* in place agrees with out of place */
    memcpy(yr, x, m * sizeof *x);
    k->eltwise->bn_apply(cs.rows, c, cs.ld, yr, mean, scale, beta, yr, 1);
    for (size_t i = 0; i < cs.rows * cs.ld; i++)
      SC_ASSERT(i % cs.ld >= c || first_diff(&y[i], &yr[i], 1) == 1,
                "isa=%s bn_apply in place " RC_FMT ": y[%zu]=%g, out of place %g", k->name, RC_ARGS(cs), i, yr[i],
                y[i]);
    sc_test_free(x), sc_test_free(y), sc_test_free(yr), sc_test_free(mean), sc_test_free(scale), sc_test_free(beta);
  }
}

SC_ISA_TEST(eltwise_ukr, bn_backward_dx_matches_scalar) {
  FOR_EACH_RC(cs) {
    sc_test_rng r = {cs.seed};
    size_t m = rc_len(cs), c = cs.c;
    float *x = sc_test_alloc(m, cs.off), *dy = sc_test_alloc(m, 1);
    float *dx = sc_test_alloc(m, cs.off + 3), *dxr = sc_test_alloc(m, 0), *co = sc_test_alloc(6 * c, 1);
    float *mean = co, *a = co + c, *b = co + 2 * c, *d = co + 3 * c, *scale = co + 4 * c, *beta = co + 5 * c;
    sc_test_fill(&r, x, m, -3, 3);
    sc_test_fill(&r, dy, m, -1, 1);
    sc_test_fill(&r, co, 4 * c, -1, 1);
    fill_relu_away_from_kink(&r, cs, x, mean, scale, beta);
    /* accumulate, then set over NaN: a set never reads dx, and what lies outside the block keeps its NaN */
    for (int v = 0; v < 4; v++) {
      const int relu = v & 1, acc = v < 2;
      if (acc) sc_test_fill(&r, dx, m, -1, 1);
      else for (size_t i = 0; i < m; i++) dx[i] = NAN;
      memcpy(dxr, dx, m * sizeof *dx);
      k->eltwise->bn_backward_dx(cs.rows, c, cs.ld, x, dy, mean, relu ? scale : NULL, beta, a, b, d, dx, acc);
      ref_table()->bn_backward_dx(cs.rows, c, cs.ld, x, dy, mean, relu ? scale : NULL, beta, a, b, d, dxr, acc);
      for (size_t i = 0; i < m; i++) {
        size_t j = i % cs.ld;
        int inside = i < cs.rows * cs.ld && j < c;
        double mag = inside ? fabs(dxr[i]) + fabs((double)a[j] * dy[i]) + fabs((double)b[j] * (x[i] - mean[j])) +
                                  fabs(d[j]) + (acc ? fabs(dx[i]) : 0.0)
                            : 0.0;
        SC_ASSERT(inside ? within_terms(dx[i], dxr[i], mag) : first_diff(&dx[i], &dxr[i], 1) == 1,
                  "isa=%s bn_backward_dx relu=%d accumulate=%d " RC_FMT ": dx[%zu]=%.9g, scalar %.9g", k->name, relu,
                  acc, RC_ARGS(cs), i, dx[i], dxr[i]);
      }
    }
    sc_test_free(x), sc_test_free(dy), sc_test_free(dx), sc_test_free(dxr), sc_test_free(co);
  }
}

/* The backward kernels recompute the fused ReLU's mask from x; it must be the one this ISA's bn_apply produced, bit
 * for bit, also at the kink. x is placed so that (x - mean) * scale + beta lands within a few roundings of 0
 * (where an FMA and a rounded product disagree), and the sums and dx are checked against what the apply's output
 * y says: dy where y > 0, else 0. The sums are exact (row order, exact products); dx within its terms' rounding,
 * far below the a*dy a wrong mask bit would add. */
SC_ISA_TEST(eltwise_ukr, bn_relu_mask_matches_apply) {
  FOR_EACH_RC(cs) {
    sc_test_rng r = {cs.seed + 77};
    size_t m = rc_len(cs), c = cs.c;
    float *x = sc_test_alloc(m, cs.off), *y = sc_test_alloc(m, 1), *dy = sc_test_alloc(m, 2);
    float *dx = sc_test_alloc(m, 3), *co = sc_test_alloc(6 * c, 1);
    float *mean = co, *scale = co + c, *beta = co + 2 * c, *a = co + 3 * c, *b = co + 4 * c, *d = co + 5 * c;
    double *acc = calloc(2 * c + 1, sizeof(double)), *want = calloc(2 * c + 1, sizeof(double));
    sc_test_fill(&r, dy, m, 0.5f, 1.0f);
    sc_test_fill(&r, co, 6 * c, -1, 1);
    for (size_t j = 0; j < c; j++) scale[j] = scale[j] < 0 ? scale[j] - 0.3f : scale[j] + 0.3f;
    for (size_t i = 0; i < m; i++) {
      const size_t j = i % cs.ld;
      /* the kink, then up to 3 floats either side of it */
      float t = j < c ? mean[j] - beta[j] / scale[j] : 0.0f;
      for (int s = sc_test_int(&r, -3, 3); s != 0; s += s < 0 ? 1 : -1) t = nextafterf(t, s < 0 ? -INFINITY : INFINITY);
      x[i] = t;
    }
    k->eltwise->bn_apply(cs.rows, c, cs.ld, x, mean, scale, beta, y, 1);
    k->eltwise->bn_backward_reduce(cs.rows, c, cs.ld, x, dy, mean, scale, beta, acc, acc + c);
    int zeros = 0, ones = 0;
    for (size_t q = 0; q < cs.rows; q++)
      for (size_t j = 0; j < c; j++) {
        const size_t i = q * cs.ld + j;
        const float g = y[i] > 0.0f ? dy[i] : 0.0f;
        zeros += g == 0.0f, ones += g != 0.0f;
        want[j] += (double)g, want[c + j] += (double)g * (double)(x[i] - mean[j]);
      }
    size_t bad = first_diff_d(acc, want, 2 * c);
    SC_ASSERT(bad == 2 * c, "isa=%s bn_backward_reduce mask at the kink " RC_FMT ": sum[%zu]=%.17g, from apply's "
              "y %.17g", k->name, RC_ARGS(cs), bad, acc[bad], want[bad]);
    for (size_t i = 0; i < m; i++) dx[i] = NAN;
    k->eltwise->bn_backward_dx(cs.rows, c, cs.ld, x, dy, mean, scale, beta, a, b, d, dx, 0);
    for (size_t q = 0; q < cs.rows; q++)
      for (size_t j = 0; j < c; j++) {
        const size_t i = q * cs.ld + j;
        const double g = y[i] > 0.0f ? dy[i] : 0.0, xm = (double)(x[i] - mean[j]);
        const double t = a[j] * g + b[j] * xm + d[j], mag = fabs(a[j] * g) + fabs(b[j] * xm) + fabs(d[j]);
        SC_ASSERT(fabs(dx[i] - t) <= 4.0 * 0x1p-24 * mag + 1e-37, "isa=%s bn_backward_dx mask at the kink " RC_FMT
                  ": dx[%zu]=%.9g, from apply's y %.9g", k->name, RC_ARGS(cs), i, dx[i], t);
      }
    /* the cases straddle the kink: both sides occur once there are a few dozen elements */
    SC_ASSERT(cs.rows * c < 64 || (zeros > 0 && ones > 0), "isa=%s " RC_FMT ": %d masked, %d passed", k->name,
              RC_ARGS(cs), zeros, ones);
    free(acc), free(want);
    sc_test_free(x), sc_test_free(y), sc_test_free(dy), sc_test_free(dx), sc_test_free(co);
  }
}

/* ---- max-pool kernels: one output pixel over a kh x kw window ---------------------------------------------- */

SC_ISA_TEST(eltwise_ukr, maxpool_matches_scalar_with_ties) {
  uint64_t seed = 5000;
  for (size_t ci = 0; ci < NCHANS; ci++)
    for (size_t kh = 1; kh <= 3; kh++)
      for (size_t kw = 1; kw <= 3; kw++, seed++) {
        sc_test_rng r = {seed};
        size_t c = chans[ci], cs = c + seed % 3, rs = kw * cs + seed % 4, m = kh * rs + GUARD, off = seed % 5;
        float *x = sc_test_alloc(m, off), *y = sc_test_alloc(c + GUARD, 1), *yr = sc_test_alloc(c + GUARD, 0);
        float *dy = sc_test_alloc(c, 2), *dx = sc_test_alloc(m, off + 1), *dxr = sc_test_alloc(m, 0);
        /* small integers: most windows hold several equal maxima, so "first one wins" is exercised */
        sc_test_fill_int(&r, x, m, 2);
        sc_test_fill(&r, y, c + GUARD, 5, 6);
        memcpy(yr, y, (c + GUARD) * sizeof *y);
        k->eltwise->maxpool(c, kh, kw, x, rs, cs, y);
        ref_table()->maxpool(c, kh, kw, x, rs, cs, yr);
        size_t d = first_diff(y, yr, c + GUARD);
        SC_ASSERT(d == c + GUARD, "isa=%s maxpool c=%zu window=%zux%zu rs=%zu cs=%zu offset=%zu seed=%llu: y[%zu]=%g, "
                  "scalar %g", k->name, c, kh, kw, rs, cs, off, (unsigned long long)seed, d, y[d], yr[d]);
        sc_test_fill(&r, dy, c, -1, 1);
        sc_test_fill(&r, dx, m, -1, 1);
        memcpy(dxr, dx, m * sizeof *dx);
        k->eltwise->maxpool_backward(c, kh, kw, x, rs, cs, yr, dy, dx);
        ref_table()->maxpool_backward(c, kh, kw, x, rs, cs, yr, dy, dxr);
        d = first_diff(dx, dxr, m);
        SC_ASSERT(d == m, "isa=%s maxpool_backward c=%zu window=%zux%zu rs=%zu cs=%zu offset=%zu seed=%llu: "
                  "dx[%zu]=%g, scalar %g", k->name, c, kh, kw, rs, cs, off, (unsigned long long)seed, d, dx[d], dxr[d]);
        sc_test_free(x), sc_test_free(y), sc_test_free(yr), sc_test_free(dy), sc_test_free(dx), sc_test_free(dxr);
      }
}

SC_ISA_TEST(eltwise_ukr, table_is_complete) {
  const sc_eltwise_config *e = k->eltwise;
  SC_ASSERT(e && e->relu && e->relu_backward && e->add && e->add_bias_relu && e->col_sum && e->bn_stats &&
            e->bn_apply && e->bn_backward_reduce && e->bn_backward_dx && e->maxpool && e->maxpool_backward,
            "isa=%s: an element-wise kernel is missing from the table", k->name);
}
