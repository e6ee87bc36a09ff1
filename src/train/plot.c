/* plot.c: the line plots of plot.h. Everything is drawn with integer pixel operations (Bresenham lines, filled
 * rectangles, glyphs of a 5x7 font given as row bitmasks), so the same data gives the same bytes everywhere.
 * Must not print. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/image.h"
#include "plot.h"

typedef struct glyph {
  char c;
  uint8_t rows[7]; /* bit 4 is the leftmost column */
} glyph;

static const glyph font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},                {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {'+', {0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0}},       {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},          {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0x1F}},                   {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
    {'=', {0, 0, 0x1F, 0, 0x1F, 0, 0}},                {'N', {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}}, {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}}, {'a', {0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}}, {'c', {0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E}},
    {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}}, {'e', {0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
    {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}}, {'g', {0, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}}, {'i', {0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E}},
    {'j', {0x02, 0, 0x06, 0x02, 0x02, 0x12, 0x0C}},    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}},
    {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'m', {0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0, 0, 0x16, 0x19, 0x11, 0x11, 0x11}},       {'o', {0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E}},
    {'p', {0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10}},       {'q', {0, 0, 0x0D, 0x13, 0x0F, 0x01, 0x01}},
    {'r', {0, 0, 0x16, 0x19, 0x10, 0x10, 0x10}},       {'s', {0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},
    {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}}, {'u', {0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D}},
    {'v', {0, 0, 0x11, 0x11, 0x11, 0x0A, 0x04}},       {'w', {0, 0, 0x11, 0x11, 0x15, 0x15, 0x0A}},
    {'x', {0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11}},       {'y', {0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E}},
    {'z', {0, 0, 0x1F, 0x02, 0x04, 0x08, 0x1F}},
};

typedef struct canvas {
  uint8_t *px;
  int w, h;
} canvas;

static void put(canvas *c, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
  memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) put(c, x, y, rgb);
}

static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
  for (;;) {
    put(c, x0, y0, rgb);
    if (x0 == x1 && y0 == y1) return;
    int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

static const glyph *find_glyph(char ch) {
  for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
    if (font[i].c == ch) return &font[i];
  if (ch >= 'A' && ch <= 'Z') return find_glyph((char)(ch - 'A' + 'a'));
  return NULL; /* drawn as a blank */
}

static int text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale; }

static void text(canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3]) {
  for (; *s; s++, x += 6 * scale) {
    const glyph *g = find_glyph(*s);
    if (!g) continue;
    for (int r = 0; r < 7; r++)
      for (int col = 0; col < 5; col++)
        if (g->rows[r] >> (4 - col) & 1) rect(c, x + col * scale, y + r * scale, x + col * scale + scale - 1,
                                              y + r * scale + scale - 1, rgb);
  }
}

/* a step of 1, 2 or 5 times a power of ten giving about `want` intervals over span */
static double nice_step(double span, int want) {
  double raw = span / want, p = pow(10.0, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t n, double v, double step) {
  if (fabs(v) < step * 1e-6) v = 0;
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-3)) snprintf(buf, n, "%.2g", v);
  else snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, v);
}

static void panel(canvas *c, int top, int ph, const sc_plot_panel *p) {
  static const uint8_t black[3] = {0, 0, 0}, grid[3] = {225, 225, 225}, gray[3] = {90, 90, 90};
  const int left = 64, right = c->w - 16, ytop = top + 28, ybot = top + ph - 36;
  if (p->title) text(c, (c->w - text_width(p->title, 2)) / 2, top + 6, p->title, 2, black);
  if (p->xlabel) text(c, (left + right - text_width(p->xlabel, 1)) / 2, ybot + 22, p->xlabel, 1, gray);
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (int s = 0; s < p->nseries; s++)
    for (int64_t i = 0; i < p->series[s].n; i++) {
      double x = p->series[s].x[i], y = p->series[s].y[i];
      if (!isfinite(x) || !isfinite(y)) continue;
      xmin = fmin(xmin, x), xmax = fmax(xmax, x), ymin = fmin(ymin, y), ymax = fmax(ymax, y);
    }
  if (p->xmin < p->xmax) xmin = p->xmin, xmax = p->xmax;
  line(c, left, ytop, left, ybot, black);
  line(c, left, ybot, right, ybot, black);
  if (!(xmin <= xmax)) {
    text(c, (left + right - text_width("no data", 1)) / 2, (ytop + ybot) / 2, "no data", 1, gray);
    return;
  }
  if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
  if (ymax - ymin < 1e-12 * fmax(1.0, fabs(ymax))) ymin -= 0.5 * fmax(fabs(ymin) * 0.1, 1e-3),
                                                   ymax += 0.5 * fmax(fabs(ymax) * 0.1, 1e-3);
  double pad = (ymax - ymin) * 0.05;
  ymin -= pad, ymax += pad;
  double xs = nice_step(xmax - xmin, 6), ys = nice_step(ymax - ymin, 5);
  char buf[32];
#define PX(x) (left + (int)lround(((x) - xmin) / (xmax - xmin) * (right - left)))
#define PY(y) (ybot - (int)lround(((y) - ymin) / (ymax - ymin) * (ybot - ytop)))
  for (double t = ceil(ymin / ys) * ys; t <= ymax + ys * 1e-9; t += ys) {
    int y = PY(t);
    line(c, left + 1, y, right, y, grid);
    line(c, left - 4, y, left, y, black);
    fmt_tick(buf, sizeof buf, t, ys);
    text(c, left - 6 - text_width(buf, 1), y - 3, buf, 1, black);
  }
  for (double t = ceil(xmin / xs) * xs; t <= xmax + xs * 1e-9; t += xs) {
    int x = PX(t);
    line(c, x, ybot, x, ybot + 4, black);
    fmt_tick(buf, sizeof buf, t, xs);
    text(c, x - text_width(buf, 1) / 2, ybot + 8, buf, 1, black);
  }
  for (int s = 0; s < p->nseries; s++) {
    const sc_plot_series *sr = &p->series[s];
    int have = 0, px0 = 0, py0 = 0;
    for (int64_t i = 0; i < sr->n; i++) {
      if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) continue;
      int x = PX(sr->x[i]), y = PY(sr->y[i]);
      if (have) line(c, px0, py0, x, y, sr->rgb);
      if (sr->n <= 60) rect(c, x - 2, y - 2, x + 2, y + 2, sr->rgb);
      px0 = x, py0 = y, have = 1;
    }
  }
#undef PX
#undef PY
}

sc_status sc_plot_render(const sc_plot_panel *panels, int npanels, int width, int panel_height, uint8_t **rgb,
                         int *w, int *h) {
  if (!panels || npanels < 1 || width < 160 || panel_height < 100 || width > 8192 || panel_height > 8192 ||
      npanels > 16 || !rgb)
    return sc_error(SC_EINVAL, "plot: %d panels of %d x %d pixels", npanels, width, panel_height);
  canvas c = {malloc((size_t)width * panel_height * npanels * 3), width, panel_height * npanels};
  if (!c.px) return sc_error(SC_ENOMEM, "plot: out of memory");
  memset(c.px, 255, (size_t)c.w * c.h * 3);
  for (int i = 0; i < npanels; i++) panel(&c, i * panel_height, panel_height, &panels[i]);
  *rgb = c.px;
  if (w) *w = c.w;
  if (h) *h = c.h;
  return SC_OK;
}

sc_status sc_plot_write_png(const char *path, const sc_plot_panel *panels, int npanels, int width, int panel_height) {
  uint8_t *px;
  int w, h;
  SC_TRY(sc_plot_render(panels, npanels, width, panel_height, &px, &w, &h));
  sc_status st = sc_png_write(path, px, w, h, 3);
  free(px);
  return st;
}
