#!/usr/bin/env bash
# Runs the full benchmark suite on this machine and regenerates perf/latest.md (tables with
# run (commit, UTC time, command, threads), machine, backend; peers from the same criterion runs as ratios) and
# perf/plots/*.svg. Long: tens of minutes. Usage: perf/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
cargo build --release
if [ ${#quick[@]} -eq 0 ]; then
  cargo bench --bench ntt
  cargo bench --bench he
fi
./target/release/gazelle bench all --backend all --json "${quick[@]}" > perf/bench.json
./target/release/gazelle report --bench-json perf/bench.json --criterion target/criterion \
  --out perf/latest.md --plots perf/plots
