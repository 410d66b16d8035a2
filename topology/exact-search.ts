// The exact search over a packing (packing.ts): depth first, so that on small and easy cases it
// either places or proves by exhausting the tree that nothing fits. Its first path is
// best-fit-decreasing, so an easy case costs one step per item. A step costs 6-28 µs on
// many-node hosts (issue 13's measurement; the memo key is the state of every group), and on
// tight packings from 4 nodes and 20 VMs up the tree is far too large to exhaust: the caller gives
// it a number of steps first and what time is left last (node-assignment.ts).
import { ExactProgress, Item, Packing, PlaceOf, chainOf, childrenOf } from "./packing";

/** Where best-fit-decreasing first got stuck: what the explanation of a failure shows. */
export interface Stuck {
  item: Item;
  placedBefore: Item[];
  /** The remaining capacity of every group (by resource) at that moment. */
  remaining: number[][];
}

export type ExactOutcome =
  | { kind: "assigned"; placeOf: PlaceOf; steps: number }
  /** The whole tree was searched: no placement exists. */
  | { kind: "exhausted"; steps: number; stuck: Stuck }
  /** Out of steps or time: unknown. */
  | { kind: "out"; steps: number; stuck: Stuck; progress: ExactProgress };

/** The exact search's memo of failed states stops growing at this many key characters (~2 bytes each). */
const MEMO_CHARS = 24_000_000;

/**
 * The order items are tried in: by dominant share (the largest of demand / the most any place
 * can hold, over the resources), descending, so that the item hardest to fit goes first; then
 * by each resource's demand in resource order, descending; then by key (request order).
 */
export function searchOrder(p: Packing): Item[] {
  const R = p.resources.length;
  const most = new Array<number>(R).fill(1);
  for (const g of p.groups) for (let r = 0; r < R; r++) if (Number.isFinite(g.capacity[r])) most[r] = Math.max(most[r], g.capacity[r]);
  const share = (it: Item) => Math.max(...it.demand.map((d, r) => d / most[r]));
  return [...p.items].sort((a, b) => {
    const s = share(b) - share(a);
    if (s !== 0) return s;
    for (let r = 0; r < R; r++) if (a.demand[r] !== b.demand[r]) return b.demand[r] - a.demand[r];
    return a.key - b.key;
  });
}

/**
 * 1. Order the items (searchOrder); precompute what the items from position i on still need of
 *    each resource (counting an item only where every place it may take limits that resource).
 * 2. Depth first: try the item at position i in each allowed group it fits, best fit first
 *    (least left of each resource in resource order, then group index).
 * 3. Prune a branch when what is left to place exceeds what is left free in total; skip a group
 *    whose state (with the groups above it and below them) equals one already tried for this item:
 *    such groups are interchangeable (the same items allow them); remember failed (position,
 *    state) pairs, up to MEMO_CHARS of keys (past that it stays exact, it only forgets less).
 * 4. Stop after `bound` steps or at `deadline` and say so: the answer is then unknown, not "no".
 */
export function exactSearch(p: Packing, bound: number, deadline: number, now: () => number): ExactOutcome {
  const R = p.resources.length;
  const G = p.groups.length;
  const chains = p.groups.map((_, g) => chainOf(p, g));
  const children = childrenOf(p);
  const roots = p.groups.map((_, g) => g).filter((g) => p.groups[g].parent < 0);
  const limits = p.groups.map((grp) => grp.capacity.flatMap((c, r) => (Number.isFinite(c) ? [r] : [])));
  const rem = new Float64Array(G * R);
  p.groups.forEach((grp, g) => grp.capacity.forEach((c, r) => (rem[g * R + r] = c)));

  // Groups that the same items allow (directly) are in one class: only those can be interchangeable.
  const allowing = p.groups.map(() => [] as number[]);
  for (const it of p.items) for (const g of it.allowed) allowing[g].push(it.key);
  const classIds = new Map<string, number>();
  const cls = allowing.map((keys) => {
    const sig = keys.join(",");
    if (!classIds.has(sig)) classIds.set(sig, classIds.size);
    return classIds.get(sig) as number;
  });
  const post: number[] = [];
  const visit = (g: number) => {
    for (const c of children[g]) visit(c);
    post.push(g);
  };
  roots.forEach(visit);

  const order = searchOrder(p);
  const n = order.length;
  // Per resource: the groups that limit it with no group above them limiting it; what the items
  // from position i on need of it, counting an item only if every place it may take is limited.
  const tops: number[][] = [];
  for (let r = 0; r < R; r++) tops.push(p.groups.map((_, g) => g).filter((g) => limits[g].includes(r) && chains[g].slice(1).every((h) => !limits[h].includes(r))));
  const need = Array.from({ length: n + 1 }, () => new Float64Array(R));
  for (let i = n - 1; i >= 0; i--) {
    for (let r = 0; r < R; r++) {
      const counted = order[i].allowed.every((g) => chains[g].some((h) => limits[h].includes(r)));
      need[i][r] = need[i + 1][r] + (counted ? order[i].demand[r] : 0);
    }
  }

  const fits = (i: number, g: number): boolean => {
    const d = order[i].demand;
    for (const h of chains[g]) for (const r of limits[h]) if (rem[h * R + r] < d[r]) return false;
    return true;
  };
  const put = (i: number, g: number, sign: 1 | -1) => {
    const d = order[i].demand;
    for (const h of chains[g]) for (let r = 0; r < R; r++) rem[h * R + r] -= sign * d[r];
  };
  const canStillFit = (i: number): boolean => {
    for (let r = 0; r < R; r++) {
      if (need[i][r] === 0) continue;
      let have = 0;
      for (const g of tops[r]) have += Math.max(0, rem[g * R + r]);
      if (have < need[i][r]) return false;
    }
    return true;
  };
  const keys = new Array<string>(G);
  const computeKeys = () => {
    for (const g of post) {
      let k = `${cls[g]}:`;
      for (const r of limits[g]) k += `${rem[g * R + r]},`;
      const ch = children[g];
      if (ch.length > 0) k += `[${ch.map((c) => keys[c]).sort().join(";")}]`;
      keys[g] = k;
    }
  };
  const snapshot = () => p.groups.map((_, g) => Array.from(rem.subarray(g * R, g * R + R)));

  const chosen = new Int32Array(n);
  const failed = new Set<string>();
  let memoChars = 0;
  let steps = 0;
  let firstStuck: { at: number; remaining: number[][] } | null = null;
  let outOfSteps = false;
  // The path's position among the distinct candidates at each depth: the progress estimate.
  const branchAt = new Float64Array(n + 1);
  const branchOf = new Float64Array(n + 1);
  let deepest = -1;

  const search = (i: number): boolean => {
    if (i === n) return true;
    if (!canStillFit(i)) {
      if (firstStuck === null) firstStuck = { at: i, remaining: snapshot() };
      return false;
    }
    // The state's key is built only when it is needed: to look it up once something has failed,
    // to tell interchangeable groups apart before a second candidate, and to remember a failure.
    // (The state is back to this call's own whenever those happen.)
    let memoKey: string | null = null;
    const fromKeys = () => `${i}|${roots.map((g) => keys[g]).sort().join("|")}`;
    const keyNow = (): string => {
      if (memoKey === null) {
        computeKeys();
        memoKey = fromKeys();
      }
      return memoKey;
    };
    if (failed.size > 0 && failed.has(keyNow())) return false;
    const d = order[i].demand;
    let candidates = order[i].allowed.filter((g) => fits(i, g));
    if (candidates.length === 0 && firstStuck === null) firstStuck = { at: i, remaining: snapshot() };
    // Best fit: least left of each resource in resource order, then group index.
    candidates.sort((a, b) => {
      for (let r = 0; r < R; r++) {
        const x = rem[a * R + r] - d[r];
        const y = rem[b * R + r] - d[r];
        if (x !== y) return x === Infinity ? 1 : y === Infinity ? -1 : x - y;
      }
      return a - b;
    });
    branchOf[i] = candidates.length;
    for (let c = 0; c < candidates.length; c++) {
      if (c === 1) {
        // Before a second candidate: keep one group of each interchangeable kind.
        computeKeys();
        memoKey ??= fromKeys();
        const seen = new Set<string>();
        candidates = candidates.filter((g) => {
          const path = chains[g].map((h) => keys[h]).join("<");
          if (seen.has(path)) return false;
          seen.add(path);
          return true;
        });
        branchOf[i] = candidates.length;
        if (c >= candidates.length) break;
      }
      const g = candidates[c];
      branchAt[i] = c;
      if (++steps > bound || ((steps & 1023) === 0 && now() > deadline)) {
        outOfSteps = true;
        deepest = i;
        return false;
      }
      put(i, g, 1);
      chosen[i] = g;
      if (search(i + 1)) return true;
      put(i, g, -1);
      if (outOfSteps) return false;
    }
    if (memoChars < MEMO_CHARS) {
      const key = keyNow();
      failed.add(key);
      memoChars += key.length;
    }
    return false;
  };

  const start = now();
  if (search(0)) {
    const placeOf: PlaceOf = new Map();
    order.forEach((it, i) => placeOf.set(it.key, chosen[i]));
    return { kind: "assigned", placeOf, steps };
  }
  const info = firstStuck ?? { at: 0, remaining: p.groups.map((grp) => [...grp.capacity]) };
  const stuck: Stuck = { item: order[Math.min(info.at, n - 1)], placedBefore: order.slice(0, info.at), remaining: info.remaining };
  if (!outOfSteps) return { kind: "exhausted", steps, stuck };
  // The share of the tree behind the current path: siblings finished at each depth, each worth
  // its share of the branch above it (Knuth's estimate along one path; the memo only helps).
  let covered = 0;
  let weight = 1;
  for (let i = 0; i <= deepest; i++) {
    if (branchOf[i] === 0) break;
    covered += weight * (branchAt[i] / branchOf[i]);
    weight /= branchOf[i];
  }
  return { kind: "out", steps, stuck, progress: { steps, covered, seconds: (now() - start) / 1000 } };
}
