#!/usr/bin/env bash
# End to end in local mode against a real nginx and 20 real TLS clients: bootstrap, a full CA
# rotation, a renewal, a rollback and a CA renewal with the same key (with clients that never
# re-read their bundle, and the server key kept by rotationPolicy Never), with zero failed handshakes; the rollback restores the served files byte
# for byte, and the old files are kept in timestamped backups beside them.
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
STATE=$(mktemp -d -t rotor-e2e-XXXXXX)
source "$(dirname "$0")/local_nginx_lib.sh"
controller_pid=""
cleanup() {
  touch "$STATE/clients/stop" 2>/dev/null || true
  [ -n "$controller_pid" ] && kill "$controller_pid" 2>/dev/null || true
  stop_nginx
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- controller log" >&2; tail -40 "$STATE/controller.log" >&2 || true; exit 1; }

port=$(free_port)
write_manifest "$port"
rotor apply -f "$STATE/rotation.yaml"
"$ROTOR" --local "$STATE" controller > "$STATE/controller.log" 2>&1 &
controller_pid=$!
wait_for Ready 1 30 || fail "bootstrap"
start_nginx || fail "nginx did not start"
start_clients 20 "$port"
sleep 2

echo "== CA rotation"
rotor rotate edge-proxy
wait_for Ready 2 120 || fail "CA rotation"
[ "$(grep -c BEGIN "$STATE/trust/ca-bundle.pem")" = 1 ] || fail "the old CA is still in the bundle"

echo "== renewal"
cp "$STATE/certs/server.crt" "$STATE/before-renewal.crt"
cp "$STATE/certs/server.key" "$STATE/before-renewal.key"
rotor rotate edge-proxy --renew
wait_for Ready 3 120 || fail "renewal"
cmp -s "$STATE/certs/server.crt" "$STATE/before-renewal.crt" && fail "renewal did not change the certificate"

echo "== rollback to the snapshot taken before the renewal"
rotor snapshots edge-proxy
rotor rollback edge-proxy --to edge-proxy-r2-swap
wait_for RolledBack 3 60 || fail "rollback"
cmp "$STATE/certs/server.crt" "$STATE/before-renewal.crt" || fail "rollback did not restore the certificate byte for byte"
cmp "$STATE/certs/server.key" "$STATE/before-renewal.key" || fail "rollback did not restore the key byte for byte"
backups=$(find "$STATE" -maxdepth 1 -type d -name 'certs-[0-9]*-[0-9]*' | wc -l)
[ "$backups" -ge 3 ] || fail "expected timestamped backups beside certs/, found $backups"
found=no
for dir in "$STATE"/certs-*; do cmp -s "$dir/server.crt" "$STATE/before-renewal.crt" && found=yes; done
[ "$found" = yes ] || fail "no backup directory holds the pre-renewal certificate"
sleep 2
stop_clients
read -r ok failed <<<"$(client_totals)"

echo "== CA renewal with the same key, and the server key kept (rotationPolicy: Never): clients that never re-read"
echo "   their bundle keep verifying"
sed -i 's/privateKey: {algorithm: ECDSA, size: 256}/privateKey: {algorithm: ECDSA, size: 256, rotationPolicy: Never}/' \
  "$STATE/rotation.yaml"
grep -q "rotationPolicy: Never" "$STATE/rotation.yaml" || fail "the manifest edit did not apply"
rotor apply -f "$STATE/rotation.yaml"
cp "$STATE/certs/server.crt" "$STATE/before-ca-renewal.crt"
cp "$STATE/certs/server.key" "$STATE/before-ca-renewal.key"
rm -f "$STATE"/clients/*.count
cp "$STATE/trust/ca-bundle.pem" "$STATE/frozen-bundle.pem"
start_clients 10 "$port" "$STATE/frozen-bundle.pem" "$STATE/trust/ca-bundle.pem"
sleep 1
ca_before=$(rotor get edge-proxy -o json | jq -r .status.ca.current.fingerprint)
entries_before=$(rotor get edge-proxy -o json | jq '.status.timeline | length')
rotor rotate edge-proxy --renew-ca
wait_for Ready 4 120 || fail "CA renewal"
ca_after=$(rotor get edge-proxy -o json | jq -r .status.ca.current.fingerprint)
[ "$ca_after" != "$ca_before" ] || fail "the CA certificate was not re-issued"
rotor get edge-proxy -o json | jq -e ".status.timeline[$entries_before:] | map(.phase) | index(\"AwaitingAdoption\") == null" >/dev/null ||
  fail "a CA renewal went through an adoption round"
openssl verify -purpose sslserver -CAfile "$STATE/frozen-bundle.pem" "$STATE/certs/server.crt" ||
  fail "a client holding only the old bundle rejects the certificate of the renewed CA"
cmp -s "$STATE/certs/server.crt" "$STATE/before-ca-renewal.crt" && fail "the CA renewal did not renew the server"
cmp "$STATE/certs/server.key" "$STATE/before-ca-renewal.key" || fail "rotationPolicy Never did not keep the server key"
sleep 2
stop_clients
read -r ok2 failed2 <<<"$(client_totals)"
ok=$((ok + ok2)) failed=$((failed + failed2))

echo "client handshakes: $ok succeeded, $failed failed"
[ "$failed" -eq 0 ] || { cat "$STATE"/clients/*.err | sort | uniq -c | head >&2; fail "$failed failed handshakes"; }
[ "$ok" -ge 200 ] || fail "only $ok handshakes: the clients did not run"
# What nginx serves now verifies against the bundle.
echo | openssl s_client -connect "127.0.0.1:$port" -servername proxy.example.test \
  -CAfile "$STATE/trust/ca-bundle.pem" -verify_return_error >/dev/null 2>&1 || fail "served chain does not verify"
rotor status edge-proxy | sed -n '1,12p'

kill -TERM "$controller_pid"
wait "$controller_pid" || fail "controller did not exit cleanly on SIGTERM"
controller_pid=""
grep -q "Stopped controller" "$STATE/controller.log" || fail "no clean shutdown in the log"
echo PASS
