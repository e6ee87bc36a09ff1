/* test_safetensors.c: the safetensors writer and reader: a round trip of several dtypes and metadata, the layout
 * rules the writer must follow (8-byte aligned header, tensors ordered by alignment then name), every malformed
 * file the reader must refuse (each mutation below breaks exactly one rule), and, where Debian's python3-torch is
 * installed, that a reader written independently in Python (torch tensors; safetensors.torch.load_file too
 * where that package exists) reads back exactly what we wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"

static char *temp_path(const char *name) {
  static char buf[256];
  snprintf(buf, sizeof buf, "/tmp/sc_test_st_%d_%s", (int)getpid(), name);
  return buf;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  SC_ASSERT(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  SC_ASSERT(fread(b, 1, (size_t)n, f) == (size_t)n, "short read of %s", path);
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* Writes a small file with an F32 matrix, an I64 scalar and a U8 vector plus metadata; returns its path. */
static const char *write_sample(void) {
  static float w[2][3] = {{1, 2, 3}, {4, 5, 6}};
  static int64_t count = 42;
  static uint8_t bytes[5] = {9, 8, 7, 6, 5};
  sc_st_writer *wr;
  SC_ASSERT(sc_st_writer_new(&wr) == SC_OK, "writer: %s", sc_last_error());
  SC_ASSERT(sc_st_writer_add(wr, "layer.weight", SC_DT_F32, 2, (int64_t[]){2, 3}, w) == SC_OK, "%s",
            sc_last_error());
  SC_ASSERT(sc_st_writer_add(wr, "bn.num_batches_tracked", SC_DT_I64, 0, NULL, &count) == SC_OK, "%s",
            sc_last_error());
  SC_ASSERT(sc_st_writer_add(wr, "bytes", SC_DT_U8, 1, (int64_t[]){5}, bytes) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(sc_st_writer_add(wr, "bytes", SC_DT_U8, 1, (int64_t[]){5}, bytes) == SC_EINVAL, "duplicate accepted");
  SC_ASSERT(sc_st_writer_meta(wr, "arch", "resnet18") == SC_OK, "%s", sc_last_error());
  const char *path = temp_path("sample.safetensors");
  SC_ASSERT(sc_st_writer_save(wr, path) == SC_OK, "save: %s", sc_last_error());
  sc_st_writer_free(wr);
  return path;
}

SC_TEST(safetensors, round_trip) {
  const char *path = write_sample();
  sc_st_file *f;
  SC_ASSERT(sc_st_read(path, 0, &f) == SC_OK, "read: %s", sc_last_error());
  SC_ASSERT(f->ntensors == 3, "%zu tensors", f->ntensors);
  const sc_st_tensor *t = sc_st_find(f, "layer.weight");
  SC_ASSERT(t && t->dtype == SC_DT_F32 && t->rank == 2 && t->shape[0] == 2 && t->shape[1] == 3, "layer.weight");
  float w[6];
  memcpy(w, sc_st_data(f, t), sizeof w);
  for (int i = 0; i < 6; i++) SC_ASSERT(w[i] == (float)(i + 1), "w[%d] = %g", i, w[i]);
  t = sc_st_find(f, "bn.num_batches_tracked");
  SC_ASSERT(t && t->dtype == SC_DT_I64 && t->rank == 0 && sc_st_numel(t) == 1, "scalar I64");
  int64_t c;
  memcpy(&c, sc_st_data(f, t), 8);
  SC_ASSERT(c == 42, "count %lld", (long long)c);
  SC_ASSERT(sc_st_meta(f, "arch") && !strcmp(sc_st_meta(f, "arch"), "resnet18"), "metadata");
  SC_ASSERT(sc_st_meta(f, "nope") == NULL, "missing metadata found");
  /* layout: header length a multiple of 8, 8-byte dtypes first, then 4-byte, then 1-byte (names break ties) */
  SC_ASSERT(f->data_offset % 8 == 0, "data offset %zu not aligned", f->data_offset);
  SC_ASSERT(sc_st_find(f, "bn.num_batches_tracked")->begin == 0 && sc_st_find(f, "layer.weight")->begin == 8 &&
                sc_st_find(f, "bytes")->begin == 32,
            "tensors not ordered by alignment");
  sc_st_free(f);
  unlink(path);
}

/* Each case rewrites the header of a valid file (or cuts it) and expects SC_EFORMAT with `needle` in the message. */
static void expect_refused(const uint8_t *file, size_t len, const char *needle, const char *label) {
  sc_st_file *f = NULL;
  sc_status st = sc_st_parse(file, len, "case.safetensors", &f);
  SC_ASSERT(st == SC_EFORMAT, "%s: accepted (status %d)", label, (int)st);
  SC_ASSERT(f == NULL, "%s: output set on failure", label);
  SC_ASSERT(strstr(sc_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", label, sc_last_error(), needle);
  SC_ASSERT(strstr(sc_last_error(), "case.safetensors") != NULL, "%s: message does not name the file", label);
}

/* Builds "len8 + header + data" from a header string and a data size. */
static uint8_t *build(const char *header, size_t data_len, size_t *len) {
  size_t h = strlen(header);
  *len = 8 + h + data_len;
  uint8_t *b = calloc(1, *len);
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
  memcpy(b + 8, header, h);
  return b;
}

SC_TEST(safetensors, refuses_malformed_files) {
  static const struct {
    const char *header;
    size_t data;
    const char *needle, *label;
  } cases[] = {
      {"[1, 2]", 0, "start with '{'", "array header"},
      {" {}", 0, "start with '{'", "leading space"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8, "JSON", "unterminated JSON"},
      {"{\"a\": {\"dtype\": \"F33\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "unknown dtype", "bad dtype"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, "needs 12", "shape/size"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, "non-negative", "neg dim"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, "invalid data_offsets", "end<b"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "expected 0", "hole"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", "
       "\"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "expected 8", "overlap"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 9, "trailing", "trailing byte"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"a\": {\"dtype\": \"F32\", "
       "\"shape\": [2], \"data_offsets\": [8, 16]}}", 16, "JSON", "duplicate key"},
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 8]}}", 8,
       "overflows", "overflowing shape"},
      {"{\"__metadata__\": {\"k\": 3}}", 0, "not a string", "non-string metadata"},
      {"{\"a\": \"x\"}", 0, "not a JSON object", "tensor not an object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len;
    uint8_t *b = build(cases[i].header, cases[i].data, &len);
    expect_refused(b, len, cases[i].needle, cases[i].label);
    free(b);
  }
  /* length field lies: larger than the file, larger than the 100 MB cap; file shorter than 8 bytes */
  size_t len;
  uint8_t *b = build("{}", 0, &len);
  b[0] = 200;
  expect_refused(b, len, "past the end", "header past end");
  b[0] = 0, b[3] = 0x10; /* 256 MiB */
  expect_refused(b, len, "100 MB", "huge header");
  expect_refused(b, 5, "too small", "5-byte file");
  free(b);
  /* invalid UTF-8 inside the header */
  b = build("{\"\xff\xfe\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [0, 0]}}", 0, &len);
  expect_refused(b, len, "JSON", "invalid UTF-8");
  free(b);
}

SC_TEST(safetensors, truncated_real_file_is_refused) {
  const char *path = write_sample();
  size_t len;
  uint8_t *b = slurp(path, &len);
  for (size_t cut = 0; cut < len; cut += 7) expect_refused(b, cut, "", "truncated");
  free(b);
  sc_st_file *f;
  SC_ASSERT(sc_st_read("/nonexistent/dir/x.safetensors", 0, &f) == SC_EIO, "missing file");
  SC_ASSERT(strstr(sc_last_error(), "/nonexistent/dir/x.safetensors") != NULL, "message: %s", sc_last_error());
  SC_ASSERT(sc_st_read(path, 16, &f) == SC_EFORMAT, "size cap ignored");
  unlink(path);
}

SC_TEST(safetensors, python_reader_agrees) {
  if (access("/usr/bin/python3", X_OK) != 0 ||
      system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    SC_SKIP("python3-torch is not installed: the PyTorch round trip was not run");
  const char *path = write_sample();
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 - '%s' <<'EOF'\n"
           "import json, struct, sys, torch\n"
           "raw = open(sys.argv[1], 'rb').read()\n"
           "n = struct.unpack('<Q', raw[:8])[0]\n"
           "hdr = json.loads(raw[8:8 + n])\n"
           "data = raw[8 + n:]\n"
           "dt = {'F32': torch.float32, 'I64': torch.int64, 'U8': torch.uint8}\n"
           "out = {}\n"
           "for k, v in hdr.items():\n"
           "    if k == '__metadata__': continue\n"
           "    b, e = v['data_offsets']\n"
           "    out[k] = torch.frombuffer(bytearray(data[b:e]), dtype=dt[v['dtype']]).reshape(v['shape'])\n"
           "try:\n"
           "    from safetensors.torch import load_file\n"
           "    ref = load_file(sys.argv[1])\n"
           "    assert set(ref) == set(out) and all(torch.equal(ref[k], out[k]) for k in ref)\n"
           "except ImportError:\n"
           "    pass\n"
           "assert out['layer.weight'].tolist() == [[1, 2, 3], [4, 5, 6]], out['layer.weight']\n"
           "assert out['bn.num_batches_tracked'].item() == 42 and out['bn.num_batches_tracked'].dim() == 0\n"
           "assert out['bytes'].tolist() == [9, 8, 7, 6, 5]\n"
           "assert hdr['__metadata__'] == {'arch': 'resnet18'}\n"
           "EOF",
           path);
  int rc = system(cmd);
  unlink(path);
  SC_ASSERT(rc == 0, "PyTorch could not read the file we wrote (exit %d)", rc);
}
