/* gemm.c (bench): SGEMM cases for each ISA and for OpenBLAS, on square sizes 64..2048 and on the im2col GEMMs of
 * ResNet-18 at batch 64 on 32x32 inputs (CIFAR stem): forward (NN), backward-data (NT) and backward-weights (TN)
 * of each 3x3 convolution shape of each stage. Each ISA's alternative tiles run as gemm/<isa>_<tile>/..., so the
 * default tile is chosen by measurement. Cases only describe work; timing and counters are bench/main.cc's. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dispatch/dispatch.h"
#include "ops/gemm.h"
#include "simclr_ops.h"

typedef struct gemm_state {
  int m, n, k, ta, tb, alt;
  float *a, *b, *c;
  sc_kernels kern; /* for alternative tiles */
} gemm_state;

static void *gemm_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  gemm_state *s = calloc(1, sizeof *s);
  if (!s) return *err = "out of memory", NULL;
  s->m = (int)c->params[0], s->n = (int)c->params[1], s->k = (int)c->params[2];
  s->ta = (int)c->params[3], s->tb = (int)c->params[4], s->alt = (int)c->params[5];
  if (s->alt > 0) {
    const sc_kernels *k = sc_kernels_for((sc_isa)c->isa);
    if (!k) return free(s), *err = "ISA not available", NULL;
    s->kern = *k;
    s->kern.gemm = k->gemm->alternatives[s->alt - 1];
  }
  s->a = aligned_alloc(64, ((size_t)s->m * s->k * 4 + 63) / 64 * 64);
  s->b = aligned_alloc(64, ((size_t)s->k * s->n * 4 + 63) / 64 * 64);
  s->c = aligned_alloc(64, ((size_t)s->m * s->n * 4 + 63) / 64 * 64);
  if (!s->a || !s->b || !s->c) return free(s->a), free(s->b), free(s->c), free(s), *err = "out of memory", NULL;
  for (size_t i = 0; i < (size_t)s->m * s->k; i++) s->a[i] = (float)(i % 7) * 0.25f - 0.5f;
  for (size_t i = 0; i < (size_t)s->k * s->n; i++) s->b[i] = (float)(i % 5) * 0.25f - 0.5f;
  memset(s->c, 0, (size_t)s->m * s->n * sizeof(float));
  return s;
}

static int gemm_run_engine(void *p) {
  gemm_state *s = p;
  return sc_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, s->a, s->ta ? s->m : s->k, s->b, s->tb ? s->k : s->n, 0.0f,
                  s->c, s->n) != SC_OK;
}

static int gemm_run_alt(void *p) {
  gemm_state *s = p;
  sc_gemm_src a = sc_gemm_src_matrix(s->a, (size_t)(s->ta ? s->m : s->k), !s->ta);
  sc_gemm_src b = sc_gemm_src_matrix(s->b, (size_t)(s->tb ? s->k : s->n), s->tb);
  return sc_gemm_run(&s->kern, (size_t)s->m, (size_t)s->n, (size_t)s->k, &a, &b, 1.0f, 0.0f, s->c,
                     (size_t)s->n) != SC_OK;
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

static void add_case(const char *who, int isa, int alt, const char *label, int m, int n, int k, int ta, int tb) {
  sc_bench_case c = {.isa = isa, .flops = 2.0 * m * n * k, .setup = gemm_setup, .teardown = gemm_teardown,
                     .run = isa < 0 ? gemm_run_openblas : alt > 0 ? gemm_run_alt : gemm_run_engine,
                     .params = {m, n, k, ta, tb, alt}};
  snprintf(c.name, sizeof c.name, "gemm/%s/%s%dx%dx%d", who, label, m, n, k);
  sc_bench_add(&c);
}

static void add_shape(const char *label, int m, int n, int k, int ta, int tb) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  add_case("openblas", -1, 0, label, m, n, k, ta, tb);
  for (int isa = 0; isa < SC_ISA_COUNT; isa++) {
    if (isa == SC_ISA_SCALAR && (double)m * n * k > 3e8) continue; /* the reference is too slow to be worth it */
    add_case(isas[isa], isa, 0, label, m, n, k, ta, tb);
    /* the alternative tiles of the ISA, if this machine has it (their names come from the table) */
    const sc_kernels *kt = sc_kernels_for((sc_isa)isa);
    if (!kt || !kt->gemm->alternatives) continue;
    for (int j = 0; kt->gemm->alternatives[j]; j++) {
      char who[64];
      const sc_gemm_config *g = kt->gemm->alternatives[j];
      snprintf(who, sizeof who, "%s_%zux%zu", isas[isa], g->mr, g->nr);
      add_case(who, isa, j + 1, label, m, n, k, ta, tb);
    }
  }
}

/* one 3x3 convolution of ResNet-18 (CIFAR stem, stride 1 unless stated) at batch 64: its three GEMMs */
static void add_conv(const char *stage, int hw_out, int cin, int cout) {
  const int batch = 64, pix = batch * hw_out * hw_out;
  char label[64];
  snprintf(label, sizeof label, "r18_%s_fwd_", stage);
  add_shape(label, pix, cout, 9 * cin, 0, 0);
  snprintf(label, sizeof label, "r18_%s_bwdd_", stage);
  add_shape(label, pix, 9 * cin, cout, 0, 1);
  snprintf(label, sizeof label, "r18_%s_bwdw_", stage);
  add_shape(label, cout, 9 * cin, pix, 1, 0);
}

__attribute__((constructor)) static void register_gemm(void) {
  for (int s = 64; s <= 2048; s *= 2) add_shape("", s, s, s, 0, 0);
  add_conv("s1", 32, 64, 64);
  add_conv("s2a", 16, 64, 128); /* the first conv of stage 2: stride 2 from 64 channels */
  add_conv("s2", 16, 128, 128);
  add_conv("s3a", 8, 128, 256);
  add_conv("s3", 8, 256, 256);
  add_conv("s4a", 4, 256, 512);
  add_conv("s4", 4, 512, 512);
}
