// The VMs' LAN as a whole: every address a stack gives a VM must be reachable through the gateway
// it names, and no two machines (VMs, the gateway, the hypervisors, the K3s server) may answer at
// one address or one MAC. Each field is checked on its own by the stack schema; what can only be
// wrong together is checked here, before anything is planned, so `plan`, `render` and `up` refuse
// the same stacks. Pure: values in, problems out.
import { createHash } from "node:crypto";

/** Locally administered MAC under QEMU's 52:54:00 prefix, stable for a VM name: a re-created VM
 * keeps its DHCP reservations and its network-config match. */
export function macOf(vmName: string): string {
  const h = createHash("sha256").update(vmName).digest();
  return `52:54:00:${[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

export interface LanVm {
  name: string;
  address: string;
  /** The MAC the stack gives it; derived from the name (macOf) when absent. */
  mac?: string;
}

/** Another machine on (or reaching) the LAN, by the config key that names its address. */
export interface LanPeer {
  /** The key as a user writes it, e.g. `hosts[0].ssh.address`. */
  key: string;
  /** What it is, as a message says it: "hypervisor numa-01", "the K3s server". */
  what: string;
  address: string;
}

export interface Lan {
  prefixLength: number;
  gateway: string;
  vms: LanVm[];
  /** Where a VM's key path starts (`["vms"]`): problems name `vms[i].address`. */
  vmsPath?: (string | number)[];
  peers: LanPeer[];
}

/** A problem at a config key (a zod-style path) with what is wrong and what would fit. */
export interface LanProblem {
  path: (string | number)[];
  message: string;
}

function toNumber(ipv4: string): number {
  return ipv4.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function toText(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** The gateway's subnet: its network and broadcast addresses, and the CIDR a message shows. */
export function subnetOf(gateway: string, prefixLength: number): { network: number; broadcast: number; cidr: string } {
  const size = 2 ** (32 - prefixLength);
  const network = Math.floor(toNumber(gateway) / size) * size;
  return { network, broadcast: network + size - 1, cidr: `${toText(network)}/${prefixLength}` };
}

/**
 * Every problem of the LAN, in config order:
 * 1. a VM's address outside the gateway's subnet (its default route would be unreachable), or the
 *    subnet's network or broadcast address;
 * 2. a VM's address equal to the gateway's, to a hypervisor's or to the K3s server's;
 * 3. two VMs with one MAC (given or derived).
 * Two VMs with one address are the schema's (it names the first owner).
 */
export function lanProblems(lan: Lan): LanProblem[] {
  const problems: LanProblem[] = [];
  const vmsPath = lan.vmsPath ?? ["vms"];
  const subnet = subnetOf(lan.gateway, lan.prefixLength);
  const gateway = toNumber(lan.gateway);
  if (gateway === subnet.network || gateway === subnet.broadcast)
    problems.push({ path: ["network", "gateway"], message: `is the ${gateway === subnet.network ? "network" : "broadcast"} address of ${subnet.cidr}, not a host: set the router's address` });
  const macs = new Map<string, string>();
  lan.vms.forEach((vm, i) => {
    const at = (key: string) => [...vmsPath, i, key];
    const address = toNumber(vm.address);
    if (address < subnet.network || address > subnet.broadcast)
      problems.push({ path: at("address"), message: `is outside ${subnet.cidr}, the subnet of network.gateway ${lan.gateway} with network.prefixLength ${lan.prefixLength}: the VM could not reach its gateway; use an address in ${subnet.cidr} (or fix the gateway or prefixLength)` });
    else if (address === subnet.network || address === subnet.broadcast)
      problems.push({ path: at("address"), message: `is the ${address === subnet.network ? "network" : "broadcast"} address of ${subnet.cidr}, not a host address` });
    else if (address === gateway) problems.push({ path: at("address"), message: `is network.gateway's address: give ${vm.name} an address of its own` });
    for (const peer of lan.peers)
      if (peer.address === vm.address) problems.push({ path: at("address"), message: `is also ${peer.what}'s address (${peer.key}): give ${vm.name} an address of its own` });
    const mac = vm.mac ?? macOf(vm.name);
    const other = macs.get(mac);
    if (other !== undefined) problems.push({ path: at("mac"), message: `${mac} is also ${other}'s MAC${vm.mac ? "" : " (derived from the names)"}: give one of them a mac of its own` });
    else macs.set(mac, vm.name);
  });
  return problems;
}
