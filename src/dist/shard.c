/* shard.c: which samples a rank reads at a step. It reproduces the loader's sharded batches (the same epoch order,
 * from sc_loader_epoch_order, cut into global batches of size*batch, each cut into per-rank slices in rank order),
 * so a test or a tool can know a rank's samples without running a loader. It must not draw its own permutation:
 * one shuffle, the loader's, defines every epoch. */
#include <string.h>

#include "../core/error.h"
#include "data/loader.h"
#include "dist.h"

sc_status sc_dist_shard_indices(const int64_t *pool, int64_t npool, uint64_t seed, int64_t epoch, int no_shuffle,
                                int64_t step, int rank, int size, int64_t batch, int64_t *scratch, int64_t *out) {
  if (!scratch || !out || npool < 1 || batch < 1 || size < 1 || rank < 0 || rank >= size || epoch < 0 || step < 0)
    return sc_error(SC_EINVAL, "dist: shard of rank %d of %d, batch %lld, step %lld of a pool of %lld", rank, size,
                    (long long)batch, (long long)step, (long long)npool);
  const int64_t global = batch * size;
  if ((step + 1) * global > npool)
    return sc_error(SC_EINVAL, "dist: step %lld is past the %lld whole global batches of %lld samples",
                    (long long)step, (long long)(npool / global), (long long)npool);
  for (int64_t i = 0; i < npool; i++) scratch[i] = pool ? pool[i] : i;
  sc_loader_epoch_order(seed, epoch, no_shuffle, scratch, npool);
  memcpy(out, scratch + step * global + (int64_t)rank * batch, sizeof *out * (size_t)batch);
  return SC_OK;
}
