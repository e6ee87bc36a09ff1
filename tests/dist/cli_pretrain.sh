#!/usr/bin/env bash
# cli_pretrain.sh: `mpirun -np 2 simclr pretrain` against the same run in one process: the global batch's loss and
# the kNN accuracy must agree (the weights differ only by summation order), rank 0 alone writes the run folder, and
# a 2-rank run resumes from its checkpoint. Usage: cli_pretrain.sh SIMCLR MPIEXEC [MPIEXEC FLAGS...]
set -euo pipefail
simclr=$1 mpiexec=$2
shift 2
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "skipped: $data is not installed"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(pretrain --data "$data" --width 0.25 --batch 32 --steps 6 --ckpt-every 3 --json)
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $*"; fi; }

"$simclr" "${args[@]}" --out "$tmp/p1" > "$tmp/p1.json" 2> "$tmp/p1.log"
"$mpiexec" "$@" -np 2 "$simclr" "${args[@]}" --out "$tmp/p2" > "$tmp/p2.json" 2> "$tmp/p2.log"
field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }
# one result line (rank 0 reports for the job), one metrics file with one line per step
check [ "$(wc -l < "$tmp/p2.json")" = 1 ]
check [ "$(grep -c '"type":"step"' "$tmp/p2/metrics.jsonl")" = 6 ]
# the loss of the last step agrees to fp32 summation-order differences (relative 1e-4), kNN accuracy exactly
# unless a neighbour tie flips (one query in 1000)
l1=$(grep '"step":6,' "$tmp/p1/metrics.jsonl" | grep '"type":"step"' | sed 's/.*"loss":\([^,]*\).*/\1/')
l2=$(grep '"step":6,' "$tmp/p2/metrics.jsonl" | grep '"type":"step"' | sed 's/.*"loss":\([^,]*\).*/\1/')
check awk -v a="$l1" -v b="$l2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * a) }'
k1=$(field "$tmp/p1.json" knn_acc) k2=$(field "$tmp/p2.json" knn_acc)
check awk -v a="$k1" -v b="$k2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.0011) }'
# resume on 2 ranks: continue the finished 6-step run to 9 steps
"$mpiexec" "$@" -np 2 "$simclr" pretrain --out "$tmp/p2" --resume --steps 9 --json > "$tmp/r2.json" 2> "$tmp/r2.log" ||
  true
check grep -q '"start_step":6' "$tmp/r2.json"
# a global batch the ranks cannot share evenly is refused with a message
if "$mpiexec" "$@" -np 2 "$simclr" pretrain --data "$data" --batch 33 --steps 1 --out "$tmp/bad" > /dev/null \
     2> "$tmp/bad.log"; then failed=$((failed + 1)); echo "FAILED: --batch 33 on 2 ranks accepted"
else check grep -q "not divisible" "$tmp/bad.log"; fi
echo "p1 loss $l1 knn $k1; p2 loss $l2 knn $k2"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
