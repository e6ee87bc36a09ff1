/* logreg.c: multinomial logistic regression by L-BFGS (see logreg.h). The objective is evaluated in double by the
 * kernel table's logreg kernels (arch/logreg.h: every logit and gradient sum one chain of fused multiply-adds in a
 * fixed order, the same bits on every ISA), in one pass over the features: blocks of samples, each by exactly one
 * thread, get their logits and their share of the weight gradient, whose partial sums are then added in a fixed
 * order, and the loss is summed serially, so the fit is bit-identical for any thread count. The line search is a
 * backtracking Armijo search, enough for a smooth convex objective. Must not print. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dispatch/dispatch.h"
#include "logreg.h"

sc_logreg_options sc_logreg_defaults(void) {
  return (sc_logreg_options){.l2 = 1e-3, .max_iter = 500, .tol = 1e-5, .history = 10, .standardize = 1, .reduce = 1};
}

void sc_logreg_free(sc_logreg *m) {
  if (!m) return;
  free(m->w), free(m->b);
  m->w = m->b = NULL;
}

/* The Gram loop of reduce() carries this many sums side by side, in registers: a single sum would stall on the
 * latency of each addition. */
enum { LANES = 8 };

/* Samples per block of the logits (a block's features, 256 x 512 floats, stay in L2 for the gradient that follows),
 * and per partial sum of the gradient at least (see super_rows) */
#define LOGIT_ROWS 256
#define SUPER_MIN 2048
/* doubles of the partial gradients at most (64 MB) */
#define PARTIAL_BUDGET ((int64_t)8 << 20)

/* Samples per partial gradient: SUPER_MIN, or more where k*d is so large that the partials would exceed their
 * budget; a multiple of LOGIT_ROWS. Depends on the problem's sizes only, never on the thread count. */
static int64_t super_rows(int64_t n, int64_t d, int64_t k) {
  const int64_t kd = k * d > 0 ? k * d : 1, most = PARTIAL_BUDGET / kd > 1 ? PARTIAL_BUDGET / kd : 1;
  int64_t rows = (n + most - 1) / most;
  rows = rows > SUPER_MIN ? rows : SUPER_MIN;
  return (rows + LOGIT_ROWS - 1) / LOGIT_ROWS * LOGIT_ROWS;
}

/* The objective's scratch: z [n][k] (logits, then dloss/dz), li [n] (each sample's loss), wt [d][k] (W transposed,
 * over the standard deviations when standardising), bb [k] (the bias the logits start from), part [ns][k][d] (each
 * block of super_rows samples' sum of dz x) */
typedef struct objective_ws {
  double *z, *li, *wt, *bb, *part;
} objective_ws;

static int ws_alloc(objective_ws *ws, int64_t n, int64_t d, int64_t k) {
  const int64_t sr = super_rows(n, d, k), ns = (n + sr - 1) / sr;
  ws->z = malloc(sizeof(double) * (size_t)(n * k));
  ws->li = malloc(sizeof(double) * (size_t)n);
  ws->wt = malloc(sizeof(double) * (size_t)(d * k) + 1);
  ws->bb = malloc(sizeof(double) * (size_t)k);
  ws->part = malloc(sizeof(double) * (size_t)(ns * k * d) + 1);
  return ws->z && ws->li && ws->wt && ws->bb && ws->part;
}

static void ws_free(objective_ws *ws) { free(ws->z), free(ws->li), free(ws->wt), free(ws->bb), free(ws->part); }

/* sc_logreg_objective on the kernel table lk with scratch ws (allocated once per fit: fresh pages for 60,000 x 10
 * logits on every evaluation cost a tenth of the fit in page faults), on the features standardised by mean and sd
 * when these are given. The standardisation is folded into the weights instead of into a copy of x (writing that
 * copy, 60,000 x 512, was a fifth of a fit): with xs_j = (x_j - mean_j) / sd_j, the logits are
 * b - sum_j mean_j W_j / sd_j + sum_j x_j W_j / sd_j and the gradient (sum_i dz_i x_ij - mean_j sum_i dz_i) / sd_j,
 * in double from the exact float features.
 * One pass over x: each block of samples gets its logits, its dz, and its share of the weight gradient while its
 * features are in L2 (two passes, logits then gradient, each read 123 MB from memory at 60,000 x 512, and took 25
 * and 20 ms an evaluation on one thread). The gradient's sums run per block of super_rows samples, into a partial
 * of their own, and the partials are added in order: the blocks and the order are the problem's, not the threads'. */
static double objective(const sc_logreg_config *lk, objective_ws *ws, const float *x, const int32_t *y, int64_t n,
                        int64_t d, int64_t k, double l2, const double *theta, double *grad, const double *mean,
                        const double *sd) {
  const double *W = theta, *b = theta + k * d;
  double *z = ws->z, *li = ws->li, *wt = ws->wt, *bb = ws->bb, *part = ws->part;
  for (int64_t c = 0; c < k; c++) {
    bb[c] = b[c];
    for (int64_t j = 0; j < d; j++) {
      wt[j * k + c] = sd ? W[c * d + j] / sd[j] : W[c * d + j];
      if (mean) bb[c] -= wt[j * k + c] * mean[j];
    }
  }
  const int64_t sr = super_rows(n, d, k), ns = (n + sr - 1) / sr;
#pragma omp parallel for schedule(static) num_threads(sc_num_threads())
  for (int64_t s = 0; s < ns; s++) {
    double *ps = part + s * k * d;
    if (grad) memset(ps, 0, sizeof(double) * (size_t)(k * d));
    const int64_t s1 = (s + 1) * sr < n ? (s + 1) * sr : n;
    for (int64_t i0 = s * sr; i0 < s1; i0 += LOGIT_ROWS) {
      const int64_t i1 = i0 + LOGIT_ROWS < s1 ? i0 + LOGIT_ROWS : s1;
      lk->logits((size_t)(i1 - i0), (size_t)d, (size_t)k, x + i0 * d, (size_t)d, wt, (size_t)k, bb, z + i0 * k,
                 (size_t)k);
      for (int64_t i = i0; i < i1; i++) {
        double *zi = z + i * k, mx = -INFINITY;
        for (int64_t c = 0; c < k; c++) mx = zi[c] > mx ? zi[c] : mx;
        /* zi becomes exp(z - max), then dloss/dz_i = (softmax - onehot) / n */
        double se = 0;
        const double zy = zi[y[i]];
        for (int64_t c = 0; c < k; c++) zi[c] = exp(zi[c] - mx), se += zi[c];
        li[i] = mx + log(se) - zy;
        const double scale = 1.0 / (se * (double)n);
        for (int64_t c = 0; c < k; c++) zi[c] = zi[c] * scale - (c == y[i]) / (double)n;
      }
      if (grad)
        lk->logits_grad((size_t)(i1 - i0), (size_t)d, (size_t)k, x + i0 * d, (size_t)d, z + i0 * k, (size_t)k, ps,
                        (size_t)d);
    }
  }
  double f = 0, r = 0;
  for (int64_t i = 0; i < n; i++) f += li[i];
  f /= (double)n;
  for (int64_t t = 0; t < k * d; t++) r += W[t] * W[t];
  f += 0.5 * l2 * r;
  if (grad) {
    for (int64_t c = 0; c < k; c++) {
      double gb = 0;
      for (int64_t i = 0; i < n; i++) gb += z[i * k + c];
      grad[k * d + c] = gb;
    }
    /* grad W[c][j] = l2 W[c][j] + (sum over the partials of sum_i dz[i][c] x[i][j] - mean_j gb[c]) / sd_j */
#pragma omp parallel for schedule(static) num_threads(sc_num_threads())
    for (int64_t c = 0; c < k; c++)
      for (int64_t j = 0; j < d; j++) {
        double v = part[c * d + j];
        for (int64_t s = 1; s < ns; s++) v += part[s * k * d + c * d + j];
        if (mean) v -= mean[j] * grad[k * d + c];
        if (sd) v /= sd[j];
        grad[c * d + j] = l2 * W[c * d + j] + v;
      }
  }
  return f;
}

/* The active kernel table's logreg kernels into *lk, initialising the engine first where nothing has */
static sc_status logreg_kernels(const sc_logreg_config **lk) {
  if (!sc_kernels_active()) SC_TRY(sc_init());
  *lk = sc_kernels_active()->logreg;
  return SC_OK;
}

double sc_logreg_objective(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k, double l2,
                           const double *theta, double *grad) {
  const sc_logreg_config *lk = NULL;
  objective_ws ws;
  const int have_ws = ws_alloc(&ws, n, d, k);
  const double f = logreg_kernels(&lk) == SC_OK && have_ws
                       ? objective(lk, &ws, x, y, n, d, k, l2, theta, grad, NULL, NULL)
                       : NAN;
  ws_free(&ws);
  return f;
}

static double dot(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static double max_abs(const double *a, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
  return m;
}

/* ---- the problem as L-BFGS sees it -------------------------------------------------------------------------- */

/* The features of a fit with their means and deviations (the objective standardises on the fly), and with more features
 * than samples (opt.reduce) their standardised copy and their coordinates in the span of the samples. That span holds
 * the optimum: the loss sees W only through W xs_i, and the component of W orthogonal to every xs_i adds to the penalty
 * alone. With an orthonormal basis Q [r][d] of the span, the fit of V [k][r] on z_i = Q xs_i with the same penalty has
 * the same optimum, W = V Q (||V|| = ||W||), found with r <= n coordinates instead of d. The basis comes from the Gram
 * matrix K = xs xs^T by a pivoted Cholesky factorisation: K = L L^T with L [n][r], stopping when what is left of every
 * sample is below 1e-9 of the largest squared norm (the centring alone removes one dimension). Then z_i = L[i], and
 * with P the pivot samples and L_P their rows of L (lower triangular, r x r), Q = L_P^-1 xs_P, so W = (V L_P^-1) xs_P.
 * K and L take 16 n^2 bytes, and the factorisation n^3/3 serial steps: beyond REDUCE_MAX_SAMPLES samples the fit keeps
 * its d features. */
enum { REDUCE_MAX_SAMPLES = 4096 };
typedef struct problem {
  int64_t n, d, dim;   /* dim: d, or r when reduced */
  double *mean, *sd;   /* [d] */
  const float *x;      /* [n][d] the features as given (not owned): the fit reads them with mean and sd */
  float *xs;           /* [n][d] standardised, when reduced (the basis and the map back read them) */
  float *z;            /* [n][r] when reduced, else NULL */
  int64_t *piv;        /* [r] the pivot samples */
  double *lp;          /* [r][r] their rows of L */
} problem;

static void problem_free(problem *pb) {
  free(pb->mean), free(pb->sd), free(pb->xs), free(pb->z), free(pb->piv), free(pb->lp);
  memset(pb, 0, sizeof *pb);
}

static sc_status reduce(problem *pb) {
  const int64_t n = pb->n, d = pb->d;
  double *K = malloc(sizeof(double) * (size_t)(n * n)), *L = calloc((size_t)(n * n), sizeof(double));
  double *res = malloc(sizeof(double) * (size_t)n);
  int64_t *piv = malloc(sizeof *piv * (size_t)n);
  char *used = calloc((size_t)n, 1);
  sc_status st = SC_OK;
  if (!K || !L || !res || !piv || !used) {
    st = sc_error(SC_ENOMEM, "logreg: out of memory for the Gram matrix of %lld samples", (long long)n);
    goto done;
  }
  /* K[i][j] for j <= i, each a sum over t in order; LANES rows j side by side keep the additions in flight */
#pragma omp parallel for schedule(dynamic, 4) num_threads(sc_num_threads())
  for (int64_t i = 0; i < n; i++) {
    const float *xi = pb->xs + i * d;
    for (int64_t j0 = 0; j0 <= i; j0 += LANES) {
      const int64_t nj = i + 1 - j0 < LANES ? i + 1 - j0 : LANES;
      double acc[LANES] = {0};
      for (int64_t t = 0; t < d; t++) {
        const double v = xi[t];
        for (int64_t q = 0; q < nj; q++) acc[q] += v * pb->xs[(j0 + q) * d + t];
      }
      for (int64_t q = 0; q < nj; q++) K[i * n + j0 + q] = K[(j0 + q) * n + i] = acc[q];
    }
  }
  double top = 0;
  for (int64_t i = 0; i < n; i++) res[i] = K[i * n + i], top = res[i] > top ? res[i] : top;
  int64_t r = 0;
  for (; r < n; r++) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
      if (!used[i] && (best < 0 || res[i] > res[best])) best = i;
    if (res[best] <= 1e-9 * top) break;
    const double lrr = sqrt(res[best]);
    used[best] = 1, piv[r] = best, L[best * n + r] = lrr;
    for (int64_t i = 0; i < n; i++) {
      if (used[i]) continue;
      double v = K[i * n + best];
      for (int64_t s2 = 0; s2 < r; s2++) v -= L[i * n + s2] * L[best * n + s2];
      L[i * n + r] = v / lrr;
      res[i] -= L[i * n + r] * L[i * n + r];
    }
  }
  pb->dim = r;
  pb->z = malloc(sizeof(float) * (size_t)(n * r) + 1);
  pb->lp = malloc(sizeof(double) * (size_t)(r * r) + 1);
  pb->piv = malloc(sizeof *piv * (size_t)r + 1);
  if (!pb->z || !pb->lp || !pb->piv) {
    st = sc_error(SC_ENOMEM, "logreg: out of memory");
    goto done;
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t c = 0; c < r; c++) pb->z[i * r + c] = (float)L[i * n + c];
  for (int64_t a = 0; a < r; a++) {
    pb->piv[a] = piv[a];
    for (int64_t c = 0; c < r; c++) pb->lp[a * r + c] = L[piv[a] * n + c];
  }
done:
  free(K), free(L), free(res), free(piv), free(used);
  return st;
}

static sc_status prepare(const float *x, int64_t n, int64_t d, const sc_logreg_options *opt, problem *pb) {
  memset(pb, 0, sizeof *pb);
  pb->n = n, pb->d = pb->dim = d;
  pb->mean = calloc((size_t)d, sizeof(double)), pb->sd = malloc(sizeof(double) * (size_t)d);
  pb->x = x;
  if (!pb->mean || !pb->sd)
    return sc_error(SC_ENOMEM, "logreg: out of memory for %lld x %lld features", (long long)n, (long long)d);
  double *mean = pb->mean, *sd = pb->sd;
  for (int64_t j = 0; j < d; j++) sd[j] = 1.0;
  /* Each thread takes a block of features and walks the samples in order: each feature's sums (its mean, its
   * squares) are the same on any thread count. (A column at a time read one line of 64 bytes per float: 0.7 s of a
   * 60,000 x 512 fit.) */
  const int64_t T = sc_num_threads(), cols = (d + T - 1) / T;
  int finite = 1;
#pragma omp parallel for schedule(static) num_threads(sc_num_threads()) reduction(&& : finite)
  for (int64_t j0 = 0; j0 < d; j0 += cols) {
    const int64_t j1 = j0 + cols < d ? j0 + cols : d;
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = j0; j < j1; j++) mean[j] += x[i * d + j];
    /* a NaN or an infinity among the features makes its sum NaN or infinite; finite floats cannot overflow it */
    for (int64_t j = j0; j < j1; j++) finite = finite && isfinite(mean[j]);
    if (!opt->standardize) continue;
    for (int64_t j = j0; j < j1; j++) mean[j] /= (double)n, sd[j] = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = j0; j < j1; j++) sd[j] += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
    for (int64_t j = j0; j < j1; j++) {
      const double v = sqrt(sd[j] / (double)n);
      sd[j] = v > 1e-6 ? v : 1.0; /* a constant feature stays constant (zero after centring) */
    }
  }
  for (int64_t t = 0; !finite && t < n * d; t++)
    if (!isfinite(x[t]))
      return sc_error(SC_ENUMERIC, "logreg: feature %lld of sample %lld is %g", (long long)(t % d),
                      (long long)(t / d), x[t]);
  if (!opt->standardize) memset(mean, 0, sizeof(double) * (size_t)d);
  if (!(opt->reduce && d > n && n <= REDUCE_MAX_SAMPLES)) return SC_OK;
  pb->xs = malloc(sizeof(float) * (size_t)(n * d));
  if (!pb->xs)
    return sc_error(SC_ENOMEM, "logreg: out of memory for %lld x %lld features", (long long)n, (long long)d);
#pragma omp parallel for schedule(static) num_threads(sc_num_threads())
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) pb->xs[i * d + j] = (float)((x[i * d + j] - mean[j]) / sd[j]);
  return reduce(pb);
}

/* Minimises the objective over th = [W (k*dim) | b (k)] on the problem's features (zero start). */
static sc_status solve(const problem *pb, const int32_t *y, int64_t k, const sc_logreg_options *opt, double *th,
                       double *loss, int *iters, int *converged_out) {
  const float *xs = pb->z ? pb->z : pb->x; /* the span's coordinates are standardised already */
  const double *mean = pb->z ? NULL : pb->mean, *sd = pb->z ? NULL : pb->sd;
  const int64_t n = pb->n, d = pb->dim, p = k * d + k, m = opt->history;
  double *g = malloc(sizeof(double) * (size_t)p);
  double *th2 = malloc(sizeof(double) * (size_t)p), *g2 = malloc(sizeof(double) * (size_t)p);
  double *dir = malloc(sizeof(double) * (size_t)p), *S = malloc(sizeof(double) * (size_t)(m * p));
  double *Y = malloc(sizeof(double) * (size_t)(m * p)), *rho = malloc(sizeof(double) * (size_t)m);
  double *alpha = malloc(sizeof(double) * (size_t)m);
  objective_ws ws;
  const int have_ws = ws_alloc(&ws, n, d, k);
  const sc_logreg_config *lk = NULL;
  sc_status st = logreg_kernels(&lk);
  if (st != SC_OK) goto done;
  if (!g || !th2 || !g2 || !dir || !S || !Y || !rho || !alpha || !have_ws) {
    st = sc_error(SC_ENOMEM, "logreg: out of memory for %lld x %lld features", (long long)n, (long long)d);
    goto done;
  }
  memset(th, 0, sizeof(double) * (size_t)p);
  double f = objective(lk, &ws, xs, y, n, d, k, opt->l2, th, g, mean, sd);
  int stored = 0, head = 0, it = 0, converged = 0;
  for (; it < opt->max_iter && isfinite(f); it++) {
    if (max_abs(g, p) <= opt->tol) {
      converged = 1;
      break;
    }
    /* two-loop recursion: dir = -H g */
    for (int64_t t = 0; t < p; t++) dir[t] = -g[t];
    for (int q = 0; q < stored; q++) {
      int s = (head - 1 - q + m) % m;
      alpha[s] = rho[s] * dot(S + s * p, dir, p);
      for (int64_t t = 0; t < p; t++) dir[t] -= alpha[s] * Y[s * p + t];
    }
    double gamma = 1.0;
    if (stored) {
      int s = (head - 1 + m) % m;
      gamma = dot(S + s * p, Y + s * p, p) / dot(Y + s * p, Y + s * p, p);
    }
    for (int64_t t = 0; t < p; t++) dir[t] *= gamma;
    for (int q = stored - 1; q >= 0; q--) {
      int s = (head - 1 - q + m) % m;
      double beta = rho[s] * dot(Y + s * p, dir, p);
      for (int64_t t = 0; t < p; t++) dir[t] += (alpha[s] - beta) * S[s * p + t];
    }
    double slope = dot(g, dir, p);
    if (!(slope < 0)) { /* not a descent direction: restart from steepest descent */
      for (int64_t t = 0; t < p; t++) dir[t] = -g[t];
      slope = dot(g, dir, p);
      stored = 0;
    }
    double step = stored ? 1.0 : fmin(1.0, 1.0 / sqrt(dot(g, g, p))), f2 = NAN;
    int ok = 0;
    for (int ls = 0; ls < 50; ls++, step *= 0.5) {
      for (int64_t t = 0; t < p; t++) th2[t] = th[t] + step * dir[t];
      f2 = objective(lk, &ws, xs, y, n, d, k, opt->l2, th2, g2, mean, sd);
      if (isfinite(f2) && f2 <= f + 1e-4 * step * slope) {
        ok = 1;
        break;
      }
    }
    if (!ok) break; /* no decrease possible at double precision: as good as it gets */
    double *sn = S + head * p, *yn = Y + head * p;
    for (int64_t t = 0; t < p; t++) sn[t] = th2[t] - th[t], yn[t] = g2[t] - g[t];
    double sy = dot(sn, yn, p);
    if (sy > 1e-12) {
      rho[head] = 1.0 / sy;
      head = (head + 1) % m;
      if (stored < m) stored++;
    }
    double fold = f;
    memcpy(th, th2, sizeof(double) * (size_t)p), memcpy(g, g2, sizeof(double) * (size_t)p);
    f = f2;
    if (fold - f <= 1e-12 * fmax(1.0, fabs(f))) {
      converged = max_abs(g, p) <= fmax(opt->tol, 1e-4);
      it++;
      break;
    }
  }
  if (!isfinite(f)) {
    st = sc_error(SC_ENUMERIC, "logreg: the objective became %g", f);
    goto done;
  }
  *loss = f, *iters = it, *converged_out = converged;
done:
  free(g), free(th2), free(g2), free(dir), free(S), free(Y), free(rho), free(alpha);
  ws_free(&ws);
  return st;
}

/* The classifier on raw features from th: back from the span's coordinates when reduced (W = (V L_P^-1) xs_P),
 * then the standardisation folded in: w'x + b' = w (x - mean)/sd + b. */
static sc_status finish(const problem *pb, int64_t k, const double *th, sc_logreg *out) {
  const int64_t d = pb->d, r = pb->dim;
  double *w = malloc(sizeof(double) * (size_t)(k * d));
  out->w = malloc(sizeof(float) * (size_t)(k * d));
  out->b = malloc(sizeof(float) * (size_t)k);
  double *mm = pb->z ? malloc(sizeof(double) * (size_t)(k * r) + 1) : NULL;
  if (!w || !out->w || !out->b || (pb->z && !mm)) {
    free(w), free(mm);
    sc_logreg_free(out);
    return sc_error(SC_ENOMEM, "logreg: out of memory");
  }
  if (pb->z) {
    /* M L_P = V, by back substitution over the columns of M */
    for (int64_t c = 0; c < k; c++)
      for (int64_t a = r - 1; a >= 0; a--) {
        double v = th[c * r + a];
        for (int64_t t = a + 1; t < r; t++) v -= mm[c * r + t] * pb->lp[t * r + a];
        mm[c * r + a] = v / pb->lp[a * r + a];
      }
    for (int64_t c = 0; c < k; c++) {
      double *wc = w + c * d;
      for (int64_t j = 0; j < d; j++) wc[j] = 0;
      for (int64_t a = 0; a < r; a++) {
        const double v = mm[c * r + a];
        const float *xa = pb->xs + pb->piv[a] * d;
        for (int64_t j = 0; j < d; j++) wc[j] += v * xa[j];
      }
    }
  } else {
    memcpy(w, th, sizeof(double) * (size_t)(k * d));
  }
  for (int64_t c = 0; c < k; c++) {
    double bc = th[k * r + c];
    for (int64_t j = 0; j < d; j++) {
      double wj = w[c * d + j] / pb->sd[j];
      out->w[c * d + j] = (float)wj;
      bc -= wj * pb->mean[j];
    }
    out->b[c] = (float)bc;
  }
  out->d = d, out->k = k;
  free(w), free(mm);
  return SC_OK;
}

static sc_status check_fit(const int32_t *y, int64_t n, int64_t d, int64_t k, const sc_logreg_options *opt) {
  if (n < 1 || d < 1 || k < 2) return sc_error(SC_EINVAL, "logreg: %lld samples, %lld features, %lld classes",
                                               (long long)n, (long long)d, (long long)k);
  if (!(opt->l2 >= 0) || opt->max_iter < 0 || opt->history < 1 || !(opt->tol >= 0))
    return sc_error(SC_EINVAL, "logreg: l2 %g, max_iter %d, history %d, tol %g", opt->l2, opt->max_iter,
                    opt->history, opt->tol);
  for (int64_t i = 0; i < n; i++)
    if (y[i] < 0 || y[i] >= k)
      return sc_error(SC_EINVAL, "logreg: label %d of sample %lld is outside [0, %lld)", y[i], (long long)i,
                      (long long)k);
  return SC_OK;
}

/* solve + finish on a prepared problem */
static sc_status fit_prepared(const problem *pb, const int32_t *y, int64_t k, const sc_logreg_options *opt,
                              sc_logreg *out) {
  memset(out, 0, sizeof *out);
  double *th = malloc(sizeof(double) * (size_t)(k * pb->dim + k));
  if (!th) return sc_error(SC_ENOMEM, "logreg: out of memory");
  double loss = 0;
  int iters = 0, converged = 0;
  sc_status st = solve(pb, y, k, opt, th, &loss, &iters, &converged);
  if (st == SC_OK) st = finish(pb, k, th, out);
  if (st == SC_OK) out->loss = loss, out->iters = iters, out->converged = converged;
  free(th);
  return st;
}

sc_status sc_logreg_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k,
                        const sc_logreg_options *o, sc_logreg *out) {
  if (!x || !y || !out) return sc_error(SC_EINVAL, "logreg: null argument");
  memset(out, 0, sizeof *out);
  const sc_logreg_options opt = o ? *o : sc_logreg_defaults();
  SC_TRY(check_fit(y, n, d, k, &opt));
  problem pb;
  sc_status st = prepare(x, n, d, &opt, &pb);
  if (st == SC_OK) st = fit_prepared(&pb, y, k, &opt, out);
  problem_free(&pb);
  return st;
}

sc_status sc_logreg_scores(const sc_logreg *m, const float *x, int64_t n, float *scores) {
  if (!m || !m->w || !x || !scores || n < 0) return sc_error(SC_EINVAL, "logreg: bad arguments to scores");
  const int64_t d = m->d, k = m->k;
#pragma omp parallel for schedule(static) num_threads(sc_num_threads())
  for (int64_t i = 0; i < n; i++)
    for (int64_t c = 0; c < k; c++) {
      double s = m->b[c];
      for (int64_t j = 0; j < d; j++) s += (double)m->w[c * d + j] * x[i * d + j];
      scores[i * k + c] = (float)s;
    }
  return SC_OK;
}

void sc_topk_accuracy(const float *scores, const int32_t *y, int64_t n, int64_t k, double *top1, double *top5) {
  int64_t h1 = 0, h5 = 0;
  for (int64_t i = 0; i < n; i++) {
    const float *s = scores + i * k;
    float sy = s[y[i]];
    int64_t above = 0; /* classes ranked before the true one */
    for (int64_t c = 0; c < k; c++)
      if (s[c] > sy || (s[c] == sy && c < y[i])) above++;
    h1 += above == 0, h5 += above < 5;
  }
  if (top1) *top1 = n ? (double)h1 / (double)n : 0.0;
  if (top5) *top5 = n ? (double)h5 / (double)n : 0.0;
}

sc_status sc_logreg_choose_l2(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k, const double *grid,
                              int ngrid, int folds, const sc_logreg_options *o, double *best_l2, double *best_top1) {
  if (!x || !y || !grid || !best_l2 || n < 2 || d < 1 || k < 1 || ngrid < 1 || folds < 2)
    return sc_error(SC_EINVAL, "logreg: bad arguments to choose_l2");
  int *fold = malloc(sizeof *fold * (size_t)n), *seen = calloc((size_t)k, sizeof *seen);
  float *xf = malloc(sizeof(float) * (size_t)(n * d)), *xq = malloc(sizeof(float) * (size_t)(n * d));
  float *scores = malloc(sizeof(float) * (size_t)(n * k));
  int32_t *yf = malloc(sizeof *yf * (size_t)n), *yq = malloc(sizeof *yq * (size_t)n);
  int64_t *hits = calloc((size_t)ngrid, sizeof *hits), scored = 0;
  sc_status st = fold && seen && xf && xq && scores && yf && yq && hits ? SC_OK
                                                                         : sc_error(SC_ENOMEM, "logreg: out of memory");
  for (int64_t i = 0; st == SC_OK && i < n; i++) {
    if (y[i] < 0 || y[i] >= k)
      st = sc_error(SC_EINVAL, "logreg: label %d of sample %lld outside [0, %lld)", y[i], (long long)i, (long long)k);
    else
      fold[i] = seen[y[i]]++ % folds;
  }
  /* each fold's features are prepared (standardised, reduced) once for every weight of the grid */
  for (int f = 0; st == SC_OK && f < folds; f++) {
    int64_t nf = 0, nq = 0;
    for (int64_t i = 0; i < n; i++) {
      const int held = fold[i] == f;
      memcpy((held ? xq + nq * d : xf + nf * d), x + i * d, sizeof(float) * (size_t)d);
      if (held) yq[nq++] = y[i];
      else yf[nf++] = y[i];
    }
    if (!nq || !nf) continue;
    sc_logreg_options lo = o ? *o : sc_logreg_defaults();
    problem pb = {0};
    st = prepare(xf, nf, d, &lo, &pb);
    for (int g = 0; st == SC_OK && g < ngrid; g++) {
      lo.l2 = grid[g];
      sc_logreg lr = {0};
      st = check_fit(yf, nf, d, k, &lo);
      if (st == SC_OK) st = fit_prepared(&pb, yf, k, &lo, &lr);
      if (st == SC_OK) st = sc_logreg_scores(&lr, xq, nq, scores);
      sc_logreg_free(&lr);
      double top1 = 0;
      if (st == SC_OK) sc_topk_accuracy(scores, yq, nq, k, &top1, NULL);
      hits[g] += (int64_t)llround(top1 * (double)nq);
    }
    problem_free(&pb);
    scored += nq;
  }
  double best = -1;
  for (int g = 0; st == SC_OK && g < ngrid; g++) {
    const double acc = scored ? (double)hits[g] / (double)scored : 0;
    if (acc >= best) best = acc, *best_l2 = grid[g];
  }
  if (st == SC_OK && best_top1) *best_top1 = best;
  free(fold), free(seen), free(xf), free(xq), free(scores), free(yf), free(yq), free(hits);
  return st;
}
