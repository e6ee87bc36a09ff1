/* test_knn.c: the weighted kNN monitor (src/train/knn) on hand-made banks whose answers are worked out here: the
 * temperature decides between one close neighbour and two farther ones, k limits the vote, features are compared by
 * cosine (scaling a bank vector changes nothing), ties go to the lower class, and bad labels are refused. */
#include <math.h>
#include <string.h>

#include "test.h"
#include "train/knn.h"

/* query (1,0); bank: class 0 at cosine 0.9, class 1 twice at cosine 0.5 (one scaled by 3), class 0 at cosine -1 */
static const float bank[8] = {0.9f, 0.43588989f, 1.5f, 2.5980762f, 0.5f, -0.8660254f, -1.0f, 0.0f};
static const int32_t labels[4] = {0, 1, 1, 0};
static const float query[2] = {1.0f, 0.0f};

static int32_t classify(int k, float t) {
  sc_knn_options o = {.k = k, .temperature = t};
  int32_t pred = -1;
  SC_ASSERT(sc_knn_classify(bank, labels, 4, query, 1, 2, 2, &o, &pred, NULL, NULL) == SC_OK, "knn: %s",
            sc_last_error());
  return pred;
}

SC_TEST(knn, temperature_weights_the_votes) {
  /* T 0.1: class 0 gets e^9 = 8103, class 1 gets 2 e^5 = 297; T 10: e^0.09 = 1.09 against 2 e^0.05 = 2.10 */
  SC_ASSERT(classify(3, 0.1f) == 0, "k=3 T=0.1: the close class-0 neighbour should outweigh two at cosine 0.5");
  SC_ASSERT(classify(3, 10.0f) == 1, "k=3 T=10: two class-1 neighbours should outvote one class-0");
  /* k=1: only the nearest votes, whatever the temperature */
  SC_ASSERT(classify(1, 10.0f) == 0, "k=1 T=10: the nearest neighbour is class 0");
  /* k above the bank size uses the whole bank: at T 10 the cosine -1 entry adds e^-0.1 = 0.90 to class 0 (1.99),
   * still below class 1's 2.10 */
  SC_ASSERT(classify(50, 10.0f) == 1, "k=50 (bank of 4) T=10: class 1 should win 2.10 to 1.99");
}

SC_TEST(knn, accuracy_and_ties) {
  /* two bank entries of different classes at the same cosine: equal totals go to the lower class */
  const float b[4] = {0.0f, 1.0f, 0.0f, 1.0f};
  const int32_t y[2] = {1, 0};
  const float q[4] = {0.0f, 2.0f, 0.0f, 1.0f};
  const int32_t qy[2] = {0, 1};
  int32_t pred[2];
  double acc = -1;
  sc_knn_options o = sc_knn_defaults();
  SC_ASSERT(sc_knn_classify(b, y, 2, q, 2, 2, 2, &o, pred, qy, &acc) == SC_OK, "knn: %s", sc_last_error());
  SC_ASSERT(pred[0] == 0 && pred[1] == 0, "ties: predicted %d %d, want 0 0", pred[0], pred[1]);
  SC_ASSERT(fabs(acc - 0.5) < 1e-12, "accuracy %g, want 0.5", acc);
}

SC_TEST(knn, refuses_bad_labels) {
  const int32_t bad[4] = {0, 1, 2, 0};
  int32_t pred;
  SC_ASSERT(sc_knn_classify(bank, bad, 4, query, 1, 2, 2, NULL, &pred, NULL, NULL) == SC_EINVAL,
            "bank label 2 with 2 classes was accepted");
  SC_ASSERT(strstr(sc_last_error(), "label 2"), "message '%s' does not name the label", sc_last_error());
}
