// Which cores of a node a VM gets, once the node is decided. Any whole cores would obey the
// placement rules; these choices are about cache locality and about keeping plans stable.
import { Core } from "./host-topology";
import { groupKey } from "./l3-domains";
import { solvePacking } from "./node-assignment";

/**
 * Take `count` cores out of `free` (ascending by first thread; it is not modified).
 * 1. Cores in `prefer` that are still free, in their given order (a resized VM keeps its cores).
 * 2. If one cache group (die, else socket) has enough free cores for the rest, the group with the
 *    fewest free cores that fits (best fit keeps big groups whole for big VMs), lowest cores first.
 * 3. Else whole groups by size, descending (the fewest groups spanned), lowest cores first.
 * Returns null when `free` has fewer than `count` cores.
 */
export function chooseCores(free: readonly Core[], count: number, prefer: readonly Core[] = []): Core[] | null {
  if (count === 0) return [];
  if (free.length < count) return null;
  const isFree = new Set(free.map((c) => c.threads[0]));
  const kept = prefer.filter((c) => isFree.has(c.threads[0])).slice(0, count);
  const keptIds = new Set(kept.map((c) => c.threads[0]));
  const rest = free.filter((c) => !keptIds.has(c.threads[0]));
  const need = count - kept.length;
  if (need === 0) return kept;

  const groups = new Map<string, Core[]>();
  for (const c of rest) {
    const key = groupKey(c);
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  const byFirstCore = (a: Core[], b: Core[]) => a[0].threads[0] - b[0].threads[0];
  const fitting = [...groups.values()].filter((g) => g.length >= need).sort((a, b) => a.length - b.length || byFirstCore(a, b));
  if (fitting.length > 0) return [...kept, ...fitting[0].slice(0, need)];
  const largestFirst = [...groups.values()].sort((a, b) => b.length - a.length || byFirstCore(a, b));
  return [...kept, ...largestFirst.flat().slice(0, need)];
}

/** One VM of a node whose cores are chosen together with the others' (packCores). */
export interface CoreNeed {
  /** The caller's key for the VM (its request index). */
  key: number;
  /** Cores for vCPUs. */
  cores: number;
  /** Also one dedicated emulator core. */
  emulator: boolean;
}

/**
 * The effort for one packing, as counts (the same request packs the same way on any machine):
 * exact-search steps, then local-search iterations. The subset search of step 2 packs up to
 * 2 x 1,023 times, exactly only.
 */
const PACK_EFFORT = { exactSteps: 20_000, localIterations: 25_000 };
const SUBSET_EFFORT = { exactSteps: 2_000, localIterations: 0 };
const FALLBACK_EFFORT = { exactSteps: 2_000, localIterations: 3_000 };

/** Pieces (by id, of `cores` each) into bins of the given free cores, or null if none was found. */
function packInto(pieces: { id: number; cores: number }[], bins: number[], effort: { exactSteps: number; localIterations: number }): Map<number, number> | null {
  const packing = {
    resources: [{ kind: "domain-cores" as const }],
    groups: bins.map((cores, id) => ({ label: `domain ${id}`, parent: -1, capacity: [cores], host: -1, node: -1 })),
    items: pieces.map((p) => ({ key: p.id, name: String(p.id), demand: [p.cores], allowed: bins.map((_, id) => id) })),
  };
  const outcome = solvePacking(packing, { seconds: Infinity, exactSteps: effort.exactSteps, localIterations: effort.localIterations, finalSteps: 0, prove: false });
  return outcome.kind === "assigned" ? outcome.placeOf : null;
}

/**
 * Cores for all `needs` of one node at once, so that each VM spans as few L3 domains as it can:
 * ceil(cores / domain size) where such a choice exists (cores grouped by groupKey; the domain size
 * is the largest group of the node's `all` cores). Returns null when the free cores are in fewer
 * than two domains (then any choice is as good; the caller keeps chooseCores' order).
 * 1. A VM of c cores is cut into floor(c / size) pieces of a whole domain and one piece of the
 *    rest; its dedicated emulator core rides with the rest where there is room, else is a piece
 *    of its own (tried second). Pieces go to domains by the node assignment's bin packing
 *    (assignNodes, with domains as bins of their free cores).
 * 2. If no packing exists: the fewest VMs are left to split (all subsets by size when there are
 *    at most 10 VMs, else the largest VMs first), the others packed as in 1; the split VMs then
 *    take cores by chooseCores, in request order.
 * 3. Within a domain, each VM takes the lowest free cores, in request order.
 */
export function packCores(
  free: readonly Core[],
  all: readonly Core[],
  needs: readonly CoreNeed[],
): Map<number, { cores: Core[]; emulatorCore: Core | null }> | null {
  const domains = new Map<string, Core[]>();
  for (const c of free) {
    const g = domains.get(groupKey(c));
    if (g) g.push(c);
    else domains.set(groupKey(c), [c]);
  }
  if (domains.size < 2) return null;
  const sizeOf = new Map<string, number>();
  for (const c of all) sizeOf.set(groupKey(c), (sizeOf.get(groupKey(c)) ?? 0) + 1);
  const size = Math.max(...sizeOf.values());
  const bins = [...domains.values()]; // ascending by first core: `free` is

  type Piece = { id: number; key: number; vcpus: number; emulator: boolean };
  const piecesOf = (need: CoreNeed, emulatorApart: boolean, firstId: number): Piece[] => {
    const out: Piece[] = [];
    let left = need.cores;
    while (left >= size) {
      out.push({ id: firstId + out.length, key: need.key, vcpus: size, emulator: false });
      left -= size;
    }
    const rideAlong = need.emulator && !emulatorApart && left > 0 && left + 1 <= size;
    if (left > 0) out.push({ id: firstId + out.length, key: need.key, vcpus: left, emulator: rideAlong });
    if (need.emulator && !rideAlong) out.push({ id: firstId + out.length, key: need.key, vcpus: 0, emulator: true });
    return out;
  };
  const tryPack = (packed: readonly CoreNeed[], emulatorApart: boolean, effort: typeof PACK_EFFORT): { pieces: Piece[]; binOf: Map<number, number> } | null => {
    const pieces: Piece[] = [];
    for (const n of packed) pieces.push(...piecesOf(n, emulatorApart, pieces.length));
    const binOf = packInto(pieces.map((p) => ({ id: p.id, cores: p.vcpus + (p.emulator ? 1 : 0) })), bins.map((b) => b.length), effort);
    return binOf ? { pieces, binOf } : null;
  };
  const packWith = (packed: readonly CoreNeed[], effort = PACK_EFFORT) => tryPack(packed, false, effort) ?? tryPack(packed, true, effort);

  // 2. The fewest VMs to split.
  let split: CoreNeed[] = [];
  let result = packWith(needs);
  if (!result && needs.length <= 10) {
    const subsets: number[][] = [];
    for (let mask = 1; mask < 1 << needs.length; mask++) subsets.push([...needs.keys()].filter((i) => mask & (1 << i)));
    // By subset size, then the earliest VMs in request order: the first that packs is kept.
    subsets.sort((a, b) => a.length - b.length || a.join(",").localeCompare(b.join(",")));
    for (const s of subsets) {
      const kept = needs.filter((_, i) => !s.includes(i));
      result = packWith(kept, SUBSET_EFFORT);
      if (result) {
        split = s.map((i) => needs[i]);
        break;
      }
    }
  }
  if (!result) {
    // Largest first (then request order): big VMs are the ones a domain cannot hold anyway.
    const bySize = [...needs].sort((a, b) => b.cores - a.cores || a.key - b.key);
    for (let k = 1; k <= bySize.length && !result; k++) {
      split = bySize.slice(0, k);
      result = packWith(needs.filter((n) => !split.includes(n)), FALLBACK_EFFORT);
    }
  }
  if (!result) return null;

  // 3. Cores from each piece's domain, lowest first, VMs in request order.
  const taken = new Set<number>();
  const lowest = (bin: number, count: number): Core[] => {
    const out = bins[bin].filter((c) => !taken.has(c.threads[0])).slice(0, count);
    for (const c of out) taken.add(c.threads[0]);
    return out;
  };
  const out = new Map<number, { cores: Core[]; emulatorCore: Core | null }>();
  const { pieces, binOf } = result;
  for (const need of [...needs].filter((n) => !split.includes(n)).sort((a, b) => a.key - b.key)) {
    const mine = pieces.filter((p) => p.key === need.key);
    const cores = mine.flatMap((p) => lowest(binOf.get(p.id) as number, p.vcpus));
    const e = mine.find((p) => p.emulator);
    const emulatorCore = e ? lowest(binOf.get(e.id) as number, 1)[0] : null;
    out.set(need.key, { cores, emulatorCore });
  }
  for (const need of [...split].sort((a, b) => a.key - b.key)) {
    const left = free.filter((c) => !taken.has(c.threads[0]));
    const cores = chooseCores(left, need.cores) as Core[];
    for (const c of cores) taken.add(c.threads[0]);
    let emulatorCore: Core | null = null;
    if (need.emulator) {
      const rest = free.filter((c) => !taken.has(c.threads[0]));
      emulatorCore = (chooseCores(rest, 1, rest.filter((c) => groupKey(c) === groupKey(cores[0]))) as Core[])[0];
      taken.add(emulatorCore.threads[0]);
    }
    out.set(need.key, { cores, emulatorCore });
  }
  return out;
}
