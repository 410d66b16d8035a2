// The guest's data disks (staging /data/local, hot tier /data/hot, lake /data/lake): formatted only
// when they hold nothing at all, mounted by filesystem UUID, grown when the disk grew. Pure: values
// in, script text out; cloud-init runs the text at every boot (`bootcmd`).
//
// Why not cloud-init's own disk_setup/fs_setup: in cloud-init 22.4 (Debian 12) a whole disk with
// `partition: none` is formatted with `mkfs -F` whatever `overwrite: false` says
// (canonical/cloud-init#3902), and the instance-id changes with every user-data change, so a kept
// hot disk or the 8 TB lake would be wiped on the next boot after any key or address change.
// This script decides by looking at the device itself: any signature `wipefs` or `blkid` can see
// (a filesystem, a partition table, LVM, RAID, a LUKS header) means "in use", and an in-use device
// is never formatted. When in doubt (a probe fails) it does not format either.
import { shellQuote } from "../hypervisor/shell-quote";

/** A disk the guest formats (only if it holds no signature at all) and mounts at boot. */
export interface DataDisk {
  /**
   * The block device as the guest sees it: a stable `/dev/disk/by-id/virtio-<serial>` path
   * (virtio names like vdb move when disks are added).
   */
  device: string;
  /** `/data/local` (staging, SLM workers), `/data/hot` (SSD hot tier), `/data/lake` (HDD data lake). */
  mountPoint: "/data/local" | "/data/hot" | "/data/lake";
  fsType: "ext4";
  /** Label a new filesystem gets (ext4: at most 16 bytes). Mounts use the UUID, so an existing
   * filesystem with another label (a lake disk brought from elsewhere) mounts as well. */
  label: string;
}

/**
 * A bash script that, for each disk in order:
 * 1. skips it (and says so) when the device is absent: a missing data disk must not stop the boot;
 * 2. formats it ext4 with its label only when `wipefs` and `blkid -p` both find no signature;
 * 3. refuses (leaves alone, does not mount, exits non-zero so `cloud-init status` shows it) a
 *    device that holds something other than a filesystem, e.g. a partition table;
 * 4. writes one `/etc/fstab` line `UUID=<uuid> <mount point> <type> defaults,noatime,nofail 0 2`,
 *    replacing any earlier line for that mount point, and mounts it;
 * 5. grows an ext4 filesystem to the device's size after the disk was grown (before mounting).
 * Idempotent: a second run changes nothing.
 */
export function dataDiskScript(disks: DataDisk[]): string {
  const rows = disks.map((d) => `  ${shellQuote(d.device)} ${shellQuote(d.mountPoint)} ${shellQuote(d.label)}`).join("\n");
  return `set -uo pipefail
say() { printf 'numa-k3s data disks: %s\\n' "$*" >&2; }
disks=(
${rows}
)
status=0

blank() {
  local device=$1 signatures rc
  signatures=$(wipefs --no-act --noheadings --output TYPE "$device") || return 1
  [[ -z $signatures ]] || return 1
  blkid -p "$device" >/dev/null 2>&1
  rc=$?
  # blkid exits 2 when it finds nothing; 0 is a signature, anything else a failed probe.
  [[ $rc -eq 2 ]]
}

probe() { blkid -p -s "$2" -o value "$1" 2>/dev/null; }

set_fstab() {
  local line=$1 mount_point=$2 kept
  kept=$(awk -v mp="$mount_point" '$2 != mp' /etc/fstab)
  printf '%s\\n%s\\n' "$kept" "$line" | sed '/^$/d' >/etc/fstab.numa-k3s
  cat /etc/fstab.numa-k3s >/etc/fstab && rm -f /etc/fstab.numa-k3s
}

# Grows an ext4 filesystem to its device when the disk grew (by a MiB or more): offline, with the
# fsck resize2fs demands, before the first mount; online when it is mounted already.
grow() {
  local real=$1 mount_point=$2 device_bytes fs_bytes
  device_bytes=$(blockdev --getsize64 "$real") || return 1
  fs_bytes=$(dumpe2fs -h "$real" 2>/dev/null | awk -F: '/^Block count/ { c = $2 } /^Block size/ { s = $2 } END { printf "%.0f", c * s }')
  ((device_bytes - fs_bytes >= 1048576)) || return 0
  if mountpoint -q "$mount_point"; then
    resize2fs "$real" >/dev/null 2>&1 || return 1
  else
    e2fsck -f -p "$real" >/dev/null 2>&1 && resize2fs "$real" >/dev/null 2>&1 || return 1
  fi
  say "grew the filesystem on $real to $((device_bytes / 1048576)) MiB"
}

prepare() {
  local device=$1 mount_point=$2 label=$3 real usage type pttype uuid
  if [[ ! -b $device ]]; then
    say "$device is not attached: $mount_point not mounted"
    return 0
  fi
  real=$(readlink -f "$device")
  if blank "$real"; then
    mkfs.ext4 -q -m 0 -L "$label" "$real" || { say "mkfs.ext4 on $device failed"; return 1; }
    say "formatted $device (it held no signature) as ext4, label $label"
  fi
  usage=$(probe "$real" USAGE)
  type=$(probe "$real" TYPE)
  if [[ $usage != filesystem ]]; then
    pttype=$(probe "$real" PTTYPE)
    say "$device holds \${type:-\${pttype:+a $pttype partition table}}, not a filesystem: left as it is, $mount_point not mounted"
    return 1
  fi
  uuid=$(probe "$real" UUID)
  [[ -n $uuid ]] || { say "$device has no filesystem UUID: $mount_point not mounted"; return 1; }
  set_fstab "UUID=$uuid $mount_point $type defaults,noatime,nofail 0 2" "$mount_point"
  mkdir -p "$mount_point"
  if [[ $type == ext4 ]]; then
    grow "$real" "$mount_point" || say "growing the filesystem on $device failed: $mount_point keeps its size"
  fi
  if ! mountpoint -q "$mount_point"; then
    mount "$mount_point" || { say "mount $mount_point ($device) failed"; return 1; }
    say "mounted $device at $mount_point (UUID=$uuid)"
  fi
}

for ((i = 0; i < \${#disks[@]}; i += 3)); do
  prepare "\${disks[i]}" "\${disks[i + 1]}" "\${disks[i + 2]}" || status=1
done
exit "$status"
`;
}
