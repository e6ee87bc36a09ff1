/* plot.h (src/train): small line plots (training loss, kNN accuracy against steps) drawn into an RGB buffer with a
 * built-in 5x7 bitmap font for titles and tick labels, and written as PNG through the atomic writer. Meant for a
 * quick look at a run, not for publication: linear axes, "nice" ticks (1, 2, 5 times a power of ten), one colour
 * per series, a marker on every point of short series. Nothing here prints; non-finite points are skipped.
 */
#ifndef SC_TRAIN_PLOT_H
#define SC_TRAIN_PLOT_H

#include <stdint.h>

#include "simclr.h"

typedef struct sc_plot_series {
  const double *x, *y;
  int64_t n;
  uint8_t rgb[3];
} sc_plot_series;

typedef struct sc_plot_panel {
  const char *title;  /* drawn above the panel */
  const char *xlabel; /* drawn under the x axis */
  const sc_plot_series *series;
  int nseries;
  double xmin, xmax; /* the x range; both 0: from the data */
} sc_plot_panel;

/* Renders npanels panels stacked vertically into a malloc'd RGB image of width x (npanels * panel_height). */
sc_status sc_plot_render(const sc_plot_panel *panels, int npanels, int width, int panel_height, uint8_t **rgb,
                         int *w, int *h);
/* sc_plot_render, then the PNG written atomically to path. */
sc_status sc_plot_write_png(const char *path, const sc_plot_panel *panels, int npanels, int width, int panel_height);

#endif
