/* progress.h: progress reports of the training commands on stderr. On a terminal, one bar per stage redrawn in
 * place (done/total, the caller's fields such as loss, learning rate and images/s, and the ETA); otherwise one plain
 * line every few seconds and one at the end, so logs of batch jobs stay readable. Never writes to stdout. */
#ifndef SC_CLI_PROGRESS_H
#define SC_CLI_PROGRESS_H

#include <stdint.h>

typedef struct sc_progress {
  int tty, quiet;
  double t0, last;
  int64_t total, done0;
  char label[64];
  int open; /* a bar is drawn and not yet ended with a newline */
} sc_progress;

/* Seconds since an arbitrary origin (monotonic). */
double sc_now(void);
/* quiet != 0 silences everything. */
void sc_progress_begin(sc_progress *p, const char *label, int64_t total, int quiet);
/* done of total units; fields: a short string shown after the count (may be NULL). */
void sc_progress_update(sc_progress *p, int64_t done, const char *fields);
/* Finishes the bar with a final line. */
void sc_progress_end(sc_progress *p, int64_t done, const char *fields);
/* Ends an open bar with a newline, so that the next line on stderr starts clean. */
void sc_progress_break(sc_progress *p);
/* Prints a log line on stderr, first ending an open bar. */
void sc_progress_log(sc_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
