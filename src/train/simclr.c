/* simclr.c: the SimCLR step. Its order is fixed: zero the parameter gradients, forward both views with batch
 * statistics, NT-Xent on the projections, its gradient into the model's output gradient, the model's backward,
 * one optimiser update. It allocates only in sc_simclr_create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../nn/nn.h"
#include "../core/profile.h"
#include "simclr.h"

struct sc_simclr {
  sc_model *model;
  sc_simclr_config cfg;
  sc_optim opt;
  int64_t pairs, dim, step;
  double peak;
  float *saved_dz; /* dloss/dz of the last forward, [2N][D] */
  sc_simclr_hooks hooks;
};

sc_simclr_config sc_simclr_defaults(void) {
  return (sc_simclr_config){.tau = 0.5f, .optim = sc_optim_defaults(SC_OPTIM_LARS), .lr_rule = SC_LR_LINEAR,
                            .lr_peak = 0.0, .warmup_steps = 10, .total_steps = 100};
}

sc_status sc_simclr_create(sc_model *m, int64_t pairs, const sc_simclr_config *cfg, sc_simclr **out) {
  if (!m || !cfg || !out) return sc_error(SC_EINVAL, "simclr: null argument");
  *out = NULL;
  if (pairs < 2) return sc_error(SC_EINVAL, "simclr: %lld pairs (NT-Xent needs negatives: at least 2)",
                                 (long long)pairs);
  if (!(cfg->tau > 0)) return sc_error(SC_EINVAL, "simclr: temperature %g", cfg->tau);
  if (cfg->warmup_steps < 0 || cfg->total_steps < 1)
    return sc_error(SC_EINVAL, "simclr: warmup %lld, total %lld steps", (long long)cfg->warmup_steps,
                    (long long)cfg->total_steps);
  if (sc_model_config_of(m)->head == SC_HEAD_NONE)
    return sc_error(SC_EINVAL, "simclr: the model has no projection head");
  SC_TRY(sc_model_plan(m, 2 * pairs));
  sc_simclr *s = calloc(1, sizeof *s);
  if (!s) return sc_error(SC_ENOMEM, "simclr: out of memory");
  s->model = m, s->cfg = *cfg, s->pairs = pairs;
  sc_model_output(m, NULL, &s->dim);
  s->peak = cfg->lr_peak > 0 ? cfg->lr_peak : sc_lr_peak(cfg->lr_rule, pairs);
  size_t np;
  sc_model_params(m, &np);
  sc_status st = sc_optim_init(&s->opt, &cfg->optim, np);
  if (st != SC_OK) {
    free(s);
    return st;
  }
  s->saved_dz = malloc((size_t)(2 * pairs * s->dim) * sizeof(float));
  if (!s->saved_dz) {
    sc_simclr_free(s);
    return sc_error(SC_ENOMEM, "simclr: out of memory");
  }
  *out = s;
  return SC_OK;
}

void sc_simclr_free(sc_simclr *s) {
  if (!s) return;
  sc_optim_free(&s->opt);
  free(s->saved_dz);
  free(s);
}

float *sc_simclr_views(sc_simclr *s) { return sc_model_input(s->model); }
int64_t sc_simclr_steps_done(const sc_simclr *s) { return s->step; }
sc_optim *sc_simclr_optim(sc_simclr *s) { return &s->opt; }
void sc_simclr_set_steps_done(sc_simclr *s, int64_t steps) { s->step = steps < 0 ? 0 : steps; }
void sc_simclr_set_hooks(sc_simclr *s, const sc_simclr_hooks *h) { s->hooks = h ? *h : (sc_simclr_hooks){0}; }

sc_status sc_simclr_step(sc_simclr *s, float *loss, float *lr) {
  if (!s || !loss) return sc_error(SC_EINVAL, "simclr: null argument");
  sc_model *m = s->model;
  const int64_t two_n = 2 * s->pairs;
  float rate = (float)sc_lr_at(s->peak, s->step, s->cfg.warmup_steps, s->cfg.total_steps);
  /* profiling hook (profile.h): t is read only while sc_prof_on; the model times its own layers */
  double t = sc_prof_on ? sc_prof_now() : 0;
  sc_model_zero_grad(m);
  if (sc_prof_on) sc_prof_add(SC_PROF_ZERO_GRAD, sc_prof_now() - t, 0);
  SC_TRY(sc_model_forward(m, 1));
  const float *z = sc_model_output(m, NULL, NULL);
  if (sc_prof_on) t = sc_prof_now();
  if (s->hooks.loss)
    SC_TRY(s->hooks.loss(s->hooks.ctx, two_n, s->dim, s->cfg.tau, z, loss, s->saved_dz));
  else
    SC_TRY(sc_nn_ntxent_forward(two_n, s->dim, s->cfg.tau, z, loss, s->saved_dz));
  if (!isfinite(*loss)) return sc_error(SC_ENUMERIC, "simclr: loss is %g at step %lld", *loss, (long long)s->step);
  float *dz = sc_model_output_grad(m);
  memset(dz, 0, (size_t)(two_n * s->dim) * sizeof(float));
  SC_TRY(sc_nn_ntxent_backward(two_n, s->dim, dz, 1.0f, s->saved_dz));
  if (sc_prof_on) sc_prof_add(SC_PROF_LOSS, sc_prof_now() - t, 4.0 * (double)two_n * (double)two_n * (double)s->dim);
  SC_TRY(sc_model_backward(m));
  size_t np, nseg;
  float *w = sc_model_params(m, &np);
  if (s->hooks.grads) SC_TRY(s->hooks.grads(s->hooks.ctx, sc_model_grads(m, NULL), np));
  const sc_optim_seg *segs = sc_model_segments(m, &nseg);
  if (sc_prof_on) t = sc_prof_now();
  SC_TRY(sc_optim_step(&s->opt, rate, w, sc_model_grads(m, NULL), segs, nseg));
  if (sc_prof_on) sc_prof_add(SC_PROF_OPTIM, sc_prof_now() - t, 0);
  if (lr) *lr = rate;
  s->step++;
  return SC_OK;
}
