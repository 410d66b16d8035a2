// A libvirt domain XML read back into everything in it that pins or binds (vCPUs, emulator and
// every iothread, numatune memory and memnode, the memory size and its backing, the guest's NUMA
// cells and topology), so that the pack judges what a `<vm>-domain` command really sends. What it
// does not understand in those sections is listed, never skipped: an element the pack cannot judge
// is a violation, not silence. Pure: no @pulumi import, no I/O.
//
// Read as libvirt reads it (libvirt docs, formatdomain.html, "CPU Tuning", "Memory Tuning", "NUMA
// Node Tuning", "Memory Backing", "CPU model and topology", "IOThreads Allocation"): attribute
// quoting, comments, element order and cpuset spelling (`0-2` = `0,1,2`) do not matter; memory
// units follow virScaleInteger (b/bytes, KB = 1000, k = KiB = 1024, MB, M, MiB, ... EiB, case
// ignored; no unit is KiB), rounded up to whole KiB.
import { XMLParser } from "fast-xml-parser";
import { CpusetError, parseCpuset } from "../../topology/cpuset";
import type { HostTopology } from "../../topology/host-topology";
import type { VmPlacement } from "../../topology/placement";

/** A console of the domain (`<graphics>`): its type and every address it listens on. */
export interface Console {
  type: string;
  /** Addresses from `listen=` and `<listen type='address'>`; "network:<name>" for a network
   * listen, "socket" for a UNIX socket, "" when the domain names none (libvirt's qemu.conf then
   * decides, which the domain cannot promise anything about). */
  listens: string[];
}

/** What a domain pins and binds, as written (no default filled in). */
export interface DomainRead {
  name: string;
  vcpus: number;
  /** Host thread of each vCPU; -1 for a vCPU without a pin, or pinned to several threads (it floats). */
  vcpupin: number[];
  /** `<cpu><topology>`; null when absent. */
  topology: { sockets: number; dies: number; cores: number; threads: number } | null;
  /** `<cpu><numa><cell>`s: the guest's NUMA nodes. */
  cells: { id: number; cpus: number[]; memoryKiB: number }[];
  /** `<emulatorpin>`; [] when absent. */
  emulatorpin: number[];
  /** Every iothread (`<iothreads>` N and `<iothreadids>`), with its pin; null = not pinned. */
  iothreads: { id: number; pin: number[] | null }[];
  /** `<iothreadpin>`s naming an iothread the domain does not have. */
  strayIothreadPins: number[];
  memoryKiB: number;
  /** `<currentMemory>`; null when absent (libvirt then takes `<memory>`). */
  currentMemoryKiB: number | null;
  /** `<numatune><memory>`; null when absent. Modes as written (strict, interleave, preferred, ...). */
  numatune: { mode: string; nodeset: number[] } | null;
  memnodes: { cellid: number; mode: string; nodeset: number[] }[];
  /** null without `<memoryBacking><hugepages>`; else its `<page>`s, or one entry of size null for
   * `<hugepages/>` with none (the host's default huge page size, which the domain does not say). */
  hugepages: { sizeKiB: number | null; nodeset: number[] | null }[] | null;
  /** What the pack does not understand where pins and bindings live, e.g. `<cputune><vcpusched>`. */
  unknown: string[];
  consoles: Console[];
}

/** The domain cannot be read as a pinned VM at all; the message says which element. */
export class DomainReadError extends Error {}

type El = Record<string, unknown>;

// Every element is an array: one pin and many read the same way, and a section given twice is seen.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

/** The child elements `name` of `parent` (each an object, or "" for an empty one, or its text). */
function kids(parent: unknown, name: string): unknown[] {
  const v = parent && typeof parent === "object" ? (parent as El)[name] : undefined;
  return Array.isArray(v) ? v : [];
}

function attr(e: unknown, name: string): string | undefined {
  const v = e && typeof e === "object" ? (e as El)[`@_${name}`] : undefined;
  return v === undefined ? undefined : String(v);
}

function text(e: unknown): string | undefined {
  if (typeof e === "string" || typeof e === "number") return String(e);
  if (e && typeof e === "object" && "#text" in (e as El)) return String((e as El)["#text"]);
  return undefined;
}

function childNames(e: unknown): string[] {
  return e && typeof e === "object" ? Object.keys(e as El).filter((k) => !k.startsWith("@_") && k !== "#text") : [];
}

function attrNames(e: unknown): string[] {
  return e && typeof e === "object" ? Object.keys(e as El).filter((k) => k.startsWith("@_")).map((k) => k.slice(2)) : [];
}

function int(s: string | undefined, what: string): number {
  const n = s === undefined ? NaN : Number(s.trim());
  if (!/^\s*\d+\s*$/.test(s ?? "") || !Number.isSafeInteger(n)) throw new DomainReadError(`${what} is ${s === undefined ? "missing" : `'${s}'`}, not a whole number`);
  return n;
}

function cpuset(s: string | undefined, what: string): number[] {
  if (s === undefined) throw new DomainReadError(`${what} is missing`);
  try {
    return parseCpuset(s);
  } catch (e) {
    if (e instanceof CpusetError) throw new DomainReadError(`${what}: ${e.message}`);
    throw e;
  }
}

/** libvirt's virScaleInteger: the unit's factor in bytes, or undefined for what libvirt refuses. */
function unitBytes(unit: string): number | undefined {
  const u = unit.toLowerCase();
  if (u === "" ) return 1024;
  if (u === "b" || u === "bytes") return 1;
  const base = u.length === 1 || u.slice(1) === "ib" ? 1024 : u.slice(1) === "b" ? 1000 : undefined;
  const power = "kmgtpe".indexOf(u[0]) + 1;
  return base === undefined || power === 0 ? undefined : base ** power;
}

/** KiB of a memory amount `value` in `unit` (none: KiB), rounded up as libvirt does. */
function kib(value: string | undefined, unit: string | undefined, what: string): number {
  const bytes = unitBytes((unit ?? "").trim());
  if (bytes === undefined) throw new DomainReadError(`${what} has unit '${unit}', which libvirt does not know`);
  return Math.ceil((int(value, what) * bytes) / 1024);
}

/** The one element `name` of `parent`, or undefined; given twice it is not understood. */
function one(parent: unknown, name: string, where: string, unknown: string[]): unknown {
  const all = kids(parent, name);
  if (all.length > 1) unknown.push(`${where}<${name}> given ${all.length} times`);
  return all[0];
}

/** Child elements and attributes beyond `elements` / `attrs`, said as `<where><child>`. */
function strangers(e: unknown, where: string, elements: string[], attrs: string[], unknown: string[]): void {
  for (const c of childNames(e)) if (!elements.includes(c)) unknown.push(`${where}<${c}>`);
  for (const a of attrNames(e)) if (!attrs.includes(a)) unknown.push(`${where} ${a}='${attr(e, a)}'`);
}

/** Reads `xml`; throws DomainReadError when it is not a domain a VM could be made of. */
export function readDomain(xml: string): DomainRead {
  let doc: El;
  try {
    doc = parser.parse(xml) as El;
  } catch (e) {
    throw new DomainReadError(`is not XML (${(e as Error).message.split("\n")[0]})`);
  }
  const domains = kids(doc, "domain");
  if (domains.length !== 1) throw new DomainReadError(domains.length === 0 ? "has no <domain> element" : "has several <domain> elements");
  const domain = domains[0] as El;
  const unknown: string[] = [];
  const name = text(kids(domain, "name")[0])?.trim();
  if (!name) throw new DomainReadError("has no <name>");

  // vCPUs: <vcpu placement='static'>N</vcpu>; placement='auto' (numad), cpuset= (a default pin for
  // every vCPU and the emulator) and current= (vCPUs offline at boot) are not what the plan decides.
  const vcpu = one(domain, "vcpu", "", unknown);
  const vcpus = int(text(vcpu), "<vcpu>");
  if (attr(vcpu, "placement") !== undefined && attr(vcpu, "placement") !== "static") unknown.push(`<vcpu placement='${attr(vcpu, "placement")}'>`);
  if (attr(vcpu, "current") !== undefined && Number(attr(vcpu, "current")) !== vcpus) unknown.push(`<vcpu current='${attr(vcpu, "current")}'>`);
  strangers(vcpu, "<vcpu>", [], ["placement", "current"], unknown);
  if (kids(domain, "vcpus").length > 0) unknown.push("<vcpus>");

  const cputune = one(domain, "cputune", "", unknown);
  strangers(cputune, "<cputune>", ["vcpupin", "emulatorpin", "iothreadpin"], [], unknown);
  const pins = new Map<number, number[]>();
  for (const p of kids(cputune, "vcpupin")) {
    strangers(p, "<cputune><vcpupin>", [], ["vcpu", "cpuset"], unknown);
    const v = int(attr(p, "vcpu"), "<vcpupin vcpu>");
    if (pins.has(v)) unknown.push(`<cputune><vcpupin vcpu='${v}'> given twice`);
    pins.set(v, cpuset(attr(p, "cpuset"), `<vcpupin vcpu='${v}'> cpuset`));
  }
  for (const v of pins.keys()) if (v >= vcpus) unknown.push(`<cputune><vcpupin vcpu='${v}'> for a vCPU the domain does not have`);
  const vcpupin = Array.from({ length: vcpus }, (_, v) => {
    const set = pins.get(v);
    return set && set.length === 1 ? set[0] : -1;
  });
  const emulator = one(cputune, "emulatorpin", "<cputune>", unknown);
  strangers(emulator, "<cputune><emulatorpin>", [], ["cpuset"], unknown);
  const emulatorpin = emulator === undefined ? [] : cpuset(attr(emulator, "cpuset"), "<emulatorpin> cpuset");

  // iothreads: N of them (<iothreads>N), ids from <iothreadids> first, then 1, 2, ... as libvirt
  // numbers the rest; each may have an <iothreadpin>.
  const count = kids(domain, "iothreads").length > 0 ? int(text(one(domain, "iothreads", "", unknown)), "<iothreads>") : 0;
  const idsElement = one(domain, "iothreadids", "", unknown);
  strangers(idsElement, "<iothreadids>", ["iothread"], [], unknown);
  const ids = kids(idsElement, "iothread").map((t) => {
    strangers(t, "<iothreadids><iothread>", [], ["id"], unknown);
    return int(attr(t, "id"), "<iothreadids><iothread id>");
  });
  for (let next = 1; ids.length < count; next++) if (!ids.includes(next)) ids.push(next);
  const iothreadPins = new Map<number, number[]>();
  for (const p of kids(cputune, "iothreadpin")) {
    strangers(p, "<cputune><iothreadpin>", [], ["iothread", "cpuset"], unknown);
    const id = int(attr(p, "iothread"), "<iothreadpin iothread>");
    iothreadPins.set(id, cpuset(attr(p, "cpuset"), `<iothreadpin iothread='${id}'> cpuset`));
  }
  const iothreads = ids.sort((a, b) => a - b).map((id) => ({ id, pin: iothreadPins.get(id) ?? null }));
  const strayIothreadPins = [...iothreadPins.keys()].filter((id) => !ids.includes(id)).sort((a, b) => a - b);

  // Memory: its size, no balloon below it, no hot-pluggable memory beside it.
  const memory = one(domain, "memory", "", unknown);
  strangers(memory, "<memory>", [], ["unit", "dumpCore"], unknown);
  const memoryKiB = kib(text(memory), attr(memory, "unit"), "<memory>");
  const current = one(domain, "currentMemory", "", unknown);
  strangers(current, "<currentMemory>", [], ["unit"], unknown);
  const currentMemoryKiB = current === undefined ? null : kib(text(current), attr(current, "unit"), "<currentMemory>");
  if (kids(domain, "maxMemory").length > 0) unknown.push("<maxMemory>");

  const numatune = one(domain, "numatune", "", unknown);
  strangers(numatune, "<numatune>", ["memory", "memnode"], [], unknown);
  const numaMemory = one(numatune, "memory", "<numatune>", unknown);
  strangers(numaMemory, "<numatune><memory>", [], ["mode", "nodeset", "placement"], unknown);
  if (attr(numaMemory, "placement") !== undefined && attr(numaMemory, "placement") !== "static") unknown.push(`<numatune><memory placement='${attr(numaMemory, "placement")}'>`);
  const numa =
    numaMemory === undefined
      ? null
      : { mode: attr(numaMemory, "mode") ?? "strict", nodeset: attr(numaMemory, "nodeset") === undefined ? [] : cpuset(attr(numaMemory, "nodeset"), "<numatune><memory> nodeset") };
  const memnodes = kids(numatune, "memnode").map((m) => {
    strangers(m, "<numatune><memnode>", [], ["cellid", "mode", "nodeset"], unknown);
    const cellid = int(attr(m, "cellid"), "<memnode cellid>");
    return { cellid, mode: attr(m, "mode") ?? "strict", nodeset: cpuset(attr(m, "nodeset"), `<memnode cellid='${cellid}'> nodeset`) };
  });

  // Huge pages; `locked` and `nosharepages` change no placement and are understood as such.
  const backing = one(domain, "memoryBacking", "", unknown);
  strangers(backing, "<memoryBacking>", ["hugepages", "locked", "nosharepages"], [], unknown);
  let hugepages: DomainRead["hugepages"] = null;
  const huge = one(backing, "hugepages", "<memoryBacking>", unknown);
  if (huge !== undefined) {
    strangers(huge, "<memoryBacking><hugepages>", ["page"], [], unknown);
    const pages = kids(huge, "page").map((p) => {
      strangers(p, "<hugepages><page>", [], ["size", "unit", "nodeset"], unknown);
      return {
        sizeKiB: kib(attr(p, "size"), attr(p, "unit"), "<hugepages><page size>"),
        nodeset: attr(p, "nodeset") === undefined ? null : cpuset(attr(p, "nodeset"), "<hugepages><page> nodeset"),
      };
    });
    hugepages = pages.length > 0 ? pages : [{ sizeKiB: null, nodeset: null }];
  }

  // The guest CPU: its topology and NUMA cells (the CPU model and features pin nothing).
  const cpu = one(domain, "cpu", "", unknown);
  const topo = one(cpu, "topology", "<cpu>", unknown);
  strangers(topo, "<cpu><topology>", [], ["sockets", "dies", "clusters", "cores", "threads"], unknown);
  const topology = topo
    ? {
        sockets: int(attr(topo, "sockets"), "<topology sockets>"),
        dies: attr(topo, "dies") === undefined ? 1 : int(attr(topo, "dies"), "<topology dies>"),
        cores: int(attr(topo, "cores"), "<topology cores>"),
        threads: int(attr(topo, "threads"), "<topology threads>"),
      }
    : null;
  if (topo && attr(topo, "clusters") !== undefined && attr(topo, "clusters") !== "1") unknown.push(`<cpu><topology clusters='${attr(topo, "clusters")}'>`);
  const guestNuma = one(cpu, "numa", "<cpu>", unknown);
  strangers(guestNuma, "<cpu><numa>", ["cell"], [], unknown);
  const cells = kids(guestNuma, "cell").map((c) => {
    strangers(c, "<cpu><numa><cell>", [], ["id", "cpus", "memory", "unit", "memAccess"], unknown);
    const id = int(attr(c, "id"), "<cell id>");
    return { id, cpus: cpuset(attr(c, "cpus"), `<cell id='${id}'> cpus`), memoryKiB: kib(attr(c, "memory"), attr(c, "unit"), `<cell id='${id}'> memory`) };
  });

  const devices = one(domain, "devices", "", unknown);
  // A memory device (DIMM, virtio-mem) adds memory, with its own node, beside what the plan sizes.
  for (const d of ["memory"]) if (kids(devices, d).length > 0) unknown.push(`<devices><${d}>`);
  // QEMU arguments libvirt passes through unread can bind anything (-numa, -object memory-backend).
  for (const k of childNames(domain)) if (/^qemu:/.test(k)) unknown.push(`<${k}>`);

  const consoles = kids(devices, "graphics").map((g) => {
    const listens: string[] = [];
    if (attr(g, "listen") !== undefined) listens.push(attr(g, "listen")!);
    for (const l of kids(g, "listen")) {
      const type = attr(l, "type");
      if (type === "address") listens.push(attr(l, "address") ?? "");
      else if (type === "network") listens.push(`network:${attr(l, "network") ?? ""}`);
      else if (type === "socket") listens.push("socket");
      else if (type === "none") listens.push("none");
      else listens.push("");
    }
    if (listens.length === 0) listens.push("");
    return { type: attr(g, "type") ?? "unknown", listens: [...new Set(listens)] };
  });

  return { name, vcpus, vcpupin, topology, cells, emulatorpin, iothreads, strayIothreadPins, memoryKiB, currentMemoryKiB, numatune: numa, memnodes, hugepages, unknown, consoles };
}

/**
 * The VmPlacement a domain pins, to be judged by topology/invariants.ts next to the plan's other
 * VMs. Its host, node and emulator promise are the plan's (`decided`): what the domain says is
 * judged against them. Unpinned vCPUs read as thread -1 (on no core); iothreads are the union of
 * their pins (an unpinned one is said by the comparison with the plan, not here); huge pages count
 * only with an explicit page size.
 */
export function placementOf(read: DomainRead, decided: VmPlacement): VmPlacement {
  const sizes = new Set(read.hugepages?.map((p) => p.sizeKiB));
  const size = sizes.size === 1 ? [...sizes][0] : null;
  return {
    name: read.name,
    host: decided.host,
    node: decided.node,
    vcpus: read.vcpus,
    vcpupin: read.vcpupin,
    emulatorpin: read.emulatorpin,
    iothreadpin: [...new Set(read.iothreads.flatMap((t) => t.pin ?? []))].sort((a, b) => a - b),
    memoryKiB: read.memoryKiB,
    numatune: read.numatune ? { mode: read.numatune.mode === "strict" ? "strict" : "interleave", nodeset: read.numatune.nodeset } : { mode: "interleave", nodeset: [] },
    topology: read.topology ?? { sockets: read.vcpus, dies: 1, cores: 1, threads: 1 },
    hugepages: size ? { sizeKiB: size, count: read.memoryKiB / size } : null,
    emulator: decided.emulator,
  } as VmPlacement;
}

/** The node of each thread of the host. */
export function nodeOfThread(topology: HostTopology): Map<number, number> {
  const out = new Map<number, number>();
  for (const n of topology.nodes) for (const t of n.threads) out.set(t.id, n.id);
  return out;
}
