#!/usr/bin/env bash
# Alternates two `gazelle` binaries on the same demo, so that a machine whose speed drifts
# between minutes (shared or virtual CPUs) affects both alike: one line per run with the sum of
# the garbled stages' and of the linear layers' online times of the last query and the medians.
#
#   tools/compare_demo.sh BEFORE AFTER [MODEL] [IMAGES] [ROUNDS]
#   e.g. tools/compare_demo.sh /tmp/gazelle-old target/release/gazelle cifar-minionn 3 2
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
before=$1
after=$2
model=${3:-cifar-minionn}
images=${4:-3}
rounds=${5:-2}
for _ in $(seq "$rounds"); do
  for bin in "$before" "$after"; do
    out=$("$bin" demo --model "$model" --images "$images" --no-tls 2>&1)
    gc=$(echo "$out" | awk '/^gc / {s += $(NF-2)} END {printf "%.1f", s}')
    lin=$(echo "$out" | awk '/^(conv|fc)/ {s += $(NF-2)} END {printf "%.1f", s}')
    med=$(echo "$out" | grep "median latency" || echo "no median line: the demo failed")
    echo "$(date -u +%H:%M:%S) $bin gc_online_ms=$gc linear_online_ms=$lin | $med"
  done
done
