/* ntxent.c (bench): the NT-Xent softmax-similarity (sc_ntxent, forward + backward, and forward only) at SimCLR
 * batch sizes 2N = 512, 1024, 4096 with d = 128 (the projection head's output), next to the two whole-matrix GEMMs
 * it stands for run alone on the same shapes (S = Zn Zn^T, then dZn = H Zn), so that ratio = ntxent / ntxent_gemms
 * says what the row-wise exp/log work and the memory passes add, less what computing only S's upper triangle saves
 * (below 1: the operator is faster than its two GEMMs). GFLOPS counts the whole-matrix GEMM flops (2 * (2N)^2 * d
 * per GEMM: two with the backward, one forward only). It must not check results (the tests do).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "simclr_ops.h"

enum { KIND_FWD_BWD, KIND_FWD, KIND_GEMMS };

typedef struct ntxent_state {
  int kind;
  int64_t n, d;
  float *z, *dz, *s; /* s: the 2N x 2N product of the GEMM-only case */
} ntxent_state;

static void ntxent_teardown(void *p) {
  ntxent_state *st = p;
  if (!st) return;
  free(st->z), free(st->dz), free(st->s), free(st);
}

static float *alloc_floats(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64); }

static void *ntxent_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  ntxent_state *st = calloc(1, sizeof *st);
  if (!st) return *err = "out of memory", NULL;
  st->n = c->params[0], st->d = c->params[1], st->kind = (int)c->params[2];
  const size_t nd = (size_t)(st->n * st->d);
  st->z = alloc_floats(nd), st->dz = alloc_floats(nd);
  if (st->kind == KIND_GEMMS) st->s = alloc_floats((size_t)(st->n * st->n));
  if (!st->z || !st->dz || (st->kind == KIND_GEMMS && !st->s)) {
    ntxent_teardown(st);
    return *err = "out of memory", NULL;
  }
  /* a fixed pseudo-random batch whose second views resemble the first, as after some training */
  uint32_t x = 12345u;
  for (size_t i = 0; i < nd; i++) {
    x = x * 1664525u + 1013904223u;
    st->z[i] = (float)(x >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  for (size_t i = nd / 2; i < nd; i++) st->z[i] = 0.8f * st->z[i - nd / 2] + 0.2f * st->z[i];
  if (st->kind == KIND_GEMMS)
    for (size_t i = 0; i < (size_t)(st->n * st->n); i++) st->s[i] = 1.0f / (float)st->n;
  /* the first call grows the scratch; iterations then measure the steady state of a training loop */
  if (st->kind != KIND_GEMMS) {
    float loss;
    if (sc_ntxent(st->n, st->d, 0.1f, st->z, &loss, st->kind == KIND_FWD ? NULL : st->dz) != SC_OK) {
      ntxent_teardown(st);
      return *err = "sc_ntxent failed in setup", NULL;
    }
  }
  return st;
}

static int ntxent_run(void *p) {
  ntxent_state *st = p;
  float loss;
  if (st->kind == KIND_GEMMS) {
    /* the same two products sc_ntxent makes: S = Z Z^T (2N x 2N, depth d), then dZ = H Z (2N x d, depth 2N) */
    if (sc_sgemm(SC_NO_TRANS, SC_TRANS, st->n, st->n, st->d, 1.0f, st->z, st->d, st->z, st->d, 0.0f, st->s,
                 st->n) != SC_OK)
      return 1;
    return sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, st->n, st->d, st->n, 1.0f, st->s, st->n, st->z, st->d, 0.0f, st->dz,
                    st->d) != SC_OK;
  }
  return sc_ntxent(st->n, st->d, 0.1f, st->z, &loss, st->kind == KIND_FWD ? NULL : st->dz) != SC_OK;
}

__attribute__((constructor)) static void register_ntxent(void) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  static const char *const kinds[] = {"ntxent", "ntxent_fwd", "ntxent_gemms"};
  static const long long ns[] = {512, 1024, 4096};
  const long long d = 128;
  for (int ni = 0; ni < 3; ni++)
    for (int kind = 0; kind < 3; kind++)
      for (int isa = 0; isa < SC_ISA_COUNT; isa++) {
        const long long n = ns[ni];
        if (isa == SC_ISA_SCALAR && n > 1024) continue; /* the reference GEMM would take seconds per iteration */
        const double gemms = kind == KIND_FWD ? 1.0 : 2.0;
        sc_bench_case c = {.isa = isa, .flops = gemms * 2.0 * (double)n * (double)n * (double)d, .items = (double)n,
                           .setup = ntxent_setup, .run = ntxent_run, .teardown = ntxent_teardown,
                           .params = {n, d, kind}};
        snprintf(c.name, sizeof c.name, "%s/%s/%lldx%lld", kinds[kind], isas[isa], n, d);
        sc_bench_add(&c);
      }
}
