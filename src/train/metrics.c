/* metrics.c: the JSON-lines run log (see metrics.h). Lines are written with fprintf by the caller's format, so
 * writing needs no JSON library; reading back parses each line with jansson and ignores lines it cannot parse
 * (the last line of a killed run may be cut short). Must not print. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "metrics.h"

static int line_step(const char *line, int64_t *step) {
  json_error_t e;
  json_t *o = json_loads(line, 0, &e);
  json_t *s = o ? json_object_get(o, "step") : NULL;
  int ok = s && json_is_integer(s);
  if (ok) *step = (int64_t)json_integer_value(s);
  json_decref(o);
  return ok;
}

/* keeps the complete lines of path whose step is at most keep */
static sc_status truncate_log(const char *path, int64_t keep) {
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? SC_OK : sc_error(SC_EIO, "%s: cannot read the metrics log", path);
  size_t cap = 1 << 16, len = 0;
  char *out = malloc(cap), *line = NULL;
  size_t lcap = 0;
  ssize_t got;
  sc_status st = out ? SC_OK : sc_error(SC_ENOMEM, "out of memory");
  while (st == SC_OK && (got = getline(&line, &lcap, f)) > 0) {
    int64_t step;
    if (line[got - 1] != '\n' || !line_step(line, &step) || step > keep) continue;
    if (len + (size_t)got > cap) {
      while (len + (size_t)got > cap) cap *= 2;
      char *p = realloc(out, cap);
      if (!p) {
        st = sc_error(SC_ENOMEM, "out of memory");
        break;
      }
      out = p;
    }
    memcpy(out + len, line, (size_t)got);
    len += (size_t)got;
  }
  fclose(f);
  free(line);
  if (st == SC_OK) st = sc_atomic_write_buffer(path, out, len);
  free(out);
  return st;
}

sc_status sc_metrics_open(const char *path, int64_t keep_through_step, sc_metrics *m) {
  memset(m, 0, sizeof *m);
  if (keep_through_step >= 0) SC_TRY(truncate_log(path, keep_through_step));
  m->f = fopen(path, keep_through_step >= 0 ? "ab" : "wb");
  if (!m->f) return sc_error(SC_EIO, "%s: cannot open the metrics log: %s", path, strerror(errno));
  m->path = strdup(path);
  return SC_OK;
}

sc_status sc_metrics_line(sc_metrics *m, const char *fmt, ...) {
  if (!m || !m->f) return SC_OK;
  va_list ap;
  va_start(ap, fmt);
  int bad = vfprintf(m->f, fmt, ap) < 0;
  va_end(ap);
  bad |= fputc('\n', m->f) == EOF;
  bad |= fflush(m->f) != 0;
  return bad ? sc_error(SC_EIO, "%s: cannot write the metrics log", m->path) : SC_OK;
}

void sc_metrics_close(sc_metrics *m) {
  if (!m) return;
  if (m->f) fclose(m->f);
  free(m->path);
  memset(m, 0, sizeof *m);
}

sc_status sc_metrics_series(const char *path, const char *type, const char *key, double **steps, double **values,
                            int64_t *n) {
  *steps = *values = NULL, *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return sc_error(SC_EIO, "%s: cannot read the metrics log: %s", path, strerror(errno));
  char *line = NULL;
  size_t lcap = 0, cap = 0;
  int64_t k = 0;
  double *s = NULL, *v = NULL;
  sc_status st = SC_OK;
  while (getline(&line, &lcap, f) > 0) {
    json_error_t e;
    json_t *o = json_loads(line, 0, &e);
    if (!o) continue;
    json_t *t = json_object_get(o, "type"), *js = json_object_get(o, "step"), *jv = json_object_get(o, key);
    if (json_is_string(t) && !strcmp(json_string_value(t), type) && json_is_number(js) && json_is_number(jv)) {
      if ((size_t)k == cap) {
        cap = cap ? 2 * cap : 256;
        double *s2 = realloc(s, cap * sizeof *s2), *v2 = s2 ? realloc(v, cap * sizeof *v2) : NULL;
        if (s2) s = s2;
        if (v2) v = v2;
        if (!s2 || !v2) {
          json_decref(o);
          st = sc_error(SC_ENOMEM, "out of memory");
          break;
        }
      }
      s[k] = json_number_value(js), v[k] = json_number_value(jv), k++;
    }
    json_decref(o);
  }
  fclose(f);
  free(line);
  if (st != SC_OK) {
    free(s), free(v);
    return st;
  }
  *steps = s, *values = v, *n = k;
  return SC_OK;
}
