import * as path from "path";
import fc from "fast-check";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { Core, HostTopology, NumaNode, Thread } from "../../topology/host-topology";
import { HostPlan, NodeUsage, Plan, VmPlacement } from "../../topology/placement";
import { PICTURE_MAX_WIDTH, VM_PALETTE, renderPicture } from "../../topology/view/picture";
import { readCapabilities } from "../../topology/capabilities";
import { SyntheticHostName, syntheticHosts, topologyOf } from "../fixtures/hosts";
import { expectGolden } from "../golden";

// ---------------------------------------------------------------------------------------------
// Hosts, built the way Linux numbers them: thread t of global core c is t * (all cores) + c, so
// on the reference host the siblings are n and n+36.

interface HostShape {
  sockets: number;
  /** Nodes of the whole host; more than sockets = NPS/SNC, fewer = one node spans sockets. */
  nodes: number;
  coresPerSocket: number;
  threadsPerCore: number;
  memoryGiBPerNode: number | null;
  offline?: number[];
  source?: string;
}

const GiB = 1048576;

function buildHost(shape: HostShape): HostTopology {
  const totalCores = shape.sockets * shape.coresPerSocket;
  const coresPerNode = totalCores / shape.nodes;
  const offline = new Set(shape.offline ?? []);
  const nodes: NumaNode[] = [];
  for (let n = 0; n < shape.nodes; n++) {
    const threads: Thread[] = [];
    const cores: Core[] = [];
    for (let c = n * coresPerNode; c < (n + 1) * coresPerNode; c++) {
      const socket = Math.floor(c / shape.coresPerSocket);
      const siblings: number[] = [];
      for (let t = 0; t < shape.threadsPerCore; t++) {
        const id = t * totalCores + c;
        threads.push({ id, node: n, socket, die: 0, core: c % shape.coresPerSocket, online: !offline.has(id) });
        if (!offline.has(id)) siblings.push(id);
      }
      if (siblings.length > 0) {
        cores.push({ node: n, socket, die: 0, l3: null, threads: siblings, complete: siblings.length === shape.threadsPerCore });
      }
    }
    threads.sort((a, b) => a.id - b.id);
    const memoryKiB = shape.memoryGiBPerNode === null ? null : shape.memoryGiBPerNode * GiB;
    nodes.push({
      id: n,
      memoryKiB,
      pages: memoryKiB === null ? [] : [{ sizeKiB: 4, count: memoryKiB / 4 }],
      distances: [],
      threads,
      cores,
    });
  }
  return { source: shape.source ?? "test", arch: "x86_64", nodes, threadsPerCore: shape.threadsPerCore, warnings: [] };
}

/** The reference host (2 x E5-2697 v4, 18 cores x 2 threads per socket) from its committed capture. */
const topoReference = readCapabilities(path.join(__dirname, "..", "..", "hosts", "reference-2x-e5-2697v4.capabilities.xml"));
/** 1024 threads: 2 sockets x 4 nodes (NPS4) x 64 cores x 2 threads. */
const topo1024 = buildHost({ sockets: 2, nodes: 8, coresPerSocket: 256, threadsPerCore: 2, memoryGiBPerNode: 128 });
/** One node across two sockets (NUMA off in the firmware). */
const topoOneCellTwoSockets = buildHost({ sockets: 2, nodes: 1, coresPerSocket: 4, threadsPerCore: 2, memoryGiBPerNode: 64 });
/** Two nodes, one thread offline (core 2's sibling 10), node 1 without memory data. */
const topoOffline: HostTopology = (() => {
  const host = buildHost({ sockets: 1, nodes: 2, coresPerSocket: 8, threadsPerCore: 2, memoryGiBPerNode: 32, offline: [10] });
  host.nodes[1].memoryKiB = null;
  return host;
})();

// ---------------------------------------------------------------------------------------------
// Plans

interface VmSpec {
  name: string;
  node: number | null;
  /** Global core indexes (thread t of core c is t * cores + c). */
  cores: number[];
  memoryGiB: number;
  emulatorpin: number[];
  nodeset?: number[];
}

function coreThreads(host: HostTopology, core: number): number[] {
  for (const n of host.nodes) {
    const found = n.cores.find((c) => c.threads[0] === core);
    if (found) return found.threads;
  }
  throw new Error(`test host has no core starting at thread ${core}`);
}

function buildPlan(
  name: string,
  host: HostTopology,
  specs: VmSpec[],
  reserved: Record<number, number[]>,
  reserveGiB = 4,
): Plan {
  const vms: VmPlacement[] = specs.map((s) => {
    const vcpupin = s.cores.flatMap((c) => coreThreads(host, c));
    const nodeset = s.nodeset ?? (s.node === null ? host.nodes.map((n) => n.id) : [s.node]);
    return {
      name: s.name,
      host: name,
      node: s.node,
      vcpus: vcpupin.length,
      vcpupin,
      emulatorpin: s.emulatorpin,
      iothreadpin: [],
      memoryKiB: s.memoryGiB * GiB,
      numatune: { mode: s.node === null ? "interleave" : "strict", nodeset },
      topology: { sockets: 1, dies: 1, cores: s.cores.length, threads: host.threadsPerCore },
      hugepages: null,
      emulator: "shared",
    };
  });
  const taken = new Set(vms.flatMap((v) => v.vcpupin));
  const nodes: NodeUsage[] = host.nodes.map((n) => {
    const reservedThreads = reserved[n.id] ?? [];
    const strict = vms.filter((v) => v.node === n.id).reduce((sum, v) => sum + v.memoryKiB, 0);
    const memoryKiB = n.memoryKiB ?? 0;
    // Tests use no huge pages for VMs: the node's huge pages are what its captured pools hold.
    const hugepagesKiB = n.pages.slice(1).reduce((sum, p) => sum + p.sizeKiB * p.count, 0);
    return {
      id: n.id,
      cores: n.cores.length,
      reservedThreads,
      freeThreads: n.cores
        .filter((c) => c.complete)
        .flatMap((c) => c.threads)
        .filter((t) => !taken.has(t) && !reservedThreads.includes(t)),
      memoryKiB,
      hugepagesKiB,
      reserveKiB: reserveGiB * GiB,
      vmMemoryKiB: strict,
      freeMemoryKiB: Math.max(0, memoryKiB - hugepagesKiB - reserveGiB * GiB - strict),
    };
  });
  const hostPlan: HostPlan = { name, capabilities: host.source, threadsPerCore: host.threadsPerCore, nodes };
  return { hosts: [hostPlan], vms };
}

/**
 * A plan for any host: per node, one strict VM on the first half of its complete cores, the
 * last complete core reserved and running the emulators; plus one floating VM on the next free
 * core of each of the first two nodes, so the floating case is drawn on every shape.
 */
function planEveryNode(name: string, host: HostTopology, vmPrefix = "vm"): Plan {
  const specs: VmSpec[] = [];
  const reserved: Record<number, number[]> = {};
  const floating: number[] = [];
  for (const n of host.nodes) {
    const complete = n.cores.filter((c) => c.complete);
    if (complete.length === 0) continue;
    const last = complete[complete.length - 1];
    reserved[n.id] = last.threads;
    const half = complete.slice(0, Math.floor(complete.length / 2));
    if (half.length > 0) {
      specs.push({ name: `${vmPrefix}-node${n.id}`, node: n.id, cores: half.map((c) => c.threads[0]), memoryGiB: 4, emulatorpin: last.threads });
    }
    const spare = complete[half.length];
    if (spare !== last && floating.length < 2) floating.push(spare.threads[0]);
  }
  if (floating.length > 0) {
    specs.push({ name: `${vmPrefix}-floating`, node: null, cores: floating, memoryGiB: 2, emulatorpin: [] });
  }
  return buildPlan(name, host, specs, reserved);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The documents' "single" layout on the reference host. */
const planSingle = buildPlan(
  "numa-01",
  topoReference,
  [
    { name: "k3s-worker-slm-heavy", node: 0, cores: range(0, 15), memoryGiB: 118, emulatorpin: [17, 53] },
    { name: "k3s-worker-data", node: 1, cores: range(18, 23), memoryGiB: 60, emulatorpin: [35, 71] },
    { name: "k3s-worker-slm", node: 1, cores: range(24, 27), memoryGiB: 32, emulatorpin: [35, 71] },
    { name: "k3s-server-tasks", node: 1, cores: range(28, 33), memoryGiB: 24, emulatorpin: [35, 71] },
  ],
  { 0: [17, 53], 1: [35, 71] },
);

// ---------------------------------------------------------------------------------------------
// Reading the SVG back

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", textNodeName: "#text", preserveOrder: false });

/** Labels of the thread boxes, in document order. */
function threadLabels(svg: string): number[] {
  return [...svg.matchAll(/<text class="thread"[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]));
}

function legendNames(svg: string): string[] {
  return [...svg.matchAll(/<text class="vm"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
}

function threadFills(svg: string): Map<number, string> {
  // A thread box: <rect ... fill="F" .../> followed by its <text class="thread">N</text>.
  const fills = new Map<number, string>();
  for (const m of svg.matchAll(/<rect [^>]*fill="([^"]+)"[^>]*\/>\n(?:<line[^>]*\/>\n)?<text class="thread"[^>]*>(\d+)<\/text>/g)) {
    fills.set(Number(m[2]), m[1]);
  }
  return fills;
}

function allThreadIds(host: HostTopology): number[] {
  return host.nodes.flatMap((n) => n.threads.map((t) => t.id)).sort((a, b) => a - b);
}

function svgSize(svg: string): { width: number; height: number } {
  const doc = parser.parse(svg);
  return { width: Number(doc.svg.width), height: Number(doc.svg.height) };
}

function fontSizes(svg: string): number[] {
  return [...svg.matchAll(/font-size="([\d.]+)"/g)].map((m) => Number(m[1]));
}

// ---------------------------------------------------------------------------------------------

describe("renderPicture", () => {
  test("the reference host with the single layout matches the reviewed golden file", () => {
    expectGolden(__dirname, "reference-single.svg", renderPicture([topoReference], planSingle));
  });

  test("is deterministic: the same plan gives the same bytes", () => {
    expect(renderPicture([topoReference], planSingle)).toBe(renderPicture([topoReference], planSingle));
  });

  test("every thread of the host is labelled exactly once", () => {
    for (const [host, plan] of [
      [topoReference, planSingle],
      [topoOffline, buildPlan("h", topoOffline, [], { 0: [2], 1: [7, 15] })],
      [topoOneCellTwoSockets, buildPlan("h", topoOneCellTwoSockets, [], {})],
    ] as const) {
      expect(threadLabels(renderPicture([host], plan)).sort((a, b) => a - b)).toEqual(allThreadIds(host));
    }
  });

  test("every VM is named in the legend, with its cores, memory and node", () => {
    const svg = renderPicture([topoReference], planSingle);
    expect(legendNames(svg)).toEqual(planSingle.vms.map((v) => v.name));
    expect(svg).toContain("16 cores · 32 vCPUs");
    expect(svg).toContain("118 GiB");
    expect(svg).toContain("node 1");
  });

  test("a VM's threads are filled in its colour, the reserve hatched, free cores white", () => {
    const fills = threadFills(renderPicture([topoReference], planSingle));
    const heavy = fills.get(0);
    for (const t of planSingle.vms[0].vcpupin) expect(fills.get(t)).toBe(heavy);
    const colours = planSingle.vms.map((v) => fills.get(v.vcpupin[0]));
    expect(new Set(colours).size).toBe(4);
    for (const t of [17, 53, 35, 71]) expect(fills.get(t)).toBe("url(#reserve)");
    // Core 16 (16, 52) and core 34 (34, 70) are neither a VM's nor the reserve's in this plan.
    for (const t of [16, 52, 34, 70]) expect(fills.get(t)).toBe("#ffffff");
  });

  test("emulator threads are drawn dashed and the legend says so", () => {
    const svg = renderPicture([topoReference], planSingle);
    for (const t of [17, 35]) {
      expect(svg).toMatch(new RegExp(`stroke-dasharray="3 2"/>\\n<text class="thread"[^>]*>${t}</text>`));
    }
    expect(svg).not.toMatch(/stroke-dasharray="3 2"\/>\n<text class="thread"[^>]*>0<\/text>/);
    expect(svg).toContain("emulator / iothread pin");
    expect(svg).toContain("emulator 35,71");
  });

  test("node titles give memory and free memory, or say the memory is unknown", () => {
    expect(renderPicture([topoReference], planSingle)).toContain("node 0 · 126 GiB · free 4 GiB");
    const svg = renderPicture([topoOffline], buildPlan("h", topoOffline, [], { 0: [2, 10] }));
    expect(svg).toContain("node 1 · memory unknown");
  });

  test("the colours follow the VM's order in the plan, so hosts and re-renders agree", () => {
    const reordered: Plan = { ...planSingle, vms: [...planSingle.vms].reverse() };
    const a = threadFills(renderPicture([topoReference], planSingle));
    const b = threadFills(renderPicture([topoReference], reordered));
    expect(a.get(0)).toBe(b.get(28));
    expect(a.get(28)).toBe(b.get(0));
  });

  test("escapes text", () => {
    const plan = buildPlan("a<b&c", topoReference, [
      { name: 'x"<y>&', node: 0, cores: [0], memoryGiB: 1, emulatorpin: [] },
    ], {});
    const svg = renderPicture([topoReference], plan);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain("x&quot;&lt;y&gt;&amp;");
  });

  test("a 1024-thread host fits 1600 px wide with thread labels of 7 px or more", () => {
    const plan = buildPlan(
      "big",
      topo1024,
      [{ name: "k3s-worker-wide", node: 3, cores: range(192, 254), memoryGiB: 100, emulatorpin: [255, 767] }],
      Object.fromEntries(topo1024.nodes.map((n) => [n.id, n.cores[n.cores.length - 1].threads])),
    );
    const svg = renderPicture([topo1024], plan);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svgSize(svg).width).toBeLessThanOrEqual(PICTURE_MAX_WIDTH);
    expect(Math.min(...fontSizes(svg))).toBeGreaterThanOrEqual(7);
    expect(threadLabels(svg).sort((a, b) => a - b)).toEqual(allThreadIds(topo1024));
  });

  test("a floating VM spanning two nodes is drawn on both", () => {
    const plan = buildPlan(
      "numa-01",
      topoReference,
      [{ name: "k3s-floating", node: null, cores: [16, 34], memoryGiB: 8, emulatorpin: [17, 53] }],
      { 0: [17, 53], 1: [35, 71] },
    );
    const svg = renderPicture([topoReference], plan);
    const fills = threadFills(svg);
    for (const t of [16, 52, 34, 70]) expect(fills.get(t)).toBe(fills.get(16));
    expect(fills.get(16)).not.toBe("#ffffff");
    expect(svg).toContain("floating");
    // Its memory shows in the bar of both nodes.
    expect(svg.match(/k3s-floating: 4 GiB \(interleaved share\)/g)?.length).toBeGreaterThanOrEqual(2);
  });

  test("nests host > socket > node normally and host > node > socket when a node spans sockets", () => {
    const order = (svg: string) =>
      [...svg.matchAll(/font-weight="bold">((?:socket|node) \d+)/g)].map((m) => m[1].split(" ")[0]);
    expect(order(renderPicture([topoReference], planSingle))).toEqual(["socket", "node", "socket", "node"]);
    const spanning = renderPicture([topoOneCellTwoSockets], buildPlan("h", topoOneCellTwoSockets, [], {}));
    expect(order(spanning)).toEqual(["node", "socket", "socket"]);
    // libvirt prints offline threads without a socket; that is not a node spanning sockets.
    const offline = topologyOf("offlineSibling");
    expect(order(renderPicture([offline], planEveryNode("h", offline)))).toEqual(["socket", "node", "socket", "node"]);
  });

  test("incomplete cores and offline threads are marked and explained", () => {
    const svg = renderPicture([topoOffline], buildPlan("h", topoOffline, [], { 0: [2] }));
    expect(svg).toContain("incomplete core (a sibling offline)");
    expect(svg).toContain("offline thread");
    expect(threadFills(svg).get(10)).toBe("#eeeeee");
  });

  test("refuses a plan whose VM pins a thread the host does not have, in one line", () => {
    const plan = buildPlan("numa-01", topoReference, [], {});
    plan.vms.push({ ...planSingle.vms[0], host: "numa-01", vcpupin: [0, 999] });
    expect(() => renderPicture([topoReference], plan)).toThrow(/^picture: plan\.vms\[0\] k3s-worker-slm-heavy vcpupin\[1\] is thread 999, which .*numa-01 .* does not have/);
    expect(() => renderPicture([], plan)).toThrow(/0 host topologies for 1 plan hosts/);
  });

  test.each(Object.keys(syntheticHosts) as SyntheticHostName[])(
    "named host %s: valid XML, every thread once, every VM in the legend, legible within 1600 px",
    (name) => {
      const host = topologyOf(name);
      const plan = planEveryNode(name, host);
      const svg = renderPicture([host], plan);
      expect(XMLValidator.validate(svg)).toBe(true);
      expect(threadLabels(svg).sort((a, b) => a - b)).toEqual(allThreadIds(host));
      expect(legendNames(svg)).toEqual(plan.vms.map((v) => v.name));
      expect(svgSize(svg).width).toBeLessThanOrEqual(PICTURE_MAX_WIDTH);
      expect(Math.min(...fontSizes(svg))).toBeGreaterThanOrEqual(7);
      for (const n of host.nodes) expect(svg).toContain(`node ${n.id} · `);
    },
  );

  test("several hosts stack in one picture, colours by the VM's place in plan.vms", () => {
    const arm = topologyOf("armNoSmt");
    const a = planSingle;
    const b = planEveryNode("arm-01", arm, "arm");
    const plan: Plan = { hosts: [...a.hosts, ...b.hosts], vms: [...a.vms, ...b.vms] };
    const svg = renderPicture([topoReference, arm], plan);
    expect(XMLValidator.validate(svg)).toBe(true);
    const hosts = svg.split('<g class="host"').slice(1);
    expect(hosts).toHaveLength(2);
    expect(threadLabels(hosts[0]).sort((x, y) => x - y)).toEqual(allThreadIds(topoReference));
    expect(threadLabels(hosts[1]).sort((x, y) => x - y)).toEqual(allThreadIds(arm));
    expect(legendNames(hosts[1])).toEqual(b.vms.map((v) => v.name));
    // The arm host's first VM is the fifth of the plan: the fifth colour.
    expect(threadFills(hosts[1]).get(b.vms[0].vcpupin[0])).toBe(VM_PALETTE[4]);
  });

  test("random hosts and plans: valid XML, every thread once, width within the page", () => {
    const shape = fc
      .record({
        sockets: fc.integer({ min: 1, max: 2 }),
        nodesPerSocket: fc.constantFrom(1, 2, 4),
        coresPerNode: fc.integer({ min: 1, max: 40 }),
        threadsPerCore: fc.constantFrom(1, 2, 4, 8),
        seed: fc.integer({ min: 0, max: 1000 }),
      });
    fc.assert(
      fc.property(shape, (s) => {
        const host = buildHost({
          sockets: s.sockets,
          nodes: s.sockets * s.nodesPerSocket,
          coresPerSocket: s.nodesPerSocket * s.coresPerNode,
          threadsPerCore: s.threadsPerCore,
          memoryGiBPerNode: 64,
        });
        // One VM per node on the node's first half of cores.
        const specs: VmSpec[] = host.nodes
          .filter((n) => n.cores.length >= 2)
          .map((n) => ({
            name: `vm-${n.id}-${s.seed}`,
            node: n.id,
            cores: n.cores.slice(0, Math.floor(n.cores.length / 2)).map((c) => c.threads[0]),
            memoryGiB: 8,
            emulatorpin: n.cores[n.cores.length - 1].threads,
          }));
        const reserved = Object.fromEntries(host.nodes.map((n) => [n.id, n.cores[n.cores.length - 1].threads]));
        const svg = renderPicture([host], buildPlan("h", host, specs, reserved));
        expect(XMLValidator.validate(svg)).toBe(true);
        expect(svgSize(svg).width).toBeLessThanOrEqual(PICTURE_MAX_WIDTH);
        expect(threadLabels(svg).sort((a, b) => a - b)).toEqual(allThreadIds(host));
        expect(legendNames(svg)).toEqual(specs.map((v) => v.name));
      }),
      { numRuns: 40, verbose: true },
    );
  });
});
