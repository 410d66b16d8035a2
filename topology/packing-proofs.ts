// Counting arguments that prove a packing (packing.ts) impossible before any search: what a user
// with an impossible request hears as "does not fit, because ..." (exit 3) in milliseconds.
// Every argument is an upper bound on what the groups can hold, so a proof is sound; the property
// tests check each against exhaustive search on small cases (test/topology/packing-proofs.test.ts).
//
// Hall's condition for items that fit only some places: for a set X of places, the items S whose
// every allowed place is in X must fit in what X can hold. What X can hold is bounded three ways:
// - total: the capacities, each group limited by the groups above it;
// - fill: a place can only be filled with sums of whole items' demands (cores, memory, pages),
//   so even-sized VMs leave a core of an odd node unused and 3-core VMs use 9 of 10; the largest
//   such sum also has to fit the place's other resources (a subset sum per place);
// - count: at most floor(capacity / t) items of t or more fit a group (and of t cores and m
//   memory: the fewer of the two), however they are arranged;
// - forced: what the other places cannot hold must go to X, and taking that many cores (say) into
//   X costs at least so much memory, even choosing the VMs with the least memory per core and
//   splitting one; more than X has means no arrangement (a linear argument: where every node must
//   be full of cores, a host short of memory cannot take the cores it must).
import { Item, Packing, childrenOf, effectiveCapacity, fitsAlone } from "./packing";

export type Proof =
  /** The item fits none of its allowed places even when nothing else is there. */
  | { kind: "alone"; item: Item }
  /** The items that can only go to `places` need more of the resource than those can hold. */
  | { kind: "total"; resource: number; items: Item[]; places: number[]; need: number; have: number }
  /**
   * As "total", but each place counts only the largest sum of whole items' demands it can take
   * (its `fill`, of `free`); `unit` is the common divisor of the demands (1: none).
   */
  | { kind: "fill"; resource: number; items: Item[]; places: number[]; need: number; have: number; free: number; unit: number; parts: { place: number; fill: number; free: number }[] }
  /** `items` each need at least `atLeast` (per resource); the places hold at most `room` such items. */
  | { kind: "count"; resources: number[]; atLeast: number[]; items: Item[]; places: number[]; room: number; parts: { place: number; room: number }[] }
  /**
   * The places must take at least `atLeast` of resource r: the items need `need` of it, and all
   * other places together hold at most `elsewhere`. The items that can only go there (`items`)
   * bring `own` of r and `ownOther` of resource `other`; the rest must come from items that may
   * go there, and costs at least `least` of `other` (the least of it per unit of r first,
   * fractions allowed; Infinity: they cannot bring enough); the places have `have` of `other`.
   */
  | { kind: "forced"; resource: number; other: number; items: Item[]; places: number[]; need: number; elsewhere: number; atLeast: number; own: number; ownOther: number; least: number; have: number };

const ALL_ARGUMENTS: ReadonlySet<Proof["kind"]> = new Set(["alone", "total", "forced", "fill", "count"]);

/** Scopes tried, and the subset-sum work allowed (cells), so that proving stays in milliseconds. */
const MAX_SCOPES = 96;
const FILL_CELLS = 20_000_000;
/** A subset sum over more units than this is not tried (the bound stays the plain capacity). */
const FILL_UNITS = 1 << 15;
const MAX_PAIRS = 200;

/**
 * A counting proof that no assignment exists, or null; `use` picks the arguments (the tests check
 * each on its own). In this order: an item that fits nowhere
 * alone; then for each scope X (every place together; the places under each top group, i.e. each
 * host; each distinct allowed set, smallest first; each place alone) the total, forced, fill and
 * count bounds.
 */
export function proveInfeasible(p: Packing, use: ReadonlySet<Proof["kind"]> = ALL_ARGUMENTS): Proof | null {
  const fitting = p.items.map((it) => new Set(it.allowed.filter((g) => fitsAlone(p, it, g))));
  const lonely = p.items.findIndex((_, i) => fitting[i].size === 0);
  if (lonely >= 0 && use.has("alone")) return { kind: "alone", item: p.items[lonely] };
  if (p.items.length === 0) return null;
  const children = childrenOf(p);
  const R = p.resources.length;
  const eff = p.groups.map((_, g) => p.resources.map((_, r) => effectiveCapacity(p, g, r)));
  const scopes = scopesOf(p, children);
  let cells = 0;
  for (const X of scopes) {
    const inX = new Set(X);
    const inS = p.items.map((it) => it.allowed.every((g) => inX.has(g)));
    const S = p.items.filter((_, i) => inS[i]);
    if (S.length === 0) continue;
    // The groups some item of S may use directly with a demand of each resource.
    const usedBy = p.resources.map(() => new Set<number>());
    for (const it of S) for (const g of it.allowed) for (let r = 0; r < R; r++) if (it.demand[r] > 0) usedBy[r].add(g);
    const direct = (rs: number[]) => (g: number) => rs.some((r) => usedBy[r].has(g));
    const aggregate = (r: number, leaf: (g: number) => number) => aggregateOver(p, children, inX, leaf, (g) => p.groups[g].capacity[r], direct([r]));
    const needs = p.resources.map((_, r) => S.reduce((sum, it) => sum + it.demand[r], 0));
    for (let r = 0; r < R && use.has("total"); r++) {
      if (needs[r] === 0) continue;
      const have = aggregate(r, (g) => eff[g][r]);
      if (needs[r] > have) return { kind: "total", resource: r, items: S, places: X, need: needs[r], have };
    }
    const forced = use.has("forced") ? forcedBound(p, children, inX, S, eff) : null;
    if (forced) return { ...forced, places: X };
    for (let r = 0; r < R && use.has("fill"); r++) {
      if (needs[r] === 0) continue;
      const parts: { place: number; fill: number; free: number }[] = [];
      const fills = new Map<number, number>();
      let unitAll = 0;
      for (const g of X) {
        const free = eff[g][r];
        if (!Number.isFinite(free) || children[g].some((c) => inX.has(c))) continue;
        const T = p.items.filter((it, i) => inS[i] && it.demand[r] > 0 && fitting[i].has(g));
        const f = fillOf(p, g, r, T, FILL_CELLS - cells);
        cells += f.cells;
        fills.set(g, f.fill);
        parts.push({ place: g, fill: f.fill, free });
        for (const it of T) unitAll = gcd(unitAll, it.demand[r]);
      }
      const have = aggregate(r, (g) => fills.get(g) ?? eff[g][r]);
      if (needs[r] > have) {
        const free = aggregate(r, (g) => eff[g][r]);
        return { kind: "fill", resource: r, items: S, places: X, need: needs[r], have, free, unit: unitAll || 1, parts };
      }
    }
    const count = use.has("count") ? countBound(p, children, inX, S, direct, eff) : null;
    if (count) return { ...count, places: X };
  }
  return null;
}

/** The scopes X to try, as sorted lists of places, without repeats, at most MAX_SCOPES. */
function scopesOf(p: Packing, children: number[][]): number[][] {
  const out = new Map<string, number[]>();
  const add = (places: number[]) => {
    const sorted = [...new Set(places)].sort((a, b) => a - b);
    if (sorted.length > 0 && !out.has(sorted.join(","))) out.set(sorted.join(","), sorted);
  };
  const allPlaces = p.items.flatMap((it) => it.allowed);
  add(allPlaces);
  const isPlace = new Set(allPlaces);
  const under = (g: number): number[] => [g, ...children[g].flatMap(under)];
  p.groups.forEach((grp, g) => {
    if (grp.parent < 0) add(under(g).filter((x) => isPlace.has(x)));
  });
  const sets = [...new Map(p.items.map((it) => [it.allowed.join(","), [...it.allowed]])).values()].sort((a, b) => a.length - b.length || a.join(",").localeCompare(b.join(",")));
  for (const s of sets) add(s);
  for (const g of [...isPlace].sort((a, b) => a - b)) add([g]);
  return [...out.values()].slice(0, MAX_SCOPES);
}

/**
 * What the places of X can hold: a place in X with no group of X below it holds `leaf(place)`
 * (nothing when no item of S may use it: `direct`);
 * any other group holds the sum of what its children hold, plus (a place of X that items use
 * directly: `direct`) its own capacity, and never more than its own `groupCap` (a host's limit
 * binds the nodes below it).
 */
function aggregateOver(
  p: Packing,
  children: number[][],
  inX: ReadonlySet<number>,
  leaf: (g: number) => number,
  groupCap: (g: number) => number,
  direct: (g: number) => boolean,
): number {
  const touches = (g: number): boolean => inX.has(g) || children[g].some(touches);
  const agg = (g: number): number => {
    const below = children[g].filter(touches);
    // A group over its capacity (a negative one) holds nothing, not less than nothing.
    if (inX.has(g) && below.length === 0) return direct(g) ? Math.max(0, leaf(g)) : 0;
    const own = inX.has(g) && direct(g) ? Math.max(0, groupCap(g)) : 0;
    return Math.max(0, Math.min(groupCap(g), own + below.reduce((s, c) => s + agg(c), 0)));
  };
  let sum = 0;
  p.groups.forEach((grp, g) => {
    if (grp.parent < 0 && touches(g)) sum += agg(g);
  });
  return sum;
}

/**
 * The largest sum of the items' demands of resource r that fits place g, where the items chosen
 * must also fit g's other resources: a subset sum over r in units of the demands' common divisor,
 * keeping for each sum the least of each other resource any subset reaching it needs (each other
 * resource on its own: a relaxation, so the bound stays an upper bound).
 */
function fillOf(p: Packing, g: number, r: number, items: readonly Item[], cellsLeft: number): { fill: number; cells: number } {
  const free = effectiveCapacity(p, g, r);
  let unit = 0;
  for (const it of items) unit = gcd(unit, it.demand[r]);
  if (unit === 0) return { fill: 0, cells: 0 };
  const units = Math.floor(free / unit);
  const others = p.resources.map((_, o) => o).filter((o) => o !== r && Number.isFinite(effectiveCapacity(p, g, o)) && items.some((it) => it.demand[o] > 0));
  const pieces = bundles(items, r, unit, others);
  const O = others.length;
  const cells = pieces.length * (units + 1) * (O + 1);
  if (units > FILL_UNITS || cells > cellsLeft) return { fill: free, cells: 0 };
  const reach = new Uint8Array(units + 1);
  reach[0] = 1;
  // least[j * (units + 1) + k]: the least of other resource j any subset reaching k units needs.
  const least = new Float64Array(O * (units + 1)).fill(Infinity);
  for (let j = 0; j < O; j++) least[j * (units + 1)] = 0;
  for (const [du, extra] of pieces) {
    if (du > units) continue;
    for (let k = units; k >= du; k--) {
      if (!reach[k - du]) continue;
      reach[k] = 1;
      for (let j = 0; j < O; j++) {
        const via = least[j * (units + 1) + k - du] + extra[j];
        if (via < least[j * (units + 1) + k]) least[j * (units + 1) + k] = via;
      }
    }
  }
  const caps = others.map((o) => effectiveCapacity(p, g, o));
  for (let k = units; k > 0; k--) {
    if (!reach[k]) continue;
    let ok = true;
    for (let j = 0; j < O && ok; j++) ok = least[j * (units + 1) + k] <= caps[j];
    if (ok) return { fill: k * unit, cells };
  }
  return { fill: 0, cells };
}

/**
 * The count bound: for each resource and each demand t some item of S has, the items of t or more
 * against the places' room for them (floor(capacity / t), groups above limiting); then the same
 * for pairs (t of one resource and m of another, the first two resources: cores and memory).
 */
function countBound(
  p: Packing,
  children: number[][],
  inX: ReadonlySet<number>,
  S: readonly Item[],
  direct: (rs: number[]) => (g: number) => boolean,
  eff: readonly (readonly number[])[],
): Omit<Extract<Proof, { kind: "count" }>, "places"> | null {
  const R = p.resources.length;
  const roomFor = (rs: number[], ts: number[]) => {
    const per = (cap: (r: number) => number) => Math.min(...rs.map((r, k) => Math.floor(cap(r) / ts[k])));
    const parts: { place: number; room: number }[] = [];
    const room = aggregateOver(
      p,
      children,
      inX,
      (g) => {
        const x = per((r) => eff[g][r]);
        parts.push({ place: g, room: x });
        return x;
      },
      (g) => per((r) => p.groups[g].capacity[r]),
      direct(rs),
    );
    return { room, parts };
  };
  for (let r = 0; r < R; r++) {
    const sizes = [...new Set(S.map((it) => it.demand[r]).filter((d) => d > 0))].sort((a, b) => b - a);
    for (const t of sizes) {
      const big = S.filter((it) => it.demand[r] >= t);
      const { room, parts } = roomFor([r], [t]);
      if (big.length > room) return { kind: "count", resources: [r], atLeast: [t], items: big, room, parts };
    }
  }
  if (R >= 2) {
    const pairs = [...new Map(S.filter((it) => it.demand[0] > 0 && it.demand[1] > 0).map((it) => [`${it.demand[0]}/${it.demand[1]}`, [it.demand[0], it.demand[1]]])).values()]
      .sort((a, b) => b[0] - a[0] || b[1] - a[1])
      .slice(0, MAX_PAIRS);
    for (const [c, m] of pairs) {
      const big = S.filter((it) => it.demand[0] >= c && it.demand[1] >= m);
      const { room, parts } = roomFor([0, 1], [c, m]);
      if (big.length > room) return { kind: "count", resources: [0, 1], atLeast: [c, m], items: big, room, parts };
    }
  }
  return null;
}

/**
 * The items as 0/1 knapsack pieces: m items of one demand become pieces of 1, 2, 4, ... of them
 * (binary splitting), so that many equal VMs cost log2(m) pieces; each piece as its demand of r in
 * units and its demands of the other resources.
 */
function bundles(items: readonly Item[], r: number, unit: number, others: readonly number[]): [number, number[]][] {
  const same = new Map<string, { du: number; extra: number[]; count: number }>();
  for (const it of items) {
    const du = it.demand[r] / unit;
    const extra = others.map((o) => it.demand[o]);
    const key = `${du}/${extra.join("/")}`;
    const b = same.get(key);
    if (b) b.count++;
    else same.set(key, { du, extra, count: 1 });
  }
  const out: [number, number[]][] = [];
  for (const { du, extra, count } of same.values()) {
    let left = count;
    for (let k = 1; left > 0; k *= 2) {
      const m = Math.min(k, left);
      out.push([du * m, extra.map((x) => x * m)]);
      left -= m;
    }
  }
  return out;
}

/**
 * The forced bound for each ordered pair of resources (r, other): X must take at least what the
 * places outside it cannot hold of r; the items that can only go to X bring theirs; the rest comes
 * from the items that may go to X, cheapest in `other` per unit of r first (a fractional knapsack,
 * a lower bound on any whole choice). Skipped (cheaply) where the outside can hold everything.
 */
function forcedBound(
  p: Packing,
  children: number[][],
  inX: ReadonlySet<number>,
  S: readonly Item[],
  eff: readonly (readonly number[])[],
): Omit<Extract<Proof, { kind: "forced" }>, "places"> | null {
  const R = p.resources.length;
  const places = new Set(p.items.flatMap((it) => it.allowed));
  const outside = new Set([...places].filter((g) => !inX.has(g)));
  const everywhere = () => true;
  for (let r = 0; r < R; r++) {
    const need = p.items.reduce((s, it) => s + it.demand[r], 0);
    if (need === 0) continue;
    const elsewhere = outside.size === 0 ? 0 : aggregateOver(p, children, outside, (g) => eff[g][r], (g) => p.groups[g].capacity[r], everywhere);
    const own = S.reduce((s, it) => s + it.demand[r], 0);
    const atLeast = need - elsewhere;
    if (!(atLeast > own)) continue;
    const optional = p.items.filter((it) => it.demand[r] > 0 && !S.includes(it) && it.allowed.some((g) => inX.has(g)));
    for (let o = 0; o < R; o++) {
      if (o === r) continue;
      const have = aggregateOver(p, children, inX, (g) => eff[g][o], (g) => p.groups[g].capacity[o], everywhere);
      if (!Number.isFinite(have)) continue;
      const ownOther = S.reduce((s, it) => s + it.demand[o], 0);
      let short = atLeast - own;
      let least = 0;
      for (const it of [...optional].sort((a, b) => a.demand[o] / a.demand[r] - b.demand[o] / b.demand[r] || a.key - b.key)) {
        if (short <= 0) break;
        const share = Math.min(1, short / it.demand[r]);
        least += share * it.demand[o];
        short -= share * it.demand[r];
      }
      if (short > 0) least = Infinity;
      // A little room for rounding in the fractions: a proof must never rest on it.
      if (ownOther + least > have * (1 + 1e-9) + 1e-6) return { kind: "forced", resource: r, other: o, items: [...S], need, elsewhere, atLeast, own, ownOther, least, have };
    }
  }
  return null;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
