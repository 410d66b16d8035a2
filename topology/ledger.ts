// A host's nodes while a plan is being made: what each node still has (cores, memory, pages)
// and what the planner has promised from it. The planner's verbs on a node (promise, unpromise,
// take) are here, so that every change to a node's books goes through one place.
import { Core, HostTopology } from "./host-topology";
import { NodeBudget, hostBudgets } from "./node-budget";
import { HUGEPAGE_KIB, HostRequest, VmRequest, memoryKiB } from "./request";

/** One requested VM with what it needs, in the host's units. */
export interface Demand {
  vm: VmRequest;
  index: number;
  /** Cores for vCPUs. */
  cores: number;
  /** Cores including a dedicated emulator core. */
  totalCores: number;
  memoryKiB: number;
  pageSizeKiB: number | null;
  pageCount: number;
}

export function demandOf(vm: VmRequest, index: number): Demand {
  const kib = memoryKiB(vm.memoryGiB);
  const pageSizeKiB = vm.hugepages ? HUGEPAGE_KIB[vm.hugepages] : null;
  return {
    vm,
    index,
    cores: vm.cores,
    totalCores: vm.cores + (vm.emulator === "dedicated" ? 1 : 0),
    memoryKiB: pageSizeKiB === null ? kib : 0,
    pageSizeKiB,
    pageCount: pageSizeKiB === null ? 0 : kib / pageSizeKiB,
  };
}

/** A node while the plan is being made. */
export interface Ledger {
  budget: NodeBudget;
  /** Usable cores no VM holds yet, ascending. */
  free: Core[];
  /** Cores promised to VMs whose cores are not chosen yet. */
  promised: number;
  memoryKiB: number;
  pages: Map<number, number>;
  vms: string[];
}

/**
 * Every node of one host, by node id, in the capture's node order. `of` is for ids the planner
 * took from the capture (a lock's node was checked, a core's node is the host's): a missing one
 * is a bug, not a user's mistake. `find` is for ids a user wrote.
 */
export class Ledgers {
  private readonly byId: Map<number, Ledger>;

  constructor(budgets: readonly NodeBudget[]) {
    this.byId = new Map(
      budgets.map((b) => [b.node.id, { budget: b, free: [...b.usableCores], promised: 0, memoryKiB: b.vmMemoryKiB, pages: new Map(b.hugepages), vms: [] }]),
    );
  }

  of(node: number): Ledger {
    const l = this.byId.get(node);
    if (!l) throw new Error(`planner: node ${node} is not a node of this host (nodes: ${this.ids().join(", ")})`);
    return l;
  }

  find(node: number): Ledger | undefined {
    return this.byId.get(node);
  }

  all(): Ledger[] {
    return [...this.byId.values()];
  }

  ids(): number[] {
    return [...this.byId.keys()];
  }

  /** The ledger of the node a core belongs to. */
  ofCore(c: Core): Ledger {
    return this.of(c.node);
  }
}

/** Cores still free on the node once the promises are kept (negative never happens by construction). */
export function freeCores(l: Ledger): number {
  return l.free.length - l.promised;
}

/** A node a floating VM's memory is interleaved over: it has cores a VM may use, and VM memory. */
export function isCpuNode(l: Ledger): boolean {
  return l.budget.usableCores.length > 0 && l.budget.vmMemoryKiB > 0;
}

/** One host of the request while the plan is being made. */
export interface HostLedger {
  request: HostRequest;
  topology: HostTopology;
  ledgers: Ledgers;
}

export function hostLedgerOf(request: HostRequest, topology: HostTopology): HostLedger {
  return { request, topology, ledgers: new Ledgers(hostBudgets(topology, request.reserve)) };
}

/** Hold the VM's cores (not yet chosen), memory and pages on this node. */
export function promise(l: Ledger, d: Demand): void {
  l.promised += d.totalCores;
  l.memoryKiB -= d.memoryKiB;
  if (d.pageSizeKiB !== null) l.pages.set(d.pageSizeKiB, (l.pages.get(d.pageSizeKiB) ?? 0) - d.pageCount);
  l.vms.push(d.vm.name);
}

export function unpromise(l: Ledger, d: Demand): void {
  l.promised -= d.totalCores;
  l.memoryKiB += d.memoryKiB;
  if (d.pageSizeKiB !== null) l.pages.set(d.pageSizeKiB, (l.pages.get(d.pageSizeKiB) ?? 0) + d.pageCount);
  l.vms = l.vms.filter((n) => n !== d.vm.name);
}

/** Remove `cores` from the ledger's free list and return them. */
export function take(l: Ledger, cores: Core[]): Core[] {
  const ids = new Set(cores.map((c) => c.threads[0]));
  l.free = l.free.filter((c) => !ids.has(c.threads[0]));
  return cores;
}
