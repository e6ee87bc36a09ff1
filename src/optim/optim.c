/* optim.c: SGD with momentum, LARS (as google-research/simclr's lars_optimizer.py) and AdamW (as PyTorch's) over
 * the flat parameter buffer. Each update is one pass over the segments; per-tensor norms accumulate in double.
 * This file must not know about models: segments are all it sees. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "optim.h"

sc_optim_config sc_optim_defaults(sc_optim_kind kind) {
  sc_optim_config c = {.kind = kind, .momentum = 0.9f, .eta = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f,
                       .eps = 1e-8f, .exclude_from_decay = 1};
  c.weight_decay = kind == SC_OPTIM_LARS ? 1e-6f : kind == SC_OPTIM_ADAMW ? 1e-2f : 0.0f;
  return c;
}

sc_status sc_optim_init(sc_optim *o, const sc_optim_config *cfg, size_t n) {
  if (!o || !cfg) return sc_error(SC_EINVAL, "optim: null argument");
  if (cfg->kind != SC_OPTIM_SGD && cfg->kind != SC_OPTIM_LARS && cfg->kind != SC_OPTIM_ADAMW)
    return sc_error(SC_EINVAL, "optim: unknown kind %d", (int)cfg->kind);
  if (!(cfg->momentum >= 0 && cfg->momentum < 1) || !(cfg->weight_decay >= 0) || !(cfg->eta > 0) ||
      !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps > 0))
    return sc_error(SC_EINVAL, "optim: hyper-parameter out of range (momentum %g, weight decay %g, eta %g, "
                    "betas %g %g, eps %g)", cfg->momentum, cfg->weight_decay, cfg->eta, cfg->beta1, cfg->beta2,
                    cfg->eps);
  memset(o, 0, sizeof *o);
  o->cfg = *cfg;
  o->n = n;
  o->m = calloc(n ? n : 1, sizeof(float));
  if (cfg->kind == SC_OPTIM_ADAMW) o->v = calloc(n ? n : 1, sizeof(float));
  if (!o->m || (cfg->kind == SC_OPTIM_ADAMW && !o->v)) {
    sc_optim_free(o);
    return sc_error(SC_ENOMEM, "optim: cannot allocate state for %zu parameters", n);
  }
  return SC_OK;
}

void sc_optim_free(sc_optim *o) {
  if (!o) return;
  free(o->m), free(o->v);
  o->m = o->v = NULL;
}

double sc_lars_trust_ratio(size_t count, const float *w, const float *g, double weight_decay, double eta) {
  double ww = 0.0, gg = 0.0;
  for (size_t i = 0; i < count; i++) {
    double d = (double)(g[i] + (float)weight_decay * w[i]);
    ww += (double)w[i] * w[i];
    gg += d * d;
  }
  if (ww > 0.0 && gg > 0.0) return eta * sqrt(ww) / sqrt(gg);
  return 1.0;
}

/* PyTorch's SGD: d = g + wd*w; buf = momentum*buf + d; step = nesterov ? d + momentum*buf : buf; w -= lr*step. */
static void sgd_seg(const sc_optim_config *c, float lr, float wd, float *w, const float *g, float *buf, size_t n) {
  const float mu = c->momentum;
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + wd * w[i];
    buf[i] = mu * buf[i] + d;
    w[i] -= lr * (c->nesterov ? d + mu * buf[i] : buf[i]);
  }
}

/* SimCLR's LARS: d = g + wd*w; v = momentum*v + lr*trust*d; w -= nesterov ? momentum*v + lr*trust*d : v. */
static void lars_seg(const sc_optim_config *c, float lr, int excluded, float *w, const float *g, float *v,
                     size_t n) {
  const float wd = excluded ? 0.0f : c->weight_decay, mu = c->momentum;
  const float scaled = (float)(lr * (excluded ? 1.0 : sc_lars_trust_ratio(n, w, g, wd, c->eta)));
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + wd * w[i];
    v[i] = mu * v[i] + scaled * d;
    w[i] -= c->nesterov ? mu * v[i] + scaled * d : v[i];
  }
}

/* PyTorch's AdamW: w *= 1 - lr*wd; m, v moments; w -= lr * mhat / (sqrt(vhat) + eps). */
static void adamw_seg(const sc_optim_config *c, float lr, float wd, int64_t t, float *w, const float *g, float *m,
                      float *v, size_t n) {
  const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
  const float b1 = c->beta1, b2 = c->beta2;
  for (size_t i = 0; i < n; i++) {
    w[i] *= 1.0f - lr * wd;
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    double mh = m[i] / bc1, vh = v[i] / bc2;
    w[i] -= (float)(lr * mh / (sqrt(vh) + c->eps));
  }
}

sc_status sc_optim_step(sc_optim *o, float lr, float *w, const float *g, const sc_optim_seg *segs, size_t nseg) {
  if (!o || !o->m || !w || !g || (nseg && !segs)) return sc_error(SC_EINVAL, "optim: null argument");
  if (!isfinite(lr) || lr < 0) return sc_error(SC_EINVAL, "optim: learning rate %g", lr);
  for (size_t s = 0; s < nseg; s++)
    if (segs[s].offset > o->n || segs[s].count > o->n - segs[s].offset)
      return sc_error(SC_EINVAL, "optim: segment %zu [%zu, +%zu) outside the %zu parameters", s, segs[s].offset,
                      segs[s].count, o->n);
  o->steps++;
  const sc_optim_config *c = &o->cfg;
  for (size_t s = 0; s < nseg; s++) {
    size_t off = segs[s].offset, n = segs[s].count;
    float wd = segs[s].excluded && c->exclude_from_decay ? 0.0f : c->weight_decay;
    switch (c->kind) {
    case SC_OPTIM_SGD: sgd_seg(c, lr, wd, w + off, g + off, o->m + off, n); break;
    case SC_OPTIM_LARS: lars_seg(c, lr, segs[s].excluded, w + off, g + off, o->m + off, n); break;
    case SC_OPTIM_ADAMW: adamw_seg(c, lr, wd, o->steps, w + off, g + off, o->m + off, o->v + off, n); break;
    }
  }
  return SC_OK;
}
