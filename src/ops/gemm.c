/* gemm.c: the SGEMM driver: BLIS's five loops (NC, KC, MC around the MR x NR microkernel of the active kernel
 * table) with packed A and B panels, threads over the M and N loops, and the validation of sc_sgemm's arguments.
 * It must not contain instruction-set code: microkernels live in arch/. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../dispatch/dispatch.h"
#include "gemm.h"
#include "simclr_ops.h"

static void pack_matrix(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w, float scale,
                        float *dst) {
  for (size_t rb = 0; rb < rc; rb += w) {
    size_t rn = rc - rb < w ? rc - rb : w;
    float *panel = dst + rb * kc;
    for (size_t p = 0; p < kc; p++) {
      for (size_t r = 0; r < rn; r++) {
        size_t rr = r0 + rb + r, pp = p0 + p;
        float v = s->depth_contiguous ? s->data[rr * s->ld + pp] : s->data[pp * s->ld + rr];
        panel[p * w + r] = v * scale;
      }
      for (size_t r = rn; r < w; r++) panel[p * w + r] = 0.0f;
    }
  }
}

sc_gemm_src sc_gemm_src_matrix(const float *data, size_t ld, int depth_contiguous) {
  sc_gemm_src s = {.pack = pack_matrix, .data = data, .ld = ld, .depth_contiguous = depth_contiguous};
  return s;
}

static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc) {
  for (size_t i = 0; i < m; i++) {
    float *row = c + i * ldc;
    if (beta == 0.0f)
      memset(row, 0, n * sizeof *row);
    else
      for (size_t j = 0; j < n; j++) row[j] *= beta;
  }
}

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

sc_status sc_gemm_run(const sc_kernels *kern, size_t m, size_t n, size_t k, const sc_gemm_src *a,
                      const sc_gemm_src *b, float alpha, float beta, float *c, size_t ldc) {
  const sc_gemm_config *g = kern->gemm;
  if (m == 0 || n == 0) return SC_OK;
  if (k == 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(m, n, beta, c, ldc);
    return SC_OK;
  }
  if (beta != 0.0f && beta != 1.0f) {
    scale_c(m, n, beta, c, ldc);
    beta = 1.0f;
  }
  const size_t mr = g->mr, nr = g->nr;
  const size_t kc_max = g->kc, mc_max = round_up(g->mc, mr), nc_max = round_up(g->nc, nr);
  float *bpack = malloc(round_up(nc_max < n ? nc_max : n, nr) * kc_max * sizeof(float) + 64);
  if (!bpack) return sc_error(SC_ENOMEM, "GEMM: cannot allocate the B packing buffer");
  sc_status st = SC_OK;
  for (size_t jc = 0; jc < n; jc += nc_max) {
    size_t nc = n - jc < nc_max ? n - jc : nc_max;
    for (size_t pc = 0; pc < k; pc += kc_max) {
      size_t kc = k - pc < kc_max ? k - pc : kc_max;
      int accumulate = pc > 0 || beta != 0.0f;
      b->pack(b, jc, nc, pc, kc, nr, 1.0f, bpack);
      size_t mblocks = (m + mc_max - 1) / mc_max;
#pragma omp parallel num_threads(sc_num_threads())
      {
        float *apack = malloc(mc_max * kc_max * sizeof(float) + 64);
        if (!apack) {
#pragma omp atomic write
          st = SC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (size_t ib = 0; ib < mblocks; ib++) {
          if (!apack) continue;
          size_t ic = ib * mc_max, mc = m - ic < mc_max ? m - ic : mc_max;
          a->pack(a, ic, mc, pc, kc, mr, alpha, apack);
          for (size_t jr = 0; jr < nc; jr += nr)
            for (size_t ir = 0; ir < mc; ir += mr)
              g->ukr(mc - ir < mr ? mc - ir : mr, nc - jr < nr ? nc - jr : nr, kc, apack + ir * kc,
                     bpack + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, accumulate);
        }
        free(apack);
      }
      if (st != SC_OK) break;
    }
    if (st != SC_OK) break;
  }
  free(bpack);
  if (st != SC_OK) return sc_error(st, "GEMM: cannot allocate the A packing buffer");
  return SC_OK;
}

sc_status sc_sgemm(sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  if ((ta != SC_NO_TRANS && ta != SC_TRANS) || (tb != SC_NO_TRANS && tb != SC_TRANS))
    return sc_error(SC_EINVAL, "sgemm: transpose flags must be SC_NO_TRANS or SC_TRANS");
  if (m < 0 || n < 0 || k < 0)
    return sc_error(SC_EINVAL, "sgemm: negative size (m=%lld n=%lld k=%lld)", (long long)m, (long long)n,
                    (long long)k);
  const int64_t limit = INT64_MAX / 4 / (int64_t)sizeof(float);
  int64_t arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
  if (lda < (acols > 1 ? acols : 1) || ldb < (bcols > 1 ? bcols : 1) || ldc < (n > 1 ? n : 1))
    return sc_error(SC_EINVAL, "sgemm: leading dimension smaller than a row (lda=%lld needs >= %lld, ldb=%lld needs "
                    ">= %lld, ldc=%lld needs >= %lld)", (long long)lda, (long long)acols, (long long)ldb,
                    (long long)bcols, (long long)ldc, (long long)n);
  if ((arows && lda > limit / arows) || (brows && ldb > limit / brows) || (m && ldc > limit / m))
    return sc_error(SC_EINVAL, "sgemm: matrix size overflows");
  if (m == 0 || n == 0) return SC_OK;
  if (!c || (k > 0 && alpha != 0.0f && (!a || !b)))
    return sc_error(SC_EINVAL, "sgemm: null matrix pointer");
  sc_gemm_src sa = sc_gemm_src_matrix(a, (size_t)lda, ta == SC_NO_TRANS);
  sc_gemm_src sb = sc_gemm_src_matrix(b, (size_t)ldb, tb == SC_TRANS);
  return sc_gemm_run(kern, (size_t)m, (size_t)n, (size_t)k, &sa, &sb, alpha, beta, c, (size_t)ldc);
}
