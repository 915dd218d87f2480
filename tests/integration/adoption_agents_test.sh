#!/usr/bin/env bash
# End to end with real agents: the controller serves the adoption API over HTTPS, three
# `rotor agent` processes keep their own trust stores, and 12 curl clients each trust only what
# their agent wrote. A CA rotation waits while one agent is stopped, names it as the laggard,
# and goes on when it returns; a rollback past the prune stages the old CA again and waits the
# same way; later, an agent gone stale no longer holds the gate, a manual gate waits for
# `rotor approve`, and a grace period with onTimeout Proceed swaps past a laggard. No client
# handshake fails.
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
STATE=$(mktemp -d -t rotor-agents-XXXXXX)
source "$(dirname "$0")/local_nginx_lib.sh"
controller_pid=""
declare -A agent_pids=()
cleanup() {
  touch "$STATE/clients/stop" 2>/dev/null || true
  for pid in "${agent_pids[@]}" $controller_pid; do kill "$pid" 2>/dev/null || true; done
  stop_nginx
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- controller log" >&2; tail -30 "$STATE/controller.log" >&2 || true
  echo "--- agent logs" >&2; tail -n 5 "$STATE"/agents/*.log >&2 || true
  exit 1
}

phase_is() { [ "$(phase_and_revision | cut -d' ' -f1)" = "$1" ]; }

port=$(free_port)
api_port=$(free_port)
write_manifest "$port"
sed -i 's/adoption: {threshold: 100, minStageDuration: 3s}/adoption: {threshold: 100, minAgents: 2, staleAfter: 120s, minStageDuration: 3s}/' \
  "$STATE/rotation.yaml"
write_api_certificates
rotor apply -f "$STATE/rotation.yaml"
rotor token edge-proxy --file "$STATE/agent.token"
"$ROTOR" --local "$STATE" controller --adoption-addr "127.0.0.1:$api_port" \
  --adoption-cert "$STATE/api/server.crt" --adoption-key "$STATE/api/server.key" > "$STATE/controller.log" 2>&1 &
controller_pid=$!
wait_for Ready 1 30 || fail "bootstrap"
start_nginx || fail "nginx did not start"
for a in agent-1 agent-2 agent-3; do start_agent $a; done
for _ in $(seq 1 40); do
  [ -s "$STATE/agents/agent-1.pem" ] && [ -s "$STATE/agents/agent-2.pem" ] && [ -s "$STATE/agents/agent-3.pem" ] && break
  sleep 0.25
done
[ -s "$STATE/agents/agent-3.pem" ] || fail "the agents did not write their trust stores"
start_clients 12 "$port" "$STATE"/agents/agent-{1,2,3}.pem
sleep 2

echo "== a rotation waits for the stopped agent"
stop_agent agent-3
rotor rotate edge-proxy
wait_for AwaitingAdoption 1 30 || fail "staging"
sleep 6  # many check-in intervals and well past minStageDuration
phase_is AwaitingAdoption || fail "the rotation went on without agent-3"
rotor status edge-proxy | tee "$STATE/status.txt"
grep -q "agent-3" "$STATE/status.txt" || fail "rotor status does not name agent-3 as a laggard"
rotor agents edge-proxy --state pending | tee "$STATE/pending.txt"
grep -q "^agent-3 " "$STATE/pending.txt" || fail "rotor agents --state pending does not list agent-3"
grep -q "^agent-1 " "$STATE/pending.txt" && fail "agent-1 is still pending"

echo "== it goes on when the agent returns"
start_agent agent-3
wait_for Ready 2 60 || fail "the rotation did not finish after agent-3 returned"
# After the prune the agents narrow their stores on their next sync.
for _ in $(seq 1 40); do [ "$(grep -c BEGIN "$STATE/agents/agent-3.pem")" = 1 ] && break; sleep 0.25; done
[ "$(grep -c BEGIN "$STATE/agents/agent-3.pem")" = 1 ] || fail "agent-3's trust store still holds the old CA"

echo "== a rollback after the prune stages the old CA again and waits for the stopped agent"
# The agents dropped the first CA at the prune. Restoring its certificate at once would orphan
# the clients of an agent that has not learned it again.
stop_agent agent-3
rotated=$(cat "$STATE/certs/server.crt")
rotor rollback edge-proxy --to edge-proxy-r1-swap | tee "$STATE/rollback.txt"
grep -q "staged again" "$STATE/rollback.txt" || fail "rotor rollback does not say the CA is staged again"
wait_for RollingBack 2 30 || fail "the rollback did not start"
sleep 6  # many check-in intervals and well past minStageDuration
phase_is RollingBack || fail "the rollback restored the old certificate before agent-3 trusted its CA"
[ "$(cat "$STATE/certs/server.crt")" = "$rotated" ] || fail "the server certificate changed while agent-3 lagged"
rotor status edge-proxy | tee "$STATE/rollback-status.txt"
grep -q "agent-3" "$STATE/rollback-status.txt" || fail "rotor status does not name agent-3 during the rollback"
start_agent agent-3
wait_for RolledBack 2 60 || fail "the rollback did not finish after agent-3 returned"
snapshot_bundle=$(jq -r '.files[] | select(.role == "bundle") | .path' "$STATE"/.rotor/snapshots/*/edge-proxy/edge-proxy-r1-swap.json)
cmp "$snapshot_bundle" "$STATE/trust/ca-bundle.pem" || fail "the bundle after the rollback is not the snapshot's"

echo "== an agent gone stale no longer holds the gate"
sed -i 's/staleAfter: 120s/staleAfter: 3s/' "$STATE/rotation.yaml"
rotor apply -f "$STATE/rotation.yaml"
stop_clients
stop_agent agent-3
sleep 4
rotor rotate edge-proxy
wait_for Ready 3 60 || fail "the rotation waited for a stale agent"
rotor agents edge-proxy --state stale | grep -q "^agent-3 " || fail "agent-3 is not listed as stale"

echo "== a manual gate waits for rotor approve, even with every agent adopted"
sed -i 's/adoption: {threshold: 100,/adoption: {mode: Manual, threshold: 100,/' "$STATE/rotation.yaml"
rotor apply -f "$STATE/rotation.yaml"
rotor approve edge-proxy 2>"$STATE/early-approve.txt" && fail "rotor approve accepted a rotation not at the gate"
grep -q "not waiting at the adoption gate" "$STATE/early-approve.txt" || fail "rotor approve did not say why it refused"
rotor rotate edge-proxy
wait_for AwaitingAdoption 3 30 || fail "the manual rotation did not stage"
sleep 6  # agent-1 and agent-2 adopt, minStageDuration passes
phase_is AwaitingAdoption || fail "a manual gate opened without approval"
rotor status edge-proxy | tee "$STATE/manual-status.txt"
grep -q "Waiting for approval (rotor approve); measured: 2/2 active agents trust the new CA" "$STATE/manual-status.txt" ||
  fail "rotor status does not show the measurement beside the manual gate"
grep -q "^Next step:.*rotor approve edge-proxy" "$STATE/manual-status.txt" || fail "rotor status does not name rotor approve"
rotor approve edge-proxy | tee "$STATE/approve.txt"
grep -q "approved: 2/2 active agents" "$STATE/approve.txt" || fail "rotor approve does not report the measurement"
wait_for Ready 4 60 || fail "the approved rotation did not finish"

echo "== a grace period that ends in Proceed swaps past a laggard, with a Warning"
# agent-3, stopped since the stale section, counts again with staleAfter 120s and trusts nothing new.
sed -i 's/adoption: {mode: Manual, threshold: 100, minAgents: 2, staleAfter: 3s,/adoption: {threshold: 100, minAgents: 2, staleAfter: 120s, timeout: 5s, onTimeout: Proceed,/' \
  "$STATE/rotation.yaml"
grep -q "onTimeout: Proceed" "$STATE/rotation.yaml" || fail "the manifest edit did not apply"
rotor apply -f "$STATE/rotation.yaml"
rotor rotate edge-proxy
wait_for Ready 5 60 || fail "the grace period did not end in a swap"
grep -q "reason=AdoptionTimeoutProceeded" "$STATE/controller.log" || fail "no Warning event for the swap past the laggard"
rotor status edge-proxy | grep -Eq "proceeding as adoption.onTimeout says: Waiting for adoption: [0-2]/3" ||
  fail "rotor status does not say the swap went past agent-3"

read -r ok failed <<<"$(client_totals)"
echo "client handshakes: $ok succeeded, $failed failed"
[ "$failed" -eq 0 ] || { cat "$STATE"/clients/*.err | sort | uniq -c | head >&2; fail "$failed failed handshakes"; }
[ "$ok" -ge 100 ] || fail "only $ok handshakes: the clients did not run"
kill -TERM "$controller_pid"
wait "$controller_pid" || fail "the controller did not exit cleanly"
controller_pid=""
echo "PASS"
