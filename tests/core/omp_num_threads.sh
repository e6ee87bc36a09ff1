#!/usr/bin/env bash
# omp_num_threads.sh: every OpenMP team the library opens (src/, arch/) states its size with num_threads(...). A
# bare `#pragma omp parallel` takes OMP_NUM_THREADS or every core, whatever sc_set_num_threads() or `--threads`
# asked for: the linear probe's loops ran so, and its one-thread figures were two-thread ones, until 91af6f5. Prints
# each directive without it and fails if there is one. Usage: omp_num_threads.sh SOURCE_ROOT
set -euo pipefail
root=${1:?usage: omp_num_threads.sh SOURCE_ROOT}
directive='^[[:space:]]*#[[:space:]]*pragma[[:space:]]+omp[[:space:]]+parallel'
all=$(grep -rnE --include='*.c' --include='*.h' "$directive" "$root/src" "$root/arch" || true)
bare=$(printf '%s\n' "$all" | grep -v 'num_threads(' | grep . || true)
if [ -n "$bare" ]; then
  echo "OpenMP teams without num_threads(...):"
  printf '%s\n' "$bare"
  exit 1
fi
count=$(printf '%s\n' "$all" | grep -c . || true)
if [ "$count" -eq 0 ]; then
  echo "no '#pragma omp parallel' found under $root/src and $root/arch: wrong SOURCE_ROOT?"
  exit 1
fi
echo "$count OpenMP parallel directives under src/ and arch/, each with num_threads(...)"
