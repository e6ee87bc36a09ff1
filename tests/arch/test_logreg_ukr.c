/* test_logreg_ukr.c: every ISA's logistic-regression kernels (arch/logreg.h) against the scalar table, bit for bit:
 * each output is one chain of fused multiply-adds in a fixed order, so vectors change nothing. Class counts around
 * the vector widths (1 to 20), sample counts around the row blocking and past the gradient's 256-sample chunks,
 * column counts around 4, 8 and 16, row strides larger than the width, pointers off a 64-byte boundary. The output
 * buffers carry a guard past their last row and between rows, which no kernel may change.
 */
#include <math.h>
#include <stdio.h>

#include "kernels.h"
#include "test.h"
#include "testutil.h"

#define GUARD 9 /* doubles past the last row, and the extra row stride, that no kernel may touch */

static double *alloc_d(size_t n, size_t off) { return (double *)(void *)sc_test_alloc(2 * n, 2 * off); }
static void free_d(double *p) { sc_test_free((float *)(void *)p); }
static void fill_d(sc_test_rng *r, double *p, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) p[i] = (double)sc_test_uniform(r, lo, hi) + 1e-9 * sc_test_uniform(r, -1, 1);
}
static size_t first_diff_d(const double *a, const double *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof(double)) != 0) return i;
  return n;
}

static const size_t classes[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 15, 16, 17, 20};
#define NCLASSES (sizeof classes / sizeof classes[0])

SC_ISA_TEST(logreg_ukr, logits_match_scalar) {
  static const size_t rows[] = {1, 3, 4, 5, 8, 9, 17};
  static const size_t depths[] = {1, 2, 7, 16, 33};
  uint64_t seed = 500;
  for (size_t a = 0; a < NCLASSES; a++)
    for (size_t b = 0; b < sizeof rows / sizeof rows[0]; b++)
      for (size_t c = 0; c < sizeof depths / sizeof depths[0]; c++, seed++) {
        const size_t nk = classes[a], n = rows[b], d = depths[c], ldx = d + seed % 3, ldw = nk + seed % 2;
        const size_t ldz = nk + GUARD, zn = n * ldz + GUARD, off = seed % 5;
        sc_test_rng r = {seed};
        float *x = sc_test_alloc(n * ldx, off);
        double *w = alloc_d(d * ldw, off + 1), *bias = alloc_d(nk, off), *z = alloc_d(zn, off + 2);
        double *zr = alloc_d(zn, 0);
        sc_test_fill(&r, x, n * ldx, -2, 2);
        fill_d(&r, w, d * ldw, -1, 1), fill_d(&r, bias, nk, -1, 1), fill_d(&r, z, zn, 5, 6);
        memcpy(zr, z, zn * sizeof *z);
        k->logreg->logits(n, d, nk, x, ldx, w, ldw, bias, z, ldz);
        sc_kernels_scalar.logreg->logits(n, d, nk, x, ldx, w, ldw, bias, zr, ldz);
        const size_t e = first_diff_d(z, zr, zn);
        SC_ASSERT(e == zn, "isa=%s logits rows=%zu d=%zu k=%zu ldx=%zu ldw=%zu seed=%llu: z[%zu] (row %zu, column "
                  "%zu) = %.17g, scalar %.17g", k->name, n, d, nk, ldx, ldw, (unsigned long long)seed, e, e / ldz,
                  e % ldz, z[e < zn ? e : 0], zr[e < zn ? e : 0]);
        sc_test_free(x), free_d(w), free_d(bias), free_d(z), free_d(zr);
      }
}

SC_ISA_TEST(logreg_ukr, gradient_sums_match_scalar) {
  static const size_t rows[] = {1, 2, 5, 255, 256, 257, 600};
  static const size_t widths[] = {1, 3, 4, 5, 8, 9, 15, 16, 17, 31, 40};
  uint64_t seed = 900;
  for (size_t a = 0; a < NCLASSES; a++)
    for (size_t b = 0; b < sizeof rows / sizeof rows[0]; b++)
      for (size_t c = 0; c < sizeof widths / sizeof widths[0]; c++, seed++) {
        const size_t nk = classes[a], n = rows[b], cols = widths[c], ldx = cols + seed % 4, lddz = nk + seed % 2;
        const size_t ldg = cols + GUARD, gn = nk * ldg + GUARD, off = seed % 5;
        sc_test_rng r = {seed};
        float *x = sc_test_alloc(n * ldx, off);
        double *dz = alloc_d(n * lddz, off + 1), *g = alloc_d(gn, off + 2), *gr = alloc_d(gn, 0);
        sc_test_fill(&r, x, n * ldx, -2, 2);
        fill_d(&r, dz, n * lddz, -1, 1), fill_d(&r, g, gn, -3, 3);
        memcpy(gr, g, gn * sizeof *g);
        k->logreg->logits_grad(n, cols, nk, x, ldx, dz, lddz, g, ldg);
        sc_kernels_scalar.logreg->logits_grad(n, cols, nk, x, ldx, dz, lddz, gr, ldg);
        const size_t e = first_diff_d(g, gr, gn);
        SC_ASSERT(e == gn, "isa=%s logits_grad rows=%zu cols=%zu k=%zu ldx=%zu lddz=%zu seed=%llu: g[%zu] (class %zu, "
                  "column %zu) = %.17g, scalar %.17g", k->name, n, cols, nk, ldx, lddz, (unsigned long long)seed, e,
                  e / ldg, e % ldg, g[e < gn ? e : 0], gr[e < gn ? e : 0]);
        sc_test_free(x), free_d(dz), free_d(g), free_d(gr);
      }
}
