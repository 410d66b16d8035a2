// The host and node of every VM the request leaves open (strict `node: auto` VMs and floating
// VMs not held by the lock): one packing over the nodes of every host (packing.ts), so that the
// split over the hosts and the nodes within them are one decision. A VM that names its host (or
// is locked on one) may only take that host's nodes; one that names none may take any; a floating
// VM takes a host, charged against the cores and CPU-node memory its strict VMs leave.
import { Core } from "./host-topology";
import { Demand, HostLedger, freeCores, isCpuNode } from "./ledger";
import { SearchLimits, Solved, solvePacking } from "./node-assignment";
import type { NoFit } from "./no-fit";
import { packingNoFit } from "./packing-no-fit";
import { Group, Item, Packing, PlaceOf, Resource, fitsAlone } from "./packing";

/** A VM the host choice places. */
export interface OpenVm {
  demand: Demand;
  /** Indices of the hosts it may go to: the one it names or is locked on, or every host. */
  hosts: number[];
  /** A resized locked VM's old node and cores: tried first, so that it stays where it was. */
  stay?: { host: number; node: number; cores: Core[] };
}

/** Where an open VM goes: a host (index) and, for a strict VM, a node id. */
export type Where = { host: number; node: number | null };

export interface HostChoice {
  where: Map<number, Where>;
  /** The node packing and the assignment it came from (the L3 step starts from it). */
  packing: Packing;
  placeOf: PlaceOf;
}

/** The time left until a deadline, as the limits of one search. */
export type Limit = { deadline: number; now: () => number };

/**
 * The node packing of the open VMs:
 * - resources: cores, ordinary memory (KiB), and huge pages of each size the VMs use;
 * - a group per node with usable cores (its free cores, memory and pages), and above a host's
 *   nodes a group for the host where floating VMs may go or a locked floating VM holds memory (the
 *   host's free cores, and its CPU nodes' free memory less the locked floating VMs');
 * - an item per VM, allowed on the nodes (or, floating, the hosts) of its hosts that keep a
 *   reserved core when its emulator threads are shared; a staying VM only on its old node.
 */
export function nodePackingOf(hosts: readonly HostLedger[], open: readonly OpenVm[], lockedFloatingKiB: readonly number[], withStays: boolean): Packing {
  const sizes = [...new Set(open.flatMap((o) => (o.demand.pageSizeKiB === null ? [] : [o.demand.pageSizeKiB])))].sort((a, b) => a - b);
  const resources: Resource[] = [{ kind: "cores" }, { kind: "memory" }, ...sizes.map((sizeKiB) => ({ kind: "pages" as const, sizeKiB }))];
  const groups: Group[] = [];
  const hostGroup: number[] = [];
  const nodeGroup = new Map<string, number>();
  hosts.forEach((h, hi) => {
    const floating = lockedFloatingKiB[hi] > 0 || open.some((o) => o.demand.vm.numa === "floating" && o.hosts.includes(hi));
    let parent = -1;
    if (floating) {
      const cores = h.ledgers.all().reduce((s, l) => s + freeCores(l), 0);
      const memory = h.ledgers.all().filter(isCpuNode).reduce((s, l) => s + l.memoryKiB, 0) - lockedFloatingKiB[hi];
      parent = groups.length;
      groups.push({ label: h.request.name, parent: -1, capacity: [cores, memory, ...sizes.map(() => Infinity)], host: hi, node: -1 });
    }
    hostGroup.push(parent);
    for (const l of h.ledgers.all()) {
      if (l.budget.usableCores.length === 0) continue;
      nodeGroup.set(`${hi}/${l.budget.node.id}`, groups.length);
      groups.push({
        label: `node ${l.budget.node.id} of ${h.request.name}`,
        parent,
        capacity: [freeCores(l), l.memoryKiB, ...sizes.map((s) => l.pages.get(s) ?? 0)],
        host: hi,
        node: l.budget.node.id,
      });
    }
  });
  const items: Item[] = open.map((o) => {
    const d = o.demand;
    const shared = d.vm.emulator === "shared";
    const demand = [d.totalCores, d.memoryKiB, ...sizes.map((s) => (d.pageSizeKiB === s ? d.pageCount : 0))];
    const itemOn = (allowed: number[]): Item => ({ key: d.index, name: d.vm.name, demand, allowed: allowed.sort((a, b) => a - b) });
    if (d.vm.numa === "floating") return itemOn(o.hosts.filter((hi) => !shared || hosts[hi].ledgers.all().some((l) => l.budget.reservedCores.length > 0)).map((hi) => hostGroup[hi]));
    const stay = withStays && o.stay ? nodeGroup.get(`${o.stay.host}/${o.stay.node}`) : undefined;
    if (stay !== undefined && fitsAlone({ resources, groups, items: [] }, itemOn([stay]), stay)) return itemOn([stay]);
    const allowed: number[] = [];
    for (const hi of o.hosts)
      for (const l of hosts[hi].ledgers.all()) {
        const g = nodeGroup.get(`${hi}/${l.budget.node.id}`);
        if (g !== undefined && (!shared || l.budget.reservedCores.length > 0)) allowed.push(g);
      }
    return itemOn(allowed);
  });
  return { resources, groups, items };
}

/**
 * chooseHosts, in this order:
 * 1. With resized locked VMs that still fit their old node: the packing with each of them held
 *    there, for half of the time left, so that they move only when the others need them to.
 * 2. Else (or when that found nothing) the packing with every open VM free, for the time left.
 * 3. A placement gives each VM its host and node; a proof or running out of time is a NoFit that
 *    says which VMs, nodes and numbers (no-fit.ts).
 */
export function chooseHosts(hosts: readonly HostLedger[], open: readonly OpenVm[], lockedFloatingKiB: readonly number[], limit: Limit, seconds: number): HostChoice | NoFit {
  if (open.length === 0) return { where: new Map(), packing: { resources: [], groups: [], items: [] }, placeOf: new Map() };
  const attempt = (withStays: boolean, share: number): { packing: Packing; solved: Solved } => {
    const packing = nodePackingOf(hosts, open, lockedFloatingKiB, withStays);
    const limits: SearchLimits = { seconds: Math.max(0, (share * (limit.deadline - limit.now())) / 1000), now: limit.now };
    return { packing, solved: solvePacking(packing, limits) };
  };
  const stays = open.filter((o) => o.stay);
  let run = attempt(stays.length > 0, stays.length > 0 ? 0.5 : 1);
  if (run.solved.kind !== "assigned" && stays.length > 0) run = attempt(false, 1);
  const { packing, solved } = run;
  if (solved.kind !== "assigned") return packingNoFit(packing, solved, { hosts, open, seconds });
  const where = new Map<number, Where>();
  for (const o of open) {
    const g = packing.groups[solved.placeOf.get(o.demand.index) as number];
    where.set(o.demand.index, { host: g.host, node: g.node < 0 ? null : g.node });
  }
  return { where, packing, placeOf: solved.placeOf };
}
