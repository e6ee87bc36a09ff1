/* test_loader.c: the prefetching loader (every sample exactly once per epoch, drop-last, identical bytes for 1,
 * 2 and 3 threads, labels and indices consistent, abandoning an epoch, both bad-file policies), the subset
 * selection (balanced per class and by file list, including 1% of Fashion-MNIST = 60 per class when installed)
 * and the atomic file writer (old content survives a failed write; no temporary file is left behind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/loader.h"
#include "data/subset.h"
#include "datautil.h"
#include "test.h"

static sc_dataset *idx_dataset(const char *dir, int n, int nclasses) {
  char *im = tu_path(dir, "train-images-idx3-ubyte"), *lb = tu_path(dir, "train-labels-idx1-ubyte");
  tu_write_idx(im, lb, n, 20, 20, nclasses, 0);
  sc_dataset_options o = sc_dataset_options_default();
  o.path = dir;
  sc_dataset *ds;
  SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "%s", sc_last_error());
  free(im), free(lb);
  return ds;
}

static sc_loader_options opts(int batch, int threads, int drop_last) {
  sc_loader_options o = {.batch_size = batch,
                         .threads = threads,
                         .drop_last = drop_last,
                         .seed = 1234,
                         .mode = SC_VIEW_PRETRAIN,
                         .aug = sc_augment_defaults(16, 1, -1)};
  return o;
}

/* FNV-1a over the bytes of every batch of one epoch. */
static uint64_t run_epoch(sc_loader *l, int64_t epoch, int64_t *seen, int64_t nds, int *nbatches, int *last_n) {
  SC_ASSERT(sc_loader_start_epoch(l, epoch) == SC_OK, "%s", sc_last_error());
  uint64_t h = 1469598103934665603ull;
  const sc_batch *b;
  *nbatches = 0;
  for (;;) {
    SC_ASSERT(sc_loader_next(l, &b) == SC_OK, "epoch %lld: %s", (long long)epoch, sc_last_error());
    if (!b) break;
    SC_ASSERT(b->step == *nbatches && b->epoch == epoch, "batch %d came as step %lld of epoch %lld", *nbatches,
              (long long)b->step, (long long)b->epoch);
    size_t bytes = (size_t)b->n * b->size * b->size * b->channels * sizeof(float);
    for (int v = 0; v < b->views; v++)
      for (size_t i = 0; i < bytes; i++) h = (h ^ ((const unsigned char *)b->x[v])[i]) * 1099511628211ull;
    for (int i = 0; i < b->n; i++) {
      SC_ASSERT(b->index[i] >= 0 && b->index[i] < nds, "index %lld", (long long)b->index[i]);
      if (seen) seen[b->index[i]]++;
      h = (h ^ (uint64_t)b->index[i]) * 1099511628211ull;
    }
    *last_n = b->n;
    (*nbatches)++;
  }
  return h;
}

SC_TEST(loader, every_sample_once_drop_last_and_thread_independence) {
  char *dir = tu_tempdir();
  sc_dataset *ds = idx_dataset(dir, 103, 10);
  uint64_t ref[2] = {0, 0};
  for (int threads = 1; threads <= 3; threads++)
    for (int drop = 0; drop < 2; drop++) {
      sc_loader_options o = opts(10, threads, drop);
      o.ring = threads == 3 ? 2 : 0; /* fewer buffers than threads must work too */
      sc_loader *l;
      SC_ASSERT(sc_loader_create(ds, &o, &l) == SC_OK, "%s", sc_last_error());
      SC_ASSERT(sc_loader_batches_per_epoch(l) == (drop ? 10 : 11), "batches per epoch");
      int64_t seen[103] = {0};
      int nb, last;
      uint64_t h = run_epoch(l, 0, seen, 103, &nb, &last);
      SC_ASSERT(nb == (drop ? 10 : 11) && last == (drop ? 10 : 3), "threads=%d drop_last=%d: %d batches, last of %d",
                threads, drop, nb, last);
      int64_t once = 0, twice = 0;
      for (int i = 0; i < 103; i++) once += seen[i] == 1, twice += seen[i] > 1;
      SC_ASSERT(twice == 0 && once == (drop ? 100 : 103), "threads=%d drop_last=%d: %lld seen once, %lld more often",
                threads, drop, (long long)once, (long long)twice);
      if (threads == 1) ref[drop] = h;
      SC_ASSERT(h == ref[drop], "threads=%d drop_last=%d: epoch 0 bytes differ from 1 thread (seed 1234)", threads,
                drop);
      /* the next epoch is another permutation; re-running epoch 0 gives the same bytes again */
      uint64_t h1 = run_epoch(l, 1, NULL, 103, &nb, &last);
      SC_ASSERT(h1 != h, "epochs 0 and 1 identical");
      SC_ASSERT(run_epoch(l, 0, NULL, 103, &nb, &last) == h, "epoch 0 not reproducible after epoch 1");
      sc_loader_destroy(l);
    }
  sc_dataset_close(ds);
  tu_rmtree(dir), free(dir);
}

SC_TEST(loader, labels_subset_abandon_and_misuse) {
  char *dir = tu_tempdir();
  sc_dataset *ds = idx_dataset(dir, 64, 4);
  sc_loader_options o = opts(8, 2, 0);
  o.mode = SC_VIEW_EVAL;
  int64_t sub[] = {3, 9, 10, 33, 34, 60};
  o.subset = sub, o.nsubset = 6;
  sc_loader *l;
  SC_ASSERT(sc_loader_create(ds, &o, &l) == SC_OK, "%s", sc_last_error());
  const sc_batch *b;
  SC_ASSERT(sc_loader_next(l, &b) == SC_EINVAL, "next before start_epoch accepted");
  SC_ASSERT(sc_loader_start_epoch(l, 0) == SC_OK && sc_loader_next(l, &b) == SC_OK && b && b->n == 6 && b->views == 1,
            "subset epoch: %s", sc_last_error());
  int64_t sum = 0;
  for (int i = 0; i < b->n; i++) {
    SC_ASSERT(b->labels[i] == b->index[i] % 4, "label %d for image %lld", b->labels[i], (long long)b->index[i]);
    sum += b->index[i];
  }
  SC_ASSERT(sum == 3 + 9 + 10 + 33 + 34 + 60, "subset indices wrong (sum %lld)", (long long)sum);
  SC_ASSERT(sc_loader_next(l, &b) == SC_OK && !b, "a second batch in a 6-image epoch");
  sc_loader_destroy(l);
  int64_t bad[] = {5, 64};
  o.subset = bad, o.nsubset = 2;
  SC_ASSERT(sc_loader_create(ds, &o, &l) == SC_EINVAL, "subset index 64 of 64 accepted");
  o.subset = NULL, o.nsubset = 0, o.aug.channels = 3;
  SC_ASSERT(sc_loader_create(ds, &o, &l) == SC_EINVAL, "3-channel views of a 1-channel dataset accepted");
  /* abandoning an epoch half-way, then destroying with batches in flight */
  o = opts(4, 2, 0);
  SC_ASSERT(sc_loader_create(ds, &o, &l) == SC_OK, "%s", sc_last_error());
  for (int e = 0; e < 3; e++) {
    SC_ASSERT(sc_loader_start_epoch(l, e) == SC_OK, "start %d", e);
    for (int i = 0; i < 3; i++)
      SC_ASSERT(sc_loader_next(l, &b) == SC_OK && b && b->step == i, "epoch %d batch %d", e, i);
  }
  int nb, last;
  int64_t seen[64] = {0};
  run_epoch(l, 7, seen, 64, &nb, &last);
  for (int i = 0; i < 64; i++)
    SC_ASSERT(seen[i] == 1, "after abandoned epochs, image %d seen %lld times", i, (long long)seen[i]);
  SC_ASSERT(sc_loader_start_epoch(l, 8) == SC_OK, "start");
  sc_loader_destroy(l);
  sc_dataset_close(ds);
  tu_rmtree(dir), free(dir);
}

SC_TEST(loader, bad_files_stop_or_skip) {
  char *dir = tu_tempdir();
  for (int i = 0; i < 12; i++) {
    char name[32];
    snprintf(name, sizeof name, "img%02d.jpg", i);
    char *p = tu_path(dir, name);
    tu_write_jpeg(p, 40, 30, TJPF_RGB, i);
    if (i == 5) { /* header intact, data cut: passes the probe at open, fails when decoded */
      size_t len;
      unsigned char *j = tu_read(p, &len);
      tu_write(p, j, len * 2 / 3);
      free(j);
    }
    free(p);
  }
  char *badname = tu_path(dir, "img05.jpg");
  for (int policy = 0; policy < 2; policy++) {
    sc_dataset_options d = sc_dataset_options_default();
    d.path = dir, d.cache = 0, d.bad = (sc_bad_policy)policy;
    sc_dataset *ds;
    SC_ASSERT(sc_dataset_open(&d, &ds) == SC_OK && ds->n == 12, "policy %d: %s", policy, sc_last_error());
    sc_loader_options o = opts(4, 2, 0);
    o.aug = sc_augment_defaults(24, 3, -1);
    sc_loader *l;
    SC_ASSERT(sc_loader_create(ds, &o, &l) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_loader_start_epoch(l, 0) == SC_OK, "start");
    const sc_batch *b;
    sc_status st = SC_OK;
    int got = 0, saw_bad = 0;
    while ((st = sc_loader_next(l, &b)) == SC_OK && b)
      for (int i = 0; i < b->n; i++) got++, saw_bad |= b->index[i] == 5;
    if (policy == SC_BAD_STOP)
      SC_ASSERT(st == SC_EFORMAT && strstr(sc_last_error(), badname), "stop policy: status %s, message '%s'",
                sc_status_name(st), sc_last_error());
    else
      SC_ASSERT(st == SC_OK && got == 12 && !saw_bad && sc_loader_bad_count(l) >= 1,
                "skip policy: status %s, %d images, bad one delivered %d, count %lld", sc_status_name(st), got, saw_bad,
                (long long)sc_loader_bad_count(l));
    sc_loader_destroy(l);
    sc_dataset_close(ds);
  }
  free(badname);
  tu_rmtree(dir), free(dir);
}

SC_TEST(subset, balanced_and_from_file) {
  char *dir = tu_tempdir();
  sc_dataset *ds = idx_dataset(dir, 600, 10); /* 60 per class */
  int64_t *a, *b, na, nb;
  SC_ASSERT(sc_subset_balanced(ds, 0.1, 5, &a, &na) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(na == 60, "10%% of 600 in 10 classes: %lld", (long long)na);
  int count[10] = {0};
  for (int64_t i = 0; i < na; i++) {
    count[ds->labels[a[i]]]++;
    SC_ASSERT(i == 0 || a[i] > a[i - 1], "indices not increasing at %lld", (long long)i);
  }
  for (int c = 0; c < 10; c++) SC_ASSERT(count[c] == 6, "class %d: %d of 6", c, count[c]);
  SC_ASSERT(sc_subset_balanced(ds, 0.1, 5, &b, &nb) == SC_OK && nb == na && !memcmp(a, b, sizeof *a * (size_t)na),
            "seed 5 twice gave different subsets");
  free(b);
  SC_ASSERT(sc_subset_balanced(ds, 0.1, 6, &b, &nb) == SC_OK && memcmp(a, b, sizeof *a * (size_t)na),
            "seeds 5 and 6 gave the same subset");
  free(a), free(b);
  SC_ASSERT(sc_subset_balanced(ds, 0.0, 1, &a, &na) == SC_EINVAL, "fraction 0 accepted");
  SC_ASSERT(sc_subset_balanced(ds, 1.5, 1, &a, &na) == SC_EINVAL, "fraction 1.5 accepted");
  sc_dataset_close(ds);

  /* subset lists against an image folder */
  char *root = tu_path(dir, "imgs");
  mkdir(root, 0755);
  for (int c = 0; c < 2; c++) {
    char sub[64];
    snprintf(sub, sizeof sub, "c%d", c);
    char *sd = tu_path(root, sub);
    mkdir(sd, 0755);
    for (int i = 0; i < 3; i++) {
      char name[32];
      snprintf(name, sizeof name, "n%d_%d.png", c, i);
      char *p = tu_path(sd, name);
      tu_write_png(p, 8, 8, PNG_COLOR_TYPE_RGB, 8, i);
      free(p);
    }
    free(sd);
  }
  sc_dataset_options o = sc_dataset_options_default();
  o.path = root;
  SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK && ds->n == 6, "%s", sc_last_error());
  char *list = tu_path(dir, "subset.txt");
  const char *text = "# chosen\nn1_2.png\n\n  n0_0.png  \r\n";
  tu_write(list, text, strlen(text));
  SC_ASSERT(sc_subset_from_file(ds, list, &a, &na) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(na == 2 && a[0] == 0 && a[1] == 5, "subset from list: %lld entries, first %lld", (long long)na,
            (long long)(na ? a[0] : -1));
  free(a);
  const char *bad = "n0_0.png\nn9_9.png\n";
  tu_write(list, bad, strlen(bad));
  SC_ASSERT(sc_subset_from_file(ds, list, &a, &na) == SC_EFORMAT && strstr(sc_last_error(), ":2:") &&
                strstr(sc_last_error(), "n9_9.png"),
            "unknown name: '%s'", sc_last_error());
  sc_dataset_close(ds);
  free(list), free(root);
  tu_rmtree(dir), free(dir);
}

SC_TEST(subset, fashion_mnist_one_percent) {
  if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0)
    SC_SKIP("Fashion-MNIST is not installed");
  sc_dataset_options o = sc_dataset_options_default();
  o.path = "/usr/share/datasets/fashion-mnist";
  sc_dataset *ds;
  SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "%s", sc_last_error());
  int64_t *a, na;
  SC_ASSERT(sc_subset_balanced(ds, 0.01, 0, &a, &na) == SC_OK && na == 600, "1%%: %lld images", (long long)na);
  int count[10] = {0};
  for (int64_t i = 0; i < na; i++) count[ds->labels[a[i]]]++;
  for (int c = 0; c < 10; c++) SC_ASSERT(count[c] == 60, "class %d: %d images, want 60", c, count[c]);
  free(a);
  sc_dataset_close(ds);
}

static sc_status failing_writer(FILE *f, void *ctx) {
  (void)ctx;
  fputs("partial", f);
  return sc_error(SC_EIO, "simulated failure");
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

SC_TEST(atomic_file, replace_and_failure) {
  char *dir = tu_tempdir(), *p = tu_path(dir, "out.bin");
  SC_ASSERT(sc_atomic_write_buffer(p, "first", 5) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(sc_atomic_write_buffer(p, "second!", 7) == SC_OK, "%s", sc_last_error());
  size_t len;
  unsigned char *got = tu_read(p, &len);
  SC_ASSERT(len == 7 && !memcmp(got, "second!", 7), "content after replace: %zu bytes", len);
  free(got);
  SC_ASSERT(sc_atomic_write(p, failing_writer, NULL) == SC_EIO, "a failing writer reported success");
  got = tu_read(p, &len);
  SC_ASSERT(len == 7 && !memcmp(got, "second!", 7), "old content lost after a failed write");
  free(got);
  SC_ASSERT(count_entries(dir) == 1, "%d entries in the folder: a temporary file was left behind", count_entries(dir));
  char *nodir = tu_path(dir, "missing/out.bin");
  SC_ASSERT(sc_atomic_write_buffer(nodir, "x", 1) == SC_EIO && strstr(sc_last_error(), nodir), "missing folder: '%s'",
            sc_last_error());
  free(nodir), free(p);
  tu_rmtree(dir), free(dir);
}
