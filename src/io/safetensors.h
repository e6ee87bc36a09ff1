/* safetensors.h: reading and writing safetensors files (8-byte little-endian header length, a JSON header, then
 * the raw little-endian tensor bytes), the format of every checkpoint and exported model, loadable by PyTorch with
 * safetensors.torch.load_file.
 *
 * The reader enforces the rules of the reference parser and one more: the file is at least 8 bytes, the header at
 * most 100,000,000 bytes and inside the file, valid UTF-8 JSON starting with '{'; every tensor has a known dtype, a
 * shape whose element count times dtype size does not overflow and equals END-BEGIN; sorted by offset, the tensors
 * cover the data area exactly (no overlap, no hole, no trailing byte); no duplicate names. A file that breaks any of
 * them is refused with SC_EFORMAT and a message naming the rule and the tensor. The writer orders tensors by
 * descending dtype alignment then name, pads the header with spaces to a multiple of 8 (so data is aligned), and
 * replaces the target atomically. Never prints.
 */
#ifndef SC_CORE_SAFETENSORS_H
#define SC_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "simclr.h"

typedef enum sc_dtype {
  SC_DT_BOOL, SC_DT_U8, SC_DT_I8, SC_DT_F8_E5M2, SC_DT_F8_E4M3, SC_DT_I16, SC_DT_U16, SC_DT_F16, SC_DT_BF16,
  SC_DT_I32, SC_DT_U32, SC_DT_F32, SC_DT_F64, SC_DT_I64, SC_DT_U64, SC_DT_COUNT
} sc_dtype;

enum { SC_ST_MAX_RANK = 8 };

typedef struct sc_st_tensor {
  char *name;
  sc_dtype dtype;
  int rank;
  int64_t shape[SC_ST_MAX_RANK];
  size_t begin, end; /* byte offsets into the data area */
} sc_st_tensor;

typedef struct sc_st_file {
  uint8_t *bytes;      /* the whole file */
  size_t size;
  size_t data_offset;  /* 8 + header length */
  sc_st_tensor *tensors;
  size_t ntensors;
  char **meta_keys, **meta_values; /* __metadata__, string to string */
  size_t nmeta;
} sc_st_file;

/* "F32", "I64", ... and the size in bytes of one element. */
const char *sc_dtype_name(sc_dtype dt);
size_t sc_dtype_size(sc_dtype dt);

/* Parses a whole file held in memory; on success *out owns a copy of buf. `what` names the source in messages. */
sc_status sc_st_parse(const uint8_t *buf, size_t len, const char *what, sc_st_file **out);
/* Reads and parses path (refusing files over max_bytes; 0 means 16 GiB). */
sc_status sc_st_read(const char *path, size_t max_bytes, sc_st_file **out);
void sc_st_free(sc_st_file *f);

const sc_st_tensor *sc_st_find(const sc_st_file *f, const char *name);
/* The tensor's bytes (little-endian; may be unaligned for exotic headers: copy with memcpy). */
const void *sc_st_data(const sc_st_file *f, const sc_st_tensor *t);
/* The metadata value of key, or NULL. */
const char *sc_st_meta(const sc_st_file *f, const char *key);
/* Number of elements of t. */
int64_t sc_st_numel(const sc_st_tensor *t);

/* Writer: collects tensors (data pointers are borrowed until sc_st_writer_save) and metadata, then writes. */
typedef struct sc_st_writer sc_st_writer;
sc_status sc_st_writer_new(sc_st_writer **out);
sc_status sc_st_writer_add(sc_st_writer *w, const char *name, sc_dtype dt, int rank, const int64_t *shape,
                           const void *data);
sc_status sc_st_writer_meta(sc_st_writer *w, const char *key, const char *value);
/* Writes path atomically (temporary file, fsync, rename, fsync of the folder). */
sc_status sc_st_writer_save(sc_st_writer *w, const char *path);
void sc_st_writer_free(sc_st_writer *w);

#endif
