/* test_optim.c: the optimisers and the learning-rate schedule against values worked out by hand (the update rules
 * written out in float64 arithmetic, the numbers pasted below) for three steps each: SGD with and without Nesterov,
 * LARS with its trust ratio, its exclusions (a bias segment: no decay, trust 1) and its fallback (a zero weight
 * norm: trust 1), AdamW with bias correction, and the schedule at warm-up start, middle and end, at the cosine
 * midpoint and at the end.
 *
 * Tolerance: the engine computes in fp32 with some products in double, so three steps differ from the float64
 * values by a few ulps of numbers of size ~4: |got - want| <= 2e-6 + 1e-5*|want|. A wrong rule (wrong order of
 * decay and momentum, trust applied to a bias, missing bias correction) moves the results by > 1e-3. */
#include <math.h>

#include "optim/optim.h"
#include "test.h"

static void expect(const float *got, const double *want, int n, const char *what, int step) {
  for (int i = 0; i < n; i++)
    SC_ASSERT(fabs(got[i] - want[i]) <= 2e-6 + 1e-5 * fabs(want[i]), "%s, after step %d: w[%d] = %.9g, want %.9g",
              what, step, i, got[i], want[i]);
}

static void run_sgd(int nesterov, const double want[3][2]) {
  sc_optim_config c = sc_optim_defaults(SC_OPTIM_SGD);
  c.momentum = 0.9f, c.weight_decay = 0.01f, c.nesterov = nesterov;
  sc_optim o;
  SC_ASSERT(sc_optim_init(&o, &c, 2) == SC_OK, "init: %s", sc_last_error());
  float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f};
  sc_optim_seg seg = {0, 2, 0};
  for (int t = 0; t < 3; t++) {
    SC_ASSERT(sc_optim_step(&o, 0.1f, w, g, &seg, 1) == SC_OK, "step: %s", sc_last_error());
    expect(w, want[t], 2, nesterov ? "SGD nesterov lr 0.1 momentum 0.9 wd 0.01" : "SGD lr 0.1 momentum 0.9 wd 0.01",
           t + 1);
  }
  sc_optim_free(&o);
}

SC_TEST(optim, sgd_momentum_three_steps) {
  static const double plain[3][2] = {{0.949, -2.023}, {0.852151, -2.066677}, {0.714134749, -2.128919623}};
  static const double nest[3][2] = {{0.9031, -2.0437}, {0.76507411, -2.10594697}, {0.590209958191, -2.184807273757}};
  run_sgd(0, plain);
  run_sgd(1, nest);
}

/* Three segments, lr 0.5, wd 0.1, eta 0.001, momentum 0.9, constant gradients:
 *   0: a weight w = (3, 4), g = (0.6, 0.8): first trust = 0.001*5 / ||(0.9, 1.2)|| = 1/300;
 *   1: a bias (excluded) b = (1, -2), g = (0.5, 0.5): no decay, trust 1, so plain momentum SGD;
 *   2: a weight w = (0, 0), g = (1, 0): ||w|| = 0 gives trust 1 on the first step only. */
static void run_lars(int nesterov, const double want[3][6], const double trust0[3]) {
  sc_optim_config c = sc_optim_defaults(SC_OPTIM_LARS);
  c.weight_decay = 0.1f, c.nesterov = nesterov;
  SC_ASSERT(c.momentum == 0.9f && c.eta == 1e-3f, "LARS defaults: momentum %g eta %g", c.momentum, c.eta);
  sc_optim o;
  SC_ASSERT(sc_optim_init(&o, &c, 6) == SC_OK, "init: %s", sc_last_error());
  float w[6] = {3, 4, 1, -2, 0, 0}, g[6] = {0.6f, 0.8f, 0.5f, 0.5f, 1, 0};
  sc_optim_seg segs[3] = {{0, 2, 0}, {2, 2, 1}, {4, 2, 0}};
  for (int t = 0; t < 3; t++) {
    double tr = sc_lars_trust_ratio(2, w, g, 0.1, 1e-3);
    SC_ASSERT(fabs(tr - trust0[t]) <= 1e-6 * trust0[t], "LARS nesterov=%d step %d: trust ratio of segment 0 = %.9g,"
              " want %.9g", nesterov, t + 1, tr, trust0[t]);
    SC_ASSERT(sc_optim_step(&o, 0.5f, w, g, segs, 3) == SC_OK, "step: %s", sc_last_error());
    expect(w, want[t], 6, nesterov ? "LARS nesterov lr 0.5 wd 0.1" : "LARS lr 0.5 wd 0.1", t + 1);
  }
  sc_optim_free(&o);
}

SC_TEST(optim, lars_trust_ratio_exclusions_three_steps) {
  static const double plain[3][6] = {{2.9985, 3.998, 0.75, -2.25, -0.5, 0.0},
                                     {2.99565075, 3.994201, 0.275, -2.725, -0.95025, 0.0},
                                     {2.991588599625, 3.9887847995, -0.4025, -3.4025, -1.355950125, 0.0}};
  static const double trust_plain[3] = {1.0 / 300.0, 0.003332222037006167, 0.0033301101090435293};
  static const double nest[3][6] = {{2.99715, 3.9962, 0.525, -2.475, -0.95, 0.0},
                                    {2.9930877075, 3.99078361, -0.1525, -3.1525, -1.3559025, 0.0},
                                    {2.987936928427875, 3.9839159045705, -1.01225, -4.01225, -1.722075357375, 0.0}};
  static const double trust_nest[3] = {1.0 / 300.0, 0.0033312215534919394, 0.003328209181151256};
  run_lars(0, plain, trust_plain);
  run_lars(1, nest, trust_nest);
}

SC_TEST(optim, lars_trust_ratio_falls_back_to_one) {
  float z[3] = {0, 0, 0}, w[3] = {1, 2, 2}, g[3] = {0.3f, 0, 0};
  SC_ASSERT(sc_lars_trust_ratio(3, z, g, 0.0, 1e-3) == 1.0, "zero weight norm must give trust 1");
  SC_ASSERT(sc_lars_trust_ratio(3, w, z, 0.0, 1e-3) == 1.0, "zero gradient norm must give trust 1");
  SC_ASSERT(fabs(sc_lars_trust_ratio(3, w, g, 0.0, 1e-3) - 1e-3 * 3.0 / 0.3) < 1e-9, "trust 0.001*3/0.3");
}

SC_TEST(optim, adamw_three_steps) {
  /* lr 0.1, wd 0.01 (decoupled), betas 0.9/0.999, eps 1e-8; the third parameter is an excluded segment */
  static const double want[3][3] = {{0.899000002, -1.89800001, 2.900000005},
                                    {0.798101004, -1.79610202, 2.80000001},
                                    {0.697302905, -1.694305928, 2.700000015}};
  sc_optim_config c = sc_optim_defaults(SC_OPTIM_ADAMW);
  c.weight_decay = 0.01f;
  sc_optim o;
  SC_ASSERT(sc_optim_init(&o, &c, 3) == SC_OK, "init: %s", sc_last_error());
  float w[3] = {1, -2, 3}, g[3] = {0.5f, -0.1f, 0.2f};
  sc_optim_seg segs[2] = {{0, 2, 0}, {2, 1, 1}};
  for (int t = 0; t < 3; t++) {
    SC_ASSERT(sc_optim_step(&o, 0.1f, w, g, segs, 2) == SC_OK, "step: %s", sc_last_error());
    expect(w, want[t], 3, "AdamW lr 0.1 wd 0.01", t + 1);
  }
  sc_optim_free(&o);
}

SC_TEST(optim, rejects_bad_arguments) {
  sc_optim_config c = sc_optim_defaults(SC_OPTIM_SGD);
  sc_optim o;
  c.momentum = 1.5f;
  SC_ASSERT(sc_optim_init(&o, &c, 4) == SC_EINVAL, "momentum 1.5 accepted");
  c = sc_optim_defaults(SC_OPTIM_SGD);
  SC_ASSERT(sc_optim_init(&o, &c, 4) == SC_OK, "init: %s", sc_last_error());
  float w[4] = {0}, g[4] = {0};
  sc_optim_seg bad = {3, 2, 0};
  SC_ASSERT(sc_optim_step(&o, 0.1f, w, g, &bad, 1) == SC_EINVAL, "segment past the end accepted");
  SC_ASSERT(sc_optim_step(&o, NAN, w, g, &bad, 0) == SC_EINVAL, "NaN learning rate accepted");
  sc_optim_free(&o);
}

SC_TEST(optim, schedule_warmup_and_cosine) {
  SC_ASSERT(fabs(sc_lr_peak(SC_LR_LINEAR, 4096) - 4.8) < 1e-12, "linear rule at B=4096: %g", sc_lr_peak(0, 4096));
  SC_ASSERT(fabs(sc_lr_peak(SC_LR_SQRT, 4096) - 4.8) < 1e-12, "sqrt rule at B=4096: %g", sc_lr_peak(1, 4096));
  SC_ASSERT(fabs(sc_lr_peak(SC_LR_LINEAR, 256) - 0.3) < 1e-12, "linear rule at B=256");
  SC_ASSERT(fabs(sc_lr_peak(SC_LR_SQRT, 256) - 1.2) < 1e-12, "sqrt rule at B=256");
  /* peak 2, 10 warm-up steps, 110 in all: the cosine runs over steps 10..110 */
  static const struct { int64_t step; double want; } pts[] = {
      {0, 0.0}, {5, 1.0}, {9, 1.8}, {10, 2.0} /* warm-up end */, {35, 2.0 * 0.8535533905932737},
      {60, 1.0} /* cosine midpoint */, {110, 0.0} /* end */, {200, 0.0}};
  for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
    double got = sc_lr_at(2.0, pts[i].step, 10, 110);
    SC_ASSERT(fabs(got - pts[i].want) < 1e-12, "lr at step %lld (peak 2, warmup 10, total 110) = %.15g, want %.15g",
              (long long)pts[i].step, got, pts[i].want);
  }
  SC_ASSERT(sc_lr_at(2.0, 109, 10, 110) > 0 && sc_lr_at(2.0, 109, 10, 110) < 1e-3, "one step before the end");
}
