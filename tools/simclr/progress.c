/* progress.c: the progress reports of progress.h. Writes to stderr only. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

enum { PLAIN_EVERY_S = 5, BAR = 24 };

double sc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(char *buf, size_t n, double s) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(buf, n, "--:--");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void sc_progress_begin(sc_progress *p, const char *label, int64_t total, int quiet) {
  memset(p, 0, sizeof *p);
  p->tty = isatty(STDERR_FILENO), p->quiet = quiet, p->total = total, p->t0 = p->last = sc_now();
  p->done0 = -1;
  snprintf(p->label, sizeof p->label, "%s", label);
}

static void draw(sc_progress *p, int64_t done, const char *fields, int final) {
  double now = sc_now(), el = now - p->t0;
  if (p->done0 < 0) p->done0 = 0;
  double rate = el > 0 ? (double)(done - p->done0) / el : 0;
  char eta[32], elapsed[32];
  fmt_time(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : -1);
  fmt_time(elapsed, sizeof elapsed, el);
  if (p->tty) {
    char bar[BAR + 1];
    int fill = p->total > 0 ? (int)(BAR * done / p->total) : 0;
    for (int i = 0; i < BAR; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR] = 0;
    fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s %s %s", p->label, bar, (long long)done, (long long)p->total,
            fields ? fields : "", final ? "in" : "ETA", final ? elapsed : eta);
    if (final) fputc('\n', stderr);
    p->open = !final;
  } else {
    fprintf(stderr, "%s %lld/%lld %s %s %s\n", p->label, (long long)done, (long long)p->total, fields ? fields : "",
            final ? "in" : "ETA", final ? elapsed : eta);
  }
  fflush(stderr);
  p->last = now;
}

void sc_progress_update(sc_progress *p, int64_t done, const char *fields) {
  if (p->quiet) return;
  double now = sc_now();
  if (now - p->last < (p->tty ? 0.2 : PLAIN_EVERY_S)) return;
  draw(p, done, fields, 0);
}

void sc_progress_end(sc_progress *p, int64_t done, const char *fields) {
  if (p->quiet) return;
  draw(p, done, fields, 1);
}

void sc_progress_break(sc_progress *p) {
  if (p && p->open) fputc('\n', stderr), p->open = 0;
}

void sc_progress_log(sc_progress *p, const char *fmt, ...) {
  if (p && p->quiet) return;
  if (p && p->open) fputc('\n', stderr), p->open = 0;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
