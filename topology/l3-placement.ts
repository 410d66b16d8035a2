// L3 domains as the bins: on chiplet hosts (a node holds several L3 caches) a VM should span no
// more domains than ceil(its cores / domain size) wherever such a placement exists
// (docs/placement-rules.md). Once nodes are chosen, core selection packs each node's VMs into its
// domains (packCores); where that still splits a VM needlessly, this step packs again with the
// domains as places, memory and huge pages staying one amount per node (a node group above its
// domains), so that VMs may move to another node or host to get a domain of their own.
import type { Core } from "./host-topology";
import { Demand, HostLedger, Ledger, freeCores, isCpuNode } from "./ledger";
import { groupKey } from "./l3-domains";
import { solvePacking } from "./node-assignment";
import { Group, Item, Packing, PlaceOf, Resource } from "./packing";

/** A strict VM whose node is decided and whose cores are not chosen yet. */
export interface Unpinned {
  demand: Demand;
  host: number;
  node: number;
  /** The hosts it may move to (a VM the planner placed); null: it keeps its node (an explicit node). */
  hosts: number[] | null;
}

/** Where a VM's vCPUs go: whole domains (keys), then the domain of the rest (null: none, or any core of the node). */
export interface InDomains {
  host: number;
  node: number;
  whole: string[];
  rest: string | null;
}

/** Counted effort (the same request packs the same way on any machine). */
const DOMAIN_EFFORT = { exactSteps: 20_000, localIterations: 20_000 };

/** A node's free cores by L3 domain (in ascending order of their first core), and its domain size. */
export function domainsOf(l: Ledger): { domains: Map<string, Core[]>; size: number } {
  const domains = new Map<string, Core[]>();
  for (const c of l.free) domains.set(groupKey(c), [...(domains.get(groupKey(c)) ?? []), c]);
  const sizes = new Map<string, number>();
  for (const c of l.budget.node.cores) sizes.set(groupKey(c), (sizes.get(groupKey(c)) ?? 0) + 1);
  return { domains, size: Math.max(0, ...sizes.values()) };
}

/**
 * A domain for every VM of `vms` (all promised on their nodes in the ledgers), or null when none
 * was found within the effort:
 * 1. A VM larger than its node's domain size s keeps its node and takes floor(cores / s) whole
 *    free domains there (the lowest first); the rest of its vCPUs is an item like a small VM.
 *    Without enough whole free domains it is left to take any cores of its node.
 * 2. The packing: an L3 domain per place (its free cores), below a group per node (its free
 *    cores, memory and pages, with these VMs' promises given back), below a group per host where
 *    floating VMs take their share; each VM on the domains of its node (explicit node), or of every
 *    node of its hosts it fits (a VM the planner placed), its dedicated emulator core anywhere on
 *    the node.
 * 3. The search starts from the nodes chosen before (best fit within each node).
 */
export function placeInDomains(
  hosts: readonly HostLedger[],
  vms: readonly Unpinned[],
  floating: readonly { demand: Demand; host: number }[],
  lockedFloatingKiB: readonly number[],
): Map<number, InDomains> | null {
  const info = hosts.map((h) => new Map(h.ledgers.all().map((l) => [l.budget.node.id, domainsOf(l)])));
  const sizes = [...new Set(vms.flatMap((v) => (v.demand.pageSizeKiB === null ? [] : [v.demand.pageSizeKiB])))].sort((a, b) => a - b);
  const resources: Resource[] = [{ kind: "domain-cores" }, { kind: "cores" }, { kind: "memory" }, ...sizes.map((sizeKiB) => ({ kind: "pages" as const, sizeKiB }))];
  const R = resources.length;
  const none = () => new Array<number>(R).fill(Infinity);

  // 1. Whole domains for the large VMs, on their own node.
  const whole = new Map<number, string[]>();
  const unaligned = new Set<number>();
  const used = new Set<string>();
  for (const v of [...vms].sort((a, b) => a.demand.index - b.demand.index)) {
    const { domains, size } = info[v.host].get(v.node) as ReturnType<typeof domainsOf>;
    if (v.demand.cores <= size) continue;
    const k = Math.floor(v.demand.cores / size);
    const full = [...domains].filter(([key, cores]) => cores.length === size && !used.has(`${v.host}/${v.node}/${key}`)).slice(0, k);
    if (full.length < k) {
      unaligned.add(v.demand.index);
      continue;
    }
    for (const [key] of full) used.add(`${v.host}/${v.node}/${key}`);
    whole.set(v.demand.index, full.map(([key]) => key));
  }

  // 2. Groups: host (where floating VMs are), node, domain.
  const groups: Group[] = [];
  const nodeGroup = new Map<string, number>();
  const domainGroups = new Map<string, { group: number; key: string }[]>();
  hosts.forEach((h, hi) => {
    const hasFloating = lockedFloatingKiB[hi] > 0 || floating.some((f) => f.host === hi);
    let parent = -1;
    if (hasFloating) {
      parent = groups.length;
      groups.push({ label: h.request.name, parent: -1, capacity: none(), host: hi, node: -1 });
    }
    let hostCores = 0;
    let hostMemory = -lockedFloatingKiB[hi];
    for (const l of h.ledgers.all()) {
      if (l.budget.usableCores.length === 0) continue;
      const id = l.budget.node.id;
      const here = vms.filter((v) => v.host === hi && v.node === id);
      const { domains } = info[hi].get(id) as ReturnType<typeof domainsOf>;
      const wholeCores = [...domains].filter(([key]) => used.has(`${hi}/${id}/${key}`)).reduce((s, [, cores]) => s + cores.length, 0);
      const cap = none();
      cap[1] = freeCores(l) + here.reduce((s, v) => s + v.demand.totalCores, 0) - wholeCores;
      cap[2] = l.memoryKiB + here.reduce((s, v) => s + v.demand.memoryKiB, 0);
      sizes.forEach((size, k) => (cap[3 + k] = (l.pages.get(size) ?? 0) + here.reduce((s, v) => s + (v.demand.pageSizeKiB === size ? v.demand.pageCount : 0), 0)));
      hostCores += cap[1];
      if (isCpuNode(l)) hostMemory += cap[2];
      const ng = groups.length;
      nodeGroup.set(`${hi}/${id}`, ng);
      groups.push({ label: `node ${id} of ${h.request.name}`, parent, capacity: cap, host: hi, node: id });
      const list: { group: number; key: string }[] = [];
      for (const [key, cores] of domains) {
        if (used.has(`${hi}/${id}/${key}`)) continue;
        const dc = none();
        dc[0] = cores.length;
        list.push({ group: groups.length, key });
        groups.push({ label: `L3 domain ${key} of node ${id} of ${h.request.name}`, parent: ng, capacity: dc, host: hi, node: id });
      }
      domainGroups.set(`${hi}/${id}`, list);
    }
    if (parent >= 0) {
      const cap = none();
      cap[1] = hostCores;
      cap[2] = hostMemory;
      groups[parent] = { ...groups[parent], capacity: cap };
    }
  });

  // Items: each VM's vCPUs that must share a domain (domain-cores), all its cores, memory, pages.
  const items: Item[] = [];
  const demandOf = (d: Demand, inDomain: number) => [inDomain, inDomain + (d.totalCores - d.cores), d.memoryKiB, ...sizes.map((s) => (d.pageSizeKiB === s ? d.pageCount : 0))];
  for (const v of vms) {
    const d = v.demand;
    const sizeOn = (hi: number, node: number) => (info[hi].get(node) as ReturnType<typeof domainsOf>).size;
    if (unaligned.has(d.index) || whole.has(d.index)) {
      const k = whole.get(d.index)?.length ?? 0;
      const rest = unaligned.has(d.index) ? 0 : d.cores - k * sizeOn(v.host, v.node);
      const demand = unaligned.has(d.index) ? [0, d.totalCores, ...demandOf(d, 0).slice(2)] : demandOf(d, rest);
      const allowed = rest > 0 ? (domainGroups.get(`${v.host}/${v.node}`) ?? []).map((x) => x.group) : [nodeGroup.get(`${v.host}/${v.node}`) as number];
      items.push({ key: d.index, name: d.vm.name, demand, allowed });
      continue;
    }
    const shared = d.vm.emulator === "shared";
    const nodes: [number, Ledger][] = v.hosts === null ? [[v.host, hosts[v.host].ledgers.of(v.node)]] : v.hosts.flatMap((hi) => hosts[hi].ledgers.all().map((l): [number, Ledger] => [hi, l]));
    const allowed = nodes
      .filter(([hi, l]) => (!shared || l.budget.reservedCores.length > 0) && nodeGroup.has(`${hi}/${l.budget.node.id}`) && d.cores <= sizeOn(hi, l.budget.node.id))
      .flatMap(([hi, l]) => (domainGroups.get(`${hi}/${l.budget.node.id}`) ?? []).map((x) => x.group))
      .sort((a, b) => a - b);
    items.push({ key: d.index, name: d.vm.name, demand: demandOf(d, d.cores), allowed });
  }
  for (const f of floating) {
    const parent = groups.findIndex((g) => g.host === f.host && g.node < 0);
    items.push({ key: f.demand.index, name: f.demand.vm.name, demand: [0, f.demand.totalCores, f.demand.memoryKiB, ...sizes.map(() => 0)], allowed: [parent] });
  }
  if (items.some((it) => it.allowed.length === 0)) return null;
  const packing: Packing = { resources, groups, items };

  // 3. Start: each VM in a domain of its node, largest first, best fit.
  const start: PlaceOf = new Map();
  const left = new Map(groups.map((g, i) => [i, g.capacity[0]]));
  for (const it of [...items].sort((a, b) => b.demand[0] - a.demand[0] || a.key - b.key)) {
    const v = vms.find((x) => x.demand.index === it.key);
    if (!v) continue;
    const mine = it.allowed.filter((g) => groups[g].host === v.host && groups[g].node === v.node && (left.get(g) ?? 0) >= it.demand[0]);
    const best = mine.sort((a, b) => (left.get(a) ?? 0) - (left.get(b) ?? 0) || a - b)[0];
    if (best === undefined) continue;
    start.set(it.key, best);
    left.set(best, (left.get(best) ?? 0) - it.demand[0]);
  }
  const solved = solvePacking(packing, { seconds: Infinity, exactSteps: DOMAIN_EFFORT.exactSteps, localIterations: DOMAIN_EFFORT.localIterations, finalSteps: 0, prove: false, start });
  if (solved.kind !== "assigned") return null;
  const out = new Map<number, InDomains>();
  for (const v of vms) {
    const g = groups[solved.placeOf.get(v.demand.index) as number];
    const key = [...domainGroups.values()].flat().find((x) => x.group === solved.placeOf.get(v.demand.index))?.key ?? null;
    out.set(v.demand.index, { host: g.host, node: g.node, whole: whole.get(v.demand.index) ?? [], rest: key });
  }
  return out;
}
