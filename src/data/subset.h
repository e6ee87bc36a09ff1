/* subset.h: choosing the labelled subset a probe or fine-tune trains on: a fraction of each class chosen by a
 * seed (1% of Fashion-MNIST = 60 images per class), or the files named in a list (the format of SimCLR's
 * 1%/10% ImageNet subset files: one file name per line). Results are dataset indices in increasing order.
 * Nothing here prints. */
#ifndef SC_DATA_SUBSET_H
#define SC_DATA_SUBSET_H

#include <stdint.h>

#include "dataset.h"

/* round(fraction * count) images of every class (at least 1 for a non-empty class), chosen uniformly by seed.
 * *out is malloc'd. SC_EINVAL for an unlabeled dataset or a fraction outside (0, 1]. */
sc_status sc_subset_balanced(const sc_dataset *ds, double fraction, uint64_t seed, int64_t **out, int64_t *n);

/* The images whose file name (the part after the last '/') appears in the list at path. Blank lines and lines
 * starting with '#' are ignored; a name that matches no image is an error naming the line. */
sc_status sc_subset_from_file(const sc_dataset *ds, const char *path, int64_t **out, int64_t *n);

#endif
