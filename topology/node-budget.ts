// What each node of a host can give to VMs once the reserve is taken out. The planner spends
// these budgets; invariants.ts recomputes them to check a plan without trusting the planner.
import { Core, HostTopology, NumaNode, hugepagesKiB } from "./host-topology";
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
 * can never be a VM's whole core, so they are the first to count toward the reserve.
 */
export function nodeBudget(node: NumaNode, reserve: Reserve): NodeBudget {
  const incomplete = node.cores.filter((c) => !c.complete);
  const complete = node.cores.filter((c) => c.complete);
  const keepComplete = Math.min(complete.length, Math.max(0, reserve.coresPerNode - incomplete.length));
  const usableCores = complete.slice(0, complete.length - keepComplete);
  const reservedCores = [...incomplete, ...complete.slice(complete.length - keepComplete)].sort(
    (a, b) => a.threads[0] - b.threads[0],
  );
  const hasCpus = node.cores.length > 0;
  const reserveKiB = memoryKiB(reserve.memoryGiBPerNode);
  const total = node.memoryKiB ?? 0;
  // A CPU-less node's memory is never a VM's: strict VMs keep memory beside their vCPUs.
  const vmMemoryKiB = hasCpus ? Math.max(0, total - hugepagesKiB(node) - reserveKiB) : 0;
  const hugepages = new Map<number, number>();
  if (hasCpus) for (const pool of node.pages.slice(1)) hugepages.set(pool.sizeKiB, pool.count);
  return { node, reservedCores, usableCores, vmMemoryKiB, reserveKiB, hugepages };
}

export function hostBudgets(host: HostTopology, reserve: Reserve): NodeBudget[] {
  return host.nodes.map((n) => nodeBudget(n, reserve));
}

export function threadsOf(cores: readonly Core[]): number[] {
  return cores.flatMap((c) => c.threads).sort((a, b) => a - b);
}
