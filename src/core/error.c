/* error.c: the per-thread last-error message and the names of status codes. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static _Thread_local char last_error[512];

sc_status sc_error(sc_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

const char *sc_last_error(void) { return last_error; }

const char *sc_status_name(sc_status s) {
  switch (s) {
  case SC_OK: return "ok";
  case SC_EINVAL: return "invalid argument";
  case SC_ENOMEM: return "out of memory";
  case SC_EIO: return "I/O error";
  case SC_EFORMAT: return "malformed input";
  case SC_EUNSUPPORTED: return "unsupported";
  case SC_ENUMERIC: return "numerical error";
  case SC_EINTERNAL: return "internal error";
  }
  return "unknown status";
}
