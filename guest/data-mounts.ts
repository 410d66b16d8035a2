// Where a guest mounts its data disks, and the one directory on each that pods may use. The boot
// script (guest/data-disks.ts) creates that directory, and the platform's volumes (platform/,
// slm/, components/) point at it: both read it here.
//
// Why a directory below the mount point and not the mount point itself: the mount point exists on
// the OS disk whether or not the data disk is mounted (a disk that is absent, refused by the boot
// script, or not yet formatted). A pod pointed at the bare mount point would then write to the
// 40 GiB OS disk and lose it later under the real mount. The directory below exists only on the
// mounted filesystem, so the kubelet refuses to start the pod instead: a local PersistentVolume's
// path must exist, and a hostPath volume of type Directory must too.

/** The data disks' mount points in the guest. */
export const MOUNT_POINTS = { staging: "/data/local", hot: "/data/hot", lake: "/data/lake" } as const;
export type MountPoint = (typeof MOUNT_POINTS)[keyof typeof MOUNT_POINTS];

/** The name of the pods' directory at the top of each data filesystem. */
export const POD_DIR_NAME = "numa-k3s";

/** The pods' directory on the filesystem mounted at `mountPoint`. */
export function podDirOf(mountPoint: MountPoint): string {
  return `${mountPoint}/${POD_DIR_NAME}`;
}

/** The pods' directory of each data disk: what local PVs and hostPath volumes name. */
export const POD_DIRS = {
  staging: podDirOf(MOUNT_POINTS.staging),
  hot: podDirOf(MOUNT_POINTS.hot),
  lake: podDirOf(MOUNT_POINTS.lake),
} as const;
