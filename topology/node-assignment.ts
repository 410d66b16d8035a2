// Which node each `node: auto` VM goes to: a multi-resource bin-packing problem (cores, ordinary
// memory, huge pages per size). Two searches, one time limit:
// - an exact depth-first search with pruning (below, `exactSearch`). Its first path is
//   best-fit-decreasing, so easy cases cost one step per VM, and on small cases it is exhaustive:
//   it proves "does not fit". A step costs 6-28 µs on many-node hosts (issue 13's measurement; the
//   memo key is the multiset of node states), and on tight packings from 4 nodes and 20 VMs up it
//   can run for minutes, so it gets a fixed number of steps first, and what time is left last.
// - a tabu local search with restarts (local-search.ts) over complete assignments, minimising how
//   far the nodes are overfull; it cannot prove anything, but it carries the large tight cases
//   (bench/plan.bench.ts measures both on generated tight families).
// A MIP (HiGHS as WebAssembly) was the third candidate: it can also prove infeasibility, but the
// `highs` package only loads asynchronously and the planner is a synchronous pure function used by
// every command and the Pulumi program; local search placed every generated feasible family in
// well under the limit, while an assignment MIP with symmetry breaking did not answer in 10 s on
// a 16-node memory-tight case (bench/mip-compare.ts), so the MIP is not part of the planner.
import { localSearch } from "./local-search";

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

/** Where best-fit-decreasing got stuck: what the explanations of a failure show. */
export interface Stuck {
  stuck: AutoVm;
  statesWhenStuck: NodeState[];
  placedBefore: AutoVm[];
}

export type Assignment =
  | { kind: "assigned"; nodeOf: Map<number, number>; by: "exact" | "local-search"; steps: number }
  /** No placement exists: proved by capacity arithmetic or by the exhaustive search. */
  | ({ kind: "infeasible"; proof: "capacity" | "exhaustive" } & Stuck)
  /** No placement exists: the nodes' cores that whole VMs can fill (subset sums) are too few. */
  | ({ kind: "infeasible"; proof: "sizes"; fillable: number; needed: number } & Stuck)
  /** The time limit ran out before either search could decide: one may exist. */
  | ({ kind: "gave-up"; seconds: number; steps: number } & Stuck);

/** The planner's default time limit for the node assignment of one request, in seconds. */
export const DEFAULT_SEARCH_SECONDS = 3;

/**
 * Steps the exact search may take before the local search takes over (one step = one VM tried on
 * one node; 6-28 µs each on 4-64 nodes, so at most about half a second). Real requests and the
 * property tests' random small hard cases need a few thousand.
 */
export const EXACT_STEPS = 20_000;
/** The share of the time limit by which the local search must have placed, before step 4. */
const LOCAL_SHARE = 0.7;
/** The exact search's memo of failed states stops growing at this many key characters (~2 bytes each). */
const MEMO_CHARS = 24_000_000;

export interface SearchLimits {
  /** Wall-clock seconds for the whole assignment; default DEFAULT_SEARCH_SECONDS. */
  seconds?: number;
  /** Steps for the exact search; default EXACT_STEPS. */
  exactSteps?: number;
  /** A clock in milliseconds (tests); default performance.now. */
  now?: () => number;
}

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
 * Assign every VM to a node, or prove none exists, or say the time ran out.
 * 1. Capacity arithmetic: if the VMs need more cores, memory or pages than the nodes have in
 *    total, or a VM fits no node even empty, or the nodes' largest subset sums of VM sizes fall
 *    short (subsetSumShort), no arrangement helps (proved).
 * 2. The exact search (exactSearch) for `exactSteps` steps: it places, proves "does not fit" by
 *    exhausting the tree, or runs out. Small and easy cases end here.
 * 3. The local search until LOCAL_SHARE of the time limit: it places or runs out.
 * 4. The exact search again, without a step bound, until the time limit: on hosts where the
 *    local search failed it may still prove "does not fit" (or place); else give up.
 * Steps 2 and 3 are bounded by counts, not the clock, where they place: the same request gives the
 * same plan on a slow machine as on a fast one (only "gave up" depends on the machine).
 */
export function assignNodes(vms: readonly AutoVm[], nodes: readonly NodeState[], limits: SearchLimits = {}): Assignment {
  const now = limits.now ?? (() => performance.now());
  const start = now();
  const seconds = limits.seconds ?? DEFAULT_SEARCH_SECONDS;
  const deadline = start + seconds * 1000;
  const exact = exactSearch(vms, nodes, limits.exactSteps ?? EXACT_STEPS, deadline, now);
  if (exact.kind !== "out") return exact;
  const found = localSearch(vms, nodes, start + LOCAL_SHARE * seconds * 1000, now);
  if (found) return { kind: "assigned", nodeOf: found.nodeOf, by: "local-search", steps: exact.steps + found.iterations };
  const again = exactSearch(vms, nodes, Infinity, deadline, now);
  if (again.kind !== "out") return again;
  return { kind: "gave-up", seconds, steps: exact.steps + again.steps, ...exact.stuck };
}

/**
 * The cores a node can really give are a sum of some VMs' cores: the largest such sum up to its
 * free cores (a subset sum over the VMs' sizes, as a bitset). If those sums over all nodes are
 * less than the cores the VMs need, no arrangement exists: 2-core VMs on 7-core nodes use 6 of 7.
 * Sound, and cheap (cores x VMs per node).
 */
function subsetSumShort(vms: readonly AutoVm[], nodes: readonly NodeState[]): { fillable: number; needed: number } | null {
  const need = vms.reduce((sum, vm) => sum + vm.cores, 0);
  let usable = 0;
  for (const s of nodes) {
    const cap = Math.max(0, s.cores);
    const reach = new Uint8Array(cap + 1);
    reach[0] = 1;
    for (const vm of vms) {
      if (vm.cores > cap || !fits(s, vm)) continue;
      for (let x = cap - vm.cores; x >= 0; x--) if (reach[x]) reach[x + vm.cores] = 1;
    }
    let best = cap;
    while (best > 0 && !reach[best]) best--;
    usable += best;
  }
  return usable < need ? { fillable: usable, needed: need } : null;
}

type Exact = Exclude<Assignment, { kind: "gave-up" }> | { kind: "out"; steps: number; stuck: Stuck };

/**
 * The exact search.
 * 1. Order the VMs (searchOrder) and precompute what the VMs from position i on still need.
 * 2. Depth first: try the VM at position i on each node that fits it, best fit first.
 * 3. Prune a branch when what is left to place exceeds what is left free (cores, memory, pages);
 *    skip a node whose state equals one already tried for this VM (nodes are interchangeable);
 *    remember failed (position, multiset of node states) pairs and never expand them again (up to
 *    MEMO_CHARS of keys: past that the search stays exact, it only forgets less).
 * 4. Stop after `bound` steps or at `deadline` and say so: the answer is then unknown, not "no".
 */
function exactSearch(vms: readonly AutoVm[], nodes: readonly NodeState[], bound: number, deadline: number, now: () => number): Exact {
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
  let memoChars = 0;
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
      if (++steps > bound || ((steps & 1023) === 0 && now() > deadline)) {
        outOfSteps = true;
        return false;
      }
      states[c] = take(states[c], vm, 1);
      chosen[i] = c;
      if (search(i + 1)) return true;
      states[c] = take(states[c], vm, -1);
      if (outOfSteps) return false;
    }
    if (memoChars < MEMO_CHARS) {
      failed.add(memoKey);
      memoChars += memoKey.length;
    }
    return false;
  };

  // A VM that fits no node even when every other VM is elsewhere: no search can help.
  const alone = order.findIndex((vm) => !nodes.some((s) => fits(s, vm)));
  if (!canStillFit(0) || alone >= 0) {
    const at = alone >= 0 ? alone : 0;
    return { kind: "infeasible", proof: "capacity", stuck: order[at], statesWhenStuck: nodes.map((s) => ({ ...s })), placedBefore: [] };
  }
  const short = subsetSumShort(order, nodes);
  if (short) return { kind: "infeasible", proof: "sizes", ...short, stuck: order[0], statesWhenStuck: nodes.map((s) => ({ ...s })), placedBefore: [] };
  if (search(0)) {
    const nodeOf = new Map<number, number>();
    order.forEach((vm, i) => nodeOf.set(vm.index, nodes[chosen[i]].id));
    return { kind: "assigned", nodeOf, by: "exact", steps };
  }
  const stuckInfo = firstStuck ?? { at: 0, states: nodes.map((s) => ({ ...s })) };
  const stuck: Stuck = {
    stuck: order[stuckInfo.at],
    statesWhenStuck: stuckInfo.states,
    placedBefore: order.slice(0, stuckInfo.at),
  };
  return outOfSteps ? { kind: "out", steps, stuck } : { kind: "infeasible", proof: "exhaustive", ...stuck };
}
