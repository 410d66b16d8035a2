// The pack reads a domain XML back into what it pins and binds. For every VM the product renders,
// what is read back is the placement it was rendered from (nothing differs from the plan); a
// rewrite libvirt itself reads as the same domain (quoting, comments, order, cpuset spelling,
// memory units, layout) reads back the same; and what the reader does not understand is listed.
import { resolve } from "node:path";
import { renderDomainXml } from "../../topology/domain-xml";
import { domainSpecOf } from "../../hypervisor/vm-description";
import { vmDescriptions } from "../../stacks/numa-vms";
import { placeRequest } from "../../stacks/place-stack";
import { readStackInputs, stackNames } from "../../stacks/stack-inputs";
import { differences } from "../../policy/rules/domain-diff";
import { DomainReadError, placementOf, readDomain } from "../../policy/rules/domain-placement";
import { checkPlacements } from "../../policy/rules/placement-rules";
import { contextFromStack } from "../../policy/rules/context";
import { TestDriver } from "../libvirt-test-driver";
import { requireTools } from "../tools";

const ROOT = resolve(__dirname, "../..");

/** Every VM of stack `stack` as the product renders its domain, with the placement it is made of. */
function rendered(stack: string) {
  const inputs = readStackInputs(ROOT, stack);
  const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
  if (placed.kind !== "placed") throw new Error(placed.lines.join("\n"));
  return vmDescriptions(inputs, placed.plan).map((vm) => ({ placement: vm.placement, xml: renderDomainXml(vm.placement, domainSpecOf(vm)) }));
}

const STACKS = stackNames(ROOT);

/** A domain of just a memory size (no guest NUMA cells, from which libvirt would recompute it). */
const memoryDomain = (memory: string) => `<domain type='kvm'><name>m</name>${memory}<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
const MEMORY_UNITS: [string, number][] = [
  ["<memory>1048576</memory>", 1048576],
  ["<memory unit='KiB'>1048576</memory>", 1048576],
  ["<memory unit='k'>1048576</memory>", 1048576],
  ["<memory unit='kib'>1048576</memory>", 1048576],
  ["<memory unit='MiB'>1024</memory>", 1048576],
  ["<memory unit='M'>1024</memory>", 1048576],
  ["<memory unit='GiB'>1</memory>", 1048576],
  ["<memory unit='G'>1</memory>", 1048576],
  ["<memory unit='b'>1073741824</memory>", 1048576],
  ["<memory unit='bytes'>1073741825</memory>", 1048577],
  ["<memory unit='KB'>1024</memory>", 1000],
  ["<memory unit='MB'>1</memory>", 977],
  ["<memory unit='TiB'>1</memory>", 1024 ** 3],
];

describe("readDomain", () => {
  test.each(STACKS)("every VM of stack %s reads back as the placement it was rendered from, differing from it in nothing", (stack) => {
    const vms = rendered(stack);
    expect(vms.length).toBeGreaterThan(0);
    for (const { placement, xml } of vms) {
      const read = readDomain(xml);
      expect(read.unknown).toEqual([]);
      expect(placementOf(read, placement)).toEqual(placement);
      expect(differences(read, placement)).toEqual([]);
    }
  });

  test("memory in every unit libvirt knows reads as the same KiB, rounded up as libvirt does", () => {
    for (const [memory, kib] of MEMORY_UNITS) expect([memory, readDomain(memoryDomain(memory)).memoryKiB]).toEqual([memory, kib]);
    expect(() => readDomain(memoryDomain("<memory unit='pages'>4</memory>"))).toThrow(DomainReadError);
  });

  test("every iothread is read with its pin, including one left unpinned and one named by <iothreadids>", () => {
    const read = readDomain(
      `<domain><name>io</name><vcpu>2</vcpu><memory>1024</memory><iothreads>3</iothreads><iothreadids><iothread id='7'/></iothreadids>` +
        `<cputune><iothreadpin iothread='7' cpuset='34-35'/><iothreadpin iothread='1' cpuset='34'/><iothreadpin iothread='9' cpuset='1'/></cputune></domain>`,
    );
    expect(read.iothreads).toEqual([
      { id: 1, pin: [34] },
      { id: 2, pin: null },
      { id: 7, pin: [34, 35] },
    ]);
    expect(read.strayIothreadPins).toEqual([9]);
  });

  test("<hugepages/> without <page> is read as the host's default size, not as no huge pages", () => {
    const base = "<domain><name>h</name><vcpu>2</vcpu><memory unit='GiB'>4</memory>";
    expect(readDomain(`${base}</domain>`).hugepages).toBeNull();
    expect(readDomain(`${base}<memoryBacking><hugepages/></memoryBacking></domain>`).hugepages).toEqual([{ sizeKiB: null, nodeset: null }]);
    expect(readDomain(`${base}<memoryBacking><hugepages><page size='1' unit='G' nodeset='0'/></hugepages></memoryBacking></domain>`).hugepages).toEqual([{ sizeKiB: 1048576, nodeset: [0] }]);
  });

  test("what pins or binds in a way the pack does not understand is listed, section by section", () => {
    const read = readDomain(
      `<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>u</name><vcpu placement='auto' cpuset='1-3'>2</vcpu><vcpus/><memory>1024</memory><maxMemory slots='4'>8192</maxMemory>` +
        `<cputune><vcpupin vcpu='0' cpuset='1'/><vcpusched vcpus='0' scheduler='fifo' priority='1'/><shares>2048</shares></cputune>` +
        `<numatune><memory mode='strict' nodeset='0' placement='auto'/><memnode cellid='0' mode='strict' nodeset='0'/></numatune>` +
        `<memoryBacking><locked/><source type='memfd'/><hugepages><page size='2048'/></hugepages></memoryBacking>` +
        `<cpu><numa><cell id='0' cpus='0-1' memory='1024' discard='yes'><distances/></cell><interconnects/></numa></cpu>` +
        `<devices><memory model='dimm'/></devices><qemu:commandline/></domain>`,
    );
    expect(read.unknown.sort()).toEqual(
      [
        "<vcpu placement='auto'>",
        "<vcpu> cpuset='1-3'",
        "<vcpus>",
        "<maxMemory>",
        "<cputune><vcpusched>",
        "<cputune><shares>",
        "<numatune><memory placement='auto'>",
        "<memoryBacking><source>",
        "<cpu><numa><cell><distances>",
        "<cpu><numa><cell> discard='yes'",
        "<cpu><numa><interconnects>",
        "<devices><memory>",
        "<qemu:commandline>",
      ].sort(),
    );
  });

  test("a domain that is no VM at all is a finding naming the resource, not a crash", () => {
    const ctx = contextFromStack(ROOT, "single");
    const findings = checkPlacements([{ resource: "x-domain", xml: "<domain><name>x</name><vcpu>two</vcpu></domain>" }], ctx);
    expect(findings).toEqual([{ rule: "whole-cores", resource: "x-domain", message: "x-domain: the domain XML <vcpu> is 'two', not a whole number" }]);
    expect(checkPlacements([{ resource: "y-domain", xml: "<domain><name>y</name>" }], ctx).map((f) => f.rule)).toEqual(["whole-cores"]);
  });
});

/** Rewrites that change the bytes and not the domain. */
const REWRITES: [string, (xml: string) => string][] = [
  ["attributes in single quotes", (x) => x.replace(/="([^"]*)"/g, "='$1'")],
  ["comments between every element", (x) => x.replace(/>\n/g, "><!-- reviewed: numa-k3s -->\n")],
  ["all on one line", (x) => x.replace(/\n\s*/g, "")],
  ["vCPU pins listed backwards, attributes swapped", (x) => {
    const pins = [...x.matchAll(/ *<vcpupin vcpu="(\d+)" cpuset="(\d+)"\/>\n/g)];
    const block = pins.map((m) => m[0]).join("");
    return x.replace(block, pins.reverse().map((m) => `    <vcpupin cpuset="${m[2]}" vcpu="${m[1]}"/>\n`).join(""));
  }],
  ["sections in another order (numatune last, iothreadpin first, memnode before memory)", (x) => {
    const numatune = /  <numatune>[\s\S]*?<\/numatune>\n/.exec(x)![0];
    const memory = / *<memory mode=[^\n]*\n/.exec(numatune)![0];
    const moved = numatune.replace(memory, "").replace("  </numatune>\n", `${memory}  </numatune>\n`);
    const io = [...x.matchAll(/ *<iothreadpin [^\n]*\n/g)].map((m) => m[0]).join("");
    return x.replace(numatune, "").replace("</devices>\n", `</devices>\n${moved}`).replace(io, "").replace("  <cputune>\n", `  <cputune>\n${io}`);
  }],
  ["cpusets spelled out id by id", (x) => x.replace(/(cpuset|nodeset|cpus)="([\d,-]+)"/g, (_, a: string, set: string) => `${a}="${set.split(",").flatMap((r) => { const [lo, hi = lo] = r.split("-").map(Number); return Array.from({ length: hi - lo + 1 }, (_v, i) => lo + i); }).join(",")}"`)],
  // An id no set here holds, added then taken out again: libvirt applies entries left to right.
  ["cpusets with libvirt's exclusions", (x) => x.replace(/cpuset="([\d,-]+)"/g, 'cpuset="$1,4095,^4095"')],
  ["memory in GiB, MiB and bytes", (x) => x
    .replace(/<memory unit="KiB">(\d+)</, (_, k: string) => `<memory unit='GiB'>${Number(k) / 1048576}<`)
    .replace(/<currentMemory unit="KiB">(\d+)</, (_, k: string) => `<currentMemory unit="MiB">${Number(k) / 1024}<`)
    .replace(/memory="(\d+)" unit="KiB"/, (_, k: string) => `memory="${Number(k) * 1024}" unit="b"`)],
];

describe("harmless rewrites", () => {
  test.each(STACKS)("stack %s: each rewrite reads back as the same domain, differing from the plan in nothing", (stack) => {
    for (const { placement, xml } of rendered(stack))
      for (const [what, rewrite] of REWRITES) {
        const changed = rewrite(xml);
        expect([what, changed === xml]).toEqual([what, false]);
        expect([what, readDomain(changed)]).toEqual([what, readDomain(xml)]);
        expect([what, differences(readDomain(changed), placement)]).toEqual([what, []]);
      }
  });

  const haveLibvirt = requireTools("test/policy/domain-placement.test.ts", [["virsh", "libvirt-clients"]]);
  (haveLibvirt ? test : test.skip)("libvirt itself reads each rewrite as the same domain (its dumpxml, uuid aside, is byte for byte the original's)", () => {
    const driver = new TestDriver();
    try {
      const dump = (xml: string, name: string) => driver.defineAndDump(xml, name).replace(/<uuid>[^<]*<\/uuid>/, "");
      for (const { placement, xml } of rendered("single")) {
        const original = dump(xml, placement.name);
        for (const [what, rewrite] of REWRITES) expect([what, dump(rewrite(xml), placement.name)]).toEqual([what, original]);
        // What libvirt writes back is itself a rewrite the pack reads as the plan.
        expect(differences(readDomain(original), placement)).toEqual([]);
      }
      // And it reads each memory unit as the pack does.
      for (const [memory, kib] of MEMORY_UNITS) expect([memory, readDomain(driver.defineAndDump(memoryDomain(memory), "m")).memoryKiB]).toEqual([memory, kib]);
    } finally {
      driver.dispose();
    }
  }, 60000);
});
