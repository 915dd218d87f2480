#!/usr/bin/env bash
# A full file system under the served files, then a full state directory, on real tmpfs
# mounts, while nginx serves and clients connect: rotor reports the error (status and logs), nginx
# keeps serving what it had, no handshake fails, and each rotation finishes once the file system
# takes writes again. Needs mount(2): where the machine refuses it the test is skipped (exit 77)
# and DiskFullTest covers the same ground with a store that fails writes.
set -euo pipefail
ROTOR=${ROTOR:?path to the rotor binary}
STATE=$(mktemp -d -t rotor-diskfull-XXXXXX)
source "$(dirname "$0")/local_nginx_lib.sh"
controller_pid=""
mounts=()
cleanup() {
  touch "$STATE/clients/stop" 2>/dev/null || true
  [ -n "$controller_pid" ] && kill "$controller_pid" 2>/dev/null || true
  stop_nginx
  wait 2>/dev/null || true
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
  [ -n "${KEEP_STATE:-}" ] || rm -rf "$STATE"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$STATE/controller.log" >&2 || true; exit 1; }

mkdir -p "$STATE/certs" "$STATE/.rotor"
for dir in "$STATE/certs" "$STATE/.rotor"; do
  if ! mount -t tmpfs -o size=256k,mode=0700 tmpfs "$dir" 2>/dev/null; then
    echo "SKIP: this machine does not allow a tmpfs mount (DiskFullTest covers this with a failing store)"
    exit 77
  fi
  mounts+=("$dir")
done

# degraded: "<status> <reason> <message>" of the Degraded condition.
degraded() {
  rotor get edge-proxy -o json | jq -r '.status.conditions[] | select(.type == "Degraded") | "\(.status) \(.reason) \(.message)"'
}
degraded_says() { [[ "$(degraded)" == True*"$1"* ]]; }
wait_until() {  # SECONDS COMMAND...
  local timeout=$1
  shift
  for _ in $(seq 1 $((timeout * 4))); do "$@" && return 0; sleep 0.25; done
  return 1
}

port=$(free_port)
write_manifest "$port"
sed -i -e 's/minStageDuration: 3s/minStageDuration: 1s/' "$STATE/rotation.yaml"
rotor apply -f "$STATE/rotation.yaml" >/dev/null
"$ROTOR" --local "$STATE" controller > "$STATE/controller.log" 2>&1 &
controller_pid=$!
wait_for Ready 1 30 || fail "bootstrap"
start_nginx || fail "nginx did not start"
start_clients 5 "$port"

echo "== the served files' file system is full"
dd if=/dev/zero of="$STATE/certs/filler" bs=4k 2>/dev/null || true
served_before=$(openssl x509 -in "$STATE/certs/server.crt" -fingerprint -sha256 -noout)
rotor rotate edge-proxy >/dev/null
wait_until 30 degraded_says "No space left on device" || fail "status does not report the full disk: $(degraded)"
echo "status: $(degraded)"
grep -q "No space left on device" "$STATE/controller.log" || fail "the log does not report the full disk"
sleep 2
[ "$(openssl x509 -in "$STATE/certs/server.crt" -fingerprint -sha256 -noout)" = "$served_before" ] ||
  fail "the served certificate changed on a full disk"
rm "$STATE/certs/filler"
wait_for Ready 2 60 || fail "the rotation did not finish once space returned"
[[ "$(degraded)" == False* ]] || fail "still degraded after recovering: $(degraded)"

echo "== the state directory fills up mid-rotation"
# (Remounting it read-only is refused while rotor holds its lock files open; a full one fails the
# same writes, with ENOSPC instead of EROFS.)
sed -i -e 's/minStageDuration: 1s/minStageDuration: 3s/' "$STATE/rotation.yaml"
rotor apply -f "$STATE/rotation.yaml" >/dev/null
rotor rotate edge-proxy >/dev/null
wait_for AwaitingAdoption 2 30 || fail "staging"
full_disk_errors() { grep -c "No space left on device" "$STATE/controller.log" || true; }
more_errors_than() { [ "$(full_disk_errors)" -gt "$1" ]; }
errors_before=$(full_disk_errors)
dd if=/dev/zero of="$STATE/.rotor/filler" bs=4k 2>/dev/null || true
wait_until 30 more_errors_than "$errors_before" ||
  fail "the log does not report the full state directory"
rotor get edge-proxy >/dev/null || fail "reading the state failed while it was full"
if out=$(rotor rotate edge-proxy --renew 2>&1); then fail "a write to a full state directory succeeded"; fi
grep -q "No space left on device\|in flight" <<<"$out" || fail "unclear CLI error on a full state directory: $out"
kill -0 "$controller_pid" || fail "the controller died on a full state directory"
sleep 2
rm "$STATE/.rotor/filler"
wait_for Ready 3 60 || fail "the rotation did not finish once the state directory had room again"
[[ "$(degraded)" == False* ]] || fail "still degraded after recovering: $(degraded)"
stop_clients

read -r ok failed <<<"$(client_totals)"
echo "handshakes: $ok succeeded, $failed failed"
[ "$failed" -eq 0 ] || fail "$failed failed handshakes"
[ "$ok" -ge 50 ] || fail "only $ok handshakes: the clients did not run"
echo PASS
