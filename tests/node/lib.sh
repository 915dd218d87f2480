# Shared by the real-node tests: rotor's image and its test peers built with .ci/image and
# imported into the node's containerd, kubectl and helm as the admin, and waits that say what
# they waited for. Sourced; needs ROTOR (the binary) and ROTOR_TEST_KUBECONFIG.
#
# These tests run only where ../shared/tools/real-cluster has a control plane up with `node up`
# (a real kubelet); elsewhere they exit 77, which ctest reports as skipped, saying why.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rotor="${ROTOR:?ROTOR must name the rotor binary}"
state="${ROTOR_REAL_CLUSTER:-${XDG_CACHE_HOME:-$HOME/.cache}/rotor-real-cluster}"
containerd_socket="$state/node/run/containerd.sock"
helm="${HELM:-helm}"

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

[[ -n "${ROTOR_TEST_KUBECONFIG:-}" ]] || skip "no real API server (ROTOR_TEST_KUBECONFIG is not set)"
export KUBECONFIG="$ROTOR_TEST_KUBECONFIG"
[[ "$(kubectl get node localhost -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]] ||
  skip "no real node (../shared/tools/real-cluster/node up starts one)"
[[ -S "$containerd_socket" ]] || skip "the node's containerd socket $containerd_socket is missing"
server_version=$(kubectl version -o json 2>/dev/null | jq -r '.serverVersion.gitVersion')
log "real node on kube-apiserver $server_version"

ctr_k8s() { ctr --address "$containerd_socket" -n k8s.io "$@"; }
# Whether the node's containerd holds an image of that name (listed whole: grep -q on a pipe would
# end the listing early, which pipefail reports as a failure).
node_has_image() { [[ $'\n'"$(ctr_k8s images ls -q)"$'\n' == *$'\n'"$1"$'\n'* ]]; }

# Builds an image with .ci/image (extra arguments: --program ...) and imports it; prints nothing.
import_image() {
  local tag="$1" archive
  shift
  archive="$work/$(tr '/:' '__' <<<"$tag").tar"
  "$root/.ci/image" --tag "$tag" --output "$archive" "$@" >"$archive.log" || { cat "$archive.log"; fail "building $tag"; }
  ctr_k8s images import "$archive" >/dev/null || fail "ctr could not import $tag"
  node_has_image "$tag" || fail "ctr imported $archive but lists no $tag"
  log "imported $tag: $(head -1 "$archive.log" | sed 's/^image [^ ]* in [^ ]*: //')"
}

# waits up to SECONDS for COMMAND... to succeed; fails with WHAT otherwise.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "waited ${seconds}s for $what"
    sleep 0.5
  done
}

# The phase and revision of a rotation: "Ready 2".
rotation_state() { kubectl get certrot "$2" -n "$1" -o jsonpath='{.status.phase} {.status.revision}' 2>/dev/null; }
rotation_is() { [[ "$(rotation_state "$1" "$2")" == "$3" ]]; }

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# Every pod of a selector Running and Ready.
pods_ready() {
  local ns="$1" selector="$2" want="${3:-}"
  local ready total
  total=$(kubectl get pods -n "$ns" -l "$selector" --no-headers 2>/dev/null | grep -vc Terminating || true)
  ready=$(kubectl get pods -n "$ns" -l "$selector" -o json |
    jq '[.items[] | select(.metadata.deletionTimestamp == null) |
         select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')
  [[ "$total" -gt 0 && "$ready" == "$total" && (-z "$want" || "$ready" == "$want") ]]
}

# A Deployment scheduled on the node: NAME NAMESPACE REPLICAS and the pod spec's fields, indented
# by six spaces; its pods are labelled app=NAME and rotor-test=consumer.
deployment() {
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $2}
spec:
  replicas: $3
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1, rotor-test: consumer}}
    spec:
      schedulerName: rotor-node
      terminationGracePeriodSeconds: 1
$4
---
EOF
}

# Runs a pod to completion on the node (restartPolicy Never) and prints its log; fails if it failed.
run_pod() {
  local ns="$1" name="$2" spec="$3"
  kubectl apply -n "$ns" -f - <<<"$spec" >/dev/null
  wait_for "pod $ns/$name to finish" 120 bash -c \
    "kubectl get pod -n $ns $name -o jsonpath='{.status.phase}' | grep -Eq 'Succeeded|Failed'"
  kubectl logs -n "$ns" "$name"
  [[ "$(kubectl get pod -n "$ns" "$name" -o jsonpath='{.status.phase}')" == Succeeded ]]
}

# Fingerprints ("sha256:<hex>") of the certificates in a PEM file, one per line.
fingerprints() {
  local split
  split=$(mktemp -d)
  awk -v dir="$split" 'BEGIN{n=0} /BEGIN CERT/{n++} n{print > (dir "/" n ".pem")}' "$1"
  for f in "$split"/*.pem; do
    [[ -e "$f" ]] || continue
    openssl x509 -in "$f" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f' | sed 's/^/sha256:/'
  done
  rm -rf "$split"
}
