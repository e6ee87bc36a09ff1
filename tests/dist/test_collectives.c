/* test_collectives.c: the communicator layer (src/dist/comm.c) on the ranks it is started with, and the shard
 * helper. Data are small integers stored as float and double, so every sum is exact whatever order MPI adds in and
 * results are compared bit for bit (memcmp), in place and out of place, at a few lengths (0, 1, odd, 4099). The
 * shard test checks, for 1..4 ranks, that the ranks' slices of a step are disjoint, concatenate in rank order to the
 * single-process batch of size*batch at the same step, and follow the loader's epoch order. */
#include <stdint.h>
#include <string.h>

#include "data/loader.h"
#include "dist/dist.h"
#include "dist_check.h"

/* The value rank r contributes at index i: a small integer (|v| < 2^10), exact in float sums over few ranks. */
static float val(int r, int64_t i) { return (float)((int64_t)(check_mix((uint64_t)(r * 1000003 + i)) % 1021) - 510); }

static void test_allreduce(sc_dist *d, int64_t n) {
  const int r = sc_dist_rank(d), p = sc_dist_size(d);
  float *in = malloc(sizeof(float) * (size_t)(n + 1)), *out = malloc(sizeof(float) * (size_t)(n + 1));
  float *want = malloc(sizeof(float) * (size_t)(n + 1));
  double *din = malloc(sizeof(double) * (size_t)(n + 1)), *dwant = malloc(sizeof(double) * (size_t)(n + 1));
  for (int64_t i = 0; i < n; i++) {
    in[i] = val(r, i), din[i] = 0.5 * val(r, i); /* halves: still exact */
    want[i] = 0, dwant[i] = 0;
    for (int q = 0; q < p; q++) want[i] += val(q, i), dwant[i] += 0.5 * val(q, i);
  }
  sc_status st = sc_dist_allreduce_f32(d, in, out, n);
  CHECK(st == SC_OK && !memcmp(out, want, sizeof(float) * (size_t)n), "allreduce f32 out of place n=%lld: %s",
        (long long)n, st ? sc_last_error() : "values differ");
  st = sc_dist_allreduce_f32(d, NULL, in, n);
  CHECK(st == SC_OK && !memcmp(in, want, sizeof(float) * (size_t)n), "allreduce f32 in place n=%lld: %s",
        (long long)n, st ? sc_last_error() : "values differ");
  st = sc_dist_allreduce_f64(d, din, din, n);
  CHECK(st == SC_OK && !memcmp(din, dwant, sizeof(double) * (size_t)n), "allreduce f64 in place n=%lld: %s",
        (long long)n, st ? sc_last_error() : "values differ");
  free(in), free(out), free(want), free(din), free(dwant);
}

static void test_gather_scatter(sc_dist *d, int64_t n) {
  const int r = sc_dist_rank(d), p = sc_dist_size(d);
  const size_t all = (size_t)(n * p) + 1;
  float *in = malloc(sizeof(float) * (size_t)(n + 1)), *out = malloc(sizeof(float) * all);
  float *want = malloc(sizeof(float) * all), *big = malloc(sizeof(float) * all);
  for (int64_t i = 0; i < n; i++) in[i] = val(r, i);
  for (int q = 0; q < p; q++)
    for (int64_t i = 0; i < n; i++) want[q * n + i] = val(q, i);
  sc_status st = sc_dist_allgather_f32(d, in, out, n);
  CHECK(st == SC_OK && !memcmp(out, want, sizeof(float) * (size_t)(n * p)), "allgather out of place n=%lld: %s",
        (long long)n, st ? sc_last_error() : "values differ");
  for (size_t i = 0; i < all; i++) out[i] = -9999; /* other ranks' blocks must be overwritten */
  memcpy(out + r * n, in, sizeof(float) * (size_t)n);
  st = sc_dist_allgather_f32(d, NULL, out, n);
  CHECK(st == SC_OK && !memcmp(out, want, sizeof(float) * (size_t)(n * p)), "allgather in place n=%lld: %s",
        (long long)n, st ? sc_last_error() : "values differ");
  /* reduce-scatter: rank q contributes val(q, i) + 7*block at block `block`; rank r receives block r's sum */
  for (int b = 0; b < p; b++)
    for (int64_t i = 0; i < n; i++) big[b * n + i] = val(r, i) + 7.0f * (float)b;
  for (int64_t i = 0; i < n; i++) {
    want[i] = 0;
    for (int q = 0; q < p; q++) want[i] += val(q, i) + 7.0f * (float)r;
  }
  st = sc_dist_reduce_scatter_f32(d, big, out, n);
  CHECK(st == SC_OK && !memcmp(out, want, sizeof(float) * (size_t)n), "reduce-scatter n=%lld: %s", (long long)n,
        st ? sc_last_error() : "values differ");
  /* broadcast from the last rank */
  for (int64_t i = 0; i < n; i++) out[i] = val(r, i), want[i] = val(p - 1, i);
  st = sc_dist_broadcast_f32(d, out, n, p - 1);
  CHECK(st == SC_OK && !memcmp(out, want, sizeof(float) * (size_t)n), "broadcast n=%lld: %s", (long long)n,
        st ? sc_last_error() : "values differ");
  free(in), free(out), free(want), free(big);
}

static void test_errors(sc_dist *d) {
  /* rejected before any communication, so every rank returns alike and nothing is left in flight */
  float x = 0;
  CHECK(sc_dist_allreduce_f32(d, NULL, &x, (int64_t)1 << 40) == SC_EINVAL, "a count over INT_MAX is accepted");
  CHECK(sc_dist_broadcast_f32(d, &x, 1, sc_dist_size(d)) == SC_EINVAL, "a root outside the ranks is accepted");
  CHECK(sc_dist_barrier(d) == SC_OK, "barrier: %s", sc_last_error());
}

static void test_shards(void) {
  enum { NPOOL = 103, BATCH = 5 };
  int64_t pool[NPOOL], order[NPOOL], scratch[NPOOL], got[4 * BATCH], one[4 * BATCH];
  for (int i = 0; i < NPOOL; i++) pool[i] = 1000 + 3 * i;
  for (int size = 1; size <= 4; size++) {
    const int64_t steps = NPOOL / (BATCH * size);
    int seen[NPOOL] = {0};
    memcpy(order, pool, sizeof order);
    sc_loader_epoch_order(42, 3, 0, order, NPOOL);
    for (int64_t t = 0; t < steps; t++) {
      for (int r = 0; r < size; r++) {
        sc_status st = sc_dist_shard_indices(pool, NPOOL, 42, 3, 0, t, r, size, BATCH, scratch, got + r * BATCH);
        CHECK(st == SC_OK, "shard size=%d rank=%d step=%lld: %s", size, r, (long long)t, sc_last_error());
      }
      /* the single-process batch of size*BATCH at step t */
      sc_status st = sc_dist_shard_indices(pool, NPOOL, 42, 3, 0, t, 0, 1, BATCH * size, scratch, one);
      CHECK(st == SC_OK && !memcmp(got, one, sizeof(int64_t) * BATCH * (size_t)size),
            "size=%d step=%lld: the ranks' shards are not the single-process batch", size, (long long)t);
      CHECK(!memcmp(got, order + t * BATCH * size, sizeof(int64_t) * BATCH * (size_t)size),
            "size=%d step=%lld: shards do not follow the loader's epoch order", size, (long long)t);
      for (int k = 0; k < BATCH * size; k++) {
        int64_t slot = (got[k] - 1000) / 3;
        CHECK(slot >= 0 && slot < NPOOL && !seen[slot], "size=%d step=%lld: sample %lld read twice", size,
              (long long)t, (long long)got[k]);
        if (slot >= 0 && slot < NPOOL) seen[slot] = 1;
      }
    }
    CHECK(sc_dist_shard_indices(pool, NPOOL, 42, 3, 0, steps, 0, size, BATCH, scratch, got) == SC_EINVAL,
          "size=%d: a step past the last whole batch is accepted", size);
  }
  /* another epoch, another order */
  int64_t a[BATCH], b[BATCH];
  sc_dist_shard_indices(NULL, NPOOL, 42, 0, 0, 0, 0, 2, BATCH, scratch, a);
  sc_dist_shard_indices(NULL, NPOOL, 42, 1, 0, 0, 0, 2, BATCH, scratch, b);
  CHECK(memcmp(a, b, sizeof a) != 0, "epochs 0 and 1 start with the same samples");
}

int main(int argc, char **argv) {
  sc_dist *d = NULL;
  if (sc_dist_init(&argc, &argv, 60, &d) != SC_OK) {
    fprintf(stderr, "sc_dist_init: %s\n", sc_last_error());
    return 1;
  }
  check_rank = sc_dist_rank(d);
  const int64_t lengths[] = {0, 1, 7, 4099};
  for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
    test_allreduce(d, lengths[k]);
    test_gather_scatter(d, lengths[k]);
  }
  test_errors(d);
  test_shards();
  int rc = check_finish();
  sc_status st = sc_dist_finalize(d);
  if (st != SC_OK) fprintf(stderr, "sc_dist_finalize: %s\n", sc_last_error());
  return rc || st != SC_OK;
}
