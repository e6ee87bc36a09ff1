// main.cc: the simclr_bench harness. Collects the C cases (bench.h), measures the FMA peak of every available ISA
// at each thread count first, then registers one Google Benchmark per case and thread count. Counters:
//   GFLOPS     floating-point rate of the case
//   peak_frac  GFLOPS as a fraction of the measured FMA peak of the case's ISA at that thread count (engine only)
// Each engine case at an ISA's default tile that has a peer case on the same op and shape ("op/<peer>/shape") also
// runs paired with it, as "op/<isa>_vs_<peer>/shape": the two alternate call by call in one benchmark, so that the
// machine's drift over seconds (10-20% within the hour on a shared VM) falls on both alike. Its counters come from
// the medians of the per-call times: GFLOPS and peak_frac of the engine, peer_GFLOPS, and ratio (the peer's time
// over the engine's: above 1, the engine is faster). On one thread always; on more only where the peer's threads
// are the engine's OpenMP workers (oneDNN, and OpenBLAS's OpenMP build, which CMakeLists.txt links where it is
// installed): two thread pools called in turn get in each other's way (each pool's workers still spin or yield
// when the other's start: OpenBLAS's pthread build on 1024^3 fell from about 470 GFLOP/s to 226 paired, and with a
// pause of 2-20 ms after each call the engine's fell to 130 instead). Debian's two OpenBLAS builds are the same
// kernels: on one thread, alternated in one process, within 0.5% of each other on 1024^3 and the ResNet-18 im2col
// shapes.
// Run with --benchmark_format=json for machine-readable output; --threads=1,2 picks thread counts (default: 1 and
// all cores). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE should be unset so that the OpenBLAS peer runs at its best.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <link.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "bench.h"
#include "dispatch/dispatch.h"
#include "simclr.h"
}

static std::vector<sc_bench_case> &registry() {
  static std::vector<sc_bench_case> cases;
  return cases;
}

extern "C" void sc_bench_add(const sc_bench_case *c) { registry().push_back(*c); }

extern "C" void sc_bench_set_threads(int threads) {
  sc_set_num_threads(threads);
  openblas_set_num_threads(threads);
  omp_set_num_threads(threads);
}

// GFLOP/s of the FMA peak loop of one ISA on `threads` threads (each thread runs the loop; rates add up).
static double measure_peak(const sc_kernels *k, int threads) {
  const size_t iters = 20u * 1000u * 1000u;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double flops = 0;
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += k->gemm->fma_peak(iters);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (flops / s / 1e9 > best) best = flops / s / 1e9;
  }
  return best;
}

static double peak_gflops[SC_ISA_COUNT][65];

// Sets the threads (and, for the engine, the ISA) of case c and returns its state, or NULL with the benchmark
// skipped and the reason given.
static void *setup_case(benchmark::State &state, const sc_bench_case *c, int threads) {
  sc_bench_set_threads(threads);
  if (c->isa >= 0) {
    if (!sc_isa_supported((sc_isa)c->isa)) {
      state.SkipWithError("ISA not available on this machine");
      return nullptr;
    }
    sc_set_max_isa((sc_isa)c->isa);
  }
  const char *err = "setup failed";
  void *s = c->setup(c, threads, &err);
  if (!s) state.SkipWithError(err);
  return s;
}

// The GFLOPS counter of case c at `seconds` per call, and for the engine's kernels peak_frac.
static void report_rate(benchmark::State &state, const sc_bench_case *c, int threads, double seconds,
                        const char *counter = "GFLOPS") {
  if (c->flops <= 0 || seconds <= 0) return;
  const double gflops = c->flops / seconds * 1e-9;
  state.counters[counter] = gflops;
  const double peak = c->isa >= 0 ? peak_gflops[c->isa][threads] : 0.0;
  if (peak > 0) state.counters["peak_frac"] = gflops / peak;
}

static void run_case(benchmark::State &state, const sc_bench_case *c, int threads) {
  void *s = setup_case(state, c, threads);
  if (!s) return;
  // timed here too (wall clock, like UseRealTime) so that GFLOPS and peak_frac are plain numbers, not "/s" rates
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    if (c->run(s) != 0) {
      state.SkipWithError(sc_last_error());
      break;
    }
    benchmark::ClobberMemory();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c->teardown(s);
  if (state.iterations() > 0) report_rate(state, c, threads, seconds / (double)state.iterations());
  if (c->items > 0) state.SetItemsProcessed((int64_t)(state.iterations() * c->items));
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// An engine case and its peer, called in turn (which goes first alternates), each call timed on its own.
static void run_pair(benchmark::State &state, const sc_bench_case *e, const sc_bench_case *peer, int threads) {
  void *se = setup_case(state, e, threads);
  if (!se) return;
  void *sp = setup_case(state, peer, threads);
  if (!sp) {
    e->teardown(se);
    return;
  }
  std::vector<double> te, tp;
  bool failed = false;
  for (auto _ : state) {
    const bool engine_first = te.size() % 2 == 0;
    for (int q = 0; q < 2 && !failed; q++) {
      const bool engine = (q == 0) == engine_first;
      auto t0 = std::chrono::steady_clock::now();
      failed = engine ? e->run(se) != 0 : peer->run(sp) != 0;
      benchmark::ClobberMemory();
      (engine ? te : tp).push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (failed) {
      state.SkipWithError(sc_last_error());
      break;
    }
  }
  e->teardown(se);
  peer->teardown(sp);
  const double me = median(te), mp = median(tp);
  if (failed || me <= 0 || mp <= 0) return;
  state.counters["ratio"] = mp / me;
  report_rate(state, e, threads, me);
  report_rate(state, peer, threads, mp, "peer_GFLOPS");
}

// "op", "who" and "shape" of a case name "op/who/shape..."; false if it has fewer parts
static bool split_name(const char *name, std::string &op, std::string &who, std::string &shape) {
  std::string s(name);
  size_t a = s.find('/'), b = a == std::string::npos ? a : s.find('/', a + 1);
  if (b == std::string::npos) return false;
  op = s.substr(0, a), who = s.substr(a + 1, b - a - 1), shape = s.substr(b + 1);
  return true;
}

// The OpenMP runtimes loaded in the process: libgomp (gcc's, which Debian's OpenBLAS and oneDNN use) or libomp.
static int openmp_runtimes() {
  int found[2] = {0, 0};
  dl_iterate_phdr(
      [](struct dl_phdr_info *info, size_t, void *data) {
        int *f = static_cast<int *>(data);
        const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : nullptr;
        base = base ? base + 1 : info->dlpi_name;
        if (base && !strncmp(base, "libgomp.so", 10)) f[0] = 1;
        if (base && (!strncmp(base, "libomp.so", 9) || !strncmp(base, "libiomp5.so", 11))) f[1] = 1;
        return 0;
      },
      found);
  return found[0] + found[1];
}

// Whether a peer runs its threads on the engine's OpenMP workers: its library is built on OpenMP, and only one
// OpenMP runtime is loaded (a clang build of this harness would bring libomp beside the peers' libgomp).
static bool peer_on_engine_threads(const std::string &peer) {
  static const bool one_runtime = openmp_runtimes() == 1;
  if (!one_runtime) return false;
  if (peer == "openblas") return openblas_get_parallel() == 2; // OpenBLAS's OpenMP build
  if (peer == "onednn") return dnnl_version()->cpu_runtime == DNNL_RUNTIME_OMP;
  return false;
}

// The paired cases: each engine case at an ISA's default tile with every peer case of its op and shape, on one
// thread, and on more where the peer runs on the engine's OpenMP workers.
static void register_pairs(int threads) {
  for (const sc_bench_case &e : registry()) {
    std::string op, who, shape, pop, pwho, pshape;
    if (e.isa < 0 || !sc_isa_supported((sc_isa)e.isa) || !split_name(e.name, op, who, shape) ||
        who != sc_isa_name((sc_isa)e.isa))
      continue;
    for (const sc_bench_case &p : registry())
      if (p.isa < 0 && split_name(p.name, pop, pwho, pshape) && pop == op && pshape == shape &&
          (threads == 1 || peer_on_engine_threads(pwho))) {
        std::string name = op + "/" + who + "_vs_" + pwho + "/" + shape + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), run_pair, &e, &p, threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
  }
}

static void run_peak(benchmark::State &state, sc_isa isa, int threads) {
  const sc_kernels *k = sc_kernels_for(isa);
  if (!k) {
    state.SkipWithError("ISA not available on this machine");
    return;
  }
  const size_t iters = 1000000;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    k->gemm->fma_peak(iters);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double per_iter = k->gemm->fma_peak(1); // the loop's flop count is linear in iters
  state.counters["GFLOPS"] = per_iter * (double)iters * threads * (double)state.iterations() / seconds * 1e-9;
}

int main(int argc, char **argv) {
  std::vector<int> thread_counts;
  std::vector<char *> args;
  for (int i = 0; i < argc; i++) {
    if (!strncmp(argv[i], "--threads=", 10)) {
      for (char *p = argv[i] + 10; *p;) {
        int t = (int)strtol(p, &p, 10);
        if (t < 1 || t > 64) {
          fprintf(stderr, "simclr_bench: bad --threads list '%s' (counts from 1 to 64, comma-separated)\n", argv[i]);
          return 2;
        }
        thread_counts.push_back(t);
        if (*p == ',') p++;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  if (sc_init() != SC_OK) {
    fprintf(stderr, "simclr_bench: %s\n", sc_last_error());
    return 1;
  }
  int cores = omp_get_num_procs();
  if (thread_counts.empty()) {
    thread_counts.push_back(1);
    if (cores > 1) thread_counts.push_back(cores > 64 ? 64 : cores);
  }
  for (int isa = 0; isa < SC_ISA_COUNT; isa++) {
    const sc_kernels *k = sc_kernels_for((sc_isa)isa);
    if (!k) continue;
    for (int t : thread_counts) {
      peak_gflops[isa][t] = measure_peak(k, t);
      fprintf(stderr, "fma peak %-7s threads=%d: %.1f GFLOP/s\n", k->name, t, peak_gflops[isa][t]);
    }
  }
  for (int t : thread_counts) {
    for (int isa = 0; isa < SC_ISA_COUNT; isa++)
      if (sc_kernels_for((sc_isa)isa)) {
        std::string name = std::string("peak/") + sc_isa_name((sc_isa)isa) + "/threads:" + std::to_string(t);
        benchmark::RegisterBenchmark(name.c_str(), run_peak, (sc_isa)isa, t)->Unit(benchmark::kMillisecond);
      }
    for (const sc_bench_case &c : registry()) {
      if (c.isa >= 0 && !sc_isa_supported((sc_isa)c.isa)) continue; // listed once below
      std::string name = std::string(c.name) + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(name.c_str(), run_case, &c, t)->Unit(benchmark::kMillisecond)->UseRealTime();
    }
    register_pairs(t);
  }
  for (int isa = 0; isa < SC_ISA_COUNT; isa++)
    if (!sc_isa_supported((sc_isa)isa))
      fprintf(stderr, "skipped: %s cases (not available on this machine or build)\n", sc_isa_name((sc_isa)isa));
  if (std::any_of(thread_counts.begin(), thread_counts.end(), [](int t) { return t > 1; }))
    for (const char *peer : {"openblas", "onednn"})
      if (!peer_on_engine_threads(peer))
        fprintf(stderr, "skipped: pairs with %s on more than one thread (%s)\n", peer,
                openmp_runtimes() != 1 ? "two OpenMP runtimes are loaded: build the harness with gcc"
                                       : "its threads are not the engine's OpenMP workers");
  int n = (int)args.size();
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
