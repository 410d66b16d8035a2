// Which node each `node: auto` VM goes to: a multi-resource bin-packing problem (cores, ordinary
// memory, huge pages per size), solved exactly by depth-first search with pruning, under a step
// bound. The first path the search walks is best-fit-decreasing, so easy cases cost one step per VM;
// the search only backtracks where greedy packing would strand capacity (as a first-fit scheduler
// such as Nova's does).

export interface NodeState {
  id: number;
  cores: number;
  memoryKiB: number;
  /** Free huge pages per size in KiB. */
  pages: ReadonlyMap<number, number>;
  /** The node keeps reserved cores, so a VM with `emulator: shared` may go there. */
  hasReserve: boolean;
}

export interface AutoVm {
  /** Index of the VM in the request, for the caller. */
  index: number;
  name: string;
  /** Cores including a dedicated emulator core. */
  cores: number;
  /** Ordinary memory (0 for a huge-page VM). */
  memoryKiB: number;
  /** Huge-page size in KiB and how many, or null. */
  pageSizeKiB: number | null;
  pageCount: number;
  needsReserve: boolean;
}

export type Assignment =
  | { kind: "assigned"; nodeOf: Map<number, number>; steps: number }
  /** No placement exists (the search was exhaustive). `stuck` is where best-fit-decreasing failed. */
  | { kind: "infeasible"; stuck: AutoVm; statesWhenStuck: NodeState[]; placedBefore: AutoVm[] }
  /** The step bound ran out before the search could decide. */
  | { kind: "bound"; steps: number; stuck: AutoVm; statesWhenStuck: NodeState[]; placedBefore: AutoVm[] };

/**
 * The bound on search steps (one step = one VM tried on one node). At about 0.5 µs a step on
 * this project's CI machine, 2,000,000 steps is about one second; real requests finish in one
 * step per VM, and random hard cases of the property tests in a few thousand.
 */
export const DEFAULT_SEARCH_BOUND = 2_000_000;

function fits(s: NodeState, vm: AutoVm): boolean {
  if (vm.needsReserve && !s.hasReserve) return false;
  if (s.cores < vm.cores || s.memoryKiB < vm.memoryKiB) return false;
  return vm.pageSizeKiB === null || (s.pages.get(vm.pageSizeKiB) ?? 0) >= vm.pageCount;
}

function take(s: NodeState, vm: AutoVm, sign: 1 | -1): NodeState {
  const pages = new Map(s.pages);
  if (vm.pageSizeKiB !== null) pages.set(vm.pageSizeKiB, (pages.get(vm.pageSizeKiB) ?? 0) - sign * vm.pageCount);
  return { ...s, cores: s.cores - sign * vm.cores, memoryKiB: s.memoryKiB - sign * vm.memoryKiB, pages };
}

/** A node's state without its id: nodes with equal keys are interchangeable for the VMs left. */
function stateKey(s: NodeState): string {
  const pages = [...s.pages.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(",");
  return `${s.cores}/${s.memoryKiB}/${pages}/${s.hasReserve ? 1 : 0}`;
}

/**
 * The order VMs are tried in: by dominant share of the largest node, descending (the VM that is
 * hardest to fit goes first); then cores, then memory, descending; then request order.
 */
function searchOrder(vms: readonly AutoVm[], nodes: readonly NodeState[]): AutoVm[] {
  const maxCores = Math.max(1, ...nodes.map((n) => n.cores));
  const maxMem = Math.max(1, ...nodes.map((n) => n.memoryKiB));
  const maxPages = new Map<number, number>();
  for (const n of nodes) for (const [size, count] of n.pages) maxPages.set(size, Math.max(maxPages.get(size) ?? 0, count, 1));
  const share = (vm: AutoVm) =>
    Math.max(
      vm.cores / maxCores,
      vm.memoryKiB / maxMem,
      vm.pageSizeKiB === null ? 0 : vm.pageCount / (maxPages.get(vm.pageSizeKiB) ?? 1),
    );
  return [...vms].sort(
    (a, b) =>
      share(b) - share(a) ||
      b.cores - a.cores ||
      b.memoryKiB + b.pageCount * (b.pageSizeKiB ?? 0) - (a.memoryKiB + a.pageCount * (a.pageSizeKiB ?? 0)) ||
      a.index - b.index,
  );
}

/**
 * The order nodes are tried in for one VM (best fit): fewest cores left after it, then least
 * memory left, then node id. Packing tightly first keeps the roomy nodes for the large VMs.
 */
function candidateOrder(states: readonly NodeState[], vm: AutoVm): number[] {
  return states
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => fits(s, vm))
    .sort((a, b) => a.s.cores - b.s.cores || a.s.memoryKiB - b.s.memoryKiB || a.s.id - b.s.id)
    .map(({ i }) => i);
}

/**
 * Assign every VM to a node, or prove none exists.
 * 1. Order the VMs (searchOrder) and precompute what the VMs from position i on still need.
 * 2. Depth first: try the VM at position i on each node that fits it, best fit first.
 * 3. Prune a branch when what is left to place exceeds what is left free (cores, memory, pages);
 *    skip a node whose state equals one already tried for this VM (nodes are interchangeable);
 *    remember failed (position, multiset of node states) pairs and never expand them again.
 * 4. Stop after `bound` steps and say so: the answer is then unknown, not "no".
 */
export function assignNodes(vms: readonly AutoVm[], nodes: readonly NodeState[], bound = DEFAULT_SEARCH_BOUND): Assignment {
  const order = searchOrder(vms, nodes);
  const n = order.length;
  const needCores = new Array<number>(n + 1).fill(0);
  const needMem = new Array<number>(n + 1).fill(0);
  const needPages: Map<number, number>[] = Array.from({ length: n + 1 }, () => new Map());
  for (let i = n - 1; i >= 0; i--) {
    needCores[i] = needCores[i + 1] + order[i].cores;
    needMem[i] = needMem[i + 1] + order[i].memoryKiB;
    needPages[i] = new Map(needPages[i + 1]);
    const size = order[i].pageSizeKiB;
    if (size !== null) needPages[i].set(size, (needPages[i].get(size) ?? 0) + order[i].pageCount);
  }

  const states: NodeState[] = nodes.map((s) => ({ ...s, pages: new Map(s.pages) }));
  const chosen = new Array<number>(n);
  const failed = new Set<string>();
  let steps = 0;
  let firstStuck: { at: number; states: NodeState[] } | null = null;
  let outOfSteps = false;

  const canStillFit = (i: number): boolean => {
    let cores = 0;
    let mem = 0;
    const pages = new Map<number, number>();
    for (const s of states) {
      cores += s.cores;
      mem += s.memoryKiB;
      for (const [size, count] of s.pages) pages.set(size, (pages.get(size) ?? 0) + count);
    }
    if (cores < needCores[i] || mem < needMem[i]) return false;
    for (const [size, count] of needPages[i]) if ((pages.get(size) ?? 0) < count) return false;
    return true;
  };

  const search = (i: number): boolean => {
    if (i === n) return true;
    if (!canStillFit(i)) {
      if (firstStuck === null) firstStuck = { at: i, states: states.map((s) => ({ ...s })) };
      return false;
    }
    const memoKey = `${i}|${states.map(stateKey).sort().join(";")}`;
    if (failed.has(memoKey)) return false;
    const vm = order[i];
    const tried = new Set<string>();
    const candidates = candidateOrder(states, vm);
    if (candidates.length === 0 && firstStuck === null) firstStuck = { at: i, states: states.map((s) => ({ ...s })) };
    for (const c of candidates) {
      const key = stateKey(states[c]);
      if (tried.has(key)) continue;
      tried.add(key);
      if (++steps > bound) {
        outOfSteps = true;
        return false;
      }
      states[c] = take(states[c], vm, 1);
      chosen[i] = c;
      if (search(i + 1)) return true;
      states[c] = take(states[c], vm, -1);
      if (outOfSteps) return false;
    }
    failed.add(memoKey);
    return false;
  };

  if (search(0)) {
    const nodeOf = new Map<number, number>();
    order.forEach((vm, i) => nodeOf.set(vm.index, nodes[chosen[i]].id));
    return { kind: "assigned", nodeOf, steps };
  }
  const stuckInfo = firstStuck ?? { at: 0, states: nodes.map((s) => ({ ...s })) };
  const detail = {
    stuck: order[stuckInfo.at],
    statesWhenStuck: stuckInfo.states,
    placedBefore: order.slice(0, stuckInfo.at),
  };
  return outOfSteps ? { kind: "bound", steps, ...detail } : { kind: "infeasible", ...detail };
}
