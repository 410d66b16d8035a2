#!/usr/bin/env bash
# The kubelet test's guest image (test/e2e/kubelet.test.ts): the e2e base image (.ci/guest-image.sh)
# plus what a K3s agent node holds, laid out at K3s's paths, with the pinned tools `npm run tools`
# built:
#   /usr/local/bin/kubelet, kubectl                 Kubernetes (tools/kubernetes)
#   /var/lib/rancher/k3s/data/current/bin/          containerd, containerd-shim-runc-v2, ctr, runc,
#                                                   the CNI plugins (where K3s unpacks its own)
#   /usr/local/bin/k3s, k3s-agent.service           the stand-in for K3s (.ci/kubelet-guest/k3s)
#   containerd.service and its config, the CNI bridge config
#   /var/lib/rancher/k3s/agent/images/numa-k3s-test-images.tar
#                                                   an OCI archive with the pause and the test image
#   curl                                            Debian's, for the install script's readiness check
# The two container images are made here, with no registry: one static Go program of ours
# (.ci/kubelet-guest/pause.go) in one layer, written as an OCI image layout (a JSON config, a
# manifest, an index, the layer as a tar, all named by sha256) and packed as the tar that
# `ctr images import` reads.
#
#   bash .ci/kubelet-image.sh NAME=PATH...   # the tool binaries by name (kubelet=/.../kubelet ...);
#                                            # builds unless cached; prints the image's path
#
# Cached in $NUMA_K3S_IMAGE_CACHE (default /var/cache/numa-k3s) beside the base image, named by a
# hash of this script, the files in .ci/kubelet-guest, the base image's name and every binary's
# content: a new pin or a changed file builds a new image. Runs as root (loop devices, mount,
# chroot). Needs qemu-utils, util-linux, Go (the tools' builder) and Debian's mirror for curl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_dir=${NUMA_K3S_IMAGE_CACHE:-/var/cache/numa-k3s}
mirror=${NUMA_K3S_DEBIAN_MIRROR:-http://deb.debian.org/debian}
guest_files="$here/kubelet-guest"
# The images the guest's containerd config (sandbox) and the test's pods name.
pause_image=localhost/numa-k3s/pause:test
cpus_image=localhost/numa-k3s/cpus:test
# Every binary the guest needs, and where it goes.
declare -A destination=(
  [kubelet]=/usr/local/bin [kubectl]=/usr/local/bin
  [containerd]=/var/lib/rancher/k3s/data/current/bin [containerd-shim-runc-v2]=/var/lib/rancher/k3s/data/current/bin
  [ctr]=/var/lib/rancher/k3s/data/current/bin [runc]=/var/lib/rancher/k3s/data/current/bin
  [bridge]=/var/lib/rancher/k3s/data/current/bin [host-local]=/var/lib/rancher/k3s/data/current/bin
  [loopback]=/var/lib/rancher/k3s/data/current/bin [portmap]=/var/lib/rancher/k3s/data/current/bin
)

say() { printf 'kubelet-image.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

declare -A binary=()
for arg in "$@"; do
  name=${arg%%=*} path=${arg#*=}
  [[ -n ${destination[$name]:-} ]] || die "$name is not a binary this image holds (${!destination[*]})"
  [[ -x $path ]] || die "$name: $path is not an executable file (npm run tools builds it)"
  binary[$name]=$path
done
for name in "${!destination[@]}"; do [[ -n ${binary[$name]:-} ]] || die "no path given for $name"; done

base=$(bash "$here/guest-image.sh")
key=$(
  {
    cat "${BASH_SOURCE[0]}"
    (cd "$guest_files" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    basename "$base"
    for name in $(printf '%s\n' "${!binary[@]}" | LC_ALL=C sort); do printf '%s ' "$name"; sha256sum <"${binary[$name]}"; done
  } | sha256sum | cut -c1-16
)
image="$cache_dir/debian-12-numa-k3s-kubelet-$key.qcow2"
if [[ -f $image ]]; then
  say "cached: $image"
  printf '%s\n' "$image"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "must run as root (loop devices, mount, chroot)"
need() { command -v "$1" >/dev/null || die "$1 is not installed ($2)"; }
need qemu-img "Debian package qemu-utils"
need losetup "Debian package mount"
need partx "Debian package util-linux"
need go "Go, as for npm run tools"
need flock "Debian package util-linux"

exec 9>"$cache_dir/.kubelet-build.lock"
flock 9
if [[ -f $image ]]; then
  say "built meanwhile by another run: $image"
  printf '%s\n' "$image"
  exit 0
fi

started=$SECONDS
work=$(mktemp -d "$cache_dir/.kubelet-build-XXXXXX")
mnt="$work/root"
loop=""
cleanup() {
  if [[ -n $mnt ]] && mountpoint -q "$mnt" 2>/dev/null; then umount -R "$mnt" || umount -lR "$mnt" || true; fi
  if [[ -n $loop ]]; then losetup -d "$loop" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The two images as one OCI archive.
oci="$work/oci"
mkdir -p "$oci/blobs/sha256" "$work/layer"
(cd "$guest_files" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/layer/pause" pause.go) >&2
# A reproducible layer: fixed order, time and owner.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/layer" -cf "$work/layer.tar" pause
blob() { # file mediaType -> a descriptor (JSON); the file goes into blobs/ under its digest
  local digest size
  digest=$(sha256sum <"$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  cp "$1" "$oci/blobs/sha256/$digest"
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$digest" "$size"
}
layer=$(blob "$work/layer.tar" application/vnd.oci.image.layer.v1.tar)
diff_id=$(sha256sum <"$work/layer.tar" | cut -d' ' -f1)
manifests=()
for entry in "$pause_image /pause" "$cpus_image /pause cpus"; do
  read -r name rest <<<"$entry"
  read -ra entrypoint <<<"$rest"
  args=$(printf '"%s",' "${entrypoint[@]}")
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":[%s]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "${args%,}" "$diff_id" >"$work/config.json"
  config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$config" "$layer" >"$work/manifest.json"
  manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
  manifests+=("${manifest%\}},\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"${name##*:}\"}}")
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
  "$(IFS=,; echo "${manifests[*]}")" >"$oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$oci" -cf "$work/images.tar" oci-layout index.json blobs

# 2. The base image's root filesystem, mounted from a raw copy.
qemu-img convert -q -f qcow2 -O raw "$base" "$work/disk.raw"
loop=$(losetup --find --show --partscan "$work/disk.raw")
part="${loop}p1"
for _ in $(seq 20); do [[ -b $part ]] && break; sleep 0.1; done
[[ -b $part ]] || partx -a "$loop" 2>/dev/null || true
for _ in $(seq 50); do [[ -b $part ]] && break; sleep 0.1; done
[[ -b $part ]] || die "partition $part of $loop did not appear"
mkdir -p "$mnt"
mount "$part" "$mnt"

# 3. curl from Debian: the base image has no apt sources (its guests never reach a mirror), so
#    a temporary one, removed with its lists afterwards.
mount -t proc proc "$mnt/proc"
mkdir -p "$mnt/run/systemd/resolve"
cp -L /etc/resolv.conf "$mnt/run/systemd/resolve/stub-resolv.conf"
printf 'deb %s bookworm main\n' "$mirror" >"$mnt/etc/apt/sources.list.d/numa-k3s-build.list"
chroot "$mnt" apt-get -qq update >&2
DEBIAN_FRONTEND=noninteractive chroot "$mnt" apt-get -qq install -y --no-install-recommends curl >&2
rm -f "$mnt/etc/apt/sources.list.d/numa-k3s-build.list" "$mnt/run/systemd/resolve/stub-resolv.conf"
rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/archives/*.deb
umount "$mnt/proc"

# 4. The binaries, the stand-in, the units and the configs.
for name in "${!binary[@]}"; do install -D -m 0755 "${binary[$name]}" "$mnt${destination[$name]}/$name"; done
install -D -m 0755 "$guest_files/k3s" "$mnt/usr/local/bin/k3s"
install -D -m 0644 "$guest_files/k3s-agent.service" "$mnt/etc/systemd/system/k3s-agent.service"
install -D -m 0644 "$guest_files/containerd.service" "$mnt/etc/systemd/system/containerd.service"
install -D -m 0644 "$guest_files/containerd-config.toml" "$mnt/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
install -D -m 0644 "$guest_files/10-bridge.conflist" "$mnt/var/lib/rancher/k3s/agent/etc/cni/net.d/10-bridge.conflist"
install -D -m 0644 "$work/images.tar" "$mnt/var/lib/rancher/k3s/agent/images/numa-k3s-test-images.tar"
# containerd runs from boot; the agent only once the install script restarts it, as on a node
# where K3s is installed but not yet configured.
chroot "$mnt" systemctl enable containerd.service >/dev/null 2>&1
umount "$mnt"
losetup -d "$loop"
loop=""

# 5. qcow2, renamed into place only when complete.
qemu-img convert -q -f raw -O qcow2 "$work/disk.raw" "$work/image.qcow2"
mv -f "$work/image.qcow2" "$image"
chmod 0644 "$image"
say "built $image ($((SECONDS - started)) s)"
printf '%s\n' "$image"
