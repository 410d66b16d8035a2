// The guest's data disks (staging /data/local, hot tier /data/hot, lake /data/lake): formatted only
// when they read as blank and may be formatted, mounted by filesystem UUID, grown when the disk
// grew, and given the pods' directory (guest/data-mounts.ts) once mounted. Pure: values in, script
// text out; cloud-init runs the text at every boot (`bootcmd`).
//
// Why not cloud-init's own disk_setup/fs_setup: in cloud-init 22.4 (Debian 12) a whole disk with
// `partition: none` is formatted with `mkfs -F` whatever `overwrite: false` says
// (canonical/cloud-init#3902), and the instance-id changes with every user-data change, so a kept
// hot disk or the 8 TB lake would be wiped on the next boot after any key or address change.
//
// Why "no signature" is not "blank": wipefs and blkid recognise a filesystem by a few magic bytes.
// An ext4 whose magic or first 4 KiB were overwritten, an XFS without its magic, an LVM PV without
// its label sector, a GPT disk without its primary table, or a disk holding raw data carry no
// signature they know, and each still holds every byte of its data. So a device is blank only when
// neither tool finds anything AND every byte read from the places where partition tables,
// filesystems and volume managers keep their headers and backups, and from a spread over the whole
// device, is zero. A disk the program created (the hot disk, the staging disk) reads as zeros
// everywhere; anything else is left alone, and the script says so.
import { shellQuote } from "../common/remote-script";
import type { MountPoint } from "./data-mounts";
import { POD_DIR_NAME } from "./data-mounts";

/** A disk the guest mounts at boot, and formats only when it reads as blank and `format` allows. */
export interface DataDisk {
  /**
   * The block device as the guest sees it: a stable `/dev/disk/by-id/virtio-<serial>` path
   * (virtio names like vdb move when disks are added).
   */
  device: string;
  /** `/data/local` (staging, SLM workers), `/data/hot` (SSD hot tier), `/data/lake` (HDD data lake). */
  mountPoint: MountPoint;
  fsType: "ext4";
  /** Label a new filesystem gets (ext4: at most 16 bytes). Mounts use the UUID, so an existing
   * filesystem with another label (a lake disk brought from elsewhere) mounts as well. */
  label: string;
  /**
   * `when-blank`: a disk the program created empty (hot, staging) is formatted when it reads as
   * blank. `never`: a disk the user brought (the lake) is only ever mounted, never formatted; the
   * stack opts in per disk (`vms[].disks.lakeFormat: true`) to make it `when-blank`.
   */
  format: "when-blank" | "never";
}

/**
 * A bash script that, for each disk in order:
 * 1. skips it (and says so) when the device is absent: a missing data disk must not stop the boot;
 * 2. mounts a filesystem it finds; otherwise formats the device ext4 with its label (`-E
 *    nodiscard`: a discard would erase every byte at once, and needs no thought) only when `format`
 *    is `when-blank` and the device reads as blank: no signature and every sampled byte zero;
 * 3. leaves every other device alone, not mounted, says once why (its signature, or where a
 *    non-zero byte is), and exits non-zero so that `cloud-init status` shows it;
 * 4. writes one `/etc/fstab` line `UUID=<uuid> <mount point> <type> defaults,noatime,nofail 0 2`,
 *    replacing any earlier line for that mount point, and mounts it;
 * 5. grows an ext4 filesystem to the device's size after the disk was grown (before mounting);
 * 6. creates the pods' directory (`<mount point>/numa-k3s`) on the mounted filesystem only.
 * Idempotent: a second run changes nothing.
 */
export function dataDiskScript(disks: DataDisk[]): string {
  const rows = disks.map((d) => `  ${[d.device, d.mountPoint, d.label, d.format].map(shellQuote).join(" ")}`).join("\n");
  return `set -uo pipefail
say() { printf 'numa-k3s data disks: %s\\n' "$*" >&2; }
# device, mount point, label, format (when-blank or never)
disks=(
${rows}
)
pod_dir=${shellQuote(POD_DIR_NAME)}
status=0
mib=1048576

probe() { blkid -p -s "$2" -o value "$1" 2>/dev/null; }

# The ext4 block groups that hold a backup superblock (sparse_super: 1 and the powers of 3, 5
# and 7) below group $1.
ext4_backup_groups() {
  local groups=$1 base g
  echo 1
  for base in 3 5 7; do
    for ((g = base; g < groups; g *= base)); do echo "$g"; done
  done
}

# The byte ranges ("offset length") read to decide whether a device of $1 bytes is blank:
# - the first and last 4 MiB: MBR and GPT (primary and backup), the first partition at 1 MiB,
#   every filesystem's primary superblock, LVM and LUKS headers, RAID superblocks at either end;
# - each ext4 backup superblock for 1, 2 and 4 KiB blocks (a group is 8 x block size squared
#   bytes; with 1 KiB blocks the group's first block is block 1 of it);
# - 255 ranges spread evenly over the device, for data that no header describes.
sample_ranges() {
  local size=$1 bs g i
  echo "0 $((4 * mib))"
  echo "$((size - 4 * mib)) $((4 * mib))"
  for bs in 1024 2048 4096; do
    for g in $(ext4_backup_groups $((size / (8 * bs * bs)))); do
      echo "$((g * 8 * bs * bs + (bs == 1024 ? bs : 0))) 65536"
    done
  done
  for ((i = 1; i < 256; i++)); do echo "$(((size * i / 256) & ~4095)) 65536"; done
}

# Why device $1 is not blank, on stdout; nothing when it is blank. A probe that fails counts as
# "not blank": when in doubt, nothing is formatted.
not_blank() {
  local device=$1 signatures rc size offset length differ byte
  signatures=$(wipefs --no-act --noheadings --output TYPE,OFFSET "$device" 2>/dev/null) || { echo "could not be read by wipefs"; return; }
  if [[ -n $signatures ]]; then
    echo "holds $(awk '{ printf "%s%s at %s", (NR > 1 ? ", " : ""), $1, $2 }' <<<"$signatures") (wipefs), not a filesystem"
    return
  fi
  blkid -p "$device" >/dev/null 2>&1
  rc=$?
  # blkid exits 2 when it finds nothing; 0 is a signature, anything else a failed probe.
  if ((rc != 2)); then
    echo "holds $(probe "$device" TYPE || echo "something blkid cannot name (exit $rc)"), not a filesystem"
    return
  fi
  size=$(blockdev --getsize64 "$device") || { echo "has a size blockdev cannot read"; return; }
  while read -r offset length; do
    ((offset < size)) || continue
    ((offset >= 0)) || { length=$((length + offset)); offset=0; }
    ((offset + length <= size)) || length=$((size - offset))
    differ=$(LC_ALL=C cmp -n "$length" -i "$offset:0" "$device" /dev/zero 2>&1) && continue
    byte=$(sed -n 's/.* differ: [a-z]* \\([0-9]*\\),.*/\\1/p' <<<"$differ")
    if [[ -n $byte ]]; then
      echo "holds no signature wipefs or blkid know, but is not blank: the byte at offset $((offset + byte - 1)) is not zero (data, or a damaged filesystem)"
    else
      echo "could not be read at offset $offset ($differ)"
    fi
    return
  done < <(sample_ranges "$size")
}

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
  ((device_bytes - fs_bytes >= mib)) || return 0
  if mountpoint -q "$mount_point"; then
    resize2fs "$real" >/dev/null 2>&1 || return 1
  else
    e2fsck -f -p "$real" >/dev/null 2>&1 && resize2fs "$real" >/dev/null 2>&1 || return 1
  fi
  say "grew the filesystem on $real to $((device_bytes / mib)) MiB"
}

prepare() {
  local device=$1 mount_point=$2 label=$3 format=$4 real why type uuid
  if [[ ! -b $device ]]; then
    say "$device is not attached: $mount_point not mounted"
    return 0
  fi
  real=$(readlink -f "$device")
  if [[ $(probe "$real" USAGE) != filesystem ]]; then
    why=$(not_blank "$real")
    if [[ -n $why ]]; then
      say "$device $why: left as it is, $mount_point not mounted"
      return 1
    fi
    if [[ $format != when-blank ]]; then
      say "$device reads as blank, but this disk is never formatted unless the stack opts in (numa-k3s:vms[].disks.lakeFormat: true): left as it is, $mount_point not mounted"
      return 1
    fi
    mkfs.ext4 -q -m 0 -E nodiscard -L "$label" "$real" || { say "mkfs.ext4 on $device failed"; return 1; }
    say "formatted $device as ext4, label $label (it read as blank: no signature, every sampled byte zero)"
  fi
  type=$(probe "$real" TYPE)
  uuid=$(probe "$real" UUID)
  [[ -n $uuid ]] || { say "$device has no filesystem UUID: left as it is, $mount_point not mounted"; return 1; }
  set_fstab "UUID=$uuid $mount_point $type defaults,noatime,nofail 0 2" "$mount_point"
  mkdir -p "$mount_point"
  if [[ $type == ext4 ]]; then
    grow "$real" "$mount_point" || say "growing the filesystem on $device failed: $mount_point keeps its size"
  fi
  if ! mountpoint -q "$mount_point"; then
    mount "$mount_point" || { say "mount $mount_point ($device) failed"; return 1; }
    say "mounted $device at $mount_point (UUID=$uuid)"
  fi
  # The pods' directory, on the mounted filesystem only: checked again right before, so that it is
  # never made on the OS disk below an empty mount point.
  if ! mountpoint -q "$mount_point" || ! mkdir -p "$mount_point/$pod_dir"; then
    say "could not create $mount_point/$pod_dir on $device"
    return 1
  fi
}

for ((i = 0; i < \${#disks[@]}; i += 4)); do
  prepare "\${disks[i]}" "\${disks[i + 1]}" "\${disks[i + 2]}" "\${disks[i + 3]}" || status=1
done
exit "$status"
`;
}
