/* knn.h (src/train): the weighted k-nearest-neighbour classifier SimCLR papers use to monitor representations
 * during pretraining (Wu et al. 2018): cosine similarity between L2-normalised features, the k most similar bank
 * entries vote for their class with weight exp(similarity / temperature), the class with the largest total wins.
 * Ties (equal similarities at the k-th place, equal totals) go to the lower index, so the result is deterministic.
 * Nothing here prints or allocates beyond its own scratch.
 */
#ifndef SC_TRAIN_KNN_H
#define SC_TRAIN_KNN_H

#include <stdint.h>

#include "simclr.h"

typedef struct sc_knn_options {
  int k;             /* neighbours (default 200; fewer if the bank is smaller) */
  float temperature; /* vote weight exp(sim / temperature) (default 0.1) */
} sc_knn_options;

sc_knn_options sc_knn_defaults(void);

/* Predicts the class of each of nq queries [nq][d] from a bank [nb][d] with labels in [0, nclasses); features
 * need not be normalised. pred [nq] receives the classes; acc (may be NULL) the fraction of queries whose
 * prediction equals qlabels (qlabels may be NULL when acc is). */
sc_status sc_knn_classify(const float *bank, const int32_t *blabels, int64_t nb, const float *queries, int64_t nq,
                          int64_t d, int nclasses, const sc_knn_options *o, int32_t *pred, const int32_t *qlabels,
                          double *acc);

#endif
