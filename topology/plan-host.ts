// The planner's last steps over one host's ledger, once every VM has its node (or, floating, its
// host): which cores each VM gets, and the placements and host plan that come out.
import type { Core, HostTopology } from "./host-topology";
import { chooseCores, packCores } from "./core-selection";
import { Demand, HostLedger, Ledger, isCpuNode, take } from "./ledger";
import { groupKey } from "./l3-domains";
import { domainsOf, type InDomains } from "./l3-placement";
import { threadsOf } from "./node-budget";
import { HostPlan, VmPlacement } from "./placement";
import { memoryKiB } from "./request";

/** A VM whose host and node are decided; its cores once chosen. */
export interface Decided {
  demand: Demand;
  /** The strict VM's node, or null for a floating VM. */
  node: number | null;
  /** Cores to keep if still free (a resized VM's old cores). */
  preferCores: Core[];
  /** Where the L3 step put its vCPUs, if it ran. */
  domains?: InDomains;
  cores?: Core[];
  emulatorCore?: Core | null;
}

/** Cores for one VM, chosen but not yet taken out of the ledger. */
export type Chosen = { cores: Core[]; emulatorCore: Core | null };

/** The free cores in the same L3 domain as the VM's first core: its emulator core's first choice. */
function sameGroup(free: readonly Core[], cores: readonly Core[]): Core[] {
  return free.filter((c) => groupKey(c) === groupKey(cores[0]));
}

/** Take chosen cores (and the emulator core) out of the ledger for the VM. */
function keep(d: Decided, ledger: Ledger, got: Chosen): void {
  ledger.promised -= d.demand.totalCores;
  d.cores = take(ledger, got.cores);
  d.emulatorCore = got.emulatorCore ? take(ledger, [got.emulatorCore])[0] : null;
}

/** One VM's cores from `free` (not modified) in request order: its preferred ones first (chooseCores). */
function oneByOne(free: readonly Core[], d: Decided): Chosen {
  const cores = chooseCores(free, d.demand.cores, d.preferCores);
  if (!cores) throw new Error(`planner: node ${d.node} has ${free.length} free cores for ${d.demand.vm.name}'s ${d.demand.cores}`);
  const rest = free.filter((c) => !cores.includes(c));
  const emulatorCore = d.demand.vm.emulator === "dedicated" ? (chooseCores(rest, 1, sameGroup(rest, cores)) as Core[])[0] : null;
  return { cores, emulatorCore };
}

/** VMs keeping a resized lock's cores take them first, so that no VM new to the plan takes them. */
export function takePreferred(h: HostLedger, decided: readonly Decided[]): void {
  for (const d of [...decided].sort((a, b) => a.demand.index - b.demand.index)) {
    if (d.cores || d.node === null || d.preferCores.length === 0) continue;
    const ledger = h.ledgers.of(d.node);
    keep(d, ledger, oneByOne(ledger.free, d));
  }
}

/**
 * Cores for the node's VMs without cores, not yet taken: where the node's free cores are in one
 * L3 domain, in request order (chooseCores); where they are in several, together, so that each VM
 * spans as few domains as it can (packCores).
 */
export function plainCores(ledger: Ledger, here: readonly Decided[]): Map<number, Chosen> {
  const out = new Map<number, Chosen>();
  const sorted = [...here].sort((a, b) => a.demand.index - b.demand.index);
  const packed =
    new Set(ledger.free.map(groupKey)).size < 2
      ? null
      : packCores(ledger.free, ledger.budget.node.cores, sorted.map((d) => ({ key: d.demand.index, cores: d.demand.cores, emulator: d.demand.vm.emulator === "dedicated" })));
  let free = [...ledger.free];
  for (const d of sorted) {
    const got = packed?.get(d.demand.index) ?? oneByOne(free, d);
    const used = new Set([...got.cores, ...(got.emulatorCore ? [got.emulatorCore] : [])]);
    free = free.filter((c) => !used.has(c));
    out.set(d.demand.index, got);
  }
  return out;
}

/**
 * Cores for the node's VMs from the domains the L3 step gave them, not yet taken: whole domains,
 * then the rest of the vCPUs in the rest's domain (lowest free cores), in request order; then the
 * VMs it left to any cores of the node (chooseCores); then dedicated emulator cores, in the VM's
 * last domain where one is free.
 */
export function domainCores(ledger: Ledger, here: readonly Decided[]): Map<number, Chosen> {
  const sorted = [...here].sort((a, b) => a.demand.index - b.demand.index);
  let free = [...ledger.free];
  const grab = (cores: Core[]) => {
    const ids = new Set(cores);
    free = free.filter((c) => !ids.has(c));
    return cores;
  };
  const vcpus = new Map<number, Core[]>();
  const { size } = domainsOf(ledger);
  const bug = (d: Decided) => new Error(`planner: the L3 step gave ${d.demand.vm.name} domains without room on node ${ledger.budget.node.id}`);
  for (const d of sorted.filter((x) => x.domains && (x.domains.whole.length > 0 || x.domains.rest !== null))) {
    const { whole, rest } = d.domains as InDomains;
    const cores = whole.flatMap((key) => grab(free.filter((c) => groupKey(c) === key)));
    const left = d.demand.cores - whole.length * size;
    if (left > 0) {
      const inRest = free.filter((c) => groupKey(c) === rest).slice(0, left);
      if (inRest.length < left) throw bug(d);
      cores.push(...grab(inRest));
    }
    if (cores.length !== d.demand.cores) throw bug(d);
    vcpus.set(d.demand.index, cores);
  }
  for (const d of sorted.filter((x) => !vcpus.has(x.demand.index))) {
    const cores = chooseCores(free, d.demand.cores);
    if (!cores) throw bug(d);
    vcpus.set(d.demand.index, grab(cores));
  }
  const out = new Map<number, Chosen>();
  for (const d of sorted) {
    const cores = vcpus.get(d.demand.index) as Core[];
    let emulatorCore: Core | null = null;
    if (d.demand.vm.emulator === "dedicated") {
      const one = chooseCores(free, 1, sameGroup(free, cores.slice(-1)));
      if (!one) throw bug(d);
      emulatorCore = grab(one)[0];
    }
    out.set(d.demand.index, { cores, emulatorCore });
  }
  return out;
}

/** VMs whose vCPUs span more L3 domains than ceil(cores / the node's domain size). */
export function needlessSplits(ledger: Ledger, chosen: ReadonlyMap<number, Chosen>): number {
  const { size } = domainsOf(ledger);
  let count = 0;
  for (const got of chosen.values()) if (size > 0 && new Set(got.cores.map(groupKey)).size > Math.ceil(got.cores.length / size)) count++;
  return count;
}

export interface HostResult {
  placements: { index: number; placement: VmPlacement }[];
  hostPlan: HostPlan;
}

/**
 * planHost, once every VM has its node and its cores are chosen (`chosen`, by request index):
 * 1. Strict VMs take their chosen cores, node by node.
 * 2. Floating VMs: their old cores where still free, then whole cores left anywhere, the roomiest
 *    node first (most free cores, then node id).
 * 3. The placements and the host's plan.
 */
export function planHost(h: HostLedger, decided: readonly Decided[], chosen: ReadonlyMap<number, Chosen>): HostResult {
  const { ledgers } = h;
  for (const d of decided) {
    if (d.cores || d.node === null) continue;
    const got = chosen.get(d.demand.index);
    if (!got) throw new Error(`planner: no cores were chosen for ${d.demand.vm.name}`);
    keep(d, ledgers.of(d.node), got);
  }
  const roomiest = () => ledgers.all().sort((a, b) => b.free.length - a.free.length || a.budget.node.id - b.budget.node.id)[0];
  for (const f of decided.filter((d) => d.node === null && !d.cores)) {
    const cores: Core[] = [];
    const kept = f.preferCores.filter((c) => ledgers.all().some((l) => l.free.includes(c))).slice(0, f.demand.cores);
    for (const c of kept) cores.push(...take(ledgers.ofCore(c), [c]));
    while (cores.length < f.demand.cores) {
      const l = roomiest();
      cores.push(...take(l, chooseCores(l.free, Math.min(l.free.length, f.demand.cores - cores.length)) as Core[]));
    }
    f.cores = cores;
    f.emulatorCore = f.demand.vm.emulator === "dedicated" ? take(roomiest(), chooseCores(roomiest().free, 1) as Core[])[0] : null;
  }
  const T = h.topology.threadsPerCore;
  const cpuNodes = ledgers.all().filter(isCpuNode).map((l) => l.budget.node.id);
  const placements = [...decided]
    .sort((a, b) => a.demand.index - b.demand.index)
    .map((d) => ({ index: d.demand.index, placement: placementOf(d, h, T, cpuNodes) }));
  return { placements, hostPlan: hostPlanOf(h) };
}

function placementOf(d: Decided, h: HostLedger, T: number, cpuNodes: number[]): VmPlacement {
  const cores = d.cores as Core[];
  const vcpupin = cores.flatMap((c) => c.threads);
  let emulatorpin: number[];
  if (d.emulatorCore) emulatorpin = [...d.emulatorCore.threads];
  else {
    const nodes = d.node !== null ? [d.node] : [...new Set(cores.map((c) => c.node))];
    emulatorpin = threadsOf(nodes.flatMap((n) => h.ledgers.of(n).budget.reservedCores));
    if (emulatorpin.length === 0) emulatorpin = threadsOf(h.ledgers.all().flatMap((l) => l.budget.reservedCores));
  }
  const kib = memoryKiB(d.demand.vm.memoryGiB);
  return {
    name: d.demand.vm.name,
    host: h.request.name,
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

function hostPlanOf(h: HostLedger): HostPlan {
  const topology: HostTopology = h.topology;
  return {
    name: h.request.name,
    capabilities: h.request.capabilities,
    threadsPerCore: topology.threadsPerCore,
    nodes: h.ledgers.all().map((l) => ({
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
