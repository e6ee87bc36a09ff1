/* test_profile.c: the step profile (src/train/profile.h) observes and does not change. Two identical small models
 * take the same SimCLR steps, one with profiling on and one with it off; their parameters must agree bit for bit
 * (the profiled walk calls the convolution's two backward operators itself), and the table must hold every kind of
 * work the step does, with the model's multiply-add count for the convolutions and nothing for data waits. */
#include <string.h>

#include "test.h"
#include "core/profile.h"
#include "train/simclr.h"

static sc_simclr *make(sc_model **m) {
  sc_model_config mc = sc_model_defaults();
  mc.width = 0.25f, mc.image_size = 8, mc.seed = 5;
  SC_ASSERT(sc_model_create(&mc, m) == SC_OK, "model: %s", sc_last_error());
  sc_simclr_config sc = sc_simclr_defaults();
  sc_simclr *s = NULL;
  SC_ASSERT(sc_simclr_create(*m, 4, &sc, &s) == SC_OK, "simclr: %s", sc_last_error());
  float *x = sc_simclr_views(s);
  for (size_t i = 0; i < 8 * 8 * 8 * 3; i++) x[i] = (float)((i * 37u) % 101u) / 101.0f - 0.5f;
  return s;
}

SC_TEST(profile, observes_without_changing_the_step) {
  SC_ASSERT(sc_init() == SC_OK, "init");
  sc_model *ma, *mb;
  sc_simclr *a = make(&ma), *b = make(&mb);
  float la, lb;
  sc_prof_reset();
  for (int step = 0; step < 2; step++) {
    sc_prof_enable(1);
    SC_ASSERT(sc_simclr_step(a, &la, NULL) == SC_OK, "profiled step: %s", sc_last_error());
    sc_prof_enable(0);
    SC_ASSERT(sc_simclr_step(b, &lb, NULL) == SC_OK, "plain step: %s", sc_last_error());
    SC_ASSERT(la == lb, "step %d: loss %.9g profiled, %.9g plain", step, la, lb);
  }
  size_t n;
  const float *pa = sc_model_params(ma, &n), *pb = sc_model_params(mb, NULL);
  SC_ASSERT(memcmp(pa, pb, n * sizeof(float)) == 0, "parameters differ after profiled steps");
  const sc_prof_entry *t = sc_prof_table();
  const sc_prof_kind seen[] = {SC_PROF_CONV_FWD, SC_PROF_CONV_BWD_DATA, SC_PROF_CONV_BWD_WEIGHTS, SC_PROF_BN_FWD,
                               SC_PROF_BN_BWD, SC_PROF_POOL, SC_PROF_HEAD_FWD,
                               SC_PROF_HEAD_BWD, SC_PROF_LOSS, SC_PROF_OPTIM, SC_PROF_ZERO_GRAD};
  for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++)
    SC_ASSERT(t[seen[i]].calls > 0, "no '%s' entries", sc_prof_name(seen[i]));
  SC_ASSERT(t[SC_PROF_DATA_WAIT].calls == 0, "data wait filled without a loader");
  /* 20 convolutions in ResNet-18, two steps; the first convolution has no backward-data */
  SC_ASSERT(t[SC_PROF_CONV_FWD].calls == 40 && t[SC_PROF_CONV_BWD_WEIGHTS].calls == 40 &&
                t[SC_PROF_CONV_BWD_DATA].calls == 38,
            "conv calls fwd %lld, bwd-weights %lld, bwd-data %lld", (long long)t[SC_PROF_CONV_FWD].calls,
            (long long)t[SC_PROF_CONV_BWD_WEIGHTS].calls, (long long)t[SC_PROF_CONV_BWD_DATA].calls);
  SC_ASSERT(t[SC_PROF_CONV_FWD].flops > 0 && t[SC_PROF_CONV_FWD].flops == t[SC_PROF_CONV_BWD_WEIGHTS].flops,
            "conv flops fwd %g, bwd-weights %g", t[SC_PROF_CONV_FWD].flops, t[SC_PROF_CONV_BWD_WEIGHTS].flops);
  sc_simclr_free(a), sc_simclr_free(b);
  sc_model_free(ma), sc_model_free(mb);
}
