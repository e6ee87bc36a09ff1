/* loader.h: the prefetching loader. Worker threads (pthreads) decode and augment whole batches ahead of the
 * trainer into a ring of batch buffers; the trainer takes them in order with sc_loader_next().
 *
 * An epoch is a permutation of the dataset (or of a chosen subset) drawn from (seed, epoch); with drop_last the
 * final partial batch is left out. Every view of sample i in epoch e is keyed by (seed, e, i, view), so the
 * bytes a step sees do not depend on the thread count or on which thread did the work. Pretraining batches hold
 * two views per image; probe and evaluation batches one view and the label. A file that fails to decode stops
 * the loader under SC_BAD_STOP (sc_loader_next returns its error); under SC_BAD_SKIP it is counted and replaced
 * by the next good sample of the epoch's order (deterministic, since a bad file is bad for every thread).
 * Nothing here prints; destroying the loader joins its threads and frees everything. */
#ifndef SC_DATA_LOADER_H
#define SC_DATA_LOADER_H

#include <stdint.h>

#include "augment.h"
#include "dataset.h"

typedef struct sc_loader_options {
  int batch_size;
  int threads; /* worker threads (0: 2) */
  int ring;    /* batch buffers (0: threads + 1) */
  int drop_last;
  int no_shuffle; /* keep the dataset (or subset) order */
  uint64_t seed;
  sc_view_mode mode;     /* SC_VIEW_PRETRAIN gives two views per image, the others one */
  const int64_t *subset; /* optional: dataset indices to draw from (copied) */
  int64_t nsubset;
  /* Data-parallel shard (shard_count > 1): every rank draws the same epoch order and batch b of this loader is
   * positions [(b*shard_count + shard_rank)*batch_size, +batch_size) of it, so the ranks' batches are disjoint and
   * together form the single-process batch of shard_count*batch_size. Implies drop_last (equal batches). */
  int shard_rank, shard_count;
  sc_augment_options aug;
} sc_loader_options;

typedef struct sc_batch {
  int64_t epoch, step; /* step counts batches within the epoch */
  int n;               /* images in this batch (batch_size except maybe the last) */
  int views, size, channels;
  float *x[2];     /* views of n images, each n x size x size x channels (NHWC) */
  int32_t *labels; /* n labels (-1 when unlabeled) */
  int64_t *index;  /* n dataset indices */
} sc_batch;

typedef struct sc_loader sc_loader;

/* ds must outlive the loader. */
sc_status sc_loader_create(const sc_dataset *ds, const sc_loader_options *o, sc_loader **out);
/* Begins epoch e (any epoch in any order; an unfinished epoch is abandoned). */
sc_status sc_loader_start_epoch(sc_loader *l, int64_t epoch);
/* Begins epoch e at batch first (0 <= first <= batches per epoch): the batches delivered are exactly those an
 * uninterrupted epoch delivers from that point, which is how a resumed run continues mid-epoch. */
sc_status sc_loader_start_epoch_at(sc_loader *l, int64_t epoch, int64_t first);
/* The next batch of the current epoch, or *b = NULL when the epoch is over. The batch stays valid until the next
 * call to sc_loader_next, sc_loader_start_epoch or sc_loader_destroy. */
sc_status sc_loader_next(sc_loader *l, const sc_batch **b);
int64_t sc_loader_batches_per_epoch(const sc_loader *l);
/* The order of epoch `epoch` as sc_loader_start_epoch draws it: order[n] holds the pool on entry and is permuted
 * in place by the generator keyed (seed, epoch) (left as is when no_shuffle). */
void sc_loader_epoch_order(uint64_t seed, int64_t epoch, int no_shuffle, int64_t *order, int64_t n);
/* Samples replaced because their file failed to decode (SC_BAD_SKIP), over the loader's life. */
int64_t sc_loader_bad_count(sc_loader *l);
void sc_loader_destroy(sc_loader *l);

#endif
