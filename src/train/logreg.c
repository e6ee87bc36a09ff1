/* logreg.c: multinomial logistic regression by L-BFGS (see logreg.h). The objective is evaluated in double; the
 * logits are computed per sample and the weight gradient per class, each by exactly one thread, and the loss is
 * summed serially afterwards, so the fit is bit-identical for any thread count. The line search is a backtracking
 * Armijo search, enough for a smooth convex objective. Must not print. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "logreg.h"

sc_logreg_options sc_logreg_defaults(void) {
  return (sc_logreg_options){.l2 = 1e-3, .max_iter = 500, .tol = 1e-5, .history = 10, .standardize = 1};
}

void sc_logreg_free(sc_logreg *m) {
  if (!m) return;
  free(m->w), free(m->b);
  m->w = m->b = NULL;
}

double sc_logreg_objective(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k, double l2,
                           const double *theta, double *grad) {
  const double *W = theta, *b = theta + k * d;
  double *z = malloc(sizeof(double) * (size_t)(n * k)), *li = malloc(sizeof(double) * (size_t)n);
  if (!z || !li) {
    free(z), free(li);
    return NAN;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * d;
    double *zi = z + i * k, mx = -INFINITY;
    for (int64_t c = 0; c < k; c++) {
      const double *wc = W + c * d;
      double s = b[c];
      for (int64_t j = 0; j < d; j++) s += wc[j] * xi[j];
      zi[c] = s;
      if (s > mx) mx = s;
    }
    double se = 0;
    for (int64_t c = 0; c < k; c++) se += exp(zi[c] - mx);
    double lse = mx + log(se);
    li[i] = lse - zi[y[i]];
    /* zi becomes dloss/dz_i: (softmax - onehot) / n */
    for (int64_t c = 0; c < k; c++) zi[c] = (exp(zi[c] - lse) - (c == y[i])) / (double)n;
  }
  double f = 0, r = 0;
  for (int64_t i = 0; i < n; i++) f += li[i];
  f /= (double)n;
  for (int64_t t = 0; t < k * d; t++) r += W[t] * W[t];
  f += 0.5 * l2 * r;
  if (grad) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < k; c++) {
      double *gc = grad + c * d, gb = 0;
      for (int64_t j = 0; j < d; j++) gc[j] = l2 * W[c * d + j];
      for (int64_t i = 0; i < n; i++) {
        double dz = z[i * k + c];
        const float *xi = x + i * d;
        gb += dz;
        for (int64_t j = 0; j < d; j++) gc[j] += dz * xi[j];
      }
      grad[k * d + c] = gb;
    }
  }
  free(z), free(li);
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

sc_status sc_logreg_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k,
                        const sc_logreg_options *o, sc_logreg *out) {
  if (!x || !y || !out) return sc_error(SC_EINVAL, "logreg: null argument");
  memset(out, 0, sizeof *out);
  sc_logreg_options opt = o ? *o : sc_logreg_defaults();
  if (n < 1 || d < 1 || k < 2) return sc_error(SC_EINVAL, "logreg: %lld samples, %lld features, %lld classes",
                                               (long long)n, (long long)d, (long long)k);
  if (!(opt.l2 >= 0) || opt.max_iter < 0 || opt.history < 1 || !(opt.tol >= 0))
    return sc_error(SC_EINVAL, "logreg: l2 %g, max_iter %d, history %d, tol %g", opt.l2, opt.max_iter, opt.history,
                    opt.tol);
  for (int64_t i = 0; i < n; i++)
    if (y[i] < 0 || y[i] >= k)
      return sc_error(SC_EINVAL, "logreg: label %d of sample %lld is outside [0, %lld)", y[i], (long long)i,
                      (long long)k);
  const int64_t p = k * d + k, m = opt.history;
  double *mean = calloc((size_t)d, sizeof(double)), *sd = malloc(sizeof(double) * (size_t)d);
  float *xs = malloc(sizeof(float) * (size_t)(n * d));
  double *th = calloc((size_t)p, sizeof(double)), *g = malloc(sizeof(double) * (size_t)p);
  double *th2 = malloc(sizeof(double) * (size_t)p), *g2 = malloc(sizeof(double) * (size_t)p);
  double *dir = malloc(sizeof(double) * (size_t)p), *S = malloc(sizeof(double) * (size_t)(m * p));
  double *Y = malloc(sizeof(double) * (size_t)(m * p)), *rho = malloc(sizeof(double) * (size_t)m);
  double *alpha = malloc(sizeof(double) * (size_t)m);
  sc_status st = SC_OK;
  if (!mean || !sd || !xs || !th || !g || !th2 || !g2 || !dir || !S || !Y || !rho || !alpha) {
    st = sc_error(SC_ENOMEM, "logreg: out of memory for %lld x %lld features", (long long)n, (long long)d);
    goto done;
  }
  for (int64_t j = 0; j < d; j++) sd[j] = 1.0;
  for (int64_t t = 0; t < n * d; t++)
    if (!isfinite(x[t])) {
      st = sc_error(SC_ENUMERIC, "logreg: feature %lld of sample %lld is %g", (long long)(t % d), (long long)(t / d),
                    x[t]);
      goto done;
    }
  if (opt.standardize) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < d; j++) mean[j] += x[i * d + j];
    for (int64_t j = 0; j < d; j++) mean[j] /= (double)n;
    for (int64_t j = 0; j < d; j++) {
      double v = 0;
      for (int64_t i = 0; i < n; i++) v += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
      v = sqrt(v / (double)n);
      sd[j] = v > 1e-6 ? v : 1.0; /* a constant feature stays constant (zero after centring) */
    }
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) xs[i * d + j] = (float)((x[i * d + j] - mean[j]) / sd[j]);

  double f = sc_logreg_objective(xs, y, n, d, k, opt.l2, th, g);
  int stored = 0, head = 0, it = 0, converged = 0;
  for (; it < opt.max_iter && isfinite(f); it++) {
    if (max_abs(g, p) <= opt.tol) {
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
      f2 = sc_logreg_objective(xs, y, n, d, k, opt.l2, th2, g2);
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
      converged = max_abs(g, p) <= fmax(opt.tol, 1e-4);
      it++;
      break;
    }
  }
  if (!isfinite(f)) {
    st = sc_error(SC_ENUMERIC, "logreg: the objective became %g", f);
    goto done;
  }
  out->w = malloc(sizeof(float) * (size_t)(k * d));
  out->b = malloc(sizeof(float) * (size_t)k);
  if (!out->w || !out->b) {
    sc_logreg_free(out);
    st = sc_error(SC_ENOMEM, "logreg: out of memory");
    goto done;
  }
  /* fold the standardisation in: w'x + b' = w (x - mean)/sd + b */
  for (int64_t c = 0; c < k; c++) {
    double bc = th[k * d + c];
    for (int64_t j = 0; j < d; j++) {
      double wj = th[c * d + j] / sd[j];
      out->w[c * d + j] = (float)wj;
      bc -= wj * mean[j];
    }
    out->b[c] = (float)bc;
  }
  out->d = d, out->k = k, out->loss = f, out->iters = it, out->converged = converged;
done:
  free(mean), free(sd), free(xs), free(th), free(g), free(th2), free(g2), free(dir), free(S), free(Y), free(rho);
  free(alpha);
  return st;
}

sc_status sc_logreg_scores(const sc_logreg *m, const float *x, int64_t n, float *scores) {
  if (!m || !m->w || !x || !scores || n < 0) return sc_error(SC_EINVAL, "logreg: bad arguments to scores");
  const int64_t d = m->d, k = m->k;
#pragma omp parallel for schedule(static)
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
  sc_status st = fold && seen && xf && xq && scores && yf && yq ? SC_OK : sc_error(SC_ENOMEM, "logreg: out of memory");
  for (int64_t i = 0; st == SC_OK && i < n; i++) {
    if (y[i] < 0 || y[i] >= k)
      st = sc_error(SC_EINVAL, "logreg: label %d of sample %lld outside [0, %lld)", y[i], (long long)i, (long long)k);
    else
      fold[i] = seen[y[i]]++ % folds;
  }
  double best = -1;
  for (int g = 0; st == SC_OK && g < ngrid; g++) {
    int64_t hits = 0, scored = 0;
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
      lo.l2 = grid[g];
      sc_logreg lr = {0};
      st = sc_logreg_fit(xf, yf, nf, d, k, &lo, &lr);
      if (st == SC_OK) st = sc_logreg_scores(&lr, xq, nq, scores);
      sc_logreg_free(&lr);
      double top1 = 0;
      if (st == SC_OK) sc_topk_accuracy(scores, yq, nq, k, &top1, NULL);
      hits += (int64_t)llround(top1 * (double)nq), scored += nq;
    }
    const double acc = scored ? (double)hits / (double)scored : 0;
    if (st == SC_OK && acc >= best) best = acc, *best_l2 = grid[g];
  }
  if (st == SC_OK && best_top1) *best_top1 = best;
  free(fold), free(seen), free(xf), free(xq), free(scores), free(yf), free(yq);
  return st;
}
