/* cmd_info.c: `simclr info`: the CPU features found, the kernel table chosen with its microkernel tiles, and the
 * thread count, as text or JSON. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "dispatch/dispatch.h"
#include "ops/gemm.h"

static void help(void) {
  printf("Usage: simclr info [--json] [--threads N] [--isa ISA]\n\n"
         "Shows the CPU features the engine detected, the instruction set and microkernels it will use, and the\n"
         "number of threads.\n\n"
         "  --json        machine-readable output\n"
         "  --threads N   thread count to report (default: SIMCLR_THREADS or all cores)\n"
         "  --isa ISA     cap the instruction set: scalar, avx2, avx512, neon (default: best available)\n"
         "  -h, --help    this help\n");
}

int sc_cmd_info(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                       {"threads", required_argument, 0, 't'},
                                       {"isa", required_argument, 0, 'i'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int json = 0, rc = sc_cli_common_init("info");
  if (rc >= 0) return rc;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case 'j': json = 1; break;
    case 't':
      if (!sc_parse_threads(optarg)) return sc_cli_usage_error("info", "--threads '%s' is not a count", optarg);
      break;
    case 'i': {
      sc_isa isa;
      sc_status st = sc_isa_parse(optarg, &isa);
      if (st == SC_OK) st = sc_set_max_isa(isa);
      if (st != SC_OK) return sc_cli_fail("info", "--isa", st);
      break;
    }
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error("info", "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error("info", "unexpected argument '%s'", argv[optind]);

  const sc_cpu_info *ci = sc_cpu();
  const sc_kernels *k = sc_kernels_active();
  sc_gemm_limits lim;
  sc_gemm_block_limits(k, &lim);
  if (json) {
    printf("{\"version\":\"%s\",\"vendor\":\"%s\",\"brand\":\"%s\",\"features\":{\"avx2\":%d,\"fma\":%d,"
           "\"avx512f\":%d,\"avx512bw\":%d,\"avx512dq\":%d,\"avx512vl\":%d,\"neon\":%d},\"isa\":\"%s\","
           "\"gemm_ukr\":\"%s\",\"gemm_tile\":[%zu,%zu],\"gemm_blocking\":{\"mc\":%zu,\"kc\":%zu,\"nc\":%zu},"
           "\"threads\":%d,\"l1d\":%zu,\"l2\":%zu,\"l3\":%zu}\n",
           SIMCLR_VERSION, ci->vendor, ci->brand, ci->has_avx2, ci->has_fma, ci->has_avx512f, ci->has_avx512bw,
           ci->has_avx512dq, ci->has_avx512vl, ci->has_neon, k->name, k->gemm->ukr_name, k->gemm->mr, k->gemm->nr,
           lim.mc, lim.kc, lim.nc, sc_num_threads(), ci->l1d_bytes, ci->l2_bytes, ci->l3_bytes);
    return SC_EXIT_OK;
  }
  printf("simclr %s\n", SIMCLR_VERSION);
  printf("cpu:        %s (%s)\n", ci->brand[0] ? ci->brand : "unknown", ci->vendor);
  printf("features:  %s%s%s%s%s%s%s\n", ci->has_avx2 ? " avx2" : "", ci->has_fma ? " fma" : "",
         ci->has_avx512f ? " avx512f" : "", ci->has_avx512bw ? " avx512bw" : "", ci->has_avx512dq ? " avx512dq" : "",
         ci->has_avx512vl ? " avx512vl" : "", ci->has_neon ? " neon" : "");
  printf("caches:     L1d %zu KiB, L2 %zu KiB, L3 %zu KiB\n", ci->l1d_bytes >> 10, ci->l2_bytes >> 10,
         ci->l3_bytes >> 10);
  printf("supported: ");
  for (int i = 0; i < SC_ISA_COUNT; i++)
    if (sc_isa_supported((sc_isa)i)) printf(" %s", sc_isa_name((sc_isa)i));
  printf("\nisa:        %s\n", k->name);
  printf("gemm:       %s, tile %zux%zu, blocking mc=%zu kc=%zu nc=%zu (from the caches; B kept packed up to %zu MiB)\n",
         k->gemm->ukr_name, k->gemm->mr, k->gemm->nr, lim.mc, lim.kc, lim.nc, lim.b_budget >> 20);
  if (k->gemm->ukr_rowa) printf("            %s where A is read in place\n", k->gemm->ukr_rowa_name);
  if (k->gemm->ukr_rowa_pack)
    printf("            %s where A is packed as it is first read\n", k->gemm->ukr_rowa_pack_name);
  if (k->gemm->ukr_stream)
    printf("            %s where C is written past the caches\n", k->gemm->ukr_stream_name);
  if (k->gemm->strided_a && k->gemm->strided_a->ukr_rowb)
    printf("            %s where B is read in place\n", k->gemm->strided_a->ukr_rowb_name);
  printf("threads:    %d\n", sc_num_threads());
  return SC_EXIT_OK;
}
