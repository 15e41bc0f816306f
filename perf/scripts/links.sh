#!/usr/bin/env bash
# Issue 18 network figures (perf/RESULTS.md): the five networks under --link lan and wan, and
# the WAN answer latency with the offline phase computed ahead (loadtest --precompute).
set -uo pipefail
cd "$(dirname "$0")/../.."
G=target/release/gazelle
OUT=${OUT:-target/perf-links}
mkdir -p $OUT
for link in lan wan; do
  for m in mnist-secureml mnist-cryptonets mnist-deepsecure mnist-minionn; do
    $G demo --model $m --images 4 --link $link > $OUT/demo-$link-$m.txt 2>/dev/null
  done
  $G demo --model cifar-minionn --images 2 --link $link > $OUT/demo-$link-cifar-minionn.txt 2>/dev/null
done
for m in mnist-minionn cifar-minionn; do
  $G demo --model $m --images 2 > $OUT/demo-none-$m.txt 2>/dev/null
done
# WAN with the offline phase computed ahead (two processes; TLS)
$G cert --name localhost --out $OUT/pki >/dev/null 2>&1 || true
for m in mnist-minionn cifar-minionn; do
  $G serve --model $m --listen 127.0.0.1:7995 --tls-cert $OUT/pki/cert.pem --tls-key $OUT/pki/key.pem > $OUT/serve-$m.log 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/7995) 2>/dev/null && break; sleep 0.1; done
  q=3; [ $m = cifar-minionn ] && q=2
  $G loadtest --server localhost:7995 --tls-ca $OUT/pki/ca.pem --clients 1 --queries $q --precompute --link wan --model $m --json > $OUT/wan-precompute-$m.json
  kill $pid; wait $pid 2>/dev/null
done
echo done
