/* options.c: parsing of option values shared by every subcommand (whole strings only: "12x" is not 12). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int sc_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int sc_parse_f64(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v >= lo && v <= hi)) return 0;
  *out = v;
  return 1;
}

int sc_parse_pair(const char *s, double lo, double hi, double *a, double *b) {
  char buf[128];
  const char *comma = strchr(s, ',');
  if (!comma || (size_t)(comma - s) >= sizeof buf) return 0;
  memcpy(buf, s, (size_t)(comma - s));
  buf[comma - s] = 0;
  double x, y;
  if (!sc_parse_f64(buf, lo, hi, &x) || !sc_parse_f64(comma + 1, lo, hi, &y) || x > y) return 0;
  *a = x, *b = y;
  return 1;
}

int sc_parse_threads(const char *s) {
  int64_t n;
  if (!sc_parse_i64(s, 1, 4096, &n)) return 0;
  return sc_set_num_threads((int)n) == SC_OK;
}
