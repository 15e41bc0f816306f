#!/usr/bin/env bash
# Issue 18 load figures (perf/RESULTS.md "A server people can deploy"): loadtest N = 1..8 direct,
# metrics on/off, two replicas behind HAProxy vs one replica directly. Needs haproxy.
set -uo pipefail
cd "$(dirname "$0")/../.."
G=target/release/gazelle
OUT=${OUT:-target/perf-deploy}
mkdir -p $OUT
sv() { local port=$1; shift
  $G serve --listen 127.0.0.1:$port --max-sessions 8 "$@" > $OUT/serve-$port.log 2>&1 &
  echo $!
  for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done; }
pid=$(sv 7950)
for n in 1 2 4 8; do
  $G loadtest --server 127.0.0.1:7950 --clients $n --queries 4 --model mnist-minionn --json > $OUT/direct-n$n.json
done
kill $pid; wait $pid 2>/dev/null
# metrics on/off, interleaved, N=1 × 8 queries
for r in a b; do
  pid=$(sv 7951); $G loadtest --server 127.0.0.1:7951 --clients 1 --queries 8 --model mnist-minionn --json > $OUT/nometrics-$r.json; kill $pid; wait $pid 2>/dev/null
  pid=$(sv 7952 --metrics 127.0.0.1:9952); $G loadtest --server 127.0.0.1:7952 --clients 1 --queries 8 --model mnist-minionn --json > $OUT/metrics-$r.json; kill $pid; wait $pid 2>/dev/null
done
export STATE=$OUT/deploy BASE_PORT=7960
rm -rf $STATE
deploy/run-local.sh --detach > /dev/null
. $STATE/env; export GAZELLE_TOKEN
for r in a b; do
  $G loadtest --server localhost:7971 --tls-ca $GAZELLE_CA --clients 4 --queries 4 --model mnist-minionn --json > $OUT/replica-direct-n4-$r.json
  $G loadtest --server localhost:7960 --tls-ca $GAZELLE_CA --clients 4 --queries 4 --model mnist-minionn --json > $OUT/haproxy-n4-$r.json
done
kill $(cat $STATE/pids); sleep 1
echo done
