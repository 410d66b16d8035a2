// Every value the prepare script, the boot script and the drift check need for one host, derived
// once from the plan and the capture. Pure: values in, values out.
import type { HostTopology } from "../topology/host-topology";
import type { HostPlan, VmPlacement } from "../topology/placement";
import type { HostLibvirt, HostPrep } from "./config";
import { HugepagePlan, hugepagePlan } from "./hugepages";
import { Isolation, bootParameters } from "./kernel-cmdline";
import { ThreadSplit, threadSplit } from "./vm-threads";

export interface HostSettings extends ThreadSplit {
  host: string;
  isolation: Isolation;
  /** What the GRUB drop-in puts on the kernel command line (applied at the next boot). */
  bootParameters: string[];
  pages: HugepagePlan;
  maxWakeLatencyUs: number | null;
  allowReboot: boolean;
  libvirt: HostLibvirt;
  baseImage: { url: string; checksum: string } | null;
  /** Each domain of this host with the pins the drift check expects, by name. */
  domains: VmPlacement[];
}

export function hostSettings(topology: HostTopology, hostPlan: HostPlan, vms: readonly VmPlacement[], prep: HostPrep, libvirt: HostLibvirt): HostSettings {
  const split = threadSplit(topology, hostPlan);
  const pages = hugepagePlan(topology, hostPlan, vms);
  return {
    host: hostPlan.name,
    ...split,
    isolation: prep.isolation,
    bootParameters: bootParameters(prep.isolation, split, pages),
    pages,
    maxWakeLatencyUs: prep.maxWakeLatencyUs ?? null,
    allowReboot: prep.allowReboot,
    libvirt,
    baseImage: prep.baseImage ?? null,
    domains: vms.filter((vm) => vm.host === hostPlan.name).sort((a, b) => a.name.localeCompare(b.name)),
  };
}
