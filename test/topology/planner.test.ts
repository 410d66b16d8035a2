// The planner over named hosts, as tables: each case is a request on a host declared once, with
// the facts its plan must show (and checkPlan finding nothing) or the no-fit it must explain.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { capabilitiesXml, regularHost, topologyOf, type SyntheticHostName } from "../fixtures/hosts";
import { parseCapabilities, readCapabilities } from "../../topology/capabilities";
import type { HostTopology } from "../../topology/host-topology";
import { checkPlan } from "../../topology/invariants";
import type { Plan, VmPlacement } from "../../topology/placement";
import { planPlacement, type NoFit, type PlanOutcome } from "../../topology/planner";
import { PlacementRequestSchema, type PlacementRequest } from "../../topology/request";

const GiB = 1024 * 1024;

/** 2 nodes of 11 cores x 2 threads: 10 cores per node for VMs after the default reserve. */
const tenFreeCoresPerNode = parseCapabilities(
  capabilitiesXml(regularHost({ name: "tenFreeCoresPerNode", sockets: 2, nodesPerSocket: 1, coresPerNode: 11, threadsPerCore: 2, memoryGiBPerNode: 64 })),
  "synthetic:tenFreeCoresPerNode",
);

const named = (name: SyntheticHostName) => topologyOf(name);
const hosts: Record<string, HostTopology> = {
  reference: named("reference2x18ht"),
  epycNps4: named("epycNps4"),
  power9Smt4Sparse: named("power9Smt4Sparse"),
  power8Smt8: named("power8Smt8"),
  armNoSmt: named("armNoSmt"),
  offlineSibling: named("offlineSibling"),
  cpulessNode: named("cpulessNode"),
  big8Node1024: named("big8Node1024"),
  tenFreeCoresPerNode,
};

type VmEntry = Record<string, unknown>;
interface Planned {
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
  outcome: PlanOutcome;
}

function planOn(topology: HostTopology, vms: VmEntry[], reserve?: { coresPerNode: number; memoryGiBPerNode: number }): Planned {
  const request = PlacementRequestSchema.parse({ hosts: [{ name: "h", capabilities: topology.source, ...(reserve ? { reserve } : {}) }], vms });
  const topologies = new Map([["h", topology]]);
  return { request, topologies, outcome: planPlacement({ request, topologies }) };
}

function loadRequest(file: string): Planned {
  const request = PlacementRequestSchema.parse(parse(readFileSync(file, "utf8")));
  const topologies = new Map(request.hosts.map((h) => [h.name, readCapabilities(resolve(dirname(file), h.capabilities))]));
  return { request, topologies, outcome: planPlacement({ request, topologies }) };
}

/** The plan, after checking that invariants.ts finds nothing wrong with it. */
function placed(p: Planned): Plan {
  if (p.outcome.kind !== "placed") throw new Error(`expected a placement, got: ${p.outcome.problems.map((x) => x.message).join(" | ")}`);
  expect(checkPlan(p.outcome.plan, p.request, p.topologies)).toEqual([]);
  return p.outcome.plan;
}

function problems(p: Planned): NoFit[] {
  if (p.outcome.kind !== "no-fit") throw new Error(`expected no-fit, got a plan: ${JSON.stringify(p.outcome.plan.vms.map((v) => [v.name, v.node]))}`);
  return p.outcome.problems;
}

const vm = (plan: Plan, name: string): VmPlacement => plan.vms.find((v) => v.name === name)!;
const nodeOfThread = (t: HostTopology, thread: number) => t.nodes.find((n) => n.threads.some((x) => x.id === thread))!.id;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// ---- cases that place -------------------------------------------------------------------------

interface PlacedCase {
  name: string;
  host: keyof typeof hosts;
  reserve?: { coresPerNode: number; memoryGiBPerNode: number };
  vms: VmEntry[];
  /** Facts of this plan beyond checkPlan's rules. */
  expect: (plan: Plan, topology: HostTopology) => void;
}

const placedCases: PlacedCase[] = [
  {
    name: "EPYC NPS4: eight 7-core VMs take one node each (7 free cores per node)",
    host: "epycNps4",
    vms: range(0, 7).map((i) => ({ name: `w${i}`, cores: 7, memoryGiB: 16 })),
    expect: (plan) => {
      expect(plan.vms.map((v) => v.node).sort()).toEqual(range(0, 7));
      for (const v of plan.vms) expect(v.topology).toEqual({ sockets: 1, dies: 1, cores: 7, threads: 2 });
    },
  },
  {
    name: "POWER9 SMT4, sparse node ids: explicit node 8 gets 4 threads per core, consecutive",
    host: "power9Smt4Sparse",
    vms: [{ name: "p", node: 8, cores: 3, memoryGiB: 32 }, { name: "q", cores: 19, memoryGiB: 64 }],
    expect: (plan, t) => {
      const p = vm(plan, "p");
      expect(p.node).toBe(8);
      expect(p.vcpus).toBe(12);
      expect(p.topology.threads).toBe(4);
      for (let k = 0; k < p.vcpus; k += 4) expect(p.vcpupin.slice(k, k + 4)).toEqual(range(p.vcpupin[k], p.vcpupin[k] + 3));
      expect(p.vcpupin.every((x) => nodeOfThread(t, x) === 8)).toBe(true);
      // 19 cores fit only on node 0 once p took 3 of node 8's 19 free cores.
      expect(vm(plan, "q").node).toBe(0);
    },
  },
  {
    name: "POWER8 SMT8 on nodes 0, 1, 16, 17: node 17 gives 8 threads per core",
    host: "power8Smt8",
    vms: [{ name: "p8", node: 17, cores: 4, memoryGiB: 48 }],
    expect: (plan, t) => {
      const p = vm(plan, "p8");
      expect([p.node, p.vcpus, p.topology.threads, p.topology.cores]).toEqual([17, 32, 8, 4]);
      expect(p.numatune).toEqual({ mode: "strict", nodeset: [17] });
      expect(p.emulatorpin.every((x) => nodeOfThread(t, x) === 17)).toBe(true);
    },
  },
  {
    name: "ARM without SMT: one vCPU per core, 31 of 32 cores on one node",
    host: "armNoSmt",
    vms: [{ name: "a", cores: 31, memoryGiB: 100 }, { name: "b", cores: 31, memoryGiB: 100 }],
    expect: (plan) => {
      expect(plan.vms.map((v) => [v.vcpus, v.topology.threads])).toEqual([[31, 1], [31, 1]]);
      expect(new Set(plan.vms.map((v) => v.node)).size).toBe(2);
    },
  },
  {
    name: "offline sibling: the incomplete core is node 0's reserve and never a vCPU",
    host: "offlineSibling",
    vms: [{ name: "all-of-node-0", node: 0, cores: 7, memoryGiB: 20 }, { name: "n1", node: 1, cores: 7, memoryGiB: 20 }],
    expect: (plan, t) => {
      const incomplete = t.nodes.flatMap((n) => n.cores.filter((c) => !c.complete).flatMap((c) => c.threads));
      expect(incomplete).toEqual([3, 12]);
      for (const v of plan.vms) expect(v.vcpupin.filter((x) => incomplete.includes(x))).toEqual([]);
      // The reserve of one core per node is met by the incomplete core alone.
      expect(plan.hosts[0].nodes.map((n) => n.reservedThreads)).toEqual([[3], [12]]);
      expect(vm(plan, "all-of-node-0").emulatorpin).toEqual([3]);
    },
  },
  {
    name: "CPU-less node: VMs fill the CPU nodes and never get node 2",
    host: "cpulessNode",
    // 7 + 7 usable cores, filled exactly.
    vms: [1, 2, 3, 4, 4].map((c, i) => ({ name: `v${i}`, cores: c, memoryGiB: 8 })),
    expect: (plan) => {
      expect(plan.vms.every((v) => v.node === 0 || v.node === 1)).toBe(true);
      expect(plan.hosts[0].nodes.find((n) => n.id === 2)!.vmMemoryKiB).toBe(0);
    },
  },
  {
    name: "floating VM: whole cores over several nodes, memory interleaved over the CPU nodes",
    host: "epycNps4",
    vms: [{ name: "big", numa: "floating", cores: 10, memoryGiB: 40 }],
    expect: (plan, t) => {
      const v = vm(plan, "big");
      expect(v.node).toBeNull();
      expect(new Set(v.vcpupin.map((x) => nodeOfThread(t, x))).size).toBeGreaterThan(1);
      expect(v.numatune).toEqual({ mode: "interleave", nodeset: range(0, 7) });
    },
  },
  {
    name: "floating VM on a host with a CPU-less node: interleave leaves the memory-only node out",
    host: "cpulessNode",
    vms: [{ name: "f", numa: "floating", cores: 9, memoryGiB: 64 }],
    expect: (plan) => expect(vm(plan, "f").numatune).toEqual({ mode: "interleave", nodeset: [0, 1] }),
  },
  {
    name: "dedicated emulator: one more whole core on the VM's node, its own",
    host: "reference",
    vms: [{ name: "d", node: 1, cores: 4, memoryGiB: 16, emulator: "dedicated" }, { name: "s", node: 1, cores: 4, memoryGiB: 16 }],
    expect: (plan, t) => {
      const d = vm(plan, "d");
      expect(d.emulatorpin).toHaveLength(2);
      const core = t.nodes.flatMap((n) => n.cores).find((c) => c.threads[0] === d.emulatorpin[0])!;
      expect(core.threads).toEqual(d.emulatorpin);
      expect(core.node).toBe(1);
      const node1 = plan.hosts[0].nodes.find((n) => n.id === 1)!;
      expect(node1.reservedThreads.some((x) => d.emulatorpin.includes(x))).toBe(false);
      // 17 usable cores - (4 + 1) - 4 = 8 free cores left.
      expect(node1.freeThreads).toHaveLength(8 * 2);
      expect(vm(plan, "s").emulatorpin).toEqual(node1.reservedThreads);
    },
  },
  {
    name: "reserve.coresPerNode 0 with emulator: dedicated: all 18 cores are usable",
    host: "reference",
    reserve: { coresPerNode: 0, memoryGiBPerNode: 4 },
    vms: [{ name: "d", node: 0, cores: 17, memoryGiB: 100, emulator: "dedicated" }],
    expect: (plan) => {
      expect(plan.hosts[0].nodes[0].reservedThreads).toEqual([]);
      expect(plan.hosts[0].nodes[0].freeThreads).toEqual([]);
    },
  },
  {
    name: "1G huge pages come from the node's pool, memory stays out of the ordinary budget",
    host: "big8Node1024",
    vms: [{ name: "hp", node: 3, cores: 8, memoryGiB: 64, hugepages: "1G" }, { name: "plain", node: 3, cores: 8, memoryGiB: 188 }],
    expect: (plan) => {
      expect(vm(plan, "hp").hugepages).toEqual({ sizeKiB: GiB, count: 64 });
      const node3 = plan.hosts[0].nodes.find((n) => n.id === 3)!;
      // 256 GiB - 64 GiB of pages - 4 GiB reserve = 188 GiB, all of it for `plain`.
      expect(node3.freeMemoryKiB).toBe(0);
    },
  },
  {
    name: "first-fit in request order strands the 7s; the planner puts 3+7 on each node",
    host: "tenFreeCoresPerNode",
    vms: [3, 3, 7, 7].map((c, i) => ({ name: `v${i}`, cores: c, memoryGiB: 8 })),
    expect: (plan) => {
      expect(firstFitNodes([3, 3, 7, 7], [10, 10])).toBeNull();
      for (const node of [0, 1]) expect(plan.vms.filter((v) => v.node === node).reduce((s, v) => s + v.topology.cores, 0)).toBe(10);
    },
  },
];

/** Nova-style first-fit in request order: the strategy the contract says is not enough. */
function firstFitNodes(cores: number[], free: number[]): number[] | null {
  const left = [...free];
  const nodes: number[] = [];
  for (const c of cores) {
    const n = left.findIndex((f) => f >= c);
    if (n < 0) return null;
    left[n] -= c;
    nodes.push(n);
  }
  return nodes;
}

describe.each(placedCases)("$host: $name", ({ host, reserve, vms, expect: facts }) => {
  it("places every VM, obeys every rule and shows the expected facts", () => {
    const p = planOn(hosts[host], vms, reserve);
    facts(placed(p), hosts[host]);
  });
});

// ---- cases that do not fit --------------------------------------------------------------------

interface NoFitCase {
  name: string;
  host: keyof typeof hosts;
  reserve?: { coresPerNode: number; memoryGiBPerNode: number };
  vms: VmEntry[];
  vm: string;
  field: NoFit["field"];
  /** Words the one-line message must contain (what, where, what is free). */
  words: string[];
}

const noFitCases: NoFitCase[] = [
  { name: "a node the host does not have", host: "reference", vms: [{ name: "x", node: 5, cores: 2, memoryGiB: 4 }], vm: "x", field: "node", words: ["no node 5", "0, 1"] },
  { name: "sparse ids: node 1 is not a POWER9 node", host: "power9Smt4Sparse", vms: [{ name: "x", node: 1, cores: 2, memoryGiB: 4 }], vm: "x", field: "node", words: ["no node 1", "0, 8"] },
  { name: "explicit CPU-less node", host: "cpulessNode", vms: [{ name: "mem", node: 2, cores: 1, memoryGiB: 4 }], vm: "mem", field: "node", words: ["node 2", "no CPUs"] },
  { name: "more cores than node 0 has after its reserve", host: "reference", vms: [{ name: "big", node: 0, cores: 18, memoryGiB: 8 }], vm: "big", field: "cores", words: ["node 0", "17 free cores", "needs 18", "cores <= 17"] },
  { name: "one free core left is said in the singular", host: "reference", vms: [{ name: "a", node: 0, cores: 16, memoryGiB: 8 }, { name: "b", node: 0, cores: 2, memoryGiB: 8 }], vm: "b", field: "cores", words: ["1 free core after", "16 taken by a", "needs 2"] },
  { name: "incomplete core not given out: node 0 of offlineSibling has 7 usable cores", host: "offlineSibling", vms: [{ name: "eight", node: 0, cores: 8, memoryGiB: 8 }], vm: "eight", field: "cores", words: ["7 free cores", "needs 8"] },
  { name: "ARM: 32 cores on a 32-core node with one reserved", host: "armNoSmt", vms: [{ name: "x", cores: 32, memoryGiB: 8 }], vm: "x", field: "cores", words: ["x", "node auto", "31 cores"] },
  { name: "EPYC: an 8-core VM on nodes of 7 free cores", host: "epycNps4", vms: [{ name: "w0", cores: 2, memoryGiB: 4 }, { name: "x", cores: 8, memoryGiB: 16 }], vm: "x", field: "cores", words: ["x (8 cores", "no node", "in any arrangement", "node 7: 7 cores"] },
  { name: "memory beyond node 0's budget", host: "reference", vms: [{ name: "fat", node: 0, cores: 2, memoryGiB: 123 }], vm: "fat", field: "memoryGiB", words: ["node 0", "122 GiB free", "needs 123 GiB"] },
  { name: "1G pages on a host without any", host: "reference", vms: [{ name: "hp", node: 0, cores: 2, memoryGiB: 8, hugepages: "1G" }], vm: "hp", field: "hugepages", words: ["0 free 1G pages", "needs 8"] },
  { name: "more 1G pages than node 3 holds", host: "big8Node1024", vms: [{ name: "hp", node: 3, cores: 2, memoryGiB: 65, hugepages: "1G" }], vm: "hp", field: "hugepages", words: ["64 free 1G pages", "needs 65"] },
  {
    name: "reserve.coresPerNode 0 with a shared emulator",
    host: "reference",
    reserve: { coresPerNode: 0, memoryGiBPerNode: 4 },
    vms: [{ name: "s", node: 0, cores: 4, memoryGiB: 16 }],
    vm: "s",
    field: "emulator",
    words: ["reserve.coresPerNode = 0", "dedicated"],
  },
  { name: "dedicated emulator needs the extra core", host: "reference", vms: [{ name: "d", node: 0, cores: 17, memoryGiB: 16, emulator: "dedicated" }], vm: "d", field: "cores", words: ["needs 18 (17 + 1 dedicated emulator core)"] },
  { name: "floating VM beyond the host's leftover cores", host: "reference", vms: [{ name: "a", node: 0, cores: 17, memoryGiB: 8 }, { name: "f", numa: "floating", cores: 18, memoryGiB: 8 }], vm: "f", field: "cores", words: ["floating", "17 whole cores", "needs 18"] },
];

describe.each(noFitCases)("$host: $name", ({ host, reserve, vms, vm: name, field, words }) => {
  it(`is refused, naming ${name} and ${field}`, () => {
    const [problem, ...rest] = problems(planOn(hosts[host], vms, reserve));
    expect(rest).toEqual([]);
    expect({ vm: problem.vm, field: problem.field }).toEqual({ vm: name, field });
    for (const w of words) expect(problem.message).toContain(w);
    expect(problem.message).not.toContain("\n");
  });
});

// ---- the documents' layouts -------------------------------------------------------------------

const requests = join(__dirname, "../fixtures/requests");

describe("the documents' layouts on the reference host", () => {
  it("single: VM1 on node 0's cores 0-15, the three node-1 VMs share node 1's reserved threads", () => {
    const plan = placed(loadRequest(join(requests, "single.yaml")));
    const heavy = vm(plan, "k3s-worker-slm-heavy");
    expect(heavy.node).toBe(0);
    expect(heavy.vcpupin).toEqual(range(0, 15).flatMap((c) => [c, c + 36]));
    expect(heavy.vcpupin.slice(0, 4)).toEqual([0, 36, 1, 37]);
    expect(heavy.topology).toEqual({ sockets: 1, dies: 1, cores: 16, threads: 2 });
    const node1 = plan.hosts[0].nodes.find((n) => n.id === 1)!;
    expect(node1.reservedThreads).toEqual([34, 35, 70, 71]);
    for (const name of ["k3s-worker-data", "k3s-worker-slm", "k3s-server-tasks"]) {
      expect(vm(plan, name).node).toBe(1);
      expect(vm(plan, name).emulatorpin).toEqual(node1.reservedThreads);
    }
  });

  it("mac-numa as the documents wrote it is refused, naming the storage VM", () => {
    const [problem] = problems(loadRequest(join(requests, "mac-numa-original.yaml")));
    expect(problem.vm).toBe("k3s-minio-storage");
    expect(problem.message).toContain("k3s-minio-storage");
    expect(problem.message).toContain("floating");
  });

  it("is deterministic: the same input twice gives byte-identical JSON", () => {
    const a = loadRequest(join(requests, "single.yaml"));
    const b = loadRequest(join(requests, "single.yaml"));
    expect(JSON.stringify(b.outcome)).toBe(JSON.stringify(a.outcome));
    const big = () => planOn(hosts.big8Node1024, range(0, 40).map((i) => ({ name: `v${i}`, cores: 1 + (i % 8), memoryGiB: 8 + (i % 5) })));
    expect(JSON.stringify(big().outcome)).toBe(JSON.stringify(big().outcome));
  });
});

describe("request schema", () => {
  it("refuses memory that is not a whole number of huge pages, naming the field", () => {
    const r = PlacementRequestSchema.safeParse({ hosts: [{ name: "h", capabilities: "x" }], vms: [{ name: "hp", cores: 1, memoryGiB: 1.5, hugepages: "1G" }] });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.path.join("."))).toContain("vms.0.memoryGiB");
  });
});

// ---- real captures ----------------------------------------------------------------------------

const captures = join(__dirname, "../fixtures/capabilities");

/** One strict 1-core VM (2M pages where the capture's memory is all huge pages) and one floating. */
const realCaptureCases: { file: string; vms: VmEntry[]; placed: boolean }[] = [
  { file: "intel-2s-cascadelake-ht-virttuner.xml", vms: [{ name: "s", cores: 2, memoryGiB: 8 }, { name: "f", numa: "floating", cores: 30, memoryGiB: 16 }], placed: true },
  { file: "intel-2s-sandybridge-ht-distances-vdsm.xml", vms: [{ name: "s", node: 1, cores: 5, memoryGiB: 16 }], placed: true },
  { file: "intel-1s-westmere-e5606-uma-socket1-vdsm.xml", vms: [{ name: "s", cores: 3, memoryGiB: 4 }], placed: true },
  { file: "intel-2s-westmere-no-cpu-attrs-libvirt.xml", vms: [{ name: "s", cores: 11, memoryGiB: 4 }], placed: true },
  { file: "amd-uma-cmt-nonadjacent-siblings-lxc-virtmanager.xml", vms: [{ name: "s", cores: 3, memoryGiB: 4 }], placed: true },
  { file: "amd-epyc-2s-4dies-per-socket-resctrl-libvirt.xml", vms: [{ name: "s", cores: 15, memoryGiB: 2, hugepages: "2M" }], placed: true },
  { file: "arm64-ampere-altra-2s-neoverse-n1-virtmanager.xml", vms: [{ name: "s", cores: 79, memoryGiB: 200 }, { name: "t", cores: 79, memoryGiB: 200 }], placed: true },
  { file: "arm64-apm-mustang-uma-virtmanager.xml", vms: [{ name: "s", cores: 7, memoryGiB: 8 }], placed: true },
  { file: "arm64-2node-clusters-sparse-socket-ids-libvirt.xml", vms: [{ name: "s", cores: 1, memoryGiB: 2, hugepages: "2M" }], placed: true },
  { file: "power8-ppc64le-2node-smt8-virtmanager.xml", vms: [{ name: "s", cores: 5, memoryGiB: 16 }], placed: true },
  { file: "power8-ppc64le-s822l-4node-smt-off-vdsm.xml", vms: [{ name: "s", node: 17, cores: 4, memoryGiB: 32 }], placed: true },
  { file: "power8e-ppc64le-4node-offline-cpus-virtmanager.xml", vms: [{ name: "s", node: 16, cores: 4, memoryGiB: 32 }], placed: true },
  { file: "power8-ppc64-s822l-cells-without-memory-vdsm.xml", vms: [{ name: "s", node: 1, cores: 1, memoryGiB: 1 }], placed: false },
  { file: "s390x-uma-double-quoted-virtmanager.xml", vms: [{ name: "s", cores: 3, memoryGiB: 1 }], placed: true },
  { file: "x86-2s-3dies-single-cell-libvirt.xml", vms: [{ name: "s", cores: 11, memoryGiB: 2, hugepages: "2M" }], placed: true },
  { file: "x86-hmat-cpuless-memory-node-libvirt.xml", vms: [{ name: "s", node: 1, cores: 1, memoryGiB: 2, hugepages: "2M" }], placed: false },
  { file: "amd-opteron6274-2s-4node-vdsm.xml", vms: [{ name: "s", cores: 1, memoryGiB: 1 }], placed: false },
  { file: "intel-2s-westmere-e5649-ht-interleaved-vdsm.xml", vms: [{ name: "s", cores: 1, memoryGiB: 1 }], placed: false },
];

describe.each(realCaptureCases)("real capture $file", ({ file, vms, placed: shouldPlace }) => {
  it(shouldPlace ? "places the request within the rules" : "refuses the request with one line naming the VM", () => {
    const p = planOn(readCapabilities(join(captures, file)), vms, { coresPerNode: 1, memoryGiBPerNode: 0 });
    if (shouldPlace) {
      const plan = placed(p);
      expect(plan.vms.map((v) => v.name)).toEqual(vms.map((v) => v.name));
    } else {
      const [problem] = problems(p);
      expect(problem.vm).toBe("s");
      expect(problem.message).not.toContain("\n");
    }
  });
});
