/* test_ntxent.c: sc_ntxent (NT-Xent loss and gradient) on every ISA against a double-precision reference written
 * here the plain way (explicit softmax matrix, explicit G + G^T), against central finite differences of that
 * reference, through invariances that a wrong implementation breaks (identical views, scale, sample order, view
 * order, thread count), and argument validation. Both of the driver's paths are covered: the triangle one
 * (tau >= 1/32, S's upper triangle in blocks: one block below 2N = 128, three at 2N = 130, and at 2N = 1100
 * blocks of 80 with a ragged last one of 60) and the whole-matrix one (smaller tau). The reference shares no code
 * with src/ops/ntxent.c.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "simclr_ops.h"
#include "test.h"
#include "testutil.h"

#define NORM_EPS 1e-12 /* torch.nn.functional.normalize's eps, which sc_ntxent follows */

/* The loss of z (n = 2N rows of d) in double; if dz, also the gradient. If hout is not NULL it receives the sizes
 * of the terms that make up H = G + G^T, |G_ij| + |G_ji| before cancellation: (P_ij + P_ji + 2 [j = pos(i)]) / n,
 * the scale of the rounding errors an fp32 implementation makes in H. */
static double ref_ntxent(size_t n, size_t d, double tau, const double *z, double *dz, double *hout) {
  double *zn = malloc(n * d * sizeof *zn), *r = malloc(n * sizeof *r), *p = malloc(n * n * sizeof *p);
  double *lse = malloc(n * sizeof *lse);
  for (size_t i = 0; i < n; i++) {
    double ss = 0;
    for (size_t c = 0; c < d; c++) ss += z[i * d + c] * z[i * d + c];
    r[i] = sqrt(ss);
    for (size_t c = 0; c < d; c++) zn[i * d + c] = z[i * d + c] / fmax(r[i], NORM_EPS);
  }
  double loss = 0;
  for (size_t i = 0; i < n; i++) {
    double m = -INFINITY;
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t c = 0; c < d; c++) s += zn[i * d + c] * zn[j * d + c];
      p[i * n + j] = s / tau;
      if (j != i && p[i * n + j] > m) m = p[i * n + j];
    }
    double sum = 0;
    for (size_t j = 0; j < n; j++)
      if (j != i) sum += exp(p[i * n + j] - m);
    lse[i] = m + log(sum);
    loss += lse[i] - p[i * n + (i + n / 2) % n];
  }
  loss /= (double)n;
  if (dz) {
    if (hout)
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
          hout[i * n + j] = j == i ? 0.0
                                   : (exp(p[i * n + j] - lse[i]) + exp(p[j * n + i] - lse[j]) +
                                      (j == (i + n / 2) % n ? 2.0 : 0.0)) / (double)n;
    /* G = (softmax - onehot(pos)) / n with the diagonal excluded, in place of the logits */
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        p[i * n + j] = j == i ? 0.0 : (exp(p[i * n + j] - lse[i]) - (j == (i + n / 2) % n ? 1.0 : 0.0)) / (double)n;
    for (size_t k = 0; k < n; k++) {
      double *g = dz + k * d, dot = 0;
      for (size_t c = 0; c < d; c++) {
        double acc = 0;
        for (size_t j = 0; j < n; j++) acc += (p[k * n + j] + p[j * n + k]) * zn[j * d + c];
        g[c] = acc / tau;
        dot += g[c] * zn[k * d + c];
      }
      for (size_t c = 0; c < d; c++)
        g[c] = r[k] > NORM_EPS ? (g[c] - zn[k * d + c] * dot) / r[k] : g[c] / NORM_EPS;
    }
  }
  free(zn), free(r), free(p), free(lse);
  return loss;
}

/* Bounds on the fp32 result's error. Normalised rows make every entry of S a dot product of unit vectors scaled by
 * 1/tau; its rounding error, for data like ours (random signs), grows like sqrt(d) u rather than the worst case
 * d u (probabilistic rounding analysis, Higham & Mary 2019), plus a few u for the normalisation and the scaling:
 * |dS| ~ (sqrt(d) + 4) u / tau. The loss moves by at most 2 |dS| (the lse and the positive logit) plus its own
 * rounding. A gradient row k is (1/r_k)(1/tau) sum_j H_kj Zn_j, projected: its error is bounded by (1/r_k)(1/tau)
 * sum_j (|G_kj| + |G_jk|) times the relative error of those terms (exp turns |dS| into a relative error, for
 * P_ij and P_ji, plus the lse) plus the rounding of the 2N-long and d-long sums. Factor 2 of margin; the errors
 * measured on every ISA stay below 3% of these bounds, and a 0.05% error in H (a scale of 1.0005) fails them. */
static double loss_tol(size_t d, double tau, double loss) {
  return 2.0 * (2.0 * (sqrt((double)d) + 4) * FLT_EPSILON / tau + 2.0 * FLT_EPSILON * fabs(loss));
}
static double grad_row_tol(size_t n, size_t d, double tau, const double *h, const double *z, size_t k) {
  double habs = 0, ss = 0;
  for (size_t j = 0; j < n; j++) habs += fabs(h[k * n + j]);
  for (size_t c = 0; c < d; c++) ss += z[k * d + c] * z[k * d + c];
  double rel = (3.0 * (sqrt((double)d) + 4) / tau + sqrt((double)n) + sqrt((double)d) + 8.0) * FLT_EPSILON;
  return 2.0 * habs * rel / (tau * fmax(sqrt(ss), NORM_EPS)) + 1e-30;
}

typedef struct run_result { float loss; float *dz; } run_result;

/* Fills z: uniform in [-1, 1], and when correlated the second view is the first plus noise (a trained encoder's
 * situation: positives far more similar than negatives). */
static void fill_z(sc_test_rng *r, float *z, size_t n, size_t d, int correlated) {
  sc_test_fill(r, z, n * d, -1.0f, 1.0f);
  if (correlated)
    for (size_t i = n / 2; i < n; i++)
      for (size_t c = 0; c < d; c++) z[i * d + c] = z[(i - n / 2) * d + c] + sc_test_uniform(r, -0.2f, 0.2f);
}

/* Runs sc_ntxent and the reference on z and asserts the loss and the gradient agree within the bounds above. */
static void check_against_reference(const sc_kernels *k, const float *z, size_t n, size_t d, float tau,
                                    const char *what, unsigned long long seed) {
  double *zd = malloc(n * d * sizeof *zd), *gref = malloc(n * d * sizeof *gref), *h = malloc(n * n * sizeof *h);
  for (size_t i = 0; i < n * d; i++) zd[i] = z[i];
  double lref = ref_ntxent(n, d, tau, zd, gref, h);
  float *dz = sc_test_alloc(n * d, seed % 3), loss = -1.0f, loss_only = -2.0f;
  sc_status st = sc_ntxent((int64_t)n, (int64_t)d, tau, z, &loss, dz);
  SC_ASSERT(st == SC_OK, "isa=%s 2N=%zu d=%zu tau=%g %s seed=%llu: %s", k->name, n, d, (double)tau, what, seed,
            sc_last_error());
  SC_ASSERT(fabs(loss - lref) <= loss_tol(d, tau, lref),
            "isa=%s 2N=%zu d=%zu tau=%g %s seed=%llu: loss %.9g, reference %.12g (tol %.3g)", k->name, n, d,
            (double)tau, what, seed, (double)loss, lref, loss_tol(d, tau, lref));
  for (size_t i = 0; i < n; i++) {
    double tol = grad_row_tol(n, d, tau, h, zd, i);
    for (size_t c = 0; c < d; c++)
      SC_ASSERT(fabs(dz[i * d + c] - gref[i * d + c]) <= tol,
                "isa=%s 2N=%zu d=%zu tau=%g %s seed=%llu: dz[%zu][%zu] = %.9g, reference %.12g (tol %.3g)", k->name,
                n, d, (double)tau, what, seed, i, c, (double)dz[i * d + c], gref[i * d + c], tol);
  }
  /* the forward-only call gives the same loss, bit for bit */
  st = sc_ntxent((int64_t)n, (int64_t)d, tau, z, &loss_only, NULL);
  SC_ASSERT(st == SC_OK && loss_only == loss, "isa=%s 2N=%zu d=%zu tau=%g %s seed=%llu: loss without dz %.9g, with "
            "dz %.9g", k->name, n, d, (double)tau, what, seed, (double)loss_only, (double)loss);
  sc_test_free(dz);
  free(zd), free(gref), free(h);
}

SC_ISA_TEST(ntxent, matches_double_reference) {
  static const size_t ns[] = {2, 4, 6, 34, 130}, ds[] = {1, 3, 16, 128};
  static const float taus[] = {0.1f, 0.5f, 1.0f};
  unsigned long long seed = 1;
  for (size_t a = 0; a < 5; a++)
    for (size_t b = 0; b < 4; b++)
      for (size_t t = 0; t < 3; t++, seed++) {
        const size_t n = ns[a], d = ds[b];
        sc_test_rng r = {seed};
        float *z = sc_test_alloc(n * d, seed % 4);
        fill_z(&r, z, n, d, (int)(seed & 1));
        check_against_reference(k, z, n, d, taus[t], seed & 1 ? "correlated views" : "random views", seed);
        sc_test_free(z);
      }
}

SC_ISA_TEST(ntxent, many_blocks_match_double_reference) {
  /* 2N = 1100: the triangle's blocks are 80 wide, the last 60, so column sums cross thirteen block rows and the
   * copies to the lower triangle end in a part-filled group of rows */
  static const float taus[] = {0.07f, 0.5f};
  for (size_t t = 0; t < 2; t++) {
    const size_t n = 1100, d = 24;
    sc_test_rng r = {700 + t};
    float *z = sc_test_alloc(n * d, t);
    fill_z(&r, z, n, d, (int)t);
    check_against_reference(k, z, n, d, taus[t], t ? "correlated views" : "random views", 700 + t);
    sc_test_free(z);
  }
}

SC_ISA_TEST(ntxent, small_tau_general_path) {
  /* below tau = 1/32 the driver switches from the fixed-shift path to the max-subtracting one; both sides of the
   * switch, and temperatures where e^(1/tau) overflows fp32 (tau = 0.01: S up to 100), against the reference */
  static const float taus[] = {0.04f, 0.03125f, 0.031f, 0.01f};
  static const size_t ns[] = {4, 34, 130}, ds[] = {3, 128};
  unsigned long long seed = 500;
  for (size_t t = 0; t < 4; t++)
    for (size_t a = 0; a < 3; a++)
      for (size_t b = 0; b < 2; b++, seed++) {
        sc_test_rng r = {seed};
        float *z = sc_test_alloc(ns[a] * ds[b], 1);
        fill_z(&r, z, ns[a], ds[b], (int)(seed & 1));
        check_against_reference(k, z, ns[a], ds[b], taus[t], seed & 1 ? "correlated views" : "random views", seed);
        sc_test_free(z);
      }
}

SC_ISA_TEST(ntxent, zero_and_tiny_rows) {
  /* a zero row and a row below eps take the other branch of the normalisation's derivative (divide by eps) */
  const size_t n = 6, d = 5;
  sc_test_rng r = {77};
  float *z = sc_test_alloc(n * d, 1);
  fill_z(&r, z, n, d, 1);
  for (size_t c = 0; c < d; c++) z[1 * d + c] = 0.0f;
  for (size_t c = 0; c < d; c++) z[4 * d + c] = 1e-14f * (float)(c + 1);
  check_against_reference(k, z, n, d, 0.5f, "rows 1 zero and 4 below eps", 77);
  sc_test_free(z);
}

SC_ISA_TEST(ntxent, gradient_matches_finite_differences) {
  static const struct { size_t n, d; float tau; } cases[] = {{2, 3, 0.5f}, {4, 3, 0.5f}, {6, 2, 0.2f}, {4, 5, 1.0f}};
  for (size_t ci = 0; ci < 4; ci++) {
    const size_t n = cases[ci].n, d = cases[ci].d;
    const double tau = cases[ci].tau;
    sc_test_rng r = {300 + ci};
    float *z = sc_test_alloc(n * d, 2), *dz = sc_test_alloc(n * d, 1), loss;
    double *zd = malloc(n * d * sizeof *zd), *gref = malloc(n * d * sizeof *gref), *h = malloc(n * n * sizeof *h);
    fill_z(&r, z, n, d, (int)(ci & 1));
    for (size_t i = 0; i < n * d; i++) zd[i] = z[i];
    ref_ntxent(n, d, tau, zd, gref, h);
    SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, cases[ci].tau, z, &loss, dz) == SC_OK, "%s", sc_last_error());
    for (size_t i = 0; i < n * d; i++) {
      /* central difference with step 1e-5 in double: truncation ~ h^2 |L'''| / 6 <~ 1e-10 / tau^3, rounding
       * ~ 1e-16 |L| / h ~ 1e-11; 1e-7 relative is far above both yet far below any real mistake */
      const double step = 1e-5, keep = zd[i];
      zd[i] = keep + step;
      double lp = ref_ntxent(n, d, tau, zd, NULL, NULL);
      zd[i] = keep - step;
      double lm = ref_ntxent(n, d, tau, zd, NULL, NULL);
      zd[i] = keep;
      double fd = (lp - lm) / (2 * step);
      SC_ASSERT(fabs(fd - gref[i]) <= 1e-7 * (1.0 + fabs(fd)) / (tau * tau * tau),
                "reference gradient: 2N=%zu d=%zu tau=%g z[%zu]: analytic %.12g, finite difference %.12g", n, d, tau,
                i, gref[i], fd);
      double tol = grad_row_tol(n, d, tau, h, zd, i / d) + 1e-7 * (1.0 + fabs(fd)) / (tau * tau * tau);
      SC_ASSERT(fabs(dz[i] - fd) <= tol,
                "isa=%s 2N=%zu d=%zu tau=%g seed=%zu z[%zu]: dz %.9g, finite difference %.12g (tol %.3g)", k->name,
                n, d, tau, 300 + ci, i, (double)dz[i], fd, tol);
    }
    sc_test_free(z), sc_test_free(dz);
    free(zd), free(gref), free(h);
  }
}

SC_ISA_TEST(ntxent, identical_views_at_low_tau_give_small_loss) {
  /* N orthogonal samples, each seen twice at different lengths: after normalisation S_pos = 1/tau, every
   * negative is 0, so loss = log(1 + (2N - 2) e^(-1/tau)) exactly; at tau = 0.05 that is ~3e-8 */
  const size_t half = 8, n = 2 * half, d = 16;
  const float tau = 0.05f;
  float *z = sc_test_alloc(n * d, 0), *dz = sc_test_alloc(n * d, 0), loss = -1.0f;
  for (size_t i = 0; i < n * d; i++) z[i] = 0.0f;
  for (size_t i = 0; i < half; i++) {
    z[i * d + i] = 5.0f + (float)i;
    z[(i + half) * d + i] = 0.5f * (float)(i + 1);
  }
  SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, tau, z, &loss, dz) == SC_OK, "%s", sc_last_error());
  const double want = log1p((double)(n - 2) * exp(-1.0 / (double)tau));
  /* S entries are exact here (0 and 1/tau), so only the exponential and the log's rounding remain: 1e-5 rel */
  SC_ASSERT(loss >= 0.0f && fabs(loss - want) <= 1e-5 * want, "isa=%s 2N=%zu d=%zu tau=%g: loss %.9g, want %.9g",
            k->name, n, d, (double)tau, (double)loss, want);
  float gmax = 0.0f;
  for (size_t i = 0; i < n * d; i++) gmax = fmaxf(gmax, fabsf(dz[i]));
  SC_ASSERT(gmax < 1e-6f, "isa=%s: identical views should give a near-zero gradient, max |dz| = %g", k->name,
            (double)gmax);
  /* the general path (tau < 1/32) on the same batch: want = log1p(14 e^-50) ~ 3e-21 is below the double rounding
   * of lse = m + log(1 + 3e-21), so the loss is 0 up to that rounding */
  SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, 0.02f, z, &loss, dz) == SC_OK && loss >= 0.0f && loss < 1e-12f,
            "isa=%s tau=0.02: loss %g, want ~3e-21", k->name, (double)loss);
  /* and the same batch at a high temperature is far from converged: the loss is large */
  SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, 1.0f, z, &loss, NULL) == SC_OK && loss > 1.0f,
            "isa=%s tau=1: loss %g, expected > 1", k->name, (double)loss);
  sc_test_free(z), sc_test_free(dz);
}

SC_ISA_TEST(ntxent, invariances) {
  const size_t half = 17, n = 2 * half, d = 24;
  const float tau = 0.2f;
  sc_test_rng r = {4242};
  float *z = sc_test_alloc(n * d, 1), *z2 = sc_test_alloc(n * d, 2);
  float *dz = sc_test_alloc(n * d, 0), *dz2 = sc_test_alloc(n * d, 3), loss, loss2;
  double *zd = malloc(n * d * sizeof *zd), *g = malloc(n * d * sizeof *g), *h = malloc(n * n * sizeof *h);
  fill_z(&r, z, n, d, 1);
  for (size_t i = 0; i < n * d; i++) zd[i] = z[i];
  ref_ntxent(n, d, tau, zd, g, h); /* for the error bounds only */
  SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, tau, z, &loss, dz) == SC_OK, "%s", sc_last_error());

  /* scaling z by c leaves the loss unchanged and divides the gradient by c; both results carry their own
   * rounding, so each side gets the bound */
  static const float cs[] = {1e-3f, 8.0f, 1e3f};
  for (int ci = 0; ci < 3; ci++) {
    for (size_t i = 0; i < n * d; i++) z2[i] = z[i] * cs[ci];
    SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, tau, z2, &loss2, dz2) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(fabs(loss2 - loss) <= 2 * loss_tol(d, tau, loss), "isa=%s scale %g: loss %.9g, unscaled %.9g",
              k->name, (double)cs[ci], (double)loss2, (double)loss);
    for (size_t i = 0; i < n * d; i++)
      SC_ASSERT(fabs((double)dz2[i] * cs[ci] - dz[i]) <= 2 * grad_row_tol(n, d, tau, h, zd, i / d),
                "isa=%s scale %g: dz[%zu] * c = %.9g, unscaled %.9g", k->name, (double)cs[ci], i,
                (double)dz2[i] * cs[ci], (double)dz[i]);
  }

  /* renumbering the samples (the same permutation on both views) and swapping the two views permute rows */
  size_t perm[17];
  for (size_t i = 0; i < half; i++) perm[i] = (i * 5 + 3) % half; /* 5 is coprime with 17 */
  for (int swap = 0; swap < 2; swap++) {
    for (size_t i = 0; i < n; i++) {
      size_t src = (i < half ? perm[i] : perm[i - half] + half);
      if (swap) src = (src + half) % n;
      memcpy(z2 + i * d, z + src * d, d * sizeof *z);
    }
    SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, tau, z2, &loss2, dz2) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(fabs(loss2 - loss) <= 2 * loss_tol(d, tau, loss), "isa=%s permuted (swap=%d): loss %.9g, was %.9g",
              k->name, swap, (double)loss2, (double)loss);
    for (size_t i = 0; i < n; i++) {
      size_t src = (i < half ? perm[i] : perm[i - half] + half);
      if (swap) src = (src + half) % n;
      for (size_t c = 0; c < d; c++)
        SC_ASSERT(fabs(dz2[i * d + c] - dz[src * d + c]) <= 2 * grad_row_tol(n, d, tau, h, zd, src),
                  "isa=%s permuted (swap=%d): dz row %zu (from %zu) col %zu: %.9g, was %.9g", k->name, swap, i, src,
                  c, (double)dz2[i * d + c], (double)dz[src * d + c]);
    }
  }
  sc_test_free(z), sc_test_free(z2), sc_test_free(dz), sc_test_free(dz2);
  free(zd), free(g), free(h);
}

SC_ISA_TEST(ntxent, same_bits_for_any_thread_count) {
  /* partial sums are kept per fixed block and added in a fixed order, and the loss is summed in row order, so
   * threads must not change a single bit: on both paths, and with many blocks */
  static const struct { size_t n, d; float tau; } cases[] = {{130, 64, 0.1f}, {1100, 24, 0.1f}, {130, 64, 0.02f}};
  for (size_t ci = 0; ci < 3; ci++) {
    const size_t n = cases[ci].n, d = cases[ci].d;
    const float tau = cases[ci].tau;
    sc_test_rng r = {99 + ci};
    float *z = sc_test_alloc(n * d, 0), *dz1 = sc_test_alloc(n * d, 0), *dz2 = sc_test_alloc(n * d, 0), l1, l2;
    fill_z(&r, z, n, d, 1);
    int saved = sc_num_threads();
    SC_ASSERT(sc_set_num_threads(1) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, tau, z, &l1, dz1) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_set_num_threads(3) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, tau, z, &l2, dz2) == SC_OK, "%s", sc_last_error());
    sc_set_num_threads(saved);
    SC_ASSERT(l1 == l2, "isa=%s 2N=%zu d=%zu tau=%g: loss %.9g on 1 thread, %.9g on 3", k->name, n, d, (double)tau,
              (double)l1, (double)l2);
    SC_ASSERT(memcmp(dz1, dz2, n * d * sizeof(float)) == 0,
              "isa=%s 2N=%zu d=%zu tau=%g: dz differs between 1 and 3 threads", k->name, n, d, (double)tau);
    sc_test_free(z), sc_test_free(dz1), sc_test_free(dz2);
  }
}

SC_ISA_TEST(ntxent, nan_input_gives_nan_loss) {
  const size_t n = 10, d = 7;
  sc_test_rng r = {5};
  float *z = sc_test_alloc(n * d, 0), *dz = sc_test_alloc(n * d, 0), loss = 0.0f;
  fill_z(&r, z, n, d, 0);
  z[3 * d + 2] = NAN;
  SC_ASSERT(sc_ntxent((int64_t)n, (int64_t)d, 0.5f, z, &loss, dz) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(isnan(loss), "isa=%s: NaN in z[3][2] gave loss %g, want NaN", k->name, (double)loss);
  sc_test_free(z), sc_test_free(dz);
}

SC_TEST(ntxent, rejects_bad_arguments) {
  float z[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, dz[12], loss = 42.0f;
  for (int i = 0; i < 12; i++) dz[i] = 7.0f;
  static const struct { int64_t n, d; float tau; const char *what; } bad[] = {
      {3, 4, 0.5f, "2N odd"},       {1, 12, 0.5f, "2N = 1"},      {0, 4, 0.5f, "2N = 0"},
      {-2, 4, 0.5f, "2N negative"}, {4, 0, 0.5f, "d = 0"},        {4, -3, 0.5f, "d negative"},
      {4, 3, 0.0f, "tau = 0"},      {4, 3, -0.5f, "tau < 0"},     {4, 3, NAN, "tau NaN"},
      {4, 3, INFINITY, "tau inf"},  {4, 3, 1e-45f, "1/tau overflows"},
      {INT64_MAX - 1, 3, 0.5f, "(2N)^2 overflows"}, {4, INT64_MAX / 2, 0.5f, "2N * d overflows"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sc_status st = sc_ntxent(bad[i].n, bad[i].d, bad[i].tau, z, &loss, dz);
    SC_ASSERT(st == SC_EINVAL, "%s (2N=%lld d=%lld tau=%g): status %d, want SC_EINVAL", bad[i].what,
              (long long)bad[i].n, (long long)bad[i].d, (double)bad[i].tau, (int)st);
    SC_ASSERT(sc_last_error()[0] != '\0', "%s: no error message", bad[i].what);
  }
  SC_ASSERT(sc_ntxent(4, 3, 0.5f, NULL, &loss, dz) == SC_EINVAL, "null z accepted");
  SC_ASSERT(sc_ntxent(4, 3, 0.5f, z, NULL, dz) == SC_EINVAL, "null loss accepted");
  SC_ASSERT(loss == 42.0f, "loss written on a rejected call: %g", (double)loss);
  for (int i = 0; i < 12; i++) SC_ASSERT(dz[i] == 7.0f, "dz[%d] written on a rejected call: %g", i, (double)dz[i]);
  /* the smallest valid call works: 2N = 2 has a single candidate per row, so the loss is 0 up to the rounding of
   * one exp and one log of it (a few 1e-8 at 1/tau = 2) */
  SC_ASSERT(sc_ntxent(2, 6, 0.5f, z, &loss, dz) == SC_OK && fabsf(loss) <= 2e-7f, "2N=2: loss %g, want 0: %s",
            (double)loss, sc_last_error());
}
