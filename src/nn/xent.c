/* xent.c: softmax cross-entropy for the supervised heads (linear probe, fine-tuning): loss = mean over the N rows
 * of -log softmax(logits)[label]. The forward keeps the probabilities for the backward. Each row is reduced in
 * double around its maximum, so large logits neither overflow nor lose the small terms. */
#include <math.h>

#include "../core/error.h"
#include "nn.h"

/* logits[N][K], labels[N] in [0, K) -> *loss, prob[N][K] = softmax rows. */
sc_status sc_nn_xent_forward(int64_t n, int64_t k, const float *logits, const int32_t *labels, float *loss,
                             float *prob) {
  if (n < 1 || k < 1) return sc_error(SC_EINVAL, "xent: bad shape (N=%lld K=%lld)", (long long)n, (long long)k);
  if (!logits || !labels || !loss || !prob) return sc_error(SC_EINVAL, "xent: null pointer");
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float *l = logits + i * k;
    if (labels[i] < 0 || labels[i] >= k)
      return sc_error(SC_EINVAL, "xent: label %d of row %lld outside [0, %lld)", (int)labels[i], (long long)i,
                      (long long)k);
    double mx = l[0];
    for (int64_t j = 1; j < k; j++) mx = l[j] > mx ? l[j] : mx;
    double s = 0.0;
    for (int64_t j = 0; j < k; j++) s += exp((double)l[j] - mx);
    double lse = mx + log(s);
    if (!isfinite(lse)) return sc_error(SC_ENUMERIC, "xent: non-finite logits in row %lld", (long long)i);
    for (int64_t j = 0; j < k; j++) prob[i * k + j] = (float)exp((double)l[j] - lse);
    total += lse - l[labels[i]];
  }
  *loss = (float)(total / (double)n);
  return SC_OK;
}

/* dloss (scalar) -> dlogits[N][K] += dloss * (prob - onehot(label)) / N. */
sc_status sc_nn_xent_backward(int64_t n, int64_t k, float *dlogits, float dloss, const float *prob,
                              const int32_t *labels) {
  if (n < 1 || k < 1) return sc_error(SC_EINVAL, "xent: bad shape (N=%lld K=%lld)", (long long)n, (long long)k);
  if (!dlogits || !labels || !prob) return sc_error(SC_EINVAL, "xent: null pointer");
  const double scale = (double)dloss / (double)n;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < k; j++)
      dlogits[i * k + j] += (float)(scale * ((double)prob[i * k + j] - (j == labels[i] ? 1.0 : 0.0)));
  return SC_OK;
}
