#!/usr/bin/env bash
# test.sh: builds simclr and runs the whole test suite, the way CI does:
#   1. gcc, warnings as errors, every test (ctest)
#   2. clang, warnings as errors (build only: the same sources under a second compiler's warnings)
#   3. gcc with AddressSanitizer + UndefinedBehaviorSanitizer, every test
#   4. the libFuzzer targets (clang), each run for a few seconds on its seed corpus
#   5. aarch64 cross build (NEON kernels), kernel tests under qemu-aarch64, when the cross toolchain is installed
# Build folders: build-test-{gcc,clang,asan,fuzz,aarch64}. Run tools/install-deps.sh --cross first.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
export CTEST_OUTPUT_ON_FAILURE=1

step() { printf '\n== %s\n' "$*"; }

step "gcc build and tests"
cmake -S . -B build-test-gcc -DSIMCLR_WERROR=ON -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ >/dev/null
cmake --build build-test-gcc -j"$jobs"
(cd build-test-gcc && ctest -j"$jobs")

step "clang build (warnings)"
cmake -S . -B build-test-clang -DSIMCLR_WERROR=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-test-clang -j"$jobs"

step "address and undefined-behaviour sanitizers"
cmake -S . -B build-test-asan -DSIMCLR_WERROR=ON -DSIMCLR_SANITIZE=ON -DSIMCLR_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test-asan -j"$jobs"
(cd build-test-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j"$jobs")

step "fuzzers (bounded runs)"
cmake -S . -B build-test-fuzz -DSIMCLR_FUZZ=ON -DSIMCLR_BUILD_TESTS=OFF -DSIMCLR_BUILD_BENCH=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
for f in tests/fuzz/fuzz_*.c; do
  name=$(basename "$f" .c)
  cmake --build build-test-fuzz -j"$jobs" --target "$name" >/dev/null
  scratch=$(mktemp -d)
  build-test-fuzz/"$name" -max_total_time=5 -rss_limit_mb=1024 -print_final_stats=0 "$scratch" \
    "tests/fuzz/corpus/${name#fuzz_}" 2>&1 | tail -1
  rm -rf "$scratch"
done

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null \
   && [ -f /opt/simclr/aarch64-sysroot/usr/include/aarch64-linux-gnu/sleef.h ]; then
  step "aarch64 (NEON) kernels under qemu"
  cmake -S . -B build-test-aarch64 -DCMAKE_TOOLCHAIN_FILE=tools/cmake/aarch64-linux-gnu.cmake \
    -DSIMCLR_KERNELS_ONLY=ON -DSIMCLR_WERROR=ON >/dev/null
  cmake --build build-test-aarch64 -j"$jobs"
  (cd build-test-aarch64 && ctest -j"$jobs")
else
  step "aarch64 (NEON) kernels: SKIPPED (run tools/install-deps.sh --cross to install the cross toolchain)"
fi
step "all test stages passed"
