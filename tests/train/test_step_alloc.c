/* test_step_alloc.c: "no malloc in the training step" (DESIGN.md, Memory) checked rather than assumed. This
 * executable defines malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign itself, forwarding to
 * glibc's __libc_* entry points; the definitions in the executable take precedence over libc's for every caller in
 * the process (the engine, libgomp, SLEEF). While counting is on, each call is counted and its caller recorded.
 * The test runs one SimCLR (or supervised) step to warm up (first-use scratch of the operators may be allocated
 * there), then counts over the next five steps, at 1 and 2 threads. It must not be built with AddressSanitizer,
 * which owns malloc itself; it skips there.
 *
 * What it asserts: nothing allocates, the OpenMP runtime included (callers outside the runtime are named on
 * failure: shared object and symbol where dladdr knows them, else an address for addr2line). libgomp allocates a
 * team descriptor for every team of one thread and for every change of team size, and a work-share descriptor for
 * a dynamic loop run without a team; src/core/parallel.h is how the drivers avoid all three.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "testutil.h"
#include "train/simclr.h"
#include "train/supervised.h"

#if defined(__SANITIZE_ADDRESS__)
#define SC_ALLOC_HOOKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SC_ALLOC_HOOKS 0
#endif
#endif
#ifndef SC_ALLOC_HOOKS
#define SC_ALLOC_HOOKS 1
#endif

enum { MAX_SITES = 1 << 14 };
static atomic_int counting;
static atomic_long calls;
static void *sites[MAX_SITES];
static size_t site_bytes[MAX_SITES];

#if SC_ALLOC_HOOKS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static void note(void *caller, size_t bytes) {
  if (!atomic_load_explicit(&counting, memory_order_relaxed)) return;
  long i = atomic_fetch_add(&calls, 1);
  if (i < MAX_SITES) sites[i] = caller, site_bytes[i] = bytes;
}

void *malloc(size_t n) {
  note(__builtin_return_address(0), n);
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  note(__builtin_return_address(0), n * size);
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  note(__builtin_return_address(0), n);
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t align, size_t n) {
  note(__builtin_return_address(0), n);
  return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n) {
  note(__builtin_return_address(0), n);
  return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  note(__builtin_return_address(0), n);
  void *p = __libc_memalign(align, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
#endif

static void start_counting(void) {
  atomic_store(&calls, 0);
  atomic_store(&counting, 1);
}

typedef struct alloc_report {
  long total, runtime; /* all calls; those made by the OpenMP runtime (libgomp) */
  char others[2048];   /* the first callers outside the runtime */
} alloc_report;

/* Stops counting and sorts the callers into the OpenMP runtime's and everything else (the engine and the rest). */
static alloc_report stop_counting(void) {
  atomic_store(&counting, 0);
  alloc_report r = {.total = atomic_load(&calls)};
  size_t used = 0;
  int listed = 0;
  for (long i = 0; i < r.total; i++) {
    if (i >= MAX_SITES) { /* not recorded: count them as not the runtime's, to be safe */
      if (listed++ < 16) used += (size_t)snprintf(r.others + used, sizeof r.others - used, "\n  (unrecorded call)");
      continue;
    }
    Dl_info info;
    const char *obj = "?", *sym = "?";
    if (dladdr(sites[i], &info)) {
      if (info.dli_fname) obj = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
      if (info.dli_sname) sym = info.dli_sname;
    }
    if (strncmp(obj, "libgomp", 7) == 0) {
      r.runtime++;
      continue;
    }
    if (listed++ < 16 && used + 1 < sizeof r.others)
      used += (size_t)snprintf(r.others + used, sizeof r.others - used, "\n  %zu bytes from %p (%s: %s)",
                               site_bytes[i], sites[i], obj, sym);
  }
  return r;
}

static void skip_without_hooks(void) {
  if (!SC_ALLOC_HOOKS) SC_SKIP("allocation counting is off under AddressSanitizer");
}

SC_TEST(step_alloc, counter_sees_allocations) {
  skip_without_hooks();
  start_counting();
  void *volatile p = malloc(100);
  void *volatile q = calloc(3, 8);
  alloc_report r = stop_counting();
  free(p), free(q);
  SC_ASSERT(r.total == 2 && r.runtime == 0, "the interposed malloc and calloc counted %ld calls (%ld of the runtime), "
            "want 2 and 0: the counter would prove nothing", r.total, r.runtime);
}

static sc_model *tiny(int classes) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = 16, c.seed = 4;
  if (classes) c.head = SC_HEAD_NONE, c.classes = classes;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "model: %s", sc_last_error());
  return m;
}

SC_TEST(step_alloc, simclr_step_allocates_nothing) {
  skip_without_hooks();
  enum { PAIRS = 4, STEPS = 5 };
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "threads");
    sc_model *m = tiny(0);
    sc_simclr_config sc = sc_simclr_defaults();
    sc.total_steps = 100;
    sc_simclr *s = NULL;
    SC_ASSERT(sc_simclr_create(m, PAIRS, &sc, &s) == SC_OK, "simclr: %s", sc_last_error());
    sc_test_rng r = {12};
    sc_test_fill(&r, sc_simclr_views(s), (size_t)2 * PAIRS * 16 * 16 * 3, -1, 1);
    float loss;
    SC_ASSERT(sc_simclr_step(s, &loss, NULL) == SC_OK, "warm-up step: %s", sc_last_error());
    start_counting();
    sc_status st = SC_OK;
    for (int t = 0; t < STEPS && st == SC_OK; t++) st = sc_simclr_step(s, &loss, NULL);
    alloc_report a = stop_counting();
    SC_ASSERT(st == SC_OK, "step: %s", sc_last_error());
    SC_LOG("SimCLR steps 2..%d at %d threads: %ld allocations, %ld of them by the OpenMP runtime", STEPS + 1, threads,
           a.total, a.runtime);
    SC_ASSERT(a.total == 0, "isa=%s threads=%d resnet18 w0.25 16x16 pairs=%d: %ld allocations (%ld by the OpenMP "
              "runtime) in SimCLR steps 2..%d; first callers outside it:%s", sc_isa_name(sc_active_isa()), threads,
              PAIRS, a.total, a.runtime, STEPS + 1, a.others);
    sc_simclr_free(s);
    sc_model_free(m);
  }
}

SC_TEST(step_alloc, supervised_step_allocates_nothing) {
  skip_without_hooks();
  enum { BATCH = 8, STEPS = 5, CLASSES = 5 };
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "threads");
    sc_model *m = tiny(CLASSES);
    sc_optim_config oc = sc_optim_defaults(SC_OPTIM_SGD);
    sc_supervised *s = NULL;
    SC_ASSERT(sc_supervised_create(m, BATCH, &oc, 0, &s) == SC_OK, "supervised: %s", sc_last_error());
    sc_test_rng r = {13};
    sc_test_fill(&r, sc_supervised_images(s), (size_t)BATCH * 16 * 16 * 3, -1, 1);
    for (int i = 0; i < BATCH; i++) sc_supervised_labels(s)[i] = i % CLASSES;
    float loss;
    SC_ASSERT(sc_supervised_step(s, 0.01f, &loss) == SC_OK, "warm-up step: %s", sc_last_error());
    start_counting();
    sc_status st = SC_OK;
    for (int t = 0; t < STEPS && st == SC_OK; t++) st = sc_supervised_step(s, 0.01f, &loss);
    alloc_report a = stop_counting();
    SC_ASSERT(st == SC_OK, "step: %s", sc_last_error());
    SC_LOG("supervised steps 2..%d at %d threads: %ld allocations, %ld of them by the OpenMP runtime", STEPS + 1,
           threads, a.total, a.runtime);
    SC_ASSERT(a.total == 0, "isa=%s threads=%d resnet18 w0.25 16x16 batch=%d: %ld allocations (%ld by the OpenMP "
              "runtime) in supervised steps 2..%d; first callers outside it:%s", sc_isa_name(sc_active_isa()), threads,
              BATCH, a.total, a.runtime, STEPS + 1, a.others);
    sc_supervised_free(s);
    sc_model_free(m);
  }
}
