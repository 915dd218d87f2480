#!/usr/bin/env bash
# The adoption API over HTTPS keep-alive against nginx on the same machine, in the same run, with
# the same certificate, the same number of server threads / workers and the same wrk load:
#   check-ins/s (wrk PUT with a Lua script)  vs  nginx serving a static file of the check-in answer's size
#   bundle GETs answered 304/s               vs  nginx answering 304 for a static file of the bundle's size
# Prints each figure, its baseline and the ratio. wrk fails the run if any answer is not 2xx/3xx.
#   ROTOR=build-release/controller/cli/rotor bench/adoption_http_bench.sh [SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
seconds=${1:-8}
connections=${2:-64}
rounds=${3:-2}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
STATE=$(mktemp -d -t rotor-http-bench-XXXXXX)
source "$here/../tests/integration/local_nginx_lib.sh"
controller_pid=""
cleanup() {
  [ -n "$controller_pid" ] && kill "$controller_pid" 2>/dev/null || true
  [ -f "$STATE/web/nginx.pid" ] && nginx -p "$STATE/web" -c "$STATE/web/nginx.conf" -e "$STATE/web/error.log" -s quit 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT

port=$(free_port)
api_port=$(free_port)
web_port=$(free_port)
write_manifest "$port"
mkdir -p "$STATE/api" "$STATE/web/root" "$STATE/web/tmp"
(cd "$STATE/api" && sh "$here/../tests/support/test_certificates.sh" >/dev/null)
rotor apply -f "$STATE/rotation.yaml" >/dev/null
# Agents as a fleet deploys them: 10,000 ids behind 5 tokens, each token within the API's limit of
# new ids per token (2,000 by default), each check-in reporting the CA the bundle really holds.
tokens=()
for t in 1 2 3 4 5; do
  rotor token edge-proxy --file "$STATE/agent-$t.token" >/dev/null
  tokens+=("$(cat "$STATE/agent-$t.token")")
done
"$ROTOR" --local "$STATE" controller --log-level warn --adoption-addr "127.0.0.1:$api_port" \
  --adoption-cert "$STATE/api/server.crt" --adoption-key "$STATE/api/server.key" > "$STATE/controller.log" 2>&1 &
controller_pid=$!
wait_for Ready 1 30 || { echo "the rotation did not become Ready" >&2; tail "$STATE/controller.log" >&2; exit 1; }

api="https://127.0.0.1:$api_port/v1/namespaces/default/rotations/edge-proxy"
token=${tokens[0]}
curl -sf --cacert "$STATE/api/ca.crt" -H "Authorization: Bearer $token" "$api/bundle" -o "$STATE/web/root/bundle.pem" \
  -D "$STATE/bundle.headers"
etag=$(grep -i '^etag:' "$STATE/bundle.headers" | cut -d' ' -f2 | tr -d '\r')
fp="sha256:$(openssl x509 -in "$STATE/web/root/bundle.pem" -outform DER | sha256sum | cut -d' ' -f1)"
body="{\"trusted\":[\"$fp\"],\"version\":\"bench\"}"
curl -sf --cacert "$STATE/api/ca.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -X PUT --data "$body" "$api/agents/agent-0" -o "$STATE/web/root/checkin.json"

# The whole fleet registers before anything is measured, one keep-alive connection per token, so
# that the count checked at the end does not depend on how many requests wrk managed to send.
for t in 0 1 2 3 4; do
  for ((id = t; id < 10000; id += 5)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$api/agents/agent-$id"; done > "$STATE/register-$t.curl"
  curl -s --cacert "$STATE/api/ca.crt" -H "Authorization: Bearer ${tokens[$t]}" -H 'Content-Type: application/json' \
    -X PUT --data "$body" -K "$STATE/register-$t.curl" -w '%{http_code}\n' > "$STATE/register-$t.codes"
  registered=$(grep -c '^200$' "$STATE/register-$t.codes" || true)
  [ "$registered" -eq 2000 ] || { echo "token $t registered $registered of its 2,000 agents:" >&2; sort "$STATE/register-$t.codes" | uniq -c >&2; exit 1; }
done

# nginx with the same certificate and as many workers as the API has threads.
cat > "$STATE/web/nginx.conf" <<CONF
worker_processes 2;
pid $STATE/web/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $STATE/web/tmp/body;
  proxy_temp_path $STATE/web/tmp/proxy;
  fastcgi_temp_path $STATE/web/tmp/fastcgi;
  uwsgi_temp_path $STATE/web/tmp/uwsgi;
  scgi_temp_path $STATE/web/tmp/scgi;
  server {
    listen 127.0.0.1:$web_port ssl;
    ssl_certificate $STATE/api/server.crt;
    ssl_certificate_key $STATE/api/server.key;
    root $STATE/web/root;
  }
}
CONF
# nginx's workers drop to an unprivileged user when started as root: let them read the files.
chmod 755 "$STATE" "$STATE/web" "$STATE/web/root"
chmod 644 "$STATE"/web/root/*
nginx -p "$STATE/web" -c "$STATE/web/nginx.conf" -e "$STATE/web/error.log"
web="https://127.0.0.1:$web_port"
sleep 0.5
nginx_etag=$(curl -sf --cacert "$STATE/api/ca.crt" -I "$web/bundle.pem" | grep -i '^etag:' | cut -d' ' -f2 | tr -d '\r')

# Each wrk thread checks in for the 10,000 agents in turn, agent i with token i % 5.
cat > "$STATE/put.lua" <<LUA
local n = 0
local tokens = { "${tokens[0]}", "${tokens[1]}", "${tokens[2]}", "${tokens[3]}", "${tokens[4]}" }
wrk.method = "PUT"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local id = n % 10000
  wrk.headers["Authorization"] = "Bearer " .. tokens[id % 5 + 1]
  return wrk.format(nil, "/v1/namespaces/default/rotations/edge-proxy/agents/agent-" .. id)
end
LUA

# measure NAME URL [wrk args...]: keeps in best[NAME] the highest requests/s seen, after checking
# that wrk completed and every answer had the expected status (in the main shell: a failure ends
# the benchmark, it never becomes a figure).
declare -A best=([checkins]=0 [static]=0 [not_modified]=0 [nginx_not_modified]=0)
measure() {
  local name=$1 url=$2 rate
  shift 2
  if ! wrk -t2 -c"$connections" -d"${seconds}s" "$@" "$url" > "$STATE/wrk.out" 2>&1; then
    echo "wrk failed against $url:" >&2; cat "$STATE/wrk.out" >&2; exit 1
  fi
  if grep -q "Non-2xx or 3xx\|Socket errors" "$STATE/wrk.out"; then
    echo "wrk saw failed requests against $url:" >&2; cat "$STATE/wrk.out" >&2; exit 1
  fi
  rate=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$STATE/wrk.out")
  [[ $rate =~ ^[0-9]+$ && $rate -gt 0 ]] || { echo "no request rate from wrk:" >&2; cat "$STATE/wrk.out" >&2; exit 1; }
  ((rate > best[$name])) && best[$name]=$rate
  return 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Rounds of rotor and nginx taking turns, best of each: wrk shares the two cores with the server
# under test, and one unlucky scheduling slice should not decide a ratio.
for ((round = 0; round < rounds; round++)); do
  measure checkins "$api/agents/x" -s "$STATE/put.lua"
  measure static "$web/checkin.json"
  measure not_modified "$api/bundle" -H "Authorization: Bearer $token" -H "If-None-Match: $etag"
  measure nginx_not_modified "$web/bundle.pem" -H "If-None-Match: $nginx_etag"
done
# Every check-in was accepted (measure checks) and none made an agent of its own: the API holds
# exactly the 10,000 the fleet registered.
known=$(rotor agents edge-proxy | grep -c '^agent-' || true)
[ "$known" -eq 10000 ] || { echo "the API holds $known of the 10,000 agents that checked in" >&2; exit 1; }
checkins=${best[checkins]} static=${best[static]}
not_modified=${best[not_modified]} nginx_not_modified=${best[nginx_not_modified]}
printf '%-44s %10s/s  nginx %10s/s  ratio %sx (target >= 0.8)\n' \
  "check-ins over HTTPS keep-alive (PUT)" "$checkins" "$static" "$(ratio "$checkins" "$static")"
printf '%-44s %10s/s  nginx %10s/s  ratio %sx (target >= 1.0)\n' \
  "bundle GET answered 304" "$not_modified" "$nginx_not_modified" "$(ratio "$not_modified" "$nginx_not_modified")"
echo "ROW | Adoption API: check-ins over HTTPS keep-alive (wrk PUT, $connections connections) | ${checkins}/s | nginx serving a static file of the answer's size: ${static}/s | $(ratio "$checkins" "$static")x | >= 0.8x |"
echo "ROW | Adoption API: bundle GET answered 304 | ${not_modified}/s | nginx answering 304 for a file of the bundle's size: ${nginx_not_modified}/s | $(ratio "$not_modified" "$nginx_not_modified")x | >= 1.0x |"
