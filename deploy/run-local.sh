#!/usr/bin/env bash
# Two `gazelle serve` replicas and HAProxy (deploy/haproxy.cfg) on loopback, with TLS passed
# through to the replicas (a private CA from `gazelle cert` in $STATE/pki) and access tokens.
#
#   deploy/run-local.sh            start, print how to connect, wait (Ctrl-C stops all)
#   deploy/run-local.sh --detach   start, write $STATE/env, return (stop: kill $(cat $STATE/pids))
#
# Environment: GAZELLE (the binary; default target/release/gazelle), STATE (default
# target/deploy-local), MODEL (default mnist-minionn), BASE_PORT (default 7900: the balancer;
# replicas on +11/+12, their metrics on +21/+22).
set -euo pipefail
cd "$(dirname "$0")/.."
GAZELLE=${GAZELLE:-target/release/gazelle}
STATE=${STATE:-target/deploy-local}
MODEL=${MODEL:-mnist-minionn}
BASE_PORT=${BASE_PORT:-7900}
command -v haproxy >/dev/null || { echo "haproxy not found (apt-get install haproxy)" >&2; exit 1; }
[ -x "$GAZELLE" ] || { echo "$GAZELLE not found (cargo build --release)" >&2; exit 1; }
mkdir -p "$STATE"
[ -f "$STATE/pki/cert.pem" ] || "$GAZELLE" cert --name localhost --name 127.0.0.1 --out "$STATE/pki" >/dev/null
[ -f "$STATE/tokens" ] || { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/tokens"; echo >> "$STATE/tokens"; }

export GAZELLE_LB="127.0.0.1:$BASE_PORT"
export GAZELLE_R1="127.0.0.1:$((BASE_PORT + 11))" GAZELLE_R2="127.0.0.1:$((BASE_PORT + 12))"
export GAZELLE_R1_HEALTH=$((BASE_PORT + 21)) GAZELLE_R2_HEALTH=$((BASE_PORT + 22))
: > "$STATE/pids"
for i in 1 2; do
  addr_var="GAZELLE_R$i"; health_var="GAZELLE_R${i}_HEALTH"
  "$GAZELLE" serve --model "$MODEL" --listen "${!addr_var}" --metrics "127.0.0.1:${!health_var}" \
    --tls-cert "$STATE/pki/cert.pem" --tls-key "$STATE/pki/key.pem" --tokens "$STATE/tokens" \
    --max-sessions 8 --log-format json > "$STATE/replica$i.log" 2>&1 &
  echo $! >> "$STATE/pids"
done
# Replicas are ready when /healthz answers 200 (503 "warming up" while each runs its warm-up
# query, before it accepts connections).
healthy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 &&
    head -n 1 <&3 | grep -q ' 200 ') 2>/dev/null
}
for i in 1 2; do
  health_var="GAZELLE_R${i}_HEALTH"
  for _ in $(seq 1 1200); do
    if healthy "${!health_var}"; then break; fi
    sleep 0.1
  done
done
haproxy -f deploy/haproxy.cfg -db > "$STATE/haproxy.log" 2>&1 &
echo $! >> "$STATE/pids"
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${GAZELLE_LB%:*}/${GAZELLE_LB#*:}") 2>/dev/null; then break; fi
  sleep 0.1
done
cat > "$STATE/env" <<ENV
GAZELLE_LB=$GAZELLE_LB
GAZELLE_TOKEN=$(head -1 "$STATE/tokens")
GAZELLE_CA=$STATE/pki/ca.pem
REPLICA_PIDS="$(head -2 "$STATE/pids" | tr '\n' ' ')"
HAPROXY_PID=$(tail -1 "$STATE/pids")
ENV
echo "balancer on $GAZELLE_LB (TLS passthrough) → replicas $GAZELLE_R1, $GAZELLE_R2"
echo "try: GAZELLE_TOKEN=\$(head -1 $STATE/tokens) $GAZELLE infer --server localhost:${GAZELLE_LB#*:} --tls-ca $STATE/pki/ca.pem --mnist-index 0"
if [ "${1:-}" = "--detach" ]; then exit 0; fi
trap 'kill $(cat "$STATE/pids") 2>/dev/null; wait' INT TERM EXIT
wait
