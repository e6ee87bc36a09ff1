/* subset.c: balanced per-class subsets and subset lists (see subset.h). The per-class choice is a partial
 * Fisher-Yates shuffle driven by a (seed, class) stream, so adding a class does not change the others' picks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "subset.h"

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

sc_status sc_subset_balanced(const sc_dataset *ds, double fraction, uint64_t seed, int64_t **out, int64_t *n) {
  *out = NULL, *n = 0;
  if (!ds->labels || ds->nclasses < 1) return sc_error(SC_EINVAL, "%s: a balanced subset needs labels", ds->root);
  if (!(fraction > 0.0 && fraction <= 1.0))
    return sc_error(SC_EINVAL, "%s: subset fraction %g is outside (0, 1]", ds->root, fraction);
  int64_t *members = malloc(sizeof *members * (size_t)ds->n), *res = malloc(sizeof *res * (size_t)ds->n);
  if (!members || !res) {
    free(members), free(res);
    return sc_error(SC_ENOMEM, "out of memory");
  }
  int64_t total = 0;
  for (int c = 0; c < ds->nclasses; c++) {
    int64_t m = 0;
    for (int64_t i = 0; i < ds->n; i++)
      if (ds->labels[i] == c) members[m++] = i;
    if (m == 0) continue;
    int64_t k = (int64_t)(fraction * (double)m + 0.5);
    k = k < 1 ? 1 : (k > m ? m : k);
    sc_rng r;
    sc_rng_init_stream(&r, seed, 0x5355425345540000ull + (uint64_t)c); /* "SUBSET" + class */
    for (int64_t i = 0; i < k; i++) {
      int64_t j = i + (int64_t)sc_rng_below(&r, (uint64_t)(m - i)), t = members[i];
      members[i] = members[j], members[j] = t;
      res[total++] = members[i];
    }
  }
  free(members);
  qsort(res, (size_t)total, sizeof *res, cmp_i64);
  *out = res, *n = total;
  return SC_OK;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

typedef struct named {
  const char *name;
  int64_t index;
} named;
static int cmp_named(const void *a, const void *b) {
  return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

sc_status sc_subset_from_file(const sc_dataset *ds, const char *path, int64_t **out, int64_t *n) {
  *out = NULL, *n = 0;
  if (!ds->paths) return sc_error(SC_EINVAL, "%s: a subset list needs a dataset of image files", path);
  FILE *f = fopen(path, "r");
  if (!f) return sc_error(SC_EIO, "%s: cannot open the subset list", path);
  named *tab = malloc(sizeof *tab * (size_t)ds->n);
  int64_t *res = malloc(sizeof *res * (size_t)ds->n);
  char *used = calloc((size_t)ds->n, 1);
  if (!tab || !res || !used) {
    fclose(f), free(tab), free(res), free(used);
    return sc_error(SC_ENOMEM, "out of memory");
  }
  for (int64_t i = 0; i < ds->n; i++) tab[i] = (named){base_name(ds->paths[i]), i};
  qsort(tab, (size_t)ds->n, sizeof *tab, cmp_named);
  char line[4096];
  long lineno = 0;
  int64_t total = 0;
  sc_status st = SC_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      st = sc_error(SC_EFORMAT, "%s:%ld: line too long", path, lineno);
      break;
    }
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
      line[--len] = 0;
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s || *s == '#') continue;
    named key = {base_name(s), 0};
    named *hit = bsearch(&key, tab, (size_t)ds->n, sizeof *tab, cmp_named);
    if (!hit) {
      st = sc_error(SC_EFORMAT, "%s:%ld: '%s' is not an image of %s", path, lineno, s, ds->root);
      break;
    }
    /* the same base name may exist in several class folders: take every match */
    while (hit > tab && !strcmp(hit[-1].name, key.name)) hit--;
    for (; hit < tab + ds->n && !strcmp(hit->name, key.name); hit++)
      if (!used[hit->index]) used[hit->index] = 1, res[total++] = hit->index;
  }
  fclose(f);
  free(tab), free(used);
  if (st == SC_OK && total == 0) st = sc_error(SC_EFORMAT, "%s: the subset list names no images", path);
  if (st != SC_OK) {
    free(res);
    return st;
  }
  qsort(res, (size_t)total, sizeof *res, cmp_i64);
  *out = res, *n = total;
  return SC_OK;
}
