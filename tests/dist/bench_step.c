/* bench_step.c: throughput of the distributed SimCLR step (weak scaling: each rank keeps N pairs, so P ranks train
 * a global batch of P*N pairs). Not run by ctest. Run one thread per rank, e.g.
 *   OMP_NUM_THREADS=1 SIMCLR_THREADS=1 mpirun -np 2 --oversubscribe build/dist_bench_step [depth width size pairs
 *   steps sync_bn]            (defaults: 18 0.5 32 16 6 1)
 * Rank 0 prints the median step time (the first step, which warms caches and packing buffers, is left out), the
 * images per second of the whole job, the time of the gradient all-reduce inside the step, and the gradient bytes,
 * the figures the scaling estimate needs. Random images: speed does not depend on the pixels. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpi.h>

#include "dist/dist.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  sc_dist *d = NULL;
  if (sc_dist_init(&argc, &argv, 0, &d) != SC_OK) {
    fprintf(stderr, "sc_dist_init: %s\n", sc_last_error());
    return 1;
  }
  int depth = argc > 1 ? atoi(argv[1]) : 18, size = argc > 3 ? atoi(argv[3]) : 32;
  float width = argc > 2 ? (float)atof(argv[2]) : 0.5f;
  int pairs = argc > 4 ? atoi(argv[4]) : 16, steps = argc > 5 ? atoi(argv[5]) : 6;
  int sync_bn = argc > 6 ? atoi(argv[6]) : 1;
  if (steps < 2) steps = 2;
  const int p = sc_dist_size(d), r = sc_dist_rank(d);
  sc_model_config mc = sc_model_defaults();
  mc.depth = depth, mc.width = width, mc.image_size = size, mc.seed = 1;
  sc_model *m = NULL;
  sc_simclr *s = NULL;
  sc_dist_simclr *ds = NULL;
  sc_simclr_config sc = sc_simclr_defaults();
  sc.lr_peak = 0.1, sc.total_steps = steps + 1;
  sc_dist_simclr_options o = sc_dist_simclr_defaults();
  o.sync_bn = sync_bn;
  if (sc_model_create(&mc, &m) != SC_OK || sc_simclr_create(m, pairs, &sc, &s) != SC_OK ||
      sc_dist_simclr_create(d, s, m, &o, &ds) != SC_OK) {
    fprintf(stderr, "rank %d: %s\n", r, sc_last_error());
    sc_dist_abort(d, 1);
  }
  float *v = sc_simclr_views(s);
  const size_t nv = (size_t)2 * (size_t)pairs * (size_t)size * (size_t)size * 3;
  uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(r + 1);
  for (size_t i = 0; i < nv; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (float)(x >> 40) / 8388608.0f - 1.0f;
  }
  double *t = malloc(sizeof(double) * (size_t)steps), *ar = malloc(sizeof(double) * (size_t)steps);
  for (int k = 0; k < steps; k++) {
    float loss;
    sc_dist_barrier(d);
    double t0 = now();
    if (sc_dist_simclr_step(ds, &loss, NULL) != SC_OK) {
      fprintf(stderr, "rank %d step %d: %s\n", r, k, sc_last_error());
      sc_dist_abort(d, 1);
    }
    t[k] = now() - t0, ar[k] = sc_dist_simclr_allreduce_seconds(ds);
  }
  /* the slowest rank sets the pace: each step's maximum over the ranks, from every rank's row of all[P][steps] */
  double *all = calloc((size_t)steps * (size_t)p, sizeof(double)), *tmax = calloc((size_t)steps, sizeof(double));
  for (int k = 0; k < steps; k++) all[(size_t)r * (size_t)steps + (size_t)k] = t[k];
  if (sc_dist_allreduce_f64(d, NULL, all, (int64_t)steps * p) != SC_OK) sc_dist_abort(d, 1);
  for (int q = 0; q < p; q++)
    for (int k = 0; k < steps; k++)
      if (all[(size_t)q * (size_t)steps + (size_t)k] > tmax[k]) tmax[k] = all[(size_t)q * (size_t)steps + (size_t)k];
  free(all);
  qsort(tmax + 1, (size_t)steps - 1, sizeof(double), cmp);
  qsort(ar + 1, (size_t)steps - 1, sizeof(double), cmp);
  const double med = tmax[1 + (steps - 1) / 2], armed = ar[1 + (steps - 1) / 2];
  size_t np = 0;
  sc_model_params(m, &np);
  if (r == 0)
    printf("P=%d resnet%d width %.2g %dpx, %d pairs/rank, sync_bn %d: step %.3f s (median of %d), %.1f images/s, "
           "all-reduce %.4f s of %.2f MB gradients\n", p, depth, (double)width, size, pairs, sync_bn, med, steps - 1,
           2.0 * pairs * p / med, armed, (double)np * 4 / 1e6);
  /* the wrapper (non-blocking, polled against the deadline) against a plain blocking MPI_Allreduce, same buffer */
  float *g = sc_model_grads(m, NULL);
  double tw = 1e30, tb = 1e30;
  for (int k = 0; k < 5; k++) {
    sc_dist_barrier(d);
    double t0 = now();
    sc_dist_allreduce_f32(d, NULL, g, (int64_t)np);
    double t1 = now();
    MPI_Barrier(MPI_COMM_WORLD);
    double t2 = now();
    MPI_Allreduce(MPI_IN_PLACE, g, (int)np, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double t3 = now();
    if (t1 - t0 < tw) tw = t1 - t0;
    if (t3 - t2 < tb) tb = t3 - t2;
  }
  if (r == 0) printf("all-reduce of %.2f MB alone (best of 5): wrapper %.4f s, blocking MPI_Allreduce %.4f s\n",
                     (double)np * 4 / 1e6, tw, tb);
  free(t), free(ar), free(tmax);
  sc_dist_simclr_free(ds);
  sc_simclr_free(s);
  sc_model_free(m);
  return sc_dist_finalize(d) != SC_OK;
}
