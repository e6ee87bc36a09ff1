/* test_shard_loader.c: the loader's shard option on real ranks. Rank 0 writes a 40-image IDX file; every rank opens
 * it with a loader of 3 images per batch and shard_rank/shard_count set; for two epochs each rank's batch indices
 * must be sc_dist_shard_indices' (hence the single-process order cut into global batches of 3*P), the ranks'
 * batches of a step must be disjoint (checked across ranks with an all-gather), and the epoch must have
 * 40 / (3*P) batches. The views are not compared: they are keyed by (seed, epoch, sample, view) alone. */
#include <string.h>
#include <unistd.h>

#include "data/loader.h"
#include "dist/dist.h"
#include "dist_check.h"

enum { NIMG = 40, SIDE = 8, B = 3 };

static int write_idx(const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, NIMG, 0, 0, 0, SIDE, 0, 0, 0, SIDE};
  int ok = fwrite(head, 1, sizeof head, f) == sizeof head;
  for (int i = 0; i < NIMG * SIDE * SIDE; i++) ok = ok && fputc((i * 37 + i / (SIDE * SIDE)) & 255, f) != EOF;
  return fclose(f) == 0 && ok;
}

int main(int argc, char **argv) {
  sc_dist *d = NULL;
  if (sc_dist_init(&argc, &argv, 60, &d) != SC_OK) {
    fprintf(stderr, "sc_dist_init: %s\n", sc_last_error());
    return 1;
  }
  const int r = sc_dist_rank(d), p = sc_dist_size(d);
  check_rank = r;
  char path[128];
  float job = (float)getpid(); /* one file per job: rank 0's pid, shared by broadcast */
  sc_dist_broadcast_f32(d, &job, 1, 0);
  snprintf(path, sizeof path, "/tmp/simclr-shard-%.0f-images-idx3-ubyte", (double)job);
  if (r == 0) CHECK(write_idx(path), "cannot write %s", path);
  sc_dist_barrier(d);
  sc_dataset_options dopt = sc_dataset_options_default();
  dopt.path = path;
  dopt.format = SC_DATA_IDX;
  sc_dataset *ds = NULL;
  sc_loader *l = NULL;
  sc_status st = sc_dataset_open(&dopt, &ds);
  CHECK(st == SC_OK, "dataset %s: %s", path, sc_last_error());
  sc_loader_options lo = {.batch_size = B, .threads = 1, .seed = 9, .drop_last = 1, .mode = SC_VIEW_PRETRAIN,
                          .shard_rank = r, .shard_count = p, .aug = sc_augment_defaults(SIDE, 1, -1)};
  if (ds) {
    st = sc_loader_create(ds, &lo, &l);
    CHECK(st == SC_OK, "loader: %s", sc_last_error());
  }
  if (l) {
    CHECK(sc_loader_batches_per_epoch(l) == NIMG / (B * p), "%lld batches per epoch with %d ranks",
          (long long)sc_loader_batches_per_epoch(l), p);
    int64_t scratch[NIMG], want[B];
    float mine[B], all[B * 16];
    for (int64_t e = 0; e < 2; e++) {
      CHECK(sc_loader_start_epoch(l, e) == SC_OK, "epoch %lld: %s", (long long)e, sc_last_error());
      int64_t steps = 0;
      for (;;) {
        const sc_batch *b = NULL;
        st = sc_loader_next(l, &b);
        CHECK(st == SC_OK, "epoch %lld step %lld: %s", (long long)e, (long long)steps, sc_last_error());
        if (st != SC_OK || !b) break;
        CHECK(b->n == B, "epoch %lld step %lld: %d images", (long long)e, (long long)steps, b->n);
        st = sc_dist_shard_indices(NULL, NIMG, 9, e, 0, steps, r, p, B, scratch, want);
        CHECK(st == SC_OK && !memcmp(b->index, want, sizeof want), "epoch %lld step %lld: the loader's shard "
              "(%lld %lld %lld) is not the helper's (%lld %lld %lld)", (long long)e, (long long)steps,
              (long long)b->index[0], (long long)b->index[1], (long long)b->index[2], (long long)want[0],
              (long long)want[1], (long long)want[2]);
        for (int i = 0; i < B; i++) mine[i] = (float)b->index[i];
        if (p <= 16 && sc_dist_allgather_f32(d, mine, all, B) == SC_OK) {
          int dup = 0;
          for (int i = 0; i < B * p; i++)
            for (int j = 0; j < i; j++) dup += all[i] == all[j];
          CHECK(dup == 0, "epoch %lld step %lld: %d samples read by two ranks", (long long)e, (long long)steps, dup);
        }
        steps++;
      }
      CHECK(steps == NIMG / (B * p), "epoch %lld: %lld steps", (long long)e, (long long)steps);
    }
  }
  sc_loader_destroy(l);
  sc_dataset_close(ds);
  int rc = check_finish();
  if (r == 0) unlink(path);
  st = sc_dist_finalize(d);
  return rc || st != SC_OK;
}
