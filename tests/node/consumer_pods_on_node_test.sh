#!/usr/bin/env bash
# spec.adoption.pods under a real kubelet. Client Deployments in two namespaces read the bundle's
# copy (a) from a configMap volume, re-reading it when it changes, (b) through a subPath mount,
# (c) through env (configMapKeyRef), (d) through a projected volume; (e) one reloads its volume and
# runs rotor's --report-pod sidecar; (f) pods whose init container outlasts the staging (their
# volume filled before it), and (g) pods started the moment the copy changes, while the kubelet's
# caches catch up. While the gate waits, the test reads inside the pods (kubectl exec) what they
# loaded and checks that no pod counted as adopted holds only the old CA: pod by pod by the rule as
# docs/kubernetes.md states it, and workload by workload by rotor's own counts. It measures the time
# from staging to the gate opening with real restarts, beside the kubelet's volume propagation.
# The controller runs on this host against the real API server (the chart test runs it in pods).
set -euo pipefail
work=$(mktemp -d)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

home=cpods
spaces=(cpods-a cpods-b)
busybox=docker.io/library/busybox:latest
controller=""
cleanup() {
  local code=$?
  set +e +o pipefail
  [[ -n "$controller" ]] && kill "$controller" 2>/dev/null && wait "$controller" 2>/dev/null
  if ((code != 0 && code != 77)); then
    kubectl get certrot trust -n "$home" -o yaml 2>&1 | sed -n '/^status:/,$p' | head -80
    tail -30 "$work/controller.log" 2>/dev/null
  fi
  kubectl delete ns "$home" "${spaces[@]}" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
for n in "$home" "${spaces[@]}"; do kubectl delete ns "$n" --ignore-not-found --wait=true --timeout=120s >/dev/null; done
node_has_image "$busybox" || skip "the node has no $busybox (node up imports it)"
import_image rotor.local/rotor:node-pods --binary "$rotor"

kubectl create ns "$home" >/dev/null
for n in "${spaces[@]}"; do
  kubectl create ns "$n" >/dev/null
  kubectl label ns "$n" rotor.dev/trust=cpods >/dev/null
done
for n in "$home" "${spaces[@]}"; do wait_for "the default service account of $n" 60 kubectl get sa default -n "$n"; done
kubectl apply -f - >/dev/null <<EOF
apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: trust, namespace: $home}
spec:
  certificate: {commonName: trust.$home.svc, dnsNames: [trust.$home.svc]}
  servers: [{name: server, secretName: trust-tls}]
  ca: {generate: {commonName: Consumer Pods CA}}
  trustBundle:
    configMapName: trust-ca
    key: ca.crt
    namespaceSelector: {matchLabels: {rotor.dev/trust: cpods}}
  adoption:
    minStageDuration: 0s
    pods: {restartWorkloads: true, maxConcurrentRestarts: 1}
  swap: {bakeTime: 0s}
  prune: {after: 5s}
EOF
"$rotor" controller --kubeconfig "$KUBECONFIG" --watch-namespace "$home" --log-format json >"$work/controller.log" 2>&1 &
controller=$!
wait_for "the bootstrap (Ready 1)" 60 rotation_is "$home" trust "Ready 1"
for n in "${spaces[@]}"; do wait_for "the copy in $n" 30 kubectl get cm trust-ca -n "$n"; done

# The clients. Each keeps what it loaded in /tmp/loaded, which the test reads.
reread='while :; do cmp -s "$F" /tmp/loaded || cat "$F" >/tmp/loaded; sleep 1; done'
volume='[{name: trust, configMap: {name: trust-ca}}]'
for n in "${spaces[@]}"; do
  {
    deployment volume "$n" 2 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        env: [{name: F, value: /trust/ca.crt}], command: [sh, -c, '$reread'],
        volumeMounts: [{name: trust, mountPath: /trust}]}]
      volumes: $volume"
    deployment subpath "$n" 1 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        env: [{name: F, value: /etc/trust/ca.crt}], command: [sh, -c, '$reread'],
        volumeMounts: [{name: trust, mountPath: /etc/trust/ca.crt, subPath: ca.crt}]}]
      volumes: $volume"
    deployment env "$n" 1 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        env: [{name: CA, valueFrom: {configMapKeyRef: {name: trust-ca, key: ca.crt}}}],
        command: [sh, -c, 'printf \"%s\\\\n\" \"\$CA\" >/tmp/loaded; exec sleep 86400']}]"
    deployment projected "$n" 1 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        env: [{name: F, value: /trust/ca.crt}], command: [sh, -c, '$reread'],
        volumeMounts: [{name: trust, mountPath: /trust}]}]
      volumes: [{name: trust, projected: {sources: [{configMap: {name: trust-ca}}]}}]"
  } >>"$work/clients.yaml"
done
# (e) The reloading client with the reporter sidecar: the one line of YAML, and a Role to patch pods.
cat >>"$work/clients.yaml" <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: bundle-reporter, namespace: ${spaces[0]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bundle-reporter, namespace: ${spaces[0]}}
rules: [{apiGroups: [""], resources: [pods], verbs: [patch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bundle-reporter, namespace: ${spaces[0]}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bundle-reporter}
subjects: [{kind: ServiceAccount, name: bundle-reporter, namespace: ${spaces[0]}}]
---
EOF
deployment reloader "${spaces[0]}" 2 "      serviceAccountName: bundle-reporter
      containers:
      - {name: app, image: $busybox, imagePullPolicy: IfNotPresent, env: [{name: F, value: /trust/ca.crt}],
         command: [sh, -c, '$reread'], volumeMounts: [{name: trust, mountPath: /trust}]}
      - name: report-bundle
        image: rotor.local/rotor:node-pods
        imagePullPolicy: Never
        args: [agent, --report-pod, --trust-store, /trust/ca.crt, --in-cluster, --log-format, json]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        volumeMounts: [{name: trust, mountPath: /trust, readOnly: true}]
        securityContext: {runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
      volumes: $volume" >>"$work/clients.yaml"
kubectl apply -f "$work/clients.yaml" >/dev/null
for n in "${spaces[@]}"; do
  for d in volume subpath env projected; do kubectl rollout status "deployment/$d" -n "$n" --timeout=120s >/dev/null; done
done
kubectl rollout status deployment/reloader -n "${spaces[0]}" --timeout=120s >/dev/null
old_digest="sha256:$(kubectl get cm trust-ca -n "${spaces[0]}" -o jsonpath='{.data.ca\.crt}' | sha256sum | cut -d' ' -f1)"
# Whether both reloader pods carry the annotation rotor.dev/bundle-digest=$1 (their sidecar reported it).
reloader_reports() {
  [[ $(kubectl get pods -n "${spaces[0]}" -l app=reloader -o jsonpath='{.items[*].metadata.annotations.rotor\.dev/bundle-digest}') == "$1 $1" ]]
}
wait_for "the reporter to annotate its pods" 60 reloader_reports "$old_digest"
reloader_pods=$(kubectl get pods -n "${spaces[0]}" -l app=reloader -o jsonpath='{.items[*].metadata.uid}')
log "clients running: volume, subPath, env and projected readers in ${spaces[*]}; a reloader with the --report-pod sidecar"

# (f) Pods whose volume is filled now, before the staging, but whose container starts after it.
deployment slowstart "${spaces[1]}" 1 "      initContainers: [{name: wait, image: $busybox, imagePullPolicy: IfNotPresent, command: [sleep, '8']}]
      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        env: [{name: F, value: /trust/ca.crt}], command: [sh, -c, 'cat \$F >/tmp/loaded; exec sleep 86400'],
        volumeMounts: [{name: trust, mountPath: /trust}]}]
      volumes: $volume" | kubectl apply -f - >/dev/null
# (g) Pods to start the moment the copy changes.
deployment burst "${spaces[1]}" 0 "      containers: [{name: app, image: $busybox, imagePullPolicy: IfNotPresent,
        env: [{name: F, value: /trust/ca.crt}], command: [sh, -c, 'cat \$F >/tmp/loaded; exec sleep 86400'],
        volumeMounts: [{name: trust, mountPath: /trust}]}]
      volumes: $volume" | kubectl apply -f - >/dev/null
sleep 2

# The rotation.
kubectl annotate certrot trust -n "$home" rotor.dev/rotate=now >/dev/null
deadline=$((SECONDS + 60))
until [[ $(kubectl get cm trust-ca -n "${spaces[1]}" -o jsonpath='{.data.ca\.crt}' | grep -c 'BEGIN CERTIFICATE') == 2 ]]; do
  ((SECONDS < deadline)) || fail "waited 60s for the copy to hold the new CA"
  sleep 0.1
done
staged=$(now_ms)
kubectl scale deployment/burst -n "${spaces[1]}" --replicas=3 >/dev/null
log "staged: the copy holds both CAs; 3 burst pods created at once"
new_ca=$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.ca.next.fingerprint}')
[[ -n "$new_ca" ]] || fail "no next CA in status"

# Whether rotor's rule, as docs/kubernetes.md states it, counts a pod: it reports the bundle's
# current digest, or every container reading the bundle started at or after bundleSince, and the
# pod too where it reads it from a volume (the kubelet filled the volume when it took the pod).
counted_pods() {  # prints "<namespace>/<pod> <counted:true|false>" for each running consumer pod
  local since="$1" digest="$2"
  kubectl get pods -A -l rotor-test=consumer -o json | jq -r --arg since "$since" --arg digest "$digest" '
    .items[] | select(.metadata.namespace | startswith("cpods-")) |
    select(.status.phase == "Running" and .metadata.deletionTimestamp == null) |
    . as $p |
    ([.spec.volumes[]? | select(.configMap.name == "trust-ca" or any(.projected.sources[]?; .configMap.name == "trust-ca")) | .name]) as $vols |
    ([.spec.containers[] | select(any(.volumeMounts[]?; .name as $m | $vols | index($m)) or any(.env[]?; .valueFrom.configMapKeyRef.name == "trust-ca"))]) as $readers |
    ([$readers[] | .name as $n | ($p.status.containerStatuses[]? | select(.name == $n) | .state.running.startedAt) as $at |
       if $at == null then false
       elif any(.volumeMounts[]?; .name as $m | $vols | index($m)) then ($at >= $since and $p.status.startTime >= $since)
       else $at >= $since end] | all) as $started |
    "\(.metadata.namespace)/\(.metadata.name) \((.metadata.annotations["rotor.dev/bundle-digest"] // "") == $digest or ($started and ($readers | length) > 0))"'
}
checks=0 exec_reads=0
declare -A holds_new  # pods read holding the new CA: a pod never unlearns it
# Whether a pod's app container loaded the new CA, read inside it (once it has, not read again):
# 0 it has, 1 it has not, 2 it could not be read (gone, or not started).
holds_new_ca() {
  [[ -n "${holds_new[$1/$2]:-}" ]] && return 0
  kubectl exec -n "$1" "$2" -c app -- cat /tmp/loaded >"$work/loaded" 2>/dev/null || return 2
  exec_reads=$((exec_reads + 1))
  [[ $'\n'"$(fingerprints "$work/loaded")"$'\n' == *$'\n'"$new_ca"$'\n'* ]] || return 1
  holds_new[$1/$2]=1
}
while [[ "$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.phase}')" == AwaitingAdoption ]]; do
  status=$(kubectl get certrot trust -n "$home" -o json)
  since=$(jq -r '.status.pods.bundleSince // empty' <<<"$status")
  [[ -n "$since" ]] || { sleep 0.5; continue; }
  digest="sha256:$(kubectl get cm trust-ca -n "$home" -o jsonpath='{.data.ca\.crt}' | sha256sum | cut -d' ' -f1)"
  counted=0
  while read -r pod is_counted; do
    [[ "$is_counted" == true ]] || continue
    counted=$((counted + 1))
    read_status=0
    holds_new_ca "${pod%/*}" "${pod#*/}" || read_status=$?
    ((read_status != 1)) ||
      fail "$pod is counted as adopted but holds only $(fingerprints "$work/loaded" | tr '\n' ' ') (new CA $new_ca)"
  done < <(counted_pods "$since" "$digest")
  # rotor's own count, workload by workload: never more adopted pods than pods that hold the new CA
  # (a workload whose pods changed since the status was written is left for the next round).
  while read -r wns wname wpods wadopted; do
    ((wadopted > 0)) || continue
    pods=$(kubectl get pods -n "$wns" -l app="$wname" -o json |
      jq -r '.items[] | select(.status.phase == "Running" and .metadata.deletionTimestamp == null) | .metadata.name')
    [[ $(wc -w <<<"$pods") == "$wpods" ]] || continue
    holders=0
    for pod in $pods; do
      if holds_new_ca "$wns" "$pod"; then holders=$((holders + 1)); fi
    done
    ((holders >= wadopted)) || fail "rotor counts $wadopted of $wns/$wname's $wpods pods as adopted; $holders hold the new CA"
  done < <(jq -r '.status.pods.workloads[]? | "\(.namespace) \(.name) \(.pods) \(.adopted)"' <<<"$status")
  rotor_adopted=$(jq -r '.status.pods.adopted // 0' <<<"$status")
  checks=$((checks + 1))
  ((checks % 5 == 1)) && log "gate waiting: rotor counts $rotor_adopted/$(jq -r '.status.pods.running // 0' <<<"$status") pods adopted; the rule counts $counted, each read inside the pod"
  if [[ -z "${reported:-}" ]] && reloader_reports "$digest"; then
    reported=$(now_ms)
    log "the reporter sidecars annotated the new digest $((reported - staged)) ms after the staging (the kubelet's volume update)"
  fi
done
opened=$(now_ms)
phase=$(kubectl get certrot trust -n "$home" -o jsonpath='{.status.phase}')
[[ "$phase" =~ ^(Swapping|Verifying|Draining|Ready)$ ]] || fail "the gate ended in $phase"
log "gate opened $((opened - staged)) ms after the staging; $checks checks, $exec_reads reads inside pods, none counted with only the old CA"
# The sidecars may report, and rotor open the gate, while one round of checks is under way: the
# annotations must hold the digest the gate was judged against by now.
if [[ -z "${reported:-}" ]]; then
  reloader_reports "$digest" || fail "the gate opened before the reporter sidecars reported the new bundle"
  reported=$opened
  log "the reporter sidecars annotated the new digest during the last round of checks"
fi

# Who was restarted: every subPath, env and projected reader and the slow starter; not the reloader.
kubectl get events.events.k8s.io -n "$home" -o json | jq -r '.items[] | select(.reason == "WorkloadRestarted") | .note' >"$work/restarts"
for n in "${spaces[@]}"; do
  for d in subpath env volume projected; do
    grep -q "Deployment $n/$d:" "$work/restarts" || fail "Deployment $n/$d was not restarted: $(cat "$work/restarts")"
  done
done
grep -q "Deployment ${spaces[0]}/reloader" "$work/restarts" && fail "the reloader, whose pods report the bundle, was restarted"
[[ "$(kubectl get pods -n "${spaces[0]}" -l app=reloader -o jsonpath='{.items[*].metadata.uid}')" == "$reloader_pods" ]] ||
  fail "the reloader's pods were replaced"
log "restarted one at a time: $(wc -l <"$work/restarts") workloads; the reloader adopted by its sidecar, no restart"
wait_for "the rotation to reach Ready 2" 120 rotation_is "$home" trust "Ready 2"
grep -q '"msg":"Reported the bundle on the pod"' <(kubectl logs -n "${spaces[0]}" -l app=reloader -c report-bundle) ||
  fail "the sidecar logged no report"
log "Ready at revision 2; staging to gate: $((opened - staged)) ms; kubelet propagation (reporter): $((reported - staged)) ms"
