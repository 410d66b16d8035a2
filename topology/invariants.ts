// Every rule a placement must obey (docs/placement-rules.md, "The rules"), each as a check that
// returns structured violations. It recomputes budgets from the captures and the request and
// trusts nothing the planner wrote, so the planner's tests, `check` and the policy pack can all
// judge a plan with it.
import { Core, HostTopology } from "./host-topology";
import { NodeBudget, hostBudgets } from "./node-budget";
import { gib } from "./units";
import { Plan, VmPlacement } from "./placement";
import { HUGEPAGE_KIB, PlacementRequest, memoryKiB, requestedHost } from "./request";

export type RuleId =
  | "requested"
  | "online-threads"
  | "whole-cores"
  | "exclusive-vcpus"
  | "reserve-respected"
  | "single-node"
  | "emulator-isolated"
  | "shared-emulator"
  | "node-memory"
  | "hugepages"
  | "floating";

export interface Violation {
  rule: RuleId;
  host: string;
  /** The VM at fault, or null for a rule about a node's totals. */
  vm: string | null;
  detail: string;
}

interface HostView {
  topology: HostTopology;
  budgets: Map<number, NodeBudget>;
  /** Every online core by each of its threads. */
  coreOf: Map<number, Core>;
  reserved: Set<number>;
}

export function checkPlan(plan: Plan, request: PlacementRequest, topologies: ReadonlyMap<string, HostTopology>): Violation[] {
  const out: Violation[] = [];
  const views = new Map<string, HostView>();
  for (const h of request.hosts) {
    const topology = topologies.get(h.name);
    if (!topology) {
      out.push({ rule: "requested", host: h.name, vm: null, detail: `no capture was given for host ${h.name}` });
      continue;
    }
    const budgets = new Map(hostBudgets(topology, h.reserve).map((b) => [b.node.id, b]));
    const coreOf = new Map<number, Core>();
    for (const n of topology.nodes) for (const c of n.cores) for (const t of c.threads) coreOf.set(t, c);
    const reserved = new Set([...budgets.values()].flatMap((b) => b.reservedCores.flatMap((c) => c.threads)));
    views.set(h.name, { topology, budgets, coreOf, reserved });
  }
  checkRequested(plan, request, views, out);
  for (const [host, view] of views) {
    const vms = plan.vms.filter((vm) => vm.host === host);
    for (const vm of vms) checkVm(vm, view, out);
    checkHostTotals(host, vms, view, out);
  }
  return out;
}

function checkRequested(plan: Plan, request: PlacementRequest, views: Map<string, HostView>, out: Violation[]): void {
  const placed = new Map<string, VmPlacement[]>();
  for (const p of plan.vms) placed.set(p.name, [...(placed.get(p.name) ?? []), p]);
  for (const vm of request.vms) {
    const found = placed.get(vm.name) ?? [];
    // A VM without a host (several hosts) may be on any host of the request.
    const host = requestedHost(request, vm) ?? (found.length === 1 && request.hosts.some((h) => h.name === found[0].host) ? found[0].host : request.hosts.map((h) => h.name).join("|"));
    const v = (detail: string) => out.push({ rule: "requested", host, vm: vm.name, detail });
    if (found.length !== 1) {
      v(`placed ${found.length} times, requested once`);
      continue;
    }
    const p = found[0];
    const view = views.get(host);
    if (p.host !== host) v(`placed on ${p.host}, requested on ${host}`);
    if (!view) continue;
    const T = view.topology.threadsPerCore;
    if (p.vcpus !== vm.cores * T || p.vcpupin.length !== p.vcpus) v(`has ${p.vcpus} vCPUs and ${p.vcpupin.length} pins; requested ${vm.cores} cores x ${T} threads`);
    if (p.memoryKiB !== memoryKiB(vm.memoryGiB)) v(`has ${gib(p.memoryKiB)}; requested ${vm.memoryGiB} GiB`);
    if (vm.numa === "strict" && p.node === null) v(`is floating; requested numa: strict`);
    if (vm.numa === "floating" && p.node !== null) v(`is on node ${p.node}; requested numa: floating`);
    if (vm.node !== "auto" && p.node !== vm.node) v(`is on node ${p.node}; requested node ${vm.node}`);
    if (p.emulator !== vm.emulator) v(`has emulator: ${p.emulator}; requested ${vm.emulator}`);
    const pages = vm.hugepages ? { sizeKiB: HUGEPAGE_KIB[vm.hugepages], count: memoryKiB(vm.memoryGiB) / HUGEPAGE_KIB[vm.hugepages] } : null;
    if (JSON.stringify(p.hugepages) !== JSON.stringify(pages)) v(`has huge pages ${JSON.stringify(p.hugepages)}; requested ${JSON.stringify(pages)}`);
  }
  for (const name of placed.keys())
    if (!request.vms.some((vm) => vm.name === name)) out.push({ rule: "requested", host: placed.get(name)![0].host, vm: name, detail: "is placed but not requested" });
}

function checkVm(p: VmPlacement, view: HostView, out: Violation[]): void {
  const v = (rule: RuleId, detail: string) => out.push({ rule, host: p.host, vm: p.name, detail });
  const T = view.topology.threadsPerCore;
  const online = new Set(view.topology.nodes.flatMap((n) => n.threads.filter((t) => t.online).map((t) => t.id)));
  for (const t of [...p.vcpupin, ...p.emulatorpin, ...p.iothreadpin]) if (!online.has(t)) v("online-threads", `thread ${t} is not an online thread of the host`);

  // vCPUs k*T .. k*T+T-1 are exactly the threads of one complete core.
  if (p.topology.threads !== T || p.topology.cores * T !== p.vcpus || p.topology.sockets !== 1 || p.topology.dies !== 1)
    v("whole-cores", `guest topology ${JSON.stringify(p.topology)} does not match ${p.vcpus} vCPUs on cores of ${T} threads`);
  for (let k = 0; k < p.vcpupin.length; k += T) {
    const group = p.vcpupin.slice(k, k + T);
    const core = view.coreOf.get(group[0]);
    const same = core && core.complete && core.threads.length === group.length && [...group].sort((a, b) => a - b).every((t, i) => t === core.threads[i]);
    if (!same) v("whole-cores", `vCPUs ${k}-${k + T - 1} are on threads ${group.join(",")}, not the sibling threads of one complete core`);
  }
  for (const t of p.vcpupin) if (view.reserved.has(t)) v("reserve-respected", `vCPU on thread ${t}, a reserved core`);

  const nodeOfThread = (t: number) => view.coreOf.get(t)?.node;
  if (p.node !== null) {
    const off = [...p.vcpupin, ...p.emulatorpin, ...p.iothreadpin].filter((t) => nodeOfThread(t) !== p.node);
    if (off.length > 0) v("single-node", `threads ${[...new Set(off)].join(",")} are not on its node ${p.node}`);
    if (p.numatune.mode !== "strict" || p.numatune.nodeset.length !== 1 || p.numatune.nodeset[0] !== p.node)
      v("single-node", `numatune ${p.numatune.mode} ${p.numatune.nodeset.join(",")} is not strict to node ${p.node}`);
  }
  if (p.emulatorpin.length === 0) v("emulator-isolated", "has no emulator threads");
  if (p.emulator === "shared") {
    const notReserved = p.emulatorpin.filter((t) => !view.reserved.has(t));
    if (notReserved.length > 0) v("shared-emulator", `shared emulator threads ${notReserved.join(",")} are not on reserved cores`);
  } else {
    const core = view.coreOf.get(p.emulatorpin[0]);
    const whole = core && core.complete && core.threads.length === p.emulatorpin.length && p.emulatorpin.every((t) => core.threads.includes(t));
    if (!whole) v("emulator-isolated", `dedicated emulator threads ${p.emulatorpin.join(",")} are not one whole core`);
    const reserved = p.emulatorpin.filter((t) => view.reserved.has(t));
    if (reserved.length > 0) v("emulator-isolated", `dedicated emulator core ${p.emulatorpin.join(",")} is a reserved core`);
  }
  if (p.hugepages && p.hugepages.sizeKiB * p.hugepages.count !== p.memoryKiB)
    v("hugepages", `${p.hugepages.count} pages of ${p.hugepages.sizeKiB} KiB are not its ${p.memoryKiB} KiB`);
}

function checkHostTotals(host: string, vms: VmPlacement[], view: HostView, out: Violation[]): void {
  // Each thread is a vCPU of at most one VM, and never also an emulator or iothread.
  const vcpuOwner = new Map<number, string>();
  for (const p of vms)
    for (const t of p.vcpupin) {
      const other = vcpuOwner.get(t);
      if (other !== undefined) out.push({ rule: "exclusive-vcpus", host, vm: p.name, detail: `thread ${t} is also a vCPU of ${other}` });
      else vcpuOwner.set(t, p.name);
    }
  const dedicatedOwner = new Map<number, string>();
  for (const p of vms) {
    for (const t of new Set([...p.emulatorpin, ...p.iothreadpin])) {
      const owner = vcpuOwner.get(t);
      if (owner !== undefined) out.push({ rule: "emulator-isolated", host, vm: p.name, detail: `emulator/iothread on thread ${t}, a vCPU of ${owner}` });
    }
    if (p.emulator === "dedicated")
      for (const t of p.emulatorpin) {
        const other = dedicatedOwner.get(t);
        if (other !== undefined) out.push({ rule: "emulator-isolated", host, vm: p.name, detail: `dedicated emulator thread ${t} is also ${other}'s` });
        else dedicatedOwner.set(t, p.name);
      }
  }

  // Memory per node: ordinary memory within the budget, huge pages within the pools.
  const cpuNodes = [...view.budgets.values()].filter((b) => b.usableCores.length > 0 && b.vmMemoryKiB > 0);
  let freeForFloating = 0;
  for (const b of view.budgets.values()) {
    const strict = vms.filter((p) => p.node === b.node.id);
    const ordinary = strict.filter((p) => !p.hugepages).reduce((sum, p) => sum + p.memoryKiB, 0);
    if (ordinary > b.vmMemoryKiB)
      out.push({ rule: "node-memory", host, vm: null, detail: `node ${b.node.id}: its VMs take ${gib(ordinary)}, it has ${gib(b.vmMemoryKiB)} for VMs after huge pages and the reserve` });
    if (cpuNodes.includes(b)) freeForFloating += Math.max(0, b.vmMemoryKiB - ordinary);
    const bySize = new Map<number, number>();
    for (const p of strict) if (p.hugepages) bySize.set(p.hugepages.sizeKiB, (bySize.get(p.hugepages.sizeKiB) ?? 0) + p.hugepages.count);
    for (const [size, count] of bySize) {
      const pool = b.hugepages.get(size) ?? 0;
      if (count > pool) out.push({ rule: "hugepages", host, vm: null, detail: `node ${b.node.id}: its VMs take ${count} pages of ${size} KiB, it has ${pool}` });
    }
  }

  // Floating VMs: memory interleaved over the CPU nodes, within their combined free memory.
  const floating = vms.filter((p) => p.node === null);
  const want = cpuNodes.map((b) => b.node.id).sort((a, b) => a - b);
  for (const p of floating) {
    if (p.numatune.mode !== "interleave" || p.numatune.nodeset.join(",") !== want.join(","))
      out.push({ rule: "floating", host, vm: p.name, detail: `numatune ${p.numatune.mode} ${p.numatune.nodeset.join(",")} is not interleave over the CPU nodes ${want.join(",")}` });
    if (p.hugepages) out.push({ rule: "floating", host, vm: p.name, detail: "a floating VM cannot use huge pages" });
  }
  const floatingKiB = floating.reduce((sum, p) => sum + p.memoryKiB, 0);
  if (floatingKiB > freeForFloating)
    out.push({ rule: "floating", host, vm: null, detail: `floating VMs take ${gib(floatingKiB)}, the CPU nodes have ${gib(freeForFloating)} free together` });
}

/** One line per violation: "rule host/vm: detail". */
export function formatViolation(v: Violation): string {
  return `${v.rule} ${v.host}${v.vm ? `/${v.vm}` : ""}: ${v.detail}`;
}
