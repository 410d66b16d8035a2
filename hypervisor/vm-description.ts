// One VM on its hypervisor, each fact written once: where it runs (the placement), its files (one
// layout object, from which both the domain XML's disks and the scripts' volumes are derived), the
// hypervisor it runs on, the guest's cloud-init and what happens on delete. The domain spec and the
// script parameters are functions of this description, so they cannot disagree. Pure.
import { posix } from "node:path";
import { DEFAULT_LIBVIRT_URI } from "../common/formats";
import type { DomainSpec } from "../topology/domain-xml";
import type { VmPlacement } from "../topology/placement";
import type { GuestMount, GuestSpec } from "../guest/cloud-init";
import type { VmScriptParams, VolumeParams } from "./vm-scripts";

/** The VM's files on the hypervisor, all inside `dir` except the passed-through lake device. */
export interface VmFiles {
  /** `<poolDir>/<vm name>`: the scripts create and delete nothing outside it. */
  dir: string;
  /** qcow2 overlay on the base image; deleted with the VM. */
  osDisk: VolumeParams;
  /** `/data/local` in the guest; deleted with the VM. */
  stagingDisk?: VolumeParams;
  /** `/data/hot` in the guest; a data disk: kept on delete unless deleteDataDisks. */
  hotDisk?: VolumeParams;
  /** `/data/lake` in the guest: the host's `/dev/disk/by-id/` name of the HDD, never touched. */
  lakeDevice?: string;
  seed: { dir: string; isoPath: string };
}

/** The disks a stack asks a VM to have (stack config `vms[].disks`). */
export interface VmDisks {
  osGiB: number;
  stagingGiB?: number;
  hotGiB?: number;
  lakeDevice?: string;
}

/** The files of VM `name` in `poolDir`: the one place their paths are made. */
export function vmFilesOf(poolDir: string, name: string, disks: VmDisks): VmFiles {
  const dir = posix.join(poolDir, name);
  const at = (file: string) => posix.join(dir, file);
  return {
    dir,
    osDisk: { path: at("os.qcow2"), sizeGiB: disks.osGiB },
    stagingDisk: disks.stagingGiB ? { path: at("staging.qcow2"), sizeGiB: disks.stagingGiB } : undefined,
    hotDisk: disks.hotGiB ? { path: at("hot.qcow2"), sizeGiB: disks.hotGiB } : undefined,
    lakeDevice: disks.lakeDevice,
    seed: { dir: at("seed"), isoPath: at("seed.iso") },
  };
}

/** The guest's mounts of a VM's files: the domain XML gives each disk the virtio serial named here. */
export function guestMountsOf(files: VmFiles): GuestMount[] {
  const mounts: GuestMount[] = [];
  if (files.stagingDisk) mounts.push({ device: "/dev/disk/by-id/virtio-staging", mountPoint: "/data/local", fsType: "ext4", label: "local" });
  if (files.hotDisk) mounts.push({ device: "/dev/disk/by-id/virtio-hot", mountPoint: "/data/hot", fsType: "ext4", label: "hot" });
  if (files.lakeDevice) mounts.push({ device: "/dev/disk/by-id/virtio-lake", mountPoint: "/data/lake", fsType: "ext4", label: "lake" });
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
    poolDir: files.dir,
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
 * Everything else (pins, memory, XML, seed, disk sizes) is an update.
 */
export function vmIdentity(vm: VmDescription): string[] {
  return [vm.placement.host, vm.placement.name, vm.hypervisor.libvirtUri ?? DEFAULT_LIBVIRT_URI, vm.files.dir, vm.files.osDisk.path];
}
