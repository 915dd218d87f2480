#!/usr/bin/env bash
# The controller is killed with SIGKILL at random instants while it rotates a real nginx's CA and
# certificate over and over, and restarted each time. Real TLS clients connect throughout, each
# re-reading the trust bundle file for every connection, so each handshake checks that what nginx
# serves at that instant verifies against the bundle on disk. Afterwards: every rotation that was
# asked for has converged, nginx serves exactly the certificate on disk, every key matches its
# certificate, every snapshot's backup files are present with their recorded SHA-256, and not one
# handshake failed.
#   ROTOR_CRASH_KILLS (default 50; 200 in the long variant, README)   ROTOR_CRASH_SEED (default: random, printed)
#   ROTOR_CRASH_SLOWDOWN (default 1): stretches every lifetime, for instrumented (sanitizer) builds
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
kills=${ROTOR_CRASH_KILLS:-50}
slowdown=${ROTOR_CRASH_SLOWDOWN:-1}
seed=${ROTOR_CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
STATE=$(mktemp -d -t rotor-crash-XXXXXX)
source "$(dirname "$0")/local_nginx_lib.sh"
controller_pid=""
cleanup() {
  touch "$STATE/clients/stop" "$STATE/rotator.stop" 2>/dev/null || true
  [ -n "$controller_pid" ] && kill -KILL "$controller_pid" 2>/dev/null || true
  stop_nginx
  wait 2>/dev/null || true
  [ -n "${KEEP_STATE:-}" ] || rm -rf "$STATE"
}
trap cleanup EXIT
fail() {
  echo "FAIL (seed $seed): $*" >&2
  echo "--- controller log (last lines)" >&2
  tail -30 "$STATE/controller.log" >&2 || true
  exit 1
}
echo "seed $seed, $kills kills"
RANDOM=$seed

start_controller() {
  "$ROTOR" --local "$STATE" controller >> "$STATE/controller.log" 2>&1 &
  controller_pid=$!
}

# rotation_state: "<phase> <revision>" from the stored rotation.
rotation_state() {
  rotor get edge-proxy -o json | jq -r '"\(.status.phase) \(.status.revision)"'
}

# Asks for the next rotation (a CA rotation, then a renewal, in turn) whenever the last one is
# done; counts the requests that were accepted in rotator.requests.
start_rotator() {
  (
    requests=0
    echo 0 > "$STATE/rotator.requests"
    while [ ! -f "$STATE/rotator.stop" ]; do
      read -r phase _ <<<"$(rotation_state 2>/dev/null || echo "unknown 0")"
      if [ "$phase" = Ready ]; then
        flag=""
        ((requests % 2)) && flag=--renew
        # shellcheck disable=SC2086
        if rotor rotate edge-proxy $flag >/dev/null 2>&1; then
          requests=$((requests + 1))
          echo "$requests" > "$STATE/rotator.requests"
        fi
      fi
      sleep 0.3
    done
  ) &
  rotator_pid=$!
}

port=$(free_port)
write_manifest "$port"
# Seconds, not minutes, between phases: many rotations fit between the kills.
sed -i -e 's/minStageDuration: 3s/minStageDuration: 1s/' -e 's/bakeTime: 3s/bakeTime: 1s/' \
  -e 's/after: 3s/after: 1s/' "$STATE/rotation.yaml"
rotor apply -f "$STATE/rotation.yaml" >/dev/null
start_controller
wait_for Ready 1 30 || fail "bootstrap"
start_nginx || fail "nginx did not start"
start_clients 10 "$port"
start_rotator

started=$SECONDS
for i in $(seq 1 "$kills"); do
  if ((i > 1)); then start_controller; fi
  # Lifetimes from 10 ms (still starting up) to 1.5 s (mid-phase, mid-write, mid-reload).
  lifetime=$((RANDOM % 1000))
  ((RANDOM % 2)) && lifetime=$((lifetime + RANDOM % 5 * 100))
  lifetime=$((lifetime * slowdown))
  sleep "$((lifetime / 1000)).$(printf '%03d' $((lifetime % 1000)))"
  if ! kill -KILL "$controller_pid" 2>/dev/null; then
    status=0
    wait "$controller_pid" || status=$?
    fail "the controller exited by itself (status $status) before kill $i"
  fi
  wait "$controller_pid" 2>/dev/null || true
  controller_pid=""
  ((i % 50 == 0)) && echo "$i kills, $(cat "$STATE/rotator.requests") rotations asked for, $(client_totals) handshakes ok/failed"
done
echo "$kills kills in $((SECONDS - started)) s"

touch "$STATE/rotator.stop"
wait "$rotator_pid"  # a request it was making when told to stop still counts
requested=$(cat "$STATE/rotator.requests")
start_controller
final=$((requested + 1))
wait_for Ready "$final" 120 || fail "the last rotation asked for (revision $final) did not converge"
[ "$(rotation_state)" = "Ready $final" ] || fail "expected Ready at revision $final, found $(rotation_state)"
sleep 2
stop_clients
kill -TERM "$controller_pid"
wait "$controller_pid" || fail "the controller did not stop cleanly"
controller_pid=""

read -r ok failed <<<"$(client_totals)"
echo "$kills kills survived; $requested rotations asked for, all converged (revision $final); handshakes: $ok succeeded, $failed failed"
[ "$failed" -eq 0 ] || { sort "$STATE"/clients/*.err | uniq -c | head >&2; fail "$failed failed handshakes"; }
[ "$ok" -ge $((10 * kills)) ] || fail "only $ok handshakes: the clients did not run"
# Progress between kills: a few rotations in a long run; two in a short instrumented one (8 kills
# under TSan last about 18 s, and a rotation with its 1 s waits takes about 5 s there).
least=$((kills >= 20 ? 4 : 2))
[ "$requested" -ge "$least" ] || fail "only $requested rotations were asked for: the controller made no progress between kills"

# nginx serves exactly the certificate on disk, and it verifies against the bundle.
served=$(echo | openssl s_client -connect "127.0.0.1:$port" -servername proxy.example.test \
  -CAfile "$STATE/trust/ca-bundle.pem" -verify_return_error 2>/dev/null | openssl x509 -fingerprint -sha256 -noout) ||
  fail "the served chain does not verify against the bundle"
[ "$served" = "$(openssl x509 -in "$STATE/certs/server.crt" -fingerprint -sha256 -noout)" ] ||
  fail "nginx serves another certificate than certs/server.crt"

# Every key matches its certificate: the server's, and the current CA's in rotor's state.
pub() { openssl pkey -pubin -in /dev/stdin -outform DER 2>/dev/null | sha256sum; }
[ "$(openssl pkey -in "$STATE/certs/server.key" -pubout | pub)" = \
  "$(openssl x509 -in "$STATE/certs/server.crt" -pubkey -noout | pub)" ] || fail "server.key does not match server.crt"
authorities="$STATE/.rotor/authorities/default/edge-proxy.json"
jq -r '.current.certificate' "$authorities" > "$STATE/ca.crt"
[ "$(jq -r '.current.key' "$authorities" | openssl pkey -pubout | pub)" = \
  "$(openssl x509 -in "$STATE/ca.crt" -pubkey -noout | pub)" ] || fail "the CA key in rotor's state does not match its certificate"
openssl verify -CAfile "$STATE/ca.crt" "$STATE/certs/server.crt" >/dev/null || fail "server.crt is not issued by the current CA"

# Every snapshot's backups are on disk with their recorded digest; one snapshot per swap.
snapshots=0
for index in "$STATE"/.rotor/snapshots/default/edge-proxy/*.json; do
  snapshots=$((snapshots + 1))
  while read -r path sha; do
    [ -f "$path" ] || fail "$(basename "$index"): backup $path is missing"
    [ "$(sha256sum < "$path" | cut -d' ' -f1)" = "$sha" ] || fail "$(basename "$index"): backup $path is damaged"
  done < <(jq -r '.files[] | "\(.path) \(.sha256)"' "$index")
done
# A rotation from revision r snapshots before its swap as edge-proxy-rR-swap.
for revision in $(seq 1 "$requested"); do
  [ -f "$STATE/.rotor/snapshots/default/edge-proxy/edge-proxy-r$revision-swap.json" ] ||
    fail "no snapshot was taken before the swap of revision $revision"
done
leftovers=$(find "$STATE" -name '.*.tmp-*' | wc -l)
echo "$snapshots snapshots intact; $leftovers temporary files left by kills mid-write"
echo PASS
