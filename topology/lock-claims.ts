// The planner's first step over the ledger: a VM the lock holds, whose request did not change,
// keeps exactly its threads; a resized one keeps its old node and cores as a preference.
import type { Core } from "./host-topology";
import { Demand, Ledgers, take } from "./ledger";
import type { PlacementLock } from "./lock";
import { memoryProblem } from "./no-fit";
import { memoryKiB } from "./request";

export type LockEntry = PlacementLock["vms"][number];

/** A VM whose threads are decided: cores, dedicated emulator core, node (null: floating). */
export interface Claimed {
  demand: Demand;
  node: number | null;
  cores: Core[];
  emulatorCore: Core | null;
}

/** The lock entry still describes this request: same node rule, size, memory, pages and emulator. */
export function lockMatches(l: LockEntry, d: Demand, T: number): boolean {
  const vm = d.vm;
  const nodeOk = vm.numa === "floating" ? l.node === null : l.node !== null && (vm.node === "auto" || vm.node === l.node);
  const pages = d.pageSizeKiB === null ? null : { sizeKiB: d.pageSizeKiB, count: d.pageCount };
  return (
    nodeOk &&
    l.vcpus === d.cores * T &&
    l.topology.threads === T &&
    l.memoryKiB === memoryKiB(vm.memoryGiB) &&
    JSON.stringify(l.hugepages) === JSON.stringify(pages) &&
    l.emulator === vm.emulator
  );
}

/** The cores a locked pin list names, where they are still usable cores of the host. */
export function coresOfPins(pins: readonly number[], ledgers: Ledgers, T: number): Core[] {
  const byFirst = new Map<number, Core>();
  for (const l of ledgers.all()) for (const c of l.budget.usableCores) byFirst.set(c.threads[0], c);
  const cores: Core[] = [];
  for (let k = 0; k + T <= pins.length; k += T) {
    const c = byFirst.get(Math.min(...pins.slice(k, k + T)));
    if (c && c.threads.length === T && pins.slice(k, k + T).every((t) => c.threads.includes(t))) cores.push(c);
  }
  return cores;
}

/** Take a locked VM's cores and memory out of the ledgers, or say why they are not there. */
export function claimLocked(l: LockEntry, d: Demand, ledgers: Ledgers, T: number): Claimed | string {
  const cores = coresOfPins(l.vcpupin, ledgers, T);
  if (cores.length * T !== l.vcpupin.length) return `${l.vcpupin.length === 1 ? `thread ${l.vcpupin[0]} is not a whole usable core` : `threads ${l.vcpupin.join(",")} are not whole usable cores`} of the capture (a core is reserved now, or the numbering changed)`;
  for (const c of cores) {
    const ledger = ledgers.of(c.node);
    if (!ledger.free.includes(c)) return `core ${c.threads.join(",")} is also held by ${ledger.vms.join(", ")}`;
    if (l.node !== null && c.node !== l.node) return `core ${c.threads.join(",")} is on node ${c.node}, not node ${l.node}`;
  }
  let emulatorCore: Core | null = null;
  if (d.vm.emulator === "dedicated") {
    const e = coresOfPins(l.emulatorpin, ledgers, T);
    if (e.length !== 1 || e[0].threads.length !== l.emulatorpin.length) return `emulator threads ${l.emulatorpin.join(",")} are not one usable core`;
    if (!ledgers.of(e[0].node).free.includes(e[0]) || cores.includes(e[0])) return `emulator core ${l.emulatorpin.join(",")} is held by another VM`;
    if (l.node !== null && e[0].node !== l.node) return `emulator core ${l.emulatorpin.join(",")} is not on node ${l.node}`;
    emulatorCore = e[0];
  }
  if (l.node !== null) {
    const problem = memoryProblem(ledgers.of(l.node), d, l.host);
    if (problem) return problem.message;
  }
  for (const c of [...cores, ...(emulatorCore ? [emulatorCore] : [])]) take(ledgers.of(c.node), [c]);
  if (l.node !== null) {
    const ledger = ledgers.of(l.node);
    ledger.memoryKiB -= d.memoryKiB;
    if (d.pageSizeKiB !== null) ledger.pages.set(d.pageSizeKiB, (ledger.pages.get(d.pageSizeKiB) ?? 0) - d.pageCount);
  }
  for (const c of cores) if (!ledgers.of(c.node).vms.includes(d.vm.name)) ledgers.of(c.node).vms.push(d.vm.name);
  return { demand: d, node: l.node, cores, emulatorCore };
}
