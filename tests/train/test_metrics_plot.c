/* test_metrics_plot.c: the run log (src/train/metrics) and the loss plot (src/train/plot). The log keeps exactly
 * the lines up to the resumed step and drops a line cut short by a kill; series read back carry the values written.
 * The plot has the requested size, draws each series in its colour, and refuses absurd sizes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "train/metrics.h"
#include "train/plot.h"

static void tmp_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "/tmp/sc_metrics_%ld_%s", (long)getpid(), name);
}

SC_TEST(metrics, resume_keeps_lines_through_the_step) {
  char path[256];
  tmp_path(path, sizeof path, "m.jsonl");
  sc_metrics m;
  SC_ASSERT(sc_metrics_open(path, -1, &m) == SC_OK, "open: %s", sc_last_error());
  for (int s = 1; s <= 6; s++) sc_metrics_line(&m, "{\"type\":\"step\",\"step\":%d,\"loss\":%d.5}", s, 10 - s);
  sc_metrics_line(&m, "{\"type\":\"epoch\",\"step\":4,\"knn_acc\":0.25}");
  sc_metrics_close(&m);
  FILE *f = fopen(path, "ab");
  fputs("{\"type\":\"step\",\"step\":2,\"lo", f); /* a line cut short by a kill */
  fclose(f);
  SC_ASSERT(sc_metrics_open(path, 3, &m) == SC_OK, "reopen: %s", sc_last_error());
  sc_metrics_line(&m, "{\"type\":\"step\",\"step\":4,\"loss\":1.5}");
  sc_metrics_close(&m);
  double *s, *v;
  int64_t n;
  SC_ASSERT(sc_metrics_series(path, "step", "loss", &s, &v, &n) == SC_OK, "series: %s", sc_last_error());
  SC_ASSERT(n == 4, "%lld step lines after resuming at 3, want 4 (1, 2, 3 kept and 4 logged again)", (long long)n);
  const double want_s[4] = {1, 2, 3, 4}, want_v[4] = {9.5, 8.5, 7.5, 1.5};
  for (int i = 0; i < 4; i++)
    SC_ASSERT(s[i] == want_s[i] && v[i] == want_v[i], "line %d: step %g loss %g, want %g %g", i, s[i], v[i],
              want_s[i], want_v[i]);
  free(s), free(v);
  SC_ASSERT(sc_metrics_series(path, "epoch", "knn_acc", &s, &v, &n) == SC_OK && n == 0,
            "the epoch line at step 4 should be gone after resuming at 3 (%lld left)", (long long)n);
  unlink(path);
}

SC_TEST(plot, draws_series_in_their_colours) {
  const double x[4] = {0, 1, 2, 3}, y[4] = {1, NAN, 3, 2};
  sc_plot_series a = {x, y, 4, {200, 10, 10}};
  sc_plot_panel p[2] = {{"loss", "step", &a, 1, 0, 0}, {"empty", "step", NULL, 0, 0, 0}};
  uint8_t *px;
  int w, h;
  SC_ASSERT(sc_plot_render(p, 2, 320, 200, &px, &w, &h) == SC_OK, "render: %s", sc_last_error());
  SC_ASSERT(w == 320 && h == 400, "size %dx%d, want 320x400", w, h);
  long red_top = 0, red_bottom = 0;
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++) {
      const uint8_t *q = px + ((size_t)yy * w + xx) * 3;
      if (q[0] == 200 && q[1] == 10 && q[2] == 10) *(yy < 200 ? &red_top : &red_bottom) += 1;
    }
  /* three markers of 5x5 and the lines between them: well over 75 pixels; none in the empty panel */
  SC_ASSERT(red_top >= 75 && red_bottom == 0, "series pixels: %ld in its panel, %ld in the empty one", red_top,
            red_bottom);
  free(px);
  SC_ASSERT(sc_plot_render(p, 2, 10, 200, &px, &w, &h) == SC_EINVAL, "a 10 pixel wide plot was accepted");
  char path[256];
  tmp_path(path, sizeof path, "p.png");
  SC_ASSERT(sc_plot_write_png(path, p, 2, 320, 200) == SC_OK, "png: %s", sc_last_error());
  FILE *f = fopen(path, "rb");
  unsigned char sig[8] = {0};
  SC_ASSERT(f && fread(sig, 1, 8, f) == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", path);
  fclose(f);
  unlink(path);
}
