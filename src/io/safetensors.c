/* safetensors.c: the safetensors reader and writer (see safetensors.h for the rules enforced). The JSON header is
 * parsed and produced with jansson; this file only checks what the format requires of it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "safetensors.h"

#define HEADER_MAX 100000000ull

static const struct {
  const char *name;
  size_t size;
} dtypes[SC_DT_COUNT] = {
    [SC_DT_BOOL] = {"BOOL", 1}, [SC_DT_U8] = {"U8", 1},   [SC_DT_I8] = {"I8", 1},
    [SC_DT_F8_E5M2] = {"F8_E5M2", 1}, [SC_DT_F8_E4M3] = {"F8_E4M3", 1}, [SC_DT_I16] = {"I16", 2},
    [SC_DT_U16] = {"U16", 2}, [SC_DT_F16] = {"F16", 2}, [SC_DT_BF16] = {"BF16", 2},
    [SC_DT_I32] = {"I32", 4}, [SC_DT_U32] = {"U32", 4}, [SC_DT_F32] = {"F32", 4},
    [SC_DT_F64] = {"F64", 8}, [SC_DT_I64] = {"I64", 8}, [SC_DT_U64] = {"U64", 8},
};

const char *sc_dtype_name(sc_dtype dt) { return (unsigned)dt < SC_DT_COUNT ? dtypes[dt].name : "?"; }
size_t sc_dtype_size(sc_dtype dt) { return (unsigned)dt < SC_DT_COUNT ? dtypes[dt].size : 0; }

static int host_is_little_endian(void) {
  const uint16_t one = 1;
  uint8_t b;
  memcpy(&b, &one, 1);
  return b == 1;
}

int64_t sc_st_numel(const sc_st_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->shape[i];
  return n;
}

void sc_st_free(sc_st_file *f) {
  if (!f) return;
  for (size_t i = 0; i < f->ntensors; i++) free(f->tensors[i].name);
  for (size_t i = 0; i < f->nmeta; i++) free(f->meta_keys[i]), free(f->meta_values[i]);
  free(f->tensors), free(f->meta_keys), free(f->meta_values), free(f->bytes), free(f);
}

static int by_begin(const void *a, const void *b) {
  const sc_st_tensor *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static sc_status parse_tensor(const char *what, const char *name, json_t *v, sc_st_tensor *t) {
  if (!json_is_object(v)) return sc_error(SC_EFORMAT, "%s: tensor '%s' is not a JSON object", what, name);
  json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
         *off = json_object_get(v, "data_offsets");
  if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(off) || json_array_size(off) != 2)
    return sc_error(SC_EFORMAT, "%s: tensor '%s' needs \"dtype\" (string), \"shape\" (array) and "
                    "\"data_offsets\" ([begin, end])", what, name);
  t->dtype = SC_DT_COUNT;
  for (int i = 0; i < SC_DT_COUNT; i++)
    if (!strcmp(json_string_value(dt), dtypes[i].name)) t->dtype = (sc_dtype)i;
  if (t->dtype == SC_DT_COUNT)
    return sc_error(SC_EFORMAT, "%s: tensor '%s' has unknown dtype '%s'", what, name, json_string_value(dt));
  if (json_array_size(shape) > SC_ST_MAX_RANK)
    return sc_error(SC_EFORMAT, "%s: tensor '%s' has rank %zu (at most %d supported)", what, name,
                    json_array_size(shape), SC_ST_MAX_RANK);
  t->rank = (int)json_array_size(shape);
  uint64_t nbytes = dtypes[t->dtype].size;
  for (int i = 0; i < t->rank; i++) {
    json_t *d = json_array_get(shape, (size_t)i);
    if (!json_is_integer(d) || json_integer_value(d) < 0)
      return sc_error(SC_EFORMAT, "%s: tensor '%s' has a shape entry that is not a non-negative integer", what,
                      name);
    uint64_t dim = (uint64_t)json_integer_value(d);
    if (dim && nbytes > UINT64_MAX / dim)
      return sc_error(SC_EFORMAT, "%s: tensor '%s': size of the shape overflows", what, name);
    nbytes *= dim;
    t->shape[i] = (int64_t)dim;
  }
  json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
  if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
      json_integer_value(e) < json_integer_value(b))
    return sc_error(SC_EFORMAT, "%s: tensor '%s' has invalid data_offsets", what, name);
  t->begin = (size_t)json_integer_value(b);
  t->end = (size_t)json_integer_value(e);
  if ((uint64_t)(t->end - t->begin) != nbytes)
    return sc_error(SC_EFORMAT, "%s: tensor '%s': data_offsets span %zu bytes but %s%s needs %llu", what, name,
                    t->end - t->begin, dtypes[t->dtype].name, t->rank ? " of that shape" : "",
                    (unsigned long long)nbytes);
  t->name = strdup(name);
  return t->name ? SC_OK : sc_error(SC_ENOMEM, "%s: out of memory", what);
}

static sc_status parse_header(sc_st_file *f, json_t *root, const char *what) {
  size_t n = json_object_size(root);
  f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
  f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
  f->meta_values = calloc(n ? n : 1, sizeof *f->meta_values);
  if (!f->tensors || !f->meta_keys || !f->meta_values) return sc_error(SC_ENOMEM, "%s: out of memory", what);
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    if (!strcmp(key, "__metadata__")) {
      if (!json_is_object(v)) return sc_error(SC_EFORMAT, "%s: __metadata__ is not an object", what);
      const char *mk;
      json_t *mv;
      json_object_foreach(v, mk, mv) {
        if (!json_is_string(mv))
          return sc_error(SC_EFORMAT, "%s: metadata value of '%s' is not a string", what, mk);
        if (f->nmeta == n) { /* more metadata than top-level keys: grow */
          size_t cap = 2 * n + 8;
          char **k2 = realloc(f->meta_keys, cap * sizeof *k2);
          if (!k2) return sc_error(SC_ENOMEM, "%s: out of memory", what);
          f->meta_keys = k2;
          char **v2 = realloc(f->meta_values, cap * sizeof *v2);
          if (!v2) return sc_error(SC_ENOMEM, "%s: out of memory", what);
          f->meta_values = v2;
          n = cap;
        }
        f->meta_keys[f->nmeta] = strdup(mk);
        f->meta_values[f->nmeta] = strdup(json_string_value(mv));
        f->nmeta++;
        if (!f->meta_keys[f->nmeta - 1] || !f->meta_values[f->nmeta - 1])
          return sc_error(SC_ENOMEM, "%s: out of memory", what);
      }
      continue;
    }
    SC_TRY(parse_tensor(what, key, v, &f->tensors[f->ntensors]));
    f->ntensors++;
  }
  /* sorted by offset, the tensors must tile the data area exactly */
  sc_st_tensor *sorted = malloc((f->ntensors ? f->ntensors : 1) * sizeof *sorted);
  if (!sorted) return sc_error(SC_ENOMEM, "%s: out of memory", what);
  memcpy(sorted, f->tensors, f->ntensors * sizeof *sorted);
  qsort(sorted, f->ntensors, sizeof *sorted, by_begin);
  size_t expect = 0;
  sc_status st = SC_OK;
  for (size_t i = 0; i < f->ntensors && st == SC_OK; i++) {
    if (sorted[i].begin != expect)
      st = sc_error(SC_EFORMAT, "%s: tensor '%s' starts at byte %zu of the data, expected %zu (tensors must "
                    "follow each other with no gap or overlap)", what, sorted[i].name, sorted[i].begin, expect);
    expect = sorted[i].end;
  }
  free(sorted);
  SC_TRY(st);
  if (expect != f->size - f->data_offset)
    return sc_error(SC_EFORMAT, "%s: tensors cover %zu bytes of data but the file holds %zu after the header "
                    "(truncated file or trailing bytes)", what, expect, f->size - f->data_offset);
  return SC_OK;
}

sc_status sc_st_parse(const uint8_t *buf, size_t len, const char *what, sc_st_file **out) {
  if (!buf && len) return sc_error(SC_EINVAL, "sc_st_parse: null buffer");
  if (!out) return sc_error(SC_EINVAL, "sc_st_parse: null output");
  *out = NULL;
  if (!what) what = "safetensors";
  if (!host_is_little_endian()) return sc_error(SC_EUNSUPPORTED, "%s: big-endian hosts are not supported", what);
  if (len < 8) return sc_error(SC_EFORMAT, "%s: file of %zu bytes is too small for a safetensors header", what, len);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
  if (hlen > HEADER_MAX)
    return sc_error(SC_EFORMAT, "%s: header length %llu exceeds the 100 MB limit", what, (unsigned long long)hlen);
  if (hlen > len - 8)
    return sc_error(SC_EFORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", what,
                    (unsigned long long)hlen, len);
  if (hlen == 0 || buf[8] != '{')
    return sc_error(SC_EFORMAT, "%s: header does not start with '{'", what);
  sc_st_file *f = calloc(1, sizeof *f);
  if (!f) return sc_error(SC_ENOMEM, "%s: out of memory", what);
  f->bytes = malloc(len);
  if (!f->bytes) {
    free(f);
    return sc_error(SC_ENOMEM, "%s: out of memory for %zu bytes", what, len);
  }
  memcpy(f->bytes, buf, len);
  f->size = len;
  f->data_offset = 8 + (size_t)hlen;
  json_error_t jerr;
  json_t *root = json_loadb((const char *)f->bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
  sc_status st;
  if (!root)
    st = sc_error(SC_EFORMAT, "%s: header is not valid JSON: %s (at byte %d)", what, jerr.text, jerr.position);
  else if (!json_is_object(root))
    st = sc_error(SC_EFORMAT, "%s: header is not a JSON object", what);
  else
    st = parse_header(f, root, what);
  json_decref(root);
  if (st != SC_OK) {
    sc_st_free(f);
    return st;
  }
  *out = f;
  return SC_OK;
}

sc_status sc_st_read(const char *path, size_t max_bytes, sc_st_file **out) {
  if (!path || !out) return sc_error(SC_EINVAL, "sc_st_read: null argument");
  *out = NULL;
  if (max_bytes == 0) max_bytes = (size_t)16 << 30;
  FILE *fp = fopen(path, "rb");
  if (!fp) return sc_error(SC_EIO, "%s: %s", path, strerror(errno));
  sc_status st = SC_OK;
  uint8_t *buf = NULL;
  long size = -1;
  if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
  if (size < 0 || fseek(fp, 0, SEEK_SET) != 0)
    st = sc_error(SC_EIO, "%s: cannot determine the file size", path);
  else if ((unsigned long)size > max_bytes)
    st = sc_error(SC_EFORMAT, "%s: file of %ld bytes exceeds the limit of %zu", path, size, max_bytes);
  else if (!(buf = malloc(size ? (size_t)size : 1)))
    st = sc_error(SC_ENOMEM, "%s: out of memory for %ld bytes", path, size);
  else if (fread(buf, 1, (size_t)size, fp) != (size_t)size)
    st = sc_error(SC_EIO, "%s: read failed", path);
  fclose(fp);
  if (st == SC_OK) st = sc_st_parse(buf, (size_t)size, path, out);
  free(buf);
  return st;
}

const sc_st_tensor *sc_st_find(const sc_st_file *f, const char *name) {
  for (size_t i = 0; f && name && i < f->ntensors; i++)
    if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
  return NULL;
}

const void *sc_st_data(const sc_st_file *f, const sc_st_tensor *t) { return f->bytes + f->data_offset + t->begin; }

const char *sc_st_meta(const sc_st_file *f, const char *key) {
  for (size_t i = 0; f && key && i < f->nmeta; i++)
    if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
  return NULL;
}

/* ---- writer ---------------------------------------------------------------------------------------------------- */

struct sc_st_writer {
  sc_st_tensor *tensors;
  const void **data;
  size_t n, cap;
  json_t *meta;
};

sc_status sc_st_writer_new(sc_st_writer **out) {
  if (!out) return sc_error(SC_EINVAL, "sc_st_writer_new: null output");
  sc_st_writer *w = calloc(1, sizeof *w);
  if (!w || !(w->meta = json_object())) {
    free(w);
    return sc_error(SC_ENOMEM, "safetensors writer: out of memory");
  }
  *out = w;
  return SC_OK;
}

void sc_st_writer_free(sc_st_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n; i++) free(w->tensors[i].name);
  free(w->tensors), free(w->data);
  json_decref(w->meta);
  free(w);
}

sc_status sc_st_writer_add(sc_st_writer *w, const char *name, sc_dtype dt, int rank, const int64_t *shape,
                           const void *data) {
  if (!w || !name || (rank > 0 && !shape)) return sc_error(SC_EINVAL, "safetensors writer: null argument");
  if ((unsigned)dt >= SC_DT_COUNT || rank < 0 || rank > SC_ST_MAX_RANK)
    return sc_error(SC_EINVAL, "safetensors writer: tensor '%s': bad dtype or rank", name);
  if (!strcmp(name, "__metadata__") || !*name)
    return sc_error(SC_EINVAL, "safetensors writer: '%s' is not a valid tensor name", name);
  for (size_t i = 0; i < w->n; i++)
    if (!strcmp(w->tensors[i].name, name))
      return sc_error(SC_EINVAL, "safetensors writer: duplicate tensor '%s'", name);
  sc_st_tensor t = {.dtype = dt, .rank = rank};
  uint64_t nbytes = dtypes[dt].size;
  for (int i = 0; i < rank; i++) {
    if (shape[i] < 0 || (shape[i] && nbytes > UINT64_MAX / (uint64_t)shape[i]))
      return sc_error(SC_EINVAL, "safetensors writer: tensor '%s': bad shape", name);
    t.shape[i] = shape[i];
    nbytes *= (uint64_t)shape[i];
  }
  if (nbytes && !data) return sc_error(SC_EINVAL, "safetensors writer: tensor '%s': null data", name);
  t.end = (size_t)nbytes; /* size for now; offsets are assigned when saving */
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    sc_st_tensor *t2 = realloc(w->tensors, cap * sizeof *t2);
    if (!t2) return sc_error(SC_ENOMEM, "safetensors writer: out of memory");
    w->tensors = t2;
    const void **d2 = realloc(w->data, cap * sizeof *d2);
    if (!d2) return sc_error(SC_ENOMEM, "safetensors writer: out of memory");
    w->data = d2;
    w->cap = cap;
  }
  if (!(t.name = strdup(name))) return sc_error(SC_ENOMEM, "safetensors writer: out of memory");
  w->tensors[w->n] = t;
  w->data[w->n] = data;
  w->n++;
  return SC_OK;
}

sc_status sc_st_writer_meta(sc_st_writer *w, const char *key, const char *value) {
  if (!w || !key || !value) return sc_error(SC_EINVAL, "safetensors writer: null metadata");
  json_t *s = json_string(value);
  if (!s || json_object_set_new(w->meta, key, s) != 0)
    return sc_error(SC_EINVAL, "safetensors writer: metadata '%s' is not valid UTF-8", key);
  return SC_OK;
}

typedef struct save_ctx {
  const sc_st_writer *w;
  const size_t *order;
  const char *header;
  size_t hlen;
} save_ctx;

static sc_status save_body(FILE *fp, void *p) {
  const save_ctx *c = p;
  uint8_t len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)c->hlen >> (8 * i));
  if (fwrite(len8, 1, 8, fp) != 8 || fwrite(c->header, 1, c->hlen, fp) != c->hlen)
    return sc_error(SC_EIO, "write failed");
  for (size_t i = 0; i < c->w->n; i++) {
    const sc_st_tensor *t = &c->w->tensors[c->order[i]];
    size_t nbytes = t->end - t->begin;
    if (nbytes && fwrite(c->w->data[c->order[i]], 1, nbytes, fp) != nbytes) return sc_error(SC_EIO, "write failed");
  }
  return SC_OK;
}

static const sc_st_writer *sort_writer;
static int by_alignment_then_name(const void *a, const void *b) {
  const sc_st_tensor *x = &sort_writer->tensors[*(const size_t *)a], *y = &sort_writer->tensors[*(const size_t *)b];
  size_t ax = dtypes[x->dtype].size, ay = dtypes[y->dtype].size;
  if (ax != ay) return ax > ay ? -1 : 1;
  return strcmp(x->name, y->name);
}

sc_status sc_st_writer_save(sc_st_writer *w, const char *path) {
  if (!w || !path) return sc_error(SC_EINVAL, "safetensors writer: null argument");
  if (!host_is_little_endian()) return sc_error(SC_EUNSUPPORTED, "big-endian hosts are not supported");
  size_t *order = malloc((w->n ? w->n : 1) * sizeof *order);
  json_t *root = json_object();
  char *header = NULL;
  sc_status st = SC_OK;
  if (!order || !root) {
    st = sc_error(SC_ENOMEM, "safetensors writer: out of memory");
    goto done;
  }
  for (size_t i = 0; i < w->n; i++) order[i] = i;
  sort_writer = w; /* qsort has no context argument; saving is not meant to run concurrently on one writer */
  qsort(order, w->n, sizeof *order, by_alignment_then_name);
  if (json_object_size(w->meta)) json_object_set(root, "__metadata__", w->meta);
  size_t offset = 0;
  for (size_t i = 0; i < w->n; i++) {
    sc_st_tensor *t = &w->tensors[order[i]];
    size_t nbytes = t->end - t->begin;
    t->begin = offset;
    t->end = offset + nbytes;
    offset = t->end;
    json_t *shape = json_array();
    for (int d = 0; d < t->rank; d++) json_array_append_new(shape, json_integer(t->shape[d]));
    json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtypes[t->dtype].name, "shape", shape, "data_offsets",
                          (json_int_t)t->begin, (json_int_t)t->end);
    if (!e || json_object_set_new(root, t->name, e) != 0) {
      st = sc_error(SC_ENOMEM, "safetensors writer: cannot build the header");
      goto done;
    }
  }
  char *json = json_dumps(root, JSON_COMPACT);
  if (!json) {
    st = sc_error(SC_ENOMEM, "safetensors writer: cannot build the header");
    goto done;
  }
  size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
  header = malloc(hlen);
  if (!header) {
    free(json);
    st = sc_error(SC_ENOMEM, "safetensors writer: out of memory");
    goto done;
  }
  memcpy(header, json, jlen);
  memset(header + jlen, ' ', hlen - jlen);
  free(json);
  save_ctx ctx = {.w = w, .order = order, .header = header, .hlen = hlen};
  st = sc_atomic_write(path, save_body, &ctx);
done:
  /* offsets are recomputed on every save, so turn them back into sizes */
  for (size_t i = 0; i < w->n; i++) {
    w->tensors[i].end -= w->tensors[i].begin;
    w->tensors[i].begin = 0;
  }
  free(order), free(header);
  json_decref(root);
  return st;
}
