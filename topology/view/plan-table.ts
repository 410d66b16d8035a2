// The plan as a reader checks it: one table per host, node by node, then totals. Used by
// `npm run plan` and by render's plan.md.
import { formatCpuset } from "../cpuset";
import type { HostTopology } from "../host-topology";
import { l3DomainsOf } from "../l3-domains";
import { gib } from "../units";
import { Plan } from "../placement";

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

/**
 * `topologies` (optional, by host name): with them, a host whose nodes hold several L3 domains
 * (the capture's L3 banks) gets an `L3` column: the domains of each VM's vCPUs.
 */
export function formatPlanTable(plan: Plan, topologies?: ReadonlyMap<string, HostTopology>): string {
  const out: string[] = [];
  for (const host of plan.hosts) {
    const vms = plan.vms.filter((vm) => vm.host === host.name);
    const T = host.threadsPerCore;
    const totalCores = host.nodes.reduce((sum, n) => sum + n.cores, 0);
    out.push(`${host.name} (${host.capabilities}): ${host.nodes.length} node${host.nodes.length > 1 ? "s" : ""}, ${totalCores} cores x ${T} thread${T > 1 ? "s" : ""}`);
    if (T > 1) out.push(`  vCPUs ${T}k..${T}k+${T - 1} are the ${T} threads of one core, in the order listed`);
    const topology = topologies?.get(host.name);
    const showL3 =
      topology !== undefined && topology.nodes.some((n) => new Set(n.cores.map((c) => c.l3)).size > 1 && n.cores.every((c) => c.l3 !== null));
    const l3 = (vm: Plan["vms"][number]) => (showL3 && topology ? [(l3DomainsOf(vm, topology) ?? []).join(",")] : []);
    const blank = showL3 ? [""] : [];
    const rows = [["node", "VM", "cores", "vCPUs", "vCPU -> thread", ...(showL3 ? ["L3"] : []), "emulator", "iothreads", "memory"]];
    // A floating VM's memory is interleaved page by page over its nodes: each holds an equal share.
    const floatingShareKiB = (nodeId: number) =>
      vms.filter((v) => v.node === null && v.numatune.nodeset.includes(nodeId)).reduce((sum, v) => sum + v.memoryKiB / v.numatune.nodeset.length, 0);
    const anyFloating = vms.some((v) => v.node === null);
    for (const n of host.nodes) {
      for (const vm of vms.filter((v) => v.node === n.id)) {
        const memory = `${gib(vm.memoryKiB)}${vm.hugepages ? ` (${vm.hugepages.count} x ${vm.hugepages.sizeKiB / 1024} MiB pages)` : ""}`;
        rows.push([String(n.id), vm.name, String(vm.topology.cores), String(vm.vcpus), vm.vcpupin.join(","), ...l3(vm), `${formatCpuset(vm.emulatorpin)}${vm.emulator === "dedicated" ? " (own)" : ""}`, formatCpuset(vm.iothreadpin), memory]);
      }
      if (n.reservedThreads.length > 0) rows.push([String(n.id), "(reserve)", String(n.reservedThreads.length / T), "", formatCpuset(n.reservedThreads), ...blank, "", "", gib(n.reserveKiB)]);
      const free = n.cores > 0 ? `${gib(Math.max(0, n.freeMemoryKiB - floatingShareKiB(n.id)))}${anyFloating ? " (after floating VMs' share)" : ""}` : `${gib(n.memoryKiB)} (no CPUs)`;
      rows.push([String(n.id), "(free)", String(n.freeThreads.length / T), "", n.freeThreads.length > 0 ? formatCpuset(n.freeThreads) : "-", ...blank, "", "", free]);
    }
    for (const vm of vms.filter((v) => v.node === null))
      rows.push(["float", vm.name, String(vm.topology.cores), String(vm.vcpus), vm.vcpupin.join(","), ...l3(vm), formatCpuset(vm.emulatorpin), formatCpuset(vm.iothreadpin), `${gib(vm.memoryKiB)} interleaved over ${vm.numatune.nodeset.join(",")}`]);
    out.push(...table(rows).map((r) => `  ${r}`));
    const vmCores = vms.reduce((sum, vm) => sum + vm.topology.cores + (vm.emulator === "dedicated" ? 1 : 0), 0);
    const vmMemory = vms.reduce((sum, vm) => sum + vm.memoryKiB, 0);
    const memory = host.nodes.reduce((sum, n) => sum + n.memoryKiB, 0);
    out.push(`  totals: ${vms.length} VMs, ${vmCores} of ${totalCores} cores, ${gib(vmMemory)} of ${gib(memory)} to VMs`);
    out.push("");
  }
  return out.join("\n");
}
