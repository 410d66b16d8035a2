// The node assignment as one packing problem that the proofs (packing-proofs.ts) and both searches
// (exact-search.ts, local-search.ts) read, so that none of them imports another for its types.
//
// Items (VMs, or pieces of a VM) go to places. Places are groups of a tree: an L3 domain inside a
// node inside a host. An item put in a group is charged to that group and to every group above
// it, and each group limits some resources (a node its free cores, memory and huge pages; a host
// the cores and memory its floating VMs share with its strict ones; an L3 domain its free cores).
// One model covers choosing a host, a node and an L3 domain.

/** What a resource counts: whole cores, memory in KiB, or huge pages of one size. */
export type ResourceKind = "cores" | "domain-cores" | "memory" | "pages";

export interface Resource {
  kind: ResourceKind;
  /** Page size in KiB, for kind "pages". */
  sizeKiB?: number;
}

export interface Group {
  /** How messages name it: "node 1 of h0", "h0", "L3 domain 3 (node 0 of h0)". */
  label: string;
  /** The group above it (-1: none). */
  parent: number;
  /** Per resource; Infinity where this group sets no limit. */
  capacity: readonly number[];
  /** The host and node it stands for (for the caller; -1 where it is not one). */
  host: number;
  node: number;
}

export interface Item {
  /** The caller's key: the VM's request index, or a piece's id. */
  key: number;
  name: string;
  /** Per resource. */
  demand: readonly number[];
  /** The groups it may be put in, ascending. */
  allowed: readonly number[];
}

export interface Packing {
  resources: readonly Resource[];
  groups: readonly Group[];
  items: readonly Item[];
}

/** The group and every group above it, innermost first. */
export function chainOf(p: Packing, g: number): number[] {
  const out: number[] = [];
  for (let x = g; x >= 0; x = p.groups[x].parent) out.push(x);
  return out;
}

/** The item fits group g when nothing else is there (g's capacity and every group's above it). */
export function fitsAlone(p: Packing, item: Item, g: number): boolean {
  for (const h of chainOf(p, g)) {
    const cap = p.groups[h].capacity;
    for (let r = 0; r < p.resources.length; r++) if (item.demand[r] > cap[r]) return false;
  }
  return true;
}

/** The capacity of group g for resource r once the groups above it are taken into account. */
export function effectiveCapacity(p: Packing, g: number, r: number): number {
  let cap = Infinity;
  for (const h of chainOf(p, g)) cap = Math.min(cap, p.groups[h].capacity[r]);
  return cap;
}

/** Groups below g (not g itself), depth first. */
export function descendantsOf(p: Packing, g: number): number[] {
  const children = childrenOf(p);
  const out: number[] = [];
  const walk = (x: number) => {
    for (const c of children[x]) {
      out.push(c);
      walk(c);
    }
  };
  walk(g);
  return out;
}

export function childrenOf(p: Packing): number[][] {
  const children: number[][] = p.groups.map(() => []);
  p.groups.forEach((grp, g) => {
    if (grp.parent >= 0) children[grp.parent].push(g);
  });
  return children;
}

/** Where every item went: the group of each item key. */
export type PlaceOf = Map<number, number>;

/**
 * How far the best complete assignment a search found is from fitting: the groups it overfills and
 * by how much. What a "gave up" message shows, and what it can suggest (a VM that much smaller).
 */
export interface Closest {
  over: { group: number; resource: number; amount: number; items: number[] }[];
  /** The local search's iterations, and the one at which it last came closer. */
  iterations: number;
  lastCloser: number;
}

/** How far the exhaustive search got: the share of its tree it had ruled out (0..1, an estimate). */
export interface ExactProgress {
  steps: number;
  covered: number;
  seconds: number;
}
