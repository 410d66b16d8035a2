// Why a request does not fit: the planner's explanations, kept apart from the planning itself.
// Each says what, where, why and, where it can, what would fit (STYLE.md, "Errors say ...").
import { Demand, Ledger, Ledgers, freeCores, isCpuNode } from "./ledger";
import { memoryKiB } from "./request";
import { count, gib } from "./units";

/**
 * Why a VM could not be placed. `field` is the request key to change (under vms[vmIndex]).
 * kind: "does-not-fit" is proved (per-node or total capacity arithmetic, or the exhaustive search);
 * "gave-up" means the search ran out of time (searchSeconds) and a placement may still exist: the
 * message then names the request (the host's `node: auto` VMs together), and vm/vmIndex/field only
 * point at the first of those VMs for callers that need a location.
 */
export interface NoFit {
  kind: "does-not-fit" | "gave-up";
  vm: string;
  vmIndex: number;
  host: string;
  field: "cores" | "memoryGiB" | "hugepages" | "node" | "emulator" | "lock";
  message: string;
}


export type Why = { field: NoFit["field"]; message: string };

export function describe(d: Demand): string {
  const parts = [count(d.cores, "core"), gib(memoryKiB(d.vm.memoryGiB))];
  if (d.vm.hugepages) parts.push(`${d.pageCount} x ${d.vm.hugepages} pages`);
  if (d.vm.emulator === "dedicated") parts.push("+1 emulator core");
  return parts.join(", ");
}

function nodeName(l: Ledger, host: string): string {
  return `node ${l.budget.node.id} of ${host}`;
}

export function memoryProblem(l: Ledger, d: Demand, host: string): Why | null {
  const node = l.budget.node;
  if (d.pageSizeKiB !== null) {
    const free = l.pages.get(d.pageSizeKiB) ?? 0;
    if (free >= d.pageCount) return null;
    const total = l.budget.hugepages.get(d.pageSizeKiB) ?? 0;
    return {
      field: "hugepages",
      message: `${nodeName(l, host)} has ${free} free ${d.vm.hugepages} pages (${total} in all${total === 0 ? ": reserve them on the host, e.g. hugepagesz=" + d.vm.hugepages + " in the kernel command line, and capture again" : ""}); needs ${d.pageCount}`,
    };
  }
  if (l.memoryKiB >= d.memoryKiB) return null;
  if (node.memoryKiB === null)
    return { field: "memoryGiB", message: `${nodeName(l, host)} has no <memory> in the capture, so no VM memory can be bound to it` };
  const huge = node.memoryKiB - l.budget.reserveKiB - l.budget.vmMemoryKiB;
  const taken = l.budget.vmMemoryKiB - l.memoryKiB;
  const detail = [`${gib(node.memoryKiB)}`, `${gib(l.budget.reserveKiB)} reserved`];
  if (huge > 0 && l.budget.vmMemoryKiB > 0) detail.push(`${gib(huge)} in huge pages`);
  if (taken > 0) detail.push(`${gib(taken)} taken by ${l.vms.join(", ")}`);
  return { field: "memoryGiB", message: `${nodeName(l, host)} has ${gib(Math.max(0, l.memoryKiB))} free for VMs (${detail.join(", ")}); needs ${gib(d.memoryKiB)}` };
}

/** Why a strict VM cannot go to this node now, or null if it can. */
function whyNotHere(l: Ledger, d: Demand, host: string): Why | null {
  if (l.budget.node.cores.length === 0)
    return { field: "node", message: `${nodeName(l, host)} has no CPUs (a memory-only node): a VM's vCPUs cannot run there` };
  if (d.vm.emulator === "shared" && l.budget.reservedCores.length === 0)
    return {
      field: "emulator",
      message: `${nodeName(l, host)} keeps no reserved cores (reserve.coresPerNode = 0), so emulator: shared has no threads to run on; use emulator: dedicated or reserve a core`,
    };
  const free = freeCores(l);
  if (free < d.totalCores) {
    const usable = l.budget.usableCores.length;
    const taken = usable - free;
    const detail = [count(l.budget.node.cores.length, "core"), `${l.budget.reservedCores.length} reserved`];
    if (taken > 0) detail.push(`${taken} taken by ${l.vms.join(", ")}`);
    const need = d.vm.emulator === "dedicated" ? `${d.totalCores} (${d.cores} + 1 dedicated emulator core)` : `${d.cores}`;
    return { field: "cores", message: `${nodeName(l, host)} has ${count(Math.max(0, free), "free core")} after the reserve (${detail.join(", ")}); needs ${need}` };
  }
  return memoryProblem(l, d, host);
}

/** whyNotHere, plus where it would fit instead. */
export function whyNot(l: Ledger, d: Demand, host: string, ledgers: Ledgers): Why | null {
  const why = whyNotHere(l, d, host);
  if (!why) return null;
  const elsewhere = ledgers.all().filter((o) => o !== l && whyNotHere(o, d, host) === null);
  const hints: string[] = [];
  if (elsewhere.length > 0) hints.push(elsewhere.map((o) => `on node ${o.budget.node.id} (${count(freeCores(o), "core")}, ${gib(o.memoryKiB)} free)`).join(" or "));
  if (why.field === "cores") {
    const most = freeCores(l) - (d.vm.emulator === "dedicated" ? 1 : 0);
    if (most > 0) hints.push(`with cores <= ${most}`);
  }
  return hints.length > 0 ? { ...why, message: `${why.message}; fits ${hints.join(" or ")}` } : why;
}

/**
 * Floating VMs' cores were taken from the ledgers already when locked; their memory was not.
 * `strict`: the host's strict VMs whose node is not chosen yet (their totals are what counts).
 */
export function checkFloating(floating: readonly Demand[], locked: readonly Demand[], ledgers: Ledgers, host: string, strict: readonly Demand[] = []): NoFit | null {
  let cores = ledgers.all().reduce((sum, l) => sum + freeCores(l), 0) - strict.reduce((s, d) => s + d.totalCores, 0);
  // Floating memory is interleaved over the CPU nodes (placementOf), so only theirs counts.
  let memory = ledgers.all().filter(isCpuNode).reduce((sum, l) => sum + l.memoryKiB, 0) - strict.reduce((s, d) => s + d.memoryKiB, 0);
  // Locked floating VMs hold their cores already; their memory must still fit beside the strict
  // VMs of this plan (a resized strict VM may have taken it).
  for (const d of locked) {
    if (memory < d.memoryKiB)
      return { kind: "does-not-fit", vm: d.vm.name, vmIndex: d.index, host, field: "memoryGiB", message: `${d.vm.name} (${describe(d)}, floating, locked): ${host}'s CPU nodes have ${gib(Math.max(0, memory))} free together after the reserve and the strict VMs; needs ${gib(d.memoryKiB)}` };
    memory -= d.memoryKiB;
  }
  const perNode = () => ledgers.all().filter((l) => l.budget.node.cores.length > 0).map((l) => `node ${l.budget.node.id}: ${freeCores(l)}`).join(", ");
  for (const d of floating) {
    const hasReserve = ledgers.all().some((l) => l.budget.reservedCores.length > 0);
    const base = { kind: "does-not-fit" as const, vm: d.vm.name, vmIndex: d.index, host };
    if (d.vm.emulator === "shared" && !hasReserve)
      return { ...base, field: "emulator", message: `${d.vm.name} (floating): no node of ${host} keeps a reserved core for its shared emulator threads; use emulator: dedicated` };
    if (cores < d.totalCores) {
      const alsoMemory = memory < d.memoryKiB ? `, and ${gib(Math.max(0, memory))} of memory (needs ${gib(d.memoryKiB)})` : "";
      return { ...base, field: "cores", message: `${d.vm.name} (${describe(d)}, floating): ${host} has ${count(Math.max(0, cores), "whole core")} left on its nodes after the reserve and the strict VMs (${perNode()}); needs ${d.totalCores}${alsoMemory}` };
    }
    if (memory < d.memoryKiB)
      return { ...base, field: "memoryGiB", message: `${d.vm.name} (${describe(d)}, floating): ${host}'s nodes have ${gib(Math.max(0, memory))} free for VMs together after the reserve and the strict VMs; needs ${gib(d.memoryKiB)}` };
    cores -= d.totalCores;
    memory -= d.memoryKiB;
  }
  return null;
}

