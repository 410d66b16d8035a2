// Tight requests on many-node hosts that fit by construction: each node's usable cores (and, for
// some families, its memory and huge pages) are cut into VMs first, then the VMs are shuffled and
// most are made `node: auto`. So a placement exists (the construction's), and the planner must
// find one. Generated for `npm run bench`; the property tests (planner-scale.test.ts) use them too.
import { capabilitiesXml, regularHost } from "../test/fixtures/hosts";
import { parseCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { PlacementRequestSchema, type PlacementRequest } from "../topology/request";
import { prng } from "../topology/prng";

/**
 * - exact: every usable core of every node taken (100 %), memory loose;
 * - tight: 95-99 % of the cores, memory loose;
 * - memory: cores 95-100 % and memory 90-100 %, with memory not proportional to cores (a VM with
 *   many cores may have little memory), so both resources bind;
 * - mixed: tight cores with dedicated emulators, some fixed nodes, 1G huge-page VMs taking a
 *   node's whole pool, and floating VMs made of the cores the strict ones leave.
 */
export type Family = "exact" | "tight" | "memory" | "mixed";
export const FAMILIES: readonly Family[] = ["exact", "tight", "memory", "mixed"];

export interface TightCase {
  name: string;
  family: Family;
  nodes: number;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

const HOST = "big";
const RESERVE_CORES = 1;
const RESERVE_GIB = 4;
const topologyCache = new Map<string, HostTopology>();

/** A regular x86 host with `nodes` nodes (2 per socket) of `coresPerNode` cores x 2 threads. */
export function tightHost(nodes: number, coresPerNode: number, memoryGiB: number, pages1G: number): HostTopology {
  const key = `${nodes}/${coresPerNode}/${memoryGiB}/${pages1G}`;
  let t = topologyCache.get(key);
  if (!t) {
    const sockets = nodes >= 2 ? nodes / 2 : 1;
    const host = regularHost({
      name: `tight${key.replace(/\//g, "x")}`,
      sockets,
      nodesPerSocket: nodes / sockets,
      coresPerNode,
      threadsPerCore: 2,
      memoryGiBPerNode: memoryGiB,
      hugepages: pages1G > 0 ? { "1G": pages1G } : undefined,
    });
    t = parseCapabilities(capabilitiesXml(host), `synthetic:${host.name}`);
    topologyCache.set(key, t);
  }
  return structuredClone(t);
}

/** Cut `total` into parts of 1..max, mostly small (how VM sizes look in a real request). */
export function cut(total: number, max: number, rand: () => number): number[] {
  const parts: number[] = [];
  let left = total;
  while (left > 0) {
    const r = rand();
    const size = Math.min(left, r < 0.3 ? 1 : r < 0.5 ? 2 : r < 0.6 ? 3 : 1 + Math.floor(rand() * max));
    parts.push(size);
    left -= size;
  }
  return parts;
}

/**
 * One case of the family: `nodes` nodes, about `vms` VMs (the sizes decide the exact count).
 * Cores per node are chosen so that the VMs average about 2.6 cores.
 */
export function tightCase(family: Family, nodes: number, vms: number, seed: number): TightCase {
  const rand = prng(seed * 7919 + nodes * 131 + vms);
  const usable = Math.max(4, Math.round((vms * 2.6) / nodes));
  const memoryGiB = 8 * usable + RESERVE_GIB + 32;
  const pages1G = family === "mixed" ? 16 : 0;
  const topology = tightHost(nodes, usable + RESERVE_CORES, memoryGiB, pages1G);
  const vmMemGiB = memoryGiB - RESERVE_GIB - pages1G;
  type Entry = Record<string, unknown> & { name: string; cores: number };
  const entries: Entry[] = [];
  let floatingCores = 0;
  for (let n = 0; n < nodes; n++) {
    const fill = family === "exact" ? 1 : family === "memory" ? 0.95 + 0.05 * rand() : 0.95 + 0.04 * rand();
    const take = Math.max(1, Math.round(usable * fill));
    const sizes = cut(take, Math.max(2, Math.min(16, Math.floor(usable / 2))), rand);
    if (family === "mixed") floatingCores += usable - take;
    // Memory: loose (a bit over 2 GiB per core) or, for the memory family, a random share of 90-100 %
    // of the node's VM memory, handed out in proportion to random weights, not to cores.
    const memFill = family === "memory" ? 0.9 + 0.1 * rand() : 0;
    const weights = sizes.map(() => 0.2 + rand());
    const wsum = weights.reduce((a, b) => a + b, 0);
    let pageVmDone = false;
    sizes.forEach((cores, k) => {
      const entry: Entry = { name: "", cores, node: rand() < (family === "mixed" ? 0.15 : 0) ? n : "auto" };
      let vCores = cores;
      if (family === "mixed" && cores >= 2 && rand() < 0.2) {
        // A dedicated emulator core comes out of the VM's share of the node.
        entry.emulator = "dedicated";
        vCores = cores - 1;
      }
      entry.cores = vCores;
      if (family === "mixed" && !pageVmDone && vCores >= 2 && rand() < 0.5) {
        entry.hugepages = "1G";
        entry.memoryGiB = pages1G;
        pageVmDone = true;
      } else if (family === "memory") {
        entry.memoryGiB = Math.max(1, Math.floor((vmMemGiB * memFill * weights[k]) / wsum));
      } else {
        entry.memoryGiB = Math.max(1, Math.floor((2 * cores * vmMemGiB) / (3 * usable)));
      }
      entries.push(entry);
    });
  }
  // Floating VMs: the cores the strict VMs leave, 1-2 cores each, little memory.
  while (floatingCores > 0) {
    const cores = Math.min(floatingCores, 1 + Math.floor(rand() * 2));
    entries.push({ name: "", cores, memoryGiB: 1, numa: "floating" });
    floatingCores -= cores;
  }
  // Shuffle (Fisher-Yates), then name in request order.
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  entries.forEach((e, i) => (e.name = `vm-${String(i).padStart(3, "0")}`));
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: HOST, capabilities: "synthetic.xml", reserve: { coresPerNode: RESERVE_CORES, memoryGiBPerNode: RESERVE_GIB } }],
    vms: entries,
  });
  return { name: `${family} ${nodes} nodes ${entries.length} VMs #${seed}`, family, nodes, request, topologies: new Map([[HOST, topology]]) };
}
