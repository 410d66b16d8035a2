// request + host topologies (+ lock) -> Placement, or an explanation of what does not fit.
// The rules it obeys are DESIGN.md's "placement contract"; invariants.ts checks them on the result.
import { Core, HostTopology } from "./host-topology";
import { AutoVm, DEFAULT_SEARCH_BOUND, NodeState, assignNodes } from "./node-assignment";
import { chooseCores } from "./core-selection";
import { PlacementLock } from "./lock";
import { NodeBudget, hostBudgets, threadsOf } from "./node-budget";
import { gib } from "./units";
import { HostPlan, Plan, VmPlacement } from "./placement";
import { HUGEPAGE_KIB, HostRequest, PlacementRequest, VmRequest, hostOf, memoryKiB } from "./request";

export interface PlanInput {
  request: PlacementRequest;
  /** The parsed capture of every host of the request, by host name. */
  topologies: ReadonlyMap<string, HostTopology>;
  /** Earlier placements: VMs whose request did not change keep exactly these threads. */
  lock?: PlacementLock;
  /** Search steps allowed per host (node-assignment.ts explains the bound). */
  searchBound?: number;
}

/** Why a VM could not be placed. `field` is the request key to change (under vms[vmIndex]). */
export interface NoFit {
  vm: string;
  vmIndex: number;
  host: string;
  field: "cores" | "memoryGiB" | "hugepages" | "node" | "emulator" | "lock";
  message: string;
}

export type PlanOutcome = { kind: "placed"; plan: Plan } | { kind: "no-fit"; problems: NoFit[] };

/** One requested VM with what it needs, in the host's units. */
interface Demand {
  vm: VmRequest;
  index: number;
  /** Cores for vCPUs. */
  cores: number;
  /** Cores including a dedicated emulator core. */
  totalCores: number;
  memoryKiB: number;
  pageSizeKiB: number | null;
  pageCount: number;
}

/** A node while the plan is being made. */
interface Ledger {
  budget: NodeBudget;
  /** Usable cores no VM holds yet, ascending. */
  free: Core[];
  /** Cores promised to VMs whose cores are not chosen yet. */
  promised: number;
  memoryKiB: number;
  pages: Map<number, number>;
  vms: string[];
}

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
  for (const hostReq of request.hosts) {
    const topology = input.topologies.get(hostReq.name);
    if (!topology) throw new Error(`no topology was given for host '${hostReq.name}'`);
    const vms = request.vms.map((vm, index) => ({ vm, index })).filter(({ vm }) => hostOf(request, vm) === hostReq.name);
    const lock = new Map((input.lock?.vms ?? []).filter((l) => l.host === hostReq.name).map((l) => [l.name, l]));
    const result = planHost(hostReq, topology, vms, lock, input.searchBound ?? DEFAULT_SEARCH_BOUND);
    if ("problems" in result) problems.push(...result.problems);
    else {
      for (const p of result.placements) placements.set(p.index, p.placement);
      hostPlans.push(result.hostPlan);
    }
  }
  if (problems.length > 0) return { kind: "no-fit", problems: problems.sort((a, b) => a.vmIndex - b.vmIndex) };
  const vms = request.vms.map((_, i) => placements.get(i)!);
  return { kind: "placed", plan: { hosts: hostPlans, vms } };
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
  bound: number,
): HostResult {
  const host = hostReq.name;
  const T = topology.threadsPerCore;
  const ledgers = new Map<number, Ledger>(
    hostBudgets(topology, hostReq.reserve).map((b) => [
      b.node.id,
      { budget: b, free: [...b.usableCores], promised: 0, memoryKiB: b.vmMemoryKiB, pages: new Map(b.hugepages), vms: [] },
    ]),
  );
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
      const reserveNodes = locked.node === null ? [...ledgers.values()] : [ledgers.get(locked.node)].filter((l): l is Ledger => l !== undefined);
      if (demand.vm.emulator === "shared" && !reserveNodes.some((l) => l.budget.reservedCores.length > 0)) {
        const where = locked.node === null ? `no node of ${host} keeps reserved cores` : `node ${locked.node} of ${host} keeps no reserved cores`;
        problems.push({ vm: demand.vm.name, vmIndex: demand.index, host, field: "emulator", message: `${demand.vm.name} (locked): ${where} (reserve.coresPerNode = ${hostReq.reserve.coresPerNode}), so its shared emulator threads have nowhere to run; reserve a core or use emulator: dedicated` });
        continue;
      }
      const claimed = claimLocked(locked, demand, ledgers, T);
      if (typeof claimed === "string") {
        problems.push({ vm: demand.vm.name, vmIndex: demand.index, host, field: "lock", message: `locked placement of ${demand.vm.name} no longer fits ${host}: ${claimed}; remove it from the lock to place it anew` });
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
    const ledger = ledgers.get(demand.vm.node);
    const problem = ledger ? whyNot(ledger, demand, host, ledgers) : null;
    if (!ledger) {
      problems.push({ vm: demand.vm.name, vmIndex: demand.index, host, field: "node", message: `${host} has no node ${demand.vm.node} (its nodes: ${[...ledgers.keys()].join(", ")})` });
    } else if (problem) {
      problems.push({ vm: demand.vm.name, vmIndex: demand.index, host, ...problem });
    } else {
      promise(ledger, demand);
      decided.push({ demand, node: demand.vm.node, preferCores: u.prefer?.node === demand.vm.node ? u.prefer.cores : [] });
    }
  }
  if (problems.length > 0) return { problems };

  // 3. Auto nodes. A resized locked VM first stays on its old node if it still fits there; only
  //    if that leaves no placement for the others does it move (it alone: the rest stay locked).
  const stay = auto.filter((a) => a.prefer?.node != null && whyNot(ledgers.get(a.prefer.node)!, a.demand, host, ledgers) === null);
  const tryAssign = (staying: typeof auto) => {
    for (const s of staying) promise(ledgers.get(s.prefer!.node!)!, s.demand);
    const rest = auto.filter((a) => !staying.includes(a));
    const outcome = assignNodes(rest.map((a) => autoVmOf(a.demand)), [...ledgers.values()].map(nodeStateOf), bound);
    if (outcome.kind !== "assigned") for (const s of staying) unpromise(ledgers.get(s.prefer!.node!)!, s.demand);
    return { outcome, rest, staying };
  };
  let attempt = tryAssign(stay);
  if (attempt.outcome.kind !== "assigned" && stay.length > 0) attempt = tryAssign([]);
  const { outcome } = attempt;
  if (outcome.kind !== "assigned") {
    return { problems: [autoNoFit(outcome, host, ledgers, attempt.rest.map((a) => a.demand))] };
  }
  for (const s of attempt.staying) decided.push({ demand: s.demand, node: s.prefer!.node!, preferCores: s.prefer!.cores });
  for (const a of attempt.rest) {
    const node = outcome.nodeOf.get(a.demand.index)!;
    promise(ledgers.get(node)!, a.demand);
    decided.push({ demand: a.demand, node, preferCores: a.prefer?.node === node ? a.prefer.cores : [] });
  }

  // 4. Floating VMs: whole cores left anywhere, memory from the CPU nodes combined.
  const floatingProblem = checkFloating(floating.map((f) => f.demand), lockedFloating, ledgers, host);
  if (floatingProblem) return { problems: [floatingProblem] };

  // 5. Cores, node by node in request order, then floating VMs on the roomiest nodes first.
  decided.sort((a, b) => a.demand.index - b.demand.index);
  for (const d of decided) {
    if (d.cores) continue;
    const ledger = ledgers.get(d.node!)!;
    ledger.promised -= d.demand.totalCores;
    d.cores = take(ledger, chooseCores(ledger.free, d.demand.cores, d.preferCores)!);
    d.emulatorCore = d.demand.vm.emulator === "dedicated" ? take(ledger, chooseCores(ledger.free, 1, sameGroup(ledger.free, d.cores))!)[0] : null;
  }
  for (const f of floating) {
    const cores: Core[] = [];
    const kept = f.prefer.filter((c) => [...ledgers.values()].some((l) => l.free.includes(c))).slice(0, f.demand.cores);
    for (const c of kept) cores.push(...take(ledgerOfCore(ledgers, c), [c]));
    while (cores.length < f.demand.cores) {
      const roomiest = [...ledgers.values()].sort((a, b) => b.free.length - a.free.length || a.budget.node.id - b.budget.node.id)[0];
      cores.push(...take(roomiest, chooseCores(roomiest.free, Math.min(roomiest.free.length, f.demand.cores - cores.length))!));
    }
    let emulatorCore: Core | null = null;
    if (f.demand.vm.emulator === "dedicated") {
      const roomiest = [...ledgers.values()].sort((a, b) => b.free.length - a.free.length || a.budget.node.id - b.budget.node.id)[0];
      emulatorCore = take(roomiest, chooseCores(roomiest.free, 1)!)[0];
    }
    decided.push({ demand: f.demand, node: null, preferCores: [], cores, emulatorCore });
  }

  const cpuNodes = [...ledgers.values()].filter(isCpuNode).map((l) => l.budget.node.id);
  const placements = decided.map((d) => ({ index: d.demand.index, placement: placementOf(d, host, T, ledgers, cpuNodes) }));
  return { placements, hostPlan: hostPlanOf(hostReq, topology, ledgers) };
}

/** A node a floating VM's memory is interleaved over: it has cores a VM may use, and VM memory. */
function isCpuNode(l: Ledger): boolean {
  return l.budget.usableCores.length > 0 && l.budget.vmMemoryKiB > 0;
}

function demandOf(vm: VmRequest, index: number): Demand {
  const kib = memoryKiB(vm.memoryGiB);
  const pageSizeKiB = vm.hugepages ? HUGEPAGE_KIB[vm.hugepages] : null;
  return {
    vm,
    index,
    cores: vm.cores,
    totalCores: vm.cores + (vm.emulator === "dedicated" ? 1 : 0),
    memoryKiB: pageSizeKiB === null ? kib : 0,
    pageSizeKiB,
    pageCount: pageSizeKiB === null ? 0 : kib / pageSizeKiB,
  };
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

function nodeStateOf(l: Ledger): NodeState {
  return { id: l.budget.node.id, cores: l.free.length - l.promised, memoryKiB: l.memoryKiB, pages: new Map(l.pages), hasReserve: l.budget.reservedCores.length > 0 };
}

function promise(l: Ledger, d: Demand): void {
  l.promised += d.totalCores;
  l.memoryKiB -= d.memoryKiB;
  if (d.pageSizeKiB !== null) l.pages.set(d.pageSizeKiB, (l.pages.get(d.pageSizeKiB) ?? 0) - d.pageCount);
  l.vms.push(d.vm.name);
}

function unpromise(l: Ledger, d: Demand): void {
  l.promised -= d.totalCores;
  l.memoryKiB += d.memoryKiB;
  if (d.pageSizeKiB !== null) l.pages.set(d.pageSizeKiB, (l.pages.get(d.pageSizeKiB) ?? 0) + d.pageCount);
  l.vms = l.vms.filter((n) => n !== d.vm.name);
}

/** Remove `cores` from the ledger's free list and return them. */
function take(l: Ledger, cores: Core[]): Core[] {
  const ids = new Set(cores.map((c) => c.threads[0]));
  l.free = l.free.filter((c) => !ids.has(c.threads[0]));
  return cores;
}

function ledgerOfCore(ledgers: ReadonlyMap<number, Ledger>, c: Core): Ledger {
  return ledgers.get(c.node)!;
}

/** The free cores in the same cache group as the VM's first core: its emulator core's first choice. */
function sameGroup(free: readonly Core[], cores: readonly Core[]): Core[] {
  const first = cores[0];
  return free.filter((c) => (first.die !== null ? c.die === first.die : c.socket === first.socket));
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
function coresOfPins(pins: readonly number[], ledgers: ReadonlyMap<number, Ledger>, T: number): Core[] {
  const byFirst = new Map<number, Core>();
  for (const l of ledgers.values()) for (const c of l.budget.usableCores) byFirst.set(c.threads[0], c);
  const cores: Core[] = [];
  for (let k = 0; k + T <= pins.length; k += T) {
    const c = byFirst.get(Math.min(...pins.slice(k, k + T)));
    if (c && c.threads.length === T && pins.slice(k, k + T).every((t) => c.threads.includes(t))) cores.push(c);
  }
  return cores;
}

/** Take a locked VM's cores and memory out of the ledgers, or say why they are not there. */
function claimLocked(l: PlacementLock["vms"][number], d: Demand, ledgers: Map<number, Ledger>, T: number): Decided | string {
  const cores = coresOfPins(l.vcpupin, ledgers, T);
  if (cores.length * T !== l.vcpupin.length) return `threads ${l.vcpupin.join(",")} are not whole usable cores of the capture (a core is reserved now, or the numbering changed)`;
  for (const c of cores) {
    const ledger = ledgers.get(c.node)!;
    if (!ledger.free.includes(c)) return `core ${c.threads.join(",")} is also held by ${ledger.vms.join(", ")}`;
    if (l.node !== null && c.node !== l.node) return `core ${c.threads.join(",")} is on node ${c.node}, not node ${l.node}`;
  }
  let emulatorCore: Core | null = null;
  if (d.vm.emulator === "dedicated") {
    const e = coresOfPins(l.emulatorpin, ledgers, T);
    if (e.length !== 1 || e[0].threads.length !== l.emulatorpin.length) return `emulator threads ${l.emulatorpin.join(",")} are not one usable core`;
    if (!ledgers.get(e[0].node)!.free.includes(e[0]) || cores.includes(e[0])) return `emulator core ${l.emulatorpin.join(",")} is held by another VM`;
    if (l.node !== null && e[0].node !== l.node) return `emulator core ${l.emulatorpin.join(",")} is not on node ${l.node}`;
    emulatorCore = e[0];
  }
  if (l.node !== null) {
    const ledger = ledgers.get(l.node)!;
    const problem = memoryProblem(ledger, d, l.host);
    if (problem) return problem.message;
  }
  for (const c of [...cores, ...(emulatorCore ? [emulatorCore] : [])]) take(ledgers.get(c.node)!, [c]);
  if (l.node !== null) {
    const ledger = ledgers.get(l.node)!;
    ledger.memoryKiB -= d.memoryKiB;
    if (d.pageSizeKiB !== null) ledger.pages.set(d.pageSizeKiB, (ledger.pages.get(d.pageSizeKiB) ?? 0) - d.pageCount);
  }
  for (const c of cores) if (!ledgers.get(c.node)!.vms.includes(d.vm.name)) ledgers.get(c.node)!.vms.push(d.vm.name);
  return { demand: d, node: l.node, preferCores: [], cores, emulatorCore };
}

type Why = { field: NoFit["field"]; message: string };

function describe(d: Demand): string {
  const parts = [`${d.cores} cores`, gib(memoryKiB(d.vm.memoryGiB))];
  if (d.vm.hugepages) parts.push(`${d.pageCount} x ${d.vm.hugepages} pages`);
  if (d.vm.emulator === "dedicated") parts.push("+1 emulator core");
  return parts.join(", ");
}

function nodeName(l: Ledger, host: string): string {
  return `node ${l.budget.node.id} of ${host}`;
}

function freeCores(l: Ledger): number {
  return l.free.length - l.promised;
}

function memoryProblem(l: Ledger, d: Demand, host: string): Why | null {
  const node = l.budget.node;
  if (d.pageSizeKiB !== null) {
    const free = l.pages.get(d.pageSizeKiB) ?? 0;
    if (free >= d.pageCount) return null;
    const total = l.budget.hugepages.get(d.pageSizeKiB) ?? 0;
    return {
      field: "hugepages",
      message: `${nodeName(l, host)} has ${free} free ${d.vm.hugepages} pages (${total} in all${total === 0 ? ": reserve them on the host, e.g. hugepagesz=" + d.vm.hugepages + " in the kernel command line, and capture again" : ""}); needs ${d.pageCount}`,
    };
  }
  if (l.memoryKiB >= d.memoryKiB) return null;
  if (node.memoryKiB === null)
    return { field: "memoryGiB", message: `${nodeName(l, host)} has no <memory> in the capture, so no VM memory can be bound to it` };
  const huge = node.memoryKiB - l.budget.reserveKiB - l.budget.vmMemoryKiB;
  const taken = l.budget.vmMemoryKiB - l.memoryKiB;
  const detail = [`${gib(node.memoryKiB)}`, `${gib(l.budget.reserveKiB)} reserved`];
  if (huge > 0 && l.budget.vmMemoryKiB > 0) detail.push(`${gib(huge)} in huge pages`);
  if (taken > 0) detail.push(`${gib(taken)} taken by ${l.vms.join(", ")}`);
  return { field: "memoryGiB", message: `${nodeName(l, host)} has ${gib(Math.max(0, l.memoryKiB))} free for VMs (${detail.join(", ")}); needs ${gib(d.memoryKiB)}` };
}

/** Why a strict VM cannot go to this node now, or null if it can. */
function whyNotHere(l: Ledger, d: Demand, host: string): Why | null {
  if (l.budget.node.cores.length === 0)
    return { field: "node", message: `${nodeName(l, host)} has no CPUs (a memory-only node): a VM's vCPUs cannot run there` };
  if (d.vm.emulator === "shared" && l.budget.reservedCores.length === 0)
    return {
      field: "emulator",
      message: `${nodeName(l, host)} keeps no reserved cores (reserve.coresPerNode = 0), so emulator: shared has no threads to run on; use emulator: dedicated or reserve a core`,
    };
  const free = freeCores(l);
  if (free < d.totalCores) {
    const usable = l.budget.usableCores.length;
    const taken = usable - free;
    const detail = [`${l.budget.node.cores.length} cores`, `${l.budget.reservedCores.length} reserved`];
    if (taken > 0) detail.push(`${taken} taken by ${l.vms.join(", ")}`);
    const need = d.vm.emulator === "dedicated" ? `${d.totalCores} (${d.cores} + 1 dedicated emulator core)` : `${d.cores}`;
    return { field: "cores", message: `${nodeName(l, host)} has ${Math.max(0, free)} free cores after the reserve (${detail.join(", ")}); needs ${need}` };
  }
  return memoryProblem(l, d, host);
}

/** whyNotHere, plus where it would fit instead. */
function whyNot(l: Ledger, d: Demand, host: string, ledgers: ReadonlyMap<number, Ledger>): Why | null {
  const why = whyNotHere(l, d, host);
  if (!why) return null;
  const elsewhere = [...ledgers.values()].filter((o) => o !== l && whyNotHere(o, d, host) === null);
  const hints: string[] = [];
  if (elsewhere.length > 0) hints.push(elsewhere.map((o) => `on node ${o.budget.node.id} (${freeCores(o)} cores, ${gib(o.memoryKiB)} free)`).join(" or "));
  if (why.field === "cores") {
    const most = freeCores(l) - (d.vm.emulator === "dedicated" ? 1 : 0);
    if (most > 0) hints.push(`with cores <= ${most}`);
  }
  return hints.length > 0 ? { ...why, message: `${why.message}; fits ${hints.join(" or ")}` } : why;
}

function autoNoFit(
  outcome: Exclude<ReturnType<typeof assignNodes>, { kind: "assigned" }>,
  host: string,
  ledgers: ReadonlyMap<number, Ledger>,
  demands: readonly Demand[],
): NoFit {
  const d = demands.find((x) => x.index === outcome.stuck.index)!;
  const states = outcome.statesWhenStuck
    .filter((s) => ledgers.get(s.id)!.budget.node.cores.length > 0)
    .map((s) => `node ${s.id}: ${Math.max(0, s.cores)} cores, ${gib(Math.max(0, s.memoryKiB))}${s.hasReserve ? "" : " (no reserved core)"}`);
  const before = outcome.placedBefore.map((v) => v.name);
  const needCores = demands.reduce((sum, x) => sum + x.totalCores, 0);
  const needMem = demands.reduce((sum, x) => sum + x.memoryKiB, 0);
  const haveCores = [...ledgers.values()].reduce((sum, l) => sum + Math.max(0, freeCores(l)), 0);
  const haveMem = [...ledgers.values()].reduce((sum, l) => sum + Math.max(0, l.memoryKiB), 0);
  const nodeList = `free: ${states.join("; ")}`;
  if (needCores > haveCores || needMem > haveMem) {
    // Short in total: no arrangement can help, and no single VM is to blame.
    const field: NoFit["field"] = needCores > haveCores ? "cores" : "memoryGiB";
    const names = demands.map((x) => x.vm.name).join(", ");
    const message = `the node: auto VMs of ${host} (${names}) need ${needCores} cores and ${gib(needMem)} together; ${host} has ${haveCores} cores and ${gib(haveMem)} free after the reserve and the VMs with a fixed node (${nodeList})`;
    return { vm: d.vm.name, vmIndex: d.index, host, field, message };
  }
  // Which resource the nodes lack for this VM: cores if no node has enough, else memory or pages.
  const withCores = outcome.statesWhenStuck.filter((s) => s.cores >= d.totalCores && (s.hasReserve || d.vm.emulator === "dedicated"));
  const field: NoFit["field"] =
    outcome.statesWhenStuck.every((s) => s.cores < d.totalCores) ? "cores" : withCores.length === 0 ? "emulator" : d.pageSizeKiB !== null ? "hugepages" : "memoryGiB";
  const message =
    outcome.kind === "bound"
      ? `${d.vm.name} (${describe(d)}, node auto): no placement found on ${host} within the search bound (${outcome.steps} steps); one may exist: give some VMs an explicit node to help the planner (${nodeList})`
      : `${d.vm.name} (${describe(d)}, node auto): no node of ${host} can take it${before.length > 0 ? ` once ${before.join(", ")} ${before.length === 1 ? "is" : "are"} placed` : ""}, in any arrangement (${nodeList})`;
  return { vm: d.vm.name, vmIndex: d.index, host, field, message };
}

/** Floating VMs' cores were taken from the ledgers already when locked; their memory was not. */
function checkFloating(floating: readonly Demand[], locked: readonly Demand[], ledgers: ReadonlyMap<number, Ledger>, host: string): NoFit | null {
  let cores = [...ledgers.values()].reduce((sum, l) => sum + freeCores(l), 0);
  // Floating memory is interleaved over the CPU nodes (placementOf), so only theirs counts.
  let memory = [...ledgers.values()].filter(isCpuNode).reduce((sum, l) => sum + l.memoryKiB, 0);
  // Locked floating VMs hold their cores already; their memory must still fit beside the strict
  // VMs of this plan (a resized strict VM may have taken it).
  for (const d of locked) {
    if (memory < d.memoryKiB)
      return { vm: d.vm.name, vmIndex: d.index, host, field: "memoryGiB", message: `${d.vm.name} (${describe(d)}, floating, locked): ${host}'s CPU nodes have ${gib(Math.max(0, memory))} free together after the reserve and the strict VMs; needs ${gib(d.memoryKiB)}` };
    memory -= d.memoryKiB;
  }
  const perNode = () => [...ledgers.values()].filter((l) => l.budget.node.cores.length > 0).map((l) => `node ${l.budget.node.id}: ${freeCores(l)}`).join(", ");
  for (const d of floating) {
    const hasReserve = [...ledgers.values()].some((l) => l.budget.reservedCores.length > 0);
    const base = { vm: d.vm.name, vmIndex: d.index, host };
    if (d.vm.emulator === "shared" && !hasReserve)
      return { ...base, field: "emulator", message: `${d.vm.name} (floating): no node of ${host} keeps a reserved core for its shared emulator threads; use emulator: dedicated` };
    if (cores < d.totalCores) {
      const alsoMemory = memory < d.memoryKiB ? `, and ${gib(Math.max(0, memory))} of memory (needs ${gib(d.memoryKiB)})` : "";
      return { ...base, field: "cores", message: `${d.vm.name} (${describe(d)}, floating): ${host} has ${Math.max(0, cores)} whole cores left on its nodes after the reserve and the strict VMs (${perNode()}); needs ${d.totalCores}${alsoMemory}` };
    }
    if (memory < d.memoryKiB)
      return { ...base, field: "memoryGiB", message: `${d.vm.name} (${describe(d)}, floating): ${host}'s nodes have ${gib(Math.max(0, memory))} free for VMs together after the reserve and the strict VMs; needs ${gib(d.memoryKiB)}` };
    cores -= d.totalCores;
    memory -= d.memoryKiB;
  }
  return null;
}

function placementOf(d: Decided, host: string, T: number, ledgers: ReadonlyMap<number, Ledger>, cpuNodes: number[]): VmPlacement {
  const cores = d.cores!;
  const vcpupin = cores.flatMap((c) => c.threads);
  let emulatorpin: number[];
  if (d.emulatorCore) emulatorpin = [...d.emulatorCore.threads];
  else {
    const nodes = d.node !== null ? [d.node] : [...new Set(cores.map((c) => c.node))];
    emulatorpin = threadsOf(nodes.flatMap((n) => ledgers.get(n)!.budget.reservedCores));
    if (emulatorpin.length === 0) emulatorpin = threadsOf([...ledgers.values()].flatMap((l) => l.budget.reservedCores));
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

function hostPlanOf(hostReq: HostRequest, topology: HostTopology, ledgers: ReadonlyMap<number, Ledger>): HostPlan {
  return {
    name: hostReq.name,
    capabilities: hostReq.capabilities,
    threadsPerCore: topology.threadsPerCore,
    nodes: [...ledgers.values()].map((l) => ({
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
