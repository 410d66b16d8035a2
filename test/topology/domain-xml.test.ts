import fc from "fast-check";
import { XMLParser } from "fast-xml-parser";
import { parseCpuset } from "../../topology/cpuset";
import { DomainSpec, TCG_X86_MODEL, renderDomainXml } from "../../topology/domain-xml";
import type { VmPlacement } from "../../topology/placement";
import { TestDriver } from "../libvirt-test-driver";
import { InputError } from "../../common/user-error";
import { expectGolden } from "../golden";

// The reference host (docs/reference-layouts.md): the threads of core n are n and n+36; node 0 = cores 0-17, node 1 = 18-35.
const SIBLING_OFFSET = 36;
const GiB = 1024 * 1024;

/** A strict placement on the reference host: whole cores (by first thread), siblings in order. */
function strict(name: string, node: number, cores: number[], memoryGiB: number, emulatorpin: number[]): VmPlacement {
  return {
    name,
    host: "numa-01",
    node,
    vcpus: cores.length * 2,
    vcpupin: cores.flatMap((c) => [c, c + SIBLING_OFFSET]),
    emulatorpin,
    iothreadpin: emulatorpin,
    memoryKiB: memoryGiB * GiB,
    numatune: { mode: "strict", nodeset: [node] },
    topology: { sockets: 1, dies: 1, cores: cores.length, threads: 2 },
    hugepages: null,
    emulator: "shared",
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const NODE0_RESERVED = [17, 53];
const NODE1_RESERVED = [35, 71];

function baseSpec(name: string, mac: string): DomainSpec {
  return {
    osDisk: { path: `/var/lib/libvirt/images/${name}-os.qcow2` },
    cloudInitIso: { path: `/var/lib/libvirt/images/${name}-seed.iso` },
    network: { mac },
  };
}

interface Case {
  title: string;
  placement: VmPlacement;
  spec: DomainSpec;
}

// The `single` layout (docs/reference-layouts.md) plus the variants a stack can ask for.
const CASES: Case[] = [
  {
    title: "16-core SLM VM on node 0",
    placement: strict("k3s-worker-slm-heavy", 0, range(0, 15), 118, NODE0_RESERVED),
    spec: { ...baseSpec("k3s-worker-slm-heavy", "52:54:00:00:00:01"), description: "SLM inference, socket 0's L3 alone" },
  },
  {
    title: "data VM with staging, hot and a passed-through lake disk",
    placement: strict("k3s-worker-data", 1, range(18, 23), 60, NODE1_RESERVED),
    spec: {
      ...baseSpec("k3s-worker-data", "52:54:00:00:00:02"),
      stagingDisk: { path: "/var/lib/libvirt/images/k3s-worker-data-staging.qcow2" },
      hotDisk: { path: "/srv/ssd/k3s-worker-data-hot.raw", format: "raw" },
      dataDisk: { device: "/dev/disk/by-id/ata-ST8000VN004-2M2101_WSD0XXXX" },
      emulatorPath: "/usr/bin/qemu-system-x86_64",
    },
  },
  {
    title: "1G huge-page SLM VM on node 1",
    placement: {
      ...strict("k3s-worker-slm", 1, range(24, 27), 32, NODE1_RESERVED),
      hugepages: { sizeKiB: GiB, count: 32 },
    },
    spec: { ...baseSpec("k3s-worker-slm", "52:54:00:00:00:03"), lockMemory: true },
  },
  {
    title: "tasks VM with VNC on a fixed port and two iothreads",
    // I/O threads on a core of their own, apart from the emulator threads.
    placement: { ...strict("k3s-server-tasks", 1, range(28, 33), 24, NODE1_RESERVED), iothreadpin: [34, 70] },
    spec: {
      ...baseSpec("k3s-server-tasks", "52:54:00:00:00:04"),
      stagingDisk: { path: "/var/lib/libvirt/images/k3s-server-tasks-staging.qcow2" },
      vnc: { enabled: true, port: 5904 },
      iothreads: 2,
      network: { bridge: "br-k3s", mac: "52:54:00:00:00:04" },
    },
  },
  {
    title: "floating VM interleaved over nodes 0 and 1, VNC on a free port",
    placement: {
      name: "k3s-minio-storage",
      host: "numa-01",
      node: null,
      vcpus: 6,
      vcpupin: [16, 52, 34, 70, 15, 51],
      emulatorpin: [17, 53, 35, 71],
      iothreadpin: [17, 53, 35, 71],
      memoryKiB: 32 * GiB,
      numatune: { mode: "interleave", nodeset: [0, 1] },
      topology: { sockets: 1, dies: 1, cores: 3, threads: 2 },
      hugepages: null,
      emulator: "shared",
    },
    spec: { ...baseSpec("k3s-minio-storage", "52:54:00:00:00:05"), vnc: { enabled: true } },
  },
  {
    title: "qemu (TCG) domain for a host without /dev/kvm",
    placement: strict("k3s-ci-smoke", 0, [2], 2, NODE0_RESERVED),
    spec: { ...baseSpec("k3s-ci-smoke", "52:54:00:00:00:06"), domainType: "qemu", vnc: { enabled: false }, memAccess: "shared" },
  },
];

const ALWAYS_ARRAYS = new Set(["vcpupin", "iothreadpin", "memnode", "cell", "disk", "graphics", "listen", "page", "interface"]);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "$",
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => ALWAYS_ARRAYS.has(name),
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type X = any;
const parse = (xml: string): X => parser.parse(xml).domain;
const sortedUnique = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);

/** What the placement and spec promise, checked on a domain as libvirt wrote it back. */
function expectDomainKeepsPlacement(d: X, p: VmPlacement, spec: DomainSpec): void {
  expect(d.name).toBe(p.name);
  expect(Number(d.memory["#text"])).toBe(p.memoryKiB);
  expect(d.memory.$unit).toBe("KiB");
  expect(Number(d.vcpu["#text"])).toBe(p.vcpus);

  const pins = d.cputune.vcpupin.map((v: X) => ({ vcpu: Number(v.$vcpu), threads: parseCpuset(v.$cpuset) }));
  expect(pins).toEqual(p.vcpupin.map((thread, vcpu) => ({ vcpu, threads: [thread] })));
  expect(parseCpuset(d.cputune.emulatorpin.$cpuset)).toEqual(sortedUnique(p.emulatorpin));
  const iothreads = spec.iothreads ?? 1;
  expect(Number(d.iothreads)).toBe(iothreads);
  expect(d.cputune.iothreadpin.map((t: X) => Number(t.$iothread))).toEqual(Array.from({ length: iothreads }, (_, i) => i + 1));
  for (const t of d.cputune.iothreadpin) expect(parseCpuset(t.$cpuset)).toEqual(sortedUnique(p.iothreadpin));

  expect(d.numatune.memory.$mode).toBe(p.numatune.mode);
  expect(parseCpuset(d.numatune.memory.$nodeset)).toEqual(sortedUnique(p.numatune.nodeset));
  if (p.numatune.mode === "strict") {
    expect(d.numatune.memnode).toEqual([{ $cellid: "0", $mode: "strict", $nodeset: String(p.node) }]);
  } else {
    expect(d.numatune.memnode).toBeUndefined();
  }

  const topo = d.cpu.topology;
  expect([topo.$sockets, topo.$dies, topo.$cores, topo.$threads].map(Number)).toEqual([
    p.topology.sockets,
    p.topology.dies,
    p.topology.cores,
    p.topology.threads,
  ]);
  expect(d.cpu.numa.cell).toHaveLength(1);
  expect(parseCpuset(d.cpu.numa.cell[0].$cpus)).toEqual(Array.from({ length: p.vcpus }, (_, i) => i));
  expect(Number(d.cpu.numa.cell[0].$memory)).toBe(p.memoryKiB);
  if (spec.domainType === "qemu") {
    // An Intel model under TCG on x86: the guest finds its sibling threads in CPUID leaf 0xB.
    expect([d.cpu.$mode, d.cpu.model["#text"]]).toEqual(["custom", TCG_X86_MODEL]);
  } else {
    expect(d.cpu.$mode).toBe("host-passthrough");
  }

  if (p.hugepages === null) {
    expect(d.memoryBacking?.hugepages).toBeUndefined();
  } else {
    expect(d.memoryBacking.hugepages.page).toEqual([{ $size: String(p.hugepages.sizeKiB), $unit: "KiB", $nodeset: "0" }]);
  }
  expect(d.memoryBacking?.locked !== undefined).toBe(spec.lockMemory === true);

  // Ballooning would move pinned memory behind numatune's back.
  expect(d.devices.memballoon.$model).toBe("none");
  const graphics: X[] = d.devices.graphics ?? [];
  if (spec.vnc?.enabled) {
    expect(graphics).toHaveLength(1);
    expect(graphics[0].$type).toBe("vnc");
    expect(graphics[0].listen.map((l: X) => l.$address)).toEqual(["127.0.0.1"]);
    expect(graphics[0].$listen).toBe("127.0.0.1");
    if (spec.vnc.port !== undefined) expect(Number(graphics[0].$port)).toBe(spec.vnc.port);
  } else {
    expect(graphics).toHaveLength(0);
  }
  expect(d.devices.interface[0].mac.$address).toBe(spec.network.mac);
  expect(d.devices.interface[0].source.$bridge).toBe(spec.network.bridge ?? "br0");

  const disks: X[] = d.devices.disk;
  const bySerial = new Map(disks.filter((k) => k.serial !== undefined).map((k) => [k.serial, k]));
  expect(bySerial.get("os").source.$file).toBe(spec.osDisk.path);
  expect(bySerial.get("staging")?.source.$file).toBe(spec.stagingDisk?.path);
  expect(bySerial.get("hot")?.source.$file).toBe(spec.hotDisk?.path);
  if (spec.dataDisk) {
    const lake = bySerial.get("lake");
    expect(lake.$type).toBe("block");
    expect(lake.source.$dev).toBe(spec.dataDisk.device);
    expect(lake.driver).toMatchObject({ $type: "raw", $cache: "none", $io: "native" });
  } else {
    expect(bySerial.has("lake")).toBe(false);
  }
  const cdrom = disks.find((k) => k.$device === "cdrom");
  expect(cdrom.source.$file).toBe(spec.cloudInitIso.path);
  expect(cdrom.readonly).toBeDefined();
}

describe("renderDomainXml on the reference host", () => {
  let driver: TestDriver;
  beforeAll(() => {
    driver = new TestDriver();
  });
  afterAll(() => driver.dispose());

  test.each(CASES)("$title: valid by libvirt's schema", ({ placement, spec }) => {
    const result = driver.validate(renderDomainXml(placement, spec));
    expect(result).toEqual({ ok: true, output: expect.stringContaining("validates") });
  });

  test.each(CASES)("$title: libvirt's parser keeps every pin, the NUMA policy and the topology", ({ placement, spec }) => {
    const dumped = driver.defineAndDump(renderDomainXml(placement, spec), placement.name);
    expectDomainKeepsPlacement(parse(dumped), placement, spec);
  });

  test("the 16-core node-0 VM pins vCPU k to the documented threads", () => {
    const d = parse(renderDomainXml(CASES[0].placement, CASES[0].spec));
    expect(d.cputune.vcpupin.map((v: X) => Number(v.$cpuset))).toEqual([
      0, 36, 1, 37, 2, 38, 3, 39, 4, 40, 5, 41, 6, 42, 7, 43, 8, 44, 9, 45, 10, 46, 11, 47, 12, 48, 13, 49, 14, 50, 15, 51,
    ]);
    expect(d.cputune.emulatorpin.$cpuset).toBe("17,53");
  });

  test("rendering is deterministic", () => {
    for (const { placement, spec } of CASES) {
      expect(renderDomainXml(placement, spec)).toBe(renderDomainXml(structuredClone(placement), structuredClone(spec)));
    }
  });

  test("no listen address but loopback is ever rendered", () => {
    for (const { placement, spec } of CASES) {
      const xml = renderDomainXml(placement, { ...spec, vnc: { enabled: true } });
      const graphics = xml.slice(xml.indexOf("<graphics"), xml.indexOf("</graphics>"));
      const addresses = [...graphics.matchAll(/(?:listen|address)="([^"]*)"/g)].map((m) => m[1]);
      expect(addresses).toEqual(["127.0.0.1", "127.0.0.1"]);
    }
  });
});

describe("golden domain", () => {
  test("k3s-worker-data renders as reviewed (UPDATE_GOLDEN=1 rewrites)", () => {
    const data = CASES[1];
    expectGolden(__dirname, "domain-k3s-worker-data.xml", renderDomainXml(data.placement, data.spec));
  });
});

describe("renderDomainXml refuses what cannot make a domain, in one line naming the field", () => {
  const { placement, spec } = CASES[1];
  const refusals: Array<[string, VmPlacement, DomainSpec, RegExp]> = [
    ["a /dev/sdX data disk", placement, { ...spec, dataDisk: { device: "/dev/sdb" } }, /spec\.dataDisk\.device = "\/dev\/sdb": must be a \/dev\/disk\/by-id\/ path/],
    ["a pin list shorter than the vCPUs", { ...placement, vcpupin: placement.vcpupin.slice(1) }, spec, /placement\.vcpupin = .*one host thread id .*per vCPU \(12\)/],
    ["two vCPUs on one thread", { ...placement, vcpupin: [18, ...placement.vcpupin.slice(1, -1), 18] }, spec, /placement\.vcpupin = .*a host thread of its own/],
    ["a topology that does not add up", { ...placement, topology: { ...placement.topology, cores: 5 } }, spec, /placement\.topology = .*must equal vcpus \(12\)/],
    ["no emulator threads", { ...placement, emulatorpin: [] }, spec, /placement\.emulatorpin = \[\]/],
    ["huge pages that do not cover the memory", { ...placement, hugepages: { sizeKiB: GiB, count: 59 } }, spec, /placement\.hugepages = .*must equal memoryKiB/],
    ["strict memory on another node", { ...placement, numatune: { mode: "strict", nodeset: [0] } }, spec, /placement\.numatune\.nodeset = \[0\]: a strict VM's memory is on its own node only \(\[1\]\)/],
    ["a multicast MAC", placement, { ...spec, network: { mac: "01:00:5e:00:00:01" } }, /spec\.network\.mac = "01:00:5e:00:00:01": is multicast/],
    ["a malformed MAC", placement, { ...spec, network: { mac: "52:54:00:00:00" } }, /spec\.network\.mac = .*must be a lowercase MAC address/],
    ["a VNC port below 5900", placement, { ...spec, vnc: { enabled: true, port: 22 } }, /spec\.vnc\.port = 22: must be an integer in 5900-65535/],
    ["a relative disk path", placement, { ...spec, osDisk: { path: "os.qcow2" } }, /spec\.osDisk\.path = "os.qcow2": must be an absolute path/],
    ["zero iothreads", placement, { ...spec, iothreads: 0 }, /spec\.iothreads = 0/],
  ];
  test.each(refusals)("%s", (_title, p, s, message) => {
    let error: unknown;
    try {
      renderDomainXml(p, s);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text).toContain(`VM '${p.name}'`);
    expect(text).not.toContain("\n");
  });
});

describe("property: one vcpupin per vCPU, in placement order", () => {
  // Any SMT width, any core count, any distinct host threads.
  const placementArb = fc
    .record({
      threads: fc.constantFrom(1, 2, 4, 8),
      cores: fc.integer({ min: 1, max: 24 }),
      node: fc.integer({ min: 0, max: 7 }),
      memoryMiB: fc.integer({ min: 256, max: 512 * 1024 }),
      seedThreads: fc.uniqueArray(fc.integer({ min: 0, max: 1023 }), { minLength: 24 * 8 + 2, maxLength: 24 * 8 + 2 }),
    })
    .map(({ threads, cores, node, memoryMiB, seedThreads }): VmPlacement => {
      const vcpus = threads * cores;
      return {
        name: "vm-prop",
        host: "h",
        node,
        vcpus,
        vcpupin: seedThreads.slice(0, vcpus),
        emulatorpin: seedThreads.slice(vcpus, vcpus + 2),
        iothreadpin: seedThreads.slice(vcpus, vcpus + 2),
        memoryKiB: memoryMiB * 1024,
        numatune: { mode: "strict", nodeset: [node] },
        topology: { sockets: 1, dies: 1, cores, threads },
        hugepages: null,
        emulator: "shared",
      };
    });

  test("exactly N vcpupin elements, vcpu k pinned to placement.vcpupin[k]", () => {
    fc.assert(
      fc.property(placementArb, (p) => {
        const d = parse(renderDomainXml(p, baseSpec(p.name, "52:54:00:12:34:56")));
        const pins: X[] = d.cputune.vcpupin;
        expect(pins).toHaveLength(p.vcpus);
        expect(pins.map((v) => Number(v.$vcpu))).toEqual(p.vcpupin.map((_, k) => k));
        expect(pins.map((v) => parseCpuset(v.$cpuset))).toEqual(p.vcpupin.map((t) => [t]));
        expect(Number(d.cpu.topology.$cores) * Number(d.cpu.topology.$threads)).toBe(p.vcpus);
      }),
      { numRuns: 200 },
    );
  });
});
