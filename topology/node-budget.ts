// What each node of a host can give to VMs once the reserve is taken out. The planner spends
// these budgets; invariants.ts recomputes them to check a plan without trusting the planner.
import { Core, HostTopology, NumaNode, hugepagesKiB } from "./host-topology";
import { groupKey } from "./l3-domains";
import { Reserve, memoryKiB } from "./request";

export interface NodeBudget {
  node: NumaNode;
  /** Cores the reserve keeps: every incomplete core first, then the node's last complete cores. */
  reservedCores: Core[];
  /** Complete cores a VM may get, ascending by first thread. */
  usableCores: Core[];
  /** Ordinary memory for VMs: memory - huge pages - reserve (0 when the capture has no memory). */
  vmMemoryKiB: number;
  reserveKiB: number;
  /** Huge pages per size (KiB) a VM may take: every pool but the base page size. */
  hugepages: Map<number, number>;
}

/**
 * The reserve comes from the end of the node because the documents keep the last cores
 * (17/53 and 35/71 on the reference host) for the host and emulators, so VMs fill from the
 * first core up and keep the numbering a reader expects. Incomplete cores (an offline sibling)
 * can never be a VM's whole core, so they are the first to count toward the reserve. On chiplet
 * nodes the reserve's complete cores come from as few L3 domains as they can (reservedOf).
 */
export function nodeBudget(node: NumaNode, reserve: Reserve): NodeBudget {
  const incomplete = node.cores.filter((c) => !c.complete);
  const complete = node.cores.filter((c) => c.complete);
  const keepComplete = Math.min(complete.length, Math.max(0, reserve.coresPerNode - incomplete.length));
  const kept = new Set(reservedOf(complete, incomplete, keepComplete));
  const usableCores = complete.filter((c) => !kept.has(c));
  const reservedCores = [...incomplete, ...kept].sort((a, b) => a.threads[0] - b.threads[0]);
  const hasCpus = node.cores.length > 0;
  const reserveKiB = memoryKiB(reserve.memoryGiBPerNode);
  const total = node.memoryKiB ?? 0;
  // A CPU-less node's memory is never a VM's: strict VMs keep memory beside their vCPUs.
  const vmMemoryKiB = hasCpus ? Math.max(0, total - hugepagesKiB(node) - reserveKiB) : 0;
  const hugepages = new Map<number, number>();
  if (hasCpus) for (const pool of node.pages.slice(1)) hugepages.set(pool.sizeKiB, pool.count);
  return { node, reservedCores, usableCores, vmMemoryKiB, reserveKiB, hugepages };
}

/**
 * The complete cores the reserve keeps: one L3 domain at a time, each from its last core down,
 * so that the reserve shrinks as few domains as it must: every domain it shrinks can no longer
 * hold a VM of the domain's whole size, and a VM that needs one is split. Domains that hold an
 * incomplete core come first (it is reserved already), then by their last core, descending. On a
 * node that is one domain (or numbers its cores domain by domain) these are the node's last cores.
 */
function reservedOf(complete: readonly Core[], incomplete: readonly Core[], count: number): Core[] {
  if (count === 0) return [];
  const domains = new Map<string, Core[]>();
  for (const c of complete) domains.set(groupKey(c), [...(domains.get(groupKey(c)) ?? []), c]);
  const shrunk = new Set(incomplete.map(groupKey));
  const last = (cores: Core[]) => cores[cores.length - 1].threads[0];
  const order = [...domains].sort(([ka, a], [kb, b]) => Number(shrunk.has(kb)) - Number(shrunk.has(ka)) || last(b) - last(a));
  const out: Core[] = [];
  for (const [, cores] of order) for (let i = cores.length - 1; i >= 0 && out.length < count; i--) out.push(cores[i]);
  return out;
}

export function hostBudgets(host: HostTopology, reserve: Reserve): NodeBudget[] {
  return host.nodes.map((n) => nodeBudget(n, reserve));
}

export function threadsOf(cores: readonly Core[]): number[] {
  return cores.flatMap((c) => c.threads).sort((a, b) => a - b);
}
