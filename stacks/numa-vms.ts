// The VM layer every layout shares: one host check per hypervisor, then one NumaPinnedVm per
// planned VM, each behind its host's check.
import { HostCheck } from "../components/HostCheck";
import { NumaHost } from "../components/NumaHost";
import { NumaPinnedVm } from "../components/NumaPinnedVm";
import { VmDescription } from "../hypervisor/vm-description";
import { Plan } from "../topology/placement";
import { StackContext, connectionFor } from "./context";
import { StackInputs } from "./stack-inputs";
import { StackHost } from "./config";
import { vmDescriptionOf } from "./vm-specs";

export interface NumaVms {
  plan: Plan;
  hostChecks: HostCheck[];
  /** One per host with VMs: prepared after its check, before its VMs. */
  hosts: NumaHost[];
  vms: NumaPinnedVm[];
}

/** Every planned VM's description, in plan order: what the program creates and render shows. */
export function vmDescriptions(inputs: StackInputs, plan: Plan): VmDescription[] {
  return plan.vms.map((placement) => {
    const host = inputs.config.hosts.find((h) => h.name === placement.host)!;
    const vm = inputs.config.vms.find((v) => v.name === placement.name)!;
    return vmDescriptionOf(inputs.config, host, inputs.topologies.get(host.name)!, vm, placement);
  });
}

/** What the stack wants of a host: its settings and every VM on it, as one text whose change makes
 * the host check run again (the check comes before any command that acts on the host). */
function desiredOf(host: StackHost, vms: readonly VmDescription[], plan: Plan): string {
  return JSON.stringify({ host, plan: plan.hosts.find((h) => h.name === host.name), vms });
}

export function numaVms(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms {
  const descriptions = vmDescriptions(inputs, plan);
  const hostChecks = new Map<string, HostCheck>();
  for (const host of inputs.config.hosts) {
    if (!plan.vms.some((vm) => vm.host === host.name)) continue;
    hostChecks.set(
      host.name,
      new HostCheck(`${host.name}-host-check`, {
        host: host.name,
        topology: inputs.topologies.get(host.name)!,
        captureFile: host.capabilities,
        connection: connectionFor(host, ctx),
        libvirtUri: host.libvirt.uri,
        desired: desiredOf(host, descriptions.filter((vm) => vm.placement.host === host.name), plan),
      }),
    );
  }
  const hosts = new Map<string, NumaHost>();
  for (const host of inputs.config.hosts) {
    const hostCheck = hostChecks.get(host.name);
    if (!hostCheck) continue;
    hosts.set(
      host.name,
      new NumaHost(`${host.name}-host`, {
        topology: inputs.topologies.get(host.name)!,
        hostPlan: plan.hosts.find((h) => h.name === host.name)!,
        vms: plan.vms,
        prepare: host.prepare,
        libvirt: host.libvirt,
        connection: connectionFor(host, ctx),
        hostCheck,
      }),
    );
  }
  const vms = descriptions.map((vm) => {
    const host = inputs.config.hosts.find((h) => h.name === vm.placement.host)!;
    return new NumaPinnedVm(vm.placement.name, { vm, connection: connectionFor(host, ctx), hostCheck: hosts.get(host.name)! });
  });
  // After its VMs, each host is read back against the plan (the drift check of npm run host-check).
  for (const [name, numaHost] of hosts) {
    const host = inputs.config.hosts.find((h) => h.name === name)!;
    const own = vms.filter((_, i) => descriptions[i].placement.host === name);
    numaHost.checkDrift(own, connectionFor(host, ctx));
  }
  return { plan, hostChecks: [...hostChecks.values()], hosts: [...hosts.values()], vms };
}
