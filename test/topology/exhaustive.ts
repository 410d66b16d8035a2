// A brute-force reference for the planner's "finds a placement whenever one exists" promise.
// Written from docs/placement-rules.md alone: it reads the HostTopology and the request and
// imports nothing of the planner (no node-budget.ts, no node-assignment.ts), so a shared mistake
// is unlikely. It only answers "does any placement exist", by trying every node for every strict
// `node: auto` VM; it is exponential and meant for the property tests' small cases.
import type { HostTopology, NumaNode } from "../../topology/host-topology";
import { HUGEPAGE_KIB, PlacementRequest, Reserve, VmRequest, memoryKiB, requestedHost } from "../../topology/request";

/** What one node can give to VMs, by the contract's per-node rules. */
export interface NodeCapacity {
  id: number;
  /** Complete cores left after the reserve (incomplete cores count toward the reserve first). */
  cores: number;
  /** The node keeps at least one reserved core, where shared emulator threads can run. */
  hasReservedCore: boolean;
  /** memory - huge pages - reserve; 0 for a CPU-less node or one without <memory>. */
  memoryKiB: number;
  /** Huge pages by size in KiB (every pool but the smallest, base size). */
  pages: Map<number, number>;
}

export function nodeCapacity(node: NumaNode, reserve: Reserve): NodeCapacity {
  const complete = node.cores.filter((c) => c.complete).length;
  const incomplete = node.cores.length - complete;
  const reservedComplete = Math.min(complete, Math.max(0, reserve.coresPerNode - incomplete));
  const hasCpus = node.cores.length > 0;
  const sorted = [...node.pages].sort((a, b) => a.sizeKiB - b.sizeKiB);
  const huge = sorted.slice(1);
  const hugeKiB = huge.reduce((sum, p) => sum + p.sizeKiB * p.count, 0);
  const ordinary = hasCpus && node.memoryKiB !== null ? Math.max(0, node.memoryKiB - hugeKiB - memoryKiB(reserve.memoryGiBPerNode)) : 0;
  return {
    id: node.id,
    cores: complete - reservedComplete,
    hasReservedCore: incomplete + reservedComplete > 0,
    memoryKiB: ordinary,
    pages: new Map(hasCpus ? huge.map((p) => [p.sizeKiB, p.count]) : []),
  };
}

interface Need {
  vm: VmRequest;
  cores: number;
  memoryKiB: number;
  page: { sizeKiB: number; count: number } | null;
}

function needOf(vm: VmRequest): Need {
  const kib = memoryKiB(vm.memoryGiB);
  const page = vm.hugepages ? { sizeKiB: HUGEPAGE_KIB[vm.hugepages], count: kib / HUGEPAGE_KIB[vm.hugepages] } : null;
  return { vm, cores: vm.cores + (vm.emulator === "dedicated" ? 1 : 0), memoryKiB: page ? 0 : kib, page };
}

/** Does a strict VM fit on the node as it stands? */
function fitsOn(n: NodeCapacity, d: Need): boolean {
  if (d.vm.emulator === "shared" && !n.hasReservedCore) return false;
  if (n.cores < d.cores || n.memoryKiB < d.memoryKiB) return false;
  return d.page === null || (n.pages.get(d.page.sizeKiB) ?? 0) >= d.page.count;
}

function use(n: NodeCapacity, d: Need, sign: 1 | -1): void {
  n.cores -= sign * d.cores;
  n.memoryKiB -= sign * d.memoryKiB;
  if (d.page) n.pages.set(d.page.sizeKiB, (n.pages.get(d.page.sizeKiB) ?? 0) - sign * d.page.count);
}

/**
 * Does any placement of the host's VMs exist? Returns the node of every strict VM (by name) of one
 * placement, or null. Floating VMs need only totals once the strict VMs are placed: the host's
 * leftover whole cores, and the leftover ordinary memory of its CPU nodes (nodes with a usable
 * core and memory for VMs: the nodes invariants.ts lets a floating VM interleave over). The
 * leftover totals do not depend on which nodes the strict VMs took, so checking them once for the
 * first strict assignment found is exact.
 */
export function exhaustiveHost(topology: HostTopology, reserve: Reserve, vms: readonly VmRequest[]): Map<string, number> | null {
  const nodes = topology.nodes.map((n) => nodeCapacity(n, reserve));
  const cpuNodeIds = new Set(nodes.filter((n) => n.cores > 0 && n.memoryKiB > 0).map((n) => n.id));
  const strict = vms.filter((vm) => vm.numa === "strict").map(needOf);
  const floating = vms.filter((vm) => vm.numa === "floating").map(needOf);
  const hostHasReservedCore = nodes.some((n) => n.hasReservedCore);
  if (floating.some((d) => d.vm.emulator === "shared") && !hostHasReservedCore) return null;

  const chosen = new Map<string, number>();
  const floatingFits = (): boolean => {
    const cores = nodes.reduce((sum, n) => sum + n.cores, 0);
    const memory = nodes.filter((n) => cpuNodeIds.has(n.id)).reduce((sum, n) => sum + n.memoryKiB, 0);
    return floating.reduce((s, d) => s + d.cores, 0) <= cores && floating.reduce((s, d) => s + d.memoryKiB, 0) <= memory;
  };
  const place = (i: number): boolean => {
    if (i === strict.length) return floatingFits();
    const d = strict[i];
    const candidates = d.vm.node === "auto" ? nodes : nodes.filter((n) => n.id === d.vm.node);
    for (const n of candidates) {
      if (!fitsOn(n, d)) continue;
      use(n, d, 1);
      chosen.set(d.vm.name, n.id);
      if (place(i + 1)) return true;
      use(n, d, -1);
      chosen.delete(d.vm.name);
    }
    return false;
  };
  return place(0) ? chosen : null;
}

/**
 * Does a placement of the whole request exist? A VM that names its host (or the request's only
 * host) goes there; a VM that names none may go to any host: every choice of hosts for those is
 * tried, and each host is then checked on its own.
 */
export function exhaustivePlacementExists(request: PlacementRequest, topologies: ReadonlyMap<string, HostTopology>): boolean {
  const free = request.vms.filter((vm) => requestedHost(request, vm) === undefined);
  const choice = new Map<string, string>();
  const hostsFit = () =>
    request.hosts.every((h) => {
      const topology = topologies.get(h.name);
      if (!topology) return false;
      const here = request.vms.filter((vm) => (requestedHost(request, vm) ?? choice.get(vm.name)) === h.name);
      return exhaustiveHost(topology, h.reserve, here) !== null;
    });
  const choose = (i: number): boolean => {
    if (i === free.length) return hostsFit();
    for (const h of request.hosts) {
      choice.set(free[i].name, h.name);
      if (choose(i + 1)) return true;
    }
    return false;
  };
  return choose(0);
}
