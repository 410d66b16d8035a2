// The VM layer every layout shares: one host check per hypervisor, then one NumaPinnedVm per
// planned VM, each behind its host's check.
import { HostCheck } from "../components/HostCheck";
import { NumaPinnedVm } from "../components/NumaPinnedVm";
import { Plan } from "../topology/placement";
import { StackConfig } from "./config";
import { StackContext, connectionFor } from "./context";
import { lockedPlan } from "./locked-plan";
import { vmSpecsOf } from "./vm-specs";

export interface NumaVms {
  plan: Plan;
  hostChecks: HostCheck[];
  vms: NumaPinnedVm[];
}

export function numaVms(cfg: StackConfig, ctx: StackContext): NumaVms {
  const { plan, topologies } = lockedPlan(cfg, ctx);
  const hostChecks = new Map<string, HostCheck>();
  for (const host of cfg.hosts) {
    if (!plan.vms.some((vm) => vm.host === host.name)) continue;
    hostChecks.set(
      host.name,
      new HostCheck(`${host.name}-host-check`, {
        host: host.name,
        topology: topologies.get(host.name)!,
        captureFile: host.capabilities,
        connection: connectionFor(host, ctx),
        libvirtUri: host.libvirt.uri,
        runId: ctx.runId,
      }),
    );
  }
  const vms = plan.vms.map((placement) => {
    const host = cfg.hosts.find((h) => h.name === placement.host)!;
    const vm = cfg.vms.find((v) => v.name === placement.name)!;
    const specs = vmSpecsOf(cfg, host, vm, placement);
    return new NumaPinnedVm(vm.name, {
      placement,
      domain: specs.domain,
      guest: specs.guest,
      scripts: specs.scripts,
      connection: connectionFor(host, ctx),
      hostCheck: hostChecks.get(host.name)!,
    });
  });
  return { plan, hostChecks: [...hostChecks.values()], vms };
}
