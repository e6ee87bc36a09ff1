/* ntxent.c: SimCLR's NT-Xent loss as a layer. The fused operator sc_ntxent produces the loss and dloss/dz in one
 * pass (the softmax it needs for both is O((2N)^2) and is not kept), so the forward stores the gradient for a unit
 * loss and the backward only scales it. */
#include "../core/error.h"
#include "nn.h"

/* z[2N][D] (rows i and i+N are the two views of sample i) -> *loss; saved_dz[2N][D] = dloss/dz (overwritten). */
sc_status sc_nn_ntxent_forward(int64_t two_n, int64_t d, float tau, const float *z, float *loss, float *saved_dz) {
  if (!saved_dz) return sc_error(SC_EINVAL, "ntxent: null gradient buffer");
  return sc_ntxent(two_n, d, tau, z, loss, saved_dz);
}

/* dloss (scalar) -> dz[2N][D] += dloss * saved_dz. */
sc_status sc_nn_ntxent_backward(int64_t two_n, int64_t d, float *dz, float dloss, const float *saved_dz) {
  if (two_n < 0 || d < 1) return sc_error(SC_EINVAL, "ntxent: bad shape");
  if (!dz || !saved_dz) return sc_error(SC_EINVAL, "ntxent: null pointer");
  for (int64_t i = 0; i < two_n * d; i++) dz[i] += dloss * saved_dz[i];
  return SC_OK;
}
