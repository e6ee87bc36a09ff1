/* dataset.h: a dataset as the loader sees it: n images (uint8 HWC, C = 1 or 3), an optional label per image and
 * the class names. Sources:
 *   folder   root/<class>/NAME.jpg, .jpeg or .png; labels from the sorted sub-folder names
 *   flat     root/NAME.jpg, .jpeg or .png, unlabeled (label -1)
 *   idx      MNIST / Fashion-MNIST IDX files, plain or .gz (a folder holding them, or the images file)
 *   cifar10, cifar100   the binary batches (a folder holding them, or one batch file)
 * Small datasets (all array formats; image folders up to cache_max_files) are decoded once at open and kept in
 * memory as uint8; larger folders are decoded on demand by the loader's threads. Bad files follow the policy:
 * stop at the first one (its error is returned) or skip them and count. Nothing here prints. */
#ifndef SC_DATA_DATASET_H
#define SC_DATA_DATASET_H

#include <stdint.h>

#include "image.h"

/* Where Debian's dataset-fashion-mnist package puts Fashion-MNIST: the demo's default dataset. */
#define SC_DEFAULT_DATASET "/usr/share/datasets/fashion-mnist"

typedef enum sc_data_format {
  SC_DATA_AUTO = 0,
  SC_DATA_FOLDER,
  SC_DATA_FLAT,
  SC_DATA_IDX,
  SC_DATA_CIFAR10,
  SC_DATA_CIFAR100,
} sc_data_format;

typedef enum sc_bad_policy { SC_BAD_STOP = 0, SC_BAD_SKIP = 1 } sc_bad_policy;

typedef struct sc_dataset_options {
  const char *path;
  sc_data_format format;   /* default: detected from what path holds */
  int test_split;          /* array formats: 1 reads the test split (t10k, test_batch) instead of train */
  int channels;            /* 1 or 3; 0 = the source's own (1 for IDX, 3 otherwise) */
  sc_decode_limits limits; /* zero fields take the defaults */
  size_t max_array_bytes;  /* cap on an IDX/CIFAR file after decompression (default 1 GiB) */
  sc_bad_policy bad;
  int cache;           /* image folders: -1 auto (the default), 0 decode every epoch, 1 decode once at open */
  int cache_max_files; /* auto caching threshold for image folders (default 4096) */
  int min_short;       /* decode JPEGs with DCT scaling down to this short side (0: full size) */
} sc_dataset_options;

sc_dataset_options sc_dataset_options_default(void);

typedef struct sc_dataset {
  sc_data_format format;
  int64_t n;
  int c;
  int nclasses;       /* 0 if unlabeled */
  char **class_names; /* nclasses names (folder names, or "0".."9" for array formats) */
  int32_t *labels;    /* n labels, or NULL if unlabeled */
  char **paths;       /* n file paths for image folders, else NULL */
  /* in memory (array formats and cached folders): image i is w[i] x h[i] x c at px + off[i] */
  uint8_t *px;
  size_t *off;
  int *w, *h;
  int64_t nbad; /* files skipped at open under SC_BAD_SKIP */
  sc_dataset_options opt;
  char *root;
} sc_dataset;

sc_status sc_dataset_open(const sc_dataset_options *o, sc_dataset **out);
void sc_dataset_close(sc_dataset *ds);
const char *sc_data_format_name(sc_data_format f);

/* Image i: a borrowed view of the in-memory copy, or decoded into *scratch (reused across calls) by d. view never
 * owns its pixels. Decoding errors name the file. */
sc_status sc_dataset_image(const sc_dataset *ds, sc_decoder *d, int64_t i, sc_image *scratch, sc_image *view);

#endif
