// A libvirt domain XML read back into the VmPlacement it pins, so that topology/invariants.ts can
// judge what a `<vm>-domain` command really sends, not what the planner meant to send. Pure: no
// @pulumi import, no I/O.
import { XMLParser } from "fast-xml-parser";
import { parseCpuset } from "../../topology/cpuset";
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

export interface ReadDomain {
  placement: VmPlacement;
  consoles: Console[];
}

/** The domain cannot be read as a pinned VM at all; the message says which element. */
export class DomainReadError extends Error {}

type El = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseAttributeValue: false,
  parseTagValue: false,
  // Elements that may repeat are always arrays, so that one pin and many pins read the same way.
  isArray: (name) => ["vcpupin", "iothreadpin", "graphics", "listen", "page", "cell", "memnode"].includes(name),
});

function el(parent: unknown, name: string): El | undefined {
  const v = (parent as El | undefined)?.[name];
  return typeof v === "object" && v !== null ? (Array.isArray(v) ? (v[0] as El) : (v as El)) : undefined;
}

function list(parent: unknown, name: string): El[] {
  const v = (parent as El | undefined)?.[name];
  return Array.isArray(v) ? (v as El[]) : v && typeof v === "object" ? [v as El] : [];
}

function text(v: unknown): string | undefined {
  if (typeof v === "string" || typeof v === "number") return String(v);
  if (v && typeof v === "object" && "#text" in (v as El)) return String((v as El)["#text"]);
  return undefined;
}

function int(v: unknown, what: string): number {
  const s = text(v);
  const n = s === undefined ? NaN : Number(s.trim());
  if (!Number.isInteger(n)) throw new DomainReadError(`${what} is ${s === undefined ? "missing" : `'${s}'`}, not a whole number`);
  return n;
}

/** KiB from a libvirt memory element (unit KiB by default; b, KiB, MiB, GiB as libvirt allows). */
function kib(v: unknown, what: string): number {
  const unit = ((v as El | undefined)?.["@_unit"] as string | undefined) ?? "KiB";
  const scale: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, KiB: 1, M: 1024, MiB: 1024, G: 1024 ** 2, GiB: 1024 ** 2 };
  if (!(unit in scale)) throw new DomainReadError(`${what} has unit '${unit}'`);
  return int(v, what) * scale[unit];
}

/**
 * The placement a domain pins, for VM `host`'s topology:
 * - vcpupin in vCPU order (a vCPU without a pin reads as thread -1, which no rule accepts);
 * - emulatorpin and the union of every iothreadpin;
 * - memory and numatune `<memory>` (a strict VM's node is the one most of its vCPUs are on; null
 *   for interleave);
 * - huge pages from `<memoryBacking><hugepages><page size>`: memory / size pages;
 * - `emulator`: "shared" when every emulator thread is on a core no VM may hold (reserved), else
 *   "dedicated"; invariants.ts then checks the matching promise.
 * The request this placement is checked against is made from it (see requestOf), so only what
 * the XML says is judged, against the host and its reserve.
 */
export function readDomain(xml: string, host: string, hostTopology: HostTopology, reservedThreads: ReadonlySet<number>): ReadDomain {
  let doc: El;
  try {
    doc = parser.parse(xml) as El;
  } catch (e) {
    throw new DomainReadError(`is not XML (${(e as Error).message.split("\n")[0]})`);
  }
  const domain = el(doc, "domain");
  if (!domain) throw new DomainReadError("has no <domain> element");
  const name = text(domain.name);
  if (!name) throw new DomainReadError("has no <name>");
  const vcpus = int(domain.vcpu, "<vcpu>");
  const cputune = el(domain, "cputune");
  const pins = new Map<number, number[]>();
  for (const p of list(cputune, "vcpupin")) pins.set(int(p["@_vcpu"], "<vcpupin vcpu>"), parseCpuset(String(p["@_cpuset"] ?? "")));
  const vcpupin = Array.from({ length: vcpus }, (_, v) => {
    const set = pins.get(v);
    // A vCPU pinned to a set of threads floats among them: read it as unpinned (-1).
    return set && set.length === 1 ? set[0] : -1;
  });
  const emulator = el(cputune, "emulatorpin");
  const emulatorpin = emulator ? parseCpuset(String(emulator["@_cpuset"] ?? "")) : [];
  const iothreadpin = [...new Set(list(cputune, "iothreadpin").flatMap((p) => parseCpuset(String(p["@_cpuset"] ?? ""))))].sort((a, b) => a - b);

  const memoryKiB = kib(domain.memory, "<memory>");
  const memory = el(el(domain, "numatune"), "memory");
  const mode = (memory?.["@_mode"] as string | undefined) ?? "none";
  const nodeset = memory?.["@_nodeset"] !== undefined ? parseCpuset(String(memory["@_nodeset"])) : [];
  // Anything but strict or interleave ("preferred", "restrictive", none) is no promise at all;
  // it is read as interleave over what it names so that invariants.ts refuses it as such.
  const numatune = { mode: mode === "strict" ? ("strict" as const) : ("interleave" as const), nodeset };
  // A strict VM's node is where most of its vCPUs are (a tie goes to numatune's node), so that
  // memory bound elsewhere reads as a numatune problem and a few vCPUs elsewhere as a vCPU one.
  const nodeOf = nodeOfThread(hostTopology);
  const count = new Map<number, number>();
  for (const t of vcpupin) if (nodeOf.has(t)) count.set(nodeOf.get(t)!, (count.get(nodeOf.get(t)!) ?? 0) + 1);
  const most = Math.max(0, ...count.values());
  const candidates = [...count.keys()].filter((n) => count.get(n) === most).sort((a, b) => a - b);
  const node = mode !== "strict" ? null : candidates.length === 0 ? (nodeset[0] ?? null) : candidates.includes(nodeset[0]) ? nodeset[0] : candidates[0];

  const topo = el(el(domain, "cpu"), "topology");
  const topology = topo
    ? { sockets: int(topo["@_sockets"], "<topology sockets>"), dies: topo["@_dies"] === undefined ? 1 : int(topo["@_dies"], "<topology dies>"), cores: int(topo["@_cores"], "<topology cores>"), threads: int(topo["@_threads"], "<topology threads>") }
    : { sockets: vcpus, dies: 1, cores: 1, threads: 1 };

  const page = list(el(el(domain, "memoryBacking"), "hugepages"), "page")[0];
  let hugepages: VmPlacement["hugepages"] = null;
  if (page) {
    const size = kib({ "#text": page["@_size"], "@_unit": page["@_unit"] ?? "KiB" }, "<hugepages><page size>");
    hugepages = { sizeKiB: size, count: memoryKiB / size };
  }
  const shared = emulatorpin.length > 0 && emulatorpin.every((t) => reservedThreads.has(t));

  const consoles = list(el(domain, "devices"), "graphics").map((g) => {
    const listens: string[] = [];
    if (g["@_listen"] !== undefined) listens.push(String(g["@_listen"]));
    for (const l of list(g, "listen")) {
      const type = l["@_type"];
      if (type === "address") listens.push(String(l["@_address"] ?? ""));
      else if (type === "network") listens.push(`network:${String(l["@_network"] ?? "")}`);
      else if (type === "socket") listens.push("socket");
      else if (type === "none") listens.push("none");
      else listens.push("");
    }
    if (listens.length === 0) listens.push("");
    return { type: String(g["@_type"] ?? "unknown"), listens: [...new Set(listens)] };
  });

  const placement = {
    name,
    host,
    node,
    vcpus,
    vcpupin,
    emulatorpin,
    iothreadpin,
    memoryKiB,
    numatune,
    topology,
    hugepages,
    emulator: shared ? "shared" : "dedicated",
  } as VmPlacement;
  return { placement, consoles };
}

/** The node of each thread of the host. */
export function nodeOfThread(topology: HostTopology): Map<number, number> {
  const out = new Map<number, number>();
  for (const n of topology.nodes) for (const t of n.threads) out.set(t.id, n.id);
  return out;
}
