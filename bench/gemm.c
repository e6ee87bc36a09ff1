/* gemm.c (bench): SGEMM cases: square sizes and the ResNet-18 im2col shapes, for each ISA and for OpenBLAS. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "simclr_ops.h"

typedef struct gemm_state {
  int m, n, k, ta, tb;
  float *a, *b, *c;
} gemm_state;

static void *gemm_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  gemm_state *s = calloc(1, sizeof *s);
  if (!s) return *err = "out of memory", NULL;
  s->m = (int)c->params[0], s->n = (int)c->params[1], s->k = (int)c->params[2];
  s->ta = (int)c->params[3], s->tb = (int)c->params[4];
  s->a = aligned_alloc(64, ((size_t)s->m * s->k * 4 + 63) / 64 * 64);
  s->b = aligned_alloc(64, ((size_t)s->k * s->n * 4 + 63) / 64 * 64);
  s->c = aligned_alloc(64, ((size_t)s->m * s->n * 4 + 63) / 64 * 64);
  if (!s->a || !s->b || !s->c) return *err = "out of memory", NULL;
  for (size_t i = 0; i < (size_t)s->m * s->k; i++) s->a[i] = (float)(i % 7) * 0.25f - 0.5f;
  for (size_t i = 0; i < (size_t)s->k * s->n; i++) s->b[i] = (float)(i % 5) * 0.25f - 0.5f;
  for (size_t i = 0; i < (size_t)s->m * s->n; i++) s->c[i] = 0.0f;
  return s;
}

static int gemm_run_engine(void *p) {
  gemm_state *s = p;
  return sc_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, s->a, s->ta ? s->m : s->k, s->b, s->tb ? s->k : s->n, 0.0f,
                  s->c, s->n) != SC_OK;
}

static int gemm_run_openblas(void *p) {
  gemm_state *s = p;
  cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k,
              1.0f, s->a, s->ta ? s->m : s->k, s->b, s->tb ? s->k : s->n, 0.0f, s->c, s->n);
  return 0;
}

static void gemm_teardown(void *p) {
  gemm_state *s = p;
  free(s->a), free(s->b), free(s->c), free(s);
}

static void add_shape(const char *label, int m, int n, int k, int ta, int tb) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  for (int isa = -1; isa < SC_ISA_COUNT; isa++) {
    if (isa == SC_ISA_SCALAR && (double)m * n * k > 3e8) continue; /* the reference is too slow to be worth it */
    sc_bench_case c = {.isa = isa, .flops = 2.0 * m * n * k, .setup = gemm_setup, .teardown = gemm_teardown,
                       .run = isa < 0 ? gemm_run_openblas : gemm_run_engine,
                       .params = {m, n, k, ta, tb}};
    snprintf(c.name, sizeof c.name, "gemm/%s/%s%dx%dx%d", isa < 0 ? "openblas" : isas[isa], label, m, n, k);
    sc_bench_add(&c);
  }
}

__attribute__((constructor)) static void register_gemm(void) {
  for (int s = 64; s <= 2048; s *= 2) add_shape("", s, s, s, 0, 0);
}
