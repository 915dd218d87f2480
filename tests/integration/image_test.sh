#!/usr/bin/env bash
# The container image as .ci/image builds it (no Docker engine needed), checked as a runtime reads it:
#  - the archive is an OCI image layout whose every blob matches its digest, with Docker's
#    manifest.json naming the same config and layer (what `ctr images import` and `docker load` read);
#  - the layer holds the binary, the libraries it links and nothing to run a shell with, every file
#    owned by root, and a passwd naming the chart's user;
#  - its configuration (user, entrypoint, arguments) is .ci/Dockerfile's, whose runtime stage copies
#    the root filesystem the same script makes;
#  - the binary starts inside the image's root, as the chart's user, on a read-only root (where this
#    machine lets the test make a mount namespace).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rotor="${ROTOR:?ROTOR must name the rotor binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$root/.ci/image" --binary "$rotor" --tag rotor.local/rotor:image-test --output "$work/rotor.tar" | tee "$work/built"
mkdir "$work/archive" "$work/rootfs"
tar -xf "$work/rotor.tar" -C "$work/archive"
cd "$work/archive"
[[ $(jq -r .imageLayoutVersion oci-layout) == 1.0.0 ]] || fail "no oci-layout"
for blob in blobs/sha256/*; do
  [[ "$(sha256sum "$blob" | cut -d' ' -f1)" == "${blob##*/}" ]] || fail "$blob does not match its digest"
done
manifest=$(jq -r '.manifests[0].digest' index.json | sed 's/^sha256:/blobs\/sha256\//')
[[ $(jq -r '.manifests[0].annotations["io.containerd.image.name"]' index.json) == rotor.local/rotor:image-test ]] ||
  fail "index.json does not name the image"
config=$(jq -r '.config.digest' "$manifest" | sed 's/^sha256:/blobs\/sha256\//')
layer=$(jq -r '.layers[0].digest' "$manifest" | sed 's/^sha256:/blobs\/sha256\//')
[[ $(jq -r '.[0].Config' manifest.json) == "$config" && $(jq -r '.[0].Layers[0]' manifest.json) == "$layer" ]] ||
  fail "Docker's manifest.json names another config or layer than the OCI manifest"
[[ $(jq -r '.[0].RepoTags[0]' manifest.json) == rotor.local/rotor:image-test ]] || fail "manifest.json has no tag"
[[ "sha256:$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)" == $(jq -r '.rootfs.diff_ids[0]' "$config") ]] ||
  fail "the config's diff_id is not the layer's uncompressed digest"
echo "archive: OCI layout and docker-archive manifest agree; every blob matches its digest"
# Where skopeo is installed, the readers of containers/image take it both ways (its docker-archive
# reader reads what `docker load` reads).
if command -v skopeo >/dev/null 2>&1; then
  for transport in docker-archive oci-archive; do
    skopeo copy -q "$transport:$work/rotor.tar" "dir:$work/copy-$transport" || fail "skopeo cannot read it as $transport"
  done
  echo "skopeo copies it as docker-archive and as oci-archive"
fi

# Contents.
gzip -dc "$layer" | tar -tv --numeric-owner >"$work/listing"
awk '{print $2}' "$work/listing" | sort -u | grep -vqx '0/0' && fail "a file is not owned by root"
gzip -dc "$layer" | tar -x -C "$work/rootfs"
fs="$work/rootfs"
[[ -x "$fs/usr/local/bin/rotor" ]] || fail "no /usr/local/bin/rotor"
for shell in bin/sh bin/bash bin/dash usr/bin/sh; do [[ ! -e "$fs/$shell" ]] || fail "the image has a shell ($shell)"; done
[[ -f "$fs/usr/share/zoneinfo/Europe/Paris" ]] || fail "no tzdata (cron time zones)"
[[ -s "$fs/etc/ssl/certs/ca-certificates.crt" ]] || fail "no CA bundle"
chart_user=$(grep -o 'runAsUser: [0-9]*' "$root/charts/rotor/templates/deployment.yaml" | awk '{print $2}')
grep -q "^nonroot:x:$chart_user:$chart_user:" "$fs/etc/passwd" || fail "passwd does not name the chart's user $chart_user"
# Every library the binary loads is in the image, and nothing of the host is needed.
"$fs/lib64/ld-linux-x86-64.so.2" --library-path "$fs/usr/lib/x86_64-linux-gnu" --list "$fs/usr/local/bin/rotor" \
  >"$work/libs"
grep -q 'not found' "$work/libs" && fail "missing libraries: $(grep 'not found' "$work/libs")"
unexpected=$(awk '$2 == "=>" {print $3}' "$work/libs" | grep -v "^$fs/" || true)
[[ -z "$unexpected" ]] || fail "libraries resolved outside the image: $unexpected"
echo "contents: the binary, $(wc -l <"$work/libs") libraries, tzdata, CA bundle, user $chart_user, no shell; all owned by root"

# The Dockerfile says what the image is configured with, and makes its root the same way.
dockerfile="$root/.ci/Dockerfile"
[[ "$(jq -r .config.User "$config")" == "$(sed -n 's/^USER //p' "$dockerfile")" ]] || fail "User differs from the Dockerfile"
[[ "$(jq -c .config.Entrypoint "$config")" == "$(sed -n 's/^ENTRYPOINT //p' "$dockerfile" | jq -c .)" ]] ||
  fail "Entrypoint differs from the Dockerfile"
[[ "$(jq -c .config.Cmd "$config")" == "$(sed -n 's/^CMD //p' "$dockerfile" | jq -c .)" ]] || fail "Cmd differs"
grep -q '^FROM debian:bookworm-slim AS build$' "$dockerfile" || fail "the build stage is not debian:bookworm-slim"
grep -q 'ROTOR_DEPS=--build .ci/build' "$dockerfile" || fail "the image does not build with .ci/build"
grep -q '\.ci/image --rootfs /rootfs' "$dockerfile" || fail "the Dockerfile does not make its root with .ci/image"
grep -q '^FROM scratch$' "$dockerfile" && grep -q '^COPY --from=build /rootfs/ /$' "$dockerfile" ||
  fail "the runtime stage is not the root filesystem alone"
[[ "$(jq -r .config.User "$config")" == "$chart_user:$chart_user" ]] || fail "the image's user is not the chart's"
echo "configuration: the Dockerfile's (user $chart_user, $(jq -c .config.Entrypoint "$config") $(jq -c .config.Cmd "$config"))"

# Run it inside its own root, as that user, on a read-only root filesystem.
run_inside() {
  unshare --mount --fork bash -c "mount --bind '$fs' '$fs' && mount -o remount,bind,ro '$fs' &&
    chroot --userspec=$chart_user:$chart_user '$fs' /usr/local/bin/rotor $*" 2>&1
}
if [[ $(id -u) -ne 0 ]] || ! unshare --mount true 2>/dev/null; then
  echo "SKIPPED running the binary inside the image: needs root and a mount namespace (the real-node tests run it)"
  exit 0
fi
version=$(run_inside version) || fail "rotor version inside the image: $version"
grep -q '^rotor ' <<<"$version" || fail "rotor version printed: $version"
out=$(run_inside plan edge-proxy --local /nonexistent 2>&1 || true)
grep -qi 'nonexistent' <<<"$out" || fail "rotor did not report the missing state directory: $out"
touch_out=$(unshare --mount --fork bash -c "mount --bind '$fs' '$fs' && mount -o remount,bind,ro '$fs' && touch '$fs/x'" 2>&1) &&
  fail "the root was writable: $touch_out"
echo "runs: '$version' inside the image as $chart_user on a read-only root"
