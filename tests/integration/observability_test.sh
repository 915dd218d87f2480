#!/usr/bin/env bash
# Observability end to end. The real Prometheus server scrapes a running controller (every
# second) through a full local CA rotation with two `rotor agent` processes and nginx.
# Prometheus's HTTP API must show the phase change and the adoption ratio rising from 0.5 to 1
# while one agent is away; `promtool check metrics` passes on a scrape; every dashboard query
# runs on Prometheus; the alert rules load and evaluate without error. Everything runs at debug
# level, and nothing it logged, reported or exported may contain a private key or the token.
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
STATE=$(mktemp -d -t rotor-prometheus-XXXXXX)
source "$here/local_nginx_lib.sh"
controller_pid="" prometheus_pid=""
declare -A agent_pids=()
AGENT_ARGS="--log-level debug"
cleanup() {
  for pid in "${agent_pids[@]}" $controller_pid $prometheus_pid; do kill "$pid" 2>/dev/null || true; done
  stop_nginx
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- controller log" >&2; tail -20 "$STATE/controller.log" >&2 || true
  echo "--- prometheus log" >&2; tail -20 "$STATE/prometheus.log" >&2 || true
  exit 1
}
for tool in prometheus promtool jq; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done


# promql EXPR: the JSON answer of an instant query.
promql() { curl -sfG "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1"; }
# value EXPR: the first sample's value, or "none".
value() { promql "$1" | jq -r '.data.result[0].value[1] // "none"'; }
# until_value EXPR WANT TIMEOUT_SECONDS
until_value() {
  for _ in $(seq 1 $(($3 * 2))); do
    [ "$(value "$1")" = "$2" ] && return 0
    sleep 0.5
  done
  echo "last value of $1: $(value "$1")" >&2
  return 1
}

port=$(free_port) api_port=$(free_port) metrics_port=$(free_port) prom_port=$(free_port)
write_manifest "$port"
sed -i 's/adoption: {threshold: 100, minStageDuration: 3s}/adoption: {threshold: 100, minAgents: 2, minStageDuration: 3s}/' \
  "$STATE/rotation.yaml"
write_api_certificates
mkdir -p "$STATE/prometheus"
rotor apply -f "$STATE/rotation.yaml"
rotor token edge-proxy --file "$STATE/agent.token"
"$ROTOR" --local "$STATE" controller --log-level debug --log-format json --metrics-addr "127.0.0.1:$metrics_port" --adoption-addr "127.0.0.1:$api_port" \
  --adoption-cert "$STATE/api/server.crt" --adoption-key "$STATE/api/server.key" > "$STATE/controller.log" 2>&1 &
controller_pid=$!
wait_for Ready 1 30 || fail "bootstrap"
start_nginx || fail "nginx did not start"
start_agent agent-1
start_agent agent-2

cat > "$STATE/prometheus/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$root/charts/rotor/prometheus/rotor-rules.yaml"]
scrape_configs:
  - job_name: rotor
    static_configs: [{targets: ["127.0.0.1:$metrics_port"]}]
YAML
prometheus --config.file="$STATE/prometheus/prometheus.yml" --storage.tsdb.path="$STATE/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" > "$STATE/prometheus.log" 2>&1 &
prometheus_pid=$!

echo "== the scrape passes promtool and readiness is reported"
curl -sf "http://127.0.0.1:$metrics_port/readyz" >/dev/null || fail "/readyz"
curl -sf "http://127.0.0.1:$metrics_port/healthz" >/dev/null || fail "/healthz"
curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$STATE/scrape.txt"
promtool check metrics < "$STATE/scrape.txt" || fail "promtool check metrics found problems"
if grep -q "BEGIN\|sha256:\|rotor_[0-9a-f]\{64\}" "$STATE/scrape.txt"; then fail "key material or a token in /metrics"; fi
until_value 'up{job="rotor"}' 1 30 || fail "Prometheus never scraped the controller"
until_value 'rotor_rotation_phase{name="edge-proxy",phase="Ready"}' 1 15 || fail "Ready not seen by Prometheus"

echo "== Prometheus sees the phase change and the adoption ratio rise"
stop_agent agent-2
rotor rotate edge-proxy
until_value 'rotor_rotation_phase{name="edge-proxy",phase="AwaitingAdoption"}' 1 30 || fail "AwaitingAdoption not seen"
until_value 'rotor_rotation_adoption_ratio{name="edge-proxy"}' 0.5 30 || fail "adoption 0.5 not seen"
until_value 'rotor_rotation_agents{name="edge-proxy",state="pending"}' 1 15 || fail "one pending agent not seen"
start_agent agent-2
wait_for Ready 2 60 || fail "the rotation did not finish after agent-2 returned"
until_value 'rotor_rotation_revision{name="edge-proxy"}' 2 15 || fail "revision 2 not seen"
until_value 'max_over_time(rotor_rotation_adoption_ratio{name="edge-proxy"}[5m])' 1 15 || fail "adoption 1 not seen"
until_value 'rotor_rotation_phase{name="edge-proxy",phase="Ready"}' 1 15 || fail "Ready again not seen"
[ "$(value 'max_over_time(rotor_rotation_phase{name="edge-proxy",phase="Swapping"}[5m])')" = 1 ] ||
  [ "$(value 'max_over_time(rotor_rotation_phase{name="edge-proxy",phase="Verifying"}[5m])')" = 1 ] ||
  fail "neither Swapping nor Verifying was ever scraped"
[ "$(value 'sum(rotor_agent_checkins_total{result="accepted"}) > 0')" != none ] || fail "no accepted check-ins"

echo "== every dashboard query runs, and the alert rules evaluate cleanly"
queries=0
while IFS= read -r expr; do
  expr=${expr//\$__rate_interval/1m}
  expr=${expr//\$__range/5m}
  expr=${expr//\$namespace/.*}
  expr=${expr//\$name/.*}
  status=$(promql "$expr" | jq -r .status) || status="error"
  [ "$status" = success ] || fail "dashboard query failed: $expr"
  queries=$((queries + 1))
done < <(jq -r '.panels[].targets[]?.expr' "$root/charts/rotor/dashboards/rotor.json")
echo "$queries dashboard queries ran"
curl -sf "http://127.0.0.1:$prom_port/api/v1/rules" > "$STATE/rules.json"
[ "$(jq '[.data.groups[].rules[]] | length' "$STATE/rules.json")" -ge 10 ] || fail "the alert rules did not load"
unhealthy=$(jq -r '[.data.groups[].rules[] | select(.health != "ok" and .health != "unknown") | .name] | join(" ")' "$STATE/rules.json")
[ -z "$unhealthy" ] || fail "rules that fail to evaluate: $unhealthy"
firing=$(jq -r '[.data.groups[].rules[] | select(.state == "firing") | .name] | join(" ")' "$STATE/rules.json")
[ -z "$firing" ] || fail "alerts firing after a clean rotation: $firing"

echo "== no secret in anything logged, reported or exported"
curl -sf "http://127.0.0.1:$metrics_port/metrics" >> "$STATE/scrape.txt"
rotor get edge-proxy -o json > "$STATE/get.json"
rotor status edge-proxy > "$STATE/status.txt"
rotor agents edge-proxy > "$STATE/agents.txt"
rotor snapshots edge-proxy > "$STATE/snapshots.txt"
kill -TERM "$controller_pid"
wait "$controller_pid" || fail "the controller did not exit cleanly"
controller_pid=""
secret_fragments | sort -u > "$STATE/secrets.txt"
keys=$(grep -c . "$STATE/secrets.txt")
[ "$keys" -ge 10 ] || fail "found only $keys secret fragments to look for"
outputs=("$STATE/controller.log" "$STATE"/agents/*.log "$STATE/scrape.txt" "$STATE/get.json" "$STATE/status.txt"
         "$STATE/agents.txt" "$STATE/snapshots.txt")
lines=$(cat "${outputs[@]}" | wc -l)
[ "$(grep -c '"level":"debug"' "$STATE/controller.log")" -gt 0 ] || fail "the controller logged nothing at debug level"
assert_no_secrets "$STATE/secrets.txt" "${outputs[@]}" || fail "a secret leaked"
echo "scanned $lines lines of logs, status and metrics for $keys secret lines: none found"
echo "PASS"
