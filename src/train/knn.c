/* knn.c: the weighted kNN classifier (see knn.h). Similarities of a block of queries against the whole bank come
 * from one GEMM on normalised copies; each query then keeps its k best neighbours in a min-heap ordered by
 * (similarity, lower index first), so equal similarities resolve the same way on every run. Must not print. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "knn.h"
#include "simclr_ops.h"

enum { QBLOCK = 256 };

sc_knn_options sc_knn_defaults(void) { return (sc_knn_options){.k = 200, .temperature = 0.1f}; }

static void normalise(const float *x, int64_t n, int64_t d, float *out) {
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
    float inv = (float)(1.0 / fmax(sqrt(s), 1e-12));
    for (int64_t j = 0; j < d; j++) out[i * d + j] = x[i * d + j] * inv;
  }
}

typedef struct nb_t {
  float sim;
  int64_t idx;
} nb_t;

/* a is worse than b: smaller similarity, or equal similarity and larger index */
static int worse(nb_t a, nb_t b) { return a.sim < b.sim || (a.sim == b.sim && a.idx > b.idx); }

static void sift_down(nb_t *h, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, w = i;
    if (l < n && worse(h[l], h[w])) w = l;
    if (r < n && worse(h[r], h[w])) w = r;
    if (w == i) return;
    nb_t t = h[i];
    h[i] = h[w], h[w] = t, i = w;
  }
}

sc_status sc_knn_classify(const float *bank, const int32_t *blabels, int64_t nb, const float *queries, int64_t nq,
                          int64_t d, int nclasses, const sc_knn_options *o, int32_t *pred, const int32_t *qlabels,
                          double *acc) {
  sc_knn_options opt = o ? *o : sc_knn_defaults();
  if (!bank || !blabels || !queries || !pred || (acc && !qlabels))
    return sc_error(SC_EINVAL, "knn: null argument");
  if (nb < 1 || nq < 0 || d < 1 || nclasses < 1 || opt.k < 1 || !(opt.temperature > 0))
    return sc_error(SC_EINVAL, "knn: bank %lld, queries %lld, dim %lld, %d classes, k %d, temperature %g",
                    (long long)nb, (long long)nq, (long long)d, nclasses, opt.k, opt.temperature);
  for (int64_t i = 0; i < nb; i++)
    if (blabels[i] < 0 || blabels[i] >= nclasses)
      return sc_error(SC_EINVAL, "knn: bank label %d of entry %lld is outside [0, %d)", blabels[i], (long long)i,
                      nclasses);
  const int k = opt.k < nb ? opt.k : (int)nb;
  float *bn = malloc(sizeof(float) * (size_t)(nb * d)), *qn = malloc(sizeof(float) * (size_t)(QBLOCK * d));
  float *sim = malloc(sizeof(float) * (size_t)(QBLOCK * nb));
  nb_t *heap = malloc(sizeof(nb_t) * (size_t)k);
  double *votes = malloc(sizeof(double) * (size_t)nclasses);
  sc_status st = SC_OK;
  if (!bn || !qn || !sim || !heap || !votes) {
    st = sc_error(SC_ENOMEM, "knn: out of memory for a bank of %lld x %lld", (long long)nb, (long long)d);
    goto done;
  }
  normalise(bank, nb, d, bn);
  int64_t hits = 0;
  for (int64_t q0 = 0; q0 < nq && st == SC_OK; q0 += QBLOCK) {
    int64_t bq = nq - q0 < QBLOCK ? nq - q0 : QBLOCK;
    normalise(queries + q0 * d, bq, d, qn);
    st = sc_sgemm(SC_NO_TRANS, SC_TRANS, bq, nb, d, 1.0f, qn, d, bn, d, 0.0f, sim, nb);
    for (int64_t q = 0; q < bq && st == SC_OK; q++) {
      const float *s = sim + q * nb;
      int n = 0;
      for (int64_t i = 0; i < nb; i++) {
        nb_t c = {s[i], i};
        if (n < k) {
          heap[n++] = c;
          if (n == k)
            for (int j = k / 2 - 1; j >= 0; j--) sift_down(heap, k, j);
        } else if (worse(heap[0], c)) {
          heap[0] = c;
          sift_down(heap, k, 0);
        }
      }
      for (int c = 0; c < nclasses; c++) votes[c] = 0;
      for (int j = 0; j < n; j++) votes[blabels[heap[j].idx]] += exp((double)heap[j].sim / opt.temperature);
      int best = 0;
      for (int c = 1; c < nclasses; c++)
        if (votes[c] > votes[best]) best = c;
      pred[q0 + q] = best;
      if (qlabels) hits += qlabels[q0 + q] == best;
    }
  }
  if (st == SC_OK && acc) *acc = nq ? (double)hits / (double)nq : 0.0;
done:
  free(bn), free(qn), free(sim), free(heap), free(votes);
  return st;
}
