/* profile.c: the process-wide step-profile table of profile.h: a fixed array of (seconds, calls, flops) per kind of
 * work and a monotonic clock. No allocation, no output. */
#include <string.h>
#include <time.h>

#include "profile.h"

int sc_prof_on = 0;
static sc_prof_entry table[SC_PROF_COUNT];

static const char *const names[] = {
    [SC_PROF_CONV_FWD] = "conv fwd",
    [SC_PROF_CONV_BWD_DATA] = "conv bwd-data",
    [SC_PROF_CONV_BWD_WEIGHTS] = "conv bwd-weights",
    [SC_PROF_BN_FWD] = "bn(+add)(+relu) fwd",
    [SC_PROF_BN_BWD] = "bn(+add)(+relu) bwd",
    [SC_PROF_POOL] = "pooling",
    [SC_PROF_HEAD_FWD] = "head fwd",
    [SC_PROF_HEAD_BWD] = "head bwd",
    [SC_PROF_LOSS] = "loss (nt-xent)",
    [SC_PROF_OPTIM] = "optimiser",
    [SC_PROF_ZERO_GRAD] = "zero grad",
    [SC_PROF_DATA_WAIT] = "data wait",
};
_Static_assert(sizeof names / sizeof names[0] == SC_PROF_COUNT, "one name per profile kind");

void sc_prof_enable(int on) { sc_prof_on = on != 0; }
void sc_prof_reset(void) { memset(table, 0, sizeof table); }
const sc_prof_entry *sc_prof_table(void) { return table; }

const char *sc_prof_name(sc_prof_kind k) { return (unsigned)k < SC_PROF_COUNT ? names[k] : "?"; }

double sc_prof_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sc_prof_add(sc_prof_kind k, double seconds, double flops) {
  if ((unsigned)k >= SC_PROF_COUNT) return;
  table[k].seconds += seconds;
  table[k].calls++;
  table[k].flops += flops;
}
