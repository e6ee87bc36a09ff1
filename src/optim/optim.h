/* optim.h (src/optim): optimisers over the flat parameter layout, and the learning-rate schedule.
 *
 * Parameters, gradients and optimiser state are each one flat float buffer of the same layout; a list of segments
 * (one per parameter tensor: offset, length, excluded or not) tells the optimiser where tensors begin, because LARS
 * needs per-tensor norms and biases/BN parameters are treated apart. An update is one pass over the segments.
 * Norm reductions accumulate in double. Nothing here allocates after sc_optim_init.
 */
#ifndef SC_OPTIM_H
#define SC_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "simclr.h"

typedef struct sc_optim_seg {
  size_t offset, count;
  int excluded; /* a bias or a BN parameter: no weight decay, no LARS trust scaling */
} sc_optim_seg;

typedef enum sc_optim_kind { SC_OPTIM_SGD = 0, SC_OPTIM_LARS = 1, SC_OPTIM_ADAMW = 2 } sc_optim_kind;

typedef struct sc_optim_config {
  sc_optim_kind kind;
  float momentum;     /* SGD and LARS (0.9) */
  int nesterov;       /* SGD and LARS */
  float weight_decay; /* SGD: L2 added to the gradient; LARS: likewise, before the norms; AdamW: decoupled */
  float eta;          /* LARS trust coefficient (0.001) */
  float beta1, beta2, eps; /* AdamW (0.9, 0.999, 1e-8) */
  /* SGD and AdamW: 1 to skip weight decay on excluded segments, 0 to decay everything as PyTorch's default does.
   * LARS always excludes them, as the official SimCLR code does. */
  int exclude_from_decay;
} sc_optim_config;

/* Sensible defaults per kind (SimCLR's LARS: momentum 0.9, eta 1e-3, weight decay 1e-6). */
sc_optim_config sc_optim_defaults(sc_optim_kind kind);

typedef struct sc_optim {
  sc_optim_config cfg;
  size_t n;
  float *m, *v;  /* momentum (LARS: the lr-scaled velocity) / Adam's first and second moments; n floats each */
  int64_t steps; /* updates done, for Adam's bias correction */
} sc_optim;

sc_status sc_optim_init(sc_optim *o, const sc_optim_config *cfg, size_t n);
void sc_optim_free(sc_optim *o);
/* One update of w[n] with g[n] at learning rate lr; the segments must lie inside [0, n). */
sc_status sc_optim_step(sc_optim *o, float lr, float *w, const float *g, const sc_optim_seg *segs, size_t nseg);
/* The trust ratio LARS uses for one tensor: eta*||w|| / ||g + wd*w||, or 1 when either norm is zero. */
double sc_lars_trust_ratio(size_t count, const float *w, const float *g, double weight_decay, double eta);

/* ---- learning-rate schedule ---- */
typedef enum sc_lr_scaling { SC_LR_LINEAR = 0, SC_LR_SQRT = 1 } sc_lr_scaling;
/* The peak learning rate for a batch size: 0.3 * B/256 (linear) or 0.075 * sqrt(B) (square root), as SimCLR. */
double sc_lr_peak(sc_lr_scaling rule, int64_t batch);
/* Linear warm-up from 0 over warmup steps, then cosine decay to 0 at total steps; updated every step. */
double sc_lr_at(double peak, int64_t step, int64_t warmup, int64_t total);

#endif
