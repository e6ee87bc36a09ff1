/* test_supervised.c: the supervised step (src/train/supervised.c) on a toy task with a learnable rule: 16x16
 * images whose class (of 4) is the quadrant holding a bright square, under pixel noise. Fine-tuning the whole
 * network must drive the cross-entropy well below chance (log 4 = 1.386); training only the classifier must leave
 * every other parameter bit-identical. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "testutil.h"
#include "train/supervised.h"

enum { S = 16, B = 16 };

static void fill(sc_supervised *s, sc_test_rng *r) {
  float *x = sc_supervised_images(s);
  int32_t *y = sc_supervised_labels(s);
  for (int i = 0; i < B; i++) {
    int q = (int)sc_test_int(r, 0, 3), oy = (q / 2) * 8 + (int)sc_test_int(r, 0, 3), ox = (q % 2) * 8 +
                                                                                     (int)sc_test_int(r, 0, 3);
    y[i] = q;
    for (int p = 0; p < S * S; p++) x[i * S * S + p] = sc_test_uniform(r, -0.5f, 0.5f);
    for (int dy = 0; dy < 4; dy++)
      for (int dx = 0; dx < 4; dx++) x[i * S * S + (oy + dy) * S + ox + dx] += 2.0f;
  }
}

static sc_model *toy_model(void) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.in_channels = 1, c.image_size = S, c.head = SC_HEAD_NONE, c.classes = 4, c.seed = 2;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "model: %s", sc_last_error());
  return m;
}

SC_TEST(supervised, fine_tuning_learns_quadrants) {
  sc_model *m = toy_model();
  sc_optim_config oc = sc_optim_defaults(SC_OPTIM_SGD);
  oc.momentum = 0.9f, oc.weight_decay = 1e-4f;
  sc_supervised *s = NULL;
  SC_ASSERT(sc_supervised_create(m, B, &oc, 0, &s) == SC_OK, "create: %s", sc_last_error());
  sc_test_rng r = {21};
  enum { STEPS = 40 };
  float loss[STEPS];
  for (int t = 0; t < STEPS; t++) {
    fill(s, &r);
    SC_ASSERT(sc_supervised_step(s, 0.05f, &loss[t]) == SC_OK, "step %d: %s", t, sc_last_error());
  }
  double last = 0;
  for (int t = STEPS - 5; t < STEPS; t++) last += loss[t] / 5;
  SC_LOG("cross-entropy: first step %.4f, mean of the last 5 %.4f", loss[0], last);
  /* chance is log 4 = 1.386; a network that learned the rule is far below */
  SC_ASSERT(last < 0.7, "SGD lr 0.05 seed=21: cross-entropy %.4f after %d steps (first %.4f)", last, STEPS, loss[0]);
  sc_supervised_free(s), sc_model_free(m);
}

SC_TEST(supervised, probe_updates_only_the_classifier) {
  sc_model *m = toy_model();
  size_t np;
  float *p = sc_model_params(m, &np);
  float *before = malloc(np * sizeof(float));
  memcpy(before, p, np * sizeof(float));
  sc_optim_config oc = sc_optim_defaults(SC_OPTIM_SGD);
  sc_supervised *s = NULL;
  SC_ASSERT(sc_supervised_create(m, B, &oc, 1, &s) == SC_OK, "create: %s", sc_last_error());
  sc_test_rng r = {22};
  float loss;
  for (int t = 0; t < 3; t++) {
    fill(s, &r);
    SC_ASSERT(sc_supervised_step(s, 0.1f, &loss) == SC_OK, "step: %s", sc_last_error());
  }
  const sc_tensor_info *w = sc_model_find(m, "fc.weight");
  SC_ASSERT(memcmp(p, before, w->offset * sizeof(float)) == 0, "an encoder parameter moved during the probe");
  SC_ASSERT(memcmp(p + w->offset, before + w->offset, w->count * sizeof(float)) != 0, "fc.weight did not move");
  free(before);
  sc_supervised_free(s), sc_model_free(m);
}
