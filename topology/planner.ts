// request + host topologies (+ lock) -> Placement, or an explanation of what does not fit.
// The rules it obeys are docs/placement-rules.md; invariants.ts checks them on the result.
import type { Core, HostTopology } from "./host-topology";
import { OpenVm, chooseHosts } from "./host-choice";
import { Demand, HostLedger, demandOf, hostLedgerOf, promise, unpromise } from "./ledger";
import { placeInDomains, domainsOf, type Unpinned } from "./l3-placement";
import { claimLocked, coresOfPins, lockMatches } from "./lock-claims";
import { PlacementLock } from "./lock";
import { DEFAULT_SEARCH_SECONDS } from "./node-assignment";
import { NoFit, checkFloating, whyNot } from "./no-fit";
import { Chosen, Decided, HostResult, domainCores, needlessSplits, planHost, plainCores, takePreferred } from "./plan-host";
import { HostPlan, Plan, VmPlacement } from "./placement";
import { PlacementRequest } from "./request";

export type { NoFit } from "./no-fit";

export interface PlanInput {
  request: PlacementRequest;
  /** The parsed capture of every host of the request, by host name. */
  topologies: ReadonlyMap<string, HostTopology>;
  /** Earlier placements: VMs whose request did not change keep exactly these threads. */
  lock?: PlacementLock;
  /**
   * Seconds the host and node choice may search for the whole request (all hosts), default
   * DEFAULT_SEARCH_SECONDS (3). Past it the planner gives up (a NoFit of kind "gave-up") rather
   * than say "does not fit" without proof. Requests that fit easily take milliseconds whatever
   * the limit.
   */
  searchSeconds?: number;
  /** A clock in milliseconds for the limit (tests); default performance.now. */
  now?: () => number;
}

/**
 * "no-fit" lists every problem; when any of them is proved (kind "does-not-fit") those come
 * first in request order and the gave-up ones follow, so problems[0].kind tells the caller whether
 * the request surely does not fit.
 */
export type PlanOutcome = { kind: "placed"; plan: Plan } | { kind: "no-fit"; problems: NoFit[] };

/** A VM still to be placed after the lock: its host (index) when the request decides it. */
interface Pending {
  demand: Demand;
  host: number | undefined;
  prefer: { node: number | null; cores: Core[] } | null;
}

/**
 * planPlacement, over one ledger per host:
 * 1. Budgets per node (the reserve taken out), and the host each VM must go to: the one it names,
 *    the only one, or (naming none) the one the lock holds it on.
 * 2. Locked VMs whose request is unchanged keep their exact threads (lock-claims.ts); a resized
 *    one remembers its old node and cores.
 * 3. VMs with an explicit node take room there, in request order; a VM that does not fit its node
 *    is refused here, naming the node and what would fit.
 * 4. Floating VMs on a host whose strict VMs are all known need the cores and memory those leave
 *    in total: refused here if they lack them (a host-less VM is the host choice's to place).
 * 5. chooseHosts (host-choice.ts): a host and node for every other VM, one packing over all hosts'
 *    nodes: proofs, exact search, local search, within the time limit.
 * 6. Cores: resized locked VMs keep their old cores where they can (takePreferred); each node's
 *    VMs are packed into its L3 domains (plainCores); where that splits a VM needlessly, the L3
 *    step may move VMs between nodes and hosts to avoid it (placeInDomains).
 * 7. planHost (plan-host.ts) for each host: cores taken, floating VMs' cores, placements.
 */
export function planPlacement(input: PlanInput): PlanOutcome {
  const { request } = input;
  const now = input.now ?? (() => performance.now());
  const seconds = input.searchSeconds ?? DEFAULT_SEARCH_SECONDS;
  const limit = { deadline: now() + seconds * 1000, now };

  // 1. Ledgers and the hosts the request decides.
  const hosts: HostLedger[] = request.hosts.map((h) => {
    const topology = input.topologies.get(h.name);
    if (!topology) throw new Error(`no topology was given for host '${h.name}'`);
    return hostLedgerOf(h, topology);
  });
  const hostIndex = new Map(request.hosts.map((h, i) => [h.name, i]));
  const lockEntry = new Map((input.lock?.vms ?? []).map((l) => [l.name, l]));
  const hostOfVm = (i: number): number | undefined => {
    const vm = request.vms[i];
    if (vm.host !== undefined) return hostIndex.get(vm.host);
    if (hosts.length === 1) return 0;
    return hostIndex.get(lockEntry.get(vm.name)?.host ?? "");
  };

  // 2. The lock.
  const problems: NoFit[] = [];
  const decided: (Decided & { host: number })[] = [];
  const lockedFloating: Demand[][] = hosts.map(() => []);
  const pending: Pending[] = [];
  request.vms.forEach((vm, i) => {
    const demand = demandOf(vm, i);
    const hi = hostOfVm(i);
    const locked = hi !== undefined ? lockEntry.get(vm.name) : undefined;
    if (hi === undefined || !locked || locked.host !== hosts[hi].request.name) {
      pending.push({ demand, host: hi, prefer: null });
      return;
    }
    const h = hosts[hi];
    const T = h.topology.threadsPerCore;
    if (!lockMatches(locked, demand, T)) {
      pending.push({ demand, host: hi, prefer: { node: locked.node, cores: coresOfPins(locked.vcpupin, h.ledgers, T) } });
      return;
    }
    const name = h.request.name;
    // A lock holds pins, not the reserve they lean on: shared emulator threads need a reserved
    // core on the VM's node (or, floating, on some node) under today's reserve.
    const reserveNodes = locked.node === null ? h.ledgers.all() : [h.ledgers.find(locked.node)].filter((l) => l !== undefined);
    if (vm.emulator === "shared" && !reserveNodes.some((l) => l.budget.reservedCores.length > 0)) {
      const where = locked.node === null ? `no node of ${name} keeps reserved cores` : `node ${locked.node} of ${name} keeps no reserved cores`;
      problems.push({ kind: "does-not-fit", vm: vm.name, vmIndex: i, host: name, field: "emulator", message: `${vm.name} (locked): ${where} (reserve.coresPerNode = ${h.request.reserve.coresPerNode}), so its shared emulator threads have nowhere to run; reserve a core or use emulator: dedicated` });
      return;
    }
    const claimed = claimLocked(locked, demand, h.ledgers, T);
    if (typeof claimed === "string") {
      problems.push({ kind: "does-not-fit", vm: vm.name, vmIndex: i, host: name, field: "lock", message: `locked placement of ${vm.name} no longer fits ${name}: ${claimed}; remove it from the lock to place it anew` });
      return;
    }
    decided.push({ ...claimed, preferCores: [], host: hi });
    if (claimed.node === null) lockedFloating[hi].push(demand);
  });

  // 3. Explicit nodes, in request order.
  const open: OpenVm[] = [];
  for (const p of pending) {
    const { demand } = p;
    if (demand.vm.numa === "floating" || demand.vm.node === "auto") {
      const stay = p.host !== undefined && p.prefer?.node != null ? { host: p.host, node: p.prefer.node, cores: p.prefer.cores } : undefined;
      open.push({ demand, hosts: p.host !== undefined ? [p.host] : hosts.map((_, hi) => hi), stay });
      continue;
    }
    const h = hosts[p.host as number];
    const name = h.request.name;
    const ledger = h.ledgers.find(demand.vm.node);
    if (!ledger) {
      problems.push({ kind: "does-not-fit", vm: demand.vm.name, vmIndex: demand.index, host: name, field: "node", message: `${name} has no node ${demand.vm.node} (its nodes: ${h.ledgers.ids().join(", ")})` });
      continue;
    }
    const why = whyNot(ledger, demand, name, h.ledgers);
    if (why) {
      problems.push({ kind: "does-not-fit", vm: demand.vm.name, vmIndex: demand.index, host: name, ...why });
      continue;
    }
    promise(ledger, demand);
    decided.push({ demand, node: demand.vm.node, preferCores: p.prefer?.node === demand.vm.node ? p.prefer.cores : [], host: p.host as number });
  }
  if (problems.length > 0) return noFit(problems);

  // 4. Floating VMs where every strict VM's host is known: the totals decide.
  if (!open.some((o) => o.demand.vm.numa === "strict" && o.hosts.length > 1)) {
    for (const [hi, h] of hosts.entries()) {
      const here = open.filter((o) => o.hosts.length === 1 && o.hosts[0] === hi);
      const floating = here.filter((o) => o.demand.vm.numa === "floating").map((o) => o.demand);
      const strict = here.filter((o) => o.demand.vm.numa === "strict").map((o) => o.demand);
      const problem = checkFloating(floating, lockedFloating[hi], h.ledgers, h.request.name, strict);
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) return noFit(problems);
  }

  // 5. Hosts and nodes for the rest.
  const lockedFloatingKiB = lockedFloating.map((list) => list.reduce((s, d) => s + d.memoryKiB, 0));
  const choice = chooseHosts(hosts, open, lockedFloatingKiB, limit, seconds);
  if (!("where" in choice)) return noFit([choice]);
  const openOf = new Map(open.map((o) => [o.demand.index, o]));
  const preferOf = new Map(pending.map((p) => [p.demand.index, p.prefer]));
  for (const o of open) {
    const where = choice.where.get(o.demand.index) as { host: number; node: number | null };
    const samePlace = o.stay !== undefined && o.stay.host === where.host && o.stay.node === where.node;
    // A floating VM keeps what it can of its old cores; a strict one only on its old node.
    const prefer = where.node === null ? (preferOf.get(o.demand.index)?.cores ?? []) : samePlace ? (o.stay?.cores ?? []) : [];
    if (where.node !== null) promise(hosts[where.host].ledgers.of(where.node), o.demand);
    decided.push({ demand: o.demand, node: where.node, preferCores: prefer, host: where.host });
  }

  // 6. Cores.
  hosts.forEach((h, hi) => takePreferred(h, decided.filter((d) => d.host === hi)));
  const chosen = chooseCoresEverywhere(hosts, decided, openOf, lockedFloating);

  // 7. Each host.
  const placements = new Map<number, VmPlacement>();
  const hostPlans: HostPlan[] = [];
  hosts.forEach((h, hi) => {
    const result: HostResult = planHost(h, decided.filter((d) => d.host === hi), chosen);
    for (const p of result.placements) placements.set(p.index, p.placement);
    hostPlans.push(result.hostPlan);
  });
  return { kind: "placed", plan: { hosts: hostPlans, vms: request.vms.map((_, i) => placements.get(i) as VmPlacement) } };
}

function noFit(problems: NoFit[]): PlanOutcome {
  const proved = (p: NoFit) => (p.kind === "does-not-fit" ? 0 : 1);
  return { kind: "no-fit", problems: problems.sort((a, b) => proved(a) - proved(b) || a.vmIndex - b.vmIndex) };
}

/**
 * Step 6's core choice for every strict VM without cores: each node's VMs packed into its L3
 * domains as they stand (plainCores); where that leaves a VM on more domains than its size needs
 * and the L3 step finds a placement that leaves fewer such VMs, the L3 step's (its VMs re-promised
 * on the nodes it chose).
 */
function chooseCoresEverywhere(
  hosts: readonly HostLedger[],
  decided: (Decided & { host: number })[],
  openOf: ReadonlyMap<number, OpenVm>,
  lockedFloating: readonly Demand[][],
): Map<number, Chosen> {
  const strictOf = (hi: number, node: number) => decided.filter((d) => d.host === hi && d.node === node && !d.cores);
  const each = (pick: (l: Parameters<typeof plainCores>[0], here: Decided[]) => Map<number, Chosen>) => {
    const out = new Map<number, Chosen>();
    let splits = 0;
    hosts.forEach((h, hi) => {
      for (const l of h.ledgers.all()) {
        const here = strictOf(hi, l.budget.node.id);
        if (here.length === 0) continue;
        const got = pick(l, here);
        splits += needlessSplits(l, got);
        for (const [k, v] of got) out.set(k, v);
      }
    });
    return { out, splits };
  };
  const plain = each(plainCores);
  if (plain.splits === 0) return plain.out;
  const unpinned: Unpinned[] = decided
    .filter((d) => d.node !== null && !d.cores)
    .map((d) => ({ demand: d.demand, host: d.host, node: d.node as number, hosts: openOf.get(d.demand.index)?.hosts ?? null }));
  const floating = decided.filter((d) => d.node === null && !d.cores).map((d) => ({ demand: d.demand, host: d.host }));
  const lockedFloatingKiB = lockedFloating.map((list) => list.reduce((s, d) => s + d.memoryKiB, 0));
  if (!hosts.some((h) => h.ledgers.all().some((l) => domainsOf(l).domains.size > 1))) return plain.out;
  const better = placeInDomains(hosts, unpinned, floating, lockedFloatingKiB);
  if (!better) return plain.out;
  // Move the promises to the L3 step's nodes, and try its cores; keep them only if they split fewer VMs.
  const before = decided.map((d) => ({ d, host: d.host, node: d.node }));
  const moveTo = (d: Decided & { host: number }, host: number, node: number | null) => {
    if (d.node !== null) unpromise(hosts[d.host].ledgers.of(d.node), d.demand);
    d.host = host;
    d.node = node;
    if (node !== null) promise(hosts[host].ledgers.of(node), d.demand);
  };
  for (const d of decided) {
    const to = better.get(d.demand.index);
    if (!to) continue;
    moveTo(d, to.host, to.node);
    d.domains = to;
  }
  const aligned = each(domainCores);
  if (aligned.splits < plain.splits) return aligned.out;
  for (const b of before) {
    if (b.d.domains === undefined) continue;
    moveTo(b.d, b.host, b.node);
    b.d.domains = undefined;
  }
  return plain.out;
}
