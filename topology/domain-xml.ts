// One VM's libvirt domain XML, from the planner's placement (which threads, which node, how much
// memory) and a spec (disks, network, console: what the placement does not decide). Every CPU id
// and node id in the output comes from the placement; nothing here re-derives one.
import { XMLBuilder } from "fast-xml-parser";
import { formatCpuset, MAX_CPUSET_ID } from "./cpuset";
import type { VmPlacement } from "./placement";
import { fieldProblem, InputError } from "../common/user-error";
import { ABSOLUTE_PATH, ABSOLUTE_PATH_HINT, BY_ID_DEVICE, BY_ID_DEVICE_HINT, MAC, MAC_HINT } from "../common/formats";
import { INTERFACE_NAME, INTERFACE_NAME_HINT } from "../common/formats";

/** A disk image file on the hypervisor. */
export interface FileDisk {
  /** Absolute path of the image on the hypervisor, e.g. /var/lib/libvirt/images/vm-os.qcow2. */
  path: string;
  /** Image format as `qemu-img` names it. Default "qcow2". */
  format?: "qcow2" | "raw";
}

/** What the domain needs beyond its placement. Everything the placement decides (vCPUs, pins,
 * memory, NUMA policy, guest topology, huge pages) is read from the VmPlacement instead. */
export interface DomainSpec {
  /** libvirt domain type: "kvm" (default) needs /dev/kvm on the hypervisor; "qemu" runs under TCG
   * emulation (CI, nested hosts without KVM) and renders a named CPU model on x86 (TCG_X86_MODEL)
   * and `<cpu mode='maximum'>` elsewhere instead of host-passthrough, which TCG cannot do. */
  domainType?: "kvm" | "qemu";
  /** QEMU machine type. Default "q35" (PCIe, SATA for the cloud-init CD-ROM). */
  machine?: string;
  /** Guest architecture. Default "x86_64". */
  arch?: string;
  /** Absolute path of the QEMU binary. Default: unset, libvirt picks the one for arch. */
  emulatorPath?: string;
  /** The VM's root disk: a qcow2 overlay on the hypervisor over a shared base image. Guest sees it
   * as /dev/disk/by-id/virtio-os. */
  osDisk: FileDisk;
  /** Per-job local staging disk ("write local, sweep remote"), /dev/disk/by-id/virtio-staging in
   * the guest. Default: none. */
  stagingDisk?: FileDisk;
  /** The data VM's hot tier on the SSD (/data/hot), /dev/disk/by-id/virtio-hot. Default: none. */
  hotDisk?: FileDisk;
  /** The data-lake HDD, passed through whole as a raw block device (/dev/disk/by-id/virtio-lake in
   * the guest). Default: none. */
  dataDisk?: {
    /** The host's stable name for the disk: must start with /dev/disk/by-id/ (sdX names move
     * between boots, and the wrong disk would be handed to the VM). */
    device: string;
  };
  /** The NoCloud seed (cloud-init user-data/meta-data), attached as a read-only SATA CD-ROM. */
  cloudInitIso: {
    /** Absolute path of the ISO on the hypervisor. */
    path: string;
  };
  network: {
    /** Host bridge the VM's virtio NIC joins. Default "br0". */
    bridge?: string;
    /** Unicast MAC address in lowercase, `52:54:00:xx:xx:xx` style. Required so
     * the VM keeps its DHCP lease and k8s node identity across re-creation. */
    mac: string;
  };
  /** VNC console. Default: none (serial console only). When enabled, it listens on 127.0.0.1 only
   * (reach it through an SSH tunnel); no other listen address can be rendered. */
  vnc?: {
    enabled: boolean;
    /** TCP port, 5900-65535. Default: unset, libvirt picks a free one (autoport). */
    port?: number;
  };
  /** I/O threads for the virtio disks, all pinned to placement.iothreadpin. Default 1; disks are
   * given to them round-robin in the order os, staging, hot, data. */
  iothreads?: number;
  /** Guest NUMA cell memAccess. Default: unset (private). "shared" is what virtiofs and vhost-user
   * need. */
  memAccess?: "shared" | "private";
  /** Lock the guest's memory in host RAM (`<memoryBacking><locked/>`). Default false. Huge pages
   * are never swapped anyway; this also pins QEMU's own allocations, at the cost of a memlock
   * limit as large as the VM. */
  lockMemory?: boolean;
  /** Free text shown by `virsh desc`. Default: none. */
  description?: string;
}

const DEFAULTS = {
  domainType: "kvm",
  machine: "q35",
  arch: "x86_64",
  bridge: "br0",
  iothreads: 1,
  format: "qcow2",
} as const;

/**
 * The x86 guest CPU under TCG: the newest Intel model whose every feature QEMU 7.2's TCG emulates
 * (`qemu-system-x86_64 -accel tcg -cpu MODEL,enforce` starts); SandyBridge and later ask for
 * x2apic and tsc-deadline, Haswell and later for pcid too, which it does not emulate.
 */
export const TCG_X86_MODEL = "Westmere";

function fail(vm: string, field: string, value: unknown, fits: string): never {
  throw new InputError(fieldProblem(`domain XML of VM '${vm}'`, field, value, fits));
}

/** Checks the placement is self-consistent and the spec names things libvirt can use; throws at
 * the first problem, in one line naming the field, the value and what would fit. */
function check(p: VmPlacement, spec: DomainSpec, iothreads: number): void {
  const vm = p.name;
  const threadId = (ids: number[]) => ids.every((t) => Number.isInteger(t) && t >= 0 && t <= MAX_CPUSET_ID);
  if (!Number.isInteger(p.vcpus) || p.vcpus < 1) fail(vm, "placement.vcpus", p.vcpus, "must be a positive integer");
  if (p.vcpupin.length !== p.vcpus || !threadId(p.vcpupin))
    fail(vm, "placement.vcpupin", p.vcpupin, `must list one host thread id (0-${MAX_CPUSET_ID}) per vCPU (${p.vcpus})`);
  if (new Set(p.vcpupin).size !== p.vcpupin.length)
    fail(vm, "placement.vcpupin", p.vcpupin, "each vCPU needs a host thread of its own");
  if (p.emulatorpin.length === 0 || !threadId(p.emulatorpin))
    fail(vm, "placement.emulatorpin", p.emulatorpin, `must list at least one host thread id (0-${MAX_CPUSET_ID})`);
  if (p.iothreadpin.length === 0 || !threadId(p.iothreadpin))
    fail(vm, "placement.iothreadpin", p.iothreadpin, `must list at least one host thread id (0-${MAX_CPUSET_ID})`);
  const t = p.topology;
  if (t.sockets * t.dies * t.cores * t.threads !== p.vcpus)
    fail(vm, "placement.topology", t, `sockets x dies x cores x threads must equal vcpus (${p.vcpus})`);
  if (p.numatune.nodeset.length === 0 || !threadId(p.numatune.nodeset))
    fail(vm, "placement.numatune.nodeset", p.numatune.nodeset, "must list at least one node id");
  if (p.numatune.mode === "strict" && (p.node === null || p.numatune.nodeset.length !== 1 || p.numatune.nodeset[0] !== p.node))
    fail(vm, "placement.numatune.nodeset", p.numatune.nodeset, `a strict VM's memory is on its own node only ([${p.node}])`);
  if (p.numatune.mode === "interleave" && p.node !== null)
    fail(vm, "placement.node", p.node, "a VM with interleaved memory has no node of its own (null)");
  if (!Number.isInteger(p.memoryKiB) || p.memoryKiB <= 0) fail(vm, "placement.memoryKiB", p.memoryKiB, "must be a positive integer");
  if (p.hugepages !== null && p.hugepages.sizeKiB * p.hugepages.count !== p.memoryKiB)
    fail(vm, "placement.hugepages", p.hugepages, `sizeKiB x count must equal memoryKiB (${p.memoryKiB})`);
  if (p.hugepages !== null && p.numatune.mode !== "strict")
    fail(vm, "placement.numatune.mode", p.numatune.mode, "huge pages need strict memory on one node");

  const absolute = (field: string, path: string | undefined) => {
    if (path !== undefined && !ABSOLUTE_PATH.test(path)) fail(vm, field, path, ABSOLUTE_PATH_HINT);
  };
  absolute("spec.osDisk.path", spec.osDisk.path);
  absolute("spec.stagingDisk.path", spec.stagingDisk?.path);
  absolute("spec.hotDisk.path", spec.hotDisk?.path);
  absolute("spec.cloudInitIso.path", spec.cloudInitIso.path);
  absolute("spec.emulatorPath", spec.emulatorPath);
  if (spec.dataDisk !== undefined && !BY_ID_DEVICE.test(spec.dataDisk.device)) fail(vm, "spec.dataDisk.device", spec.dataDisk.device, BY_ID_DEVICE_HINT);
  const mac = spec.network.mac;
  if (!MAC.test(mac)) fail(vm, "spec.network.mac", mac, MAC_HINT);
  // The low bit of the first octet marks a multicast address, which no NIC may own.
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) fail(vm, "spec.network.mac", mac, "is multicast; use a unicast one such as 52:54:00:xx:xx:xx");
  if (spec.network.bridge !== undefined && !INTERFACE_NAME.test(spec.network.bridge)) fail(vm, "spec.network.bridge", spec.network.bridge, INTERFACE_NAME_HINT);
  const port = spec.vnc?.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 5900 || port > 65535))
    fail(vm, "spec.vnc.port", port, "must be an integer in 5900-65535, or unset for a free one");
  if (!Number.isInteger(iothreads) || iothreads < 1) fail(vm, "spec.iothreads", iothreads, "must be an integer >= 1");
}

type Node = Record<string, unknown>;

/** A virtio disk: one of the VM's own files, or the passed-through lake. */
interface VirtioDisk {
  serial: string;
  source: { kind: "file"; path: string; format: "qcow2" | "raw" } | { kind: "block"; device: string };
}

function virtioDisks(spec: DomainSpec): VirtioDisk[] {
  const file = (serial: string, d: FileDisk): VirtioDisk => ({
    serial,
    source: { kind: "file", path: d.path, format: d.format ?? DEFAULTS.format },
  });
  const disks = [file("os", spec.osDisk)];
  if (spec.stagingDisk) disks.push(file("staging", spec.stagingDisk));
  if (spec.hotDisk) disks.push(file("hot", spec.hotDisk));
  if (spec.dataDisk) disks.push({ serial: "lake", source: { kind: "block", device: spec.dataDisk.device } });
  return disks;
}

function diskElement(disk: VirtioDisk, index: number, iothreads: number): Node {
  // vda, vdb, ...: only a hint to libvirt for ordering; the guest finds disks by serial
  // (/dev/disk/by-id/virtio-<serial>), which survives adding or removing a disk.
  const target = { "@_dev": `vd${String.fromCharCode(97 + index)}`, "@_bus": "virtio" };
  const iothread = (index % iothreads) + 1;
  if (disk.source.kind === "block") {
    return {
      "@_type": "block",
      "@_device": "disk",
      // A whole HDD: no image format, no host page cache (the guest has its own), native AIO.
      driver: { "@_name": "qemu", "@_type": "raw", "@_cache": "none", "@_io": "native", "@_iothread": iothread },
      source: { "@_dev": disk.source.device },
      target,
      serial: disk.serial,
    };
  }
  return {
    "@_type": "file",
    "@_device": "disk",
    driver: {
      "@_name": "qemu",
      "@_type": disk.source.format,
      "@_cache": "none",
      "@_io": "native",
      // Guest TRIM shrinks the sparse image on the SSD.
      "@_discard": "unmap",
      "@_iothread": iothread,
    },
    source: { "@_file": disk.source.path },
    target,
    serial: disk.serial,
  };
}

function cpuElement(p: VmPlacement, spec: DomainSpec, domainType: "kvm" | "qemu"): Node {
  const t = p.topology;
  const topology = { "@_sockets": t.sockets, "@_dies": t.dies, "@_cores": t.cores, "@_threads": t.threads };
  const numa = {
    cell: {
      "@_id": 0,
      "@_cpus": `0-${p.vcpus - 1}`,
      "@_memory": p.memoryKiB,
      "@_unit": "KiB",
      ...(spec.memAccess ? { "@_memAccess": spec.memAccess } : {}),
    },
  };
  if (domainType === "qemu") {
    // TCG cannot pass the host CPU through. On x86, TCG's "maximum" is an AMD CPU without
    // topoext, on which Linux finds no sibling threads (every vCPU its own core): the kubelet
    // would then pair vCPUs that are not the host's sibling threads. An Intel model has CPUID
    // leaf 0xB, from which Linux reads the planned threads per core.
    if ((spec.arch ?? DEFAULTS.arch) === "x86_64") {
      return { "@_mode": "custom", "@_match": "exact", "@_check": "none", model: { "@_fallback": "forbid", "#text": TCG_X86_MODEL }, topology, numa };
    }
    return { "@_mode": "maximum", "@_check": "none", "@_migratable": "off", topology, numa };
  }
  // The guest sees the host's real CPU and cache sizes, so its scheduler and the model servers'
  // thread pools size themselves for the L3 they actually share. Pinned VMs never migrate.
  return {
    "@_mode": "host-passthrough",
    "@_check": "none",
    "@_migratable": "off",
    topology,
    cache: { "@_mode": "passthrough" },
    numa,
  };
}

function graphicsElements(spec: DomainSpec): Node {
  if (!spec.vnc?.enabled) return {};
  // Loopback only: a VNC console has no authentication worth the name; reach it over SSH.
  const listen = "127.0.0.1";
  const port = spec.vnc.port;
  return {
    graphics: {
      "@_type": "vnc",
      "@_port": port ?? -1,
      "@_autoport": port === undefined ? "yes" : "no",
      "@_listen": listen,
      listen: { "@_type": "address", "@_address": listen },
    },
    video: { model: { "@_type": "virtio", "@_heads": 1, "@_primary": "yes" } },
  };
}

/**
 * The complete libvirt domain XML of one VM: vCPUs pinned one-to-one to placement.vcpupin,
 * emulator and I/O threads to their own threads, memory bound by placement.numatune, the guest
 * topology and NUMA cell the placement promises. Deterministic: same inputs, same bytes.
 * Throws a one-line error naming the field when the placement or spec cannot make a domain.
 */
export function renderDomainXml(placement: VmPlacement, spec: DomainSpec): string {
  const p = placement;
  const domainType = spec.domainType ?? DEFAULTS.domainType;
  const iothreads = spec.iothreads ?? DEFAULTS.iothreads;
  check(p, spec, iothreads);

  const iothreadCpuset = formatCpuset(p.iothreadpin);
  const nodeset = formatCpuset(p.numatune.nodeset);
  const memoryBacking: Node = {};
  if (p.hugepages !== null) {
    // nodeset names the guest cell (0), not a host node: the host node is numatune's business.
    memoryBacking.hugepages = { page: { "@_size": p.hugepages.sizeKiB, "@_unit": "KiB", "@_nodeset": "0" } };
  }
  if (spec.lockMemory) memoryBacking.locked = "";

  const domain: Node = {
    "@_type": domainType,
    name: p.name,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    memory: { "@_unit": "KiB", "#text": p.memoryKiB },
    // Equal to memory: no balloon, the VM owns all of it from boot.
    currentMemory: { "@_unit": "KiB", "#text": p.memoryKiB },
    ...(Object.keys(memoryBacking).length > 0 ? { memoryBacking } : {}),
    vcpu: { "@_placement": "static", "#text": p.vcpus },
    iothreads,
    cputune: {
      vcpupin: p.vcpupin.map((thread, vcpu) => ({ "@_vcpu": vcpu, "@_cpuset": formatCpuset([thread]) })),
      emulatorpin: { "@_cpuset": formatCpuset(p.emulatorpin) },
      iothreadpin: Array.from({ length: iothreads }, (_, i) => ({ "@_iothread": i + 1, "@_cpuset": iothreadCpuset })),
    },
    numatune: {
      memory: { "@_mode": p.numatune.mode, "@_nodeset": nodeset },
      // Binds the guest cell itself too, so huge pages come from the same host node.
      ...(p.numatune.mode === "strict"
        ? { memnode: { "@_cellid": 0, "@_mode": "strict", "@_nodeset": nodeset } }
        : {}),
    },
    os: {
      type: { "@_arch": spec.arch ?? DEFAULTS.arch, "@_machine": spec.machine ?? DEFAULTS.machine, "#text": "hvm" },
      boot: { "@_dev": "hd" },
    },
    features: { acpi: "", apic: "" },
    cpu: cpuElement(p, spec, domainType),
    clock: { "@_offset": "utc" },
    on_poweroff: "destroy",
    on_reboot: "restart",
    // A crashed k8s node is more use back in the cluster than frozen for inspection.
    on_crash: "restart",
    devices: {
      ...(spec.emulatorPath !== undefined ? { emulator: spec.emulatorPath } : {}),
      disk: [
        ...virtioDisks(spec).map((d, i) => diskElement(d, i, iothreads)),
        {
          "@_type": "file",
          "@_device": "cdrom",
          driver: { "@_name": "qemu", "@_type": "raw" },
          source: { "@_file": spec.cloudInitIso.path },
          // On virtio-scsi, not SATA: Debian's cloud kernel (linux-image-cloud-amd64, the kernel of
          // the genericcloud images) has no AHCI driver, so a SATA CD-ROM is invisible to it and
          // cloud-init boots without its seed (found by the booted-guest test).
          target: { "@_dev": "sda", "@_bus": "scsi" },
          readonly: "",
        },
      ],
      controller: { "@_type": "scsi", "@_index": 0, "@_model": "virtio-scsi" },
      interface: {
        "@_type": "bridge",
        mac: { "@_address": spec.network.mac.toLowerCase() },
        source: { "@_bridge": spec.network.bridge ?? DEFAULTS.bridge },
        model: { "@_type": "virtio" },
      },
      serial: { "@_type": "pty", target: { "@_port": 0 } },
      console: { "@_type": "pty", target: { "@_type": "serial", "@_port": 0 } },
      channel: { "@_type": "unix", target: { "@_type": "virtio", "@_name": "org.qemu.guest_agent.0" } },
      ...graphicsElements(spec),
      // A balloon would hand pinned (and huge-page) memory back and forth behind numatune's back.
      memballoon: { "@_model": "none" },
      rng: { "@_model": "virtio", backend: { "@_model": "random", "#text": "/dev/urandom" } },
    },
  };

  const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    format: true,
    indentBy: "  ",
    suppressEmptyNode: true,
  });
  return builder.build({ domain });
}
