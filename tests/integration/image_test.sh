#!/usr/bin/env bash
# The container image recipe, as far as a machine without a Docker engine can check it:
#  - the runtime stage's package list (.ci/install-deps --list-runtime) covers every shared
#    library the rotor binary links, directly or through those packages' dependencies;
#  - the recipe builds with the scripts CI runs, on debian:bookworm-slim, and runs as non-root.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rotor="${ROTOR:?ROTOR must name the rotor binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }

mapfile -t runtime < <("$root/.ci/install-deps" --list-runtime)
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances --no-pre-depends "${runtime[@]}" 2>/dev/null |
          grep -v '^ ' | sed 's/:.*//' | sort -u)
checked=0
while read -r lib path; do
  [[ -n "$path" && -e "$path" ]] || continue
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
    pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) || true
  [[ -n "$pkg" ]] || fail "no package provides $path ($lib)"
  grep -qx "$pkg" <<<"$closure" || fail "$lib comes from $pkg, which the runtime package list does not bring"
  checked=$((checked + 1))
done < <(ldd "$rotor" | awk '$2 == "=>" {print $1, $3}')
((checked >= 8)) || fail "ldd listed only $checked libraries"
echo "runtime package list covers all $checked shared libraries of the binary"

dockerfile="$root/.ci/Dockerfile"
grep -q '^FROM debian:bookworm-slim AS build$' "$dockerfile" || fail "the build stage is not debian:bookworm-slim"
[[ $(grep -c '^FROM debian:bookworm-slim' "$dockerfile") -eq 2 ]] || fail "the runtime stage is not debian:bookworm-slim"
grep -q 'ROTOR_DEPS=--build .ci/build' "$dockerfile" || fail "the image does not build with .ci/build"
grep -q 'install-deps --runtime' "$dockerfile" || fail "the runtime stage does not use install-deps --runtime"
user=$(grep '^USER ' "$dockerfile" | tail -1 | awk '{print $2}')
[[ -n "$user" && "${user%%:*}" != "0" && "${user%%:*}" != "root" ]] || fail "the image runs as root"
chart_user=$(grep -o 'runAsUser: [0-9]*' "$root/charts/rotor/templates/deployment.yaml" | awk '{print $2}')
[[ "${user%%:*}" == "$chart_user" ]] || fail "the image's user ($user) is not the chart's ($chart_user)"
echo "recipe: two bookworm-slim stages, CI's build script, runtime packages only, user $user"
