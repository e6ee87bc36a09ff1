/* test_conv_ukr.c: every ISA's direct-convolution kernels (conv.h: tap, tap64 and row3 where offered, and tap_dw)
 * and Winograd transforms (wino_in, wino_out, wino4_in, wino4_out, where offered) against the scalar table's,
 * called directly on strided pixel rectangles: rows and columns of 0, 1, primes and sizes off every pixel group
 * (12, 6, 4; row3's groups of up to 14), channel counts of 1 to 33 (ragged tap_dw blocks), pixel and row strides
 * wider than the channels (stride-2 convolutions, channel offsets), misaligned activations, and outputs that
 * already hold values. Data are small integers, so every product and partial sum is exact in fp32 and the kernels
 * must match the scalar ones bit for bit (tolerance zero). Every element between the ones a call may write holds a
 * sentinel that must survive. tap_dw's staging pointer points at memory that cannot be read. The Winograd
 * transforms only add, subtract and scale by powers of two, in an order conv.h fixes, so they must match bit for
 * bit on any data: they get floats whose sums round. The drivers are tested in tests/ops/test_conv2d.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"
#include "test.h"
#include "testutil.h"

static const float sentinel = 4321.0f;

typedef struct tap_case {
  size_t rows, cols, cin, ips, irs, ops, ors;
} tap_case;

typedef enum { TAP, TAP64, ROW3 } tap_kind; /* the kernels with the tap kernel's arguments */

/* row3 reads cols + 2 input pixels per row and three taps of weights ([tap][cin][16]) */
static void check_tap(const sc_kernels *k, const tap_case *t, tap_kind kind, uint64_t seed) {
  const sc_conv_config *ref = sc_kernels_scalar.conv, *cv = k->conv;
  const sc_f32_conv_tap_fn ref_fn = kind == TAP64 ? ref->tap64 : kind == ROW3 ? ref->row3 : ref->tap;
  const sc_f32_conv_tap_fn fn = kind == TAP64 ? cv->tap64 : kind == ROW3 ? cv->row3 : cv->tap;
  const char *name = kind == TAP64 ? cv->tap64_name : kind == ROW3 ? cv->row3_name : cv->tap_name;
  const size_t lanes = kind == TAP64 ? 64 : SC_CONV_LANES, taps = kind == ROW3 ? 3 : 1, w_n = taps * t->cin * lanes;
  sc_test_rng r = {seed};
  const size_t in_n = t->rows * t->irs + (t->cols + taps - 1) * t->ips + t->cin + 1;
  const size_t out_n = t->rows * t->ors + t->cols * t->ops + lanes + 1;
  float *in = sc_test_alloc(in_n, 1 + seed % 3), *w = sc_test_alloc(w_n + 1, 0);
  float *got = sc_test_alloc(out_n, seed % 2), *want = malloc(out_n * sizeof(float));
  SC_ASSERT(want, "out of memory");
  sc_test_fill_int(&r, in, in_n, 4);
  sc_test_fill_int(&r, w, w_n, 4);
  for (size_t i = 0; i < out_n; i++) got[i] = sentinel;
  for (size_t y = 0; y < t->rows; y++)
    for (size_t x = 0; x < t->cols; x++)
      for (size_t j = 0; j < lanes; j++) got[y * t->ors + x * t->ops + j] = (float)sc_test_int(&r, -99, 99);
  for (size_t i = 0; i < out_n; i++) want[i] = got[i];
  ref_fn(t->rows, t->cols, t->cin, in, t->irs, t->ips, w, want, t->ors, t->ops);
  fn(t->rows, t->cols, t->cin, in, t->irs, t->ips, w, got, t->ors, t->ops);
  for (size_t i = 0; i < out_n; i++)
    SC_ASSERT(got[i] == want[i],
              "%s rows=%zu cols=%zu cin=%zu ips=%zu irs=%zu ops=%zu ors=%zu seed=%llu: out[%zu] = %g, want %g", name,
              t->rows, t->cols, t->cin, t->ips, t->irs, t->ops, t->ors, (unsigned long long)seed, i, got[i], want[i]);
  sc_test_free(in), sc_test_free(w), sc_test_free(got), free(want);
}

/* check_tap over every rows x cols x input channels of the lists, seeds from `seed` on: pixel strides 1 to 3 times
 * the channels, output pixel strides of one or two blocks of lanes plus 0 to 4 floats, and row strides a few floats
 * past the pixels a row reads. NOF: the element count of an array. */
#define NOF(a) (sizeof(a) / sizeof *(a))
static void check_tap_grid(const sc_kernels *k, tap_kind kind, const size_t *rows, size_t nrows, const size_t *cols,
                           size_t ncols, const size_t *cins, size_t ncins, uint64_t seed) {
  const size_t lanes = kind == TAP64 ? 64 : SC_CONV_LANES, halo = kind == ROW3 ? 2 : 0;
  for (size_t a = 0; a < nrows; a++)
    for (size_t b = 0; b < ncols; b++)
      for (size_t c = 0; c < ncins; c++, seed++) {
        const size_t cin = cins[c], ips = cin + seed % 3 * cin, ops = lanes * (1 + seed % 2) + seed % 5;
        tap_case t = {rows[a], cols[b], cin, ips, (cols[b] + halo) * ips + 7, ops, cols[b] * ops + 3};
        check_tap(k, &t, kind, seed);
      }
}

SC_ISA_TEST(conv_ukr, tap_matches_scalar) {
  SC_ASSERT(k->conv && k->conv->tap, "the %s table has no direct-convolution kernels", k->name);
  static const size_t rows[] = {0, 1, 2, 3}, cols[] = {0, 1, 3, 4, 5, 6, 7, 11, 12, 13, 25, 28};
  static const size_t cins[] = {0, 1, 3, 16, 17, 33};
  check_tap_grid(k, TAP, rows, NOF(rows), cols, NOF(cols), cins, NOF(cins), 1);
}

SC_ISA_TEST(conv_ukr, tap64_matches_scalar) {
  SC_ASSERT(sc_kernels_scalar.conv->tap64, "the scalar table has no tap64 reference");
  if (!k->conv->tap64) SC_SKIP("the %s table offers no 64-lane tap kernel (the driver uses the GEMM there)", k->name);
  static const size_t rows[] = {0, 1, 3}, cols[] = {0, 1, 2, 3, 4, 5, 7, 8, 9};
  static const size_t cins[] = {0, 1, 5, 64, 67};
  check_tap_grid(k, TAP64, rows, NOF(rows), cols, NOF(cols), cins, NOF(cins), 500);
}

SC_ISA_TEST(conv_ukr, row3_matches_scalar) {
  SC_ASSERT(sc_kernels_scalar.conv->row3, "the scalar table has no row3 reference");
  if (!k->conv->row3) SC_SKIP("the %s table offers no row3 kernel (the driver uses the tap kernel there)", k->name);
  static const size_t rows[] = {0, 1, 3}, cols[] = {0, 1, 2, 5, 12, 13, 14, 15, 26, 29, 43};
  static const size_t cins[] = {0, 1, 3, 16, 17, 32};
  check_tap_grid(k, ROW3, rows, NOF(rows), cols, NOF(cols), cins, NOF(cins), 700);
}

typedef struct dw_case {
  size_t rows, cols, cn, xps, xrs, dyps, dyrs;
} dw_case;

static void check_tap_dw(const sc_kernels *k, const dw_case *t, uint64_t seed) {
  const sc_conv_config *ref = sc_kernels_scalar.conv, *cv = k->conv;
  sc_test_rng r = {seed};
  const size_t x_n = t->rows * t->xrs + t->cols * t->xps + t->cn + 1;
  const size_t dy_n = t->rows * t->dyrs + t->cols * t->dyps + SC_CONV_LANES + 1;
  const size_t dw_n = (cv->dw_block + 1) * SC_CONV_LANES;
  float *x = sc_test_alloc(x_n, seed % 3), *dy = sc_test_alloc(dy_n, 1 + seed % 2);
  float *got = sc_test_alloc(dw_n, 0), *want = malloc(dw_n * sizeof(float));
  SC_ASSERT(want, "out of memory");
  sc_test_fill_int(&r, x, x_n, 3);
  sc_test_fill_int(&r, dy, dy_n, 3);
  for (size_t i = 0; i < dw_n; i++) got[i] = i < t->cn * SC_CONV_LANES ? (float)sc_test_int(&r, -99, 99) : sentinel;
  for (size_t i = 0; i < dw_n; i++) want[i] = got[i];
  /* the lines to stage lie in memory that cannot be read: a kernel that read them would crash */
  const size_t pf_bytes = (t->rows * t->cols + 1) * 64;
  void *pf = mmap(NULL, pf_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SC_ASSERT(pf != MAP_FAILED, "mmap failed");
  ref->tap_dw(t->rows, t->cols, t->cn, x, t->xrs, t->xps, dy, t->dyrs, t->dyps, want, pf);
  cv->tap_dw(t->rows, t->cols, t->cn, x, t->xrs, t->xps, dy, t->dyrs, t->dyps, got, pf);
  munmap(pf, pf_bytes);
  for (size_t i = 0; i < dw_n; i++)
    SC_ASSERT(got[i] == want[i], "%s rows=%zu cols=%zu cn=%zu xps=%zu xrs=%zu dyps=%zu dyrs=%zu seed=%llu: dw[%zu] = "
              "%g, want %g", cv->tap_dw_name, t->rows, t->cols, t->cn, t->xps, t->xrs, t->dyps, t->dyrs,
              (unsigned long long)seed, i, got[i], want[i]);
  sc_test_free(x), sc_test_free(dy), sc_test_free(got), free(want);
}

SC_ISA_TEST(conv_ukr, tap_dw_matches_scalar) {
  SC_ASSERT(k->conv && k->conv->tap_dw && k->conv->dw_block >= 1 && k->conv->dw_block <= 64,
            "the %s table has no usable tap_dw kernel", k->name);
  static const size_t rows[] = {0, 1, 2, 5}, cols[] = {0, 1, 2, 7, 13, 28};
  uint64_t seed = 100;
  for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
    for (size_t b = 0; b < sizeof cols / sizeof *cols; b++)
      for (size_t cn = 1; cn <= k->conv->dw_block; cn += cn < 4 ? 1 : 3, seed++) {
        const size_t xps = cn + seed % 3 * 5, dyps = SC_CONV_LANES + seed % 4 * 16;
        dw_case t = {rows[a], cols[b], cn, xps, cols[b] * xps + 1 + seed % 7, dyps, cols[b] * dyps + seed % 5};
        check_tap_dw(k, &t, seed);
      }
  /* the full block must be among the cases: it is each kernel's fast path */
  dw_case t = {3, 29, k->conv->dw_block, k->conv->dw_block * 2, 29 * k->conv->dw_block * 2 + 5, 32, 29 * 32};
  check_tap_dw(k, &t, seed);
}

/* floats of full mantissa and mixed exponents, so that the order of adds changes the rounding (uniform floats of a
 * fixed range are multiples of one power of two, and sums of two of them are often exact) */
static void fill_rough(sc_test_rng *r, float *x, size_t n, float scale) {
  for (size_t i = 0; i < n; i++)
    x[i] = scale * sc_test_uniform(r, -1.0f, 1.0f) * sc_test_uniform(r, 0.01f, 1.0f) * (float)(1 + i % 5);
}

/* One Winograd tile's pair of transforms, by the ISA under test and by the scalar reference: F(2x2, 3x3) (side 4)
 * or F(4x4, 3x3) (side 6). */
typedef struct wino_pair {
  size_t side;
  sc_f32_wino_in_fn in, ref_in;
  sc_f32_wino_out_fn out, ref_out;
  const char *in_name, *out_name;
} wino_pair;

/* in on a side x side patch of cn channels with pixel stride ps and row stride rs, writing side^2 rows of v vs
 * apart; out back onto rows x cols pixels (up to side - 2 each), set or added. Channel counts around the vector
 * widths (4, 8, 16) and their tails, misaligned buffers, sentinels between everything a call may write. */
static void check_wino(const wino_pair *w, size_t cn, size_t ps, size_t rs, size_t vs, uint64_t seed) {
  const size_t side = w->side, ne = side * side, outs = side - 2;
  sc_test_rng r = {seed};
  const size_t in_n = (side - 1) * (rs + ps) + cn + 1, v_n = (ne - 1) * vs + cn + 1;
  float *in = sc_test_alloc(in_n, seed % 3), *got = sc_test_alloc(v_n, 1 + seed % 2), *want = malloc(v_n * 4);
  SC_ASSERT(want, "out of memory");
  fill_rough(&r, in, in_n, 1.0f);
  for (size_t i = 0; i < v_n; i++) got[i] = want[i] = sentinel;
  w->ref_in(cn, in, rs, ps, want, vs);
  w->in(cn, in, rs, ps, got, vs);
  for (size_t i = 0; i < v_n; i++)
    SC_ASSERT(memcmp(&got[i], &want[i], sizeof(float)) == 0,
              "%s cn=%zu ps=%zu rs=%zu vs=%zu seed=%llu: v[%zu] = %.9g, want %.9g", w->in_name, cn, ps, rs, vs,
              (unsigned long long)seed, i, got[i], want[i]);
  /* out reads m (side^2 rows vs apart: the same layout) and writes the block of outputs at out */
  float *m = got, *out = sc_test_alloc(in_n, 2), *owant = malloc(in_n * 4);
  SC_ASSERT(owant, "out of memory");
  fill_rough(&r, m, v_n, 8.0f);
  for (size_t rows = 1; rows <= outs; rows++)
    for (size_t cols = 1; cols <= outs; cols++)
      for (int acc = 0; acc <= 1; acc++) {
        for (size_t i = 0; i < in_n; i++) out[i] = owant[i] = sentinel;
        for (size_t y = 0; y < rows; y++)
          for (size_t x = 0; x < cols; x++)
            for (size_t c = 0; c < cn; c++)
              out[y * rs + x * ps + c] = owant[y * rs + x * ps + c] = (float)(c % 7) - 3.5f;
        w->ref_out(cn, m, vs, owant, rs, ps, rows, cols, acc);
        w->out(cn, m, vs, out, rs, ps, rows, cols, acc);
        for (size_t i = 0; i < in_n; i++)
          SC_ASSERT(memcmp(&out[i], &owant[i], sizeof(float)) == 0,
                    "%s cn=%zu ps=%zu rs=%zu ms=%zu rows=%zu cols=%zu accumulate=%d seed=%llu: out[%zu] = %.9g, want "
                    "%.9g", w->out_name, cn, ps, rs, vs, rows, cols, acc, (unsigned long long)seed, i, out[i],
                    owant[i]);
      }
  sc_test_free(in), sc_test_free(got), sc_test_free(out), free(want), free(owant);
}

static void check_wino_cases(const wino_pair *w, uint64_t seed) {
  static const size_t cns[] = {1, 3, 4, 5, 8, 9, 15, 16, 17, 31, 33, 64, 70};
  for (size_t i = 0; i < NOF(cns); i++, seed++) {
    const size_t cn = cns[i], ps = cn + seed % 3 * 5, rs = w->side * ps + seed % 4;
    check_wino(w, cn, ps, rs, cn + seed % 5, seed);
  }
}

SC_ISA_TEST(conv_ukr, wino_matches_scalar) {
  const sc_conv_config *ref = sc_kernels_scalar.conv, *cv = k->conv;
  SC_ASSERT(ref->wino_in && ref->wino_out, "the scalar table has no F(2x2, 3x3) transforms");
  if (!cv->wino_in) SC_SKIP("the %s table offers no Winograd transforms", k->name);
  SC_ASSERT(cv->wino_out, "the %s table has wino_in without wino_out", k->name);
  const wino_pair w = {4, cv->wino_in, ref->wino_in, cv->wino_out, ref->wino_out, cv->wino_in_name,
                       cv->wino_out_name};
  check_wino_cases(&w, 1300);
}

SC_ISA_TEST(conv_ukr, wino4_matches_scalar) {
  const sc_conv_config *ref = sc_kernels_scalar.conv, *cv = k->conv;
  SC_ASSERT(ref->wino4_in && ref->wino4_out, "the scalar table has no F(4x4, 3x3) transforms");
  if (!cv->wino4_in) SC_SKIP("the %s table offers no F(4x4, 3x3) transforms", k->name);
  SC_ASSERT(cv->wino4_out, "the %s table has wino4_in without wino4_out", k->name);
  const wino_pair w = {6, cv->wino4_in, ref->wino4_in, cv->wino4_out, ref->wino4_out, cv->wino4_in_name,
                       cv->wino4_out_name};
  check_wino_cases(&w, 1400);
}
