// From a stack's config and one VM's placement to what the hypervisor and the guest need: the
// domain spec, the cloud-init spec and the script parameters. Pure, so it is tested directly.
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { DomainSpec } from "../topology/domain-xml";
import { VmPlacement } from "../topology/placement";
import { GuestMount, GuestSpec } from "../guest/cloud-init";
import { VmScriptParams } from "../hypervisor/vm-scripts";
import { StackConfig, StackHost, StackVm } from "./config";

export interface VmSpecs {
  domain: DomainSpec;
  guest: GuestSpec;
  scripts: Omit<VmScriptParams, "pins" | "domainName">;
}

/** Locally administered MAC under QEMU's 52:54:00 prefix, stable for a VM name. */
export function macOf(vmName: string): string {
  const h = createHash("sha256").update(vmName).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

// Packages every VM needs whatever its role: the guest agent (the create script waits on it) and
// the NUMA and CPU tools an operator reaches for when checking the pins from inside.
const BASE_PACKAGES = ["qemu-guest-agent", "numactl", "hwloc-nox"];

export function vmSpecsOf(cfg: StackConfig, host: StackHost, vm: StackVm, placement: VmPlacement): VmSpecs {
  const dir = posix.join(host.libvirt.poolDir, vm.name);
  const mac = vm.mac ?? macOf(vm.name);
  const disk = (file: string) => posix.join(dir, file);
  const mounts: GuestMount[] = [];
  if (vm.disks.stagingGiB) mounts.push({ device: "/dev/disk/by-id/virtio-staging", mountPoint: "/data/local", fsType: "ext4", label: "local" });
  if (vm.disks.hotGiB) mounts.push({ device: "/dev/disk/by-id/virtio-hot", mountPoint: "/data/hot", fsType: "ext4", label: "hot" });
  if (vm.disks.lakeDevice) mounts.push({ device: "/dev/disk/by-id/virtio-lake", mountPoint: "/data/lake", fsType: "ext4", label: "lake" });

  const domain: DomainSpec = {
    domainType: host.libvirt.domainType,
    osDisk: { path: disk("os.qcow2") },
    stagingDisk: vm.disks.stagingGiB ? { path: disk("staging.qcow2") } : undefined,
    hotDisk: vm.disks.hotGiB ? { path: disk("hot.qcow2") } : undefined,
    dataDisk: vm.disks.lakeDevice ? { device: vm.disks.lakeDevice } : undefined,
    cloudInitIso: { path: disk("seed.iso") },
    network: { bridge: host.libvirt.bridge, mac },
    vnc: vm.vnc ? { enabled: true } : undefined,
    description: `numa-k3s ${cfg.layout}: ${vm.workload} ${vm.k3sRole}, ${placement.node === null ? "floating" : `node ${placement.node}`} of ${host.name}`,
  };
  const guest: GuestSpec = {
    hostname: vm.name,
    domain: cfg.network.domain,
    adminUser: cfg.admin.user,
    sshAuthorizedKeys: cfg.admin.sshAuthorizedKeys,
    packages: [...new Set([...BASE_PACKAGES, ...cfg.packages])],
    address: { cidr: `${vm.address}/${cfg.network.prefixLength}`, gateway: cfg.network.gateway, nameservers: cfg.network.nameservers },
    mac,
    mounts,
  };
  const scripts: VmSpecs["scripts"] = {
    libvirtUri: host.libvirt.uri,
    poolDir: dir,
    baseImage: host.libvirt.baseImage,
    osDiskPath: disk("os.qcow2"),
    osDiskGiB: vm.disks.osGiB,
    stagingDisk: vm.disks.stagingGiB ? { path: disk("staging.qcow2"), sizeGiB: vm.disks.stagingGiB } : undefined,
    hotDisk: vm.disks.hotGiB ? { path: disk("hot.qcow2"), sizeGiB: vm.disks.hotGiB } : undefined,
    dataDevice: vm.disks.lakeDevice,
    seed: { dir: disk("seed"), isoPath: disk("seed.iso") },
    waitForGuest: { enabled: cfg.waitForGuest, timeoutSeconds: 600 },
    deleteDataDisks: cfg.deleteDataDisks,
  };
  return { domain, guest, scripts };
}
