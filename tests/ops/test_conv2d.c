/* test_conv2d.c: sc_conv2d_forward, _backward_data and _backward_weights on every ISA against direct loops in
 * double, over randomized shapes (sizes of 1, primes, channel counts off the register tile, kernels 1x1 to 7x7,
 * strides 1-3, paddings 0-3, batch 1-3), the ResNet convolutions, central finite differences of a scalar loss,
 * accumulation (+=) and overwrite semantics, and argument validation.
 *
 * Integer-valued data keeps every product and partial sum exact in fp32 (|values| <= 3, so each term is at most 9
 * and the longest sum here, 9000 terms, stays below 2^24), so optimised and reference results must agree exactly
 * whatever the summation order.
 * Float-valued data is checked against the rounding bound of a length-n sum. The reference loops are slow on
 * purpose (plain and obviously right); shapes are kept small enough for the file to run in seconds. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/conv2d.h"
#include "ops/gemm.h"
#include "ops/winograd.h"
#include "simclr_ops.h"
#include "test.h"
#include "testutil.h"

/* ---- reference ------------------------------------------------------------------------------------------------ */

typedef struct dims { int64_t oh, ow, xn, yn, wn; } dims;

static dims dims_of(const sc_conv2d_shape *s) {
  dims d;
  d.oh = (s->h + 2 * s->pad_h - s->kh) / s->stride_h + 1;
  d.ow = (s->w + 2 * s->pad_w - s->kw) / s->stride_w + 1;
  d.xn = s->n * s->h * s->w * s->c;
  d.yn = s->n * d.oh * d.ow * s->k;
  d.wn = s->k * s->kh * s->kw * s->c;
  return d;
}

/* Visits every (output element, weight, input) triple of the convolution: the one loop nest all three
 * references share, so they cannot disagree about indexing. */
#define FOR_EACH_TERM(s, d, BODY)                                                                          \
  for (int64_t n = 0; n < (s)->n; n++)                                                                      \
    for (int64_t oy = 0; oy < (d).oh; oy++)                                                                 \
      for (int64_t ox = 0; ox < (d).ow; ox++)                                                               \
        for (int64_t k = 0; k < (s)->k; k++)                                                                \
          for (int64_t ky = 0; ky < (s)->kh; ky++)                                                          \
            for (int64_t kx = 0; kx < (s)->kw; kx++) {                                                      \
              int64_t iy = oy * (s)->stride_h - (s)->pad_h + ky, ix = ox * (s)->stride_w - (s)->pad_w + kx; \
              if (iy < 0 || iy >= (s)->h || ix < 0 || ix >= (s)->w) continue;                              \
              for (int64_t c = 0; c < (s)->c; c++) {                                                        \
                int64_t yi = ((n * (d).oh + oy) * (d).ow + ox) * (s)->k + k;                                \
                int64_t wi = ((k * (s)->kh + ky) * (s)->kw + kx) * (s)->c + c;                              \
                int64_t xi = ((n * (s)->h + iy) * (s)->w + ix) * (s)->c + c;                                \
                BODY                                                                                        \
              }                                                                                             \
            }

/* ref[i] += sum of terms, mag[i] += sum of |terms|, both in double (the forward starts them from zero, the
 * backward passes from the prefilled gradient, which checks +=) */
static void ref_forward(const sc_conv2d_shape *s, const float *x, const float *w, double *ref, double *mag) {
  dims d = dims_of(s);
  for (int64_t i = 0; i < d.yn; i++) ref[i] = mag[i] = 0;
  FOR_EACH_TERM(s, d, {
    double t = (double)x[xi] * w[wi];
    ref[yi] += t;
    mag[yi] += fabs(t);
  })
}
static void ref_backward_data(const sc_conv2d_shape *s, const float *dy, const float *w, double *ref, double *mag) {
  dims d = dims_of(s);
  FOR_EACH_TERM(s, d, {
    double t = (double)dy[yi] * w[wi];
    ref[xi] += t;
    mag[xi] += fabs(t);
  })
}
static void ref_backward_weights(const sc_conv2d_shape *s, const float *dy, const float *x, double *ref,
                                 double *mag) {
  dims d = dims_of(s);
  FOR_EACH_TERM(s, d, {
    double t = (double)dy[yi] * x[xi];
    ref[wi] += t;
    mag[wi] += fabs(t);
  })
}

/* ---- comparison ----------------------------------------------------------------------------------------------- */

#define SHAPE_FMT "n=%lld h=%lld w=%lld c=%lld k=%lld kernel=%lldx%lld stride=%lld,%lld pad=%lld,%lld"
#define SHAPE_ARGS(s)                                                                                           \
  (long long)(s)->n, (long long)(s)->h, (long long)(s)->w, (long long)(s)->c, (long long)(s)->k,               \
      (long long)(s)->kh, (long long)(s)->kw, (long long)(s)->stride_h, (long long)(s)->stride_w,              \
      (long long)(s)->pad_h, (long long)(s)->pad_w

/* Index of the first element outside tolerance, or -1. The tolerance is the classic bound for a sum of nterms
 * rounded products in any order, gamma_n = n*u/(1-n*u) times the sum of magnitudes, with n = depth + 2 to cover
 * the rounding of each product, the add into an existing value and (strided backward-data) a tile that is
 * added afterwards. Exact data has exact = 1 and zero tolerance. */
static int64_t first_bad(const float *got, const double *ref, const double *mag, int64_t count, int64_t nterms,
                         int exact) {
  double nu = (double)(nterms + 2) * (FLT_EPSILON / 2);
  double gamma = nu / (1 - nu);
  for (int64_t i = 0; i < count; i++) {
    double tol = exact ? 0.0 : gamma * mag[i] + FLT_MIN;
    double e = fabs((double)got[i] - ref[i]);
    if (!(e <= tol)) return i;
  }
  return -1;
}

typedef enum { FWD, BWD_DATA, BWD_WEIGHTS, BWD_DATA_SET, NPASSES } pass;
static const char *const pass_names[] = {"forward", "backward_data", "backward_weights", "backward_data (set)"};

/* Runs one pass on one shape and compares with the reference. Inputs are integers in [-3, 3] (exact) or uniform
 * in [-1, 1); outputs of the backward passes start from random values to check += (SC_GRAD_ADD), the forward's
 * and the set backward-data's (SC_GRAD_SET) from NaN to check that they are overwritten. */
static void check_pass(const sc_kernels *kern, const sc_conv2d_shape *s, pass ps, int exact, uint64_t seed) {
  dims d = dims_of(s);
  sc_test_rng r = {seed};
  float *x = sc_test_alloc((size_t)d.xn + 1, seed % 3), *w = sc_test_alloc((size_t)d.wn + 1, 1);
  float *y = sc_test_alloc((size_t)d.yn + 1, 2);
  double *ref = malloc(sizeof(double) * (size_t)(d.xn + d.yn + d.wn + 1));
  double *mag = malloc(sizeof(double) * (size_t)(d.xn + d.yn + d.wn + 1));
  SC_ASSERT(ref && mag, "out of memory");
  float *fill[3] = {x, w, y};
  size_t counts[3] = {(size_t)d.xn, (size_t)d.wn, (size_t)d.yn};
  for (int i = 0; i < 3; i++) {
    if (exact)
      sc_test_fill_int(&r, fill[i], counts[i], 3);
    else
      sc_test_fill(&r, fill[i], counts[i], -1.0f, 1.0f);
  }
  const int data = ps == BWD_DATA || ps == BWD_DATA_SET, set = ps == FWD || ps == BWD_DATA_SET;
  float *out = ps == FWD ? y : data ? x : w;
  int64_t count = ps == FWD ? d.yn : data ? d.xn : d.wn;
  int64_t nterms = ps == FWD ? s->kh * s->kw * s->c : data ? s->kh * s->kw * s->k : s->n * d.oh * d.ow;
  for (int64_t i = 0; i < count; i++) ref[i] = set ? 0.0 : out[i], mag[i] = fabs(ref[i]);
  if (set)
    for (int64_t i = 0; i < count; i++) out[i] = NAN;
  sc_status st;
  if (ps == FWD) {
    ref_forward(s, x, w, ref, mag);
    st = sc_conv2d_forward(s, x, w, y);
  } else if (data) {
    ref_backward_data(s, y, w, ref, mag);
    st = sc_conv2d_backward_data(s, x, set ? SC_GRAD_SET : SC_GRAD_ADD, y, w);
  } else {
    ref_backward_weights(s, y, x, ref, mag);
    st = sc_conv2d_backward_weights(s, w, y, x);
  }
  SC_ASSERT(st == SC_OK, "%s isa=%s " SHAPE_FMT ": %s", pass_names[ps], kern->name, SHAPE_ARGS(s), sc_last_error());
  int64_t bad = first_bad(out, ref, mag, count, nterms, exact);
  SC_ASSERT(bad < 0, "%s isa=%s " SHAPE_FMT " exact=%d seed=%llu: element %lld is %.9g, want %.9g", pass_names[ps],
            kern->name, SHAPE_ARGS(s), exact, (unsigned long long)seed, (long long)bad, out[bad < 0 ? 0 : bad],
            ref[bad < 0 ? 0 : bad]);
  sc_test_free(x), sc_test_free(w), sc_test_free(y);
  free(ref), free(mag);
}

static void check_all_passes(const sc_kernels *kern, const sc_conv2d_shape *s, int exact, uint64_t seed) {
  for (int p = 0; p < NPASSES; p++) check_pass(kern, s, (pass)p, exact, seed * NPASSES + (uint64_t)p);
}

static sc_conv2d_shape shape(int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t kh, int64_t kw,
                             int64_t stride, int64_t pad) {
  sc_conv2d_shape s = {.n = n, .h = h, .w = w, .c = c, .k = k, .kh = kh, .kw = kw, .stride_h = stride,
                       .stride_w = stride, .pad_h = pad, .pad_w = pad};
  return s;
}

/* ---- tests ---------------------------------------------------------------------------------------------------- */

SC_ISA_TEST(conv2d, random_shapes_exact) {
  static const int64_t spatial[] = {1, 2, 3, 5, 7, 11, 13};
  static const int64_t chans[] = {1, 3, 5, 16, 17, 33};
  static const int64_t kernels[][2] = {{1, 1}, {3, 3}, {7, 7}, {5, 3}, {2, 1}};
  sc_test_rng r = {42};
  int done = 0;
  for (int it = 0; done < 40; it++) {
    const int64_t *ks = kernels[sc_test_int(&r, 0, 4)];
    sc_conv2d_shape s = {.n = sc_test_int(&r, 1, 3), .h = spatial[sc_test_int(&r, 0, 6)],
                         .w = spatial[sc_test_int(&r, 0, 6)], .c = chans[sc_test_int(&r, 0, 5)],
                         .k = chans[sc_test_int(&r, 0, 5)], .kh = ks[0], .kw = ks[1],
                         .stride_h = sc_test_int(&r, 1, 3), .stride_w = sc_test_int(&r, 1, 3),
                         .pad_h = sc_test_int(&r, 0, 3), .pad_w = sc_test_int(&r, 0, 3)};
    if (s.kh > s.h + 2 * s.pad_h || s.kw > s.w + 2 * s.pad_w) continue; /* invalid: tested separately */
    check_all_passes(k, &s, 1, 1000 + (uint64_t)it);
    done++;
  }
}

SC_ISA_TEST(conv2d, random_shapes_float) {
  sc_test_rng r = {7};
  for (int it = 0; it < 12; it++) {
    int64_t kh = sc_test_int(&r, 1, 5), kw = sc_test_int(&r, 1, 5);
    sc_conv2d_shape s = {.n = sc_test_int(&r, 1, 2), .h = sc_test_int(&r, kh, 12), .w = sc_test_int(&r, kw, 12),
                         .c = sc_test_int(&r, 1, 40), .k = sc_test_int(&r, 1, 40), .kh = kh, .kw = kw,
                         .stride_h = sc_test_int(&r, 1, 3), .stride_w = sc_test_int(&r, 1, 3),
                         .pad_h = sc_test_int(&r, 0, 2), .pad_w = sc_test_int(&r, 0, 2)};
    check_all_passes(k, &s, 0, 5000 + (uint64_t)it);
  }
}

/* The convolutions of ResNet (stem 7x7/2 pad 3, 3x3/1 and 3x3/2 pad 1, 1x1/1 and 1x1/2) with real channel
 * counts on small images; and shapes whose rows span several GEMM blocks and several strided backward-data tiles
 * (more than 256 channels splits the gathered runs; 35x35 phase rows of 1000 channels fill 2 tiles). GEMM panels
 * that run across the ends of image rows are read in place with the padded taps cleared afterwards (8x8x64 -> 64
 * and 6x6x130 -> 96 at stride 1). The 28x28 shapes of the demo's model take the direct kernels. */
SC_ISA_TEST(conv2d, resnet_shapes_exact) {
  const sc_conv2d_shape cases[] = {
      shape(2, 20, 18, 3, 64, 7, 7, 2, 3),  shape(2, 8, 8, 64, 64, 3, 3, 1, 1), shape(1, 9, 8, 64, 128, 3, 3, 2, 1),
      shape(2, 8, 8, 64, 256, 1, 1, 1, 0), shape(2, 8, 7, 128, 64, 1, 1, 2, 0), shape(2, 6, 6, 130, 96, 3, 3, 1, 1),
      shape(1, 70, 70, 1000, 2, 3, 3, 2, 1), shape(2, 48, 46, 64, 8, 3, 3, 2, 1), shape(3, 32, 32, 16, 16, 3, 3, 1, 1),
      shape(2, 28, 28, 1, 16, 3, 3, 1, 1),  shape(2, 28, 28, 16, 16, 3, 3, 1, 1),
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_all_passes(k, &cases[i], 1, 77 + i);
}

/* Shapes the direct kernels take (few channels, outputs in whole blocks of 16; 64 or more channels in, blocks of 64
 * out: conv.h), on one thread and on two (whole images each, an odd count so the shares differ; a single
 * image goes to the GEMM on two threads): the demo model's layers, stride 2, a stem-like 7x7/2,
 * non-square kernels, no padding, padding wider than the kernel (output pixels no tap reaches), channel counts
 * off every tap_dw block, a backward-weights of 64 x 128 channels (direct; its forward is not), and 3-wide
 * kernels whose rows have no interior column, or two edge columns a side. */
SC_ISA_TEST(conv2d, direct_shapes_exact) {
  const sc_conv2d_shape cases[] = {
      shape(3, 28, 28, 16, 16, 3, 3, 1, 1), shape(2, 28, 28, 16, 32, 3, 3, 2, 1), shape(3, 14, 13, 32, 32, 3, 3, 1, 1),
      shape(1, 9, 11, 3, 16, 7, 7, 2, 3),   shape(2, 6, 6, 17, 16, 3, 3, 1, 0),   shape(1, 3, 3, 16, 16, 3, 3, 1, 3),
      shape(2, 6, 6, 64, 128, 3, 3, 2, 1),  shape(3, 4, 4, 32, 16, 3, 3, 1, 1),
      /* strided backward-data reading up to 64 channels (the demo model's layer3.0 and its projection; 50) */
      shape(2, 14, 14, 32, 64, 3, 3, 2, 1), shape(2, 14, 13, 32, 64, 1, 1, 2, 0), shape(2, 9, 9, 16, 50, 3, 3, 2, 1),
      /* outputs in blocks of 64 from 64 or more channels (tap64 where the table has it) */
      shape(3, 7, 7, 64, 64, 3, 3, 1, 1),   shape(2, 4, 4, 128, 64, 3, 3, 1, 1),  shape(2, 7, 7, 64, 128, 3, 3, 2, 1),
      shape(2, 3, 5, 67, 64, 3, 3, 1, 1),   shape(3, 12, 13, 64, 64, 3, 3, 1, 1),
      /* ... and a strided backward-data from more than 256 x 256 channels (the stride phases' GEMMs below that) */
      shape(3, 6, 7, 256, 320, 3, 3, 2, 1),
  };
  sc_conv2d_shape odd = shape(2, 10, 7, 5, 16, 5, 3, 1, 2); /* 5x3 kernel, pads (2, 1) */
  odd.pad_w = 1;
  /* 3-wide kernels at stride 1 along rows (row3 where the table has it): images too narrow for an interior column,
   * padding 2 (two edge columns a side), a 1x3 kernel at row stride 2 with 31-pixel rows */
  sc_conv2d_shape narrow = shape(2, 5, 2, 16, 16, 3, 3, 1, 1), wide_pad = shape(3, 6, 9, 32, 32, 3, 3, 1, 2);
  sc_conv2d_shape rows_s2 = shape(2, 9, 31, 8, 32, 1, 3, 1, 1);
  rows_s2.stride_h = 2, rows_s2.pad_h = 0;
  const sc_conv2d_shape more[] = {odd, narrow, wide_pad, rows_s2};
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_all_passes(k, &cases[i], 1, 300 + i);
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) check_all_passes(k, &more[i], 1, 399 + i);
  }
}

/* ---- the Winograd path (src/ops/winograd.c) ------------------------------------------------------------------ */

/* Shapes that take it wherever the table offers the transforms: several blocks of tile rows and an odd width
 * (30x29), blocks that span images (4x4), channel counts off the vector and the GEMM tile (67, 70, 130), more input
 * channels than one depth block of the GEMM (300), paddings 0 and 2 (backward-data then pads 2 and 0), an image of
 * one tile, a 7x7 image (tiles past its edge, taken with 128 or more channels). */
#define WINO_SHAPE(N, H, W, C, K, P) \
  {.n = N, .h = H, .w = W, .c = C, .k = K, .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_h = P, .pad_w = P}
static const sc_conv2d_shape wino_cases[] = {
    WINO_SHAPE(2, 30, 29, 64, 70, 1), WINO_SHAPE(3, 4, 4, 130, 96, 1), WINO_SHAPE(1, 6, 8, 300, 67, 1),
    WINO_SHAPE(2, 10, 12, 64, 64, 0), WINO_SHAPE(2, 6, 8, 64, 80, 2),  WINO_SHAPE(2, 2, 2, 64, 64, 1),
    WINO_SHAPE(3, 7, 7, 128, 144, 1),
};
enum { NWINO = sizeof wino_cases / sizeof wino_cases[0] };

/* Exact data (every transform is exact on small integers: the weights' halves and quarters included), all passes,
 * one thread and two. The shapes must take the path where the table has it, or this checks something else. */
SC_ISA_TEST(conv2d, winograd_shapes_exact) {
  for (int i = 0; i < NWINO; i++)
    SC_ASSERT(!k->conv || !k->conv->wino_in ||
                  (sc_wino_applies(k, &wino_cases[i], wino_cases[i].c, wino_cases[i].k) &&
                   sc_wino_applies(k, &wino_cases[i], wino_cases[i].k, wino_cases[i].c)),
              "isa=%s " SHAPE_FMT ": does not take the Winograd path", k->name, SHAPE_ARGS(&wino_cases[i]));
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
    for (int i = 0; i < NWINO; i++) check_all_passes(k, &wino_cases[i], 1, 500 + (uint64_t)i);
  }
}

/* The rounding bound of F(2x2, 3x3). Each output is a fixed tree of adds over products of a transformed input
 * value (V, 2 adds deep) and a transformed weight (U, 4 operations deep; the halvings are exact), summed over the
 * D channels read and transformed back (4 adds), then added to what was there: at most D + 12 roundings on any
 * path, so the error is at most gamma_{D+16} times the same tree evaluated on absolute values. That tree is at most
 * 4 * sum over channels of (sum of |d| over the tile's 4x4 input patch) * (sum of |g| over the 3x3 kernel): the
 * largest coefficient any |d_ij| |g_kl| gets from |A^T| (|G| |g| |G^T| o |B^T| |d| |B|) |A| is 4 (computed over
 * the 2x2 outputs of a tile). The direct convolution's bound covers 9 of those 144 products, so this one is looser,
 * as the method is; a misplaced term (of order 1) still exceeds it by far. in: the pass's input (x, or dy),
 * out_c: its output channels; mag[i] gets the bound's magnitude for output element i. */
static void wino_magnitude(const sc_conv2d_shape *s, int backward_data, const float *in, const float *w,
                           double *mag) {
  dims d = dims_of(s);
  const int64_t ih = backward_data ? d.oh : s->h, iw = backward_data ? d.ow : s->w;
  const int64_t oh = backward_data ? s->h : d.oh, ow = backward_data ? s->w : d.ow;
  const int64_t cin = backward_data ? s->k : s->c, cout = backward_data ? s->c : s->k;
  const int64_t py = backward_data ? 2 - s->pad_h : s->pad_h, px = backward_data ? 2 - s->pad_w : s->pad_w;
  for (int64_t n = 0; n < s->n; n++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++)
        for (int64_t o = 0; o < cout; o++) {
          double sum = 0;
          for (int64_t i = 0; i < cin; i++) {
            double sd = 0, sg = 0;
            for (int64_t a = 0; a < 4; a++)
              for (int64_t b = 0; b < 4; b++) {
                const int64_t y = oy / 2 * 2 - py + a, x = ox / 2 * 2 - px + b;
                if (y >= 0 && y < ih && x >= 0 && x < iw) sd += fabs(in[((n * ih + y) * iw + x) * cin + i]);
              }
            for (int64_t t = 0; t < 9; t++)
              sg += fabs(backward_data ? w[(i * 9 + t) * s->c + o] : w[(o * 9 + t) * s->c + i]);
            sum += sd * sg;
          }
          mag[((n * oh + oy) * ow + ox) * cout + o] += 4 * sum;
        }
}

/* Uniform data in [-1, 1) against the direct loops in double, within that bound: the forward, and backward-data
 * adding into random values and setting. */
SC_ISA_TEST(conv2d, winograd_shapes_float) {
  SC_ASSERT(sc_set_num_threads(2) == SC_OK, "set threads: %s", sc_last_error());
  for (int ci = 0; ci < NWINO; ci++)
    for (int pass = 0; pass < 3; pass++) {
      const sc_conv2d_shape *s = &wino_cases[ci];
      const int data = pass > 0, set = pass != 1;
      dims d = dims_of(s);
      sc_test_rng r = {900 + (uint64_t)(ci * 3 + pass)};
      float *x = sc_test_alloc((size_t)d.xn, 1), *w = sc_test_alloc((size_t)d.wn, 2);
      float *y = sc_test_alloc((size_t)d.yn, 3);
      const size_t most = (size_t)(d.xn + d.yn);
      double *ref = malloc(sizeof(double) * most), *mag = malloc(sizeof(double) * most);
      double *wmag = malloc(sizeof(double) * most);
      SC_ASSERT(ref && mag && wmag, "out of memory");
      sc_test_fill(&r, x, (size_t)d.xn, -1, 1), sc_test_fill(&r, w, (size_t)d.wn, -1, 1);
      sc_test_fill(&r, y, (size_t)d.yn, -1, 1);
      float *out = data ? x : y;
      const int64_t count = data ? d.xn : d.yn, depth = data ? s->k : s->c;
      for (int64_t i = 0; i < count; i++) ref[i] = set ? 0.0 : out[i], wmag[i] = fabs(ref[i]);
      if (set)
        for (int64_t i = 0; i < count; i++) out[i] = NAN;
      sc_status st;
      if (data) {
        ref_backward_data(s, y, w, ref, mag);
        wino_magnitude(s, 1, y, w, wmag);
        st = sc_conv2d_backward_data(s, x, set ? SC_GRAD_SET : SC_GRAD_ADD, y, w);
      } else {
        ref_forward(s, x, w, ref, mag);
        wino_magnitude(s, 0, x, w, wmag);
        st = sc_conv2d_forward(s, x, w, y);
      }
      SC_ASSERT(st == SC_OK, "isa=%s " SHAPE_FMT ": %s", k->name, SHAPE_ARGS(s), sc_last_error());
      const double nu = (double)(depth + 16) * (FLT_EPSILON / 2), gamma = nu / (1 - nu);
      for (int64_t i = 0; i < count; i++)
        SC_ASSERT(fabs((double)out[i] - ref[i]) <= gamma * wmag[i] + FLT_MIN,
                  "isa=%s %s " SHAPE_FMT ": element %lld is %.9g, want %.9g (bound %.3g)", k->name,
                  pass == 0 ? "forward" : set ? "backward_data (set)" : "backward_data", SHAPE_ARGS(s),
                  (long long)i, out[i], ref[i], gamma * wmag[i]);
      sc_test_free(x), sc_test_free(w), sc_test_free(y);
      free(ref), free(mag), free(wmag);
    }
}

/* ---- F(4x4, 3x3): inference's forward (sc_conv2d_infer) ---------------------------------------------------- */

/* Shapes that take it where the table has the transforms: whole tiles with an odd tile count across (8x12), tiles
 * past the edge with 128 or more channels (7x7, 14x14: four tile rows per image, so blocks span images), more
 * input channels than one depth block (300), paddings 0 and 2, channel counts off the vector and the GEMM tile. */
static const sc_conv2d_shape wino4_cases[] = {
    WINO_SHAPE(2, 8, 12, 64, 72, 1),    WINO_SHAPE(1, 7, 7, 128, 136, 1), WINO_SHAPE(2, 14, 14, 128, 128, 1),
    WINO_SHAPE(1, 4, 4, 300, 64, 1),    WINO_SHAPE(2, 6, 10, 64, 64, 0),  WINO_SHAPE(2, 6, 6, 67, 64, 2),
};

/* The rounding bound of F(4x4, 3x3). Along any path of an output's computation there are at most D + 13
 * roundings: the transformed weight (computed in double, rounded once), the input's transform (two adds in each
 * of its two passes; the scalings are by powers of two, exact), the product, the D - 1 adds over the channels, the
 * output's transform (three adds in each pass) and the add into what was there. So the error is at most
 * gamma_{D+16} times the same computation on absolute values, |A^T| (|G| |g| |G^T| o |B^T| |d| |B|) |A| summed
 * over the channels, which this computes (in double) for each output: mag[i] += it. */
static void wino4_magnitude(const sc_conv2d_shape *s, const float *x, const float *w, double *mag) {
  static const double bt[6][6] = {{4, 0, 5, 0, 1, 0}, {0, 4, 4, 1, 1, 0}, {0, 4, 4, 1, 1, 0},
                                  {0, 2, 1, 2, 1, 0}, {0, 2, 1, 2, 1, 0}, {0, 4, 0, 5, 0, 1}};
  static const double g6[6][3] = {{1.0 / 4, 0, 0},          {1.0 / 6, 1.0 / 6, 1.0 / 6}, {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  static const double at[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, 1, 2, 2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, 1, 8, 8, 1}};
  dims d = dims_of(s);
  const int64_t c = s->c, k = s->k;
  double *u = malloc(sizeof(double) * (size_t)(k * c * 36));
  SC_ASSERT(u, "out of memory");
  for (int64_t o = 0; o < k; o++) /* |G| |g| |G^T| */
    for (int64_t i = 0; i < c; i++)
      for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
          double sum = 0;
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) sum += g6[a][ky] * fabs(w[(o * 9 + ky * 3 + kx) * c + i]) * g6[b][kx];
          u[(o * c + i) * 36 + a * 6 + b] = sum;
        }
  for (int64_t n = 0; n < s->n; n++)
    for (int64_t ty = 0; ty < (d.oh + 3) / 4; ty++)
      for (int64_t tx = 0; tx < (d.ow + 3) / 4; tx++)
        for (int64_t i = 0; i < c; i++) {
          double v[36] = {0}; /* |B^T| |d| |B| */
          for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
              for (int py = 0; py < 6; py++)
                for (int px = 0; px < 6; px++) {
                  const int64_t y = 4 * ty - s->pad_h + py, xx = 4 * tx - s->pad_w + px;
                  if (bt[a][py] != 0 && bt[b][px] != 0 && y >= 0 && y < s->h && xx >= 0 && xx < s->w)
                    v[a * 6 + b] += bt[a][py] * fabs(x[((n * s->h + y) * s->w + xx) * c + i]) * bt[b][px];
                }
          for (int64_t o = 0; o < k; o++)
            for (int oy = 0; oy < 4 && 4 * ty + oy < d.oh; oy++)
              for (int ox = 0; ox < 4 && 4 * tx + ox < d.ow; ox++) {
                double sum = 0;
                for (int e = 0; e < 36; e++) sum += at[oy][e / 6] * u[(o * c + i) * 36 + e] * v[e] * at[ox][e % 6];
                mag[((n * d.oh + 4 * ty + oy) * d.ow + 4 * tx + ox) * k + o] += sum;
              }
        }
  free(u);
}

/* Uniform data in [-1, 1) against the direct loops in double, within that bound, on one thread and two; the
 * weights prepared once (sc_conv2d_infer_prepare) and not at all must give the same bits; and the epilogue (bias
 * and ReLU) must equal the separate passes bit for bit, which checks the rows each block of tiles applies it to. */
SC_ISA_TEST(conv2d, winograd4_infer_float) {
  if (!k->conv || !k->conv->wino4_in) SC_SKIP("the %s table offers no F(4x4, 3x3) transforms", k->name);
  for (size_t ci = 0; ci < sizeof wino4_cases / sizeof wino4_cases[0]; ci++) {
    const sc_conv2d_shape *s = &wino4_cases[ci];
    SC_ASSERT(sc_wino4_applies(k, s), "isa=%s " SHAPE_FMT ": does not take F(4x4, 3x3)", k->name, SHAPE_ARGS(s));
    dims d = dims_of(s);
    sc_test_rng r = {1500 + ci};
    float *x = sc_test_alloc((size_t)d.xn, 1), *w = sc_test_alloc((size_t)d.wn, 2);
    float *y = sc_test_alloc((size_t)d.yn, 3), *yp = sc_test_alloc((size_t)d.yn, 0);
    float *bias = sc_test_alloc((size_t)s->k, 1);
    double *ref = calloc((size_t)d.yn, sizeof(double)), *mag = calloc((size_t)d.yn, sizeof(double));
    double *wmag = calloc((size_t)d.yn, sizeof(double));
    SC_ASSERT(ref && mag && wmag, "out of memory");
    sc_test_fill(&r, x, (size_t)d.xn, -1, 1), sc_test_fill(&r, w, (size_t)d.wn, -1, 1);
    sc_test_fill(&r, bias, (size_t)s->k, -1, 1);
    ref_forward(s, x, w, ref, mag);
    wino4_magnitude(s, x, w, wmag);
    const double nu = (double)(s->c + 16) * (FLT_EPSILON / 2), gamma = nu / (1 - nu);
    sc_conv2d_prepared pw;
    SC_ASSERT(sc_conv2d_infer_prepare(s, w, &pw) == SC_OK && pw.u && pw.tile == 4,
              "isa=%s " SHAPE_FMT ": prepare: %s", k->name, SHAPE_ARGS(s), sc_last_error());
    for (int threads = 1; threads <= 2; threads++) {
      SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
      for (int64_t i = 0; i < d.yn; i++) y[i] = yp[i] = NAN;
      SC_ASSERT(sc_conv2d_infer(s, x, w, y, NULL, NULL) == SC_OK, "%s", sc_last_error());
      SC_ASSERT(sc_conv2d_infer(s, x, w, yp, NULL, &pw) == SC_OK, "%s", sc_last_error());
      for (int64_t i = 0; i < d.yn; i++) {
        SC_ASSERT(fabs((double)y[i] - ref[i]) <= gamma * wmag[i] + FLT_MIN,
                  "isa=%s threads=%d " SHAPE_FMT ": element %lld is %.9g, want %.9g (bound %.3g)", k->name, threads,
                  SHAPE_ARGS(s), (long long)i, y[i], ref[i], gamma * wmag[i]);
        SC_ASSERT(memcmp(&y[i], &yp[i], sizeof(float)) == 0,
                  "isa=%s threads=%d " SHAPE_FMT ": element %lld is %.9g with prepared weights, %.9g without",
                  k->name, threads, SHAPE_ARGS(s), (long long)i, yp[i], y[i]);
      }
      const sc_gemm_epilogue ep = {.bias = bias, .relu = 1};
      SC_ASSERT(sc_conv2d_infer(s, x, w, yp, &ep, &pw) == SC_OK, "%s", sc_last_error());
      SC_ASSERT(sc_bias_add_forward(d.yn / s->k, s->k, bias, y) == SC_OK, "%s", sc_last_error());
      SC_ASSERT(sc_relu_forward(d.yn, y, y) == SC_OK, "%s", sc_last_error());
      for (int64_t i = 0; i < d.yn; i++)
        SC_ASSERT(memcmp(&y[i], &yp[i], sizeof(float)) == 0,
                  "isa=%s threads=%d " SHAPE_FMT ": element %lld is %.9g with the epilogue, %.9g in separate passes",
                  k->name, threads, SHAPE_ARGS(s), (long long)i, yp[i], y[i]);
    }
    sc_conv2d_prepared_free(&pw);
    sc_test_free(x), sc_test_free(w), sc_test_free(y), sc_test_free(yp), sc_test_free(bias);
    free(ref), free(mag), free(wmag);
  }
}

/* Weights prepared once (sc_conv2d_infer_prepare) for Winograd layers (F(4x4) on an 8x12 image and on a 4x4 one of
 * a single tile; F(2x2) on a 6x6 image, where 4x4 tiles would waste too many outputs): sc_conv2d_infer must give
 * the bits it gives without them, with and without the epilogue, on one thread and two; and it must read the
 * prepared weights, not w, which is replaced by NaN once they are made. A 1x1 layer has nothing to prepare. */
SC_ISA_TEST(conv2d, infer_prepared_weights) {
  const sc_conv2d_shape cases[] = {shape(2, 8, 12, 64, 72, 3, 3, 1, 1), shape(2, 4, 4, 64, 64, 3, 3, 1, 1),
                                   shape(2, 6, 6, 64, 64, 3, 3, 1, 1), shape(2, 9, 9, 40, 72, 1, 1, 1, 0)};
  static const int tiles[] = {4, 4, 2, 0};
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
      const sc_conv2d_shape *s = &cases[ci];
      dims d = dims_of(s);
      sc_test_rng r = {1600 + ci};
      float *x = sc_test_alloc((size_t)d.xn, 1), *w = sc_test_alloc((size_t)d.wn, 2);
      float *want = sc_test_alloc((size_t)d.yn, 3), *y = sc_test_alloc((size_t)d.yn, 0);
      float *bias = sc_test_alloc((size_t)s->k, 1);
      sc_test_fill(&r, x, (size_t)d.xn, -1, 1), sc_test_fill(&r, w, (size_t)d.wn, -1, 1);
      sc_test_fill(&r, bias, (size_t)s->k, -1, 1);
      sc_conv2d_prepared pw;
      SC_ASSERT(sc_conv2d_infer_prepare(s, w, &pw) == SC_OK, "%s", sc_last_error());
      const int want_tile = k->conv && k->conv->wino4_in ? tiles[ci] : 0;
      SC_ASSERT(pw.tile == want_tile && (pw.u != NULL) == (want_tile != 0),
                "isa=%s threads=%d " SHAPE_FMT ": prepared tile %d (weights %s), want %d", k->name, threads,
                SHAPE_ARGS(s), pw.tile, pw.u ? "made" : "none", want_tile);
      for (int v = 0; v < 2; v++) {
        const sc_gemm_epilogue ep = {.bias = bias, .relu = 1};
        SC_ASSERT(sc_conv2d_infer(s, x, w, want, v ? &ep : NULL, NULL) == SC_OK, "%s", sc_last_error());
        float *wn = w;
        if (pw.u) {
          wn = sc_test_alloc((size_t)d.wn, 0);
          for (int64_t i = 0; i < d.wn; i++) wn[i] = NAN;
        }
        for (int64_t i = 0; i < d.yn; i++) y[i] = NAN;
        SC_ASSERT(sc_conv2d_infer(s, x, wn, y, v ? &ep : NULL, &pw) == SC_OK, "%s", sc_last_error());
        for (int64_t i = 0; i < d.yn; i++)
          SC_ASSERT(memcmp(&y[i], &want[i], sizeof(float)) == 0,
                    "isa=%s threads=%d epilogue=%d " SHAPE_FMT ": element %lld is %.9g with prepared weights, %.9g "
                    "without", k->name, threads, v, SHAPE_ARGS(s), (long long)i, y[i], want[i]);
        if (wn != w) sc_test_free(wn);
      }
      sc_conv2d_prepared_free(&pw);
      sc_test_free(x), sc_test_free(w), sc_test_free(want), sc_test_free(y), sc_test_free(bias);
    }
  }
}

/* The rounding bound of backward-weights by F(2x2, 3x3): dw = G^T [sum over tiles of (A dY A^T) o (B^T d B)] G. Each
 * of the 16 transformed gradients of a tile is at most the sum of |dy| over its 2x2 block (A's entries are 0 and
 * +-1), each transformed input at most the sum of |x| over its 4x4 patch, and G^T . G gives any element of the sum a
 * weight of at most 2 x 2; so the tree on absolute values is at most 4 * sum over tiles of those two sums' product.
 * On any path: 2 roundings in each transform, 1 product, one add per tile and per thread, 5 in G^T M G and the
 * add into dw: with T tiles, gamma_{T+16}. mag gets that magnitude for each of the K x 9 x C weights. */
static void wino_dw_magnitude(const sc_conv2d_shape *s, const float *dy, const float *x, double *mag) {
  dims d = dims_of(s);
  const int64_t th = (d.oh + 1) / 2, tw = (d.ow + 1) / 2, K = s->k, C = s->c;
  double *sy = malloc(sizeof(double) * (size_t)K), *sx = malloc(sizeof(double) * (size_t)C);
  SC_ASSERT(sy && sx, "out of memory");
  for (int64_t n = 0; n < s->n; n++)
    for (int64_t ty = 0; ty < th; ty++)
      for (int64_t tx = 0; tx < tw; tx++) {
        for (int64_t k = 0; k < K; k++) {
          sy[k] = 0;
          for (int64_t a = 2 * ty; a < 2 * ty + 2 && a < d.oh; a++)
            for (int64_t b = 2 * tx; b < 2 * tx + 2 && b < d.ow; b++)
              sy[k] += fabs(dy[((n * d.oh + a) * d.ow + b) * K + k]);
        }
        for (int64_t c = 0; c < C; c++) {
          sx[c] = 0;
          for (int64_t a = 2 * ty - s->pad_h; a < 2 * ty - s->pad_h + 4; a++)
            for (int64_t b = 2 * tx - s->pad_w; b < 2 * tx - s->pad_w + 4; b++)
              if (a >= 0 && a < s->h && b >= 0 && b < s->w) sx[c] += fabs(x[((n * s->h + a) * s->w + b) * C + c]);
        }
        for (int64_t k = 0; k < K; k++)
          for (int64_t t = 0; t < 9; t++)
            for (int64_t c = 0; c < C; c++) mag[(k * 9 + t) * C + c] += 4 * sy[k] * sx[c];
      }
  free(sy), free(sx);
}

/* Backward-weights on uniform data in [-1, 1), adding into random values, against the direct loops in double
 * within that bound, on one thread and two. */
SC_ISA_TEST(conv2d, winograd_backward_weights_float) {
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
    for (int ci = 0; ci < NWINO; ci++) {
      const sc_conv2d_shape *s = &wino_cases[ci];
      dims d = dims_of(s);
      sc_test_rng r = {950 + (uint64_t)(ci * 2 + threads)};
      float *x = sc_test_alloc((size_t)d.xn, 1), *w = sc_test_alloc((size_t)d.wn, 2);
      float *y = sc_test_alloc((size_t)d.yn, 3);
      double *ref = malloc(sizeof(double) * (size_t)d.wn), *mag = malloc(sizeof(double) * (size_t)d.wn);
      double *wmag = malloc(sizeof(double) * (size_t)d.wn);
      SC_ASSERT(ref && mag && wmag, "out of memory");
      sc_test_fill(&r, x, (size_t)d.xn, -1, 1), sc_test_fill(&r, w, (size_t)d.wn, -1, 1);
      sc_test_fill(&r, y, (size_t)d.yn, -1, 1);
      for (int64_t i = 0; i < d.wn; i++) ref[i] = w[i], mag[i] = 0, wmag[i] = fabs(w[i]);
      ref_backward_weights(s, y, x, ref, mag);
      wino_dw_magnitude(s, y, x, wmag);
      SC_ASSERT(sc_conv2d_backward_weights(s, w, y, x) == SC_OK, "isa=%s " SHAPE_FMT ": %s", k->name,
                SHAPE_ARGS(s), sc_last_error());
      const int64_t tiles = s->n * ((d.oh + 1) / 2) * ((d.ow + 1) / 2);
      const double nu = (double)(tiles + 16) * (FLT_EPSILON / 2), gamma = nu / (1 - nu);
      for (int64_t i = 0; i < d.wn; i++)
        SC_ASSERT(fabs((double)w[i] - ref[i]) <= gamma * wmag[i] + FLT_MIN,
                  "isa=%s threads=%d backward_weights " SHAPE_FMT ": element %lld is %.9g, want %.9g (bound %.3g)",
                  k->name, threads, SHAPE_ARGS(s), (long long)i, w[i], ref[i], gamma * wmag[i]);
      sc_test_free(x), sc_test_free(w), sc_test_free(y);
      free(ref), free(mag), free(wmag);
    }
  }
}

/* The forward's epilogue (inference: + residual, + bias, ReLU) against the forward followed by the separate operators,
 * bit for bit, on each path that applies it: the 16-lane and 64-lane direct kernels (per image), the pointwise and
 * gathering GEMM (per row block, B resident), a 1x1 layer whose weights (9 MiB) outgrow the resident budget of a 32 MiB
 * L3, on which the GEMM is told to plan (streaming), and Winograd (per block of tile rows); one and two threads; with
 * and without residual and ReLU. The residual is a buffer of its own, or y itself (y holds it on entry and the
 * convolution adds into y). In place, the residual joins the sum at its first depth block, which rounds differently, so
 * those cases take small integers (and quarters for the bias): every sum is then exact, Winograd's too (its transformed
 * weights are quarters of integers), and any missing, doubled or misplaced term still shows. */
SC_ISA_TEST(conv2d, forward_epilogue_matches_separate_passes) {
  const sc_conv2d_shape cases[] = {shape(3, 28, 28, 16, 16, 3, 3, 1, 1), shape(3, 7, 7, 64, 64, 3, 3, 1, 1),
                                   shape(2, 9, 9, 40, 72, 1, 1, 1, 0),   shape(2, 20, 18, 3, 64, 7, 7, 2, 3),
                                   shape(1, 4, 4, 1024, 2304, 1, 1, 1, 0), shape(2, 9, 8, 24, 40, 3, 3, 2, 1),
                                   shape(2, 8, 10, 64, 72, 3, 3, 1, 1)};
  sc_gemm_model_l3((size_t)32 << 20);
  for (int threads = 1; threads <= 2; threads++) {
    SC_ASSERT(sc_set_num_threads(threads) == SC_OK, "set threads: %s", sc_last_error());
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
      for (int v = 0; v < 6; v++) {
        const sc_conv2d_shape *s = &cases[ci];
        if (ci == 6 && v == 0 && k->conv && k->conv->wino_in)
          SC_ASSERT(sc_wino_applies(k, s, s->c, s->k), "isa=%s " SHAPE_FMT ": the Winograd case no longer takes that "
                    "path", k->name, SHAPE_ARGS(s));
        const int with_res = v % 3, in_place = with_res == 2, relu = v / 3;
        dims d = dims_of(s);
        sc_test_rng r = {700 + ci * 6 + (uint64_t)v};
        float *x = sc_test_alloc((size_t)d.xn, 0), *w = sc_test_alloc((size_t)d.wn, 1);
        float *y = sc_test_alloc((size_t)d.yn, 2), *want = sc_test_alloc((size_t)d.yn, 3);
        float *res = sc_test_alloc((size_t)d.yn, 0), *bias = sc_test_alloc((size_t)s->k, 1);
        sc_test_fill(&r, x, (size_t)d.xn, -1, 1), sc_test_fill(&r, w, (size_t)d.wn, -1, 1);
        sc_test_fill(&r, res, (size_t)d.yn, -1, 1), sc_test_fill(&r, bias, (size_t)s->k, -1, 1);
        if (in_place) {
          for (int64_t i = 0; i < d.xn; i++) x[i] = roundf(3 * x[i]);
          for (int64_t i = 0; i < d.wn; i++) w[i] = roundf(2 * w[i]);
          for (int64_t i = 0; i < d.yn; i++) res[i] = roundf(50 * res[i]);
          for (int64_t i = 0; i < s->k; i++) bias[i] = roundf(40 * bias[i]) / 4;
        }
        SC_ASSERT(sc_conv2d_forward(s, x, w, want) == SC_OK, "%s", sc_last_error());
        if (with_res) SC_ASSERT(sc_add(d.yn, want, res, want) == SC_OK, "%s", sc_last_error());
        SC_ASSERT(sc_bias_add_forward(d.yn / s->k, s->k, bias, want) == SC_OK, "%s", sc_last_error());
        if (relu) SC_ASSERT(sc_relu_forward(d.yn, want, want) == SC_OK, "%s", sc_last_error());
        const sc_gemm_epilogue ep = {.residual = in_place ? y : with_res ? res : NULL, .ldr = (size_t)s->k,
                                     .bias = bias, .relu = relu};
        for (int64_t i = 0; i < d.yn; i++) y[i] = in_place ? res[i] : NAN;
        SC_ASSERT(sc_conv2d_forward_ep(s, x, w, y, &ep) == SC_OK, "%s", sc_last_error());
        int64_t bad = -1;
        for (int64_t i = 0; i < d.yn && bad < 0; i++)
          if (memcmp(&y[i], &want[i], sizeof(float)) != 0) bad = i;
        SC_ASSERT(bad < 0, "isa=%s threads=%d residual=%d (2: in place) relu=%d " SHAPE_FMT ": y[%lld] = %.9g, "
                  "separate passes %.9g", k->name, threads, with_res, relu, SHAPE_ARGS(s), (long long)bad,
                  y[bad < 0 ? 0 : bad], want[bad < 0 ? 0 : bad]);
        sc_test_free(x), sc_test_free(w), sc_test_free(y), sc_test_free(want), sc_test_free(res), sc_test_free(bias);
      }
  }
  sc_gemm_model_l3(0);
}

/* Backward-weights of many pixels and few weights (outputs not in blocks of 16, so not the direct kernels), on
 * two threads: the GEMM splits its depth (the pixels) between the threads and adds their slices of dw, reading the
 * gathered im2col operand from an offset. */
SC_ISA_TEST(conv2d, split_depth_backward_weights) {
  SC_ASSERT(sc_set_num_threads(2) == SC_OK, "set threads: %s", sc_last_error());
  const sc_conv2d_shape cases[] = {shape(12, 28, 28, 1, 8, 3, 3, 1, 1), shape(11, 28, 28, 16, 24, 3, 3, 1, 1),
                                   shape(150, 14, 15, 8, 12, 3, 3, 2, 1)};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_pass(k, &cases[i], BWD_WEIGHTS, 1, 91 + i);
}

/* The gradients of L(x, w) = sum_i r_i y_i(x, w) are dL/dx = backward_data(r) and dL/dw = backward_weights(r).
 * L is linear in each input, so a central difference with a large step h is exact but for the rounding of the
 * fp32 forward pass (the sum over outputs is done in double). Each y_i is off by at most gamma_{depth+2} times
 * the sum of |terms| <= depth * 1.5 (|x + h| <= 1.5, |w| <= 1); with |r| <= 1, each loss is off by at most
 * yn * (depth+2) * depth * 1.5 * 2^-24, twice that over the difference, divided by 2h = 1. fd_tolerance() is this
 * bound (about 6e-3 for the largest case); a missing or misplaced term changes a gradient by |r w| ~ 0.25 on
 * average, which exceeds it. */
static double fd_tolerance(const sc_conv2d_shape *s) {
  dims d = dims_of(s);
  double depth = (double)(s->kh * s->kw * (s->c > s->k ? s->c : s->k));
  return 2.0 * (double)d.yn * (depth + 2) * depth * 1.5 * (FLT_EPSILON / 2) + 1e-6;
}

static double loss(const sc_conv2d_shape *s, const float *x, const float *w, const float *rr, float *y) {
  dims d = dims_of(s);
  SC_ASSERT(sc_conv2d_forward(s, x, w, y) == SC_OK, "forward " SHAPE_FMT ": %s", SHAPE_ARGS(s), sc_last_error());
  double l = 0;
  for (int64_t i = 0; i < d.yn; i++) l += (double)y[i] * rr[i];
  return l;
}

SC_ISA_TEST(conv2d, finite_differences) {
  const sc_conv2d_shape cases[] = {shape(2, 5, 4, 3, 2, 3, 3, 2, 1), shape(1, 6, 5, 2, 3, 3, 2, 1, 2),
                                   shape(1, 7, 7, 2, 2, 5, 3, 3, 0), shape(2, 3, 3, 4, 1, 1, 1, 1, 0)};
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const sc_conv2d_shape *s = &cases[ci];
    dims d = dims_of(s);
    sc_test_rng r = {300 + ci};
    float *x = sc_test_alloc((size_t)d.xn, 0), *w = sc_test_alloc((size_t)d.wn, 0);
    float *y = sc_test_alloc((size_t)d.yn, 0), *rr = sc_test_alloc((size_t)d.yn, 0);
    float *dx = sc_test_alloc((size_t)d.xn, 0), *dw = sc_test_alloc((size_t)d.wn, 0);
    sc_test_fill(&r, x, (size_t)d.xn, -1, 1);
    sc_test_fill(&r, w, (size_t)d.wn, -1, 1);
    sc_test_fill(&r, rr, (size_t)d.yn, -1, 1);
    memset(dx, 0, sizeof(float) * (size_t)d.xn);
    memset(dw, 0, sizeof(float) * (size_t)d.wn);
    SC_ASSERT(sc_conv2d_backward_data(s, dx, SC_GRAD_ADD, rr, w) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_conv2d_backward_weights(s, dw, rr, x) == SC_OK, "%s", sc_last_error());
    const float h = 0.5f;
    for (int which = 0; which < 2; which++) {
      float *v = which ? w : x, *g = which ? dw : dx;
      int64_t cnt = which ? d.wn : d.xn;
      for (int64_t i = 0; i < cnt; i++) {
        float keep = v[i];
        v[i] = keep + h;
        double lp = loss(s, x, w, rr, y);
        v[i] = keep - h;
        double lm = loss(s, x, w, rr, y);
        v[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        SC_ASSERT(fabs(fd - g[i]) <= fd_tolerance(s),
                  "isa=%s " SHAPE_FMT ": d loss / d %s[%lld] = %.7g by differences, %.7g by %s", k->name,
                  SHAPE_ARGS(s), which ? "w" : "x", (long long)i, fd, g[i],
                  which ? "backward_weights" : "backward_data");
      }
    }
    sc_test_free(x), sc_test_free(w), sc_test_free(y), sc_test_free(rr), sc_test_free(dx), sc_test_free(dw);
  }
}

/* Calling a backward pass twice adds twice: the second call must not see (or clear) the first one's result. */
SC_ISA_TEST(conv2d, backward_accumulates) {
  const sc_conv2d_shape s = shape(2, 9, 9, 5, 6, 3, 3, 2, 1);
  dims d = dims_of(&s);
  sc_test_rng r = {99};
  float *x = sc_test_alloc((size_t)d.xn, 0), *w = sc_test_alloc((size_t)d.wn, 0), *dy = sc_test_alloc((size_t)d.yn, 0);
  float *dx = sc_test_alloc((size_t)d.xn, 0), *dw = sc_test_alloc((size_t)d.wn, 0);
  float *dx1 = sc_test_alloc((size_t)d.xn, 0), *dw1 = sc_test_alloc((size_t)d.wn, 0);
  sc_test_fill_int(&r, x, (size_t)d.xn, 3);
  sc_test_fill_int(&r, w, (size_t)d.wn, 3);
  sc_test_fill_int(&r, dy, (size_t)d.yn, 3);
  memset(dx, 0, sizeof(float) * (size_t)d.xn);
  memset(dw, 0, sizeof(float) * (size_t)d.wn);
  SC_ASSERT(sc_conv2d_backward_data(&s, dx, SC_GRAD_ADD, dy, w) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(sc_conv2d_backward_weights(&s, dw, dy, x) == SC_OK, "%s", sc_last_error());
  memcpy(dx1, dx, sizeof(float) * (size_t)d.xn);
  memcpy(dw1, dw, sizeof(float) * (size_t)d.wn);
  SC_ASSERT(sc_conv2d_backward_data(&s, dx, SC_GRAD_ADD, dy, w) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(sc_conv2d_backward_weights(&s, dw, dy, x) == SC_OK, "%s", sc_last_error());
  int nonzero = 0;
  for (int64_t i = 0; i < d.xn; i++) {
    SC_ASSERT(dx[i] == 2 * dx1[i], "isa=%s " SHAPE_FMT ": dx[%lld] = %g after two calls, %g after one", k->name,
              SHAPE_ARGS(&s), (long long)i, dx[i], dx1[i]);
    nonzero += dx1[i] != 0;
  }
  for (int64_t i = 0; i < d.wn; i++) {
    SC_ASSERT(dw[i] == 2 * dw1[i], "isa=%s " SHAPE_FMT ": dw[%lld] = %g after two calls, %g after one", k->name,
              SHAPE_ARGS(&s), (long long)i, dw[i], dw1[i]);
    nonzero += dw1[i] != 0;
  }
  SC_ASSERT(nonzero > 0, "isa=%s: the gradients are all zero, the test checks nothing", k->name);
  sc_test_free(x), sc_test_free(w), sc_test_free(dy), sc_test_free(dx), sc_test_free(dw), sc_test_free(dx1),
      sc_test_free(dw1);
}

SC_TEST(conv2d, out_size) {
  int64_t oh = -1, ow = -1;
  sc_conv2d_shape s = shape(1, 32, 31, 3, 8, 7, 7, 2, 3);
  SC_ASSERT(sc_conv2d_out_size(&s, &oh, &ow) == SC_OK && oh == 16 && ow == 16, "7x7/2 pad 3 on 32x31: %lldx%lld",
            (long long)oh, (long long)ow);
  s = shape(1, 5, 5, 1, 1, 3, 3, 3, 0);
  SC_ASSERT(sc_conv2d_out_size(&s, &oh, &ow) == SC_OK && oh == 1 && ow == 1, "3x3/3 on 5x5: %lldx%lld",
            (long long)oh, (long long)ow);
  s = shape(1, 1, 1, 1, 1, 3, 3, 1, 1);
  SC_ASSERT(sc_conv2d_out_size(&s, &oh, &ow) == SC_OK && oh == 1 && ow == 1, "3x3 pad 1 on 1x1: %lldx%lld",
            (long long)oh, (long long)ow);
}

SC_TEST(conv2d, rejects_bad_arguments) {
  float x[64], w[64], y[64];
  const float canary = 12345.0f;
  for (int i = 0; i < 64; i++) x[i] = w[i] = y[i] = canary;
  const sc_conv2d_shape good = shape(1, 3, 3, 2, 2, 3, 3, 1, 1);
  SC_ASSERT(sc_conv2d_forward(&good, x, w, y) == SC_OK, "good shape rejected: %s", sc_last_error());
  for (int i = 0; i < 64; i++) x[i] = w[i] = y[i] = canary;
  sc_conv2d_shape bad[12];
  int nb = 0;
  bad[nb] = good, bad[nb++].n = -1;
  bad[nb] = good, bad[nb++].c = -2;
  bad[nb] = good, bad[nb++].h = 0;
  bad[nb] = good, bad[nb++].kw = 0;
  bad[nb] = good, bad[nb++].stride_h = 0;
  bad[nb] = good, bad[nb++].stride_w = -1;
  bad[nb] = good, bad[nb++].pad_w = -1;
  bad[nb++] = shape(1, 3, 3, 2, 2, 5, 5, 1, 0);          /* kernel larger than the padded input */
  bad[nb] = shape(1, 3, 3, 2, 2, 3, 3, 1, 1), bad[nb++].kw = 6; /* 6 > 3 + 2 */
  bad[nb++] = shape(INT64_MAX / 4, 3, 3, 2, 2, 3, 3, 1, 1); /* dimension beyond 2^31 */
  bad[nb++] = shape(1 << 30, 1 << 30, 1 << 30, 2, 2, 3, 3, 1, 1); /* product overflows */
  bad[nb++] = shape(1, INT64_MAX / 2, 3, 2, 2, 3, 3, 1, 1);
  for (int i = 0; i < nb; i++) {
    int64_t oh, ow;
    SC_ASSERT(sc_conv2d_out_size(&bad[i], &oh, &ow) == SC_EINVAL, "out_size accepted bad shape %d: " SHAPE_FMT, i,
              SHAPE_ARGS(&bad[i]));
    SC_ASSERT(sc_conv2d_forward(&bad[i], x, w, y) == SC_EINVAL, "forward accepted bad shape %d", i);
    SC_ASSERT(sc_conv2d_backward_data(&bad[i], x, SC_GRAD_ADD, y, w) == SC_EINVAL,
              "backward_data accepted bad shape %d", i);
    SC_ASSERT(sc_conv2d_backward_weights(&bad[i], w, y, x) == SC_EINVAL, "backward_weights accepted bad shape %d", i);
  }
  int64_t oh, ow;
  SC_ASSERT(sc_conv2d_out_size(NULL, &oh, &ow) == SC_EINVAL, "null shape");
  SC_ASSERT(sc_conv2d_out_size(&good, NULL, &ow) == SC_EINVAL, "null oh");
  SC_ASSERT(sc_conv2d_forward(NULL, x, w, y) == SC_EINVAL, "forward: null shape");
  SC_ASSERT(sc_conv2d_forward(&good, NULL, w, y) == SC_EINVAL, "forward: null x");
  SC_ASSERT(sc_conv2d_forward(&good, x, NULL, y) == SC_EINVAL, "forward: null w");
  SC_ASSERT(sc_conv2d_forward(&good, x, w, NULL) == SC_EINVAL, "forward: null y");
  SC_ASSERT(sc_conv2d_backward_data(&good, NULL, SC_GRAD_ADD, y, w) == SC_EINVAL, "backward_data: null dx");
  SC_ASSERT(sc_conv2d_backward_data(&good, x, SC_GRAD_ADD, NULL, w) == SC_EINVAL, "backward_data: null dy");
  SC_ASSERT(sc_conv2d_backward_data(&good, x, SC_GRAD_ADD, y, NULL) == SC_EINVAL, "backward_data: null w");
  SC_ASSERT(sc_conv2d_backward_data(&good, x, (sc_grad_write)2, y, w) == SC_EINVAL, "backward_data: write mode 2");
  SC_ASSERT(sc_conv2d_backward_weights(&good, NULL, y, x) == SC_EINVAL, "backward_weights: null dw");
  SC_ASSERT(sc_conv2d_backward_weights(&good, w, NULL, x) == SC_EINVAL, "backward_weights: null dy");
  SC_ASSERT(sc_conv2d_backward_weights(&good, w, y, NULL) == SC_EINVAL, "backward_weights: null x");
  for (int i = 0; i < 64; i++)
    SC_ASSERT(x[i] == canary && w[i] == canary && y[i] == canary, "a rejected call wrote element %d", i);
}

/* Empty tensors are valid: a zero batch or zero output channels does nothing, zero input channels gives y = 0. */
SC_TEST(conv2d, empty_tensors) {
  float y[8], dw[8];
  for (int i = 0; i < 8; i++) y[i] = NAN, dw[i] = 5.0f;
  sc_conv2d_shape s = shape(1, 2, 2, 0, 2, 1, 1, 1, 0);
  SC_ASSERT(sc_conv2d_forward(&s, NULL, NULL, y) == SC_OK, "c=0: %s", sc_last_error());
  for (int i = 0; i < 8; i++) SC_ASSERT(y[i] == 0.0f, "c=0: y[%d] = %g, want 0", i, y[i]);
  s = shape(0, 2, 2, 2, 2, 1, 1, 1, 0);
  SC_ASSERT(sc_conv2d_forward(&s, NULL, NULL, NULL) == SC_OK, "n=0: %s", sc_last_error());
  SC_ASSERT(sc_conv2d_backward_weights(&s, dw, NULL, NULL) == SC_OK, "n=0: %s", sc_last_error());
  for (int i = 0; i < 4; i++) SC_ASSERT(dw[i] == 5.0f, "n=0: dw[%d] changed to %g", i, dw[i]);
}
