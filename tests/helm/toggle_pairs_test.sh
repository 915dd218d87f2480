#!/usr/bin/env bash
# `helm template` and `helm lint --strict` for every pair of the chart's toggles in all four value
# combinations (the masks with at most two toggles on or at most two off: 112 of the 1,024), each
# rendered document checked for the fields every Kubernetes object needs. No template condition
# reads more than two toggles, so pairs reach every branch; all 1,024 took nine times as long for
# nothing more. ROTOR_CHART_ALL_COMBINATIONS=1 renders all of them (the long variant, README).
set -euo pipefail
chart="$(cd "$(dirname "$0")/../../charts/rotor" && pwd)"
helm="${HELM:-helm}"
toggles=(crds.enabled crds.keep rbac.create serviceAccount.create leaderElection.enabled
         metrics.serviceMonitor.enabled metrics.prometheusRule.enabled metrics.dashboard.enabled
         podDisruptionBudget.enabled adoption.enabled)

check() {
  local mask=$1 sets="adoption.tlsSecretName=rotor-api-tls" i
  for i in "${!toggles[@]}"; do
    sets+=",${toggles[$i]}=$(( (mask >> i) & 1 ? 1 : 0 ))"
  done
  sets=${sets//=1/=true}
  sets=${sets//=0/=false}
  local on=0
  for i in "${!toggles[@]}"; do on=$(( on + ((mask >> i) & 1) )); done
  local pair=$(( on <= 2 || on >= ${#toggles[@]} - 2 ))
  (( pair || ${ROTOR_CHART_ALL_COMBINATIONS:-0} )) || return 0
  if (( pair )) && ! out=$("$helm" lint --strict "$chart" --set "$sets" 2>&1); then
    echo "FAIL lint: $sets"; echo "$out"; return 1
  fi
  if ! out=$("$helm" template rel "$chart" --namespace rotor-system --set "$sets" 2>&1); then
    echo "FAIL template: $sets"; echo "$out"; return 1
  fi
  # Every document names its apiVersion, kind and a DNS-1123 name.
  awk -v sets="$sets" '
    /^---/ { if (doc) check(); doc = 1; api = kind = name = ""; inmeta = 0; next }
    /^apiVersion: / { api = $2 } /^kind: / { kind = $2 }
    /^metadata:/ { inmeta = 1; next } /^[^ ]/ { inmeta = 0 }
    inmeta && /^  name: / { name = $2 }
    function check() {
      if (api == "" || kind == "" || name !~ /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/ || length(name) > 253) {
        printf "FAIL shape (%s): apiVersion=%s kind=%s name=%s\n", sets, api, kind, name; bad = 1
      }
    }
    END { if (doc) check(); exit bad }' <<<"$out" || return 1
}
export -f check
export chart helm ROTOR_CHART_ALL_COMBINATIONS
export toggles_list="${toggles[*]}"

combos=$((1 << ${#toggles[@]}))
# xargs runs each combination in a fresh shell; the toggles travel as a string.
seq 0 $((combos - 1)) | xargs -P "$(nproc)" -I{} bash -c 'toggles=($toggles_list); check {}' \
  || { echo "some combinations failed"; exit 1; }
echo "helm template and lint --strict passed for every pair of ${#toggles[@]} toggles" \
  "$( ((${ROTOR_CHART_ALL_COMBINATIONS:-0})) && echo "(template for all $combos combinations)")"
