#!/usr/bin/env bash
# spec.trustBundle.clusterTrustBundle under a real kubelet: client Deployments in another
# namespace read the bundle through a projected clusterTrustBundle volume source, (a) by the
# ClusterTrustBundle's name and (b) by its signer name and a label selector. A CA rotation stages
# the new CA in the ClusterTrustBundle beside the ConfigMap, counts those pods (spec.adoption.pods),
# restarts them, and opens the gate only once every running pod loaded the new CA, which the test
# reads inside each pod (kubectl exec); the prune leaves the new CA alone in the ClusterTrustBundle
# and in what restarted pods read; deleting the rotation removes the ClusterTrustBundle. The kubelet
# keeps a signer's bundle read by name in a cache its changes do not clear (5 minutes): rotor
# restarts those readers only once it expired, which this test checks took place.
# Needs an API server serving ClusterTrustBundles and a kubelet with ClusterTrustBundleProjection
# (../shared/tools/real-cluster/README.md: v1.32 with the feature gates); skipped otherwise.
set -euo pipefail
work=$(mktemp -d)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

home=ctb-home
apps=ctb-apps
signer=rotor-test.example/ctb
# A name of this run's own: the kubelet keeps what it read by name for 5 minutes (below).
bundle=rotor-test.example:ctb:trust-$(date +%s)
busybox=docker.io/library/busybox:latest
controller=""
cleanup() {
  local code=$?
  set +e +o pipefail
  [[ -n "$controller" ]] && kill "$controller" 2>/dev/null && wait "$controller" 2>/dev/null
  if ((code != 0 && code != 77)); then
    kubectl get certrot trust -n "$home" -o yaml 2>&1 | sed -n '/^status:/,$p' | head -60
    kubectl get pods -n "$apps" -o wide 2>&1
    tail -30 "$work/controller.log" 2>/dev/null
  fi
  kubectl delete ns "$home" "$apps" --wait=false >/dev/null 2>&1 || true
  kubectl delete clustertrustbundle "$bundle" --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
kubectl api-resources --api-group=certificates.k8s.io -o name 2>/dev/null | grep -qx clustertrustbundles.certificates.k8s.io ||
  skip "the API server serves no ClusterTrustBundles (start it with the ClusterTrustBundle feature gate)"
node_has_image "$busybox" || skip "the node has no $busybox (node up imports it)"
for n in "$home" "$apps"; do kubectl delete ns "$n" --ignore-not-found --wait=true --timeout=120s >/dev/null; done
kubectl delete clustertrustbundle -l rotor.dev/part=cluster-trust-bundle,rotor-test/bundle=trust --ignore-not-found >/dev/null
for n in "$home" "$apps"; do
  kubectl create ns "$n" >/dev/null
  wait_for "the default service account of $n" 60 kubectl get sa default -n "$n"
done
kubectl apply -f - >/dev/null <<EOF
apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: trust, namespace: $home}
spec:
  certificate: {commonName: trust.$home.svc, dnsNames: [trust.$home.svc]}
  servers: [{name: server, secretName: trust-tls}]
  ca: {generate: {commonName: ClusterTrustBundle CA}}
  trustBundle:
    configMapName: trust-ca
    clusterTrustBundle: {name: "$bundle", signerName: $signer, labels: {rotor-test/bundle: trust}}
  adoption:
    minStageDuration: 0s
    pods: {restartWorkloads: true, maxConcurrentRestarts: 1}
  swap: {bakeTime: 0s}
  prune: {after: 5s}
EOF
"$rotor" controller --kubeconfig "$KUBECONFIG" --watch-namespace "$home" --log-format json >"$work/controller.log" 2>&1 &
controller=$!
wait_for "the bootstrap (Ready 1)" 60 rotation_is "$home" trust "Ready 1"
wait_for "the ClusterTrustBundle" 30 kubectl get clustertrustbundle "$bundle"
log "bootstrap: $(kubectl get clustertrustbundle "$bundle" -o jsonpath='{.spec.signerName} {.metadata.labels}')"

# The clients: each keeps what it loaded at start in /tmp/loaded, which the test reads.
load='cat /trust/ca.pem >/tmp/loaded; exec sleep 86400'
{
  deployment by-name "$apps" 2 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        command: [sh, -c, '$load'], volumeMounts: [{name: trust, mountPath: /trust}]}]
      volumes: [{name: trust, projected: {sources: [{clusterTrustBundle: {name: '$bundle', path: ca.pem}}]}}]"
  deployment by-signer "$apps" 1 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        command: [sh, -c, '$load'], volumeMounts: [{name: trust, mountPath: /trust}]}]
      volumes: [{name: trust, projected: {sources: [{clusterTrustBundle: {signerName: $signer,
        labelSelector: {matchLabels: {rotor-test/bundle: trust}}, path: ca.pem}}]}}]"
} | kubectl apply -f - >/dev/null
for d in by-name by-signer; do kubectl rollout status "deployment/$d" -n "$apps" --timeout=120s >/dev/null; done

# What pod $1 loaded, as fingerprints on one line; empty when it cannot be read.
loaded() {
  kubectl exec -n "$apps" "$1" -c app -- cat /tmp/loaded >"$work/loaded" 2>/dev/null || return 0
  fingerprints "$work/loaded" | sort | tr '\n' ' '
}
running_pods() {
  kubectl get pods -n "$apps" -l rotor-test=consumer -o json |
    jq -r '.items[] | select(.status.phase == "Running" and .metadata.deletionTimestamp == null) | .metadata.name'
}
old_ca=$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.ca.current.fingerprint}')
for pod in $(running_pods); do
  [[ "$(loaded "$pod")" == "$old_ca " ]] || fail "$pod loaded '$(loaded "$pod")', not the CA ($old_ca)"
done
log "3 pods in $apps read the ClusterTrustBundle (2 by name, 1 by signer and labels): each loaded the CA"

# The rotation.
kubectl annotate certrot trust -n "$home" rotor.dev/rotate=now >/dev/null
wait_for "the ClusterTrustBundle to hold both CAs" 60 bash -c "[[ \$(kubectl get clustertrustbundle '$bundle' -o jsonpath='{.spec.trustBundle}' | grep -c 'BEGIN CERTIFICATE') == 2 ]]"
staged=$(now_ms)
new_ca=$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.ca.next.fingerprint}')
[[ -n "$new_ca" ]] || fail "no next CA in status"
log "staged: the ClusterTrustBundle holds both CAs"
# Counted by rotor in a namespace the bundle's ConfigMap is not in, whichever way they select it.
wait_for "rotor to count the 3 pods" 30 bash -c \
  "[[ \$(kubectl get certrot trust -n $home -o jsonpath='{.status.pods.running}') == 3 ]]"
checks=0
while [[ "$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.phase}')" == AwaitingAdoption ]]; do
  # rotor's count, workload by workload: never more adopted than pods that loaded the new CA.
  status=$(kubectl get certrot trust -n "$home" -o json)
  while read -r wname wpods wadopted; do
    ((wadopted > 0)) || continue
    pods=$(kubectl get pods -n "$apps" -l app="$wname" -o json |
      jq -r '.items[] | select(.status.phase == "Running" and .metadata.deletionTimestamp == null) | .metadata.name')
    [[ $(wc -w <<<"$pods") == "$wpods" ]] || continue
    holders=0
    for pod in $pods; do [[ "$(loaded "$pod")" == *"$new_ca"* ]] && holders=$((holders + 1)); done
    ((holders >= wadopted)) || fail "rotor counts $wadopted of $wname's $wpods pods as adopted; $holders loaded the new CA"
  done < <(jq -r --arg ns "$apps" '.status.pods.workloads[]? | select(.namespace == $ns) | "\(.name) \(.pods) \(.adopted)"' <<<"$status")
  checks=$((checks + 1))
  sleep 0.5
done
opened=$(now_ms)
phase=$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.phase}')
[[ "$phase" =~ ^(Swapping|Verifying|Draining|Ready)$ ]] || fail "the gate ended in $phase"
for pod in $(running_pods); do
  [[ "$(loaded "$pod")" == *"$new_ca"* ]] || fail "the gate opened while $pod had loaded only '$(loaded "$pod")'"
done
log "gate opened $((opened - staged)) ms after the staging ($checks checks); every running pod loaded the new CA"
kubectl get events.events.k8s.io -n "$home" -o json | jq -r '.items[] | select(.reason == "WorkloadRestarted") | .note' >"$work/restarts"
for d in by-name by-signer; do
  grep -q "Deployment $apps/$d:" "$work/restarts" || fail "Deployment $apps/$d was not restarted: $(cat "$work/restarts")"
done
since=$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.pods.bundleSince}')
restarted=$(kubectl get deployment by-name -n "$apps" -o jsonpath='{.spec.template.metadata.annotations.rotor\.dev/restartedAt}')
(($(date -d "$restarted" +%s) >= $(date -d "$since" +%s) + 300)) ||
  fail "by-name was restarted at $restarted, within the kubelet's 5-minute cache of bundleSince $since"
log "by-signer restarted at once; by-name at $restarted, once the kubelet's cache from $since expired"

wait_for "the rotation to reach Ready 2" 120 rotation_is "$home" trust "Ready 2"
wait_for "the prune of the ClusterTrustBundle" 60 bash -c "[[ \$(kubectl get clustertrustbundle '$bundle' -o jsonpath='{.spec.trustBundle}' | grep -c 'BEGIN CERTIFICATE') == 1 ]]"
kubectl get clustertrustbundle "$bundle" -o jsonpath='{.spec.trustBundle}' >"$work/ctb.pem"
[[ "$(fingerprints "$work/ctb.pem")" == "$new_ca" ]] || fail "the ClusterTrustBundle holds $(fingerprints "$work/ctb.pem") after the prune"
# A pod started now reads only the new CA.
kubectl rollout restart deployment/by-signer -n "$apps" >/dev/null
kubectl rollout status deployment/by-signer -n "$apps" --timeout=120s >/dev/null
pod=$(kubectl get pods -n "$apps" -l app=by-signer -o json |
  jq -r '[.items[] | select(.status.phase == "Running" and .metadata.deletionTimestamp == null)][0].metadata.name')
[[ "$(loaded "$pod")" == "$new_ca " ]] || fail "$pod, started after the prune, loaded '$(loaded "$pod")'"
log "Ready at revision 2; the ClusterTrustBundle and a pod started since hold the new CA alone"

kubectl delete certrot trust -n "$home" >/dev/null
wait_for "the ClusterTrustBundle to go with its rotation" 60 bash -c "! kubectl get clustertrustbundle '$bundle'"
grep -q '"level":"error"' "$work/controller.log" && fail "the controller logged errors: $(grep '"level":"error"' "$work/controller.log" | head -3)"
log "deleted with its rotation; the controller logged no error"
