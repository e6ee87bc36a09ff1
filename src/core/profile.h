/* profile.h (src/core): an optional table of where a training step spends its time, filled by the model's forward
 * and backward walks (src/model/model.c, per layer) and by the SimCLR step (src/train/simclr.c: zero-grad, loss,
 * optimiser), and read by `simclr bench --profile`. It depends on nothing in the engine, so every layer may use it.
 *
 * Off by default. When off, each hooked call site costs one load and one predictable branch (no clock is read);
 * when on, two monotonic clock reads per layer. The table is process-wide and not thread-safe: profile one model at
 * a time, from the thread that runs the steps (the operators' own threads never touch it). Nothing here allocates,
 * prints or fails.
 */
#ifndef SC_CORE_PROFILE_H
#define SC_CORE_PROFILE_H

#include <stdint.h>

typedef enum sc_prof_kind {
  SC_PROF_CONV_FWD = 0,
  SC_PROF_CONV_BWD_DATA,
  SC_PROF_CONV_BWD_WEIGHTS,
  SC_PROF_BN_FWD,  /* batch norm with the ReLU fused, or with the residual add and ReLU ending a block */
  SC_PROF_BN_BWD,
  SC_PROF_POOL,    /* max and average pooling, forward and backward */
  SC_PROF_HEAD_FWD, /* every layer after the encoder's pooled features: projection head or classifier */
  SC_PROF_HEAD_BWD,
  SC_PROF_LOSS,    /* NT-Xent forward and backward */
  SC_PROF_OPTIM,   /* the optimiser update (LARS) */
  SC_PROF_ZERO_GRAD,
  SC_PROF_DATA_WAIT, /* time the step waited for the loader (filled by the caller that runs the loader) */
  SC_PROF_COUNT
} sc_prof_kind;

typedef struct sc_prof_entry {
  double seconds;
  int64_t calls;
  double flops; /* multiply-adds x 2 of the convolutions and linear layers (0 for the others) */
} sc_prof_entry;

/* Read at every hooked call site; write it through sc_prof_enable. */
extern int sc_prof_on;

void sc_prof_enable(int on);
void sc_prof_reset(void);
/* The table, SC_PROF_COUNT entries. */
const sc_prof_entry *sc_prof_table(void);
const char *sc_prof_name(sc_prof_kind k);
/* Monotonic seconds. */
double sc_prof_now(void);
void sc_prof_add(sc_prof_kind k, double seconds, double flops);

#endif
