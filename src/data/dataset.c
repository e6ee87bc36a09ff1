/* dataset.c: opening the dataset sources of dataset.h: folder scans (sorted, so labels and order do not depend
 * on the file system), the IDX and CIFAR front ends, channel conversion, and the in-memory cache. Must not print,
 * and must leave nothing allocated when it fails. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/error.h"
#include "dataset.h"
#include "readers.h"

sc_dataset_options sc_dataset_options_default(void) {
  return (sc_dataset_options){
      .limits = sc_decode_limits_default(), .max_array_bytes = (size_t)1 << 30, .cache = -1, .cache_max_files = 4096};
}

const char *sc_data_format_name(sc_data_format f) {
  switch (f) {
  case SC_DATA_AUTO: return "auto";
  case SC_DATA_FOLDER: return "folder";
  case SC_DATA_FLAT: return "flat";
  case SC_DATA_IDX: return "idx";
  case SC_DATA_CIFAR10: return "cifar10";
  case SC_DATA_CIFAR100: return "cifar100";
  }
  return "unknown";
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}
static char *join(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  char *p = malloc(na + nb + 2);
  if (!p) return NULL;
  memcpy(p, a, na);
  p[na] = '/';
  memcpy(p + na + 1, b, nb + 1);
  return p;
}
static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}
static int has_image_ext(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct strlist {
  char **v;
  size_t n, cap;
} strlist;
static int strlist_push(strlist *l, char *s) {
  if (!s) return -1;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 64;
    char **nv = realloc(l->v, nc * sizeof *nv);
    if (!nv) return free(s), -1;
    l->v = nv, l->cap = nc;
  }
  l->v[l->n++] = s;
  return 0;
}
static void strlist_free(strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  *l = (strlist){0};
}

/* Names in dir (not starting with '.'), sorted; want_dirs picks folders, else image files. */
static sc_status list_dir(const char *dir, int want_dirs, strlist *out) {
  DIR *d = opendir(dir);
  if (!d) return sc_error(SC_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
  struct dirent *e;
  sc_status st = SC_OK;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *full = join(dir, e->d_name);
    if (!full) {
      st = sc_error(SC_ENOMEM, "%s: out of memory", dir);
      break;
    }
    int ok = want_dirs ? is_dir(full) : (has_image_ext(e->d_name) && !is_dir(full));
    free(full);
    if (ok && strlist_push(out, dupstr(e->d_name))) {
      st = sc_error(SC_ENOMEM, "%s: out of memory", dir);
      break;
    }
  }
  closedir(d);
  if (st == SC_OK && out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_str);
  return st;
}

void sc_dataset_close(sc_dataset *ds) {
  if (!ds) return;
  for (int i = 0; i < ds->nclasses; i++) free(ds->class_names ? ds->class_names[i] : NULL);
  free(ds->class_names);
  if (ds->paths)
    for (int64_t i = 0; i < ds->n; i++) free(ds->paths[i]);
  free(ds->paths), free(ds->labels), free(ds->px), free(ds->off), free(ds->w), free(ds->h), free(ds->root);
  free(ds);
}

/* Converts n pixels from cin to cout channels (1 <-> 3; luma as ITU-R 601, like the JPEG and PNG paths). */
static uint8_t *convert_channels(const uint8_t *src, size_t npix, int cin, int cout) {
  uint8_t *dst = malloc(npix * (size_t)cout);
  if (!dst) return NULL;
  if (cin == cout)
    memcpy(dst, src, npix * (size_t)cin);
  else if (cin == 1)
    for (size_t i = 0; i < npix; i++) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
  else
    for (size_t i = 0; i < npix; i++)
      dst[i] = (uint8_t)((299 * src[3 * i] + 587 * src[3 * i + 1] + 114 * src[3 * i + 2] + 500) / 1000);
  return dst;
}

/* Fills the in-memory layout for n images of one size. */
static sc_status set_uniform(sc_dataset *ds, int64_t n, int w, int h, int cin, uint8_t *px) {
  ds->n = n;
  if (cin != ds->c) {
    uint8_t *conv = convert_channels(px, (size_t)n * w * h, cin, ds->c);
    free(px);
    if (!conv) return sc_error(SC_ENOMEM, "%s: out of memory converting channels", ds->root);
    px = conv;
  }
  ds->px = px;
  ds->off = malloc(sizeof *ds->off * (size_t)n);
  ds->w = malloc(sizeof *ds->w * (size_t)n);
  ds->h = malloc(sizeof *ds->h * (size_t)n);
  if (!ds->off || !ds->w || !ds->h) return sc_error(SC_ENOMEM, "%s: out of memory", ds->root);
  for (int64_t i = 0; i < n; i++) ds->off[i] = (size_t)i * w * h * ds->c, ds->w[i] = w, ds->h[i] = h;
  return SC_OK;
}

static sc_status numeric_classes(sc_dataset *ds, int nclasses) {
  ds->nclasses = 0;
  ds->class_names = calloc((size_t)nclasses, sizeof *ds->class_names);
  if (!ds->class_names) return sc_error(SC_ENOMEM, "%s: out of memory", ds->root);
  for (int i = 0; i < nclasses; i++) {
    char buf[16];
    snprintf(buf, sizeof buf, "%d", i);
    if (!(ds->class_names[i] = dupstr(buf))) return sc_error(SC_ENOMEM, "%s: out of memory", ds->root);
    ds->nclasses = i + 1;
  }
  return SC_OK;
}

/* ---- IDX ------------------------------------------------------------------------------------------------------ */

static char *idx_find(const char *dir, const char *prefix, const char *kind) {
  static const char *const suffix[] = {"-ubyte.gz", "-ubyte", ".gz", ""};
  for (int s = 0; s < 4; s++) {
    char name[128];
    snprintf(name, sizeof name, "%s-%s%s", prefix, kind, suffix[s]);
    char *p = join(dir, name);
    if (p && is_file(p)) return p;
    free(p);
  }
  return NULL;
}

static sc_status open_idx(sc_dataset *ds) {
  const sc_dataset_options *o = &ds->opt;
  char *img = NULL, *lab = NULL;
  if (is_dir(o->path)) {
    const char *prefix = o->test_split ? "t10k" : "train";
    img = idx_find(o->path, prefix, "images-idx3");
    lab = idx_find(o->path, prefix, "labels-idx1");
    if (!img) return free(lab), sc_error(SC_EIO, "%s: no %s-images-idx3-ubyte[.gz] in this folder", o->path, prefix);
  } else {
    img = dupstr(o->path);
    const char *k = strstr(o->path, "images-idx3");
    if (k) { /* the labels file sits next to the images, same name with labels-idx1 */
      size_t pre = (size_t)(k - o->path);
      lab = malloc(strlen(o->path) + 2);
      if (lab) {
        memcpy(lab, o->path, pre);
        strcpy(lab + pre, "labels-idx1");
        strcat(lab, k + strlen("images-idx3"));
        if (!is_file(lab)) free(lab), lab = NULL;
      }
    }
  }
  uint8_t *buf = NULL, *px = NULL;
  size_t len;
  int64_t n = 0, nl = 0;
  int rows = 0, cols = 0;
  int32_t *labels = NULL;
  sc_status st = sc_read_maybe_gz(img, o->max_array_bytes, &buf, &len);
  if (st == SC_OK) st = sc_idx_parse_images(img, buf, len, &o->limits, &n, &rows, &cols, &px);
  free(buf), buf = NULL;
  if (st == SC_OK && lab) {
    st = sc_read_maybe_gz(lab, o->max_array_bytes, &buf, &len);
    if (st == SC_OK) st = sc_idx_parse_labels(lab, buf, len, &nl, &labels);
    if (st == SC_OK && nl != n)
      st = sc_error(SC_EFORMAT, "%s: %lld labels for %lld images in %s", lab, (long long)nl, (long long)n, img);
    free(buf);
  }
  if (st == SC_OK) {
    if (!ds->c) ds->c = 1;
    st = set_uniform(ds, n, cols, rows, 1, px);
    px = NULL;
  }
  if (st == SC_OK && labels) {
    int mx = 0;
    for (int64_t i = 0; i < n; i++) mx = labels[i] > mx ? labels[i] : mx;
    ds->labels = labels, labels = NULL;
    st = numeric_classes(ds, mx + 1);
  }
  free(px), free(labels), free(img), free(lab);
  return st;
}

/* ---- CIFAR ---------------------------------------------------------------------------------------------------- */

static sc_status open_cifar(sc_dataset *ds, int cifar100) {
  const sc_dataset_options *o = &ds->opt;
  strlist files = {0};
  sc_status st = SC_OK;
  if (is_dir(o->path)) {
    static const char *const sub[] = {"", "cifar-10-batches-bin", "cifar-100-binary"};
    for (int s = 0; s < 3 && files.n == 0; s++) {
      char *dir = s ? join(o->path, sub[s]) : dupstr(o->path);
      if (!dir) break;
      if (cifar100) {
        char *p = join(dir, o->test_split ? "test.bin" : "train.bin");
        if (p && is_file(p))
          strlist_push(&files, p);
        else
          free(p);
      } else if (o->test_split) {
        char *p = join(dir, "test_batch.bin");
        if (p && is_file(p))
          strlist_push(&files, p);
        else
          free(p);
      } else
        for (int b = 1; b <= 5; b++) {
          char name[32];
          snprintf(name, sizeof name, "data_batch_%d.bin", b);
          char *p = join(dir, name);
          if (p && is_file(p))
            strlist_push(&files, p);
          else
            free(p);
        }
      free(dir);
    }
    if (files.n == 0)
      return sc_error(SC_EIO, "%s: no CIFAR-%d %s batches in this folder", o->path, cifar100 ? 100 : 10,
                      o->test_split ? "test" : "training");
  } else if (strlist_push(&files, dupstr(o->path)))
    return sc_error(SC_ENOMEM, "out of memory");
  uint8_t *all = NULL;
  int32_t *labels = NULL;
  int64_t total = 0;
  for (size_t f = 0; f < files.n && st == SC_OK; f++) {
    uint8_t *buf, *px;
    int32_t *lab;
    size_t len;
    int64_t n;
    st = sc_read_file(files.v[f], o->max_array_bytes, &buf, &len);
    if (st != SC_OK) break;
    st = sc_cifar_parse(files.v[f], buf, len, cifar100, &n, &px, &lab);
    free(buf);
    if (st != SC_OK) break;
    uint8_t *na = realloc(all, (size_t)(total + n) * 3072);
    if (na) all = na;
    int32_t *nl = realloc(labels, sizeof *nl * (size_t)(total + n));
    if (nl) labels = nl;
    if (!na || !nl)
      st = sc_error(SC_ENOMEM, "%s: out of memory", files.v[f]);
    else {
      memcpy(all + (size_t)total * 3072, px, (size_t)n * 3072);
      memcpy(labels + total, lab, sizeof *lab * (size_t)n);
      total += n;
    }
    free(px), free(lab);
  }
  strlist_free(&files);
  if (st == SC_OK) {
    if (!ds->c) ds->c = 3;
    st = set_uniform(ds, total, 32, 32, 3, all);
    all = NULL;
  }
  if (st == SC_OK) {
    ds->labels = labels, labels = NULL;
    st = numeric_classes(ds, cifar100 ? 100 : 10);
  }
  free(all), free(labels);
  return st;
}

/* ---- image folders -------------------------------------------------------------------------------------------- */

/* Cheap validity check at open: size limits and a readable header from the first 64 KiB (the whole file if the
 * header lies further, as after a large EXIF block). */
static sc_status probe_file(sc_decoder *d, const char *path, const sc_decode_limits *lim) {
  FILE *f = fopen(path, "rb");
  if (!f) return sc_error(SC_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size == 0) {
    fclose(f);
    return sc_error(SC_EFORMAT, "%s: empty file", path);
  }
  if ((unsigned long long)st.st_size > lim->max_file_bytes) {
    fclose(f);
    return sc_error(SC_EFORMAT, "%s: %lld bytes, over the %zu-byte limit", path, (long long)st.st_size,
                    lim->max_file_bytes);
  }
  const size_t prefix = (size_t)1 << 16;
  uint8_t *buf = malloc(prefix);
  if (!buf) {
    fclose(f);
    return sc_error(SC_ENOMEM, "%s: out of memory", path);
  }
  size_t n = fread(buf, 1, prefix, f);
  fclose(f);
  int w, h;
  sc_status s = sc_image_probe(d, path, buf, n, lim, &w, &h);
  free(buf);
  if (s != SC_OK && (size_t)st.st_size > n) {
    uint8_t *all;
    size_t len;
    SC_TRY(sc_read_file(path, lim->max_file_bytes, &all, &len));
    s = sc_image_probe(d, path, all, len, lim, &w, &h);
    free(all);
  }
  return s;
}

static sc_status open_folder(sc_dataset *ds, int labelled) {
  const sc_dataset_options *o = &ds->opt;
  strlist classes = {0}, paths = {0};
  int32_t *labels = NULL;
  size_t nlab = 0, labcap = 0;
  sc_status st = SC_OK;
  if (labelled) {
    st = list_dir(o->path, 1, &classes);
    if (st == SC_OK && classes.n == 0) st = sc_error(SC_EFORMAT, "%s: no class sub-folders", o->path);
  }
  size_t nc = labelled ? classes.n : 1;
  for (size_t c = 0; c < nc && st == SC_OK; c++) {
    char *dir = labelled ? join(o->path, classes.v[c]) : dupstr(o->path);
    strlist files = {0};
    st = dir ? list_dir(dir, 0, &files) : sc_error(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < files.n && st == SC_OK; i++) {
      if (strlist_push(&paths, join(dir, files.v[i]))) st = sc_error(SC_ENOMEM, "out of memory");
      if (labelled && st == SC_OK) {
        if (nlab == labcap) {
          labcap = labcap ? labcap * 2 : 256;
          int32_t *nl = realloc(labels, labcap * sizeof *nl);
          if (!nl) {
            st = sc_error(SC_ENOMEM, "out of memory");
            break;
          }
          labels = nl;
        }
        labels[nlab++] = (int32_t)c;
      }
    }
    strlist_free(&files);
    free(dir);
  }
  if (st == SC_OK && paths.n == 0) st = sc_error(SC_EFORMAT, "%s: no .jpg, .jpeg or .png files", o->path);
  if (st != SC_OK) {
    strlist_free(&classes), strlist_free(&paths), free(labels);
    return st;
  }
  if (!ds->c) ds->c = 3;
  ds->paths = paths.v, ds->n = (int64_t)paths.n, ds->labels = labels;
  ds->class_names = classes.v, ds->nclasses = (int)classes.n;

  /* Validate (and, when caching, decode) every file; under SC_BAD_SKIP, bad ones are dropped and counted. */
  int cache = o->cache == 1 || (o->cache < 0 && ds->n <= o->cache_max_files);
  sc_decoder *d;
  SC_TRY(sc_decoder_create(&d));
  sc_image im = {0};
  size_t used = 0, cap = 0;
  int64_t keep = 0;
  if (cache) {
    ds->off = malloc(sizeof *ds->off * (size_t)ds->n);
    ds->w = malloc(sizeof *ds->w * (size_t)ds->n);
    ds->h = malloc(sizeof *ds->h * (size_t)ds->n);
    if (!ds->off || !ds->w || !ds->h) st = sc_error(SC_ENOMEM, "%s: out of memory", o->path);
  }
  for (int64_t i = 0; i < ds->n && st == SC_OK; i++) {
    sc_status s = cache ? sc_image_load(d, ds->paths[i], ds->c, o->min_short, &o->limits, &im)
                        : probe_file(d, ds->paths[i], &o->limits);
    if (s == SC_ENOMEM)
      st = s;
    else if (s != SC_OK) {
      if (o->bad == SC_BAD_STOP)
        st = s;
      else {
        ds->nbad++;
        free(ds->paths[i]), ds->paths[i] = NULL;
      }
      continue;
    }
    if (cache) {
      size_t bytes = (size_t)im.w * im.h * im.c;
      if (used + bytes > cap) {
        size_t ncap = cap ? cap * 2 : ((size_t)1 << 20);
        while (ncap < used + bytes) ncap *= 2;
        uint8_t *np = realloc(ds->px, ncap);
        if (!np) {
          st = sc_error(SC_ENOMEM, "%s: out of memory caching images", o->path);
          break;
        }
        ds->px = np, cap = ncap;
      }
      memcpy(ds->px + used, im.px, bytes);
      ds->off[keep] = used, ds->w[keep] = im.w, ds->h[keep] = im.h;
      used += bytes;
    }
    ds->paths[keep] = ds->paths[i];
    if (ds->labels) ds->labels[keep] = ds->labels[i];
    if (keep != i) ds->paths[i] = NULL;
    keep++;
  }
  sc_image_free(&im);
  sc_decoder_destroy(d);
  if (st != SC_OK) return st;
  for (int64_t i = keep; i < ds->n; i++) free(ds->paths[i]);
  ds->n = keep;
  if (keep == 0) return sc_error(SC_EFORMAT, "%s: all %lld image files are bad", o->path, (long long)ds->nbad);
  return SC_OK;
}

static sc_data_format detect(const char *path) {
  if (is_dir(path)) {
    char *p;
    if ((p = idx_find(path, "train", "images-idx3")) || (p = idx_find(path, "t10k", "images-idx3"))) {
      free(p);
      return SC_DATA_IDX;
    }
    static const char *const c10[] = {"data_batch_1.bin", "test_batch.bin", "cifar-10-batches-bin"};
    static const char *const c100[] = {"train.bin", "test.bin", "cifar-100-binary"};
    for (int i = 0; i < 3; i++) {
      char *a = join(path, c10[i]), *b = join(path, c100[i]);
      int ia = a && (is_file(a) || is_dir(a)), ib = b && (is_file(b) || is_dir(b));
      free(a), free(b);
      if (ia) return SC_DATA_CIFAR10;
      if (ib) return SC_DATA_CIFAR100;
    }
    strlist sub = {0};
    sc_data_format f = SC_DATA_FLAT;
    if (list_dir(path, 1, &sub) == SC_OK && sub.n > 0) f = SC_DATA_FOLDER;
    strlist_free(&sub);
    return f;
  }
  if (strstr(path, "idx") || strstr(path, "-ubyte")) return SC_DATA_IDX;
  const char *dot = strrchr(path, '.');
  if (dot && !strcmp(dot, ".bin")) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size % 3074 == 0 && st.st_size % 3073 != 0) return SC_DATA_CIFAR100;
    return SC_DATA_CIFAR10;
  }
  return SC_DATA_AUTO;
}

sc_status sc_dataset_open(const sc_dataset_options *o, sc_dataset **out) {
  *out = NULL;
  if (!o || !o->path || !*o->path) return sc_error(SC_EINVAL, "dataset: no path given");
  if (o->channels != 0 && o->channels != 1 && o->channels != 3)
    return sc_error(SC_EINVAL, "%s: %d channels requested (1 or 3)", o->path, o->channels);
  struct stat st;
  if (stat(o->path, &st) != 0) return sc_error(SC_EIO, "%s: %s", o->path, strerror(errno));
  sc_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return sc_error(SC_ENOMEM, "out of memory");
  ds->opt = *o;
  sc_decode_limits def = sc_decode_limits_default();
  if (!ds->opt.limits.max_w) ds->opt.limits.max_w = def.max_w;
  if (!ds->opt.limits.max_h) ds->opt.limits.max_h = def.max_h;
  if (!ds->opt.limits.max_file_bytes) ds->opt.limits.max_file_bytes = def.max_file_bytes;
  if (!ds->opt.max_array_bytes) ds->opt.max_array_bytes = (size_t)1 << 30;
  if (!ds->opt.cache_max_files) ds->opt.cache_max_files = 4096;
  ds->root = dupstr(o->path);
  ds->opt.path = ds->root;
  ds->c = o->channels;
  ds->format = o->format ? o->format : detect(o->path);
  sc_status s;
  switch (ds->format) {
  case SC_DATA_IDX: s = open_idx(ds); break;
  case SC_DATA_CIFAR10: s = open_cifar(ds, 0); break;
  case SC_DATA_CIFAR100: s = open_cifar(ds, 1); break;
  case SC_DATA_FOLDER: s = open_folder(ds, 1); break;
  case SC_DATA_FLAT: s = open_folder(ds, 0); break;
  default: s = sc_error(SC_EFORMAT, "%s: cannot tell the dataset format (not a folder, IDX or CIFAR file)", o->path);
  }
  if (s != SC_OK) {
    sc_dataset_close(ds);
    return s;
  }
  *out = ds;
  return SC_OK;
}

sc_status sc_dataset_image(const sc_dataset *ds, sc_decoder *d, int64_t i, sc_image *scratch, sc_image *view) {
  if (i < 0 || i >= ds->n)
    return sc_error(SC_EINVAL, "%s: image %lld of %lld", ds->root, (long long)i, (long long)ds->n);
  if (ds->px) {
    *view = (sc_image){.w = ds->w[i], .h = ds->h[i], .c = ds->c, .px = ds->px + ds->off[i]};
    return SC_OK;
  }
  SC_TRY(sc_image_load(d, ds->paths[i], ds->c, ds->opt.min_short, &ds->opt.limits, scratch));
  *view = (sc_image){.w = scratch->w, .h = scratch->h, .c = scratch->c, .px = scratch->px};
  return SC_OK;
}
