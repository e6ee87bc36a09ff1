/* test_eltwise.c: the public element-wise, batch-norm and pooling entry points (simclr_ops.h) on every ISA:
 * against references computed in double in this file, backward passes against central finite differences of a
 * double-precision forward on tiny shapes (inputs built away from ReLU kinks and max-pool ties), batch-norm
 * statistics of a large-offset channel, shapes big enough to run on several threads and to need several passes
 * over the channels, and argument validation (bad arguments return SC_EINVAL and leave every output untouched).
 * The batch norm fused with the residual add and ReLU (ops/batchnorm.h) must equal the separate operators bit for
 * bit.
 */
#include <math.h>
#include <stdio.h>

#include "ops/batchnorm.h"
#include "simclr_ops.h"
#include "test.h"
#include "testutil.h"

static float *alloc_fill(sc_test_rng *r, size_t n, float lo, float hi, size_t off) {
  float *p = sc_test_alloc(n ? n : 1, off);
  sc_test_fill(r, p, n, lo, hi);
  return p;
}

static void copy(float *dst, const float *src, size_t n) { memcpy(dst, src, n * sizeof *dst); }

/* ---- ReLU, add, accumulate, bias ------------------------------------------------------------------------------ */

SC_ISA_TEST(eltwise, relu_add_accumulate_match_reference) {
  static const int64_t counts[] = {1, 7, 64, 1001, 70003};
  for (size_t t = 0; t < 5; t++) {
    const int64_t n = counts[t];
    const uint64_t seed = 10 + t;
    sc_test_rng r = {seed};
    float *x = alloc_fill(&r, (size_t)n, -1, 1, 1), *y = alloc_fill(&r, (size_t)n, -1, 1, 2);
    float *dy = alloc_fill(&r, (size_t)n, -1, 1, 3), *dx = alloc_fill(&r, (size_t)n, -1, 1, 0);
    float *dx0 = sc_test_alloc((size_t)n, 0);
    copy(dx0, dx, (size_t)n);
    SC_ASSERT(sc_relu_forward(n, x, y) == SC_OK, "relu_forward: %s", sc_last_error());
    for (int64_t i = 0; i < n; i++)
      SC_ASSERT(y[i] == (x[i] > 0 ? x[i] : 0.0f), "isa=%s relu n=%lld seed=%llu: y[%lld]=%g for x=%g", k->name,
                (long long)n, (unsigned long long)seed, (long long)i, y[i], x[i]);
    SC_ASSERT(sc_relu_backward(n, dx, SC_GRAD_ADD, dy, y) == SC_OK, "relu_backward: %s", sc_last_error());
    for (int64_t i = 0; i < n; i++)
      SC_ASSERT(dx[i] == (x[i] > 0 ? dx0[i] + dy[i] : dx0[i]), "isa=%s relu_backward n=%lld seed=%llu: dx[%lld]=%g",
                k->name, (long long)n, (unsigned long long)seed, (long long)i, dx[i]);
    for (int64_t i = 0; i < n; i++) dx0[i] = NAN;
    SC_ASSERT(sc_relu_backward(n, dx0, SC_GRAD_SET, dy, y) == SC_OK, "relu_backward set: %s", sc_last_error());
    for (int64_t i = 0; i < n; i++)
      SC_ASSERT(dx0[i] == (x[i] > 0 ? dy[i] : 0.0f), "isa=%s relu_backward set n=%lld seed=%llu: dx[%lld]=%g",
                k->name, (long long)n, (unsigned long long)seed, (long long)i, dx0[i]);
    /* in place forward */
    copy(y, x, (size_t)n);
    SC_ASSERT(sc_relu_forward(n, y, y) == SC_OK, "relu_forward in place: %s", sc_last_error());
    for (int64_t i = 0; i < n; i++)
      SC_ASSERT(y[i] == (x[i] > 0 ? x[i] : 0.0f), "isa=%s relu in place n=%lld seed=%llu: y[%lld]=%g", k->name,
                (long long)n, (unsigned long long)seed, (long long)i, y[i]);
    /* add out of place and in place, accumulate */
    SC_ASSERT(sc_add(n, x, dy, y) == SC_OK, "add: %s", sc_last_error());
    for (int64_t i = 0; i < n; i++)
      SC_ASSERT(y[i] == x[i] + dy[i], "isa=%s add n=%lld seed=%llu: y[%lld]=%g", k->name, (long long)n,
                (unsigned long long)seed, (long long)i, y[i]);
    copy(dx0, dx, (size_t)n);
    SC_ASSERT(sc_add(n, dx, x, dx) == SC_OK, "add in place: %s", sc_last_error());
    SC_ASSERT(sc_accumulate(n, dx, dy) == SC_OK, "accumulate: %s", sc_last_error());
    for (int64_t i = 0; i < n; i++)
      SC_ASSERT(dx[i] == (dx0[i] + x[i]) + dy[i], "isa=%s add in place + accumulate n=%lld seed=%llu: [%lld]=%g",
                k->name, (long long)n, (unsigned long long)seed, (long long)i, dx[i]);
    sc_test_free(x), sc_test_free(y), sc_test_free(dy), sc_test_free(dx), sc_test_free(dx0);
  }
}

/* The fused residual add + ReLU against the reference in double: sizes below one chunk, several chunks and several
 * threads' shares (70003 floats on two threads), in place into a, and the backward into both branches, into one,
 * or into none. The sum a + b of floats in [-1, 1] is exact in double and rounds once in float, as the fused
 * kernel's add does, so results must match exactly. */
SC_ISA_TEST(eltwise, add_relu_matches_reference) {
  static const int64_t counts[] = {1, 7, 2049, 70003};
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "threads: %s", sc_last_error());
    for (size_t t = 0; t < 4; t++) {
      const int64_t n = counts[t];
      const uint64_t seed = 40 + t;
      sc_test_rng r = {seed};
      float *a = alloc_fill(&r, (size_t)n, -1, 1, 1), *b = alloc_fill(&r, (size_t)n, -1, 1, 2);
      float *y = sc_test_alloc((size_t)n, 3), *dy = alloc_fill(&r, (size_t)n, -1, 1, 0);
      float *da = alloc_fill(&r, (size_t)n, -1, 1, 1), *db = alloc_fill(&r, (size_t)n, -1, 1, 2);
      float *da0 = sc_test_alloc((size_t)n, 0), *db0 = sc_test_alloc((size_t)n, 0);
      copy(da0, da, (size_t)n), copy(db0, db, (size_t)n);
      SC_ASSERT(sc_add_relu_forward(n, a, b, y) == SC_OK, "add_relu_forward: %s", sc_last_error());
      for (int64_t i = 0; i < n; i++) {
        const float want = (float)((double)a[i] + (double)b[i]) > 0.0f ? (float)((double)a[i] + (double)b[i]) : 0.0f;
        SC_ASSERT(y[i] == want, "isa=%s add_relu n=%lld threads=%d seed=%llu: y[%lld]=%g, want %g", k->name,
                  (long long)n, threads, (unsigned long long)seed, (long long)i, y[i], want);
      }
      SC_ASSERT(sc_add_relu_forward(n, a, b, a) == SC_OK, "add_relu_forward in place: %s", sc_last_error());
      SC_ASSERT(memcmp(a, y, (size_t)n * sizeof(float)) == 0, "isa=%s add_relu in place n=%lld differs", k->name,
                (long long)n);
      SC_ASSERT(sc_add_relu_backward(n, da, SC_GRAD_ADD, db, SC_GRAD_ADD, dy, y) == SC_OK, "add_relu_backward: %s",
                sc_last_error());
      for (int64_t i = 0; i < n; i++) {
        const float g = y[i] > 0.0f ? dy[i] : 0.0f;
        SC_ASSERT(da[i] == da0[i] + g && db[i] == db0[i] + g,
                  "isa=%s add_relu_backward n=%lld threads=%d seed=%llu: [%lld] da %g db %g, want %g %g", k->name,
                  (long long)n, threads, (unsigned long long)seed, (long long)i, da[i], db[i], da0[i] + g, db0[i] + g);
      }
      for (int64_t i = 0; i < n; i++) da[i] = db[i] = NAN;
      SC_ASSERT(sc_add_relu_backward(n, da, SC_GRAD_SET, db, SC_GRAD_SET, dy, y) == SC_OK,
                "add_relu_backward set: %s", sc_last_error());
      for (int64_t i = 0; i < n; i++) {
        const float g = y[i] > 0.0f ? dy[i] : 0.0f;
        SC_ASSERT(da[i] == g && db[i] == g, "isa=%s add_relu_backward set n=%lld threads=%d seed=%llu: [%lld] da %g "
                  "db %g, want %g", k->name, (long long)n, threads, (unsigned long long)seed, (long long)i, da[i],
                  db[i], g);
      }
      /* each branch by its own mode: da set over NaN, db added into */
      copy(db, db0, (size_t)n);
      for (int64_t i = 0; i < n; i++) da[i] = NAN;
      SC_ASSERT(sc_add_relu_backward(n, da, SC_GRAD_SET, db, SC_GRAD_ADD, dy, y) == SC_OK,
                "add_relu_backward set + add: %s", sc_last_error());
      for (int64_t i = 0; i < n; i++) {
        const float g = y[i] > 0.0f ? dy[i] : 0.0f;
        SC_ASSERT(da[i] == g && db[i] == db0[i] + g, "isa=%s add_relu_backward set + add n=%lld threads=%d: [%lld] "
                  "da %g db %g, want %g %g", k->name, (long long)n, threads, (long long)i, da[i], db[i], g,
                  db0[i] + g);
      }
      copy(da, da0, (size_t)n);
      SC_ASSERT(sc_add_relu_backward(n, NULL, SC_GRAD_ADD, da, SC_GRAD_ADD, dy, y) == SC_OK &&
                    sc_add_relu_backward(n, NULL, SC_GRAD_ADD, NULL, SC_GRAD_ADD, dy, y) == SC_OK,
                "add_relu_backward into one branch: %s", sc_last_error());
      for (int64_t i = 0; i < n; i++)
        SC_ASSERT(da[i] == da0[i] + (y[i] > 0.0f ? dy[i] : 0.0f), "isa=%s add_relu_backward (b only) n=%lld: [%lld]",
                  k->name, (long long)n, (long long)i);
      sc_test_free(a), sc_test_free(b), sc_test_free(y), sc_test_free(dy), sc_test_free(da), sc_test_free(db);
      sc_test_free(da0), sc_test_free(db0);
    }
  }
}

/* L = sum w*relu(x) with |x| >= 0.05 everywhere: the central difference with step 1e-3 never crosses the kink,
 * and relu is linear on each side, so the difference quotient is the derivative up to double rounding. */
SC_ISA_TEST(eltwise, relu_backward_matches_finite_differences) {
  sc_test_rng r = {31};
  enum { N = 37 };
  float x[N], y[N], w[N], dx[N] = {0};
  for (int i = 0; i < N; i++) {
    float v = sc_test_uniform(&r, 0.05f, 1.0f);
    x[i] = (i % 3 == 0) ? -v : v;
    w[i] = sc_test_uniform(&r, -1, 1);
  }
  SC_ASSERT(sc_relu_forward(N, x, y) == SC_OK && sc_relu_backward(N, dx, SC_GRAD_ADD, w, y) == SC_OK, "%s",
            sc_last_error());
  for (int i = 0; i < N; i++) {
    const double h = 1e-3, xp = x[i] + h, xm = x[i] - h;
    double fd = (w[i] * (xp > 0 ? xp : 0) - w[i] * (xm > 0 ? xm : 0)) / (2 * h);
    SC_ASSERT(fabs(fd - dx[i]) <= 1e-9 + 1e-6 * fabs(fd), "isa=%s relu fd seed=31 i=%d: dx=%g fd=%g", k->name, i,
              dx[i], fd);
  }
}

SC_ISA_TEST(eltwise, bias_add_forward_backward) {
  static const int64_t shapes[][2] = {{1, 1}, {5, 3}, {17, 64}, {300, 131}, {2000, 64}, {9, 2100}};
  for (size_t t = 0; t < 6; t++) {
    const int64_t rows = shapes[t][0], c = shapes[t][1];
    const size_t n = (size_t)(rows * c);
    sc_test_rng r = {40 + t};
    float *b = alloc_fill(&r, (size_t)c, -1, 1, 1), *y = alloc_fill(&r, n, -1, 1, 2), *y0 = sc_test_alloc(n, 0);
    float *db = alloc_fill(&r, (size_t)c, -1, 1, 3);
    copy(y0, y, n);
    SC_ASSERT(sc_bias_add_forward(rows, c, b, y) == SC_OK, "%s", sc_last_error());
    for (size_t i = 0; i < n; i++)
      SC_ASSERT(y[i] == y0[i] + b[i % (size_t)c], "isa=%s bias_add rows=%lld c=%lld seed=%zu: y[%zu]=%g", k->name,
                (long long)rows, (long long)c, 40 + t, i, y[i]);
    float *db0 = sc_test_alloc((size_t)c, 0);
    copy(db0, db, (size_t)c);
    SC_ASSERT(sc_bias_add_backward(rows, c, db, y) == SC_OK, "%s", sc_last_error());
    for (int64_t j = 0; j < c; j++) {
      double s = db0[j];
      for (int64_t i = 0; i < rows; i++) s += y[i * c + j];
      /* the sum is taken in double (in another order), then rounded once: within an ulp of the exact sum */
      SC_ASSERT(fabs(db[j] - s) <= 1.2e-7 * fabs(s) + 1e-30, "isa=%s bias_backward rows=%lld c=%lld seed=%zu: "
                "db[%lld]=%.9g want %.9g", k->name, (long long)rows, (long long)c, 40 + t, (long long)j, db[j], s);
    }
    sc_test_free(b), sc_test_free(y), sc_test_free(y0), sc_test_free(db), sc_test_free(db0);
  }
}

/* ---- batch norm ---------------------------------------------------------------------------------------------- */

/* Batch statistics in double, two passes. */
static void ref_stats(int64_t rows, int64_t c, const float *x, double *mean, double *var) {
  for (int64_t j = 0; j < c; j++) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < rows; i++) s += x[i * c + j];
    s /= (double)rows;
    for (int64_t i = 0; i < rows; i++) q += (x[i * c + j] - s) * (x[i * c + j] - s);
    mean[j] = s, var[j] = q / (double)rows;
  }
}

SC_ISA_TEST(eltwise, batchnorm_stats_and_apply_match_reference) {
  static const int64_t shapes[][2] = {{1, 3}, {2, 1}, {7, 5}, {64, 64}, {333, 17}, {700, 300}, {11, 2051}};
  for (size_t t = 0; t < 7; t++) {
    const int64_t rows = shapes[t][0], c = shapes[t][1];
    const size_t n = (size_t)(rows * c);
    const uint64_t seed = 50 + t;
    sc_test_rng r = {seed};
    float *x = sc_test_alloc(n, 1), *y = sc_test_alloc(n, 2), *p = alloc_fill(&r, 4 * (size_t)c, 0.5f, 2, 3);
    float *mean = p, *var = p + c, *gamma = p + 2 * c, *beta = p + 3 * c;
    for (size_t i = 0; i < n; i++) x[i] = (float)(i % (size_t)c) - 3.0f + sc_test_uniform(&r, -2, 2);
    double *rm = calloc(2 * (size_t)c, sizeof(double)), *rv = rm + c;
    ref_stats(rows, c, x, rm, rv);
    SC_ASSERT(sc_batchnorm_stats(rows, c, x, mean, var) == SC_OK, "%s", sc_last_error());
    for (int64_t j = 0; j < c; j++) {
      /* the double results are rounded once to float: within half an ulp, plus a hair for the double sums */
      SC_ASSERT(fabs(mean[j] - rm[j]) <= 6.5e-8 * fabs(rm[j]) + 1e-12 &&
                    fabs(var[j] - rv[j]) <= 6.5e-8 * rv[j] + 1e-12 * (1 + rm[j] * rm[j]),
                "isa=%s bn_stats rows=%lld c=%lld seed=%llu: channel %lld mean %.9g var %.9g, want %.9g %.9g",
                k->name, (long long)rows, (long long)c, (unsigned long long)seed, (long long)j, mean[j], var[j],
                rm[j], rv[j]);
    }
    for (int relu = 0; relu < 2; relu++) {
      const float eps = 1e-5f;
      SC_ASSERT(sc_batchnorm_apply(rows, c, x, mean, var, eps, gamma, beta, relu, y) == SC_OK, "%s",
                sc_last_error());
      for (size_t i = 0; i < n; i++) {
        size_t j = i % (size_t)c;
        double xh = ((double)x[i] - mean[j]) / sqrt((double)var[j] + eps), want = gamma[j] * xh + beta[j];
        if (relu && want < 0) want = 0;
        /* fp32 evaluation: x - mean, times the rounded gamma*invstd, plus beta: a few roundings of terms of size
         * |gamma*xhat| + |beta| */
        double tol = 4 * 0x1p-24 * (fabs(gamma[j] * xh) + fabs(beta[j])) + 1e-30;
        SC_ASSERT(fabs(y[i] - want) <= tol, "isa=%s bn_apply relu=%d rows=%lld c=%lld seed=%llu: y[%zu]=%.9g, want "
                  "%.9g", k->name, relu, (long long)rows, (long long)c, (unsigned long long)seed, i, y[i], want);
      }
    }
    free(rm);
    sc_test_free(x), sc_test_free(y), sc_test_free(p);
  }
}

/* A channel with mean 1000 and standard deviation 1 over 2^20 pixels: a float accumulator (or a one-pass double
 * sum of squares without a shift) loses most of the variance's digits; the result must be the double two-pass
 * value rounded to float. */
SC_ISA_TEST(eltwise, batchnorm_stats_large_offset) {
  const int64_t rows = 1 << 20, c = 2;
  sc_test_rng r = {60};
  float *x = sc_test_alloc((size_t)(rows * c), 0);
  for (int64_t i = 0; i < rows * c; i++)
    x[i] = 1000.0f + (i % 2 ? 0.5f : 0.0f) + sc_test_uniform(&r, -1.7320508f, 1.7320508f);
  double rm[2], rv[2];
  float mean[2], var[2];
  ref_stats(rows, c, x, rm, rv);
  SC_ASSERT(sc_batchnorm_stats(rows, c, x, mean, var) == SC_OK, "%s", sc_last_error());
  for (int j = 0; j < 2; j++)
    SC_ASSERT(fabs(mean[j] - rm[j]) <= 6.2e-5 && fabs(var[j] - rv[j]) <= 1e-6 * rv[j],
              "isa=%s bn_stats rows=2^20 mean~1000 seed=60: channel %d mean %.9g var %.9g, want %.9g %.9g", k->name,
              j, mean[j], var[j], rm[j], rv[j]);
  sc_test_free(x);
}

/* Training-mode forward in double: L = sum w * BN(x) (then ReLU if relu). Also returns the pre-activations. */
static double bn_loss(int64_t rows, int64_t c, const double *x, const double *gamma, const double *beta, double eps,
                      int relu, const float *w, double *pre) {
  double L = 0;
  for (int64_t j = 0; j < c; j++) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < rows; i++) m += x[i * c + j];
    m /= (double)rows;
    for (int64_t i = 0; i < rows; i++) v += (x[i * c + j] - m) * (x[i * c + j] - m);
    v /= (double)rows;
    for (int64_t i = 0; i < rows; i++) {
      double yv = gamma[j] * (x[i * c + j] - m) / sqrt(v + eps) + beta[j];
      if (pre) pre[i * c + j] = yv;
      L += w[i * c + j] * (relu && yv < 0 ? 0 : yv);
    }
  }
  return L;
}

/* Tiny shapes against central differences of bn_loss (step 1e-5, truncation error ~1e-10). The fp32 backward
 * combines O(rows) terms of size <= |gamma*invstd*w| ~ 1..4 with rounding 2^-24 each, after the statistics'
 * own rounding (~1e-7 relative): 2e-5 of the largest gradient bounds the difference with a wide margin, while a
 * wrong term (a missing mean(g) or xhat*mean(g*xhat)) is off by O(1). */
SC_ISA_TEST(eltwise, batchnorm_backward_matches_finite_differences) {
  for (int relu = 0; relu < 2; relu++) {
    const int64_t rows = 6, c = 3, n = rows * c;
    const double eps = 1e-5;
    float x[18], w[18], y[18], gamma[3], beta[3], mean[3], var[3], dx[18], dgamma[3], dbeta[3];
    double xd[18], gd[3], bd[3], pre[18];
    uint64_t seed = 70 + (uint64_t)relu * 100;
    for (;; seed++) { /* draw until every pre-activation is at least 0.05 from the ReLU's kink */
      sc_test_rng r = {seed};
      sc_test_fill(&r, x, (size_t)n, -2, 2), sc_test_fill(&r, w, (size_t)n, -1, 1);
      sc_test_fill(&r, gamma, 3, 0.5f, 2), sc_test_fill(&r, beta, 3, -0.5f, 0.5f);
      for (int i = 0; i < n; i++) xd[i] = x[i];
      for (int j = 0; j < c; j++) gd[j] = gamma[j], bd[j] = beta[j];
      bn_loss(rows, c, xd, gd, bd, eps, relu, w, pre);
      int ok = 1;
      for (int i = 0; i < n; i++) ok &= fabs(pre[i]) >= 0.05;
      if (ok || !relu) break;
    }
    for (int i = 0; i < n; i++) dx[i] = 0.25f;
    for (int j = 0; j < c; j++) dgamma[j] = 0.5f, dbeta[j] = -0.5f;
    SC_ASSERT(sc_batchnorm_stats(rows, c, x, mean, var) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_batchnorm_apply(rows, c, x, mean, var, (float)eps, gamma, beta, relu, y) == SC_OK, "%s",
              sc_last_error());
    SC_ASSERT(sc_batchnorm_backward(rows, c, dx, SC_GRAD_ADD, dgamma, dbeta, w, x, mean, var, (float)eps, gamma, beta,
                                    relu) == SC_OK, "%s", sc_last_error());
    const double h = 1e-5;
    double fdx[18], fdg[3], fdb[3], big = 0;
    for (int i = 0; i < n; i++) {
      double s = xd[i];
      xd[i] = s + h;
      double lp = bn_loss(rows, c, xd, gd, bd, eps, relu, w, NULL);
      xd[i] = s - h;
      double lm = bn_loss(rows, c, xd, gd, bd, eps, relu, w, NULL);
      xd[i] = s;
      fdx[i] = (lp - lm) / (2 * h), big = fmax(big, fabs(fdx[i]));
    }
    for (int j = 0; j < c; j++) {
      double s = gd[j];
      gd[j] = s + h;
      double lp = bn_loss(rows, c, xd, gd, bd, eps, relu, w, NULL);
      gd[j] = s - h;
      double lm = bn_loss(rows, c, xd, gd, bd, eps, relu, w, NULL);
      gd[j] = s, fdg[j] = (lp - lm) / (2 * h);
      s = bd[j];
      bd[j] = s + h;
      lp = bn_loss(rows, c, xd, gd, bd, eps, relu, w, NULL);
      bd[j] = s - h;
      lm = bn_loss(rows, c, xd, gd, bd, eps, relu, w, NULL);
      bd[j] = s, fdb[j] = (lp - lm) / (2 * h);
      big = fmax(big, fmax(fabs(fdg[j]), fabs(fdb[j])));
    }
    const double tol = 2e-5 * big;
    for (int i = 0; i < n; i++)
      SC_ASSERT(fabs((dx[i] - 0.25) - fdx[i]) <= tol, "isa=%s bn_backward relu=%d rows=6 c=3 seed=%llu: dx[%d]=%.9g, "
                "finite difference %.9g", k->name, relu, (unsigned long long)seed, i, dx[i] - 0.25, fdx[i]);
    for (int j = 0; j < c; j++) {
      SC_ASSERT(fabs((dgamma[j] - 0.5) - fdg[j]) <= tol, "isa=%s bn_backward relu=%d seed=%llu: dgamma[%d]=%.9g, "
                "finite difference %.9g", k->name, relu, (unsigned long long)seed, j, dgamma[j] - 0.5, fdg[j]);
      SC_ASSERT(fabs((dbeta[j] + 0.5) - fdb[j]) <= tol, "isa=%s bn_backward relu=%d seed=%llu: dbeta[%d]=%.9g, "
                "finite difference %.9g", k->name, relu, (unsigned long long)seed, j, dbeta[j] + 0.5, fdb[j]);
    }
  }
}

/* Larger shapes (several threads; more channels than one 1024-channel pass) against the closed form evaluated in
 * double; dx added into, and set over NaN. */
SC_ISA_TEST(eltwise, batchnorm_backward_matches_closed_form) {
  static const int64_t shapes[][2] = {{1, 5}, {3, 1}, {700, 300}, {4000, 64}, {13, 1030}};
  for (size_t t = 0; t < 5; t++)
    for (int v = 0; v < 4; v++) {
      const int relu = v & 1, set = v >> 1;
      const int64_t rows = shapes[t][0], c = shapes[t][1];
      const size_t n = (size_t)(rows * c);
      const float eps = 1e-3f;
      const uint64_t seed = 80 + t;
      sc_test_rng r = {seed};
      float *x = alloc_fill(&r, n, -2, 3, 1), *dy = alloc_fill(&r, n, -1, 1, 2), *y = sc_test_alloc(n, 3);
      float *dx = alloc_fill(&r, n, -1, 1, 0), *dx0 = sc_test_alloc(n, 0),
            *p = alloc_fill(&r, 6 * (size_t)c, 0.5f, 2, 1);
      float *gamma = p, *beta = p + c, *dgamma = p + 2 * c, *dbeta = p + 3 * c, *mean = p + 4 * c, *var = p + 5 * c;
      for (int64_t j = 0; j < c; j++) beta[j] -= 1.25f;
      copy(dx0, dx, n);
      for (size_t i = 0; i < n && set; i++) dx0[i] = 0.0f, dx[i] = NAN;
      double *dg0 = calloc(2 * (size_t)c, sizeof(double)), *db0 = dg0 + c;
      for (int64_t j = 0; j < c; j++) dg0[j] = dgamma[j], db0[j] = dbeta[j];
      SC_ASSERT(sc_batchnorm_stats(rows, c, x, mean, var) == SC_OK, "%s", sc_last_error());
      SC_ASSERT(sc_batchnorm_apply(rows, c, x, mean, var, eps, gamma, beta, relu, y) == SC_OK, "%s", sc_last_error());
      SC_ASSERT(sc_batchnorm_backward(rows, c, dx, set ? SC_GRAD_SET : SC_GRAD_ADD, dgamma, dbeta, dy, x, mean, var,
                                      eps, gamma, beta, relu) == SC_OK, "%s", sc_last_error());
      for (int64_t j = 0; j < c; j++) {
        double is = 1.0 / sqrt((double)var[j] + eps), sg = 0, sgx = 0, mag = 0;
        for (int64_t i = 0; i < rows; i++) {
          size_t q = (size_t)(i * c + j);
          double g = relu && !(y[q] > 0) ? 0 : dy[q], xh = (x[q] - mean[j]) * is;
          sg += g, sgx += g * xh, mag += fabs(g) * (1 + fabs(xh));
        }
        /* sums of fp32 terms taken in double: the terms' own rounding (2^-24 relative) bounds the error */
        SC_ASSERT(fabs(dgamma[j] - (dg0[j] + sgx)) <= 1e-6 * (mag + fabs(dg0[j])) &&
                      fabs(dbeta[j] - (db0[j] + sg)) <= 1e-6 * (mag + fabs(db0[j])),
                  "isa=%s bn_backward relu=%d rows=%lld c=%lld seed=%llu: channel %lld dgamma %.9g dbeta %.9g, want "
                  "%.9g %.9g", k->name, relu, (long long)rows, (long long)c, (unsigned long long)seed, (long long)j,
                  dgamma[j], dbeta[j], dg0[j] + sgx, db0[j] + sg);
        double a = gamma[j] * is;
        for (int64_t i = 0; i < rows; i++) {
          size_t q = (size_t)(i * c + j);
          double g = relu && !(y[q] > 0) ? 0 : dy[q], xh = (x[q] - mean[j]) * is;
          double want = dx0[q] + a * (g - sg / (double)rows - xh * sgx / (double)rows);
          /* a few fp32 roundings of terms no larger than |dx0| + |a|*(|g| + |mean g| + |xhat|*|mean g*xhat|) */
          double tol = 1e-6 * (fabs(dx0[q]) + fabs(a) * (fabs(g) + fabs(sg) / (double)rows +
                                                        fabs(xh) * (1 + fabs(sgx) / (double)rows)));
          SC_ASSERT(fabs(dx[q] - want) <= tol, "isa=%s bn_backward relu=%d set=%d rows=%lld c=%lld seed=%llu: "
                    "dx[%zu]=%.9g, want %.9g", k->name, relu, set, (long long)rows, (long long)c,
                    (unsigned long long)seed, q, dx[q], want);
        }
      }
      /* dx may be NULL: only the parameter gradients */
      SC_ASSERT(sc_batchnorm_backward(rows, c, NULL, SC_GRAD_ADD, dgamma, dbeta, dy, x, mean, var, eps, gamma, NULL,
                                      0) == SC_OK, "dx NULL: %s", sc_last_error());
      free(dg0);
      sc_test_free(x), sc_test_free(dy), sc_test_free(y), sc_test_free(dx), sc_test_free(dx0), sc_test_free(p);
    }
}

/* The block end relu(BN(x) + res) against sc_batchnorm_apply + sc_add_relu_forward, and its backward against
 * sc_add_relu_backward + sc_batchnorm_backward, bit for bit: the same kernels in the same order on chunks of rows.
 * Shapes: tiny, a partial chunk, several chunks and threads, more channels than one pass, a row wider than a
 * chunk; every write mode of dx and dres, dres absent; one and two threads. */
SC_ISA_TEST(eltwise, batchnorm_add_relu_matches_separate_passes) {
  static const int64_t shapes[][2] = {{2, 3}, {37, 16}, {3000, 32}, {40, 1030}, {5, 9000}};
  for (int threads = 1; threads <= 2; threads++)
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
      for (int mode = 0; mode < 6; mode++) {
        const int64_t rows = shapes[t][0], c = shapes[t][1];
        const size_t n = (size_t)(rows * c);
        const sc_grad_write dxw = mode & 1 ? SC_GRAD_SET : SC_GRAD_ADD, dresw = mode & 2 ? SC_GRAD_SET : SC_GRAD_ADD;
        const int no_dres = mode >= 4;
        const float eps = 1e-3f;
        SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
        sc_test_rng r = {900 + t};
        float *x = alloc_fill(&r, n, -2, 3, 1), *res = alloc_fill(&r, n, -1, 1, 2), *dy = alloc_fill(&r, n, -1, 1, 3);
        float *p = alloc_fill(&r, 8 * (size_t)c, 0.5f, 2, 1), *g = sc_test_alloc(n, 0);
        float *gamma = p, *beta = p + c, *mean = p + 2 * c, *var = p + 3 * c;
        float *dgamma[2] = {p + 4 * c, p + 5 * c}, *dbeta[2] = {p + 6 * c, p + 7 * c};
        for (int64_t j = 0; j < c; j++) beta[j] -= 1.25f, dgamma[1][j] = dgamma[0][j], dbeta[1][j] = dbeta[0][j];
        float *y[2], *dx[2], *dres[2];
        for (int v = 0; v < 2; v++) {
          y[v] = sc_test_alloc(n, (size_t)v), dx[v] = alloc_fill(&r, n, -1, 1, (size_t)v + 2);
          dres[v] = alloc_fill(&r, n, -1, 1, (size_t)v + 3);
        }
        copy(dx[1], dx[0], n), copy(dres[1], dres[0], n);
        for (size_t i = 0; i < n; i++) {
          if (dxw == SC_GRAD_SET) dx[0][i] = dx[1][i] = NAN;
          if (dresw == SC_GRAD_SET) dres[0][i] = dres[1][i] = NAN;
        }
        SC_ASSERT(sc_batchnorm_stats(rows, c, x, mean, var) == SC_OK, "%s", sc_last_error());
        /* the separate passes */
        SC_ASSERT(sc_batchnorm_apply(rows, c, x, mean, var, eps, gamma, beta, 0, y[0]) == SC_OK &&
                      sc_add_relu_forward((int64_t)n, y[0], res, y[0]) == SC_OK &&
                      sc_add_relu_backward((int64_t)n, g, SC_GRAD_SET, no_dres ? NULL : dres[0], dresw, dy, y[0]) ==
                          SC_OK &&
                      sc_batchnorm_backward(rows, c, dx[0], dxw, dgamma[0], dbeta[0], g, x, mean, var, eps, gamma,
                                            NULL, 0) == SC_OK,
                  "separate passes: %s", sc_last_error());
        /* the fused ones */
        SC_ASSERT(sc_batchnorm_add_relu_forward(rows, c, x, res, mean, var, eps, gamma, beta, y[1]) == SC_OK &&
                      sc_batchnorm_add_relu_backward(rows, c, dx[1], dxw, no_dres ? NULL : dres[1], dresw, dgamma[1],
                                                     dbeta[1], dy, y[1], x, mean, var, eps, gamma) == SC_OK,
                  "fused: %s", sc_last_error());
        const struct { const char *name; const float *a, *b; size_t n; } outs[] = {
            {"y", y[0], y[1], n}, {"dx", dx[0], dx[1], n}, {"dres", dres[0], dres[1], n},
            {"dgamma", dgamma[0], dgamma[1], (size_t)c}, {"dbeta", dbeta[0], dbeta[1], (size_t)c}};
        for (size_t o = 0; o < 5; o++)
          for (size_t i = 0; i < outs[o].n; i++)
            SC_ASSERT(memcmp(&outs[o].a[i], &outs[o].b[i], sizeof(float)) == 0,
                      "isa=%s threads=%d rows=%lld c=%lld dx %s dres %s: %s[%zu] fused %.9g, separate %.9g", k->name,
                      threads, (long long)rows, (long long)c, dxw == SC_GRAD_SET ? "set" : "add",
                      no_dres ? "absent" : dresw == SC_GRAD_SET ? "set" : "add", outs[o].name, i, outs[o].b[i],
                      outs[o].a[i]);
        sc_test_free(x), sc_test_free(res), sc_test_free(dy), sc_test_free(p), sc_test_free(g);
        for (int v = 0; v < 2; v++) sc_test_free(y[v]), sc_test_free(dx[v]), sc_test_free(dres[v]);
      }
}

/* ---- pooling ------------------------------------------------------------------------------------------------- */

typedef struct pool_case { sc_pool2d_shape s; } pool_case;
static const sc_pool2d_shape pool_shapes[] = {
    {.n = 2, .h = 7, .w = 9, .c = 5, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
    {.n = 1, .h = 8, .w = 8, .c = 64, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2},
    {.n = 3, .h = 5, .w = 6, .c = 17, .kh = 3, .kw = 2, .stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 0},
    {.n = 2, .h = 4, .w = 3, .c = 3, .kh = 1, .kw = 1, .stride_h = 1, .stride_w = 1},
    {.n = 1, .h = 3, .w = 3, .c = 33, .kh = 3, .kw = 3, .stride_h = 3, .stride_w = 3, .pad_h = 2, .pad_w = 2},
    {.n = 2, .h = 40, .w = 40, .c = 64, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
    {.n = 1, .h = 12, .w = 10, .c = 130, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
};
#define NPOOL (sizeof pool_shapes / sizeof pool_shapes[0])
#define POOL_FMT "n=%lld h=%lld w=%lld c=%lld window=%lldx%lld stride=%lldx%lld pad=%lldx%lld"
#define POOL_ARGS(s)                                                                                               \
  (long long)(s).n, (long long)(s).h, (long long)(s).w, (long long)(s).c, (long long)(s).kh, (long long)(s).kw,    \
      (long long)(s).stride_h, (long long)(s).stride_w, (long long)(s).pad_h, (long long)(s).pad_w

/* Distinct values (a shuffled ramp, step 1/128, exact in fp32): no window has two maxima. */
static void fill_distinct(sc_test_rng *r, float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = ((float)i - (float)(n / 2)) * 0.0078125f;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)sc_test_int(r, 0, (int64_t)i - 1);
    float t = x[i - 1];
    x[i - 1] = x[j], x[j] = t;
  }
}

/* Index of the window maximum of output (img, oy, ox, ch), the padding excluded; also its value. */
static size_t ref_argmax(const sc_pool2d_shape *s, const double *x, int64_t img, int64_t oy, int64_t ox, int64_t ch) {
  size_t best = (size_t)-1;
  for (int64_t i = 0; i < s->kh; i++)
    for (int64_t j = 0; j < s->kw; j++) {
      int64_t yy = oy * s->stride_h - s->pad_h + i, xx = ox * s->stride_w - s->pad_w + j;
      if (yy < 0 || yy >= s->h || xx < 0 || xx >= s->w) continue;
      size_t q = (size_t)(((img * s->h + yy) * s->w + xx) * s->c + ch);
      if (best == (size_t)-1 || x[q] > x[best]) best = q;
    }
  return best;
}

static double maxpool_loss(const sc_pool2d_shape *s, int64_t oh, int64_t ow, const double *x, const float *w) {
  double L = 0;
  for (int64_t img = 0; img < s->n; img++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t ch = 0; ch < s->c; ch++)
          L += w[((img * oh + oy) * ow + ox) * s->c + ch] * x[ref_argmax(s, x, img, oy, ox, ch)];
  return L;
}

SC_ISA_TEST(eltwise, maxpool_forward_backward_match_reference) {
  for (size_t t = 0; t < NPOOL; t++) {
    const sc_pool2d_shape s = pool_shapes[t];
    int64_t oh, ow;
    SC_ASSERT(sc_pool2d_out_size(&s, &oh, &ow) == SC_OK, "out_size " POOL_FMT ": %s", POOL_ARGS(s), sc_last_error());
    const size_t nin = (size_t)(s.n * s.h * s.w * s.c), nout = (size_t)(s.n * oh * ow * s.c);
    sc_test_rng r = {90 + t};
    float *x = sc_test_alloc(nin, 1), *y = sc_test_alloc(nout, 2), *dy = alloc_fill(&r, nout, -1, 1, 3);
    float *dx = alloc_fill(&r, nin, -1, 1, 0);
    double *xd = malloc(nin * sizeof(double)), *want = malloc(nin * sizeof(double));
    fill_distinct(&r, x, nin);
    for (size_t i = 0; i < nin; i++) xd[i] = x[i];
    SC_ASSERT(sc_maxpool2d_forward(&s, x, y) == SC_OK, "%s", sc_last_error());
    for (int set = 0; set < 2; set++) {
      /* added into random values, then set over NaN */
      for (size_t i = 0; i < nin; i++) {
        if (set) dx[i] = NAN;
        want[i] = set ? 0.0 : dx[i];
      }
      SC_ASSERT(sc_maxpool2d_backward(&s, dx, set ? SC_GRAD_SET : SC_GRAD_ADD, dy, x, y) == SC_OK, "%s",
                sc_last_error());
      for (int64_t img = 0; img < s.n; img++)
        for (int64_t oy = 0; oy < oh; oy++)
          for (int64_t ox = 0; ox < ow; ox++)
            for (int64_t ch = 0; ch < s.c; ch++) {
              size_t o = (size_t)(((img * oh + oy) * ow + ox) * s.c + ch), a = ref_argmax(&s, xd, img, oy, ox, ch);
              SC_ASSERT(y[o] == x[a], "isa=%s maxpool " POOL_FMT " seed=%zu: y[%zu]=%g, want %g", k->name, POOL_ARGS(s),
                        90 + t, o, y[o], x[a]);
              want[a] += dy[o];
            }
      /* each dx element gets its dy terms in the same window order as the reference only by accident, so allow the
       * rounding of the (at most kh*kw) additions */
      for (size_t i = 0; i < nin; i++)
        SC_ASSERT(fabs(dx[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])),
                  "isa=%s maxpool_backward set=%d " POOL_FMT " seed=%zu: dx[%zu]=%.9g, want %.9g", k->name, set,
                  POOL_ARGS(s), 90 + t, i, dx[i], want[i]);
    }
    free(xd), free(want);
    sc_test_free(x), sc_test_free(y), sc_test_free(dy), sc_test_free(dx);
  }
}

/* Max-pool is piecewise linear; with distinct inputs 1/128 apart a step of 1e-3 keeps every argmax, so the
 * central difference is exact up to double rounding (1e-9). */
SC_ISA_TEST(eltwise, maxpool_backward_matches_finite_differences) {
  const sc_pool2d_shape s = {.n = 1, .h = 5, .w = 6, .c = 2, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                             .pad_h = 1, .pad_w = 1};
  int64_t oh, ow;
  SC_ASSERT(sc_pool2d_out_size(&s, &oh, &ow) == SC_OK, "%s", sc_last_error());
  sc_test_rng r = {99};
  float x[60], y[64], w[64], dx[60] = {0};
  double xd[60];
  fill_distinct(&r, x, 60);
  sc_test_fill(&r, w, (size_t)(oh * ow * 2), -1, 1);
  for (int i = 0; i < 60; i++) xd[i] = x[i];
  SC_ASSERT(sc_maxpool2d_forward(&s, x, y) == SC_OK && sc_maxpool2d_backward(&s, dx, SC_GRAD_ADD, w, x, y) == SC_OK,
            "%s", sc_last_error());
  for (int i = 0; i < 60; i++) {
    const double h = 1e-3, v = xd[i];
    xd[i] = v + h;
    double lp = maxpool_loss(&s, oh, ow, xd, w);
    xd[i] = v - h;
    double lm = maxpool_loss(&s, oh, ow, xd, w);
    xd[i] = v;
    double fd = (lp - lm) / (2 * h);
    SC_ASSERT(fabs(dx[i] - fd) <= 1e-6 * (1 + fabs(fd)), "isa=%s maxpool fd " POOL_FMT " seed=99: dx[%d]=%.9g, "
              "finite difference %.9g", k->name, POOL_ARGS(s), i, dx[i], fd);
  }
}

SC_ISA_TEST(eltwise, avgpool_global_forward_backward) {
  static const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 7, 7, 64}, {3, 4, 5, 131}, {8, 7, 7, 512}, {1, 2, 3, 3},
                                      {2, 3, 3, 1100}};
  for (size_t t = 0; t < 6; t++) {
    const int64_t n = shapes[t][0], h = shapes[t][1], w = shapes[t][2], c = shapes[t][3], hw = h * w;
    const size_t nin = (size_t)(n * hw * c), nout = (size_t)(n * c);
    sc_test_rng r = {120 + t};
    float *x = alloc_fill(&r, nin, -1, 3, 1), *y = sc_test_alloc(nout, 2), *dy = alloc_fill(&r, nout, -1, 1, 3);
    float *dx = alloc_fill(&r, nin, -1, 1, 0), *dx0 = sc_test_alloc(nin, 0);
    copy(dx0, dx, nin);
    SC_ASSERT(sc_avgpool_global_forward(n, h, w, c, x, y) == SC_OK, "%s", sc_last_error());
    for (int set = 0; set < 2; set++) {
      /* added into random values, then set over NaN */
      if (set)
        for (size_t i = 0; i < nin; i++) dx0[i] = 0.0f, dx[i] = NAN;
      SC_ASSERT(sc_avgpool_global_backward(n, h, w, c, dx, set ? SC_GRAD_SET : SC_GRAD_ADD, dy) == SC_OK, "%s",
                sc_last_error());
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < c; j++) {
          double s = 0;
          for (int64_t p = 0; p < hw; p++) s += x[(i * hw + p) * c + j];
          s /= (double)hw;
          /* summed in double and rounded once */
          SC_ASSERT(fabs(y[i * c + j] - s) <= 6e-8 * fabs(s) + 1e-30,
                    "isa=%s avgpool n=%lld h=%lld w=%lld c=%lld "
                    "seed=%zu: y[%lld][%lld]=%.9g, want %.9g",
                    k->name, (long long)n, (long long)h, (long long)w, (long long)c, 120 + t, (long long)i,
                    (long long)j, y[i * c + j], s);
          for (int64_t p = 0; p < hw; p++) {
            size_t q = (size_t)((i * hw + p) * c + j);
            double want = dx0[q] + (double)dy[i * c + j] / (double)hw;
            /* dy * (1/hw) rounded twice, then one addition */
            SC_ASSERT(fabs(dx[q] - want) <= 2.4e-7 * (fabs(dx0[q]) + fabs(want)) + 1e-30,
                      "isa=%s avgpool_backward "
                      "set=%d n=%lld h=%lld w=%lld c=%lld seed=%zu: dx[%zu]=%.9g, want %.9g",
                      k->name, set, (long long)n, (long long)h, (long long)w, (long long)c, 120 + t, q, dx[q], want);
          }
        }
    }
    sc_test_free(x), sc_test_free(y), sc_test_free(dy), sc_test_free(dx), sc_test_free(dx0);
  }
}

/* A 5x5 map of one channel, x[y][x] = 5y + x, onto a 3x3 grid: the cells span rows and columns [0,2), [1,4),
 * [3,5) (PyTorch's adaptive_avg_pool2d), so their means are the mean row times 5 plus the mean column, written out
 * by hand below. Then random maps against a double sum, the 1x1 grid against the global pool (bit-exact: one
 * mechanism), the full-size grid as a copy, and a row stride that leaves the gap between images untouched. */
SC_ISA_TEST(eltwise, avgpool_grid_forward) {
  float m[25], g[9];
  for (int i = 0; i < 25; i++) m[i] = (float)i;
  SC_ASSERT(sc_avgpool_grid_forward(1, 5, 5, 1, 3, 3, m, g, 9) == SC_OK, "%s", sc_last_error());
  static const float want[9] = {3.0f, 4.5f, 6.0f, 10.5f, 12.0f, 13.5f, 18.0f, 19.5f, 21.0f};
  for (int i = 0; i < 9; i++)
    SC_ASSERT(g[i] == want[i], "isa=%s avgpool_grid 5x5 -> 3x3: cell %d = %.9g, want %.9g", k->name, i, g[i],
              want[i]);
  static const int64_t shapes[][6] = {{2, 5, 5, 64, 5, 5}, {3, 3, 3, 131, 2, 2}, {2, 7, 4, 17, 3, 2},
                                      {1, 4, 4, 1100, 1, 1}, {4, 10, 10, 32, 5, 3}};
  for (size_t t = 0; t < 5; t++) {
    const int64_t n = shapes[t][0], h = shapes[t][1], w = shapes[t][2], c = shapes[t][3], gh = shapes[t][4],
                  gw = shapes[t][5], row = gh * gw * c, ldy = row + 3;
    sc_test_rng r = {140 + t};
    float *x = alloc_fill(&r, (size_t)(n * h * w * c), -1, 3, 1), *y = sc_test_alloc((size_t)(n * ldy), 2);
    for (int64_t i = 0; i < n * ldy; i++) y[i] = 42.0f;
    SC_ASSERT(sc_avgpool_grid_forward(n, h, w, c, gh, gw, x, y, ldy) == SC_OK, "%s", sc_last_error());
    for (int64_t i = 0; i < n; i++) {
      for (int64_t q = row; q < ldy; q++)
        SC_ASSERT(y[i * ldy + q] == 42.0f, "isa=%s avgpool_grid seed=%zu: the gap after image %lld was written",
                  k->name, 140 + t, (long long)i);
      for (int64_t cy = 0; cy < gh; cy++)
        for (int64_t cx = 0; cx < gw; cx++) {
          const int64_t y0 = cy * h / gh, y1 = ((cy + 1) * h + gh - 1) / gh;
          const int64_t x0 = cx * w / gw, x1 = ((cx + 1) * w + gw - 1) / gw;
          for (int64_t j = 0; j < c; j++) {
            double s = 0;
            for (int64_t py = y0; py < y1; py++)
              for (int64_t px = x0; px < x1; px++) s += x[((i * h + py) * w + px) * c + j];
            s /= (double)((y1 - y0) * (x1 - x0));
            const float got = y[i * ldy + (cy * gw + cx) * c + j];
            /* summed in double and rounded once */
            SC_ASSERT(fabs(got - s) <= 6e-8 * fabs(s) + 1e-30, "isa=%s avgpool_grid n=%lld %lldx%lldx%lld -> "
                      "%lldx%lld seed=%zu: cell (%lld,%lld) channel %lld = %.9g, want %.9g", k->name, (long long)n,
                      (long long)h, (long long)w, (long long)c, (long long)gh, (long long)gw, 140 + t, (long long)cy,
                      (long long)cx, (long long)j, got, s);
            if (gh == h && gw == w)
              SC_ASSERT(got == x[((i * h + cy) * w + cx) * c + j], "isa=%s avgpool_grid: a full-size grid is not "
                        "a copy", k->name);
          }
        }
    }
    if (gh == 1 && gw == 1) {
      float *gl = sc_test_alloc((size_t)(n * c), 0);
      SC_ASSERT(sc_avgpool_global_forward(n, h, w, c, x, gl) == SC_OK, "%s", sc_last_error());
      for (int64_t i = 0; i < n; i++)
        SC_ASSERT(memcmp(gl + i * c, y + i * ldy, (size_t)c * sizeof *gl) == 0, "isa=%s avgpool_grid 1x1 differs "
                  "from the global pool", k->name);
      sc_test_free(gl);
    }
    sc_test_free(x), sc_test_free(y);
  }
}

/* ---- argument validation ------------------------------------------------------------------------------------- */

SC_TEST(eltwise, rejects_bad_arguments_without_touching_memory) {
  float a[8], b[8], o[8];
  for (int i = 0; i < 8; i++) a[i] = b[i] = 1.0f, o[i] = 42.0f;
#define UNTOUCHED(what)                                                                                           \
  for (int i_ = 0; i_ < 8; i_++) SC_ASSERT(o[i_] == 42.0f, "%s wrote to its output", what)
#define REJECT(call, what)                                                                                        \
  do {                                                                                                            \
    SC_ASSERT((call) == SC_EINVAL, "%s accepted", what);                                                          \
    SC_ASSERT(sc_last_error()[0] != '\0', "%s: no message", what);                                                \
    UNTOUCHED(what);                                                                                              \
  } while (0)
  REJECT(sc_relu_forward(-1, a, o), "relu negative count");
  REJECT(sc_relu_forward(4, NULL, o), "relu null x");
  REJECT(sc_relu_forward(INT64_MAX, a, o), "relu huge count");
  REJECT(sc_relu_backward(4, o, SC_GRAD_ADD, NULL, b), "relu_backward null dy");
  REJECT(sc_relu_backward(4, o, (sc_grad_write)2, a, b), "relu_backward write mode 2");
  REJECT(sc_add(4, a, NULL, o), "add null b");
  REJECT(sc_accumulate(-3, o, a), "accumulate negative");
  REJECT(sc_add_relu_forward(4, a, NULL, o), "add_relu null b");
  REJECT(sc_add_relu_backward(4, o, SC_GRAD_ADD, NULL, SC_GRAD_ADD, NULL, b), "add_relu_backward null dy");
  REJECT(sc_add_relu_backward(4, o, (sc_grad_write)-1, NULL, SC_GRAD_ADD, a, b), "add_relu_backward write mode -1");
  REJECT(sc_add_relu_backward(4, o, SC_GRAD_ADD, NULL, (sc_grad_write)2, a, b), "add_relu_backward write mode 2");
  REJECT(sc_bias_add_forward(2, -1, a, o), "bias negative c");
  REJECT(sc_bias_add_forward(INT64_MAX / 2, 4, a, o), "bias overflowing size");
  REJECT(sc_bias_add_backward(2, 2, o, NULL), "bias_backward null dy");
  REJECT(sc_batchnorm_stats(0, 2, a, o, o + 2), "bn_stats zero rows");
  REJECT(sc_batchnorm_stats(2, 2, a, NULL, o), "bn_stats null mean");
  REJECT(sc_batchnorm_apply(2, 2, a, b, b, 0.0f, b, b, 0, o), "bn_apply eps 0");
  REJECT(sc_batchnorm_apply(2, 2, a, b, b, NAN, b, b, 0, o), "bn_apply eps NaN");
  REJECT(sc_batchnorm_apply(2, 2, a, b, NULL, 1e-5f, b, b, 0, o), "bn_apply null var");
  REJECT(sc_batchnorm_backward(2, 2, o, SC_GRAD_ADD, o + 4, o + 6, a, b, b, b, 1e-5f, NULL, NULL, 0),
         "bn_backward null gamma");
  REJECT(sc_batchnorm_backward(2, 2, o, SC_GRAD_ADD, o + 4, o + 6, a, b, b, b, 1e-5f, b, NULL, 1),
         "bn_backward relu without beta");
  REJECT(sc_batchnorm_backward(-2, 2, o, SC_GRAD_ADD, o + 4, o + 6, a, b, b, b, 1e-5f, b, NULL, 0),
         "bn_backward negative rows");
  REJECT(sc_batchnorm_backward(2, 2, o, (sc_grad_write)2, o + 4, o + 6, a, b, b, b, 1e-5f, b, NULL, 0),
         "bn_backward write mode 2");
  REJECT(sc_batchnorm_add_relu_forward(2, 2, a, o, b, b, 1e-5f, b, b, o), "bn_add_relu output over the residual");
  REJECT(sc_batchnorm_add_relu_forward(2, 2, a, NULL, b, b, 1e-5f, b, b, o), "bn_add_relu null residual");
  REJECT(sc_batchnorm_add_relu_forward(2, 2, a, b, b, b, 0.0f, b, b, o), "bn_add_relu eps 0");
  REJECT(sc_batchnorm_add_relu_backward(2, 2, o, SC_GRAD_SET, o + 4, (sc_grad_write)2, o, o + 2, a, b, b, b, b,
                                        1e-5f, b),
         "bn_add_relu_backward residual write mode 2");
  REJECT(sc_batchnorm_add_relu_backward(2, 2, o, SC_GRAD_SET, o + 4, SC_GRAD_SET, o, o + 2, a, NULL, b, b, b,
                                        1e-5f, b),
         "bn_add_relu_backward null output");
  sc_pool2d_shape s = {.n = 1, .h = 2, .w = 2, .c = 2, .kh = 2, .kw = 2, .stride_h = 1, .stride_w = 1};
  int64_t oh = -7, ow = -7;
  SC_ASSERT(sc_pool2d_out_size(&s, &oh, &ow) == SC_OK && oh == 1 && ow == 1, "2x2 window on 2x2 input");
  s.pad_h = 2;
  REJECT(sc_maxpool2d_forward(&s, a, o), "maxpool pad >= window");
  s.pad_h = 0, s.stride_w = 0;
  REJECT(sc_maxpool2d_forward(&s, a, o), "maxpool stride 0");
  s.stride_w = 1, s.kh = 3;
  REJECT(sc_maxpool2d_forward(&s, a, o), "maxpool window larger than input");
  s.kh = 2, s.c = -1;
  REJECT(sc_maxpool2d_backward(&s, o, SC_GRAD_ADD, a, a, b), "maxpool negative c");
  s.c = 2;
  REJECT(sc_maxpool2d_backward(&s, o, SC_GRAD_ADD, NULL, a, b), "maxpool_backward null dy");
  REJECT(sc_maxpool2d_backward(&s, o, (sc_grad_write)2, a, a, b), "maxpool_backward write mode 2");
  REJECT(sc_maxpool2d_forward(NULL, a, o), "maxpool null shape");
  sc_pool2d_shape big = {.n = 1, .h = 1, .w = 1, .c = 1, .kh = INT64_MAX / 64, .kw = INT64_MAX / 64, .stride_h = 1,
                         .stride_w = 1, .pad_h = INT64_MAX / 64 - 1, .pad_w = INT64_MAX / 64 - 1};
  REJECT(sc_maxpool2d_forward(&big, a, o), "maxpool output size overflows");
  REJECT(sc_avgpool_global_forward(1, 0, 2, 2, a, o), "avgpool empty image");
  REJECT(sc_avgpool_global_forward(1, 2, 2, 2, NULL, o), "avgpool null x");
  REJECT(sc_avgpool_grid_forward(1, 2, 2, 2, 3, 1, a, o, 8), "avgpool_grid more cells than rows");
  REJECT(sc_avgpool_grid_forward(1, 2, 2, 2, 1, 0, a, o, 8), "avgpool_grid no cells");
  REJECT(sc_avgpool_grid_forward(1, 2, 2, 2, 2, 2, a, o, 7), "avgpool_grid output stride below a row");
  REJECT(sc_avgpool_grid_forward(1, 2, 2, 2, 1, 1, a, NULL, 2), "avgpool_grid null y");
  REJECT(sc_avgpool_global_backward(1, 2, -2, 2, o, SC_GRAD_ADD, a), "avgpool_backward negative w");
  REJECT(sc_avgpool_global_backward(1, 2, 2, 2, o, (sc_grad_write)2, a), "avgpool_backward write mode 2");
  /* empty tensors are fine and touch nothing */
  SC_ASSERT(sc_relu_forward(0, NULL, NULL) == SC_OK && sc_add(0, NULL, NULL, NULL) == SC_OK &&
                sc_bias_add_backward(0, 2, o, NULL) == SC_OK &&
                sc_batchnorm_apply(0, 2, a, b, b, 1e-5f, b, b, 1, o) == SC_OK,
            "empty tensors rejected: %s", sc_last_error());
  UNTOUCHED("empty tensors");
#undef REJECT
#undef UNTOUCHED
}
