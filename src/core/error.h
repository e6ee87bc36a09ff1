/* error.h: how library code reports failure. A function that fails calls sc_error() (which records a one-line
 * message for sc_last_error() on this thread) and returns its status. Library code never prints or exits. */
#ifndef SC_CORE_ERROR_H
#define SC_CORE_ERROR_H

#include "simclr.h"

#if defined(__GNUC__)
#define SC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SC_PRINTF(f, a)
#endif

/* Records the formatted message for this thread and returns status (so: return sc_error(SC_EINVAL, "...")). */
sc_status sc_error(sc_status status, const char *fmt, ...) SC_PRINTF(2, 3);

/* Propagates a failing status from a call: SC_TRY(f(x)); */
#define SC_TRY(expr)                          \
  do {                                        \
    sc_status sc_try_status_ = (expr);        \
    if (sc_try_status_ != SC_OK) return sc_try_status_; \
  } while (0)

#endif
