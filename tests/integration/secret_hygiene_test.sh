#!/usr/bin/env bash
# No secret leaves rotor except into the files meant for it. A controller (debug logs, in text and
# then in JSON) serves the adoption API and /metrics while an agent checks in and the rotation goes
# through bootstrap, a CA rotation, a renewal and a rollback; requests with a wrong token, a
# world-readable CA key and a bad reload command add error paths. Then every log line, every CLI
# output (get, status, snapshots, agents, plan, help), the stored status, the metrics and every
# error message is scanned for each private key that exists anywhere in the state directory, for
# the bearer tokens, and for any PEM private key block at all. Also checked: every private key file
# is 0600 and the directories holding them 0700.
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
STATE=$(mktemp -d -t rotor-secrets-XXXXXX)
source "$(dirname "$0")/local_nginx_lib.sh"
controller_pid=""
declare -A agent_pids=()
cleanup() {
  for pid in "${agent_pids[@]}" $controller_pid; do kill "$pid" 2>/dev/null || true; done
  stop_nginx
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
OUT="$STATE/outputs"  # everything rotor printed, logged or served that is not a secret file
mkdir -p "$OUT"

start_controller() {  # FORMAT
  "$ROTOR" --local "$STATE" controller --log-level debug --log-format "$1" --metrics-addr "127.0.0.1:$metrics_port" \
    --adoption-addr "127.0.0.1:$api_port" --adoption-cert "$STATE/api/server.crt" --adoption-key "$STATE/api/server.key" \
    >> "$OUT/controller-$1.log" 2>&1 &
  controller_pid=$!
}
stop_controller() { kill -TERM "$controller_pid"; wait "$controller_pid" || true; controller_pid=""; }
capture() {  # NAME COMMAND...: stdout and stderr of a command, whatever its exit status
  local name=$1
  shift
  "$@" > "$OUT/$name.txt" 2>&1 || true
}

port=$(free_port)
api_port=$(free_port)
metrics_port=$(free_port)
write_manifest "$port"
sed -i 's/adoption: {threshold: 100, minStageDuration: 3s}/adoption: {threshold: 100, minAgents: 1, minStageDuration: 1s}/' \
  "$STATE/rotation.yaml"
write_api_certificates
rotor apply -f "$STATE/rotation.yaml" > "$OUT/apply.txt"
rotor token edge-proxy --file "$STATE/agent.token" > "$OUT/token-to-file.txt"
start_controller text
wait_for Ready 1 30 || fail "bootstrap"
start_nginx || fail "nginx did not start"
start_agent agent-1
for _ in $(seq 1 40); do [ -s "$STATE/agents/agent-1.pem" ] && break; sleep 0.25; done

rotor rotate edge-proxy > "$OUT/rotate.txt"
wait_for Ready 2 60 || fail "CA rotation"
wrong_token="wrong-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
for path in bundle agents/agent-1; do
  curl -sk -X "$([ "$path" = bundle ] && echo GET || echo PUT)" -H "Authorization: Bearer $wrong_token" \
    -H 'Content-Type: application/json' -d '{"trusted":[]}' \
    "https://127.0.0.1:$api_port/v1/namespaces/default/rotations/edge-proxy/$path" >> "$OUT/api-refusals.txt" || true
done
curl -s "http://127.0.0.1:$metrics_port/metrics" > "$OUT/metrics-text.txt"
stop_controller

start_controller json
rotor rotate edge-proxy --renew > "$OUT/renew.txt"
wait_for Ready 3 60 || fail "renewal"
rotor rollback edge-proxy > "$OUT/rollback.txt"
wait_for RolledBack 3 60 || fail "rollback"
curl -s "http://127.0.0.1:$metrics_port/metrics" > "$OUT/metrics-json.txt"
for verb in "get edge-proxy -o yaml" "get edge-proxy -o json" "get -A" "status edge-proxy" "snapshots edge-proxy" \
            "agents edge-proxy" "plan edge-proxy" "version" "--help" "controller --help" "token --help"; do
  # shellcheck disable=SC2086
  capture "cli-${verb// /_}" rotor $verb
done
stop_controller
kill "${agent_pids[agent-1]}"

# Error paths: a world-readable CA key of a custom CA, and a reload command that fails.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$STATE/custom-ca.key" \
  -out "$STATE/custom-ca.crt" -subj /CN=Custom -days 30 2>/dev/null
chmod 644 "$STATE/custom-ca.key"
sed -e 's/name: edge-proxy/name: custom/' -e 's/generate: {commonName: Example Proxy CA.*/files: {certFile: custom-ca.crt, keyFile: custom-ca.key}/' \
  -e 's|certs/server|custom/server|' -e 's|trust/ca-bundle.pem|custom/bundle.pem|' -e 's/reloadCommand: \[.*\]/reloadCommand: [\/bin\/false]/' \
  "$STATE/rotation.yaml" > "$STATE/custom.yaml"
rotor apply -f "$STATE/custom.yaml" > "$OUT/apply-custom.txt"
capture controller-once-world-readable "$ROTOR" --local "$STATE" controller --once --log-level debug
capture cli-status-world-readable rotor status custom
grep -q "readable by every user" "$OUT/cli-status-world-readable.txt" "$OUT/controller-once-world-readable.txt" ||
  fail "the world-readable CA key was not reported"
chmod 600 "$STATE/custom-ca.key"
capture controller-once-failing-reload "$ROTOR" --local "$STATE" controller --once --log-level debug
capture cli-status-failing-reload rotor status custom
capture cli-get-failing-reload rotor get custom -o yaml
cp "$STATE"/.rotor/rotations/default/*.json "$OUT/"

# The secrets: every private key in play (servers', backups', the adoption API's, the CAs in
# rotor's state) and both tokens, the accepted and the refused one.
secrets="$STATE/secrets.txt"
{ secret_fragments; echo "$wrong_token"; } | sort -u > "$secrets"
keys=$(grep -c . "$secrets")
[ "$keys" -ge 20 ] || fail "found only $keys secret fragments to look for"
scanned=$(cat "$OUT"/* | wc -c)
[ "$scanned" -ge 20000 ] || fail "only $scanned bytes of output: the scan would prove little"
assert_no_secrets "$secrets" "$OUT"/* || fail "a secret leaked"

# Permissions: private keys 0600, the directories that hold them 0700.
while IFS= read -r file; do
  case "$file" in "$STATE/api/"* | "$STATE/custom-ca.key" | "$STATE/agents/"*) continue ;; esac  # the test's own
  [ "$(stat -c %a "$file")" = 600 ] || fail "$file is mode $(stat -c %a "$file"), not 600"
  [ "$(stat -c %a "$(dirname "$file")")" = 700 ] || fail "$(dirname "$file") holds a key and is not 700"
done < <(grep -rl --exclude-dir=outputs -- "PRIVATE KEY-----" "$STATE"; find "$STATE/.rotor/authorities" -type f)
[ "$(stat -c %a "$STATE/agent.token")" = 600 ] || fail "the token file is not 600"
echo "scanned $scanned bytes of logs, CLI output, status and metrics for $keys secret fragments: none found"
echo PASS
