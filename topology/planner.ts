// request + host topologies (+ lock) -> Placement, or an explanation of what does not fit.
// The rules it obeys are DESIGN.md's "placement contract"; invariants.ts checks them on the result.
import { Core, HostTopology } from "./host-topology";
import { AutoVm, DEFAULT_SEARCH_SECONDS, NodeState, assignNodes } from "./node-assignment";
import { chooseCores, groupKey, packCores } from "./core-selection";
import { Demand, Ledger, Ledgers, demandOf, isCpuNode, nodeStateOf, promise, take, unpromise } from "./ledger";
import { PlacementLock } from "./lock";
import { NoFit, autoNoFit, checkFloating, describe, memoryProblem, whyNot } from "./no-fit";
import { hostBudgets, threadsOf } from "./node-budget";
import { HostPlan, Plan, VmPlacement } from "./placement";
import { HostRequest, PlacementRequest, VmRequest, memoryKiB } from "./request";

export type { NoFit } from "./no-fit";

export interface PlanInput {
  request: PlacementRequest;
  /** The parsed capture of every host of the request, by host name. */
  topologies: ReadonlyMap<string, HostTopology>;
  /** Earlier placements: VMs whose request did not change keep exactly these threads. */
  lock?: PlacementLock;
  /**
   * Seconds the node assignment of `node: auto` VMs may search for the whole request (all hosts),
   * default DEFAULT_SEARCH_SECONDS (3). Past it the planner gives up (a NoFit of kind "gave-up")
   * rather than say "does not fit" without proof. Memory stays bounded whatever the limit
   * (node-assignment.ts). Requests that fit easily take milliseconds whatever the limit.
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

interface Decided {
  demand: Demand;
  /** The strict VM's node, or null for a floating VM. */
  node: number | null;
  /** Cores to keep if still free (a resized VM's old cores). */
  preferCores: Core[];
  /** Set once cores are chosen (or taken over from the lock). */
  cores?: Core[];
  emulatorCore?: Core | null;
}

export function planPlacement(input: PlanInput): PlanOutcome {
  const { request } = input;
  const problems: NoFit[] = [];
  const placements = new Map<number, VmPlacement>();
  const hostPlans: HostPlan[] = [];
  const now = input.now ?? (() => performance.now());
  const limit = { deadline: now() + (input.searchSeconds ?? DEFAULT_SEARCH_SECONDS) * 1000, now };
  const chosen = chooseHosts(input, limit);
  if ("problem" in chosen) return { kind: "no-fit", problems: [chosen.problem] };
  for (const hostReq of request.hosts) {
    // A host the host choice already planned with exactly these VMs keeps that plan: planning it
    // again with less time left could give up where the first plan placed.
    const result = chosen.planned?.get(hostReq.name) ?? planHostOf(input, hostReq, chosen.hostOf, limit);
    if ("problems" in result) problems.push(...result.problems);
    else {
      for (const p of result.placements) placements.set(p.index, p.placement);
      hostPlans.push(result.hostPlan);
    }
  }
  const proved = (p: NoFit) => (p.kind === "does-not-fit" ? 0 : 1);
  if (problems.length > 0) return { kind: "no-fit", problems: problems.sort((a, b) => proved(a) - proved(b) || a.vmIndex - b.vmIndex) };
  const vms = request.vms.map((_, i) => placements.get(i)!);
  return { kind: "placed", plan: { hosts: hostPlans, vms } };
}

type Limit = { deadline: number; now: () => number };

/** planHost for one host of the request, with the VMs `hostOf` (by request index) sends there. */
function planHostOf(input: PlanInput, hostReq: HostRequest, hostOf: ReadonlyMap<number, string>, limit: Limit): HostResult {
  const topology = input.topologies.get(hostReq.name);
  if (!topology) throw new Error(`no topology was given for host '${hostReq.name}'`);
  const vms = input.request.vms.map((vm, index) => ({ vm, index })).filter(({ index }) => hostOf.get(index) === hostReq.name);
  const lock = new Map((input.lock?.vms ?? []).filter((l) => l.host === hostReq.name).map((l) => [l.name, l]));
  return planHost(hostReq, topology, vms, lock, limit);
}

/**
 * The host of every VM. A VM names its host, or the request has one host, or (several hosts, no
 * `host`) the planner chooses:
 * 1. A VM in the lock stays on its locked host (stable plans).
 * 2. The others, largest first (cores, then memory, then request order), each to the host whose
 *    fuller resource stays lowest with it (spreading keeps hosts loose, so each host's own search
 *    stays easy); then every host is planned once. If all place, done.
 *    Before that, where no VM names a host, a node or a lock entry: one node assignment over all
 *    the hosts' nodes together (combinedHosts), then every host planned once.
 * 3. Else again one VM at a time, each to the first host (most cores left first) whose plan still
 *    places with it. A VM no host can take beside the VMs that name that host is proved not to fit;
 *    running out of hosts otherwise, or out of time, is "gave up" (another split might fit).
 */
function chooseHosts(input: PlanInput, limit: Limit): { hostOf: Map<number, string>; planned?: Map<string, HostResult> } | { problem: NoFit } {
  const { request } = input;
  const hostOf = new Map<number, string>();
  const open: { vm: VmRequest; index: number }[] = [];
  request.vms.forEach((vm, index) => {
    if (vm.host !== undefined || request.hosts.length === 1) hostOf.set(index, vm.host ?? request.hosts[0].name);
    else open.push({ vm, index });
  });
  if (open.length === 0) return { hostOf };
  for (const o of open) {
    const locked = input.lock?.vms.find((l) => l.name === o.vm.name);
    if (locked && request.hosts.some((h) => h.name === locked.host)) hostOf.set(o.index, locked.host);
  }
  const left = open.filter((o) => !hostOf.has(o.index));
  if (left.length === 0) return { hostOf };
  // Largest first: by cores (with a dedicated emulator core), then memory, descending; then request order.
  left.sort((a, b) => demandOf(b.vm, b.index).totalCores - demandOf(a.vm, a.index).totalCores || b.vm.memoryGiB - a.vm.memoryGiB || a.index - b.index);
  const usable = new Map(request.hosts.map((h) => [h.name, hostBudgets(input.topologies.get(h.name)!, h.reserve).reduce((s, b) => s + b.usableCores.length, 0)]));
  const coresLeft = () => {
    const m = new Map(usable);
    for (const [i, h] of hostOf) m.set(h, (m.get(h) ?? 0) - demandOf(request.vms[i], i).totalCores);
    return m;
  };
  // Hosts with the most cores left first, then request order.
  const byRoom = () => {
    const m = coresLeft();
    return [...request.hosts].sort((a, b) => (m.get(b.name) ?? 0) - (m.get(a.name) ?? 0));
  };
  const needCores = request.vms.reduce((s, vm, i) => s + demandOf(vm, i).totalCores, 0);
  const haveCores = [...usable.values()].reduce((s, x) => s + x, 0);
  if (needCores > haveCores) {
    const first = left[0];
    const message = `the VMs need ${needCores} cores together and the hosts (${request.hosts.map((h) => `${h.name}: ${usable.get(h.name)}`).join(", ")}) have ${haveCores} after the reserve; no choice of hosts can help`;
    return { problem: { kind: "does-not-fit", vm: first.vm.name, vmIndex: first.index, host: request.hosts.map((h) => h.name).join(", "), field: "cores", message } };
  }
  const share = (f: number): Limit => ({ deadline: limit.now() + f * (limit.deadline - limit.now()), now: limit.now });
  const planned = new Map<string, HostResult>();
  // 2a. Where no VM names a host, a node or a lock entry: one node assignment over the nodes of
  //     all hosts together (its hosts follow from its nodes), floating VMs then to the hosts with
  //     the most cores left, largest first; every host planned once.
  const together = combinedHosts(input, share(0.6));
  if (together && "kind" in together) return { problem: together };
  if (together) {
    for (const h of request.hosts) {
      const result = planHostOf(input, h, together, share(0.5));
      if ("problems" in result) break;
      planned.set(h.name, result);
    }
    if (planned.size === request.hosts.length) return { hostOf: together, planned };
    planned.clear();
  }
  // 2. Spread, then plan each host once. Each VM goes to the host whose fuller resource (cores or
  //    memory, as a share of what the host has for VMs) stays the lowest with it: balancing only
  //    cores leaves memory-heavy VMs crowded on one host.
  const memory = new Map(request.hosts.map((h) => [h.name, hostBudgets(input.topologies.get(h.name)!, h.reserve).reduce((s, b) => s + b.vmMemoryKiB, 0)]));
  const used = new Map(request.hosts.map((h) => [h.name, { cores: 0, memoryKiB: 0 }]));
  const spread = new Map(hostOf);
  const count = (i: number, h: string) => {
    const u = used.get(h)!;
    const d = demandOf(request.vms[i], i);
    u.cores += d.totalCores;
    u.memoryKiB += memoryKiB(request.vms[i].memoryGiB);
  };
  for (const [i, h] of hostOf) count(i, h);
  for (const o of left) {
    const d = demandOf(o.vm, o.index);
    const fuller = (h: string) => {
      const u = used.get(h)!;
      return Math.max((u.cores + d.totalCores) / Math.max(1, usable.get(h) ?? 0), (u.memoryKiB + memoryKiB(o.vm.memoryGiB)) / Math.max(1, memory.get(h) ?? 0));
    };
    // Lowest fuller share first, then request order of the hosts.
    const best = [...request.hosts].sort((a, b) => fuller(a.name) - fuller(b.name))[0];
    spread.set(o.index, best.name);
    count(o.index, best.name);
  }
  for (const h of request.hosts) {
    const result = planHostOf(input, h, spread, share(0.3));
    if ("problems" in result) break;
    planned.set(h.name, result);
  }
  if (planned.size === request.hosts.length) return { hostOf: spread, planned };
  planned.clear();
  // 3. One at a time.
  for (const o of left) {
    let proved = true;
    let placed = false;
    const reasons: string[] = [];
    for (const h of byRoom()) {
      if (limit.now() > limit.deadline) {
        proved = false; // out of time is not a proof
        break;
      }
      const trial = new Map(hostOf).set(o.index, h.name);
      const result = planHostOf(input, h, trial, share(0.5));
      if (!("problems" in result)) {
        hostOf.set(o.index, h.name);
        planned.set(h.name, result);
        placed = true;
        break;
      }
      // Proved only if the VM does not fit beside the VMs that name this host, whatever else goes there.
      const own = new Map([...hostOf].filter(([i]) => request.vms[i].host !== undefined)).set(o.index, h.name);
      const alone = planHostOf(input, h, own, share(0.5));
      if (!("problems" in alone) || alone.problems.some((p) => p.kind === "gave-up")) proved = false;
      else reasons.push(`${h.name}: ${alone.problems[0].message}`);
    }
    if (placed) continue;
    const d = demandOf(o.vm, o.index);
    const hosts = request.hosts.map((h) => h.name).join(", ");
    const message = proved
      ? `${o.vm.name} (${describe(d)}, no host named): no host of the request can take it beside the VMs that name that host (${reasons.join("; ")})`
      : `the VMs without a host (${left.length} of them, over ${hosts}): no split over the hosts found within the search limit of ${input.searchSeconds ?? DEFAULT_SEARCH_SECONDS} s (searchSeconds), stuck at ${o.vm.name} (${describe(d)}); one may exist: allow more time, or name hosts for some VMs`;
    return { problem: { kind: proved ? "does-not-fit" : "gave-up", vm: o.vm.name, vmIndex: o.index, host: hosts, field: proved ? "cores" : "node", message } };
  }
  return { hostOf, planned };
}

type HostResult =
  | { placements: { index: number; placement: VmPlacement }[]; hostPlan: HostPlan }
  | { problems: NoFit[] };

/**
 * One host, in this order:
 * 1. Budgets per node (reserve taken out); locked VMs whose request is unchanged keep their cores.
 * 2. VMs with an explicit node take room there, in request order; a resized locked VM tries its old node.
 * 3. `node: auto` VMs get nodes from the exact search (node-assignment.ts).
 * 4. Floating VMs need only the host's leftover cores and memory in total.
 * 5. Cores are chosen node by node in request order (core-selection.ts), then floating VMs'.
 */
function planHost(
  hostReq: HostRequest,
  topology: HostTopology,
  vms: { vm: VmRequest; index: number }[],
  lock: ReadonlyMap<string, PlacementLock["vms"][number]>,
  limit: { deadline: number; now: () => number },
): HostResult {
  const host = hostReq.name;
  const T = topology.threadsPerCore;
  const ledgers = new Ledgers(hostBudgets(topology, hostReq.reserve));
  const problems: NoFit[] = [];
  const decided: Decided[] = [];
  const demands = vms.map(({ vm, index }) => demandOf(vm, index));

  // 1. Locked VMs whose request is unchanged keep their exact threads.
  const unlocked: { demand: Demand; prefer: { node: number | null; cores: Core[] } | null }[] = [];
  const lockedFloating: Demand[] = [];
  for (const demand of demands) {
    const locked = lock.get(demand.vm.name);
    if (!locked) {
      unlocked.push({ demand, prefer: null });
      continue;
    }
    if (lockMatches(locked, demand, T)) {
      // A lock holds pins, not the reserve they lean on: shared emulator threads need a reserved
      // core on the VM's node (or, floating, on some node) under today's reserve.
      const reserveNodes = locked.node === null ? ledgers.all() : [ledgers.find(locked.node)].filter((l): l is Ledger => l !== undefined);
      if (demand.vm.emulator === "shared" && !reserveNodes.some((l) => l.budget.reservedCores.length > 0)) {
        const where = locked.node === null ? `no node of ${host} keeps reserved cores` : `node ${locked.node} of ${host} keeps no reserved cores`;
        problems.push({ kind: "does-not-fit", vm: demand.vm.name, vmIndex: demand.index, host, field: "emulator", message: `${demand.vm.name} (locked): ${where} (reserve.coresPerNode = ${hostReq.reserve.coresPerNode}), so its shared emulator threads have nowhere to run; reserve a core or use emulator: dedicated` });
        continue;
      }
      const claimed = claimLocked(locked, demand, ledgers, T);
      if (typeof claimed === "string") {
        problems.push({ kind: "does-not-fit", vm: demand.vm.name, vmIndex: demand.index, host, field: "lock", message: `locked placement of ${demand.vm.name} no longer fits ${host}: ${claimed}; remove it from the lock to place it anew` });
      } else {
        decided.push(claimed);
        if (claimed.node === null) lockedFloating.push(demand);
      }
      continue;
    }
    unlocked.push({ demand, prefer: { node: locked.node, cores: coresOfPins(locked.vcpupin, ledgers, T) } });
  }

  // 2. Explicit nodes, in request order.
  const auto: { demand: Demand; prefer: { node: number | null; cores: Core[] } | null }[] = [];
  const floating: { demand: Demand; prefer: Core[] }[] = [];
  for (const u of unlocked) {
    const { demand } = u;
    if (demand.vm.numa === "floating") {
      floating.push({ demand, prefer: u.prefer?.cores ?? [] });
      continue;
    }
    if (demand.vm.node === "auto") {
      auto.push(u);
      continue;
    }
    const ledger = ledgers.find(demand.vm.node);
    const problem = ledger ? whyNot(ledger, demand, host, ledgers) : null;
    if (!ledger) {
      problems.push({ kind: "does-not-fit", vm: demand.vm.name, vmIndex: demand.index, host, field: "node", message: `${host} has no node ${demand.vm.node} (its nodes: ${ledgers.ids().join(", ")})` });
    } else if (problem) {
      problems.push({ kind: "does-not-fit", vm: demand.vm.name, vmIndex: demand.index, host, ...problem });
    } else {
      promise(ledger, demand);
      decided.push({ demand, node: demand.vm.node, preferCores: u.prefer?.node === demand.vm.node ? u.prefer.cores : [] });
    }
  }
  if (problems.length > 0) return { problems };

  // 3. Auto nodes. A resized locked VM first stays on its old node if it still fits there; only
  //    if that leaves no placement for the others does it move (it alone: the rest stay locked).
  type Staying = { entry: (typeof auto)[number]; node: number; cores: Core[] };
  const stay: Staying[] = [];
  for (const a of auto) {
    const old = a.prefer?.node != null ? ledgers.find(a.prefer.node) : undefined;
    if (a.prefer && old && whyNot(old, a.demand, host, ledgers) === null) stay.push({ entry: a, node: old.budget.node.id, cores: a.prefer.cores });
  }
  // The time left until the request's deadline; the first of two attempts gets half of it.
  const secondsLeft = (share: number) => Math.max(0, (share * (limit.deadline - limit.now())) / 1000);
  const tryAssign = (staying: Staying[], share: number) => {
    for (const s of staying) promise(ledgers.of(s.node), s.entry.demand);
    const rest = auto.filter((a) => !staying.some((s) => s.entry === a));
    const outcome = assignNodes(rest.map((a) => autoVmOf(a.demand)), ledgers.all().map(nodeStateOf), { seconds: secondsLeft(share), now: limit.now });
    if (outcome.kind !== "assigned") for (const s of staying) unpromise(ledgers.of(s.node), s.entry.demand);
    return { outcome, rest, staying };
  };
  // First, where nodes hold several L3 domains, an assignment that keeps every VM in one domain.
  const byDomains = stay.length === 0 ? assignByDomains(auto.map((a) => a.demand), ledgers) : null;
  let attempt: ReturnType<typeof tryAssign> = byDomains
    ? { outcome: { kind: "assigned", nodeOf: byDomains, by: "exact", steps: 0 }, rest: auto, staying: [] }
    : tryAssign(stay, stay.length > 0 ? 0.5 : 1);
  if (attempt.outcome.kind !== "assigned" && stay.length > 0) attempt = tryAssign([], 1);
  const { outcome } = attempt;
  if (outcome.kind !== "assigned") {
    return { problems: [autoNoFit(outcome, host, ledgers, attempt.rest.map((a) => a.demand))] };
  }
  for (const s of attempt.staying) decided.push({ demand: s.entry.demand, node: s.node, preferCores: s.cores });
  for (const a of attempt.rest) {
    const node = outcome.nodeOf.get(a.demand.index);
    if (node === undefined) throw new Error(`planner: the node assignment left ${a.demand.vm.name} without a node`);
    promise(ledgers.of(node), a.demand);
    decided.push({ demand: a.demand, node, preferCores: a.prefer?.node === node ? a.prefer.cores : [] });
  }

  // 4. Floating VMs: whole cores left anywhere, memory from the CPU nodes combined.
  const floatingProblem = checkFloating(floating.map((f) => f.demand), lockedFloating, ledgers, host);
  if (floatingProblem) return { problems: [floatingProblem] };

  // 5. Cores, node by node: where a node's free cores are in one L3 domain, in request order
  //    (chooseCores); where they are in several, VMs keeping a resized lock's cores first, then
  //    the others together, so that each spans as few domains as it can (packCores).
  decided.sort((a, b) => a.demand.index - b.demand.index);
  const oneByOne = (d: Decided, ledger: Ledger) => {
    ledger.promised -= d.demand.totalCores;
    const cores = take(ledger, chooseCores(ledger.free, d.demand.cores, d.preferCores)!);
    d.cores = cores;
    d.emulatorCore = d.demand.vm.emulator === "dedicated" ? take(ledger, chooseCores(ledger.free, 1, sameGroup(ledger.free, cores))!)[0] : null;
  };
  for (const ledger of ledgers.all()) {
    const here = decided.filter((d) => !d.cores && d.node === ledger.budget.node.id);
    if (new Set(ledger.free.map(groupKey)).size < 2) {
      for (const d of here) oneByOne(d, ledger);
      continue;
    }
    for (const d of here.filter((x) => x.preferCores.length > 0)) oneByOne(d, ledger);
    const fresh = here.filter((x) => x.preferCores.length === 0);
    const packed = packCores(ledger.free, ledger.budget.node.cores, fresh.map((d) => ({ key: d.demand.index, cores: d.demand.cores, emulator: d.demand.vm.emulator === "dedicated" })));
    for (const d of fresh) {
      const got = packed?.get(d.demand.index);
      if (!got) {
        oneByOne(d, ledger);
        continue;
      }
      ledger.promised -= d.demand.totalCores;
      d.cores = take(ledger, got.cores);
      d.emulatorCore = got.emulatorCore ? take(ledger, [got.emulatorCore])[0] : null;
    }
  }
  for (const f of floating) {
    const cores: Core[] = [];
    const kept = f.prefer.filter((c) => ledgers.all().some((l) => l.free.includes(c))).slice(0, f.demand.cores);
    for (const c of kept) cores.push(...take(ledgers.ofCore(c), [c]));
    while (cores.length < f.demand.cores) {
      const roomiest = ledgers.all().sort((a, b) => b.free.length - a.free.length || a.budget.node.id - b.budget.node.id)[0];
      cores.push(...take(roomiest, chooseCores(roomiest.free, Math.min(roomiest.free.length, f.demand.cores - cores.length))!));
    }
    let emulatorCore: Core | null = null;
    if (f.demand.vm.emulator === "dedicated") {
      const roomiest = ledgers.all().sort((a, b) => b.free.length - a.free.length || a.budget.node.id - b.budget.node.id)[0];
      emulatorCore = take(roomiest, chooseCores(roomiest.free, 1)!)[0];
    }
    decided.push({ demand: f.demand, node: null, preferCores: [], cores, emulatorCore });
  }

  const cpuNodes = ledgers.all().filter(isCpuNode).map((l) => l.budget.node.id);
  const placements = decided.map((d) => ({ index: d.demand.index, placement: placementOf(d, host, T, ledgers, cpuNodes) }));
  return { placements, hostPlan: hostPlanOf(hostReq, topology, ledgers) };
}

function autoVmOf(d: Demand): AutoVm {
  return {
    index: d.index,
    name: d.vm.name,
    cores: d.totalCores,
    memoryKiB: d.memoryKiB,
    pageSizeKiB: d.pageSizeKiB,
    pageCount: d.pageCount,
    needsReserve: d.vm.emulator === "shared",
  };
}

/**
 * chooseHosts' step 2a: the host of every VM from one node assignment over all hosts; null when
 * it does not apply or found none in time; a NoFit when it proved that none exists (the strict
 * VMs alone cannot be arranged on all the hosts' nodes: floating VMs only add to that).
 */
function combinedHosts(input: PlanInput, limit: Limit): Map<number, string> | NoFit | null {
  const { request } = input;
  const locked = new Set((input.lock?.vms ?? []).map((l) => l.name));
  if (request.vms.some((vm) => vm.host !== undefined || vm.node !== "auto" || locked.has(vm.name))) return null;
  const states: NodeState[] = [];
  const hostOfState: string[] = [];
  for (const h of request.hosts) {
    for (const b of hostBudgets(input.topologies.get(h.name)!, h.reserve)) {
      states.push({ id: states.length, cores: b.usableCores.length, memoryKiB: b.vmMemoryKiB, pages: new Map(b.hugepages), hasReserve: b.reservedCores.length > 0 });
      hostOfState.push(h.name);
    }
  }
  const strict = request.vms.map((vm, index) => ({ vm, index })).filter(({ vm }) => vm.numa === "strict");
  const outcome = assignNodes(strict.map(({ vm, index }) => autoVmOf(demandOf(vm, index))), states, { seconds: Math.max(0, (limit.deadline - limit.now()) / 1000), now: limit.now });
  // A capacity proof is left to step 3, whose message names the VM and each host's reason.
  if (outcome.kind === "infeasible" && outcome.proof !== "capacity") {
    const why = outcome.proof === "sizes" ? `whole VMs of their sizes can fill at most ${outcome.fillable} of the ${outcome.needed} cores they need` : "no arrangement exists (exhaustive search)";
    const d = strict.find((s) => s.index === outcome.stuck.index) ?? strict[0];
    const hosts = request.hosts.map((h) => h.name).join(", ");
    return {
      kind: "does-not-fit",
      vm: d.vm.name,
      vmIndex: d.index,
      host: hosts,
      field: "cores",
      message: `the ${strict.length} strict VMs (no host named) cannot be arranged on the nodes of ${hosts} together: ${why}`,
    };
  }
  if (outcome.kind !== "assigned") return null;
  const hostOf = new Map<number, string>();
  const coresLeft = new Map(request.hosts.map((h) => [h.name, 0]));
  states.forEach((s, i) => coresLeft.set(hostOfState[i], (coresLeft.get(hostOfState[i]) ?? 0) + s.cores));
  for (const [index, state] of outcome.nodeOf) {
    const host = hostOfState[state];
    hostOf.set(index, host);
    coresLeft.set(host, (coresLeft.get(host) ?? 0) - demandOf(request.vms[index], index).totalCores);
  }
  // Floating VMs: largest first (then request order), each to the host with the most cores left.
  const floating = request.vms.map((vm, index) => ({ vm, index })).filter(({ vm }) => vm.numa === "floating");
  floating.sort((a, b) => b.vm.cores - a.vm.cores || a.index - b.index);
  for (const f of floating) {
    const host = [...request.hosts].sort((a, b) => (coresLeft.get(b.name) ?? 0) - (coresLeft.get(a.name) ?? 0))[0].name;
    hostOf.set(f.index, host);
    coresLeft.set(host, (coresLeft.get(host) ?? 0) - demandOf(f.vm, f.index).totalCores);
  }
  return hostOf;
}

/** Clock reads and exact steps for assignByDomains: a count, so the outcome is the same on any machine. */
const DOMAIN_EFFORT = { reads: 400, exactSteps: 20_000 };

/**
 * A node assignment in which every `node: auto` VM also fits inside one L3 domain of its node, or
 * null. Tried only where it can help and is simple to state: some node's free cores lie in several
 * domains, no VM of the host is promised to a node yet (fixed nodes would need their own domains),
 * and every VM's cores (with a dedicated emulator core) fit a domain. The bins are the domains,
 * each with its node's free memory and huge pages shared out in proportion to its free cores
 * (rounded down: a conservative split, so any answer is a valid node assignment). When it fails
 * the node assignment runs as usual, and core selection still avoids splits where it can.
 */
function assignByDomains(demands: readonly Demand[], ledgers: Ledgers): Map<number, number> | null {
  if (demands.length === 0 || ledgers.all().some((l) => l.promised > 0)) return null;
  const bins: NodeState[] = [];
  const nodeOfBin: number[] = [];
  let split = false;
  let largest = 0;
  for (const l of ledgers.all()) {
    const groups = new Map<string, number>();
    for (const c of l.free) groups.set(groupKey(c), (groups.get(groupKey(c)) ?? 0) + 1);
    if (groups.size > 1) split = true;
    const total = l.free.length;
    for (const count of groups.values()) {
      const share = count / total;
      const pages = new Map([...l.pages].map(([size, n]) => [size, Math.floor(n * share)]));
      bins.push({ id: bins.length, cores: count, memoryKiB: Math.floor(l.memoryKiB * share), pages, hasReserve: l.budget.reservedCores.length > 0 });
      nodeOfBin.push(l.budget.node.id);
      largest = Math.max(largest, count);
    }
  }
  if (!split || demands.some((d) => d.totalCores > largest)) return null;
  let reads = 0;
  const outcome = assignNodes(demands.map(autoVmOf), bins, { seconds: DOMAIN_EFFORT.reads / 1000, exactSteps: DOMAIN_EFFORT.exactSteps, now: () => reads++ });
  if (outcome.kind !== "assigned") return null;
  return new Map([...outcome.nodeOf].map(([vm, bin]) => [vm, nodeOfBin[bin]]));
}

/** The free cores in the same cache group as the VM's first core: its emulator core's first choice. */
function sameGroup(free: readonly Core[], cores: readonly Core[]): Core[] {
  const first = cores[0];
  return free.filter((c) => groupKey(c) === groupKey(first));
}

function lockMatches(l: PlacementLock["vms"][number], d: Demand, T: number): boolean {
  const vm = d.vm;
  const nodeOk = vm.numa === "floating" ? l.node === null : l.node !== null && (vm.node === "auto" || vm.node === l.node);
  const pages = d.pageSizeKiB === null ? null : { sizeKiB: d.pageSizeKiB, count: d.pageCount };
  return (
    nodeOk &&
    l.vcpus === d.cores * T &&
    l.topology.threads === T &&
    l.memoryKiB === memoryKiB(vm.memoryGiB) &&
    JSON.stringify(l.hugepages) === JSON.stringify(pages) &&
    l.emulator === vm.emulator
  );
}

/** The cores a locked pin list names, where they are still usable cores of the host. */
function coresOfPins(pins: readonly number[], ledgers: Ledgers, T: number): Core[] {
  const byFirst = new Map<number, Core>();
  for (const l of ledgers.all()) for (const c of l.budget.usableCores) byFirst.set(c.threads[0], c);
  const cores: Core[] = [];
  for (let k = 0; k + T <= pins.length; k += T) {
    const c = byFirst.get(Math.min(...pins.slice(k, k + T)));
    if (c && c.threads.length === T && pins.slice(k, k + T).every((t) => c.threads.includes(t))) cores.push(c);
  }
  return cores;
}

/** Take a locked VM's cores and memory out of the ledgers, or say why they are not there. */
function claimLocked(l: PlacementLock["vms"][number], d: Demand, ledgers: Ledgers, T: number): Decided | string {
  const cores = coresOfPins(l.vcpupin, ledgers, T);
  if (cores.length * T !== l.vcpupin.length) return `threads ${l.vcpupin.join(",")} are not whole usable cores of the capture (a core is reserved now, or the numbering changed)`;
  for (const c of cores) {
    const ledger = ledgers.of(c.node);
    if (!ledger.free.includes(c)) return `core ${c.threads.join(",")} is also held by ${ledger.vms.join(", ")}`;
    if (l.node !== null && c.node !== l.node) return `core ${c.threads.join(",")} is on node ${c.node}, not node ${l.node}`;
  }
  let emulatorCore: Core | null = null;
  if (d.vm.emulator === "dedicated") {
    const e = coresOfPins(l.emulatorpin, ledgers, T);
    if (e.length !== 1 || e[0].threads.length !== l.emulatorpin.length) return `emulator threads ${l.emulatorpin.join(",")} are not one usable core`;
    if (!ledgers.of(e[0].node).free.includes(e[0]) || cores.includes(e[0])) return `emulator core ${l.emulatorpin.join(",")} is held by another VM`;
    if (l.node !== null && e[0].node !== l.node) return `emulator core ${l.emulatorpin.join(",")} is not on node ${l.node}`;
    emulatorCore = e[0];
  }
  if (l.node !== null) {
    const ledger = ledgers.of(l.node);
    const problem = memoryProblem(ledger, d, l.host);
    if (problem) return problem.message;
  }
  for (const c of [...cores, ...(emulatorCore ? [emulatorCore] : [])]) take(ledgers.of(c.node), [c]);
  if (l.node !== null) {
    const ledger = ledgers.of(l.node);
    ledger.memoryKiB -= d.memoryKiB;
    if (d.pageSizeKiB !== null) ledger.pages.set(d.pageSizeKiB, (ledger.pages.get(d.pageSizeKiB) ?? 0) - d.pageCount);
  }
  for (const c of cores) if (!ledgers.of(c.node).vms.includes(d.vm.name)) ledgers.of(c.node).vms.push(d.vm.name);
  return { demand: d, node: l.node, preferCores: [], cores, emulatorCore };
}

function placementOf(d: Decided, host: string, T: number, ledgers: Ledgers, cpuNodes: number[]): VmPlacement {
  const cores = d.cores!;
  const vcpupin = cores.flatMap((c) => c.threads);
  let emulatorpin: number[];
  if (d.emulatorCore) emulatorpin = [...d.emulatorCore.threads];
  else {
    const nodes = d.node !== null ? [d.node] : [...new Set(cores.map((c) => c.node))];
    emulatorpin = threadsOf(nodes.flatMap((n) => ledgers.of(n).budget.reservedCores));
    if (emulatorpin.length === 0) emulatorpin = threadsOf(ledgers.all().flatMap((l) => l.budget.reservedCores));
  }
  const kib = memoryKiB(d.demand.vm.memoryGiB);
  return {
    name: d.demand.vm.name,
    host,
    node: d.node,
    vcpus: vcpupin.length,
    vcpupin,
    emulatorpin,
    iothreadpin: [...emulatorpin],
    memoryKiB: kib,
    numatune: d.node !== null ? { mode: "strict", nodeset: [d.node] } : { mode: "interleave", nodeset: cpuNodes },
    topology: { sockets: 1, dies: 1, cores: cores.length, threads: T },
    hugepages: d.demand.pageSizeKiB === null ? null : { sizeKiB: d.demand.pageSizeKiB, count: d.demand.pageCount },
    emulator: d.demand.vm.emulator,
  };
}

function hostPlanOf(hostReq: HostRequest, topology: HostTopology, ledgers: Ledgers): HostPlan {
  return {
    name: hostReq.name,
    capabilities: hostReq.capabilities,
    threadsPerCore: topology.threadsPerCore,
    nodes: ledgers.all().map((l) => ({
      id: l.budget.node.id,
      cores: l.budget.node.cores.length,
      reservedThreads: threadsOf(l.budget.reservedCores),
      freeThreads: threadsOf(l.free),
      memoryKiB: l.budget.node.memoryKiB ?? 0,
      hugepagesKiB: [...l.budget.hugepages.entries()].reduce((sum, [size, count]) => sum + size * count, 0),
      reserveKiB: l.budget.reserveKiB,
      vmMemoryKiB: l.budget.vmMemoryKiB - l.memoryKiB,
      freeMemoryKiB: l.memoryKiB,
    })),
  };
}
