// The packing engine on its own (topology/packing.ts and what reads it): on small random packings
// (hosts over nodes, floating items on hosts, items allowed on some nodes only) against brute force
// over every assignment. A counting proof must never claim "impossible" where brute force finds an
// assignment (soundness), and the whole solver must assign exactly when one exists, with an
// assignment that fits. fast-check prints the seed and the shrunk case when this fails.
import fc from "fast-check";
import { solvePacking } from "../../topology/node-assignment";
import { Group, Item, Packing, chainOf } from "../../topology/packing";
import { proveInfeasible } from "../../topology/packing-proofs";

const RESOURCES: Packing["resources"] = [{ kind: "cores" }, { kind: "memory" }, { kind: "pages", sizeKiB: 1048576 }];

interface Spec {
  hosts: { limited: boolean; nodes: { cores: number; memory: number; pages: number }[] }[];
  items: { cores: number; memory: number; pages: number; floating: boolean; allow: boolean[] }[];
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  hosts: fc.array(
    fc.record({
      limited: fc.boolean(),
      nodes: fc.array(fc.record({ cores: fc.integer({ min: 0, max: 9 }), memory: fc.integer({ min: 0, max: 12 }), pages: fc.constantFrom(0, 0, 3, 5, 6) }), { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 2 },
  ),
  items: fc.array(
    fc.record({
      cores: fc.integer({ min: 1, max: 5 }),
      memory: fc.integer({ min: 0, max: 6 }),
      pages: fc.constantFrom(0, 0, 0, 2, 4),
      floating: fc.constantFrom(false, false, false, true),
      allow: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    }),
    { minLength: 1, maxLength: 7 },
  ),
});

/**
 * Nearly fitting specs: each node's cores, memory and pages cut into one to three items (so an
 * assignment exists), then some items grown by a unit or two of one resource, and each item
 * allowed on its own node and a few others at random: near the edge, where the bounds must hold.
 */
const plantedArb: fc.Arbitrary<Spec> = fc
  .record({
    hosts: fc.array(
      fc.record({
        limited: fc.boolean(),
        nodes: fc.array(fc.record({ cores: fc.integer({ min: 1, max: 9 }), memory: fc.integer({ min: 0, max: 12 }), pages: fc.constantFrom(0, 4, 5, 6) }), { minLength: 1, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    cuts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 6, maxLength: 6 }),
    grow: fc.array(fc.constantFrom(0, 0, 0, 1, 2), { minLength: 9, maxLength: 9 }),
    which: fc.array(fc.constantFrom(0, 1, 2), { minLength: 9, maxLength: 9 }),
    allow: fc.array(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), { minLength: 9, maxLength: 9 }),
  })
  .map(({ hosts, cuts, grow, which, allow }) => {
    const items: Spec["items"] = [];
    let node = 0;
    for (const h of hosts)
      for (const n of h.nodes) {
        const k = Math.min(cuts[node % cuts.length], n.cores);
        for (let i = 0; i < k && items.length < 9; i++) {
          const share = (x: number) => Math.floor(x / k) + (i === 0 ? x % k : 0);
          const at = items.length;
          const item = { cores: share(n.cores), memory: share(n.memory), pages: share(n.pages), floating: false, allow: allow[at].map((a, j) => a || j === node) };
          const r = which[at];
          if (r === 0) item.cores += grow[at];
          else if (r === 1) item.memory += grow[at];
          else if (item.pages > 0) item.pages += grow[at];
          items.push(item);
        }
        node++;
      }
    return { hosts: hosts.map((h) => ({ ...h, limited: false })), items };
  });

/** The packing of a spec: a host group above its nodes where the host limits what it holds. */
function packingOf(spec: Spec): Packing {
  const groups: Group[] = [];
  const nodes: number[] = [];
  const hostGroups: number[] = [];
  spec.hosts.forEach((h, hi) => {
    let parent = -1;
    if (h.limited) {
      parent = groups.length;
      const cores = h.nodes.reduce((s, n) => s + n.cores, 0) - 1;
      const memory = h.nodes.reduce((s, n) => s + n.memory, 0) - 2;
      groups.push({ label: `h${hi}`, parent: -1, capacity: [cores, memory, Infinity], host: hi, node: -1 });
      hostGroups.push(parent);
    }
    h.nodes.forEach((n, ni) => {
      nodes.push(groups.length);
      groups.push({ label: `node ${ni} of h${hi}`, parent, capacity: [n.cores, n.memory, n.pages], host: hi, node: ni });
    });
  });
  const items: Item[] = spec.items.map((it, k) => {
    const floating = it.floating && hostGroups.length > 0;
    const allowed = floating ? hostGroups : nodes.filter((_, i) => it.allow[i % it.allow.length]);
    return { key: k, name: `vm-${k}`, demand: [it.cores, it.memory, floating ? 0 : it.pages], allowed: allowed.length > 0 ? allowed : [nodes[k % nodes.length]] };
  });
  return { resources: RESOURCES, groups, items };
}

/** Every assignment of items to allowed groups, the first that fits every group's capacities, or null. */
function bruteForce(p: Packing): Map<number, number> | null {
  const load = p.groups.map(() => p.resources.map(() => 0));
  const at = new Map<number, number>();
  const fits = (it: Item, g: number) => chainOf(p, g).every((h) => it.demand.every((d, r) => load[h][r] + d <= p.groups[h].capacity[r]));
  const put = (it: Item, g: number, sign: number) => chainOf(p, g).forEach((h) => it.demand.forEach((d, r) => (load[h][r] += sign * d)));
  const go = (i: number): boolean => {
    if (i === p.items.length) return true;
    const it = p.items[i];
    for (const g of it.allowed) {
      if (!fits(it, g)) continue;
      put(it, g, 1);
      at.set(it.key, g);
      if (go(i + 1)) return true;
      put(it, g, -1);
    }
    return false;
  };
  return go(0) ? at : null;
}

function valid(p: Packing, placeOf: Map<number, number>): boolean {
  const load = p.groups.map(() => p.resources.map(() => 0));
  const used = new Set<number>();
  for (const it of p.items) {
    const g = placeOf.get(it.key);
    if (g === undefined || !it.allowed.includes(g)) return false;
    for (const h of chainOf(p, g)) {
      used.add(h);
      it.demand.forEach((d, r) => (load[h][r] += d));
    }
  }
  // A group holding items is within every capacity (one already over, e.g. by a locked VM, holds none).
  return [...used].every((g) => load[g].every((x, r) => x <= p.groups[g].capacity[r]));
}

describe("packing proofs and searches against brute force", () => {
  it.each(["alone", "total", "forced", "fill", "count"] as const)("the %s argument on its own never claims impossible where an assignment exists, and does fire", (kind) => {
    let proved = 0;
    fc.assert(
      fc.property(fc.oneof(specArb, plantedArb), (spec) => {
        const p = packingOf(spec);
        const proof = proveInfeasible(p, new Set([kind]));
        if (!proof) return;
        proved++;
        if (bruteForce(p) !== null) throw new Error(`proof "${proof.kind}" for a packing brute force assigns: ${JSON.stringify(spec)}`);
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: each argument proves some of these random packings impossible.
    expect(proved).toBeGreaterThan(10);
  });

  it("together they prove a good share of the impossible packings", () => {
    let proved = 0;
    let infeasible = 0;
    fc.assert(
      fc.property(fc.oneof(specArb, plantedArb), (spec) => {
        const p = packingOf(spec);
        if (bruteForce(p) !== null) return;
        infeasible++;
        if (proveInfeasible(p)) proved++;
      }),
      { numRuns: 2000 },
    );
    expect(infeasible).toBeGreaterThan(300);
    expect(proved).toBeGreaterThan(infeasible / 2);
  });

  it("the solver assigns exactly when brute force can, and its assignment fits", () => {
    fc.assert(
      fc.property(fc.oneof(specArb, plantedArb), (spec) => {
        const p = packingOf(spec);
        const exists = bruteForce(p) !== null;
        const solved = solvePacking(p, { seconds: 60 });
        expect(solved.kind).toBe(exists ? "assigned" : "infeasible");
        if (solved.kind === "assigned") expect(valid(p, solved.placeOf)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it("the local search alone (no exact search, no proofs) finds an assignment for every small packing that has one", () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const p = packingOf(spec);
        if (bruteForce(p) === null) return;
        const solved = solvePacking(p, { seconds: Infinity, exactSteps: 0, localIterations: 20_000, finalSteps: 0, prove: false });
        expect(solved.kind).toBe("assigned");
        if (solved.kind === "assigned") expect(valid(p, solved.placeOf)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });
});
