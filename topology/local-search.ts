// A fast first answer for large tight packings (packing.ts), where the exact search runs out of
// steps: tabu search over complete assignments, with restarts. It never proves that no assignment
// exists; it returns one that fits, or the closest one it saw.
//
// Why tabu search with move-and-swap: on exact fills a node one core over and another one core
// under are often fixed only by exchanging a 2-core VM for a 1-core one, which single moves (as in
// plain annealing over node assignments, which issue 13 reports placing 11 of 12 tight requests in
// under 3 s) reach only through a worse state. The same moves carry a VM from a node of one host
// to a node of another, and from one L3 domain to another: the tree of groups decides what a move
// changes. bench/plan.bench.ts measures it on the generated families.
import { exactSearch } from "./exact-search";
import { Closest, Group, Item, Packing, PlaceOf, chainOf, fitsAlone } from "./packing";
import { prng } from "./prng";

/** Iterations without a better best assignment before a restart from a perturbed best. */
const RESTART_AFTER = 3000;
/** Iterations without a better best between two repairs by exact search of a few groups. */
const REPAIR_EVERY = 100;
/** The repair's effort: tries (partner groups) and exact-search steps per try. */
const REPAIR_TRIES = 8;
const REPAIR_STEPS = 5000;

export interface LocalLimits {
  /** Stop at this time of `now` (ms). */
  deadline: number;
  now: () => number;
  /** Stop after this many iterations (a count: the same answer on any machine); default none. */
  maxIterations?: number;
  /** Where to start: a place per item key (kept where allowed); the rest best-fit-decreasing. */
  start?: PlaceOf;
}

export interface LocalResult {
  placeOf: PlaceOf | null;
  iterations: number;
  /** The best assignment seen, by how far it overfills which groups (empty when it fits). */
  closest: Closest;
}

/**
 * Search for an assignment of every item to an allowed group where no group is overfull.
 * The state: every item in some group it could hold alone. Its cost: the sum over groups and the
 * resources each limits of how far the group is over, each resource divided by the largest
 * capacity of the lowest groups that limit it (a node's cores, an L3 domain's), so that all
 * weigh alike; 0 is a fit.
 * 1. Start from `start`, then best-fit-decreasing for the rest (by weighted size; the group with
 *    the least weighted room left; where nothing fits, the one it overfills least).
 * 2. Each iteration: pick an overfull group (at random), and among the moves of one of the items
 *    below it to another allowed group and the swaps of one of them with an item of another
 *    group, make the one that lowers the cost most; a move that puts an item back where it was
 *    within the last few iterations is tabu unless it gives a new best. Ties go to the first found
 *    in a random order.
 * 3. Every REPAIR_EVERY iterations without a new best, repair: an overfull group and a few
 *    others give up their items, and the exact search places them again there (repair()).
 *    After RESTART_AFTER iterations without a new best, restart from the best with a few items
 *    moved at random.
 * 4. Stop at cost 0 (found), at `deadline` or after `maxIterations`.
 */
export function localSearch(p: Packing, limits: LocalLimits): LocalResult {
  const V = p.items.length;
  const G = p.groups.length;
  const R = p.resources.length;
  if (V === 0) return { placeOf: new Map(), iterations: 0, closest: { over: [], iterations: 0, lastCloser: 0 } };
  const cap = new Float64Array(G * R);
  p.groups.forEach((grp, g) => grp.capacity.forEach((c, r) => (cap[g * R + r] = c)));
  const chains = p.groups.map((_, g) => Int32Array.from(chainOf(p, g)));
  const limited = p.groups.map((grp) => Int32Array.from(grp.capacity.flatMap((c, r) => (Number.isFinite(c) ? [r] : []))));
  const dem = new Float64Array(V * R);
  p.items.forEach((it, v) => it.demand.forEach((d, r) => (dem[v * R + r] = d)));
  // Weights: 1 / the largest capacity among the lowest groups limiting the resource.
  const weight = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let most = 0;
    p.groups.forEach((grp, g) => {
      if (!Number.isFinite(grp.capacity[r])) return;
      const lower = p.groups.some((o, h) => h !== g && Number.isFinite(o.capacity[r]) && chains[h].includes(g));
      if (!lower) most = Math.max(most, grp.capacity[r]);
    });
    weight[r] = 1 / Math.max(1, most);
  }
  const allowed: Int32Array[] = p.items.map((it) => {
    const ok = it.allowed.filter((g) => fitsAlone(p, it, g));
    return Int32Array.from(ok.length > 0 ? ok : it.allowed);
  });
  if (allowed.some((a) => a.length === 0)) return { placeOf: null, iterations: 0, closest: { over: [], iterations: 0, lastCloser: 0 } };
  const isAllowed = new Uint8Array(V * G);
  allowed.forEach((a, v) => a.forEach((g) => (isAllowed[v * G + g] = 1)));
  // The places below (or at) each group: where the items an overfull group can shed sit.
  const placesUnder: number[][] = p.groups.map(() => []);
  const isPlace = new Uint8Array(G);
  for (const a of allowed) for (const g of a) isPlace[g] = 1;
  for (let g = 0; g < G; g++) if (isPlace[g]) for (const h of chains[g]) placesUnder[h].push(g);

  const rand = prng(0x5eed);
  const load = new Float64Array(G * R);
  const at = new Int32Array(V).fill(-1);
  const members: number[][] = Array.from({ length: G }, () => []);
  // The cost the moves are chosen by weighs each group's overflow of each resource by a penalty
  // that grows while it stays violated at a local minimum (the breakout method): a constraint the
  // search keeps failing (an exact fill of one node's huge pages) soon outweighs the others, so
  // moves that fix it at their expense become the best ones. The true cost (penalties of 1)
  // decides what is best and when to stop.
  const penalty = new Float64Array(G * R).fill(1);
  const overNow = new Float64Array(G);
  const trueNow = new Float64Array(G);

  /** How far group g is over with item `plus` added and item `minus` taken away (-1: none), with penalties. */
  const over = (g: number, plus: number, minus: number): number => {
    let sum = 0;
    const lim = limited[g];
    for (let k = 0; k < lim.length; k++) {
      const r = lim[k];
      let x = load[g * R + r] - cap[g * R + r];
      if (plus >= 0) x += dem[plus * R + r];
      if (minus >= 0) x -= dem[minus * R + r];
      if (x > 0) sum += x * weight[r] * penalty[g * R + r];
    }
    return sum;
  };
  const trueOver = (g: number): number => {
    let sum = 0;
    const lim = limited[g];
    for (let k = 0; k < lim.length; k++) {
      const x = load[g * R + lim[k]] - cap[g * R + lim[k]];
      if (x > 0) sum += x * weight[lim[k]];
    }
    return sum;
  };
  const put = (v: number, g: number, sign: 1 | -1) => {
    const chain = chains[g];
    for (let k = 0; k < chain.length; k++) {
      const h = chain[k];
      for (let r = 0; r < R; r++) load[h * R + r] += sign * dem[v * R + r];
    }
    if (sign === 1) {
      members[g].push(v);
      at[v] = g;
    } else {
      const m = members[g];
      m.splice(m.indexOf(v), 1);
    }
    for (let k = 0; k < chain.length; k++) {
      overNow[chain[k]] = over(chain[k], -1, -1);
      trueNow[chain[k]] = trueOver(chain[k]);
    }
  };
  const inChain = (chain: Int32Array, g: number): boolean => {
    for (let k = 0; k < chain.length; k++) if (chain[k] === g) return true;
    return false;
  };
  const totalCost = () => {
    let c = 0;
    for (let g = 0; g < G; g++) c += overNow[g];
    return c;
  };
  const trueCost = () => {
    let c = 0;
    for (let g = 0; g < G; g++) c += trueNow[g];
    return c;
  };

  // 1. The start, then best fit decreasing by weighted size, overfilling the least where nothing fits.
  const size = (v: number) => {
    let s = 0;
    for (let r = 0; r < R; r++) s += dem[v * R + r] * weight[r];
    return s;
  };
  const rest: number[] = [];
  p.items.forEach((it, v) => {
    const g = limits.start?.get(it.key);
    if (g !== undefined && isAllowed[v * G + g]) put(v, g, 1);
    else rest.push(v);
  });
  rest.sort((a, b) => size(b) - size(a) || p.items[a].key - p.items[b].key);
  for (const v of rest) {
    let best = -1;
    let bestScore = Infinity;
    for (const g of allowed[v]) {
      let added = 0;
      let room = 0;
      for (const h of chains[g]) {
        added += over(h, v, -1) - overNow[h];
        for (const r of limited[h]) room += (cap[h * R + r] - load[h * R + r] - dem[v * R + r]) * weight[r];
      }
      const score = added > 0 ? 1e6 + added : room;
      if (score < bestScore) {
        bestScore = score;
        best = g;
      }
    }
    put(v, best, 1);
  }

  // Depth of each group (0: a top group), and the groups below each (itself included).
  const depth = p.groups.map((_, g) => chains[g].length - 1);
  const under: number[][] = p.groups.map(() => []);
  for (let g = 0; g < G; g++) for (const h of chains[g]) under[h].push(g);

  /**
   * A large-neighbourhood step: an overfull group and partners of its depth give up all their
   * items, and the exact search places those items in those groups again, within REPAIR_STEPS
   * steps; the groups above them keep what the other items use. The partners: first those with the
   * most room in what the chosen groups lack together, until they lack nothing; on later tries one
   * more at random. True when it found a placement (which leaves those groups within capacity).
   */
  const repair = (): boolean => {
    const overfull: number[] = [];
    for (let g = 0; g < G; g++) if (trueNow[g] > 1e-12 && placesUnder[g].length > 0) overfull.push(g);
    if (overfull.length === 0) return false;
    const g0 = overfull[Math.floor(rand() * overfull.length)];
    const peers: number[] = [];
    for (let g = 0; g < G; g++) if (g !== g0 && depth[g] === depth[g0] && placesUnder[g].length > 0) peers.push(g);
    const lacking = (groups: number[]): number => {
      // The resource the groups together lack most of (weighted), or -1.
      let worst = -1;
      let most = 0;
      for (const r of limited[g0]) {
        let short = 0;
        for (const g of groups) short += load[g * R + r] - cap[g * R + r];
        if (short * weight[r] > most) {
          most = short * weight[r];
          worst = r;
        }
      }
      return worst;
    };
    const base = [g0];
    for (let r = lacking(base); r >= 0 && base.length < 4; r = lacking(base)) {
      const next = peers.filter((g) => !base.includes(g)).sort((a, b) => cap[b * R + r] - load[b * R + r] - (cap[a * R + r] - load[a * R + r]) || a - b)[0];
      if (next === undefined) break;
      base.push(next);
    }
    if (base.length === 1 && peers.length > 0) base.push(peers[Math.floor(rand() * peers.length)]);
    for (let t = 0; t < REPAIR_TRIES; t++) {
      const chosen = [...base];
      const others = peers.filter((g) => !chosen.includes(g));
      if (t > 0 && others.length > 0) chosen.push(others[Math.floor(rand() * others.length)]);
      const inside = new Set(chosen.flatMap((g) => under[g]));
      const items = [...inside].flatMap((g) => members[g]);
      // The sub-packing: the chosen groups' trees, and the groups above them less what other items use.
      const keep = [...new Set([...inside, ...chosen.flatMap((g) => Array.from(chains[g]))])].sort((a, b) => a - b);
      const index = new Map(keep.map((g, i) => [g, i]));
      const used = new Float64Array(keep.length * R);
      for (const v of items) for (const h of chains[at[v]]) for (let r = 0; r < R; r++) used[(index.get(h) as number) * R + r] += dem[v * R + r];
      const groups: Group[] = keep.map((g, i) => ({
        ...p.groups[g],
        parent: index.get(p.groups[g].parent) ?? -1,
        capacity: p.groups[g].capacity.map((c, r) => (inside.has(g) ? c : c - (load[g * R + r] - used[i * R + r]))),
      }));
      const subItems: Item[] = items.map((v) => ({ ...p.items[v], key: v, allowed: Array.from(allowed[v]).filter((g) => inside.has(g)).map((g) => index.get(g) as number) }));
      const found = exactSearch({ resources: p.resources, groups, items: subItems }, REPAIR_STEPS, Infinity, limits.now);
      if (found.kind !== "assigned") continue;
      for (const v of items) put(v, at[v], -1);
      for (const v of items) put(v, keep[found.placeOf.get(v) as number], 1);
      return true;
    }
    return false;
  };

  const EPS = 1e-12;
  let cost = totalCost();
  let actual = trueCost();
  let bestCost = actual;
  // The best penalised cost since the penalties last changed: what a tabu move must beat.
  let bestPenalised = cost;
  let bestAt = Int32Array.from(at);
  const tabuUntil = new Int32Array(V * G);
  let iterations = 0;
  let lastCloser = 0;
  let sinceBest = 0;
  const maxIterations = limits.maxIterations ?? Infinity;
  while (actual > EPS) {
    if (iterations >= maxIterations || ((iterations & 63) === 0 && limits.now() > limits.deadline)) break;
    iterations++;
    const overfull: number[] = [];
    for (let g = 0; g < G; g++) if (trueNow[g] > EPS) overfull.push(g);
    const source = overfull[Math.floor(rand() * overfull.length)];
    let bestDelta = Infinity;
    let move: { v: number; to: number; w: number } | null = null;
    let ties = 0;
    const consider = (delta: number, v: number, to: number, w: number, tabu: boolean) => {
      if (tabu && cost + delta >= bestPenalised - EPS) return;
      if (delta < bestDelta - EPS) {
        bestDelta = delta;
        move = { v, to, w };
        ties = 1;
      } else if (delta < bestDelta + EPS && rand() * ++ties < 1) move = { v, to, w };
    };
    for (const a of placesUnder[source]) {
      const ca = chains[a];
      for (const v of members[a]) {
        for (const b of allowed[v]) {
          if (b === a) continue;
          const cb = chains[b];
          let delta = 0;
          for (let k = 0; k < ca.length; k++) if (!inChain(cb, ca[k])) delta += over(ca[k], -1, v) - overNow[ca[k]];
          for (let k = 0; k < cb.length; k++) if (!inChain(ca, cb[k])) delta += over(cb[k], v, -1) - overNow[cb[k]];
          consider(delta, v, b, -1, tabuUntil[v * G + b] > iterations);
          for (const w of members[b]) {
            if (!isAllowed[w * G + a]) continue;
            let swap = 0;
            for (let k = 0; k < ca.length; k++) if (!inChain(cb, ca[k])) swap += over(ca[k], w, v) - overNow[ca[k]];
            for (let k = 0; k < cb.length; k++) if (!inChain(ca, cb[k])) swap += over(cb[k], v, w) - overNow[cb[k]];
            consider(swap, v, b, w, tabuUntil[v * G + b] > iterations || tabuUntil[w * G + a] > iterations);
          }
        }
      }
    }
    if (bestDelta >= -EPS) {
      // A local minimum: every group still over gets a heavier penalty for what it is over by.
      for (let g = 0; g < G; g++) {
        if (trueNow[g] <= EPS) continue;
        for (const r of limited[g]) if (load[g * R + r] > cap[g * R + r]) penalty[g * R + r] += 1;
        overNow[g] = over(g, -1, -1);
      }
      cost = totalCost();
      bestPenalised = cost;
    }
    if (move !== null) {
      const { v, to, w } = move as { v: number; to: number; w: number };
      const from = at[v];
      const tenure = 5 + Math.floor(rand() * 10);
      put(v, from, -1);
      put(v, to, 1);
      tabuUntil[v * G + from] = iterations + tenure;
      if (w >= 0) {
        put(w, to, -1);
        put(w, from, 1);
        tabuUntil[w * G + to] = iterations + tenure;
      }
      cost = totalCost();
      actual = trueCost();
      bestPenalised = Math.min(bestPenalised, cost);
    }
    if (actual > EPS && sinceBest > 0 && sinceBest % REPAIR_EVERY === 0 && repair()) {
      cost = totalCost();
      actual = trueCost();
      bestPenalised = Math.min(bestPenalised, cost);
    }
    if (actual < bestCost - EPS) {
      bestCost = actual;
      bestAt = Int32Array.from(at);
      lastCloser = iterations;
      sinceBest = 0;
    } else if (++sinceBest > RESTART_AFTER || move === null) {
      // 3. Restart: back to the best, penalties back to 1, then a few items to random allowed groups.
      penalty.fill(1);
      for (let v = 0; v < V; v++) put(v, at[v], -1);
      for (let v = 0; v < V; v++) put(v, bestAt[v], 1);
      const kicks = 1 + Math.floor(rand() * Math.max(1, V / 10));
      for (let k = 0; k < kicks; k++) {
        const v = Math.floor(rand() * V);
        const to = allowed[v][Math.floor(rand() * allowed[v].length)];
        put(v, at[v], -1);
        put(v, to, 1);
      }
      tabuUntil.fill(0);
      cost = totalCost();
      actual = trueCost();
      bestPenalised = cost;
      sinceBest = 0;
    }
  }
  if (actual <= EPS) {
    const placeOf: PlaceOf = new Map();
    for (let v = 0; v < V; v++) placeOf.set(p.items[v].key, at[v]);
    return { placeOf, iterations, closest: { over: [], iterations, lastCloser } };
  }
  return { placeOf: null, iterations, closest: { over: closestOf(p, bestAt), iterations, lastCloser } };
}

/** The groups the assignment overfills, by resource and amount, with the items below them. */
function closestOf(p: Packing, at: Int32Array): Closest["over"] {
  const R = p.resources.length;
  const load = p.groups.map(() => new Array<number>(R).fill(0));
  const under = p.groups.map(() => [] as number[]);
  p.items.forEach((it, v) => {
    for (const h of chainOf(p, at[v])) {
      it.demand.forEach((d, r) => (load[h][r] += d));
      under[h].push(it.key);
    }
  });
  const over: Closest["over"] = [];
  p.groups.forEach((grp, g) => {
    for (let r = 0; r < R; r++) if (load[g][r] > grp.capacity[r]) over.push({ group: g, resource: r, amount: load[g][r] - grp.capacity[r], items: under[g] });
  });
  return over;
}
