// `virsh capabilities` XML -> HostTopology: the only place that reads libvirt's capture format.
// What a capture may look like (real ones differ a lot) is catalogued in
// test/fixtures/capabilities/README.md; the rules below follow it.
import { readFileSync } from "node:fs";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { formatCpuset, parseCpuset } from "./cpuset";
import { InputError } from "../common/user-error";
import {
  HostTopologySchema,
  type Core,
  type HostTopology,
  type NumaNode,
  type PagePool,
  type Thread,
} from "./host-topology";

/** A capture that cannot be used. The message is one line and starts with the capture's path. */
export class CapabilitiesError extends InputError {
  constructor(
    readonly source: string,
    problem: string,
  ) {
    super(`${source}: ${problem.replace(/\s+/g, " ").trim()}`);
  }
}

/** Read a capture file; `shownAs` (default: the path) becomes `source`, the prefix of every error:
 * callers pass the path as the user wrote it. */
export function readCapabilities(path: string, shownAs = path): HostTopology {
  let xml: string;
  try {
    xml = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a directory" : err.code ?? err.message;
    throw new CapabilitiesError(shownAs, `cannot read the capture (${why}); create it with \`virsh capabilities > ${shownAs}\``);
  }
  return parseCapabilities(xml, shownAs);
}

/**
 * Parse `virsh capabilities` output into the planner's view of the host.
 *
 * 1. Nodes are the cells of <host><topology><cells>; no cells at all means one node 0 that nothing
 *    can be placed on (old libvirt, or a host without NUMA information), said in a warning.
 * 2. A thread is online when its <cpu> carries topology attributes; a bare <cpu id='N'/> next to
 *    described ones is offline. When no <cpu> anywhere is described (old libvirt), every thread is
 *    taken as online and as its own core, and a warning says SMT siblings are unknown.
 * 3. Cores are the online threads grouped by their `siblings` list. The lists must agree (every
 *    online sibling lists the same set) and stay inside the node; core_id is not used for grouping
 *    because AMD module partners and split sockets repeat or differ in it.
 * 4. threadsPerCore is the largest core; smaller cores (an offline sibling) are incomplete.
 */
export function parseCapabilities(xml: string, source: string): HostTopology {
  try {
    const host = hostElement(xml);
    return toTopology(readCells(host), hostThreadsHint(host), hostArch(host), source, readL3Banks(host));
  } catch (e) {
    if (e instanceof Problem) throw new CapabilitiesError(source, e.message);
    throw e;
  }
}

/** A problem found in the capture, before we know how to prefix it; becomes a CapabilitiesError. */
class Problem extends Error {}

function fail(problem: string): never {
  throw new Problem(problem);
}

// ---- XML access ------------------------------------------------------------------------------

/** An element as fast-xml-parser gives it: attributes under "@", text under "#text", children as arrays. */
type XmlElement = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  // Attributes apart from children, so an attribute can never be mistaken for a child element.
  attributesGroupName: "@",
  // Every child is an array: repeated elements never collapse, and order does not matter.
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  // Numbers are checked by us, so that `1e3` or `0x10` is refused instead of silently converted.
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function hostElement(xml: string): XmlElement {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line } = valid.err;
    const unclosed = /^Invalid '\[(.*)\]' found\.$/s.exec(msg);
    fail(
      unclosed
        ? `not a whole XML document: it ends inside ${unclosed[1].replace(/[\s"]/g, "").split(",").map((t) => `<${t}>`).join(" ")} (truncated capture?)`
        : `not well-formed XML (line ${line}): ${msg.replace(/\.$/, "")}; expected the output of \`virsh capabilities\``,
    );
  }
  const document = parser.parse(xml) as XmlElement;
  const roots = Object.keys(document).filter((key) => !key.startsWith("?") && !key.startsWith("!"));
  if (roots.length !== 1 || roots[0] !== "capabilities") {
    fail(`the root element is ${roots.map((r) => `<${r}>`).join(", ") || "missing"}; expected <capabilities> (the output of \`virsh capabilities\`)`);
  }
  const rootElements = elements(document, "capabilities");
  if (rootElements.length !== 1) fail(`the root element is <capabilities> ${rootElements.length} times; expected one document`);
  const capabilities = rootElements[0];
  const hosts = elements(capabilities, "host");
  if (hosts.length === 0) fail("<capabilities> has no <host> element");
  if (hosts.length > 1) fail(`<capabilities> has ${hosts.length} <host> elements; expected one`);
  return hosts[0];
}

function hostArch(host: XmlElement): string | null {
  const cpu = elements(host, "cpu")[0];
  const arch = cpu ? elements(cpu, "arch")[0] : undefined;
  return arch ? text(arch).trim() || null : null;
}

function elements(parent: XmlElement, name: string): XmlElement[] {
  const value = parent[name];
  if (!Array.isArray(value)) return [];
  return value.map((child) => (typeof child === "string" ? { "#text": child } : (child as XmlElement)));
}

function attribute(element: XmlElement, name: string): string | undefined {
  const attributes = element["@"] as Record<string, string> | undefined;
  return attributes?.[name];
}

function attributeNames(element: XmlElement): string[] {
  return Object.keys((element["@"] as Record<string, string> | undefined) ?? {});
}

function text(element: XmlElement): string {
  const value = element["#text"];
  return typeof value === "string" ? value : "";
}

/** libvirt prints unsigned decimals; anything else is a damaged or hand-edited capture. */
function whole(value: string | undefined, where: string): number {
  if (value === undefined) fail(`${where} is missing`);
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    fail(`${where} = '${value}' is not a whole number`);
  }
  return Number(trimmed);
}

function optionalWhole(element: XmlElement, name: string, where: string): number | null {
  const value = attribute(element, name);
  return value === undefined ? null : whole(value, `${where} ${name}`);
}

/**
 * The host <cpu><topology threads> attribute, said in a warning only: it is per node and often
 * contradicts the cells (POWER, AMD modules), so it never decides the planner's cores.
 */
function hostThreadsHint(host: XmlElement): string | undefined {
  return elements(host, "cpu")
    .flatMap((cpu) => elements(cpu, "topology"))
    .map((topology) => attribute(topology, "threads"))
    .find((threads) => threads !== undefined);
}

// ---- units -----------------------------------------------------------------------------------

/**
 * Bytes per unit, as libvirt's virScaleInteger reads them: b/byte/bytes; k, KiB (1024) and KB
 * (1000), and the same for M, G, T, P, E; letters in any case. No unit means KiB in <memory> and
 * <pages>.
 */
function bytesPerUnit(unit: string | undefined, where: string): bigint {
  if (unit === undefined) return 1024n;
  const u = unit.trim().toLowerCase();
  if (u === "b" || u === "byte" || u === "bytes") return 1n;
  const match = /^([kmgtpe])(ib|b)?$/.exec(u);
  if (match === null) fail(`${where} unit='${unit}' is not a libvirt unit (b, KiB, MiB, GiB, TiB, or k, M, G, T)`);
  const power = BigInt("kmgtpe".indexOf(match[1]) + 1);
  return (match[2] === "b" ? 1000n : 1024n) ** power;
}

/** Whole KiB in `amount` `unit`s, rounded down (a part-KiB of memory is not usable anyway). */
function toKiB(amount: number, unit: string | undefined, where: string): number {
  const kib = (BigInt(amount) * bytesPerUnit(unit, where)) / 1024n;
  if (kib > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${where} = ${amount} ${unit} is too large`);
  return Number(kib);
}

// ---- cells -----------------------------------------------------------------------------------

interface CpuRecord {
  readonly id: number;
  readonly socket: number | null;
  readonly die: number | null;
  readonly core: number | null;
  /** The parsed `siblings` list; null when the cpu has no such attribute. */
  readonly siblings: readonly number[] | null;
  /** Carries any topology attribute. cluster_id counts (it means libvirt read the topology). */
  readonly described: boolean;
}

interface CellRecord {
  readonly id: number;
  readonly memoryKiB: number | null;
  readonly pages: PagePool[];
  readonly distances: NumaNode["distances"];
  readonly cpus: readonly CpuRecord[];
}

/** The cells, or null when the capture has no <host><topology><cells> with a <cell> in it. */
function readCells(host: XmlElement): CellRecord[] | null {
  const cellElements = elements(host, "topology")
    .flatMap((topology) => elements(topology, "cells"))
    .flatMap((cells) => elements(cells, "cell"));
  if (cellElements.length === 0) return null;
  const seen = new Set<number>();
  return cellElements.map((element, index) => {
    const id = whole(attribute(element, "id"), `<cell> #${index + 1} id`);
    if (seen.has(id)) fail(`node ${id} is listed twice (two <cell id='${id}'>)`);
    seen.add(id);
    return readCell(element, id);
  });
}

function readCell(cell: XmlElement, id: number): CellRecord {
  const where = `<cell id='${id}'>`;
  const memories = elements(cell, "memory");
  if (memories.length > 1) fail(`${where} has ${memories.length} <memory> elements; expected one`);
  const memoryKiB =
    memories.length === 0
      ? null
      : toKiB(whole(text(memories[0]), `${where} <memory>`), attribute(memories[0], "unit"), `${where} <memory>`);

  const pages = elements(cell, "pages").map((page) => {
    const unit = attribute(page, "unit");
    const size = whole(attribute(page, "size"), `${where} <pages> size`);
    const sizeBytes = BigInt(size) * bytesPerUnit(unit, `${where} <pages size='${size}'>`);
    if (sizeBytes === 0n || sizeBytes % 1024n !== 0n) fail(`${where} <pages size='${size}' unit='${unit}'> is not a whole number of KiB`);
    return { sizeKiB: Number(sizeBytes / 1024n), count: whole(text(page), `${where} <pages size='${size}'> count`) };
  });
  pages.sort((a, b) => a.sizeKiB - b.sizeKiB);
  for (let i = 1; i < pages.length; i++) {
    if (pages[i].sizeKiB === pages[i - 1].sizeKiB) fail(`${where} lists pages of ${pages[i].sizeKiB} KiB twice`);
  }

  const distances = elements(cell, "distances")
    .flatMap((d) => elements(d, "sibling"))
    .map((sibling) => {
      const node = whole(attribute(sibling, "id"), `${where} <distances><sibling> id`);
      const value = whole(attribute(sibling, "value"), `${where} <distances><sibling id='${node}'> value`);
      if (value === 0) fail(`${where} <distances><sibling id='${node}'> value = 0; distances start at 10 (local)`);
      return { node, value };
    });

  const cpus = elements(cell, "cpus")
    .flatMap((c) => elements(c, "cpu"))
    .map((cpu, index) => readCpu(cpu, `${where} <cpu> #${index + 1}`, id));
  return { id, memoryKiB, pages, distances, cpus };
}

function readCpu(cpu: XmlElement, position: string, cellId: number): CpuRecord {
  const id = whole(attribute(cpu, "id"), `${position} id`);
  const where = `<cell id='${cellId}'> <cpu id='${id}'>`;
  const siblingsText = attribute(cpu, "siblings");
  let siblings: number[] | null = null;
  if (siblingsText !== undefined) {
    try {
      siblings = parseCpuset(siblingsText);
    } catch (e) {
      fail(`${where} siblings: ${(e as Error).message}`);
    }
  }
  // cluster_id is read only to refuse garbage; it plays no part in placement (65535 = none).
  optionalWhole(cpu, "cluster_id", where);
  return {
    id,
    socket: optionalWhole(cpu, "socket_id", where),
    die: optionalWhole(cpu, "die_id", where),
    core: optionalWhole(cpu, "core_id", where),
    siblings,
    described: attributeNames(cpu).some((name) => name !== "id"),
  };
}

// ---- caches ----------------------------------------------------------------------------------

/**
 * The L3 bank of each thread, from <host><cache><bank level='3' cpus='...'>. Banks of type code
 * and data (Intel CDP) list the same cpus under one id; the first bank naming a thread wins. A
 * capture without <cache> (most of them) gives an empty map: cores then group by die, then socket.
 */
function readL3Banks(host: XmlElement): Map<number, number> {
  const bankOf = new Map<number, number>();
  for (const cache of elements(host, "cache")) {
    for (const [index, bank] of elements(cache, "bank").entries()) {
      if (attribute(bank, "level") !== "3") continue;
      const where = `<cache><bank> #${index + 1}`;
      const id = whole(attribute(bank, "id"), `${where} id`);
      const cpus = attribute(bank, "cpus");
      if (cpus === undefined) fail(`${where} (L3, id ${id}) has no cpus attribute`);
      let threads: number[] = [];
      try {
        threads = parseCpuset(cpus);
      } catch (e) {
        fail(`${where} (L3, id ${id}) cpus: ${(e as Error).message}`);
      }
      for (const t of threads) if (!bankOf.has(t)) bankOf.set(t, id);
    }
  }
  return bankOf;
}

// ---- topology --------------------------------------------------------------------------------

function toTopology(
  cells: CellRecord[] | null,
  threadsHint: string | undefined,
  arch: string | null,
  source: string,
  l3Of: ReadonlyMap<number, number> = new Map(),
): HostTopology {
  const warnings: string[] = [];
  // Without cells there is no thread or memory to place anything on: refused here, where the file
  // is read, rather than as a host on which every VM "does not fit".
  if (cells === null)
    fail("has no NUMA topology (no <host><topology><cells>): capture it with `virsh capabilities` on the host itself, with a libvirt that reports <topology> (1.0 or newer)");
  const nodes = toNodes(cells, threadsHint, warnings, l3Of);
  const threadsPerCore = Math.max(1, ...nodes.flatMap((n) => n.cores.map((c) => c.threads.length)));
  const topology: HostTopology = {
    source,
    arch,
    nodes: nodes.map((node) => ({
      ...node,
      cores: node.cores.map((core) => ({ ...core, complete: core.threads.length === threadsPerCore })),
    })),
    threadsPerCore,
    warnings,
  };
  const checked = HostTopologySchema.safeParse(topology);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    fail(`the parsed topology does not fit HostTopology at ${issue.path.join(".")}: ${issue.message}`);
  }
  return checked.data;
}

function toNodes(cells: CellRecord[], threadsHint: string | undefined, warnings: string[], l3Of: ReadonlyMap<number, number>): NumaNode[] {
  // Each thread in exactly one node: two listings would let two VMs be pinned to one thread.
  const nodeOfThread = new Map<number, number>();
  for (const cell of cells) {
    for (const cpu of cell.cpus) {
      const other = nodeOfThread.get(cpu.id);
      if (other !== undefined) {
        fail(
          other === cell.id
            ? `thread ${cpu.id} is listed twice in node ${cell.id}`
            : `thread ${cpu.id} is listed in node ${other} and in node ${cell.id}; a thread belongs to one node`,
        );
      }
      nodeOfThread.set(cpu.id, cell.id);
    }
  }

  const anyDescribed = cells.some((cell) => cell.cpus.some((cpu) => cpu.described));
  const allCpus = cells.flatMap((cell) => cell.cpus);
  if (!anyDescribed && allCpus.length > 0) {
    warnings.push(
      `SMT siblings are unknown (no <cpu> in the capture carries socket_id, core_id or siblings${threadsHint === undefined ? "" : `; the host <cpu><topology> says threads='${threadsHint}'`}): every thread is taken as its own core, so the plan may put two VMs on sibling threads of one physical core; capture with a newer libvirt`,
    );
  }
  const online = (cpu: CpuRecord): boolean => cpu.described || !anyDescribed;
  const offline = allCpus.filter((cpu) => !online(cpu)).map((cpu) => cpu.id);
  if (offline.length > 0) {
    warnings.push(offline.length === 1 ? `thread ${offline[0]} is offline (listed without topology); it is never pinned` : `threads ${formatCpuset(offline)} are offline (listed without topology); they are never pinned`);
  }
  const withoutSiblings = allCpus.filter((cpu) => cpu.described && cpu.siblings === null).map((cpu) => cpu.id);
  if (withoutSiblings.length > 0) {
    warnings.push(
      `${withoutSiblings.length === 1 ? `thread ${withoutSiblings[0]} has` : `threads ${formatCpuset(withoutSiblings)} have`} no siblings attribute: each is taken as its own core, so the plan may put two VMs on sibling threads of one physical core`,
    );
  }

  return [...cells]
    .sort((a, b) => a.id - b.id)
    .map((cell) => {
      const threads: Thread[] = [...cell.cpus]
        .sort((a, b) => a.id - b.id)
        .map((cpu) => ({ id: cpu.id, node: cell.id, socket: cpu.socket, die: cpu.die, core: cpu.core, online: online(cpu) }));
      return {
        id: cell.id,
        memoryKiB: cell.memoryKiB,
        pages: cell.pages,
        distances: cell.distances,
        threads,
        cores: coresOf(cell, online, nodeOfThread, l3Of),
      };
    });
}

/**
 * Group a node's online threads into cores by their `siblings` lists, ascending by first thread.
 * `complete` is set later, once the host's threadsPerCore is known.
 */
function coresOf(cell: CellRecord, online: (cpu: CpuRecord) => boolean, nodeOfThread: Map<number, number>, l3Of: ReadonlyMap<number, number>): Core[] {
  const byId = new Map(cell.cpus.map((cpu) => [cpu.id, cpu]));
  const taken = new Set<number>();
  const cores: Core[] = [];
  for (const cpu of [...cell.cpus].sort((a, b) => a.id - b.id)) {
    if (!online(cpu) || taken.has(cpu.id)) continue;
    const siblings = cpu.siblings ?? [cpu.id];
    const listed = `thread ${cpu.id} of node ${cell.id} lists siblings '${formatCpuset(siblings)}'`;
    if (!siblings.includes(cpu.id)) fail(`${listed}, which does not include the thread itself`);
    const threads: number[] = [];
    for (const siblingId of siblings) {
      const sibling = byId.get(siblingId);
      if (sibling === undefined) {
        const elsewhere = nodeOfThread.get(siblingId);
        fail(
          `${listed}, but thread ${siblingId} is ${elsewhere === undefined ? "not in the capture" : `in node ${elsewhere}`}; siblings of a core share one node`,
        );
      }
      if (!online(sibling)) continue; // an offline sibling: the core is incomplete
      const theirs = sibling.siblings ?? [sibling.id];
      if (formatCpuset(theirs) !== formatCpuset(siblings)) {
        fail(`${listed}, but thread ${siblingId} lists '${formatCpuset(theirs)}'; sibling lists must agree`);
      }
      threads.push(siblingId);
      taken.add(siblingId);
    }
    const first = byId.get(threads[0]) as CpuRecord;
    cores.push({ node: cell.id, socket: first.socket, die: first.die, l3: l3Of.get(threads[0]) ?? null, threads, complete: false });
  }
  return cores;
}
