// Memory-tight packings on big hosts (issue 23, point 4), all fitting by construction: 2 sockets of
// 96-256 cores, 4 nodes per socket (NPS4-like), 130-210 VMs whose memory fills the nodes. Per
// node, its usable cores are cut into VMs (a random composition of 85-100 % of them, exactly
// 100 % for `exact`) and its memory for VMs is shared among those VMs by random weights, not in
// proportion to cores, to 97-100 % (exactly 100 % for `exact`); `pages` also fills each node's
// 1G page pool exactly with a few huge-page VMs. `bigMultiHostCase` does the same on 2-3 such
// hosts and leaves most VMs' host out. For `npm run bench`.
import { capabilitiesXml, regularHost } from "../test/fixtures/hosts";
import { parseCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { prng } from "../topology/prng";
import { PlacementRequestSchema, type PlacementRequest } from "../topology/request";

export type BigVariant = "memory" | "exact" | "pages";
export const BIG_VARIANTS: readonly BigVariant[] = ["memory", "exact", "pages"];

export interface BigCase {
  name: string;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

const NODES = 8;
const RESERVE_GIB = 4;
const GIB_PER_CORE = 8;
const PAGES_1G = 64;
const cache = new Map<string, HostTopology>();

/** 2 sockets x 4 nodes of coresPerSocket / 4 cores x 2 threads, 8 GiB per core (+ the reserve) per node. */
export function bigHost(coresPerSocket: number, pages: boolean): HostTopology {
  const key = `${coresPerSocket}/${pages}`;
  let t = cache.get(key);
  if (!t) {
    const cores = coresPerSocket / 4;
    const host = regularHost({
      name: `big${coresPerSocket}${pages ? "p" : ""}`,
      sockets: 2,
      nodesPerSocket: 4,
      coresPerNode: cores,
      threadsPerCore: 2,
      memoryGiBPerNode: GIB_PER_CORE * (cores - 1) + RESERVE_GIB + (pages ? PAGES_1G : 0),
      hugepages: pages ? { "1G": PAGES_1G } : undefined,
    });
    t = parseCapabilities(capabilitiesXml(host), `synthetic:${host.name}`);
    cache.set(key, t);
  }
  return t;
}

/** `total` as `count` positive parts (a random composition), in random order. */
function compose(total: number, count: number, rand: () => number): number[] {
  const n = Math.max(1, Math.min(count, total));
  const cuts = new Set<number>();
  while (cuts.size < n - 1) cuts.add(1 + Math.floor(rand() * (total - 1)));
  const points = [0, ...[...cuts].sort((a, b) => a - b), total];
  return points.slice(1).map((p, i) => p - points[i]);
}

/** `total` shared by random weights into whole parts of at least `least`, summing exactly to `total`. */
function share(total: number, count: number, least: number, rand: () => number): number[] {
  const weights = Array.from({ length: count }, () => 0.1 + rand() * rand());
  const wsum = weights.reduce((a, b) => a + b, 0);
  const spare = total - least * count;
  const parts = weights.map((w) => least + Math.floor((spare * w) / wsum));
  let left = total - parts.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % count, left--) parts[i]++;
  return parts;
}

type Entry = Record<string, unknown> & { cores: number; memoryGiB: number };

/** The VMs of one host: node by node, cut as the header says. */
function vmsOfHost(coresPerSocket: number, vms: number, variant: BigVariant, rand: () => number): Entry[] {
  const usable = coresPerSocket / 4 - 1;
  const out: Entry[] = [];
  for (let n = 0; n < NODES; n++) {
    const count = Math.round(vms / NODES + (rand() - 0.5) * 4);
    const cores = variant === "exact" ? usable : Math.max(count, Math.round(usable * (0.85 + 0.15 * rand())));
    // With `pages`, a few VMs whose memory is 1G pages fill the pool exactly; their cores come out
    // of the node's share before the ordinary VMs are cut.
    const paged: Entry[] = [];
    if (variant === "pages") {
      const pageVms = 2 + Math.floor(rand() * 3);
      for (const pages of share(PAGES_1G, pageVms, 4, rand)) paged.push({ cores: 1 + Math.floor(rand() * 2), memoryGiB: pages, hugepages: "1G" });
    }
    const ordinaryCores = cores - paged.reduce((s, e) => s + e.cores, 0);
    const sizes = compose(ordinaryCores, Math.max(1, count - paged.length), rand);
    const vmMemory = GIB_PER_CORE * usable;
    const memory = variant === "exact" ? vmMemory : Math.floor(vmMemory * (0.97 + 0.03 * rand()));
    const gib = share(memory, sizes.length, 1, rand);
    const here: Entry[] = [...sizes.map((c, i) => ({ cores: c, memoryGiB: gib[i] })), ...paged];
    out.push(...here);
  }
  return out;
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

export function bigCase(coresPerSocket: number, vms: number, variant: BigVariant, seed: number): BigCase {
  const rand = prng(seed * 92821 + coresPerSocket * 7 + vms + BIG_VARIANTS.indexOf(variant));
  const entries = shuffle(vmsOfHost(coresPerSocket, vms, variant, rand), rand);
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "big", capabilities: "big.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: RESERVE_GIB } }],
    vms: entries.map((e, i) => ({ ...e, name: `vm-${String(i).padStart(3, "0")}` })),
  });
  return { name: `${variant} 2x${coresPerSocket} cores ${entries.length} VMs #${seed}`, request, topologies: new Map([["big", bigHost(coresPerSocket, variant === "pages")]]) };
}

/** 2-3 big hosts, each filled as bigCase's `memory` variant; a fifth of the VMs name their host. */
export function bigMultiHostCase(coresPerSocket: number, vmsPerHost: number, hosts: number, seed: number): BigCase {
  const rand = prng(seed * 49157 + coresPerSocket + hosts * 1009);
  const entries = shuffle(
    Array.from({ length: hosts }, (_, h) => vmsOfHost(coresPerSocket, vmsPerHost, "memory", rand).map((e) => ({ ...e, host: rand() < 0.2 ? `h${h}` : undefined }))).flat(),
    rand,
  );
  const request = PlacementRequestSchema.parse({
    hosts: Array.from({ length: hosts }, (_, h) => ({ name: `h${h}`, capabilities: `h${h}.xml`, reserve: { coresPerNode: 1, memoryGiBPerNode: RESERVE_GIB } })),
    vms: entries.map((e, i) => ({ ...e, name: `vm-${String(i).padStart(3, "0")}` })),
  });
  return { name: `${hosts} hosts 2x${coresPerSocket} cores ${entries.length} VMs #${seed}`, request, topologies: new Map(Array.from({ length: hosts }, (_, h) => [`h${h}`, bigHost(coresPerSocket, false)])) };
}
