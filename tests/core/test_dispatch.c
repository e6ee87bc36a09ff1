/* test_dispatch.c: the kernel table choice: ISA names round-trip, the cap is honoured, bad names are refused. */
#include <string.h>

#include "test.h"

SC_TEST(dispatch, names_round_trip) {
  for (int i = 0; i < SC_ISA_COUNT; i++) {
    sc_isa got;
    SC_ASSERT(sc_isa_parse(sc_isa_name((sc_isa)i), &got) == SC_OK && got == (sc_isa)i, "isa %d", i);
  }
  sc_isa got;
  SC_ASSERT(sc_isa_parse("avx1024", &got) == SC_EINVAL, "unknown name accepted");
  SC_ASSERT(strstr(sc_last_error(), "avx1024") != NULL, "message does not name the bad value: %s", sc_last_error());
}

SC_TEST(dispatch, scalar_always_available) {
  SC_ASSERT(sc_init() == SC_OK, "sc_init: %s", sc_last_error());
  SC_ASSERT(sc_isa_supported(SC_ISA_SCALAR), "scalar table missing");
  SC_ASSERT(sc_set_max_isa(SC_ISA_SCALAR) == SC_OK, "cap to scalar: %s", sc_last_error());
  SC_ASSERT(sc_active_isa() == SC_ISA_SCALAR, "active %s", sc_isa_name(sc_active_isa()));
}

SC_TEST(dispatch, cap_picks_best_below) {
  sc_isa best = SC_ISA_SCALAR;
  for (int i = 0; i < SC_ISA_COUNT; i++)
    if (sc_isa_supported((sc_isa)i)) best = (sc_isa)i;
  SC_ASSERT(sc_set_max_isa(best) == SC_OK, "cap %s: %s", sc_isa_name(best), sc_last_error());
  SC_ASSERT(sc_active_isa() == best, "active %s, wanted %s", sc_isa_name(sc_active_isa()), sc_isa_name(best));
  for (int i = 0; i < SC_ISA_COUNT; i++)
    if (!sc_isa_supported((sc_isa)i))
      SC_ASSERT(sc_set_max_isa((sc_isa)i) == SC_EUNSUPPORTED, "unsupported %s accepted", sc_isa_name((sc_isa)i));
  SC_ASSERT(sc_set_max_isa((sc_isa)42) == SC_EINVAL, "out-of-range isa accepted");
}

SC_TEST(dispatch, every_table_is_complete) {
  for (int i = 0; i < SC_ISA_COUNT; i++) {
    const sc_kernels *k = sc_kernels_for((sc_isa)i);
    if (!k) continue;
    SC_ASSERT(k->isa == (sc_isa)i && !strcmp(k->name, sc_isa_name((sc_isa)i)), "table %d misnamed", i);
    SC_ASSERT(k->gemm && k->gemm->ukr && k->gemm->mr > 0 && k->gemm->nr > 0 && k->gemm->kc > 0,
              "table %s: incomplete gemm config", k->name);
    SC_ASSERT(k->gemm->fma_peak != NULL, "table %s: no fma peak kernel", k->name);
  }
}

SC_TEST(dispatch, threads_setting) {
  SC_ASSERT(sc_set_num_threads(0) == SC_EINVAL, "0 threads accepted");
  SC_ASSERT(sc_set_num_threads(3) == SC_OK && sc_num_threads() == 3, "set 3 threads");
}
