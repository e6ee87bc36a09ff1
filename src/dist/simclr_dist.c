/* simclr_dist.c: the data-parallel SimCLR step. It composes the single-process step (src/train/simclr.c) with three
 * hooks and adds no arithmetic of its own to the model:
 *   - the loss: NT-Xent over the global batch (global negatives). Each rank's 2N projections are all-gathered and
 *     rearranged into the single-process layout of the global batch (first views of all samples in rank order,
 *     then second views), so row i's positive is still its other view and each anchor sees 2*N*P - 2 negatives.
 *     Every rank then solves the whole 2NP x 2NP problem with sc_ntxent (the same bits on every rank, so the loss
 *     and the NaN check agree everywhere) and keeps its own rows of the gradient, times P. That block equals what a
 *     correct GatherLayer backward gives, the reduce-scatter of every rank's gradient of its own mean-over-anchors
 *     loss: dL_r/dz_own summed over r is P * dL/dz_own for L the global mean. Taking only the rank's own anchors'
 *     terms (the public GatherLayer bug) would drop the gradient that other ranks' anchors send through their
 *     negatives. The redundant similarity matrix costs O((2NP)^2 D) per rank, small next to the encoder at the
 *     batch sizes CPUs train with, and it saves the backward's reduce-scatter.
 *   - between backward and update: one in-place all-reduce of the flat gradient buffer, then a scale by 1/P (the
 *     P above makes this the gradient of the global loss, as one process with the global batch computes).
 *   - during forward and backward: synchronised BN (src/nn/batchnorm.c's reducer), summing in double.
 * It must not call MPI directly (comm.c does), print, or touch the model's layers. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/error.h"
#include "../nn/nn.h"
#include "dist.h"

struct sc_dist_simclr {
  sc_dist *d;
  sc_simclr *s;
  sc_model *m;
  sc_dist_simclr_options o;
  int64_t rows_cap; /* 2N*D*P floats in each of the two buffers below */
  float *gathered, *dgathered;
  sc_nn_bn_sync sync;
  double allreduce_s;
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

sc_dist_simclr_options sc_dist_simclr_defaults(void) { return (sc_dist_simclr_options){.sync_bn = 1}; }

sc_status sc_dist_ntxent(sc_dist *d, int64_t two_n, int64_t dim, float tau, const float *z, float *loss, float *dz,
                         float *gathered, float *dgathered) {
  if (!d || !z || !loss || !dz || !gathered || !dgathered) return sc_error(SC_EINVAL, "dist: null argument");
  if (two_n < 2 || two_n % 2 || dim < 1)
    return sc_error(SC_EINVAL, "dist: NT-Xent of %lld rows of %lld", (long long)two_n, (long long)dim);
  const int64_t n = two_n / 2, p = sc_dist_size(d), r = sc_dist_rank(d);
  const size_t row = (size_t)dim * sizeof(float);
  /* dgathered first receives the ranks' blocks [P][2N][D]; it is free again once they are rearranged. */
  SC_TRY(sc_dist_allgather_f32(d, z, dgathered, two_n * dim));
  for (int64_t q = 0; q < p; q++)
    for (int64_t i = 0; i < n; i++) {
      memcpy(gathered + (q * n + i) * dim, dgathered + (q * two_n + i) * dim, row);
      memcpy(gathered + (p * n + q * n + i) * dim, dgathered + (q * two_n + n + i) * dim, row);
    }
  SC_TRY(sc_ntxent(p * two_n, dim, tau, gathered, loss, dgathered));
  const float scale = (float)p;
  for (int64_t i = 0; i < n; i++)
    for (int64_t k = 0; k < dim; k++) {
      dz[i * dim + k] = scale * dgathered[(r * n + i) * dim + k];
      dz[(n + i) * dim + k] = scale * dgathered[(p * n + r * n + i) * dim + k];
    }
  return SC_OK;
}

static sc_status loss_hook(void *ctx, int64_t two_n, int64_t dim, float tau, const float *z, float *loss,
                           float *dz) {
  sc_dist_simclr *ds = ctx;
  if (two_n * dim * sc_dist_size(ds->d) > ds->rows_cap)
    return sc_error(SC_EINTERNAL, "dist: NT-Xent rows exceed the planned buffers");
  return sc_dist_ntxent(ds->d, two_n, dim, tau, z, loss, dz, ds->gathered, ds->dgathered);
}

static sc_status grads_hook(void *ctx, float *g, size_t count) {
  sc_dist_simclr *ds = ctx;
  double t0 = now();
  SC_TRY(sc_dist_allreduce_f32(ds->d, NULL, g, (int64_t)count));
  const float inv = 1.0f / (float)sc_dist_size(ds->d);
  for (size_t i = 0; i < count; i++) g[i] *= inv;
  ds->allreduce_s = now() - t0;
  return SC_OK;
}

static sc_status bn_sum(void *ctx, double *buf, int64_t count) {
  return sc_dist_allreduce_f64(ctx, NULL, buf, count);
}

sc_status sc_dist_simclr_create(sc_dist *d, sc_simclr *s, sc_model *m, const sc_dist_simclr_options *o,
                                sc_dist_simclr **out) {
  if (!d || !s || !m || !out) return sc_error(SC_EINVAL, "dist: null argument");
  *out = NULL;
  int64_t rows = 0, dim = 0;
  sc_model_output(m, &rows, &dim);
  if (rows < 4 || rows % 2) return sc_error(SC_EINVAL, "dist: the model is planned for %lld images, not 2N",
                                            (long long)rows);
  sc_dist_simclr *ds = calloc(1, sizeof *ds);
  if (!ds) return sc_error(SC_ENOMEM, "dist: out of memory");
  ds->d = d, ds->s = s, ds->m = m, ds->o = o ? *o : sc_dist_simclr_defaults();
  ds->rows_cap = rows * dim * sc_dist_size(d);
  ds->gathered = malloc(sizeof(float) * (size_t)ds->rows_cap);
  ds->dgathered = malloc(sizeof(float) * (size_t)ds->rows_cap);
  size_t nt = 0;
  const sc_tensor_info *t = sc_model_tensors(m, &nt);
  int64_t max_c = 1;
  for (size_t i = 0; i < nt; i++)
    if (t[i].role == SC_TENSOR_BUFFER && (int64_t)t[i].count > max_c) max_c = (int64_t)t[i].count;
  ds->sync = (sc_nn_bn_sync){.sum = bn_sum, .ctx = d, .max_c = max_c,
                             .dbuf = malloc(sizeof(double) * (size_t)(2 * max_c + 1)),
                             .fbuf = malloc(sizeof(float) * (size_t)(2 * max_c))};
  if (!ds->gathered || !ds->dgathered || !ds->sync.dbuf || !ds->sync.fbuf) {
    sc_dist_simclr_free(ds);
    return sc_error(SC_ENOMEM, "dist: out of memory");
  }
  /* Replicas start equal even if they were initialised differently (or one resumed from a checkpoint). */
  size_t np = 0, nb = 0;
  float *w = sc_model_params(m, &np), *b = sc_model_buffers(m, &nb);
  sc_status st = sc_dist_broadcast_f32(d, w, (int64_t)np, 0);
  if (st == SC_OK && nb) st = sc_dist_broadcast_f32(d, b, (int64_t)nb, 0);
  if (st != SC_OK) {
    sc_dist_simclr_free(ds);
    return st;
  }
  sc_simclr_set_hooks(s, &(sc_simclr_hooks){.loss = loss_hook, .grads = grads_hook, .ctx = ds});
  *out = ds;
  return SC_OK;
}

void sc_dist_simclr_free(sc_dist_simclr *ds) {
  if (!ds) return;
  sc_simclr_set_hooks(ds->s, NULL);
  free(ds->gathered);
  free(ds->dgathered);
  free(ds->sync.dbuf);
  free(ds->sync.fbuf);
  free(ds);
}

sc_status sc_dist_simclr_step(sc_dist_simclr *ds, float *loss, float *lr) {
  if (!ds || !loss) return sc_error(SC_EINVAL, "dist: null argument");
  /* The reducer is installed for this step only, so other models on this thread keep local statistics. */
  if (ds->o.sync_bn) sc_nn_batchnorm_set_sync(&ds->sync);
  ds->allreduce_s = 0;
  sc_status st = sc_simclr_step(ds->s, loss, lr);
  if (ds->o.sync_bn) sc_nn_batchnorm_set_sync(NULL);
  return st;
}

double sc_dist_simclr_allreduce_seconds(const sc_dist_simclr *ds) { return ds->allreduce_s; }
