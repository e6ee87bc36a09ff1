/* test_image_ukr.c: every image kernel of every ISA against its scalar twin (arch/scalar), over lengths that
 * hit each vector width's body and tail (0, 1, 7..9, 15..17, 31..33, 100, 1000) and tap counts from 1 to 23.
 * The weighted sums use dyadic data (integers, multiples of 1/256, weights in eighths) so every product and sum
 * is exact in fp32: vector results must equal the scalar ones bit for bit whatever the FMA contraction. The
 * colour kernels involve 0.299-style constants and divisions; there the tolerance is 1e-6 (a few ulps of 1.0,
 * the largest value) for luma and saturation and 1e-5 for hue, whose division and floor add a few roundings.
 * Plus properties of the hue rotation that catch a wrong formula in the scalar reference itself. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "testutil.h"

static const size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000};
enum { NLENS = sizeof lens / sizeof lens[0] };
static const int tapsv[] = {1, 2, 3, 4, 5, 7, 23};
enum { NTAPS = sizeof tapsv / sizeof tapsv[0] };

static float dyadic(sc_test_rng *r) { return (float)sc_test_int(r, 0, 256) / 256.0f; }
static float eighth(sc_test_rng *r) { return (float)sc_test_int(r, -8, 8) / 8.0f; }

SC_ISA_TEST(image_kernels, u8_and_f32_rows_wsum) {
  const sc_image_config *ref = sc_kernels_scalar.image, *ik = k->image;
  sc_test_rng r = {11};
  for (int ti = 0; ti < NTAPS; ti++)
    for (int li = 0; li < NLENS; li++) {
      int T = tapsv[ti];
      size_t n = lens[li];
      uint8_t *u[23];
      float *f[23], w[23];
      for (int t = 0; t < T; t++) {
        u[t] = malloc(n + 1), f[t] = sc_test_alloc(n + 1, (size_t)t % 3);
        for (size_t i = 0; i < n; i++) u[t][i] = (uint8_t)sc_test_int(&r, 0, 255), f[t][i] = dyadic(&r);
        w[t] = eighth(&r);
      }
      float *a = sc_test_alloc(n + 1, 1), *b = sc_test_alloc(n + 1, 2);
      ref->u8_rows_wsum((const uint8_t *const *)u, w, T, n, a);
      ik->u8_rows_wsum((const uint8_t *const *)u, w, T, n, b);
      for (size_t i = 0; i < n; i++)
        SC_ASSERT(a[i] == b[i], "u8_rows_wsum isa=%s taps=%d n=%zu: out[%zu] = %g, scalar %g", k->name, T, n, i, b[i],
                  a[i]);
      ref->f32_rows_wsum((const float *const *)f, w, T, n, a);
      ik->f32_rows_wsum((const float *const *)f, w, T, n, b);
      for (size_t i = 0; i < n; i++)
        SC_ASSERT(a[i] == b[i], "f32_rows_wsum isa=%s taps=%d n=%zu: out[%zu] = %g, scalar %g", k->name, T, n, i, b[i],
                  a[i]);
      for (int t = 0; t < T; t++) free(u[t]), sc_test_free(f[t]);
      sc_test_free(a), sc_test_free(b);
    }
}

SC_ISA_TEST(image_kernels, gather_wsum_and_hconv) {
  const sc_image_config *ref = sc_kernels_scalar.image, *ik = k->image;
  sc_test_rng r = {12};
  for (int ti = 0; ti < NTAPS; ti++)
    for (int li = 0; li < NLENS; li++) {
      int T = tapsv[ti];
      size_t n = lens[li], stride = (size_t)1 + (size_t)(li % 3), srcn = n + (size_t)T * stride + 5;
      float *src = sc_test_alloc(srcn, 3), w[23];
      for (size_t i = 0; i < srcn; i++) src[i] = dyadic(&r);
      int32_t *idx = malloc(sizeof *idx * (n * T + 1));
      float *wt = malloc(sizeof *wt * (n * T + 1));
      for (size_t e = 0; e < n * T; e++) idx[e] = (int32_t)sc_test_int(&r, 0, (int64_t)srcn - 1), wt[e] = eighth(&r);
      for (int t = 0; t < T; t++) w[t] = eighth(&r);
      float *a = sc_test_alloc(n + 1, 0), *b = sc_test_alloc(n + 1, 1);
      ref->f32_gather_wsum(src, idx, wt, T, n, a);
      ik->f32_gather_wsum(src, idx, wt, T, n, b);
      for (size_t i = 0; i < n; i++) {
        SC_ASSERT(a[i] == b[i], "gather_wsum isa=%s taps=%d n=%zu: out[%zu] = %g, scalar %g", k->name, T, n, i, b[i],
                  a[i]);
        SC_ASSERT(a[i] >= 0.0f && a[i] <= 1.0f, "gather_wsum scalar taps=%d n=%zu: out[%zu] = %g not clamped", T, n, i,
                  a[i]);
      }
      ref->f32_hconv(src, w, T, stride, n, a);
      ik->f32_hconv(src, w, T, stride, n, b);
      for (size_t i = 0; i < n; i++)
        SC_ASSERT(a[i] == b[i], "hconv isa=%s taps=%d stride=%zu n=%zu: out[%zu] = %g, scalar %g", k->name, T, stride,
                  n, i, b[i], a[i]);
      sc_test_free(src), free(idx), free(wt), sc_test_free(a), sc_test_free(b);
    }
}

SC_ISA_TEST(image_kernels, colour) {
  const sc_image_config *ref = sc_kernels_scalar.image, *ik = k->image;
  sc_test_rng r = {13};
  for (int li = 0; li < NLENS; li++) {
    size_t np = lens[li], n = 3 * np;
    float *x = sc_test_alloc(n + 1, 1), *a = sc_test_alloc(n + 1, 2), *b = sc_test_alloc(n + 1, 3);
    for (size_t i = 0; i < n; i++) x[i] = dyadic(&r);
    /* some gray pixels and exact ties between channels, where the hue formula must pick the same sector */
    for (size_t p = 0; p + 3 < np; p += 5) x[3 * p + 1] = x[3 * p], x[3 * p + 5] = x[3 * p + 3] = x[3 * p + 4];
    const float as[] = {0.0f, 0.5f, 1.0f, 1.75f}, bs[] = {0.0f, -0.25f, 0.125f, 0.5f};
    for (int c = 0; c < 4; c++) {
      memcpy(a, x, n * 4), memcpy(b, x, n * 4);
      ref->f32_affine_clamp(a, n, as[c], bs[c]);
      ik->f32_affine_clamp(b, n, as[c], bs[c]);
      for (size_t i = 0; i < n; i++)
        SC_ASSERT(a[i] == b[i], "affine_clamp isa=%s n=%zu a=%g b=%g: [%zu] %g vs %g", k->name, n, as[c], bs[c], i,
                  b[i], a[i]);
    }
    ref->f32_rgb_to_gray(x, np, a);
    ik->f32_rgb_to_gray(x, np, b);
    for (size_t i = 0; i < np; i++)
      SC_ASSERT(fabsf(a[i] - b[i]) <= 1e-6f, "rgb_to_gray isa=%s npix=%zu: [%zu] %.9g vs %.9g", k->name, np, i, b[i],
                a[i]);
    const float fs[] = {0.0f, 0.3f, 1.0f, 1.8f};
    for (int c = 0; c < 4; c++) {
      memcpy(a, x, n * 4), memcpy(b, x, n * 4);
      ref->f32_rgb_blend_gray(a, np, fs[c]);
      ik->f32_rgb_blend_gray(b, np, fs[c]);
      for (size_t i = 0; i < n; i++)
        SC_ASSERT(fabsf(a[i] - b[i]) <= 1e-6f, "rgb_blend_gray isa=%s npix=%zu f=%g: [%zu] %.9g vs %.9g", k->name, np,
                  fs[c], i, b[i], a[i]);
    }
    const float ds[] = {0.0f, 0.1f, -0.2f, 0.5f, -0.5f, 0.3333f};
    for (int c = 0; c < 6; c++) {
      memcpy(a, x, n * 4), memcpy(b, x, n * 4);
      ref->f32_rgb_hue_shift(a, np, ds[c]);
      ik->f32_rgb_hue_shift(b, np, ds[c]);
      for (size_t i = 0; i < n; i++)
        SC_ASSERT(fabsf(a[i] - b[i]) <= 1e-5f,
                  "rgb_hue_shift isa=%s npix=%zu delta=%g: [%zu] %.9g vs %.9g (pixel %g %g %g)", k->name, np, ds[c], i,
                  b[i], a[i], x[i / 3 * 3], x[i / 3 * 3 + 1], x[i / 3 * 3 + 2]);
    }
    sc_test_free(x), sc_test_free(a), sc_test_free(b);
  }
}

SC_ISA_TEST(image_kernels, hue_rotation_properties) {
  float px[3 * 20];
  /* red rotated by a third of a turn is green, by two thirds blue */
  float red[6] = {1, 0, 0, 0.8f, 0.2f, 0.2f};
  k->image->f32_rgb_hue_shift(red, 2, 1.0f / 3.0f);
  SC_ASSERT(fabsf(red[0]) < 1e-5f && fabsf(red[1] - 1) < 1e-5f && fabsf(red[2]) < 1e-5f, "isa=%s: red +1/3 = %g %g %g",
            k->name, red[0], red[1], red[2]);
  SC_ASSERT(fabsf(red[3] - 0.2f) < 1e-5f && fabsf(red[4] - 0.8f) < 1e-5f && fabsf(red[5] - 0.2f) < 1e-5f,
            "isa=%s: pink +1/3 = %g %g %g", k->name, red[3], red[4], red[5]);
  /* a rotation and its inverse give back the pixel; max, min (so value and chroma) are kept */
  sc_test_rng r = {14};
  for (int it = 0; it < 50; it++) {
    for (int i = 0; i < 60; i++) px[i] = sc_test_uniform(&r, 0, 1);
    float orig[60], d = sc_test_uniform(&r, -0.5f, 0.5f);
    memcpy(orig, px, sizeof px);
    k->image->f32_rgb_hue_shift(px, 20, d);
    for (int p = 0; p < 20; p++) {
      float *q = px + 3 * p, *o = orig + 3 * p;
      float mx0 = fmaxf(o[0], fmaxf(o[1], o[2])), mx1 = fmaxf(q[0], fmaxf(q[1], q[2]));
      float mn0 = fminf(o[0], fminf(o[1], o[2])), mn1 = fminf(q[0], fminf(q[1], q[2]));
      SC_ASSERT(fabsf(mx0 - mx1) < 1e-5f && fabsf(mn0 - mn1) < 1e-5f, "isa=%s it=%d delta=%g pixel %d: range changed",
                k->name, it, d, p);
    }
    k->image->f32_rgb_hue_shift(px, 20, -d);
    for (int i = 0; i < 60; i++)
      SC_ASSERT(fabsf(px[i] - orig[i]) < 2e-5f, "isa=%s it=%d delta=%g: [%d] %g after round trip, was %g", k->name, it,
                d, i, px[i], orig[i]);
  }
}
