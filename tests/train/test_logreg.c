/* test_logreg.c: the multinomial logistic regression of the linear probe (src/train/logreg): its gradient against
 * central finite differences, the same bits on one thread and two, its optimum against a case solved independently
 * here (a symmetric two-class problem whose optimum is the root of a scalar equation, found by bisection), accuracy
 * on well-separated clusters, the top-k helper on hand-made scores, refusal of bad labels, and the cross-validated
 * choice of the L2 weight. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "testutil.h"
#include "train/logreg.h"

/* The objective's gradient at a random point (seed) against central differences: truncation error ~ h^2 |f'''| ~
 * 1e-10, rounding ~ 1e-16 / h ~ 1e-11, both far below 1e-6. */
static void check_gradient(int n, int d, int k, double l2, uint64_t seed) {
  sc_test_rng r = {seed};
  float *x = malloc(sizeof(float) * (size_t)(n * d));
  int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
  const int p = k * d + k;
  double *th = malloc(sizeof(double) * (size_t)p), *g = malloc(sizeof(double) * (size_t)p);
  sc_test_fill(&r, x, (size_t)(n * d), -2, 2);
  for (int i = 0; i < n; i++) y[i] = (int32_t)sc_test_int(&r, 0, k - 1);
  for (int t = 0; t < p; t++) th[t] = sc_test_uniform(&r, -1, 1);
  double f = sc_logreg_objective(x, y, n, d, k, l2, th, g);
  SC_ASSERT(isfinite(f) && f > 0, "objective %g at a random point (seed %llu)", f, (unsigned long long)seed);
  const double h = 1e-5;
  for (int t = 0; t < p; t++) {
    double save = th[t];
    th[t] = save + h;
    double fp = sc_logreg_objective(x, y, n, d, k, l2, th, NULL);
    th[t] = save - h;
    double fm = sc_logreg_objective(x, y, n, d, k, l2, th, NULL);
    th[t] = save;
    double fd = (fp - fm) / (2 * h);
    SC_ASSERT(fabs(fd - g[t]) <= 1e-6 * (1 + fabs(fd)), "n=%d d=%d k=%d l2=%g seed %llu: d f / d theta[%d] is %.10g, "
              "finite differences say %.10g", n, d, k, l2, (unsigned long long)seed, t, g[t], fd);
  }
  free(x), free(y), free(th), free(g);
}

/* A few features (one block of the gradient's columns), and 150 (ten blocks of 16, the last one of 6) */
SC_TEST(logreg, gradient_matches_finite_differences) {
  check_gradient(23, 7, 4, 0.05, 101);
  check_gradient(61, 150, 3, 0.01, 102);
}

/* The objective and its gradient are each one sum per entry in a fixed order: one and two threads must agree to
 * the bit, and so must the fits. */
SC_TEST(logreg, same_bits_on_any_thread_count) {
  enum { N = 500, D = 150, K = 5 };
  sc_test_rng r = {103};
  float *x = malloc(sizeof(float) * N * D);
  int32_t y[N];
  sc_test_fill(&r, x, N * D, -2, 2);
  for (int i = 0; i < N; i++) y[i] = (int32_t)sc_test_int(&r, 0, K - 1), x[i * D + y[i]] += 1.0f;
  static double th[K * D + K], g[2][K * D + K];
  double f[2];
  for (int t = 0; t < K * D + K; t++) th[t] = sc_test_uniform(&r, -0.1f, 0.1f);
  sc_logreg m[2];
  for (int v = 0; v < 2; v++) {
    SC_ASSERT(sc_set_num_threads(v + 1) == SC_OK, "threads: %s", sc_last_error());
    f[v] = sc_logreg_objective(x, y, N, D, K, 1e-3, th, g[v]);
    SC_ASSERT(sc_logreg_fit(x, y, N, D, K, NULL, &m[v]) == SC_OK, "fit on %d threads: %s", v + 1, sc_last_error());
  }
  SC_ASSERT(memcmp(&f[0], &f[1], sizeof f[0]) == 0 && memcmp(g[0], g[1], sizeof g[0]) == 0,
            "objective %.17g (1 thread) and %.17g (2 threads), or their gradients, differ", f[0], f[1]);
  SC_ASSERT(m[0].iters == m[1].iters && memcmp(m[0].w, m[1].w, sizeof(float) * K * D) == 0 &&
            memcmp(m[0].b, m[1].b, sizeof(float) * K) == 0, "the fits differ (%d and %d iterations)", m[0].iters,
            m[1].iters);
  sc_logreg_free(&m[0]), sc_logreg_free(&m[1]);
  free(x);
}

/* The symmetric problem: x = +1 (m samples, a fraction q of them labelled 0, the rest 1) and x = -1 (m samples, a
 * fraction q labelled 1). By symmetry the optimum has b = 0 and w1 = -w0 = a, where a solves
 *   f'(a) = -2(1-q) sigma(-2a) + 2q sigma(2a) + 2 l2 a = 0. */
static double sigma(double z) { return 1 / (1 + exp(-z)); }
static double dfa(double a, double q, double l2) {
  return -2 * (1 - q) * sigma(-2 * a) + 2 * q * sigma(2 * a) + 2 * l2 * a;
}

SC_TEST(logreg, reaches_the_known_optimum) {
  enum { M = 50 };
  const double q = 0.2, l2 = 0.01;
  float x[2 * M];
  int32_t y[2 * M];
  for (int i = 0; i < M; i++) {
    x[i] = 1.0f, y[i] = i < (int)(q * M) ? 0 : 1;
    x[M + i] = -1.0f, y[M + i] = i < (int)(q * M) ? 1 : 0;
  }
  double lo = 0, hi = 50; /* f'(0) < 0 < f'(50) */
  for (int it = 0; it < 200; it++) {
    double mid = 0.5 * (lo + hi);
    if (dfa(mid, q, l2) < 0) lo = mid;
    else hi = mid;
  }
  const double a = 0.5 * (lo + hi);
  sc_logreg_options o = sc_logreg_defaults();
  o.l2 = l2, o.standardize = 0, o.tol = 1e-9;
  sc_logreg m;
  SC_ASSERT(sc_logreg_fit(x, y, 2 * M, 1, 2, &o, &m) == SC_OK, "fit: %s", sc_last_error());
  SC_LOG("optimum a = %.8f; fitted w0 %.8f w1 %.8f b %.3g %.3g after %d iterations", a, m.w[0], m.w[1], m.b[0],
         m.b[1], m.iters);
  /* the fit stops at a gradient of 1e-9; a is found to 1e-14: float storage of w (2^-24 relative) dominates */
  SC_ASSERT(fabs(m.w[1] - a) <= 1e-5 * a && fabs(m.w[0] + a) <= 1e-5 * a,
            "q=%g l2=%g: fitted w = (%.8f, %.8f), the optimum is (%.8f, %.8f)", q, l2, m.w[0], m.w[1], -a, a);
  SC_ASSERT(fabs(m.b[0]) < 1e-5 && fabs(m.b[1]) < 1e-5, "q=%g l2=%g: biases %g %g, the optimum has 0", q, l2, m.b[0],
            m.b[1]);
  sc_logreg_free(&m);
  /* with standardisation the fitted model, folded back to raw features, has the same predictions */
  o.standardize = 1;
  SC_ASSERT(sc_logreg_fit(x, y, 2 * M, 1, 2, &o, &m) == SC_OK, "fit: %s", sc_last_error());
  float s[4 * M];
  SC_ASSERT(sc_logreg_scores(&m, x, 2 * M, s) == SC_OK, "scores: %s", sc_last_error());
  double top1;
  sc_topk_accuracy(s, y, 2 * M, 2, &top1, NULL);
  SC_ASSERT(fabs(top1 - (1 - q)) < 1e-12, "standardised fit: accuracy %g, the Bayes rule gets %g", top1, 1 - q);
  sc_logreg_free(&m);
}

SC_TEST(logreg, separates_clusters) {
  enum { N = 300, D = 16, K = 5 };
  sc_test_rng r = {7};
  float centers[K][D];
  for (int c = 0; c < K; c++)
    for (int j = 0; j < D; j++) centers[c][j] = sc_test_uniform(&r, -6, 6);
  float *x = malloc(sizeof(float) * 2 * N * D);
  int32_t y[2 * N];
  for (int i = 0; i < 2 * N; i++) {
    y[i] = i % K;
    for (int j = 0; j < D; j++) x[i * D + j] = centers[y[i]][j] + sc_test_uniform(&r, -1, 1) + 50.0f * (j == 3);
  }
  sc_logreg m;
  SC_ASSERT(sc_logreg_fit(x, y, N, D, K, NULL, &m) == SC_OK, "fit: %s", sc_last_error());
  float *s = malloc(sizeof(float) * N * K);
  double tr1, te1, te5;
  sc_logreg_scores(&m, x, N, s);
  sc_topk_accuracy(s, y, N, K, &tr1, NULL);
  sc_logreg_scores(&m, x + N * D, N, s);
  sc_topk_accuracy(s, y + N, N, K, &te1, &te5);
  /* centres drawn in [-6,6]^16 lie several units apart, the noise is at most 1 per coordinate: the classes are
   * linearly separable with a wide margin, so anything below perfect is a bug (the constant offset on feature 3
   * checks that standardisation folds back correctly) */
  SC_ASSERT(tr1 == 1.0 && te1 == 1.0 && te5 == 1.0, "seed 7 n=%d d=%d k=%d: train %.3f test %.3f top-5 %.3f", N, D, K,
            tr1, te1, te5);
  SC_ASSERT(m.iters < 500, "took %d iterations", m.iters);
  sc_logreg_free(&m);
  free(x), free(s);
}

/* More features than samples: the fit in the samples' span (reduce, the default) must land on the optimum the fit
 * over all d features finds. Five samples repeat others and the centring removes one more dimension, so the span is
 * smaller than n and the pivoted factorisation must drop those. Both fits stop at a gradient below 1e-8 on an
 * objective that is l2 = 0.1 strongly convex, so each W is within 1e-7 * sqrt(k*d) ~ 4e-6 of the optimum; float
 * coordinates in the span perturb the problem by about 1e-7 relative. A wrong basis or a wrong map back would be
 * off by the size of W itself; 1e-4 of W's largest entry separates the two. */
SC_TEST(logreg, fits_more_features_than_samples_in_their_span) {
  enum { N = 40, D = 300, K = 4 };
  sc_test_rng r = {31};
  float *x = malloc(sizeof(float) * N * D);
  int32_t y[N];
  for (int i = 0; i < N; i++) {
    y[i] = i % K;
    for (int j = 0; j < D; j++) x[i * D + j] = sc_test_uniform(&r, -1, 1) + 0.3f * (j % K == y[i]) + 4.0f * (j == 7);
  }
  for (int i = 0; i < 5; i++) /* samples 35..39 repeat samples 3..7 (same class: i % K alike) */
    memcpy(x + (N - 5 + i) * D, x + (3 + i + 4 * 8) % (N - 5) * D, sizeof(float) * D),
        y[N - 5 + i] = y[(3 + i + 4 * 8) % (N - 5)];
  sc_logreg_options o = sc_logreg_defaults();
  o.l2 = 0.1, o.tol = 1e-8, o.max_iter = 5000;
  sc_logreg red, full;
  SC_ASSERT(sc_logreg_fit(x, y, N, D, K, &o, &red) == SC_OK, "reduced fit: %s", sc_last_error());
  o.reduce = 0;
  SC_ASSERT(sc_logreg_fit(x, y, N, D, K, &o, &full) == SC_OK, "full fit: %s", sc_last_error());
  SC_ASSERT(red.converged && full.converged, "converged: reduced %d (%d iterations), full %d (%d iterations)",
            red.converged, red.iters, full.converged, full.iters);
  double wmax = 0, err = 0;
  for (int t = 0; t < K * D; t++) {
    wmax = fmax(wmax, fabs(full.w[t]));
    err = fmax(err, fabs(red.w[t] - full.w[t]));
  }
  for (int c = 0; c < K; c++) err = fmax(err, fabs(red.b[c] - full.b[c]));
  SC_LOG("reduced fit %d iterations, full %d; largest weight %.4g, largest difference %.3g", red.iters, full.iters,
         wmax, err);
  SC_ASSERT(wmax > 0.01 && err <= 1e-4 * wmax, "seed 31 n=%d d=%d k=%d: the fits differ by %.3g (largest weight %.4g)",
            N, D, K, err, wmax);
  SC_ASSERT(fabs(red.loss - full.loss) <= 1e-6 * full.loss, "objective %.10g (reduced) against %.10g", red.loss,
            full.loss);
  sc_logreg_free(&red), sc_logreg_free(&full);
  /* samples that are all alike leave an empty span: the fit is the biases alone, the classes' log frequencies */
  for (int t = 0; t < 6 * D; t++) x[t] = 2.5f;
  const int32_t y6[6] = {0, 1, 1, 2, 2, 2};
  o = sc_logreg_defaults();
  o.l2 = 0.1, o.tol = 1e-8;
  SC_ASSERT(sc_logreg_fit(x, y6, 6, D, 3, &o, &red) == SC_OK, "fit on identical samples: %s", sc_last_error());
  float sc[3];
  SC_ASSERT(sc_logreg_scores(&red, x, 1, sc) == SC_OK, "scores: %s", sc_last_error());
  /* softmax(b) = (1/6, 2/6, 3/6): b differences are log 2 and log 1.5, to the fit's tolerance */
  SC_ASSERT(fabs(sc[1] - sc[0] - log(2.0)) < 1e-5 && fabs(sc[2] - sc[1] - log(1.5)) < 1e-5,
            "identical samples: scores %g %g %g, want differences log 2 and log 1.5", sc[0], sc[1], sc[2]);
  sc_logreg_free(&red);
  free(x);
}

SC_TEST(logreg, topk_accuracy_by_hand) {
  /* 3 samples, 6 classes: sample 0 ranks its class first, sample 1 third, sample 2 sixth */
  const float s[18] = {9, 1, 2, 3, 4, 5, /**/ 1, 2, 3, 9, 8, 0, /**/ 6, 5, 4, 3, 2, 1};
  const int32_t y[3] = {0, 2, 5};
  double t1, t5;
  sc_topk_accuracy(s, y, 3, 6, &t1, &t5);
  SC_ASSERT(fabs(t1 - 1.0 / 3) < 1e-12 && fabs(t5 - 2.0 / 3) < 1e-12, "top-1 %g (want 1/3), top-5 %g (want 2/3)", t1,
            t5);
}

SC_TEST(logreg, refuses_bad_labels_and_nonfinite_features) {
  float x[4] = {0, 1, 2, 3};
  int32_t y[4] = {0, 1, 2, 1};
  sc_logreg m;
  SC_ASSERT(sc_logreg_fit(x, y, 4, 1, 2, NULL, &m) == SC_EINVAL, "label 2 with 2 classes was accepted");
  SC_ASSERT(strstr(sc_last_error(), "label 2") != NULL, "message '%s' does not name the label", sc_last_error());
  y[2] = 0;
  x[1] = NAN;
  SC_ASSERT(sc_logreg_fit(x, y, 4, 1, 2, NULL, &m) == SC_ENUMERIC, "a NaN feature was accepted");
}

/* held-out top-1 of one l2 by the folds the header promises (rank within the class mod folds), written out here */
static double cv_top1_by_hand(const float *x, const int32_t *y, int n, int d, int k, int folds, double l2) {
  int hits = 0, rank[64] = {0}, fold[256];
  for (int i = 0; i < n; i++) fold[i] = rank[y[i]]++ % folds;
  float *xf = malloc(sizeof(float) * (size_t)(n * d)), s[16];
  int32_t *yf = malloc(sizeof(int32_t) * (size_t)n);
  for (int f = 0; f < folds; f++) {
    int nf = 0;
    for (int i = 0; i < n; i++)
      if (fold[i] != f) memcpy(xf + nf * d, x + i * d, sizeof(float) * (size_t)d), yf[nf++] = y[i];
    sc_logreg_options o = sc_logreg_defaults();
    o.l2 = l2;
    sc_logreg m;
    if (sc_logreg_fit(xf, yf, nf, d, k, &o, &m) != SC_OK) return -1;
    for (int i = 0; i < n; i++) {
      if (fold[i] != f) continue;
      double t1;
      sc_logreg_scores(&m, x + i * d, 1, s);
      sc_topk_accuracy(s, y + i, 1, k, &t1, NULL);
      hits += t1 == 1.0;
    }
    sc_logreg_free(&m);
  }
  free(xf), free(yf);
  return (double)hits / n;
}

SC_TEST(logreg, cross_validation_chooses_the_best_held_out_l2) {
  /* 75 samples of 3 unequal classes (35, 25, 15), 30 features: feature 0 carries the class, the rest is noise, so
   * the held-out accuracy depends on the weight. Each weight's cross-validated accuracy is recomputed here with
   * folds written independently; the choice must be the best of them, the stronger one on a tie. */
  enum { N = 75, D = 30, K = 3, FOLDS = 5 };
  sc_test_rng r = {31};
  float *x = malloc(sizeof(float) * N * D);
  int32_t y[N];
  for (int i = 0; i < N; i++) {
    y[i] = i < 35 ? 0 : i < 60 ? 1 : 2;
    for (int j = 0; j < D; j++) x[i * D + j] = (j == 0 ? (float)y[i] : 0.0f) + sc_test_uniform(&r, -1.0f, 1.0f);
  }
  const double grid[] = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  double l2 = 0, acc = -1, want_l2 = 0, want = -1;
  for (int g = 0; g < 5; g++) {
    double a = cv_top1_by_hand(x, y, N, D, K, FOLDS, grid[g]);
    SC_LOG("seed 31: l2 %g held-out top-1 %.4f", grid[g], a);
    if (a >= want) want = a, want_l2 = grid[g];
  }
  SC_ASSERT(sc_logreg_choose_l2(x, y, N, D, K, grid, 5, FOLDS, NULL, &l2, &acc) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(l2 == want_l2 && fabs(acc - want) < 1e-12, "chose l2 %g (top-1 %.4f), the folds say %g (%.4f)", l2, acc,
            want_l2, want);
  int32_t bad[N];
  memcpy(bad, y, sizeof bad);
  bad[7] = 3;
  SC_ASSERT(sc_logreg_choose_l2(x, bad, N, D, K, grid, 5, FOLDS, NULL, &l2, &acc) == SC_EINVAL, "label 3 accepted");
  SC_ASSERT(sc_logreg_choose_l2(x, y, N, D, K, grid, 5, 1, NULL, &l2, &acc) == SC_EINVAL, "one fold accepted");
  free(x);
}
