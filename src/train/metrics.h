/* metrics.h (src/train): the run log RUN/metrics.jsonl, one JSON object per line (one per logged step, one per
 * epoch), appended and flushed line by line so that a killed run keeps everything it logged. On resume the lines
 * past the checkpoint's step are dropped (the resumed run logs them again). Reading a series back (for the loss
 * plot) goes through jansson. Nothing here prints.
 */
#ifndef SC_TRAIN_METRICS_H
#define SC_TRAIN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "simclr.h"

typedef struct sc_metrics {
  FILE *f;
  char *path;
} sc_metrics;

/* Opens path for appending. keep_through_step < 0 starts an empty file; otherwise the existing lines whose "step"
 * is at most keep_through_step are kept (the file is rewritten atomically first) and the rest dropped. */
sc_status sc_metrics_open(const char *path, int64_t keep_through_step, sc_metrics *m);
/* Appends one line (a complete JSON object, without the newline) and flushes. */
sc_status sc_metrics_line(sc_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sc_metrics_close(sc_metrics *m);

/* Reads the numbers under `key` (and the "step" of the same line) from the lines whose "type" equals type; lines
 * without the key, or with a null value, are skipped. *steps and *values are malloc'd (NULL when *n is 0). */
sc_status sc_metrics_series(const char *path, const char *type, const char *key, double **steps, double **values,
                            int64_t *n);

#endif
