/* simclr.h (src/train): one SimCLR training step: both views (2N images) through encoder and projection head, the
 * NT-Xent loss, the backward, and an optimiser update (LARS by default) at the scheduled learning rate. The data
 * pipeline fills the views; this module never reads files or augments images. */
#ifndef SC_TRAIN_SIMCLR_H
#define SC_TRAIN_SIMCLR_H

#include <stdint.h>

#include "model/model.h"
#include "optim/optim.h"

typedef struct sc_simclr_config {
  float tau;              /* NT-Xent temperature (SimCLR: 0.1 at large batch, 0.5 on CIFAR) */
  sc_optim_config optim;  /* LARS, momentum 0.9, eta 1e-3, weight decay 1e-6 by default */
  sc_lr_scaling lr_rule;  /* peak learning rate from the batch size N ... */
  double lr_peak;         /* ... unless this is > 0 */
  int64_t warmup_steps, total_steps;
} sc_simclr_config;

sc_simclr_config sc_simclr_defaults(void);

typedef struct sc_simclr sc_simclr;

/* Plans m for 2*pairs images and allocates the optimiser state; m stays owned by the caller. */
sc_status sc_simclr_create(sc_model *m, int64_t pairs, const sc_simclr_config *cfg, sc_simclr **out);
void sc_simclr_free(sc_simclr *s);

/* The batch to fill before each step: [2N][H][W][C], rows i and i+N are the two views of sample i. */
float *sc_simclr_views(sc_simclr *s);
/* One step at the schedule's current learning rate; *loss gets the NT-Xent loss before the update, *lr (may be
 * NULL) the learning rate used. SC_ENUMERIC if the loss is not finite (parameters are then left untouched). */
sc_status sc_simclr_step(sc_simclr *s, float *loss, float *lr);
int64_t sc_simclr_steps_done(const sc_simclr *s);
/* The optimiser state (for checkpoints), and the schedule position to resume from after restoring one. */
sc_optim *sc_simclr_optim(sc_simclr *s);
void sc_simclr_set_steps_done(sc_simclr *s, int64_t steps);

/* Hooks for data-parallel training (src/dist). loss replaces the NT-Xent of the local 2N rows: it writes *loss and
 * dloss/dz for the local rows into dz (overwritten, [2N][D]), as sc_nn_ntxent_forward does. grads runs between
 * the backward and the optimiser update on the flat gradient buffer (the all-reduce). A NULL member keeps the
 * default; h == NULL removes both. */
typedef struct sc_simclr_hooks {
  sc_status (*loss)(void *ctx, int64_t two_n, int64_t d, float tau, const float *z, float *loss, float *dz);
  sc_status (*grads)(void *ctx, float *g, size_t count);
  void *ctx;
} sc_simclr_hooks;
void sc_simclr_set_hooks(sc_simclr *s, const sc_simclr_hooks *h);

#endif
