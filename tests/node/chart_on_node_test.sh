#!/usr/bin/env bash
# rotor as a platform team meets it, on a real node (kubelet, containerd, pod network): the image
# built by .ci/image and imported, `helm install --wait` bringing two controller pods to Ready
# through the chart's own probes, `helm test`, a rotation of examples/kubernetes/edge-proxy.yaml
# whose server is a real Deployment serving TLS (restarted by rotor, its rollout real) and whose
# client pods read the bundle's copy, agents running as pods and checking in through the chart's
# Service, leadership handed over when the leader's pod is deleted (gracefully and forced) and when
# its container is killed, `helm upgrade` to a new image tag, the PodDisruptionBudget, and
# `helm uninstall`. Prints what it measured: time without a leader, longest time an agent went
# unanswered, check-ins lost.
set -euo pipefail
work=$(mktemp -d)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

ns=rotor-node
release=rotor
edge=edge
clients=edge-clients
agents=6
cleanup() {
  local code=$?
  set +e +o pipefail
  if ((code != 0 && code != 77)); then
    log "state at failure:"
    kubectl get pods,lease -n "$ns" -o wide 2>&1 | head -20
    kubectl get pods -n "$edge" -o wide 2>&1 | head -10
    kubectl get certrot -n "$edge" -o yaml 2>&1 | sed -n '/^  status:/,$p' | head -60
    for pod in $(kubectl get pods -n "$ns" -l app.kubernetes.io/component=controller -o name 2>/dev/null); do
      echo "--- $pod"; kubectl logs -n "$ns" "$pod" --tail=30 2>&1
    done
  fi
  "$helm" uninstall "$release" -n "$ns" --wait >/dev/null 2>&1 || true
  kubectl delete ns "$ns" "$edge" "$clients" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
for n in "$ns" "$edge" "$clients"; do
  kubectl delete ns "$n" --ignore-not-found --wait=true --timeout=120s >/dev/null
done

# 1. The images: rotor twice (the upgrade's new tag), and openssl as the TLS server and client.
import_image rotor.local/rotor:node-a --binary "$rotor"
import_image rotor.local/rotor:node-b --binary "$rotor"
import_image rotor.local/openssl:node --program /usr/bin/openssl

# 2. The chart. The CRD, where an earlier install or kubectl left it, is adopted as docs/install.md says.
kubectl create ns "$ns" >/dev/null
if kubectl get crd certificaterotations.rotor.dev >/dev/null 2>&1; then
  kubectl label crd certificaterotations.rotor.dev app.kubernetes.io/managed-by=Helm --overwrite >/dev/null
  kubectl annotate crd certificaterotations.rotor.dev --overwrite meta.helm.sh/release-name="$release" \
    meta.helm.sh/release-namespace="$ns" >/dev/null
fi
# The adoption API's certificate names the Service's fixed address (no cluster DNS on this node).
service_ip=10.96.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=rotor-api \
  -addext "subjectAltName=IP:$service_ip" -keyout "$work/api.key" -out "$work/api.crt" 2>/dev/null
kubectl create secret tls rotor-api-tls -n "$ns" --cert "$work/api.crt" --key "$work/api.key" >/dev/null
wait_for "the default service account of $ns" 60 kubectl get sa default -n "$ns"
values=(--set image.repository=rotor.local/rotor --set image.tag=node-a --set image.pullPolicy=Never
        --set schedulerName=rotor-node --set replicaCount=2 --set podDisruptionBudget.enabled=true --set service.clusterIP="$service_ip"
        --set adoption.enabled=true --set adoption.tlsSecretName=rotor-api-tls --set logging.format=json)
started=$(now_ms)
"$helm" install "$release" "$root/charts/rotor" -n "$ns" "${values[@]}" --wait --timeout 180s >"$work/install.log" ||
  { cat "$work/install.log"; fail "helm install --wait"; }
log "helm install --wait: both controller pods Ready through the chart's probes in $(($(now_ms) - started)) ms"
pods_ready "$ns" app.kubernetes.io/component=controller 2 || fail "not 2 ready controller pods"
leader_pod() {
  kubectl get pods -n "$ns" -l rotor.dev/leader=true -o json |
    jq -r '[.items[] | select(.metadata.deletionTimestamp == null)] | if length == 1 then .[0].metadata.name else "" end'
}
lease_holder() { kubectl get lease "$release" -n "$ns" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
wait_for "a pod labelled leader" 60 test -n "$(leader_pod)"
leader=$(leader_pod)
follower=$(kubectl get pods -n "$ns" -l app.kubernetes.io/component=controller,rotor.dev/leader!=true -o name | head -1)
[[ "$(lease_holder)" == *"$leader"* ]] || fail "the Lease is held by '$(lease_holder)', the label is on $leader"
[[ -n "$follower" ]] || fail "no follower"
kubectl get "$follower" -n "$ns" -o json |
  jq -e 'any(.status.conditions[]; .type == "Ready" and .status == "True")' >/dev/null || fail "$follower not ready"
log "leader $leader (the Lease's holder, labelled); follower ${follower#pod/} ready and not leading"
# (The test pod goes once it succeeds, hook-delete-policy: its log with it.)
"$helm" test "$release" -n "$ns" >"$work/test.log" 2>&1 || { cat "$work/test.log"; fail "helm test"; }
grep -A3 "TEST SUITE: *rotor-check" "$work/test.log" | grep -q "Phase: *Succeeded" ||
  { cat "$work/test.log"; fail "helm test did not run rotor-check to success"; }
log "helm test: rotor-check Succeeded (rotor check --in-cluster through the Service's variables)"

# 3. The rotation of the example, its server a real Deployment serving TLS with the Secret rotor keeps.
kubectl create ns "$edge" >/dev/null
kubectl create ns "$clients" >/dev/null
kubectl label ns "$clients" rotor.dev/trust=edge-proxy >/dev/null
for n in "$edge" "$clients"; do wait_for "the default service account of $n" 60 kubectl get sa default -n "$n"; done
kubectl apply -f "$root/examples/kubernetes/edge-proxy.yaml" >/dev/null
wait_for "the example's bootstrap (Ready 1)" 90 rotation_is "$edge" edge-proxy "Ready 1"
# (openssl as pid 1 ignores SIGTERM: the helper's one-second grace.)
{
  deployment edge-proxy "$edge" 1 "      securityContext: {runAsNonRoot: true, runAsUser: 65532}
      containers:
      - name: proxy
        image: rotor.local/openssl:node
        imagePullPolicy: Never
        args: [s_server, -accept, '8443', -cert, /tls/tls.crt, -key, /tls/tls.key, -www, -quiet]
        ports: [{containerPort: 8443}]
        readinessProbe: {tcpSocket: {port: 8443}, periodSeconds: 1}
        volumeMounts: [{name: tls, mountPath: /tls, readOnly: true}]
      volumes: [{name: tls, secret: {secretName: edge-proxy-tls}}]"
  cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: edge-proxy, namespace: $edge}
spec:
  selector: {app: edge-proxy}
  ports: [{port: 8443, targetPort: 8443}]
EOF
} >"$work/server.yaml"
kubectl apply -f "$work/server.yaml" >/dev/null
kubectl rollout status deployment/edge-proxy -n "$edge" --timeout=90s >/dev/null
proxy_ip=$(kubectl get svc edge-proxy -n "$edge" -o jsonpath='{.spec.clusterIP}')
# A client of the proxy: loads the bundle's copy in its namespace when it starts (a consumer pod).
deployment proxy-client "$clients" 1 "      containers:
      - name: client
        image: docker.io/library/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'cat /trust/ca.crt >/tmp/loaded; exec sleep 86400']
        volumeMounts: [{name: trust, mountPath: /trust, readOnly: true}]
      volumes: [{name: trust, configMap: {name: edge-proxy-ca}}]" >"$work/client.yaml"
kubectl apply -f "$work/client.yaml" >/dev/null
kubectl rollout status deployment/proxy-client -n "$clients" --timeout=90s >/dev/null
# A trial's durations (as a user shortens them), and a TLS probe of the server from the controller's pod.
kubectl patch certrot edge-proxy -n "$edge" --type merge -p "$(cat <<EOF
{"spec": {"adoption": {"minStageDuration": "0s"}, "swap": {"bakeTime": "5s"}, "prune": {"after": "5s"},
 "servers": [{"name": "proxy", "secretName": "edge-proxy-tls", "restart": {"kind": "Deployment", "name": "edge-proxy"},
              "healthCheck": {"address": "$proxy_ip:8443", "serverName": "edge-proxy.edge.svc"}}]}}
EOF
)" >/dev/null
old_ca=$(kubectl get certrot edge-proxy -n "$edge" -o jsonpath='{.status.ca.current.fingerprint}')
old_server_pod=$(kubectl get pods -n "$edge" -l app=edge-proxy -o jsonpath='{.items[0].metadata.name}')

# 4. Agents as pods, checking in through the chart's Service by its address.
"$rotor" token edge-proxy -n "$edge" --kubeconfig "$KUBECONFIG" --file "$work/agent.token" >/dev/null
kubectl create secret generic agent-token -n "$clients" --from-file=token="$work/agent.token" >/dev/null
kubectl create configmap rotor-api-ca -n "$clients" --from-file=ca.crt="$work/api.crt" >/dev/null
deployment agents "$clients" "$agents" "      securityContext: {runAsNonRoot: true, runAsUser: 65532}
      containers:
      - name: agent
        image: rotor.local/rotor:node-a
        imagePullPolicy: Never
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        args: [agent, --server, 'https://$service_ip:8444', --rotation, $edge/edge-proxy, --id, \$(POD_NAME),
               --token-file, /token/token, --trust-store, /tmp/trust.pem, --server-ca, /api-ca/ca.crt,
               --interval, 1s, --log-level, debug, --log-format, json]
        volumeMounts:
        - {name: token, mountPath: /token, readOnly: true}
        - {name: api-ca, mountPath: /api-ca, readOnly: true}
        - {name: tmp, mountPath: /tmp}
        securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
      volumes:
      - {name: token, secret: {secretName: agent-token}}
      - {name: api-ca, configMap: {name: rotor-api-ca}}
      - {name: tmp, emptyDir: {}}" >"$work/agents.yaml"
kubectl apply -f "$work/agents.yaml" >/dev/null
kubectl rollout status deployment/agents -n "$clients" --timeout=90s >/dev/null
agent_pods=$(kubectl get pods -n "$clients" -l app=agents -o jsonpath='{.items[*].metadata.name}')
wait_for "$agents agents to report" 60 bash -c \
  "'$rotor' agents edge-proxy -n $edge --kubeconfig '$KUBECONFIG' | grep -q '^Measured.* $agents adopted'"
log "$agents agent pods check in through https://$service_ip:8444 (the Service's address, leader-label selector)"

# The rotation: the gate waits for the agents and the client pod (restarted by rotor), then the
# server's Deployment is restarted with its new certificate and probed from the controller's pod.
kubectl annotate certrot edge-proxy -n "$edge" rotor.dev/rotate="$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
started=$(now_ms)
wait_for "the rotation to reach Ready 2" 300 rotation_is "$edge" edge-proxy "Ready 2"
log "edge-proxy rotated: Ready at revision 2 in $(($(now_ms) - started)) ms"
new_ca=$(kubectl get certrot edge-proxy -n "$edge" -o jsonpath='{.status.ca.current.fingerprint}')
[[ "$new_ca" != "$old_ca" ]] || fail "the CA did not change"
live_server_pods=$(kubectl get pods -n "$edge" -l app=edge-proxy -o json |
  jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name')
[[ "$live_server_pods" != *"$old_server_pod"* ]] ||
  fail "the server's pod $old_server_pod was not replaced (its Deployment was not restarted)"
kubectl get events.events.k8s.io -n "$edge" -o json | jq -r '.items[].reason' | sort -u >"$work/reasons"
for reason in Adopted Swapped Verified Rotated; do
  grep -qx "$reason" "$work/reasons" || fail "no $reason event (events: $(tr '\n' ' ' <"$work/reasons"))"
done
# What a client sees now: the new server certificate verifies against the pruned bundle's copy alone.
kubectl create configmap probe -n "$clients" --from-literal=x=y >/dev/null
run_pod "$clients" tls-check "$(cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: tls-check}
spec:
  schedulerName: rotor-node
  restartPolicy: Never
  securityContext: {runAsNonRoot: true, runAsUser: 65532}
  containers:
  - name: check
    image: rotor.local/openssl:node
    imagePullPolicy: Never
    args: [s_client, -connect, "$proxy_ip:8443", -CAfile, /trust/ca.crt, -verify_return_error, -servername, edge-proxy.edge.svc, -brief]
    volumeMounts: [{name: trust, mountPath: /trust}]
  volumes: [{name: trust, configMap: {name: edge-proxy-ca}}]
EOF
)" >"$work/tls-check.log" 2>&1 </dev/null || { cat "$work/tls-check.log"; fail "a client of the copied bundle could not verify the server"; }
grep -q "Verification: OK" "$work/tls-check.log" || { cat "$work/tls-check.log"; fail "no verification"; }
[[ $(grep -c "BEGIN CERTIFICATE" <<<"$(kubectl get cm edge-proxy-ca -n "$clients" -o jsonpath='{.data.ca\.crt}')") == 1 ]] ||
  fail "the copy still holds more than the new CA"
log "a pod trusting only the pruned copy verifies the new server certificate (openssl s_client: Verification: OK)"

# 5. Failovers, with the agents checking in all along.
# Every acknowledged check-in of each agent, as "<agent> <epoch ms>", from its log.
acks() {
  for pod in $agent_pods; do
    kubectl logs -n "$clients" "$pod" 2>/dev/null | jq -r --arg pod "$pod" \
      'select(.msg == "Reported what the trust store holds") | .ts as $ts |
       ($ts | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) * 1000 + (($ts | capture("\\.(?<ms>[0-9]{3})").ms // "0") | tonumber) |
       "\($pod) \(.)"' 2>/dev/null
  done
}
# The longest stretch, over the agents, between two acknowledged check-ins that spans [from, to]
# (log times have whole seconds).
longest_unanswered() {
  acks | sort -k1,1 -k2,2n | awk -v from="$1" -v to="$2" '
    $1 != agent { agent = $1; last = $2; next }
    { if ($2 >= from && last <= to && $2 - last > worst) worst = $2 - last; last = $2 }
    END { print worst + 0 }'
}
# Waits for the Lease to pass from holder `old` to another identity (a restarted container is a new
# one) and the leader label to follow; prints ms without a leader and the new leader's pod.
await_new_leader() {
  local old="$1" since="$2" deadline=$((SECONDS + 90)) holder
  while ((SECONDS < deadline)); do
    holder=$(lease_holder)
    if [[ -n "$holder" && "$holder" != "$old" ]]; then
      echo "$(($(now_ms) - since)) ${holder%%_*}"
      wait_for "the label on ${holder%%_*}" 30 bash -c "[[ \$(kubectl get pod -n $ns ${holder%%_*} -o jsonpath='{.metadata.labels.rotor\\.dev/leader}') == true ]]"
      return 0
    fi
    sleep 0.1
  done
  fail "no new leader within 90 s after $old"
}
failover() {
  local how="$1" old holder from took next unanswered
  old=$(leader_pod)
  holder=$(lease_holder)
  [[ -n "$old" && "$holder" == "$old"_* ]] || fail "no labelled leader holding the Lease before the $how failover"
  from=$(now_ms)
  case "$how" in
    graceful) kubectl delete pod -n "$ns" "$old" --wait=false >/dev/null ;;
    forced) kubectl delete pod -n "$ns" "$old" --grace-period=0 --force >/dev/null 2>&1 ;;
    crash)
      local id
      id=$(kubectl get pod -n "$ns" "$old" -o jsonpath='{.status.containerStatuses[0].containerID}')
      ctr_k8s task kill -s SIGKILL "${id#containerd://}" >/dev/null ;;
  esac
  next=$(await_new_leader "$holder" "$from") || exit 1
  read -r took next <<<"$next"
  sleep 8  # the agents' next check-ins, through the Service, reach the new leader
  wait_for "two ready controller pods after the $how failover" 120 pods_ready "$ns" app.kubernetes.io/component=controller 2
  unanswered=$(longest_unanswered "$from" "$(now_ms)")
  log "failover ($how, $old -> $next): without a leader for ${took} ms; longest an agent went unanswered: ${unanswered} ms"
  echo "$how $took $unanswered" >>"$work/failovers"
}
failover graceful
failover forced
failover crash
restarts=$(kubectl get pods -n "$ns" -o jsonpath='{.items[*].status.containerStatuses[0].restartCount}' | tr ' ' '+')
(($((restarts)) >= 1)) || fail "the kubelet restarted no container after the crash"

# 0 lost: what each agent last reported (it adopted the new CA, the old one pruned) was acknowledged
# long before; after a crash too, the records the next leader loads hold every agent, adopted.
acked=$(acks | wc -l)
"$rotor" agents edge-proxy -n "$edge" --kubeconfig "$KUBECONFIG" >"$work/records"
grep -q "^Measured against the current CA sha256:[0-9a-f]*: $agents adopted, 0 pending, 0 stale" "$work/records" ||
  { cat "$work/records"; fail "the records after the failovers do not hold $agents adopted agents"; }
for pod in $agent_pods; do grep -q "^$pod  *adopted" "$work/records" || fail "no record of $pod"; done
log "0 lost: after three failovers the persisted records hold all $agents agents as adopted ($acked check-ins acknowledged)"

# 6. helm upgrade to a new image tag: a ready leader throughout.
(
  while :; do
    leader=$(kubectl get pods -n "$ns" -l rotor.dev/leader=true -o json 2>/dev/null |
      jq -r '[.items[] | select(.metadata.deletionTimestamp == null) |
              select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')
    echo "$(now_ms) ${leader:-0}"
    sleep 0.2
  done
) >"$work/leadership" &
watcher=$!
"$helm" upgrade "$release" "$root/charts/rotor" -n "$ns" "${values[@]}" --set image.tag=node-b --wait --timeout 180s \
  >"$work/upgrade.log" || { cat "$work/upgrade.log"; fail "helm upgrade --wait"; }
wait_for "the leader to run node-b" 60 bash -c "kubectl get pods -n $ns -l rotor.dev/leader=true -o jsonpath='{.items[*].spec.containers[0].image}' | grep -qx rotor.local/rotor:node-b"
kill "$watcher"
gap=$(awk '$2 == 0 { if (!start) start = $1; end = $1 } $2 > 0 && start { g = end - start + 200; if (g > worst) worst = g; start = 0 }
           END { print worst + 0 }' "$work/leadership")
wait_for "the old pods to go" 60 bash -c "[[ \$(kubectl get pods -n $ns -l app.kubernetes.io/component=controller -o name | wc -l) == 2 ]]"
images=$(kubectl get pods -n "$ns" -l app.kubernetes.io/component=controller -o jsonpath='{.items[*].spec.containers[0].image}')
[[ "$images" == "rotor.local/rotor:node-b rotor.local/rotor:node-b" ]] || fail "after the upgrade: $images"
log "helm upgrade to node-b: longest time without a ready labelled leader, sampled every 200 ms: ${gap} ms"

# 7. The PodDisruptionBudget: one controller may be evicted, never both.
wait_for "the PDB to allow one disruption" 60 bash -c \
  "[[ \$(kubectl get pdb -n $ns -o jsonpath='{.items[0].status.disruptionsAllowed}') == 1 ]]"
evict() {
  kubectl create --raw "/api/v1/namespaces/$ns/pods/$1/eviction" -f - 2>&1 <<EOF
{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "$1", "namespace": "$ns"}}
EOF
}
read -r first second <<<"$(kubectl get pods -n "$ns" -l app.kubernetes.io/component=controller -o jsonpath='{.items[*].metadata.name}')"
evict "$first" >/dev/null || fail "the first eviction was refused"
refused=$(evict "$second" || true)
grep -q "disruption budget" <<<"$refused" || fail "the second eviction was not refused by the budget: $refused"
log "PDB: evicted $first, refused $second (\"$(grep -o 'Cannot evict[^"]*' <<<"$refused" | head -1)\")"
wait_for "two ready controller pods after the eviction" 120 pods_ready "$ns" app.kubernetes.io/component=controller 2

# 8. helm uninstall leaves the CRD (crds.keep) and nothing else of the release.
"$helm" uninstall "$release" -n "$ns" --wait --timeout 120s >/dev/null
wait_for "the controller pods to go" 60 bash -c "[[ -z \$(kubectl get pods -n $ns -o name) ]]"
kubectl delete secret rotor-api-tls -n "$ns" >/dev/null  # the test's own
left=$(kubectl get all,sa,role,rolebinding,cm,secret,pdb -n "$ns" -o name 2>/dev/null |
  grep -v -e '^serviceaccount/default$' -e '^configmap/kube-root-ca.crt$' -e '^configmap/openshift-service-ca.crt$' || true)
left+=$(kubectl get clusterrole,clusterrolebinding -l app.kubernetes.io/instance="$release" -o name 2>/dev/null)
[[ -z "$left" ]] || fail "helm uninstall left: $left"
# As docs/install.md says: the leader Lease stays (the controllers made it).
[[ "$(kubectl get lease -n "$ns" -o jsonpath='{.items[*].metadata.name}')" == "$release" ]] ||
  fail "leases left: $(kubectl get lease -n "$ns" -o wide 2>&1)"
kubectl get crd certificaterotations.rotor.dev >/dev/null || fail "the CRD went with the release"
kubectl get certrot edge-proxy -n "$edge" >/dev/null || fail "the rotation went with the release"
log "helm uninstall: nothing left but the CRD (kept, with its rotations) and the leader Lease, as documented"
column -t "$work/failovers" | sed 's/^/  failover /'
