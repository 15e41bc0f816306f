#!/usr/bin/env bash
# CI check of the scale-out deployment (deploy/run-local.sh: two replicas behind HAProxy, TLS
# passed through, access tokens):
#  1. 4 concurrent clients × 3 queries through the balancer: every answer equals the
#     plaintext oracle, and every session the clients opened ended "done" on exactly one
#     replica (replica logs);
#  2. 4 clients × 4 queries with one retry each; replica 1 is killed (SIGKILL) mid-run: only
#     the sessions it held fail, and their retries finish on replica 2 — every query answered.
set -euo pipefail
cd "$(dirname "$0")/.."
GAZELLE=${GAZELLE:-target/release/gazelle}
export STATE=${STATE:-$(mktemp -d)}
export BASE_PORT=${BASE_PORT:-$((17000 + RANDOM % 2000))}
cleanup() { kill $(cat "$STATE/pids" 2>/dev/null) 2>/dev/null || true; }
trap cleanup EXIT
deploy/run-local.sh --detach >/dev/null
# shellcheck disable=SC1091
. "$STATE/env"
export GAZELLE_TOKEN
lb_port=${GAZELLE_LB#*:}
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

echo "== 4 clients through HAProxy"
"$GAZELLE" loadtest --server "localhost:$lb_port" --tls-ca "$GAZELLE_CA" --clients 4 --queries 3 \
  --model mnist-minionn --json > "$STATE/phase1.json"
answered=$(json_field "$STATE/phase1.json" "['answered']")
wrong=$(json_field "$STATE/phase1.json" "['wrong']")
sessions=$(json_field "$STATE/phase1.json" "['sessions']")
sleep 0.5
done1=$(grep -c '"session done"' "$STATE/replica1.log" || true)
done2=$(grep -c '"session done"' "$STATE/replica2.log" || true)
echo "answered $answered/12, wrong $wrong; sessions $sessions: replica 1 ended $done1, replica 2 ended $done2"
[ "$answered" = 12 ] && [ "$wrong" = 0 ] || { echo "FAIL: unanswered or wrong queries"; exit 1; }
[ $((done1 + done2)) = "$sessions" ] || { echo "FAIL: sessions and replica logs disagree"; exit 1; }
[ "$done1" -ge 1 ] && [ "$done2" -ge 1 ] || { echo "FAIL: leastconn did not use both replicas"; exit 1; }

echo "== replica 1 killed mid-run"
"$GAZELLE" loadtest --server "localhost:$lb_port" --tls-ca "$GAZELLE_CA" --clients 4 --queries 4 \
  --retries 1 --model mnist-minionn --json > "$STATE/phase2.json" &
lt=$!
# Kill once every client has answered at least one query of this phase.
for _ in $(seq 1 600); do
  q1=$(grep -c '"query answered"' "$STATE/replica1.log" || true)
  q2=$(grep -c '"query answered"' "$STATE/replica2.log" || true)
  [ $((q1 + q2)) -ge 16 ] && break
  sleep 0.1
done
r1=$(echo "$REPLICA_PIDS" | awk '{print $1}')
kill -9 "$r1"
status=0
wait "$lt" || status=$?
answered=$(json_field "$STATE/phase2.json" "['answered']")
wrong=$(json_field "$STATE/phase2.json" "['wrong']")
failed=$(json_field "$STATE/phase2.json" "['failed_sessions']")
echo "answered $answered/16, wrong $wrong, failed sessions $failed (retried on replica 2)"
python3 -c "import json,sys; [print('  ', e) for e in json.load(open(sys.argv[1]))['errors']]" "$STATE/phase2.json"
[ "$status" = 0 ] && [ "$answered" = 16 ] && [ "$wrong" = 0 ] || { echo "FAIL: a query was lost"; exit 1; }
[ "$failed" -ge 1 ] && [ "$failed" -le 3 ] || { echo "FAIL: expected the killed replica's sessions (1 to 3) to fail, got $failed"; exit 1; }
echo "haproxy deployment: OK"
