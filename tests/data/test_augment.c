/* test_augment.c: the SimCLR view transforms (src/data/augment.c). Statistics over many draws are checked within
 * 6 standard errors (fixed seeds, so failures reproduce): crop area and aspect ratio, flip, jitter, grayscale and
 * blur rates, jitter order. Exact checks: the evaluation transform of a same-size image is the identity (pixel /
 * 255, within 1e-6), a flipped view is the mirror of the unflipped one, constant images stay constant through
 * resize and blur (weights sum to 1; 1e-6), grayscale makes r = g = b, outputs stay in [0,1], the same key gives
 * the same bytes and different views differ, and every ISA matches the scalar table within 1e-5 (FMA rounding
 * through a few chained steps). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/augment.h"
#include "datautil.h"
#include "test.h"

static sc_image test_image(int w, int h, int c, int seed) {
  return (sc_image){.w = w, .h = h, .c = c, .px = tu_picture(w, h, c, seed)};
}

#define SIGMA6(p, n) (6.0 * sqrt((p) * (1.0 - (p)) / (n)))

SC_TEST(augment, draw_statistics) {
  const int n = 20000, W = 400, H = 400;
  sc_augment_options o = sc_augment_defaults(224, 3, -1);
  int flips = 0, jit = 0, gray = 0, blur = 0, fallback = 0, first[4] = {0}, small = 0;
  double area_sum = 0, lr_sum = 0;
  for (int i = 0; i < n; i++) {
    sc_rng r;
    sc_rng_init_data(&r, 5, 0, (uint64_t)i, 0);
    sc_view_params p;
    sc_augment_draw(&o, SC_VIEW_PRETRAIN, W, H, &r, &p);
    SC_ASSERT(p.crop_x >= 0 && p.crop_y >= 0 && p.crop_x + p.crop_w <= W && p.crop_y + p.crop_h <= H && p.crop_w >= 1 &&
                  p.crop_h >= 1,
              "seed 5 sample %d: crop %g,%g %gx%g outside %dx%d", i, p.crop_x, p.crop_y, p.crop_w, p.crop_h, W, H);
    double a = (double)p.crop_w * p.crop_h / (W * H), ratio = (double)p.crop_w / p.crop_h;
    fallback += p.crop_fallback;
    if (!p.crop_fallback) {
      /* integer rounding of each side moves the area by at most ~2 px of side and the ratio likewise */
      SC_ASSERT(a >= 0.08 * 0.97 && a <= 1.0, "sample %d: area fraction %g", i, a);
      SC_ASSERT(ratio >= 0.75 * 0.97 && ratio <= 4.0 / 3.0 * 1.03, "sample %d: aspect %g", i, ratio);
      lr_sum += log(ratio);
      if (a <= 0.74) small++, area_sum += a; /* below 0.75 no try is ever rejected on a square: U(0.08, 0.75) */
    }
    flips += p.flip, jit += p.jitter, gray += p.gray, blur += p.blur, first[p.order[0]]++;
    int seen = 0;
    for (int k = 0; k < 4; k++) seen |= 1 << p.order[k];
    SC_ASSERT(seen == 15, "sample %d: jitter order is not a permutation", i);
    SC_ASSERT(!p.jitter || (p.bright_f >= 0.2f && p.bright_f <= 1.8f && p.hue_d >= -0.2f && p.hue_d <= 0.2f),
              "sample %d: factors %g %g", i, p.bright_f, p.hue_d);
    SC_ASSERT(!p.blur || (p.sigma >= 0.1f && p.sigma <= 2.0f), "sample %d: sigma %g", i, p.sigma);
  }
  SC_ASSERT(fallback < n / 100, "%d of %d crops fell back to the centre crop", fallback, n);
  double am = area_sum / small, se = (0.74 - 0.08) / sqrt(12.0 * small);
  SC_ASSERT(fabs(am - (0.08 + 0.74) / 2) < 6 * se + 0.003, "mean area fraction below 0.74: %g, want %g", am, 0.41);
  SC_ASSERT(fabs(lr_sum / (n - fallback)) < 6 * (log(4.0 / 3) / sqrt(3.0 * n)) + 0.002, "mean log aspect %g, want 0",
            lr_sum / (n - fallback));
  SC_ASSERT(fabs(flips / (double)n - 0.5) < SIGMA6(0.5, n), "flip rate %g", flips / (double)n);
  SC_ASSERT(fabs(jit / (double)n - 0.8) < SIGMA6(0.8, n), "jitter rate %g", jit / (double)n);
  SC_ASSERT(fabs(gray / (double)n - 0.2) < SIGMA6(0.2, n), "grayscale rate %g", gray / (double)n);
  SC_ASSERT(fabs(blur / (double)n - 0.5) < SIGMA6(0.5, n), "blur rate %g", blur / (double)n);
  for (int k = 0; k < 4; k++)
    SC_ASSERT(fabs(first[k] / (double)n - 0.25) < SIGMA6(0.25, n), "jitter op %d first in %d of %d", k, first[k], n);
  /* CIFAR-size defaults: strength 0.5, no blur */
  o = sc_augment_defaults(32, 3, -1);
  SC_ASSERT(o.blur_p == 0.0f && fabsf(o.brightness - 0.4f) < 1e-6f && fabsf(o.hue - 0.1f) < 1e-6f,
            "32 px defaults: blur_p %g brightness %g hue %g", o.blur_p, o.brightness, o.hue);
}

SC_TEST(augment, fallback_is_centre_crop) {
  sc_augment_options o = sc_augment_defaults(32, 3, -1);
  o.crop_tries = 0; /* straight to the fallback */
  sc_rng r;
  sc_rng_init_data(&r, 1, 0, 0, 0);
  sc_view_params p;
  sc_augment_draw(&o, SC_VIEW_PRETRAIN, 300, 100, &r, &p); /* ratio 3 > 4/3: height kept, width 133 */
  SC_ASSERT(p.crop_fallback && p.crop_h == 100 && p.crop_w == 133 && p.crop_x == 83 && p.crop_y == 0,
            "300x100 fallback: %g,%g %gx%g", p.crop_x, p.crop_y, p.crop_w, p.crop_h);
}

SC_TEST(augment, eval_identity_flip_mirror_constant) {
  sc_augment_options o = sc_augment_defaults(32, 3, -1);
  sc_image im = test_image(32, 32, 3, 1);
  sc_augment_scratch s = {0};
  float a[32 * 32 * 3], b[32 * 32 * 3];
  sc_rng r;
  sc_rng_init_data(&r, 1, 0, 0, 0);
  for (int interp = 0; interp < 2; interp++) {
    o.interp = (sc_interp)interp;
    SC_ASSERT(sc_augment_view(&o, SC_VIEW_EVAL, &im, &r, &s, a, NULL) == SC_OK, "%s", sc_last_error());
    for (int i = 0; i < 32 * 32 * 3; i++)
      SC_ASSERT(fabsf(a[i] - im.px[i] / 255.0f) < 1e-6f, "interp %d: eval of a 32x32 image at 32: [%d] %g, want %g",
                interp, i, a[i], im.px[i] / 255.0f);
  }
  /* flip: mirror image of the same crop */
  sc_view_params p = {.crop_x = 3, .crop_y = 2, .crop_w = 20, .crop_h = 25, .flip = 0};
  SC_ASSERT(sc_augment_apply(&o, &p, &im, &s, a) == SC_OK, "%s", sc_last_error());
  p.flip = 1;
  SC_ASSERT(sc_augment_apply(&o, &p, &im, &s, b) == SC_OK, "%s", sc_last_error());
  for (int y = 0; y < 32; y++)
    for (int x = 0; x < 32; x++)
      for (int c = 0; c < 3; c++)
        SC_ASSERT(a[(y * 32 + x) * 3 + c] == b[(y * 32 + 31 - x) * 3 + c], "flip at (%d,%d,%d)", x, y, c);
  /* constant image: resize (down and up, both filters) and blur keep it constant */
  sc_image flat = {.w = 97, .h = 61, .c = 3, .px = malloc(97 * 61 * 3)};
  memset(flat.px, 153, 97 * 61 * 3);
  o = sc_augment_defaults(64, 3, -1);
  float *out = malloc(sizeof(float) * 64 * 64 * 3);
  const float boxes[3][4] = {{0, 0, 97, 61}, {10, 5, 7, 9}, {50, 40, 47, 21}};
  for (int bx = 0; bx < 3; bx++)
    for (int interp = 0; interp < 2; interp++) {
      o.interp = (sc_interp)interp;
      sc_view_params q = {.crop_x = boxes[bx][0],
                          .crop_y = boxes[bx][1],
                          .crop_w = boxes[bx][2],
                          .crop_h = boxes[bx][3],
                          .blur = 1,
                          .sigma = 1.7f};
      SC_ASSERT(sc_augment_apply(&o, &q, &flat, &s, out) == SC_OK, "%s", sc_last_error());
      for (int i = 0; i < 64 * 64 * 3; i++)
        SC_ASSERT(fabsf(out[i] - 0.6f) < 1e-6f, "constant 0.6 image, box %d interp %d: [%d] = %.8f", bx, interp, i,
                  out[i]);
    }
  free(out), free(flat.px), free(im.px);
  sc_augment_scratch_free(&s);
}

SC_TEST(augment, outputs_in_range_grayscale_determinism) {
  sc_image im = test_image(96, 80, 3, 2), g1 = test_image(40, 40, 1, 3);
  sc_augment_options o = sc_augment_defaults(64, 3, -1), o1 = sc_augment_defaults(48, 1, -1);
  sc_augment_scratch s = {0};
  float *a = malloc(sizeof(float) * 64 * 64 * 3), *b = malloc(sizeof(float) * 64 * 64 * 3);
  int differ = 0;
  for (int i = 0; i < 200; i++) {
    o.interp = (sc_interp)(i % 2);
    sc_rng r;
    sc_view_params p;
    sc_rng_init_data(&r, 9, 3, (uint64_t)i, 0);
    SC_ASSERT(sc_augment_view(&o, SC_VIEW_PRETRAIN, &im, &r, &s, a, &p) == SC_OK, "%s", sc_last_error());
    for (int q = 0; q < 64 * 64 * 3; q++)
      SC_ASSERT(a[q] >= 0.0f && a[q] <= 1.0f, "seed 9 epoch 3 sample %d view 0: out[%d] = %g", i, q, a[q]);
    if (p.gray)
      for (int q = 0; q < 64 * 64; q++)
        SC_ASSERT(a[3 * q] == a[3 * q + 1] && a[3 * q] == a[3 * q + 2], "sample %d grayscale pixel %d not gray", i, q);
    sc_rng_init_data(&r, 9, 3, (uint64_t)i, 0);
    SC_ASSERT(sc_augment_view(&o, SC_VIEW_PRETRAIN, &im, &r, &s, b, NULL) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(!memcmp(a, b, sizeof(float) * 64 * 64 * 3), "sample %d: the same key gave different bytes", i);
    sc_rng_init_data(&r, 9, 3, (uint64_t)i, 1);
    SC_ASSERT(sc_augment_view(&o, SC_VIEW_PRETRAIN, &im, &r, &s, b, NULL) == SC_OK, "%s", sc_last_error());
    differ += memcmp(a, b, sizeof(float) * 64 * 64 * 3) != 0;
    /* 1 channel: everything still in range */
    SC_ASSERT(sc_augment_view(&o1, SC_VIEW_PRETRAIN, &g1, &r, &s, a, NULL) == SC_OK, "%s", sc_last_error());
    for (int q = 0; q < 48 * 48; q++)
      SC_ASSERT(a[q] >= 0.0f && a[q] <= 1.0f, "1-channel sample %d: out[%d] = %g", i, q, a[q]);
  }
  SC_ASSERT(differ == 200, "views 0 and 1 were identical for %d of 200 samples", 200 - differ);
  /* normalisation */
  o.normalize = 1;
  o.mean[0] = 0.5f, o.mean[1] = 0.25f, o.mean[2] = 0.0f, o.std[0] = 0.5f, o.std[1] = 2.0f, o.std[2] = 1.0f;
  sc_rng r;
  sc_rng_init_data(&r, 1, 0, 0, 0);
  SC_ASSERT(sc_augment_view(&o, SC_VIEW_EVAL, &im, &r, &s, a, NULL) == SC_OK, "%s", sc_last_error());
  o.normalize = 0;
  SC_ASSERT(sc_augment_view(&o, SC_VIEW_EVAL, &im, &r, &s, b, NULL) == SC_OK, "%s", sc_last_error());
  for (int q = 0; q < 64 * 64 * 3; q++)
    SC_ASSERT(fabsf(a[q] - (b[q] - o.mean[q % 3]) / o.std[q % 3]) < 1e-6f, "normalised [%d] = %g", q, a[q]);
  o.normalize = 1, o.std[1] = 0;
  SC_ASSERT(sc_augment_check(&o) == SC_EINVAL && strstr(sc_last_error(), "std[1]"), "std 0 accepted");
  free(a), free(b), free(im.px), free(g1.px);
  sc_augment_scratch_free(&s);
}

SC_ISA_TEST(augment, views_match_scalar) {
  sc_image im = test_image(150, 110, 3, 4);
  sc_augment_options o = sc_augment_defaults(72, 3, -1);
  sc_augment_scratch s = {0};
  const size_t n = 72 * 72 * 3;
  float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
  for (int i = 0; i < 40; i++) {
    o.interp = (sc_interp)(i % 2);
    sc_rng r;
    sc_view_params p;
    sc_rng_init_data(&r, 77, 0, (uint64_t)i, 0);
    sc_augment_draw(&o, SC_VIEW_PRETRAIN, im.w, im.h, &r, &p);
    p.jitter = 1, p.blur = i % 3 == 0, p.sigma = 1.3f; /* exercise every kernel */
    SC_ASSERT(sc_set_max_isa(SC_ISA_SCALAR) == SC_OK, "scalar");
    SC_ASSERT(sc_augment_apply(&o, &p, &im, &s, a) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(sc_set_max_isa(k->isa) == SC_OK, "isa");
    SC_ASSERT(sc_augment_apply(&o, &p, &im, &s, b) == SC_OK, "%s", sc_last_error());
    for (size_t q = 0; q < n; q++)
      SC_ASSERT(fabsf(a[q] - b[q]) < 1e-5f, "isa=%s seed 77 sample %d: out[%zu] = %.7f, scalar %.7f", k->name, i, q,
                b[q], a[q]);
  }
  free(a), free(b), free(im.px);
  sc_augment_scratch_free(&s);
}
