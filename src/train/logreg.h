/* logreg.h (src/train): L2-regularised multinomial logistic regression on fixed feature vectors, fitted by
 * full-batch L-BFGS: the classifier of the linear probe (on frozen encoder features) and of the raw-pixel baseline.
 *
 * Objective over n samples with d features and k classes (theta = W [k][d] and b [k]):
 *   f = (1/n) sum_i -log softmax(W x_i + b)[y_i] + (l2/2) ||W||^2      (the bias is not regularised)
 * Features may be standardised internally (per-feature mean and standard deviation of the training set); the
 * fitted model folds that transform into W and b, so prediction always takes the raw features. With more features
 * than samples (a probe of 600 images on feature maps), the fit runs in the span of the samples, whose optimum is
 * the same (see logreg.c): its cost per iteration then scales with n, not d. All arithmetic is in double, the
 * objective's sums on the kernel table's logreg kernels (arch/logreg.h); work is split over blocks of samples whose
 * sums are added in a fixed order, so the result depends neither on the thread count nor on the instruction set.
 * Nothing here prints or reads files.
 */
#ifndef SC_TRAIN_LOGREG_H
#define SC_TRAIN_LOGREG_H

#include <stdint.h>

#include "simclr.h"

typedef struct sc_logreg_options {
  double l2;       /* weight of (1/2)||W||^2 (default 1e-3, on standardised features) */
  int max_iter;    /* L-BFGS iterations (default 500) */
  double tol;      /* stop when the gradient's largest component is below this (default 1e-5) */
  int history;     /* L-BFGS memory (default 10) */
  int standardize; /* 1 (default): fit on standardised features */
  int reduce;      /* 1 (default): with more features than samples (at most 4096), fit in their span: same optimum */
} sc_logreg_options;

sc_logreg_options sc_logreg_defaults(void);

typedef struct sc_logreg {
  int64_t d, k;
  float *w; /* [k][d], applies to raw features */
  float *b; /* [k] */
  double loss;   /* final objective (on the fitting scale) */
  int iters;     /* L-BFGS iterations done */
  int converged; /* the gradient tolerance was met */
} sc_logreg;

/* Fits x [n][d] (row-major) with labels y [n] in [0, k). *out is filled (free with sc_logreg_free). SC_EINVAL for
 * a label out of range or bad sizes; SC_ENUMERIC if the features are not finite. */
sc_status sc_logreg_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k,
                        const sc_logreg_options *o, sc_logreg *out);
void sc_logreg_free(sc_logreg *m);

/* Chooses the L2 weight among grid[0..ngrid) by stratified cross-validation on x, y alone: sample i is held out in fold
 * (its rank among the samples of its class) mod `folds`; each weight is fitted (options o otherwise, NULL for the
 * defaults) on the other folds and scored by top-1 accuracy on the held-out one. The weight with the most held-out hits
 * over all folds wins, the later one in the grid on a tie (order the grid from weak to strong to prefer the stronger).
 * *best_top1 (may be NULL) receives its cross-validated accuracy. */
sc_status sc_logreg_choose_l2(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k, const double *grid,
                              int ngrid, int folds, const sc_logreg_options *o, double *best_l2, double *best_top1);

/* Class scores (logits) [n][k] for x [n][d]. */
sc_status sc_logreg_scores(const sc_logreg *m, const float *x, int64_t n, float *scores);
/* Top-1 and top-5 accuracy (fractions in [0, 1]) of scores [n][k] against labels; either output may be NULL. Ties
 * are broken towards the lower class index. */
void sc_topk_accuracy(const float *scores, const int32_t *y, int64_t n, int64_t k, double *top1, double *top5);

/* The objective above at theta = [W (k*d) | b (k)] on the features as given (no standardisation), and its gradient
 * into grad (same layout) when grad is non-NULL: what L-BFGS minimises, exposed for tests. */
double sc_logreg_objective(const float *x, const int32_t *y, int64_t n, int64_t d, int64_t k, double l2,
                           const double *theta, double *grad);

#endif
