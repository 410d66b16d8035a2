#!/usr/bin/env bash
# Build the Debian 12 (bookworm) guest image the end-to-end test boots (test/e2e/guest-boot.test.ts):
# a bootable qcow2 made from Debian's packages only, with mmdebstrap. Nothing else is downloaded.
#
#   bash .ci/guest-image.sh          # builds unless cached; prints the image's path on stdout
#   bash .ci/guest-image.sh --path   # prints the path it would have, builds nothing
#
# The image is cached under $NUMA_K3S_IMAGE_CACHE (default /var/cache/numa-k3s), named by a hash of
# this script's text and its package list, so a machine builds it once per version of this file
# (and kernel choice). Runs as root (loop devices, mount). Needs mmdebstrap, qemu-utils, fdisk, mount
# (losetup) and e2fsprogs on the host.
#
# Why a partition table and a boot loader rather than direct kernel boot: the product's domain XML
# (topology/domain-xml.ts) boots from the OS disk (`<boot dev='hd'/>`, no `<kernel>`), so an image
# with its own boot loader boots the very XML the product renders, untouched, and proves what a
# real cloud image does. extlinux is the loader because it installs from the host onto a mounted
# ext4 with two commands (no firmware image, no grub-install module tree), and SeaBIOS (the
# firmware of a q35 domain without <loader>) boots its MBR.
set -euo pipefail

cache_dir=${NUMA_K3S_IMAGE_CACHE:-/var/cache/numa-k3s}
mirror=${NUMA_K3S_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# Virtual size of the image, and so the smallest osDiskGiB a VM on it may have.
image_gib=2

# The kernel: Debian's cloud kernel by default, the one of the genericcloud images the README
# recommends as the base image. It has no AHCI driver at all: a SATA CD-ROM (what the domain XML
# once used for the seed) is invisible to it, and cloud-init booted with no datasource; the seed is
# on virtio-scsi now. NUMA_K3S_GUEST_KERNEL=linux-image-amd64 builds the generic kernel's image
# instead (a separate cache entry).
kernel_package=${NUMA_K3S_GUEST_KERNEL:-linux-image-cloud-amd64}

# minbase plus what a cloud guest needs to boot and be reached, plus what the product's cloud-init
# installs on first boot (stacks/vm-specs.ts BASE_PACKAGES: qemu-guest-agent numactl hwloc-nox):
# the guest has no network to a mirror, so `packages:` must find them already installed.
# - systemd-resolved, dbus: cloud-init renders network-config for systemd-networkd here (no
#   ifupdown, no netplan); resolved applies its DNS servers, and hostnamectl/resolvectl talk D-Bus.
# - extlinux, syslinux-common: the boot loader and its MBR, run from the image onto its own disk.
packages=(
  systemd-sysv udev dbus cloud-init openssh-server qemu-guest-agent "$kernel_package"
  iproute2 sudo e2fsprogs util-linux systemd-resolved
  numactl hwloc-nox
  extlinux syslinux-common
)

say() { printf 'guest-image.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

script_hash=$( (cat "${BASH_SOURCE[0]}"; printf '%s\n' "${packages[@]}") | sha256sum | cut -c1-16)
image="$cache_dir/debian-12-numa-k3s-$script_hash.qcow2"

if [[ ${1:-} == --path ]]; then
  printf '%s\n' "$image"
  exit 0
fi
[[ $# -eq 0 ]] || die "usage: bash .ci/guest-image.sh [--path]"

if [[ -f $image ]]; then
  say "cached: $image"
  printf '%s\n' "$image"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "must run as root (loop devices and mount)"
need() { command -v "$1" >/dev/null || die "$1 is not installed (Debian package $2)"; }
need mmdebstrap mmdebstrap
need qemu-img qemu-utils
need sfdisk fdisk
need losetup mount
need partx util-linux
need mkfs.ext4 e2fsprogs
need flock util-linux

mkdir -p "$cache_dir"
# Two test runs on one machine must not build the same image at once.
exec 9>"$cache_dir/.build.lock"
flock 9
if [[ -f $image ]]; then
  say "built meanwhile by another run: $image"
  printf '%s\n' "$image"
  exit 0
fi

started=$SECONDS
work=$(mktemp -d "$cache_dir/.build-XXXXXX")
raw="$work/disk.raw"
mnt="$work/root"
loop=""
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then umount -R "$mnt" || umount -l "$mnt" || true; fi
  if [[ -n $loop ]]; then losetup -d "$loop" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. A sparse raw disk with one bootable MBR partition from 1 MiB, ext4 on it. No 64bit feature:
#    extlinux 6.04 cannot read an ext4 that has it.
truncate -s "${image_gib}G" "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
loop=$(losetup --find --show --partscan "$raw")
part="${loop}p1"
# --partscan alone does not always make the partition here (no udev); partx asks the kernel again.
for _ in $(seq 20); do [[ -b $part ]] && break; sleep 0.1; done
[[ -b $part ]] || partx -a "$loop" 2>/dev/null || true
for _ in $(seq 50); do [[ -b $part ]] && break; sleep 0.1; done
[[ -b $part ]] || die "partition $part of $loop did not appear"
root_uuid=$(cat /proc/sys/kernel/random/uuid)
mkfs.ext4 -q -F -O ^64bit -L root -U "$root_uuid" "$part"
mkdir -p "$mnt"
mount "$part" "$mnt"

# 2. The root filesystem from Debian's packages.
say "mmdebstrap $suite from $mirror (${#packages[@]} packages on top of minbase)"
mmdebstrap --mode=root --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  "$suite" "$mnt" "$mirror" >&2

# 3. Configuration a cloud image carries.
kernel=$(find "$mnt/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -n 1)
[[ -n $kernel ]] || die "no kernel in $mnt/boot"
initrd=initrd.img-${kernel#vmlinuz-}
[[ -f $mnt/boot/$initrd ]] || die "no $initrd in the image (initramfs-tools did not run?)"
printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$root_uuid" >"$mnt/etc/fstab"
# The guest never reaches a mirror: with no sources, cloud-init's package_update succeeds with
# nothing to fetch and `packages:` finds everything installed, instead of failing the module.
rm -f "$mnt/etc/apt/sources.list" "$mnt"/etc/apt/sources.list.d/*
# Only NoCloud seeds ever boot this image; probing cloud metadata services would cost minutes.
printf 'datasource_list: [NoCloud, None]\n' >"$mnt/etc/cloud/cloud.cfg.d/90-numa-k3s-datasource.cfg"
# The image has no locales package: C.UTF-8 (built into glibc) is the one locale it can offer, and
# cloud-init's default (en_US.UTF-8) would fail its locale module and so `cloud-init status`.
printf 'locale: C.UTF-8\n' >"$mnt/etc/cloud/cloud.cfg.d/90-numa-k3s-locale.cfg"
# Host keys of the kinds a current OpenSSH client uses: RSA-3072 and DSA key generation cost tens of
# seconds per new instance under TCG, and the test makes three.
printf 'ssh_genkeytypes: [ed25519, ecdsa]\n' >"$mnt/etc/cloud/cloud.cfg.d/90-numa-k3s-ssh-keys.cfg"
# Per-machine identity is made at first boot: no shared SSH host keys or machine-id in a base image.
rm -f "$mnt"/etc/ssh/ssh_host_*
: >"$mnt/etc/machine-id"
rm -f "$mnt/var/lib/dbus/machine-id"
chroot "$mnt" systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
ln -sf ../run/systemd/resolve/stub-resolv.conf "$mnt/etc/resolv.conf"
rm -rf "$mnt"/var/cache/apt/archives/*.deb "$mnt"/var/lib/apt/lists/*
# An initramfs with just what finds a virtio root disk. The generic kernel's default (MODULES=most,
# 36 MB) is more than extlinux loads under SeaBIOS: the boot crashed in the BIOS' int 15h copy, with
# nothing on the console. ext4's checksums need a crc32c driver, which no module depends on by name.
printf 'MODULES=list\n' >"$mnt/etc/initramfs-tools/conf.d/numa-k3s-modules.conf"
cat >"$mnt/etc/initramfs-tools/hooks/numa-k3s-virtio" <<'EOF'
#!/bin/sh
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
for m in virtio_pci virtio_blk ext4 crc32c_generic crc32c_intel; do manual_add_modules "$m"; done
EOF
chmod 0755 "$mnt/etc/initramfs-tools/hooks/numa-k3s-virtio"
mount -t proc proc "$mnt/proc"
chroot "$mnt" update-initramfs -u -k all >&2
umount "$mnt/proc"

# 4. The boot loader: extlinux from the image itself, its MBR code in the first 440 bytes.
mkdir -p "$mnt/boot/extlinux"
cat >"$mnt/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200n8
EOF
"$mnt/usr/bin/extlinux" --install "$mnt/boot/extlinux" >&2
dd if="$mnt/usr/lib/syslinux/mbr/mbr.bin" of="$loop" bs=440 count=1 conv=notrunc status=none
umount "$mnt"
losetup -d "$loop"
loop=""

# 5. qcow2, renamed into place only when complete.
qemu-img convert -q -f raw -O qcow2 "$raw" "$work/image.qcow2"
mv -f "$work/image.qcow2" "$image"
chmod 0644 "$image"
say "built $image ($kernel, $((SECONDS - started)) s)"
printf '%s\n' "$image"
