// One VM on its hypervisor, each fact written once: where it runs (the placement), its files (one
// layout object, from which both the domain XML's disks and the scripts' volumes are derived), the
// hypervisor it runs on, the guest's cloud-init and what happens on delete. The domain spec and the
// script parameters are functions of this description, so they cannot disagree. Pure.
import { posix } from "node:path";
import { DEFAULT_LIBVIRT_URI } from "../common/formats";
import type { DomainSpec } from "../topology/domain-xml";
import type { VmPlacement } from "../topology/placement";
import type { GuestMount, GuestSpec } from "../guest/cloud-init";
import { MOUNT_POINTS, MountPoint } from "../guest/data-mounts";
import type { VmScriptParams, VolumeParams } from "./vm-scripts";

/** The VM's files on the hypervisor: the VM's own in `dir`, its hot disk in the pool beside it. */
export interface VmFiles {
  /** `poolDir` of the host: the scripts create and delete nothing outside it. */
  pool: string;
  /** `<poolDir>/<vm name>`: the VM's own files (OS and staging disks, seed), deleted with it. */
  dir: string;
  /** qcow2 overlay on the base image; deleted with the VM. */
  osDisk: VolumeParams;
  /** `/data/local` in the guest; deleted with the VM. */
  stagingDisk?: VolumeParams;
  /** `/data/hot` in the guest, `<poolDir>/hot-of-<the lake's by-id name>.qcow2`: a data disk
   * (the lake's metadata and hot zones), kept on delete unless deleteDataDisks. Named by the lake
   * it serves, not by the VM, so that a renamed VM, or one removed and added back, finds it again. */
  hotDisk?: VolumeParams;
  /** `/data/lake` in the guest: the host's `/dev/disk/by-id/` name of the HDD, never touched. */
  lakeDevice?: string;
  /** The guest may format the lake when it reads as blank (the stack's per-disk opt-in). */
  lakeFormat: boolean;
  seed: { dir: string; isoPath: string };
}

/** The disks a stack asks a VM to have (stack config `vms[].disks`). */
export interface VmDisks {
  osGiB: number;
  stagingGiB?: number;
  /** Only with lakeDevice: the hot tier serves a lake (the stack config refuses it alone). */
  hotGiB?: number;
  lakeDevice?: string;
  lakeFormat?: boolean;
}

/** The hot disk of the lake `lakeDevice` in `poolDir`: one per lake, whatever VM holds it. */
export function hotDiskPathOf(poolDir: string, lakeDevice: string): string {
  return posix.join(poolDir, `hot-of-${posix.basename(lakeDevice)}.qcow2`);
}

/** The files of VM `name` in `poolDir`: the one place their paths are made. */
export function vmFilesOf(poolDir: string, name: string, disks: VmDisks): VmFiles {
  const dir = posix.join(poolDir, name);
  const at = (file: string) => posix.join(dir, file);
  if (disks.hotGiB && !disks.lakeDevice) throw new Error(`VM ${name}: a hot disk without a lake device (stacks/config.ts refuses it)`);
  return {
    pool: poolDir,
    dir,
    osDisk: { path: at("os.qcow2"), sizeGiB: disks.osGiB },
    stagingDisk: disks.stagingGiB ? { path: at("staging.qcow2"), sizeGiB: disks.stagingGiB } : undefined,
    hotDisk: disks.hotGiB && disks.lakeDevice ? { path: hotDiskPathOf(poolDir, disks.lakeDevice), sizeGiB: disks.hotGiB } : undefined,
    lakeDevice: disks.lakeDevice,
    lakeFormat: disks.lakeFormat ?? false,
    seed: { dir: at("seed"), isoPath: at("seed.iso") },
  };
}

/** The guest's mounts of a VM's files: the domain XML gives each disk the virtio serial named here.
 * The disks the program creates empty may be formatted when blank; the lake only with its opt-in. */
export function guestMountsOf(files: VmFiles): GuestMount[] {
  const mounts: GuestMount[] = [];
  const disk = (serial: string, mountPoint: MountPoint, label: string, format: GuestMount["format"]): GuestMount => ({
    device: `/dev/disk/by-id/virtio-${serial}`,
    mountPoint,
    fsType: "ext4",
    label,
    format,
  });
  if (files.stagingDisk) mounts.push(disk("staging", MOUNT_POINTS.staging, "local", "when-blank"));
  if (files.hotDisk) mounts.push(disk("hot", MOUNT_POINTS.hot, "hot", "when-blank"));
  if (files.lakeDevice) mounts.push(disk("lake", MOUNT_POINTS.lake, "lake", files.lakeFormat ? "when-blank" : "never"));
  return mounts;
}

/** What the VM needs from its hypervisor (stack config `hosts[].libvirt`, plus the capture's arch). */
export interface VmHypervisor {
  /** Default qemu:///system. */
  libvirtUri?: string;
  /** The cloud image every OS disk overlays (qcow2, on the hypervisor). */
  baseImage: string;
  /** kvm on real hosts, qemu (TCG) where /dev/kvm is absent. */
  domainType: "kvm" | "qemu";
  bridge: string;
  /** Guest architecture and machine type, from the host's capture (x86_64/q35, aarch64/virt, ...). */
  arch: string;
  machine: string;
}

export interface VmDescription {
  /** Where the VM runs (the planner's output, from the lock). `placement.name` is the domain name. */
  placement: VmPlacement;
  files: VmFiles;
  hypervisor: VmHypervisor;
  /** cloud-init: host name, admin, keys, packages, address, the NIC's MAC, the mounts. */
  guest: GuestSpec;
  /** VNC on the hypervisor's 127.0.0.1 (through an SSH tunnel); never another address. */
  vnc: boolean;
  /** Shown by `virsh desc`. */
  description?: string;
  /** After start, wait until the guest agent answers (off where no OS boots). */
  waitForGuest: { enabled: boolean; timeoutSeconds: number };
  /** Deleting the VM also deletes its hot disk; the lake device is never touched. */
  deleteDataDisks: boolean;
}

/** The domain XML's spec: disks from `files`, the NIC's MAC from the guest's (one MAC). */
export function domainSpecOf(vm: VmDescription): DomainSpec {
  const { files, hypervisor: h } = vm;
  return {
    domainType: h.domainType,
    arch: h.arch,
    machine: h.machine,
    osDisk: { path: files.osDisk.path },
    stagingDisk: files.stagingDisk ? { path: files.stagingDisk.path } : undefined,
    hotDisk: files.hotDisk ? { path: files.hotDisk.path } : undefined,
    dataDisk: files.lakeDevice ? { device: files.lakeDevice } : undefined,
    cloudInitIso: { path: files.seed.isoPath },
    network: { bridge: h.bridge, mac: vm.guest.mac },
    vnc: vm.vnc ? { enabled: true } : undefined,
    description: vm.description,
  };
}

/** The create / update / delete scripts' parameters: volumes from `files`, pins from the placement. */
export function scriptParamsOf(vm: VmDescription): VmScriptParams {
  const { files, placement: p } = vm;
  return {
    libvirtUri: vm.hypervisor.libvirtUri,
    domainName: p.name,
    poolDir: files.pool,
    baseImage: vm.hypervisor.baseImage,
    osDiskPath: files.osDisk.path,
    osDiskGiB: files.osDisk.sizeGiB,
    stagingDisk: files.stagingDisk,
    hotDisk: files.hotDisk,
    dataDevice: files.lakeDevice,
    seed: files.seed,
    waitForGuest: vm.waitForGuest,
    deleteDataDisks: vm.deleteDataDisks,
    pins: { vcpupin: p.vcpupin, emulatorpin: p.emulatorpin, iothreadpin: p.iothreadpin },
  };
}

/**
 * What identifies the VM on its host: a change here is a different VM (deleted, then created).
 * Everything else (pins, memory, XML, seed, disk sizes) is an update. Not for a VM with a hot disk
 * (replacedWhenMoved).
 */
export function vmIdentity(vm: VmDescription): string[] {
  return [vm.placement.host, vm.placement.name, vm.hypervisor.libvirtUri ?? DEFAULT_LIBVIRT_URI, vm.files.dir, vm.files.osDisk.path];
}

/**
 * Whether a change of vmIdentity replaces the VM. Not for a VM with a hot disk: a replacement
 * creates the new VM with a fresh, empty hot disk where it now lives (another host, libvirt URI or
 * pool) while the old one, holding the lake's metadata, stays behind (or is deleted, with
 * deleteDataDisks), and the objects on the lake become unreachable. Such a change is an update
 * instead, which the update script refuses, saying how to move the data (hypervisor/vm-scripts.ts).
 */
export function replacedWhenMoved(vm: VmDescription): boolean {
  return vm.files.hotDisk === undefined;
}
