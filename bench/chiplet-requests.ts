// Chiplet hosts (an L3 bank per CCX in the capture) and requests on them that have a placement with
// no VM split over more L3 domains than its size needs, by construction: each domain's free cores
// are cut into VMs first. For `npm run bench` and the L3 tests (l3-domains.test.ts, the goldens).
import { capabilitiesXml, regularHost } from "../test/fixtures/hosts";
import { parseCapabilities } from "../topology/capabilities";
import { formatCpuset } from "../topology/cpuset";
import type { HostTopology } from "../topology/host-topology";
import { prng } from "../topology/prng";
import { PlacementRequestSchema, type PlacementRequest } from "../topology/request";
import { cut } from "./tight-requests";

export interface ChipletSpec {
  nodes: number;
  banksPerNode: number;
  coresPerBank: number;
  threadsPerCore: number;
  /** Memory per node, GiB; default 256. */
  memoryGiB?: number;
  /**
   * How the node's cores are numbered over its domains: domain by domain (the default), or round
   * robin (core k of a node in its domain k mod banksPerNode, as some firmware numbers CCDs).
   */
  numbering?: "by-domain" | "round-robin";
}

/** A regular host whose capture lists an L3 bank per `coresPerBank` consecutive cores of a node. */
export function chipletHost(spec: ChipletSpec): HostTopology {
  const coresPerNode = spec.banksPerNode * spec.coresPerBank;
  const host = regularHost({ name: "chiplet", sockets: 1, nodesPerSocket: spec.nodes, coresPerNode, threadsPerCore: spec.threadsPerCore, memoryGiBPerNode: spec.memoryGiB ?? 256 });
  const hostCores = spec.nodes * coresPerNode;
  const banks: string[] = [];
  for (let b = 0; b < spec.nodes * spec.banksPerNode; b++) {
    const threads: number[] = [];
    const node = Math.floor(b / spec.banksPerNode);
    const cores =
      spec.numbering === "round-robin"
        ? Array.from({ length: spec.coresPerBank }, (_, i) => node * coresPerNode + (b % spec.banksPerNode) + i * spec.banksPerNode)
        : Array.from({ length: spec.coresPerBank }, (_, i) => b * spec.coresPerBank + i);
    for (const c of cores) for (let k = 0; k < spec.threadsPerCore; k++) threads.push(c + k * hostCores);
    banks.push(`      <bank id='${b}' level='3' type='both' size='32' unit='MiB' cpus='${formatCpuset(threads.sort((x, y) => x - y))}'/>`);
  }
  const xml = capabilitiesXml(host).replace(/ {4}<cache>[\s\S]*?<\/cache>/, `    <cache>\n${banks.join("\n")}\n    </cache>`);
  return parseCapabilities(xml, "synthetic:chiplet");
}

/**
 * A split-free request on a chiplet host: each domain's free cores (the last domain of a node loses
 * the reserved core) cut into VMs of 1..domain size, shuffled, all `node: auto`, 2 GiB each.
 */
export function chipletCase(spec: ChipletSpec, seed: number): { request: PlacementRequest; topologies: Map<string, HostTopology> } {
  const rand = prng(seed * 104729 + spec.nodes * 31 + spec.banksPerNode);
  const sizes: number[] = [];
  for (let b = 0; b < spec.nodes * spec.banksPerNode; b++) {
    const last = b % spec.banksPerNode === spec.banksPerNode - 1;
    sizes.push(...cut(spec.coresPerBank - (last ? 1 : 0), spec.coresPerBank, rand));
  }
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j], sizes[i]];
  }
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "chiplet", capabilities: "chiplet.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
    vms: sizes.map((cores, i) => ({ name: `vm-${String(i).padStart(3, "0")}`, cores, memoryGiB: 2 })),
  });
  return { request, topologies: new Map([["chiplet", chipletHost(spec)]]) };
}

/**
 * The harder split-free family (issue 23, point 3): 8-core domains, 2-8 per node, 1-4 nodes; per
 * node, most of its memory on one VM (the rest get 1-4 GiB), so that sharing a node's memory out
 * over its domains in proportion to cores fails; some VMs a domain and a half large
 * (a whole domain plus part of another), some with a dedicated emulator core in their domain, and
 * with `fixed`, about one VM in five naming its node.
 */
export function chipletMemoryCase(spec: ChipletSpec, seed: number, fixed: boolean): { request: PlacementRequest; topologies: Map<string, HostTopology> } {
  const rand = prng(seed * 7331 + spec.nodes * 17 + spec.banksPerNode * 3 + (fixed ? 1 : 0));
  const memoryGiB = spec.memoryGiB ?? 256;
  const vmMemoryGiB = memoryGiB - 4;
  type Entry = Record<string, unknown> & { cores: number; node: number };
  const entries: Entry[] = [];
  for (let n = 0; n < spec.nodes; n++) {
    const free = Array.from({ length: spec.banksPerNode }, (_, b) => spec.coresPerBank - (b === spec.banksPerNode - 1 ? 1 : 0));
    const here: Entry[] = [];
    // Sometimes a VM of a whole domain plus part of the next (two domains, as ceil(cores / 8) allows).
    if (spec.banksPerNode >= 3 && rand() < 0.5) {
      const part = 1 + Math.floor(rand() * (spec.coresPerBank - 1));
      here.push({ cores: spec.coresPerBank + part, node: n });
      free[0] = 0;
      free[1] -= part;
    }
    for (const f of free) {
      for (const size of f > 0 ? cut(f, spec.coresPerBank, rand) : []) {
        const entry: Entry = { cores: size, node: n };
        if (size >= 2 && rand() < 0.15) {
          entry.cores = size - 1;
          entry.emulator = "dedicated";
        }
        here.push(entry);
      }
    }
    // Memory: one VM holds most of the node's (more than any domain's share of it by cores); the
    // others 1-4 GiB.
    const heavy = Math.floor(rand() * here.length);
    const light = here.map((_, i) => (i === heavy ? 0 : 1 + Math.floor(rand() * 4)));
    const left = Math.floor(vmMemoryGiB * (0.9 + 0.1 * rand())) - light.reduce((a, b) => a + b, 0);
    here.forEach((e, i) => (e.memoryGiB = i === heavy ? left : light[i]));
    entries.push(...here);
  }
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "chiplet", capabilities: "chiplet.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
    vms: entries.map((e, i) => ({ ...e, name: `vm-${String(i).padStart(3, "0")}`, node: fixed && rand() < 0.2 ? e.node : "auto" })),
  });
  return { request, topologies: new Map([["chiplet", chipletHost({ ...spec, memoryGiB })]]) };
}
