/* schedule.c: SimCLR's learning-rate rules: the peak from the batch size (linear or square-root scaling), then a
 * linear warm-up from 0 and a cosine decay to 0, evaluated at every step (not per epoch). */
#include <math.h>

#include "optim.h"

double sc_lr_peak(sc_lr_scaling rule, int64_t batch) {
  return rule == SC_LR_SQRT ? 0.075 * sqrt((double)batch) : 0.3 * (double)batch / 256.0;
}

double sc_lr_at(double peak, int64_t step, int64_t warmup, int64_t total) {
  if (step < 0) return 0.0;
  if (step < warmup) return peak * (double)step / (double)warmup;
  if (step >= total || total <= warmup) return 0.0;
  double progress = (double)(step - warmup) / (double)(total - warmup);
  return peak * 0.5 * (1.0 + cos(M_PI * progress));
}
