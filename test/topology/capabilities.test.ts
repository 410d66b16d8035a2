import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CapabilitiesError, parseCapabilities, readCapabilities } from "../../topology/capabilities";
import { formatCpuset, parseCpuset } from "../../topology/cpuset";
import type { HostTopology } from "../../topology/host-topology";
import {
  BROADWELL_18_CORE_IDS,
  capabilitiesXml,
  regularHost,
  syntheticHosts,
  topologyOf,
  type SyntheticHostName,
} from "../fixtures/hosts";

const FIXTURES = join(__dirname, "..", "fixtures", "capabilities");
const REFERENCE = join(__dirname, "..", "..", "hosts", "reference-2x-e5-2697v4.capabilities.xml");
const fixture = (file: string): string => join(FIXTURES, file);

/** What a capture must parse to; per-node arrays are in ascending node id order. */
interface Expected {
  readonly nodes: number[];
  /** Threads listed per node (online or not). */
  readonly threads: number[];
  readonly online?: number[];
  readonly cores: number[];
  readonly threadsPerCore: number;
  readonly incompleteCores?: number;
  readonly memoryKiB: Array<number | null>;
  /** Page sizes in KiB per node (the same on every node in these captures). */
  readonly pageSizesKiB: number[];
  readonly distances: "none" | Array<Array<[number, number]>>;
  readonly warnings?: RegExp[];
}

// Expectations come from the fixtures README (counts per cell, thr, memory) and the files.
const captures: Array<[string, Expected]> = [
  ["intel-2s-cascadelake-ht-virttuner.xml", {
    nodes: [0, 1], threads: [48, 48], cores: [24, 24], threadsPerCore: 2,
    memoryKiB: [32646592, 32982940], pageSizesKiB: [4, 2048, 1048576],
    distances: [[[0, 10], [1, 21]], [[0, 21], [1, 10]]],
  }],
  ["intel-2s-sandybridge-ht-distances-vdsm.xml", {
    nodes: [0, 1], threads: [12, 12], cores: [6, 6], threadsPerCore: 2,
    memoryKiB: [33444704, 33554432], pageSizesKiB: [4, 2048],
    distances: [[[0, 10], [1, 21]], [[0, 21], [1, 10]]],
  }],
  ["intel-2s-westmere-e5649-ht-interleaved-vdsm.xml", {
    nodes: [0, 1], threads: [12, 12], cores: [6, 6], threadsPerCore: 2,
    memoryKiB: [null, null], pageSizesKiB: [], distances: "none",
  }],
  ["intel-2s-westmere-no-cpu-attrs-libvirt.xml", {
    nodes: [0, 1], threads: [12, 12], cores: [12, 12], threadsPerCore: 1,
    memoryKiB: [12572412, 12582908], pageSizesKiB: [], distances: "none",
    warnings: [/SMT siblings are unknown .*threads='2'.*two VMs on sibling threads of one physical core/],
  }],
  ["intel-1s-westmere-e5606-uma-socket1-vdsm.xml", {
    nodes: [0], threads: [4], cores: [4], threadsPerCore: 1,
    memoryKiB: [12573660], pageSizesKiB: [4, 2048], distances: [[[0, 10]]],
  }],
  ["amd-opteron6274-2s-4node-vdsm.xml", {
    nodes: [0, 1, 2, 3], threads: [8, 8, 8, 8], cores: [4, 4, 4, 4], threadsPerCore: 2,
    memoryKiB: [null, null, null, null], pageSizesKiB: [], distances: "none",
  }],
  ["amd-epyc-2s-4dies-per-socket-resctrl-libvirt.xml", {
    nodes: [0, 1], threads: [32, 32], cores: [16, 16], threadsPerCore: 2,
    memoryKiB: [1048576, 2097152], pageSizesKiB: [4, 2048, 1048576], distances: "none",
  }],
  ["amd-uma-cmt-nonadjacent-siblings-lxc-virtmanager.xml", {
    nodes: [0], threads: [8], cores: [4], threadsPerCore: 2,
    memoryKiB: [16414548], pageSizesKiB: [4, 2048], distances: [[[0, 10]]],
  }],
  ["arm64-ampere-altra-2s-neoverse-n1-virtmanager.xml", {
    nodes: [0, 1], threads: [80, 80], cores: [80, 80], threadsPerCore: 1,
    memoryKiB: [263763320, 262082520], pageSizesKiB: [4, 64, 2048, 32768, 1048576],
    distances: [[[0, 10], [1, 20]], [[0, 20], [1, 10]]],
  }],
  ["arm64-apm-mustang-uma-virtmanager.xml", {
    nodes: [0], threads: [8], cores: [8], threadsPerCore: 1,
    memoryKiB: [16647424], pageSizesKiB: [], distances: "none",
  }],
  ["arm64-2node-clusters-sparse-socket-ids-libvirt.xml", {
    nodes: [0, 1], threads: [4, 4], cores: [2, 2], threadsPerCore: 2,
    memoryKiB: [1048576, 2097152], pageSizesKiB: [4, 2048, 1048576], distances: "none",
  }],
  ["power8-ppc64le-s822l-4node-smt-off-vdsm.xml", {
    nodes: [0, 1, 16, 17], threads: [5, 5, 5, 5], cores: [5, 5, 5, 5], threadsPerCore: 1,
    memoryKiB: [67108864, 67108864, 67108864, 67108864], pageSizesKiB: [64, 16384],
    distances: [
      [[0, 10], [1, 20], [16, 40], [17, 40]],
      [[0, 20], [1, 10], [16, 40], [17, 40]],
      [[0, 40], [1, 40], [16, 10], [17, 20]],
      [[0, 40], [1, 40], [16, 20], [17, 10]],
    ],
  }],
  ["power8-ppc64-s822l-cells-without-memory-vdsm.xml", {
    nodes: [0, 1, 16, 17], threads: [5, 5, 5, 5], cores: [5, 5, 5, 5], threadsPerCore: 1,
    memoryKiB: [67108864, null, 67108864, null], pageSizesKiB: [], distances: "none",
  }],
  ["power8e-ppc64le-4node-offline-cpus-virtmanager.xml", {
    nodes: [0, 1, 16, 17], threads: [24, 40, 40, 40], online: [5, 5, 5, 5], cores: [5, 5, 5, 5], threadsPerCore: 1,
    memoryKiB: [67108864, 67108864, 67108864, 67108864], pageSizesKiB: [64, 16384, 16777216],
    distances: [
      [[0, 10], [1, 20], [16, 40], [17, 40]],
      [[0, 20], [1, 10], [16, 40], [17, 40]],
      [[0, 40], [1, 40], [16, 10], [17, 20]],
      [[0, 40], [1, 40], [16, 20], [17, 10]],
    ],
    warnings: [/^threads 19-23,25-31,.*,153-159 are offline/],
  }],
  ["power8-ppc64le-2node-smt8-virtmanager.xml", {
    nodes: [0, 1], threads: [48, 48], cores: [6, 6], threadsPerCore: 8,
    memoryKiB: [33364032, 33354368], pageSizesKiB: [64, 16384, 16777216],
    distances: [[[0, 10], [1, 20]], [[0, 20], [1, 10]]],
  }],
  ["s390x-uma-double-quoted-virtmanager.xml", {
    nodes: [0], threads: [4], cores: [4], threadsPerCore: 1,
    memoryKiB: [2878860], pageSizesKiB: [], distances: "none",
  }],
  ["x86-2s-3dies-single-cell-libvirt.xml", {
    nodes: [0], threads: [12], cores: [12], threadsPerCore: 1,
    memoryKiB: [1048576], pageSizesKiB: [4, 2048, 1048576], distances: "none",
  }],
  ["x86-hmat-cpuless-memory-node-libvirt.xml", {
    nodes: [0, 1], threads: [24, 0], cores: [24, 0], threadsPerCore: 1,
    memoryKiB: [1048576, 2097152], pageSizesKiB: [4, 2048, 1048576], distances: "none",
  }],
];

/** Properties every parsed host has, whatever the capture looked like. */
function expectWellFormed(host: HostTopology): void {
  const ids = host.nodes.map((n) => n.id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  const nodeOfThread = new Map<number, number>();
  for (const node of host.nodes) {
    expect(node.pages.map((p) => p.sizeKiB)).toEqual([...node.pages.map((p) => p.sizeKiB)].sort((a, b) => a - b));
    for (const thread of node.threads) {
      expect(nodeOfThread.has(thread.id)).toBe(false); // a thread is in one node only
      nodeOfThread.set(thread.id, node.id);
      expect(thread.node).toBe(node.id);
    }
    const inCores = node.cores.flatMap((c) => c.threads);
    // every online thread is in exactly one core of its own node; offline ones in none
    expect([...inCores].sort((a, b) => a - b)).toEqual(node.threads.filter((t) => t.online).map((t) => t.id));
    expect(node.cores.map((c) => c.threads[0])).toEqual([...node.cores.map((c) => c.threads[0])].sort((a, b) => a - b));
    for (const core of node.cores) {
      expect(core.node).toBe(node.id);
      expect(core.threads).toEqual([...core.threads].sort((a, b) => a - b));
      expect(core.threads.length).toBeLessThanOrEqual(host.threadsPerCore);
      expect(core.complete).toBe(core.threads.length === host.threadsPerCore);
      const first = node.threads.find((t) => t.id === core.threads[0]);
      expect([core.socket, core.die]).toEqual([first?.socket, first?.die]);
    }
  }
}

describe("parseCapabilities on real captures", () => {
  test.each(captures)("%s", (file, want) => {
    const host = readCapabilities(fixture(file));
    expect(host.source).toBe(fixture(file));
    expect(host.nodes.map((n) => n.id)).toEqual(want.nodes);
    expect(host.nodes.map((n) => n.threads.length)).toEqual(want.threads);
    expect(host.nodes.map((n) => n.threads.filter((t) => t.online).length)).toEqual(want.online ?? want.threads);
    expect(host.nodes.map((n) => n.cores.length)).toEqual(want.cores);
    expect(host.threadsPerCore).toBe(want.threadsPerCore);
    expect(host.nodes.flatMap((n) => n.cores).filter((c) => !c.complete)).toHaveLength(want.incompleteCores ?? 0);
    expect(host.nodes.map((n) => n.memoryKiB)).toEqual(want.memoryKiB);
    for (const node of host.nodes) expect(node.pages.map((p) => p.sizeKiB)).toEqual(want.pageSizesKiB);
    expect(host.nodes.map((n) => n.distances.map((d) => [d.node, d.value]))).toEqual(
      want.distances === "none" ? host.nodes.map(() => []) : want.distances,
    );
    const warnings = want.warnings ?? [];
    expect(host.warnings).toHaveLength(warnings.length);
    warnings.forEach((pattern, i) => expect(host.warnings[i]).toMatch(pattern));
    expectWellFormed(host);
  });

  const coresOf = (host: HostTopology, nodeId: number): string[] =>
    host.nodes.find((n) => n.id === nodeId)?.cores.map((c) => formatCpuset(c.threads)) ?? [];

  test("Cascade Lake: a core is thread n and n+48; node 0 holds 0-23 and 48-71", () => {
    const host = readCapabilities(fixture("intel-2s-cascadelake-ht-virttuner.xml"));
    expect(formatCpuset(host.nodes[0].threads.map((t) => t.id))).toBe("0-23,48-71");
    expect(coresOf(host, 0)).toEqual(Array.from({ length: 24 }, (_, n) => `${n},${n + 48}`));
  });

  test("Westmere E5649: even threads on node 0, odd on node 1, cores pair n and n+12", () => {
    const host = readCapabilities(fixture("intel-2s-westmere-e5649-ht-interleaved-vdsm.xml"));
    expect(host.nodes[0].threads.every((t) => t.id % 2 === 0)).toBe(true);
    expect(host.nodes[1].threads.every((t) => t.id % 2 === 1)).toBe(true);
    expect(coresOf(host, 0)).toContain("0,12");
    expect(coresOf(host, 0)).toContain("2,14");
  });

  test("Opteron: module partners '0-1' form a core although their core_ids differ", () => {
    const host = readCapabilities(fixture("amd-opteron6274-2s-4node-vdsm.xml"));
    expect(coresOf(host, 0)).toEqual(["0-1", "2-3", "4-5", "6-7"]);
    const [a, b] = host.nodes[0].threads;
    expect(a.core).not.toBe(b.core);
  });

  test("non-adjacent siblings '2,5' are one core", () => {
    const host = readCapabilities(fixture("amd-uma-cmt-nonadjacent-siblings-lxc-virtmanager.xml"));
    expect(coresOf(host, 0)).toContain("2,5");
  });

  test("EPYC: a core takes its die from its first thread; die_id is global across sockets", () => {
    const host = readCapabilities(fixture("amd-epyc-2s-4dies-per-socket-resctrl-libvirt.xml"));
    const dieOf = (first: number) => host.nodes.flatMap((n) => n.cores).find((c) => c.threads[0] === first)?.die;
    const thread = (id: number) => host.nodes.flatMap((n) => n.threads).find((t) => t.id === id);
    expect(dieOf(4)).toBe(thread(4)?.die);
    expect(dieOf(12)).toBe(thread(12)?.die);
    expect(dieOf(4)).not.toBe(dieOf(0));
    expect(new Set(host.nodes[1].cores.map((c) => c.die))).not.toContain(0);
  });

  test("EPYC resctrl capture: each core's l3 is the <cache><bank level='3'> listing its threads (8 banks of 4 cores)", () => {
    const host = readCapabilities(fixture("amd-epyc-2s-4dies-per-socket-resctrl-libvirt.xml"));
    const cores = host.nodes.flatMap((n) => n.cores);
    const l3Of = (first: number) => cores.find((c) => c.threads[0] === first)?.l3;
    // From the capture: bank 0 cpus='0-3,32-35', bank 2 '12-15,44-47', bank 4 '4-7,36-39', bank 14 '24-27,56-59'.
    expect([0, 3, 12, 15, 4, 7, 24, 27].map(l3Of)).toEqual([0, 0, 2, 2, 4, 4, 14, 14]);
    const sizes = new Map<number | null, number>();
    for (const c of cores) sizes.set(c.l3, (sizes.get(c.l3) ?? 0) + 1);
    expect([...sizes.values()]).toEqual(Array(8).fill(4));
  });

  test("a capture without L3 banks leaves l3 null; a bank without cpus is refused naming it", () => {
    const host = readCapabilities(fixture("power8-ppc64le-2node-smt8-virtmanager.xml"));
    expect(host.nodes.flatMap((n) => n.cores).every((c) => c.l3 === null)).toBe(true);
    const xml = capture(cell(0, `<cpus num='2'>${cpu(0, "0,1")}${cpu(1, "0,1")}</cpus>`)).replace("</host>", "<cache><bank id='3' level='3' type='both' size='8' unit='MiB'/></cache></host>");
    expect(() => parseCapabilities(xml, SOURCE)).toThrow(/<cache><bank> #1 \(L3, id 3\) has no cpus attribute/);
  });

  test("POWER8 SMT8: cores are runs of 8 threads", () => {
    const host = readCapabilities(fixture("power8-ppc64le-2node-smt8-virtmanager.xml"));
    expect(host.nodes.flatMap((n) => n.cores).every((c) => c.threads.length === 8)).toBe(true);
    expect(coresOf(host, 0)[0]).toBe("0-7");
  });

  test("POWER8E: bare cpus are offline threads, in no core", () => {
    const host = readCapabilities(fixture("power8e-ppc64le-4node-offline-cpus-virtmanager.xml"));
    const t19 = host.nodes[0].threads.find((t) => t.id === 19);
    expect(t19).toEqual({ id: 19, node: 0, socket: null, die: null, core: null, online: false });
    expect(host.nodes[0].cores.flatMap((c) => c.threads)).toEqual([0, 8, 16, 24, 32]);
  });

  test("a capture with no cpu attributes: every thread its own core, socket unknown", () => {
    const host = readCapabilities(fixture("intel-2s-westmere-no-cpu-attrs-libvirt.xml"));
    expect(host.nodes.flatMap((n) => n.threads).every((t) => t.online && t.socket === null && t.core === null)).toBe(true);
    expect(host.nodes.flatMap((n) => n.cores).every((c) => c.threads.length === 1 && c.complete)).toBe(true);
  });

  test("the CPU-less node has memory and pages but no threads or cores", () => {
    const host = readCapabilities(fixture("x86-hmat-cpuless-memory-node-libvirt.xml"));
    expect(host.nodes[1]).toMatchObject({ id: 1, memoryKiB: 2097152, threads: [], cores: [] });
    expect(host.nodes[1].pages).toEqual([
      { sizeKiB: 4, count: 4096 },
      { sizeKiB: 2048, count: 6144 },
      { sizeKiB: 1048576, count: 8192 },
    ]);
  });

  test("the host's architecture is read from <host><cpu><arch>", () => {
    expect(readCapabilities(fixture("arm64-ampere-altra-2s-neoverse-n1-virtmanager.xml")).arch).toBe("aarch64");
    expect(readCapabilities(fixture("power8-ppc64le-2node-smt8-virtmanager.xml")).arch).toBe("ppc64le");
    expect(readCapabilities(REFERENCE).arch).toBe("x86_64");
  });

  test("on real (not harness) captures the base pages add up to the node's memory", () => {
    for (const file of ["intel-2s-sandybridge-ht-distances-vdsm.xml", "power8-ppc64le-s822l-4node-smt-off-vdsm.xml"]) {
      for (const node of readCapabilities(fixture(file)).nodes) {
        expect(node.pages[0].sizeKiB * node.pages[0].count).toBe(node.memoryKiB);
      }
    }
  });
});

// ---- small hand-written captures ----------------------------------------------------------

const cpu = (id: number, siblings: string, core = id, socket = 0): string =>
  `<cpu id='${id}' socket_id='${socket}' core_id='${core}' siblings='${siblings}'/>`;
const cell = (id: number, body: string): string => `<cell id='${id}'>${body}</cell>`;
const capture = (...cells: string[]): string =>
  `<capabilities><host><topology><cells num='${cells.length}'>${cells.join("")}</cells></topology></host></capabilities>`;
const SOURCE = "hosts/test-host.capabilities.xml";

describe("parseCapabilities details", () => {
  test.each([
    ["<memory unit='KiB'>1024</memory>", 1024],
    ["<memory>1024</memory>", 1024],
    ["<memory unit='k'>1024</memory>", 1024],
    ["<memory unit='MiB'>3</memory>", 3 * 1024],
    ["<memory unit='M'>3</memory>", 3 * 1024],
    ["<memory unit='GiB'>126</memory>", 132120576],
    ["<memory unit='G'>2</memory>", 2 * 1024 * 1024],
    ["<memory unit='TiB'>1</memory>", 1024 ** 3],
    ["<memory unit='T'>1</memory>", 1024 ** 3],
    ["<memory unit='bytes'>2048</memory>", 2],
    ["<memory unit='b'>3000</memory>", 2],
    ["<memory unit='KB'>1024</memory>", 1000],
  ])("%s is %d KiB", (memory, kib) => {
    const host = parseCapabilities(capture(cell(0, `${memory}<cpus num='1'>${cpu(0, "0")}</cpus>`)), SOURCE);
    expect(host.nodes[0].memoryKiB).toBe(kib);
  });

  test("pages: sorted by size, unit defaults to KiB, MiB sizes converted", () => {
    const host = parseCapabilities(
      capture(
        cell(0, `<pages unit='MiB' size='2'>5</pages><pages size='4'>100</pages><pages unit='GiB' size='1'>2</pages>`),
      ),
      SOURCE,
    );
    expect(host.nodes[0].pages).toEqual([
      { sizeKiB: 4, count: 100 },
      { sizeKiB: 2048, count: 5 },
      { sizeKiB: 1048576, count: 2 },
    ]);
  });

  test("element order, comments and double quotes do not matter", () => {
    const ordered = capture(
      cell(0, `<memory unit='KiB'>4096</memory><pages unit='KiB' size='4'>1024</pages><cpus num='2'>${cpu(0, "0-1")}${cpu(1, "0-1")}</cpus>`),
      cell(1, `<memory unit='KiB'>4096</memory><cpus num='2'>${cpu(2, "2-3")}${cpu(3, "2-3")}</cpus>`),
    );
    const shuffled = `<?xml version="1.0"?>
<!-- SPDX header -->
<capabilities>
  <!-- inside -->
  <host>
    <topology><cells num="2">
      <cell id="1"><cpus num="2"><cpu siblings="2-3" id="3" core_id="3" socket_id="0"/><cpu id="2" socket_id="0" core_id="2" siblings="2-3"/></cpus><memory unit="KiB">4096</memory></cell>
      <cell id="0"><cpus num="2"><cpu id="1" socket_id="0" core_id="1" siblings="0-1"/><!-- c --><cpu id="0" socket_id="0" core_id="0" siblings="0-1"/></cpus><pages unit="KiB" size="4">1024</pages><memory unit="KiB">4096</memory></cell>
    </cells></topology>
    <uuid>x</uuid>
  </host>
</capabilities>`;
    expect(parseCapabilities(shuffled, SOURCE)).toEqual(parseCapabilities(ordered, SOURCE));
  });

  test("an offline sibling printed bare makes its core incomplete", () => {
    const host = parseCapabilities(
      capture(cell(0, `<cpus num='4'>${cpu(0, "0,2")}${cpu(1, "1")}${cpu(2, "0,2")}<cpu id='3'/></cpus>`)),
      SOURCE,
    );
    expect(host.threadsPerCore).toBe(2);
    expect(host.nodes[0].cores).toEqual([
      { node: 0, socket: 0, die: null, l3: null, threads: [0, 2], complete: true },
      { node: 0, socket: 0, die: null, l3: null, threads: [1], complete: false },
    ]);
    expect(host.warnings).toEqual(["thread 3 is offline (listed without topology); it is never pinned"]);
  });

  test("a siblings list may name an offline thread of the same node", () => {
    const host = parseCapabilities(capture(cell(0, `<cpus num='3'>${cpu(0, "0,1")}<cpu id='1'/>${cpu(2, "2-3")}${cpu(3, "2-3")}</cpus>`)), SOURCE);
    expect(host.nodes[0].cores.map((c) => [c.threads, c.complete])).toEqual([[[0], false], [[2, 3], true]]);
  });

  test("cluster_id is ignored", () => {
    const withCluster = capture(cell(0, `<cpus num='1'><cpu id='0' socket_id='0' die_id='0' cluster_id='65535' core_id='0' siblings='0'/></cpus>`));
    const without = capture(cell(0, `<cpus num='1'><cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/></cpus>`));
    expect(parseCapabilities(withCluster, SOURCE)).toEqual(parseCapabilities(without, SOURCE));
  });

  test("a described cpu without siblings is its own core, with a warning", () => {
    const host = parseCapabilities(capture(cell(0, `<cpus num='2'><cpu id='0' socket_id='0' core_id='0'/>${cpu(1, "1")}</cpus>`)), SOURCE);
    expect(host.nodes[0].cores.map((c) => c.threads)).toEqual([[0], [1]]);
    expect(host.warnings).toEqual([expect.stringMatching(/^thread 0 has no siblings attribute/)]);
  });
});

// ---- refusals --------------------------------------------------------------------------------

function refusal(run: () => unknown): CapabilitiesError {
  try {
    run();
  } catch (e) {
    if (e instanceof CapabilitiesError) return e;
    throw new Error(`expected a CapabilitiesError, got ${String(e)}`);
  }
  throw new Error("expected a CapabilitiesError, but the capture was accepted");
}

describe("refused captures", () => {
  const dir = mkdtempSync(join(tmpdir(), "capabilities-test-"));
  const twoThreadCell = (id: number, a: number, b: number) => cell(id, `<cpus num='2'>${cpu(a, `${a},${b}`)}${cpu(b, `${a},${b}`)}</cpus>`);

  const cases: Array<[string, () => unknown, string, RegExp]> = [
    ["a missing file", () => readCapabilities(join(dir, "absent.xml")), join(dir, "absent.xml"), /cannot read the capture \(no such file\)/],
    ["a directory", () => readCapabilities(dir), dir, /cannot read the capture \(is a directory\)/],
    ["text that is not XML", () => parseCapabilities("virsh: command not found", SOURCE), SOURCE, /not well-formed XML \(line 1\)/],
    ["an empty file", () => parseCapabilities("", SOURCE), SOURCE, /not well-formed XML/],
    [
      "a truncated capture",
      () => parseCapabilities(readFileSync(REFERENCE, "utf8").slice(0, 5000), SOURCE),
      SOURCE,
      /not a whole XML document: it ends inside <capabilities> <host> .*\(truncated capture\?\)/,
    ],
    ["mismatched tags", () => parseCapabilities("<capabilities><host></capabilities>", SOURCE), SOURCE, /not well-formed XML/],
    ["another root element", () => parseCapabilities("<domain type='kvm'/>", SOURCE), SOURCE, /root element is <domain>; expected <capabilities>/],
    ["two root elements", () => parseCapabilities("<capabilities/><capabilities/>", SOURCE), SOURCE, /root element is <capabilities> 2 times/],
    ["no <host>", () => parseCapabilities("<capabilities><guest/></capabilities>", SOURCE), SOURCE, /<capabilities> has no <host> element/],
    [
      "no <host><topology> (nothing to place a VM on)",
      () => readCapabilities(fixture("x86-no-host-topology-element-libvirt.xml")),
      fixture("x86-no-host-topology-element-libvirt.xml"),
      /has no NUMA topology \(no <host><topology><cells>\)/,
    ],
    [
      "a thread listed in two nodes (kubevirt)",
      () => readCapabilities(fixture("vm-4node-duplicated-cpus-kubevirt.xml")),
      fixture("vm-4node-duplicated-cpus-kubevirt.xml"),
      /thread 0 is listed in node 0 and in node 1/,
    ],
    [
      "a thread listed twice in one node",
      () => parseCapabilities(capture(cell(0, `<cpus num='2'>${cpu(0, "0")}${cpu(0, "0")}</cpus>`)), SOURCE),
      SOURCE,
      /thread 0 is listed twice in node 0/,
    ],
    ["a node listed twice", () => parseCapabilities(capture(twoThreadCell(1, 0, 1), twoThreadCell(1, 2, 3)), SOURCE), SOURCE, /node 1 is listed twice/],
    ["a non-numeric cell id", () => parseCapabilities(capture(cell(NaN, "")), SOURCE), SOURCE, /<cell> #1 id = 'NaN' is not a whole number/],
    [
      "a non-numeric cpu id",
      () => parseCapabilities(capture(cell(0, `<cpus num='1'><cpu id='zero'/></cpus>`)), SOURCE),
      SOURCE,
      /<cell id='0'> <cpu> #1 id = 'zero' is not a whole number/,
    ],
    [
      "a non-numeric core_id",
      () => parseCapabilities(capture(cell(0, `<cpus num='1'><cpu id='0' socket_id='0' core_id='-1' siblings='0'/></cpus>`)), SOURCE),
      SOURCE,
      /<cpu id='0'> core_id = '-1' is not a whole number/,
    ],
    [
      "a cpu without id",
      () => parseCapabilities(capture(cell(0, `<cpus num='1'><cpu socket_id='0'/></cpus>`)), SOURCE),
      SOURCE,
      /<cpu> #1 id is missing/,
    ],
    [
      "memory that is not a number",
      () => parseCapabilities(capture(cell(0, `<memory unit='KiB'>lots</memory>`)), SOURCE),
      SOURCE,
      /<cell id='0'> <memory> = 'lots' is not a whole number/,
    ],
    [
      "an unknown memory unit",
      () => parseCapabilities(capture(cell(0, `<memory unit='pages'>4</memory>`)), SOURCE),
      SOURCE,
      /unit='pages' is not a libvirt unit/,
    ],
    [
      "a distance that is not a number",
      () => parseCapabilities(capture(cell(0, `<distances><sibling id='0' value='near'/></distances>`)), SOURCE),
      SOURCE,
      /<distances><sibling id='0'> value = 'near' is not a whole number/,
    ],
    [
      "a zero distance",
      () => parseCapabilities(capture(cell(0, `<distances><sibling id='0' value='0'/></distances>`)), SOURCE),
      SOURCE,
      /<distances><sibling id='0'> value = 0; distances start at 10/,
    ],
    [
      "garbage in siblings",
      () => parseCapabilities(capture(cell(0, `<cpus num='1'>${cpu(0, "0;1")}</cpus>`)), SOURCE),
      SOURCE,
      /<cpu id='0'> siblings: cpuset '0;1': entry '0;1' is not N, N-M or \^N/,
    ],
    [
      "a sibling in another node",
      () => parseCapabilities(capture(cell(0, `<cpus num='1'>${cpu(0, "0-1")}</cpus>`), cell(1, `<cpus num='1'>${cpu(1, "0-1")}</cpus>`)), SOURCE),
      SOURCE,
      /thread 0 of node 0 lists siblings '0-1', but thread 1 is in node 1; siblings of a core share one node/,
    ],
    [
      "a sibling not in the capture",
      () => parseCapabilities(capture(cell(0, `<cpus num='1'>${cpu(0, "0,9")}</cpus>`)), SOURCE),
      SOURCE,
      /thread 0 of node 0 lists siblings '0,9', but thread 9 is not in the capture/,
    ],
    [
      "siblings that do not agree",
      () => parseCapabilities(capture(cell(0, `<cpus num='3'>${cpu(0, "0-1")}${cpu(1, "1-2")}${cpu(2, "1-2")}</cpus>`)), SOURCE),
      SOURCE,
      /thread 0 of node 0 lists siblings '0-1', but thread 1 lists '1-2'; sibling lists must agree/,
    ],
    [
      "siblings without the thread itself",
      () => parseCapabilities(capture(cell(0, `<cpus num='2'>${cpu(0, "1")}${cpu(1, "1")}</cpus>`)), SOURCE),
      SOURCE,
      /thread 0 of node 0 lists siblings '1', which does not include the thread itself/,
    ],
  ];

  test.each(cases)("%s", (_name, run, file, problem) => {
    const error = refusal(run);
    expect(error.message.startsWith(`${file}: `)).toBe(true);
    expect(error.source).toBe(file);
    expect(error.message).toMatch(problem);
    expect(error.message).not.toMatch(/[\r\n]/);
  });
});

// ---- the reference host and the synthetic hosts ------------------------------------------------

describe("the reference host capture", () => {
  const host = readCapabilities(REFERENCE);

  test("is what `virsh capabilities` would print: it passes libvirt's capability schema", () => {
    expect(() => execFileSync("virt-xml-validate", [REFERENCE, "capability"], { stdio: "pipe" })).not.toThrow();
  });

  test("2 nodes of 18 cores x 2 threads; a core is threads n and n+36", () => {
    expect(host.warnings).toEqual([]);
    expect(host.threadsPerCore).toBe(2);
    expect(host.nodes.map((n) => formatCpuset(n.threads.map((t) => t.id)))).toEqual(["0-17,36-53", "18-35,54-71"]);
    for (const node of host.nodes) {
      expect(node.cores).toHaveLength(18);
      for (const core of node.cores) {
        expect(core.complete).toBe(true);
        expect(core.threads).toEqual([core.threads[0], core.threads[0] + 36]);
        expect(core.socket).toBe(node.id);
      }
      // Broadwell numbers an 18-core die's cores with gaps, as the real part does
      expect(node.threads.slice(0, 18).map((t) => t.core)).toEqual([...BROADWELL_18_CORE_IDS]);
    }
  });

  test("126 GiB per node, all of it in 4 KiB pages; no huge pages reserved; distances 10/21", () => {
    for (const node of host.nodes) {
      expect(node.memoryKiB).toBe(126 * 1024 * 1024);
      expect(node.pages).toEqual([
        { sizeKiB: 4, count: (126 * 1024 * 1024) / 4 },
        { sizeKiB: 2048, count: 0 },
        { sizeKiB: 1048576, count: 0 },
      ]);
    }
    expect(host.nodes.map((n) => n.distances)).toEqual([
      [{ node: 0, value: 10 }, { node: 1, value: 21 }],
      [{ node: 0, value: 21 }, { node: 1, value: 10 }],
    ]);
  });

  test("parses to the same topology as the synthetic reference2x18ht", () => {
    expect({ ...host, source: "" }).toEqual({ ...topologyOf("reference2x18ht"), source: "" });
  });
});

interface SyntheticExpected {
  readonly nodes: number[];
  readonly threadsPerNode: number[];
  readonly coresPerNode: number[];
  readonly threadsPerCore: number;
  readonly incompleteCores: number;
  readonly memoryGiB: number[];
  readonly warnings: number;
}

const synthetic: Array<[SyntheticHostName, SyntheticExpected]> = [
  ["reference2x18ht", { nodes: [0, 1], threadsPerNode: [36, 36], coresPerNode: [18, 18], threadsPerCore: 2, incompleteCores: 0, memoryGiB: [126, 126], warnings: 0 }],
  ["epycNps4", { nodes: [0, 1, 2, 3, 4, 5, 6, 7], threadsPerNode: Array(8).fill(16), coresPerNode: Array(8).fill(8), threadsPerCore: 2, incompleteCores: 0, memoryGiB: Array(8).fill(32), warnings: 0 }],
  ["power9Smt4Sparse", { nodes: [0, 8], threadsPerNode: [80, 80], coresPerNode: [20, 20], threadsPerCore: 4, incompleteCores: 0, memoryGiB: [128, 128], warnings: 0 }],
  ["power8Smt8", { nodes: [0, 1, 16, 17], threadsPerNode: [40, 40, 40, 40], coresPerNode: [5, 5, 5, 5], threadsPerCore: 8, incompleteCores: 0, memoryGiB: [64, 64, 64, 64], warnings: 0 }],
  ["armNoSmt", { nodes: [0, 1], threadsPerNode: [32, 32], coresPerNode: [32, 32], threadsPerCore: 1, incompleteCores: 0, memoryGiB: [128, 128], warnings: 0 }],
  ["offlineSibling", { nodes: [0, 1], threadsPerNode: [16, 16], coresPerNode: [8, 8], threadsPerCore: 2, incompleteCores: 2, memoryGiB: [32, 32], warnings: 1 }],
  ["cpulessNode", { nodes: [0, 1, 2], threadsPerNode: [16, 16, 0], coresPerNode: [8, 8, 0], threadsPerCore: 2, incompleteCores: 0, memoryGiB: [64, 64, 256], warnings: 0 }],
  ["big8Node1024", { nodes: [0, 1, 2, 3, 4, 5, 6, 7], threadsPerNode: Array(8).fill(128), coresPerNode: Array(8).fill(64), threadsPerCore: 2, incompleteCores: 0, memoryGiB: Array(8).fill(256), warnings: 0 }],
];

describe("synthetic hosts", () => {
  test("every named host is in the table", () => {
    expect(synthetic.map(([name]) => name).sort()).toEqual(Object.keys(syntheticHosts).sort());
  });

  test.each(synthetic)("%s parses to the declared counts", (name, want) => {
    const host = topologyOf(name);
    expect(host.nodes.map((n) => n.id)).toEqual(want.nodes);
    expect(host.nodes.map((n) => n.threads.length)).toEqual(want.threadsPerNode);
    expect(host.nodes.map((n) => n.cores.length)).toEqual(want.coresPerNode);
    expect(host.threadsPerCore).toBe(want.threadsPerCore);
    expect(host.nodes.flatMap((n) => n.cores).filter((c) => !c.complete)).toHaveLength(want.incompleteCores);
    expect(host.nodes.map((n) => n.memoryKiB)).toEqual(want.memoryGiB.map((g) => g * 1024 * 1024));
    expect(host.warnings).toHaveLength(want.warnings);
    expectWellFormed(host);
  });

  test.each(synthetic)("%s passes libvirt's capability schema", (name) => {
    const dir = mkdtempSync(join(tmpdir(), "synthetic-host-"));
    const file = join(dir, `${name}.xml`);
    writeFileSync(file, capabilitiesXml(syntheticHosts[name]));
    expect(() => execFileSync("virt-xml-validate", [file, "capability"], { stdio: "pipe" })).not.toThrow();
  });

  test("sibling numbering: EPYC NPS4 pairs n and n+64, POWER9 SMT4 runs of 4, ARM none", () => {
    expect(topologyOf("epycNps4").nodes[1].cores[0].threads).toEqual([8, 72]);
    expect(topologyOf("power9Smt4Sparse").nodes[1].cores[0].threads).toEqual([80, 81, 82, 83]);
    expect(topologyOf("armNoSmt").nodes[1].cores[0].threads).toEqual([32]);
  });

  test("offlineSibling: the two cores that lost a thread are incomplete and keep their online one", () => {
    const incomplete = topologyOf("offlineSibling").nodes.flatMap((n) => n.cores).filter((c) => !c.complete);
    expect(incomplete.map((c) => c.threads)).toEqual([[3], [12]]);
  });

  test("options: huge pages come out of the base pages; distances may be left out; memory may be absent", () => {
    const host = parseCapabilities(
      capabilitiesXml(
        regularHost({
          name: "options",
          sockets: 1,
          nodesPerSocket: 2,
          coresPerNode: 2,
          threadsPerCore: 2,
          memoryGiBPerNode: 16,
          hugepages: (index) => (index === 0 ? { "2M": 512, "1G": 4 } : {}),
          distances: { local: 10, sameSocket: 11, remote: 21 },
        }),
      ),
      "synthetic:options",
    );
    expect(host.nodes[0].pages).toEqual([
      { sizeKiB: 4, count: ((16 - 1 - 4) * 1024 * 1024) / 4 },
      { sizeKiB: 2048, count: 512 },
      { sizeKiB: 1048576, count: 4 },
    ]);
    expect(host.nodes[1].pages[0].count).toBe((16 * 1024 * 1024) / 4);
    expect(host.nodes[0].distances).toEqual([{ node: 0, value: 10 }, { node: 1, value: 11 }]);

    const bare = parseCapabilities(
      capabilitiesXml(regularHost({ name: "bare", sockets: 2, nodesPerSocket: 1, coresPerNode: 2, threadsPerCore: 1, memoryGiBPerNode: null, distances: "none" })),
      "synthetic:bare",
    );
    expect(bare.nodes.map((n) => [n.memoryKiB, n.pages, n.distances])).toEqual([[null, [], []], [null, [], []]]);
  });

  test("siblings in the generated XML are libvirt's canonical cpusets", () => {
    const xml = capabilitiesXml(syntheticHosts.power8Smt8);
    for (const [, siblings] of xml.matchAll(/siblings='([^']*)'/g)) {
      expect(formatCpuset(parseCpuset(siblings))).toBe(siblings);
    }
  });
});
