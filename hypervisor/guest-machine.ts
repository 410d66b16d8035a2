// The guest's architecture and machine type follow the host's capture: a VM is of its host's
// architecture (no emulation of another one at the speed this project is for).
import { InputError } from "../common/user-error";
import type { HostTopology } from "../topology/host-topology";

export interface GuestMachine {
  arch: string;
  machine: string;
}

/** Architectures whose domains the VM layer renders and tests (domain-xml.ts: q35 devices). */
const MACHINES: Record<string, string> = { x86_64: "q35" };

/**
 * x86_64 hosts get q35 guests. Other architectures plan (`npm run plan` works on any capture) but
 * are refused here, naming the host, until their devices (aarch64 `virt` with UEFI, ppc64le
 * `pseries` with spapr-vscsi) are rendered and tested: a domain of the wrong architecture would be
 * refused by libvirt only on the host, after the plan was locked.
 */
export function guestMachineOf(host: string, topology: HostTopology): GuestMachine {
  const arch = topology.arch ?? "x86_64";
  const machine = MACHINES[arch];
  if (!machine)
    throw new InputError(
      `${topology.source}: host ${host} is ${arch}: numa-k3s creates ${Object.keys(MACHINES).join(", ")} VMs only so far (npm run plan works for ${arch}; the VM layer does not)`,
    );
  return { arch, machine };
}
