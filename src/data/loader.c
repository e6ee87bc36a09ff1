/* loader.c: worker threads filling a ring of batch buffers (see loader.h). One mutex guards all shared state;
 * workers hold it only to claim a batch and to publish it, never while decoding. Batch b always goes to slot
 * b % ring, and a worker claims b only once that slot is free, so batches are delivered in order without
 * reordering buffers. Restarting an epoch first stops new claims and waits for in-flight batches, so the order
 * array is never rewritten under a reader. Must not print; every thread is joined in sc_loader_destroy. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "loader.h"

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY };

typedef struct slot {
  sc_batch b;
  int state;
  int64_t id;
} slot;

struct sc_loader {
  const sc_dataset *ds;
  sc_loader_options o;
  int64_t *pool, npool; /* the indices an epoch permutes */
  int64_t *order;       /* this epoch's permutation of pool */
  int views;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_ready;
  int active; /* an epoch is running: workers may claim */
  int64_t epoch, nbatches, next_claim, next_consume, held;
  uint64_t generation;
  slot *slots;
  int nslots, filling, quit;
  sc_status err;
  char errmsg[512];
  int64_t bad;
  pthread_t *th;
  int nth;
};

static sc_status fill(sc_loader *l, slot *s, int64_t b, int64_t epoch, sc_decoder *dec, sc_image *scratch,
                      sc_augment_scratch *as) {
  const sc_augment_options *a = &l->o.aug;
  const size_t per = (size_t)a->size * a->size * a->channels;
  const int64_t B = l->o.batch_size;
  const int64_t start = l->o.shard_count > 1 ? (b * l->o.shard_count + l->o.shard_rank) * B : b * B;
  int n = (int)(l->npool - start < B ? l->npool - start : B);
  for (int i = 0; i < n; i++) {
    int64_t pos = start + i, idx = l->order[pos];
    sc_image view;
    sc_status st = sc_dataset_image(l->ds, dec, idx, scratch, &view);
    for (int k = 1; st != SC_OK && st != SC_ENOMEM && l->ds->opt.bad == SC_BAD_SKIP && k <= 64; k++) {
      pthread_mutex_lock(&l->mu);
      l->bad++;
      pthread_mutex_unlock(&l->mu);
      idx = l->order[(pos + k) % l->npool];
      st = sc_dataset_image(l->ds, dec, idx, scratch, &view);
    }
    if (st != SC_OK) return st;
    s->b.labels[i] = l->ds->labels ? l->ds->labels[idx] : -1;
    s->b.index[i] = idx;
    for (int v = 0; v < l->views; v++) {
      sc_rng rng;
      sc_rng_init_data(&rng, l->o.seed, (uint64_t)epoch, (uint64_t)idx, (uint32_t)v);
      SC_TRY(sc_augment_view(a, l->o.mode, &view, &rng, as, s->b.x[v] + (size_t)i * per, NULL));
    }
  }
  s->b.n = n, s->b.epoch = epoch, s->b.step = b;
  return SC_OK;
}

static void *worker(void *arg) {
  sc_loader *l = arg;
  sc_decoder *dec = NULL;
  sc_image scratch = {0};
  sc_augment_scratch as = {0};
  sc_status init = sc_decoder_create(&dec);
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->quit && !(l->active && l->err == SC_OK && l->next_claim < l->nbatches &&
                         l->slots[l->next_claim % l->nslots].state == SLOT_FREE))
      pthread_cond_wait(&l->cv_work, &l->mu);
    if (l->quit) break;
    int64_t b = l->next_claim++, epoch = l->epoch;
    uint64_t gen = l->generation;
    slot *s = &l->slots[b % l->nslots];
    s->state = SLOT_FILLING;
    l->filling++;
    pthread_mutex_unlock(&l->mu);
    sc_status st = init != SC_OK ? init : fill(l, s, b, epoch, dec, &scratch, &as);
    pthread_mutex_lock(&l->mu);
    l->filling--;
    if (gen != l->generation)
      s->state = SLOT_FREE; /* the epoch was abandoned meanwhile */
    else if (st != SC_OK) {
      s->state = SLOT_FREE;
      if (l->err == SC_OK) {
        l->err = st;
        snprintf(l->errmsg, sizeof l->errmsg, "%s", sc_last_error());
      }
    } else
      s->state = SLOT_READY, s->id = b;
    pthread_cond_broadcast(&l->cv_ready);
    pthread_cond_broadcast(&l->cv_work);
  }
  pthread_mutex_unlock(&l->mu);
  sc_decoder_destroy(dec);
  sc_image_free(&scratch);
  sc_augment_scratch_free(&as);
  return NULL;
}

void sc_loader_destroy(sc_loader *l) {
  if (!l) return;
  if (l->th) {
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nth; i++) pthread_join(l->th[i], NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv_work);
    pthread_cond_destroy(&l->cv_ready);
  }
  for (int i = 0; l->slots && i < l->nslots; i++) {
    free(l->slots[i].b.x[0]), free(l->slots[i].b.x[1]);
    free(l->slots[i].b.labels), free(l->slots[i].b.index);
  }
  free(l->slots), free(l->th), free(l->pool), free(l->order);
  free(l);
}

sc_status sc_loader_create(const sc_dataset *ds, const sc_loader_options *o, sc_loader **out) {
  *out = NULL;
  if (!ds || !o) return sc_error(SC_EINVAL, "loader: no dataset or options");
  if (o->batch_size < 1) return sc_error(SC_EINVAL, "loader: batch size %d", o->batch_size);
  if (o->threads < 0 || o->threads > 256) return sc_error(SC_EINVAL, "loader: %d threads", o->threads);
  if (o->shard_count > 1 && (o->shard_rank < 0 || o->shard_rank >= o->shard_count))
    return sc_error(SC_EINVAL, "loader: shard %d of %d", o->shard_rank, o->shard_count);
  if (o->ring < 0 || o->ring > 1024) return sc_error(SC_EINVAL, "loader: ring of %d batches", o->ring);
  if (o->mode != SC_VIEW_PRETRAIN && o->mode != SC_VIEW_PROBE_TRAIN && o->mode != SC_VIEW_EVAL)
    return sc_error(SC_EINVAL, "loader: unknown view mode %d", (int)o->mode);
  SC_TRY(sc_augment_check(&o->aug));
  if (o->aug.channels != ds->c)
    return sc_error(SC_EINVAL, "loader: the augmentation makes %d channels, the dataset %s has %d", o->aug.channels,
                    ds->root, ds->c);
  sc_loader *l = calloc(1, sizeof *l);
  if (!l) return sc_error(SC_ENOMEM, "loader: out of memory");
  l->ds = ds, l->o = *o, l->held = -1;
  l->views = o->mode == SC_VIEW_PRETRAIN ? 2 : 1;
  l->npool = o->subset ? o->nsubset : ds->n;
  if (l->npool < 1) return sc_loader_destroy(l), sc_error(SC_EINVAL, "loader: no samples to draw from");
  l->pool = malloc(sizeof *l->pool * (size_t)l->npool);
  l->order = malloc(sizeof *l->order * (size_t)l->npool);
  if (!l->pool || !l->order) return sc_loader_destroy(l), sc_error(SC_ENOMEM, "loader: out of memory");
  for (int64_t i = 0; i < l->npool; i++) {
    int64_t v = o->subset ? o->subset[i] : i;
    if (v < 0 || v >= ds->n)
      return sc_loader_destroy(l),
             sc_error(SC_EINVAL, "loader: subset entry %lld is %lld, outside the %lld images of %s", (long long)i,
                      (long long)v, (long long)ds->n, ds->root);
    l->pool[i] = v;
  }
  l->o.subset = NULL;
  l->nth = o->threads ? o->threads : 2;
  l->nslots = o->ring ? o->ring : l->nth + 1;
  if (l->nslots < 1) l->nslots = 1;
  const size_t per = (size_t)o->aug.size * o->aug.size * o->aug.channels * (size_t)o->batch_size;
  l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
  if (!l->slots) return sc_loader_destroy(l), sc_error(SC_ENOMEM, "loader: out of memory");
  for (int i = 0; i < l->nslots; i++) {
    sc_batch *b = &l->slots[i].b;
    b->views = l->views, b->size = o->aug.size, b->channels = o->aug.channels;
    for (int v = 0; v < l->views; v++)
      if (!(b->x[v] = sc_alloc_lines(per * sizeof(float))))
        return sc_loader_destroy(l), sc_error(SC_ENOMEM, "loader: out of memory for %d batch buffers", l->nslots);
    b->labels = malloc(sizeof *b->labels * (size_t)o->batch_size);
    b->index = malloc(sizeof *b->index * (size_t)o->batch_size);
    if (!b->labels || !b->index) return sc_loader_destroy(l), sc_error(SC_ENOMEM, "loader: out of memory");
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv_work, NULL);
  pthread_cond_init(&l->cv_ready, NULL);
  l->th = calloc((size_t)l->nth, sizeof *l->th);
  if (!l->th) {
    pthread_mutex_destroy(&l->mu), pthread_cond_destroy(&l->cv_work), pthread_cond_destroy(&l->cv_ready);
    return sc_loader_destroy(l), sc_error(SC_ENOMEM, "loader: out of memory");
  }
  for (int i = 0; i < l->nth; i++)
    if (pthread_create(&l->th[i], NULL, worker, l) != 0) {
      l->nth = i; /* join the ones that started */
      sc_loader_destroy(l);
      return sc_error(SC_ENOMEM, "loader: cannot start worker thread %d", i);
    }
  *out = l;
  return SC_OK;
}

void sc_loader_epoch_order(uint64_t seed, int64_t epoch, int no_shuffle, int64_t *order, int64_t n) {
  if (no_shuffle) return;
  sc_rng r;
  sc_rng_init_data(&r, seed, (uint64_t)epoch, UINT64_MAX, 0);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)sc_rng_below(&r, (uint64_t)i + 1), t = order[i];
    order[i] = order[j], order[j] = t;
  }
}

int64_t sc_loader_batches_per_epoch(const sc_loader *l) {
  int64_t B = l->o.batch_size;
  if (l->o.shard_count > 1) return l->npool / (B * l->o.shard_count);
  return l->o.drop_last ? l->npool / B : (l->npool + B - 1) / B;
}

sc_status sc_loader_start_epoch(sc_loader *l, int64_t epoch) { return sc_loader_start_epoch_at(l, epoch, 0); }

sc_status sc_loader_start_epoch_at(sc_loader *l, int64_t epoch, int64_t first) {
  if (!l || epoch < 0) return sc_error(SC_EINVAL, "loader: bad epoch %lld", (long long)epoch);
  if (first < 0 || first > sc_loader_batches_per_epoch(l))
    return sc_error(SC_EINVAL, "loader: epoch %lld has %lld batches, cannot start at batch %lld", (long long)epoch,
                    (long long)sc_loader_batches_per_epoch(l), (long long)first);
  pthread_mutex_lock(&l->mu);
  l->active = 0;
  l->generation++;
  while (l->filling > 0) pthread_cond_wait(&l->cv_ready, &l->mu);
  for (int i = 0; i < l->nslots; i++) l->slots[i].state = SLOT_FREE;
  memcpy(l->order, l->pool, sizeof *l->order * (size_t)l->npool);
  sc_loader_epoch_order(l->o.seed, epoch, l->o.no_shuffle, l->order, l->npool);
  l->epoch = epoch;
  l->nbatches = sc_loader_batches_per_epoch(l);
  l->next_claim = l->next_consume = first;
  l->held = -1;
  l->err = SC_OK;
  l->active = 1;
  pthread_cond_broadcast(&l->cv_work);
  pthread_mutex_unlock(&l->mu);
  return SC_OK;
}

sc_status sc_loader_next(sc_loader *l, const sc_batch **out) {
  *out = NULL;
  pthread_mutex_lock(&l->mu);
  if (l->held >= 0) {
    l->slots[l->held % l->nslots].state = SLOT_FREE;
    l->held = -1;
    pthread_cond_broadcast(&l->cv_work);
  }
  if (!l->active) {
    pthread_mutex_unlock(&l->mu);
    return sc_error(SC_EINVAL, "loader: sc_loader_start_epoch was not called");
  }
  if (l->next_consume >= l->nbatches) {
    pthread_mutex_unlock(&l->mu);
    return SC_OK;
  }
  slot *s = &l->slots[l->next_consume % l->nslots];
  while (l->err == SC_OK && !(s->state == SLOT_READY && s->id == l->next_consume))
    pthread_cond_wait(&l->cv_ready, &l->mu);
  if (l->err != SC_OK) {
    sc_status st = sc_error(l->err, "%s", l->errmsg);
    pthread_mutex_unlock(&l->mu);
    return st;
  }
  l->held = l->next_consume++;
  *out = &s->b;
  pthread_mutex_unlock(&l->mu);
  return SC_OK;
}

int64_t sc_loader_bad_count(sc_loader *l) {
  pthread_mutex_lock(&l->mu);
  int64_t n = l->bad;
  pthread_mutex_unlock(&l->mu);
  return n;
}
