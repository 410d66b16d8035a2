// From a stack's config and one VM's placement to the VM's whole description (hypervisor/
// vm-description.ts): its files, its hypervisor, its guest. Pure, so it is tested directly.
import { macOf } from "../guest/lan";
import { guestMachineOf } from "../hypervisor/guest-machine";
import { VmDescription, guestMountsOf, vmFilesOf } from "../hypervisor/vm-description";
import type { HostTopology } from "../topology/host-topology";
import type { VmPlacement } from "../topology/placement";
import { StackConfig, StackHost, StackVm } from "./config";

// Packages every VM needs whatever its role: the guest agent (the create script waits on it) and
// the NUMA and CPU tools an operator reaches for when checking the pins from inside.
const BASE_PACKAGES = ["qemu-guest-agent", "numactl", "hwloc-nox"];

/** How long the create script waits for a new guest's agent: cloud-init installs it on first boot. */
const GUEST_AGENT_TIMEOUT_SECONDS = 600;

export function vmDescriptionOf(cfg: StackConfig, host: StackHost, topology: HostTopology, vm: StackVm, placement: VmPlacement): VmDescription {
  const files = vmFilesOf(host.libvirt.poolDir, vm.name, vm.disks);
  const mac = vm.mac ?? macOf(vm.name);
  return {
    placement,
    files,
    hypervisor: {
      libvirtUri: host.libvirt.uri,
      baseImage: host.libvirt.baseImage,
      domainType: host.libvirt.domainType,
      bridge: host.libvirt.bridge,
      ...guestMachineOf(host.name, topology),
    },
    guest: {
      hostname: vm.name,
      domain: cfg.network.domain,
      adminUser: cfg.admin.user,
      sshAuthorizedKeys: cfg.admin.sshAuthorizedKeys,
      packages: [...new Set([...BASE_PACKAGES, ...cfg.packages])],
      address: { cidr: `${vm.address}/${cfg.network.prefixLength}`, gateway: cfg.network.gateway, nameservers: cfg.network.nameservers },
      mac,
      mounts: guestMountsOf(files),
    },
    vnc: vm.vnc,
    description: `numa-k3s ${cfg.layout}: ${vm.workload} ${vm.k3sRole}, ${placement.node === null ? "floating" : `node ${placement.node}`} of ${host.name}`,
    waitForGuest: { enabled: cfg.waitForGuest, timeoutSeconds: GUEST_AGENT_TIMEOUT_SECONDS },
    deleteDataDisks: cfg.deleteDataDisks,
  };
}
