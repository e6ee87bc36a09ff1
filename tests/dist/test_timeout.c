/* test_timeout.c: a rank that stops taking part makes the others report an error within the deadline instead of
 * hanging. Rank 1 (the straggler) stays away from an all-reduce for 3 s while the others wait with a 1 s deadline:
 * they must return SC_EIO with a message naming the cause after 1 s and well before the straggler comes back, and
 * refuse further collectives (the ranks are out of step). The straggler then joins the abandoned all-reduce, which
 * lets everyone finish cleanly. (A rank that exits outright is ended by mpirun itself, which stops the job.) */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist.h"
#include "dist_check.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  sc_dist *d = NULL;
  if (sc_dist_init(&argc, &argv, 1.0, &d) != SC_OK) {
    fprintf(stderr, "sc_dist_init: %s\n", sc_last_error());
    return 1;
  }
  check_rank = sc_dist_rank(d);
  const int straggler = 1;
  float x[4] = {1, 2, 3, 4};
  if (sc_dist_size(d) < 2) {
    fprintf(stderr, "test_timeout needs at least 2 ranks\n");
    return 1;
  }
  CHECK(sc_dist_allreduce_f32(d, NULL, x, 4) == SC_OK && x[3] == 4.0f * (float)sc_dist_size(d),
        "a normal all-reduce before the straggler: %s", sc_last_error());
  if (sc_dist_rank(d) == straggler) {
    sleep(3);
    sc_dist_set_timeout(d, 30); /* the others' abandoned requests are still posted: this completes */
    CHECK(sc_dist_allreduce_f32(d, NULL, x, 4) == SC_OK, "the straggler's late all-reduce: %s", sc_last_error());
  } else {
    double t0 = now();
    sc_status st = sc_dist_allreduce_f32(d, NULL, x, 4);
    double waited = now() - t0;
    CHECK(st == SC_EIO, "waiting for a straggler returned %d, not SC_EIO", (int)st);
    CHECK(strstr(sc_last_error(), "no answer within") != NULL, "message: %s", sc_last_error());
    /* the deadline is 1 s; the straggler returns after 3 s: 2.5 s leaves room for a loaded machine */
    CHECK(waited >= 1.0 && waited < 2.5, "gave up after %.2f s with a 1 s deadline", waited);
    CHECK(sc_dist_barrier(d) == SC_EIO && strstr(sc_last_error(), "out of step"),
          "a collective after a timeout was not refused: %s", sc_last_error());
    fprintf(stderr, "rank %d: reported after %.2f s: %s\n", sc_dist_rank(d), waited, "no answer within 1 s");
  }
  int rc = check_finish();
  /* finalize waits (one more deadline) for the abandoned request, completed by the straggler's late call */
  sc_dist_set_timeout(d, 30);
  sc_status st = sc_dist_finalize(d);
  if (st != SC_OK) fprintf(stderr, "sc_dist_finalize: %s\n", sc_last_error());
  return rc || st != SC_OK;
}
