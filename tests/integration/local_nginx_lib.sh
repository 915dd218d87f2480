# Shared by the nginx end-to-end test and examples/run-local: a state directory with a manifest
# for a real nginx, nginx itself on 127.0.0.1, a rotor controller, and clients that connect in a
# loop, each re-reading the trust bundle on every connection. Source it; set ROTOR (the binary)
# and STATE (an empty directory) first.

rotor() { "$ROTOR" --local "$STATE" "$@"; }
test_support_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../support" && pwd)

# write_manifest PORT: short durations so that a whole rotation takes seconds.
write_manifest() {
  local port=$1
  mkdir -p "$STATE/nginx/tmp"
  cat > "$STATE/rotation.yaml" <<YAML
apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata:
  name: edge-proxy
spec:
  certificate:
    commonName: proxy.example.test
    dnsNames: [proxy.example.test, localhost]
    ipAddresses: [127.0.0.1]
    validity: 2160h
    renewBefore: 720h
    privateKey: {algorithm: ECDSA, size: 256}
  servers:
    - name: proxy
      certFile: certs/server.crt
      keyFile: certs/server.key
      reloadCommand: [nginx, -p, "$STATE/nginx", -c, "$STATE/nginx/nginx.conf", -e, "$STATE/nginx/error.log", -s, reload]
      healthCheck: {address: "127.0.0.1:$port", serverName: proxy.example.test}
  ca:
    generate: {commonName: Example Proxy CA, validity: 43800h, privateKey: {algorithm: ECDSA, size: 384}}
    rotateBefore: 2160h
  trustBundle:
    file: trust/ca-bundle.pem
  adoption: {threshold: 100, minStageDuration: 3s}
  swap:
    probe: {period: 1s, failureThreshold: 3}
    bakeTime: 3s
  prune:
    after: 3s
YAML
  cat > "$STATE/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $STATE/nginx/nginx.pid;
error_log $STATE/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $STATE/nginx/tmp/body;
  proxy_temp_path $STATE/nginx/tmp/proxy;
  fastcgi_temp_path $STATE/nginx/tmp/fastcgi;
  uwsgi_temp_path $STATE/nginx/tmp/uwsgi;
  scgi_temp_path $STATE/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$port ssl;
    server_name proxy.example.test;
    ssl_certificate $STATE/certs/server.crt;
    ssl_certificate_key $STATE/certs/server.key;
    location / { return 200 "ok\n"; }
  }
}
CONF
}

start_nginx() {
  nginx -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" -e "$STATE/nginx/error.log"
}

stop_nginx() {
  [ -f "$STATE/nginx/nginx.pid" ] && nginx -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" -e "$STATE/nginx/error.log" -s quit 2>/dev/null || true
}

# start_clients N PORT [BUNDLE...]: N loops of curl, each reading its bundle file afresh on every
# connection; client i uses the ((i-1) mod count)-th BUNDLE (default: the rotation's bundle).
start_clients() {
  local n=$1 port=$2
  shift 2
  local bundles=("${@:-$STATE/trust/ca-bundle.pem}")
  mkdir -p "$STATE/clients"
  rm -f "$STATE/clients/stop"
  client_pids=()
  for i in $(seq 1 "$n"); do
    local bundle=${bundles[$(((i - 1) % ${#bundles[@]}))]}
    (
      ok=0 failed=0
      while [ ! -f "$STATE/clients/stop" ]; do
        if curl -sS --max-time 5 --cacert "$bundle" \
             --resolve "proxy.example.test:$port:127.0.0.1" "https://proxy.example.test:$port/" -o /dev/null \
             2>>"$STATE/clients/$i.err"; then
          ok=$((ok + 1))
        else
          failed=$((failed + 1))
        fi
        echo "$ok $failed" > "$STATE/clients/$i.count.new"
        mv "$STATE/clients/$i.count.new" "$STATE/clients/$i.count"  # whole counts only, for client_totals
      done
    ) &
    client_pids+=($!)
  done
}

stop_clients() {
  touch "$STATE/clients/stop"
  # Each loop finishes its current connection (up to curl's 5 s) and writes its final count.
  wait "${client_pids[@]}" 2>/dev/null || true
  client_pids=()
}

# totals: "<ok> <failed>" over every client.
client_totals() {
  cat "$STATE"/clients/*.count 2>/dev/null | awk '{ok += $1; failed += $2} END {print ok + 0, failed + 0}'
}

# write_api_certificates: a throw-away PKI for the adoption API in $STATE/api (ca.crt, server.crt,
# server.key, ...; see test_certificates.sh) and an empty $STATE/agents for the agents' files.
write_api_certificates() {
  mkdir -p "$STATE/api" "$STATE/agents"
  (cd "$STATE/api" && sh "$test_support_dir/test_certificates.sh" >/dev/null)
}

# start_agent ID / stop_agent ID: a `rotor agent` for edge-proxy against the adoption API on
# $api_port, with its trust store and log under $STATE/agents. Declare `agent_pids` as an
# associative array first; AGENT_ARGS adds flags (such as --log-level debug).
start_agent() {
  # shellcheck disable=SC2086
  "$ROTOR" agent --server "https://127.0.0.1:$api_port" --rotation default/edge-proxy --id "$1" \
    --token-file "$STATE/agent.token" --trust-store "$STATE/agents/$1.pem" --server-ca "$STATE/api/ca.crt" \
    --interval 1s ${AGENT_ARGS:-} >> "$STATE/agents/$1.log" 2>&1 &
  agent_pids[$1]=$!
}
stop_agent() { kill "${agent_pids[$1]}"; wait "${agent_pids[$1]}" 2>/dev/null || true; unset "agent_pids[$1]"; }

# phase_and_revision: "PHASE REVISION" of edge-proxy now (not of its timeline).
phase_and_revision() { rotor get edge-proxy -o json | jq -r '"\(.status.phase) \(.status.revision)"'; }

# wait_for PHASE REVISION TIMEOUT_SECONDS: polls `rotor get -o json`.
wait_for() {
  local phase=$1 revision=$2 timeout=$3
  for _ in $(seq 1 $((timeout * 2))); do
    if [ "$(phase_and_revision)" = "$phase $revision" ]; then
      return 0
    fi
    sleep 0.5
  done
  echo "timed out waiting for $phase at revision $revision" >&2
  rotor status edge-proxy >&2 || true
  return 1
}

# free_port: a port nothing listens on (ss from iproute2, else /proc/net/tcp).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! grep -qi ":$(printf '%04X' "$port") " /proc/net/tcp 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo 28443
}

# secret_fragments: what must never show outside key files, one per line: the last 32 characters
# of each base64 line of every private key below $STATE (past the ASN.1 header that all keys of a
# type share) and of the CA keys in rotor's state, then the agents' token. Outputs the tests keep
# (*.log, *.txt, *.json, $STATE/outputs) are not sources.
secret_fragments() {
  {
    grep -rlZ --exclude-dir=outputs --exclude='*.log' --exclude='*.txt' --exclude='*.json' -- "PRIVATE KEY-----" "$STATE" |
      xargs -0 -r cat
    jq -r '.. | .key? // empty | select(type == "string")' "$STATE"/.rotor/authorities/*/*.json 2>/dev/null || true
  } | awk '/-----BEGIN .*PRIVATE KEY-----/ {k = 1; next} /-----END/ {k = 0} k && length($0) >= 32 {print substr($0, length($0) - 31)}'
  if [ -s "$STATE/agent.token" ]; then cat "$STATE/agent.token"; echo; fi
}

# assert_no_secrets FRAGMENTS FILE...: returns 1, showing where, when a fragment or a private key
# block appears in any FILE.
assert_no_secrets() {
  local fragments=$1
  shift
  local leaks
  leaks=$(grep -F -f <(grep . "$fragments") -- "$@" || true)  # not piped to head: SIGPIPE would hide it
  if [ -n "$leaks" ]; then
    cut -c1-300 <<<"$leaks" | head -5 >&2
    echo "secret material in the output above" >&2
    return 1
  fi
  if grep -l "PRIVATE KEY" -- "$@"; then
    echo "a private key block in the files above" >&2
    return 1
  fi
}
