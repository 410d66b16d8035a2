// Requests that cannot fit although every total does (issue 23, point 2), each for a reason a
// counting argument shows; all infeasible by construction. Each kind also carries VMs whose
// memory (or cores) differ at random, so that the nodes' states stay distinct and an exhaustive
// search cannot refute the request by symmetry alone:
// - parity: two hosts, every VM an even number of cores, every node an odd number free, a third
//   of the VMs naming their host: each node leaves a core unused, and the VMs need more;
// - residue: the same with VMs of 3 or 6 cores and nodes whose free cores leave a remainder mod 3;
// - matching: one VM more of more than half a large node than there are large nodes (the other
//   host's nodes are too small for any of them), small VMs filling the rest (Hall's condition);
// - named: the VMs that name one host need one core more than it has, the other host nearly empty;
// - pages: VMs of 2 or 4 x 1G pages on nodes of 5 pages (each leaves a page unused), ordinary VMs
//   beside them;
// - memory: VMs of 8, 16 or 24 GiB on nodes of 60 GiB for VMs (each leaves 4 GiB unused).
// For `npm run bench` (bench/mip-compare.ts referees them) and the proof tests.
import { capabilitiesXml, regularHost } from "../test/fixtures/hosts";
import { parseCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { prng } from "../topology/prng";
import { PlacementRequestSchema, type PlacementRequest } from "../topology/request";

export const COUNTING_KINDS = ["parity", "residue", "matching", "named", "pages", "memory"] as const;
export type CountingKind = (typeof COUNTING_KINDS)[number];

export interface CountingCase {
  name: string;
  kind: CountingKind;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

/** `nodes` nodes of `usable` free cores (one reserved core more each), `memoryGiB` each, 1G pages. */
function hostWith(name: string, usable: number, nodes: number, memoryGiB: number, pages1G = 0): HostTopology {
  const sockets = nodes >= 2 ? nodes / 2 : 1;
  const host = regularHost({ name, sockets, nodesPerSocket: nodes / sockets, coresPerNode: usable + 1, threadsPerCore: 2, memoryGiBPerNode: memoryGiB, hugepages: pages1G > 0 ? { "1G": pages1G } : undefined });
  return parseCapabilities(capabilitiesXml(host), `synthetic:${name}`);
}

const RESERVE = { coresPerNode: 1, memoryGiBPerNode: 4 };

export function countingCase(kind: CountingKind, nodes: number, seed: number): CountingCase {
  const rand = prng(seed * 6151 + nodes * 37 + COUNTING_KINDS.indexOf(kind));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const vms: Record<string, unknown>[] = [];
  const hosts: { name: string; topology: HostTopology }[] = [];
  const add = (cores: number, memoryGiB: number, extra: Record<string, unknown> = {}) => vms.push({ name: `vm-${String(vms.length).padStart(3, "0")}`, cores, memoryGiB, ...extra });
  /** VMs of the given core sizes (at random) until `total` cores are asked for. */
  const fill = (total: number, sizes: number[], memory: () => number, extra: () => Record<string, unknown> = () => ({})) => {
    let left = total;
    while (left > 0) {
      const s = Math.min(left, pick(sizes));
      add(s, memory(), extra());
      left -= s;
    }
  };
  const twoHosts = (usable: number, memoryGiB: number) => {
    const half = Math.max(2, nodes / 2);
    hosts.push({ name: "a", topology: hostWith(`a${usable}x${half}`, usable, half, memoryGiB) }, { name: "b", topology: hostWith(`b${usable}x${half}`, usable, half, memoryGiB) });
    return 2 * half;
  };
  const someName = () => (rand() < 0.3 ? { host: pick(["a", "b"]) } : {});
  switch (kind) {
    case "parity": {
      const free = pick([7, 9, 11, 13]);
      const n = twoHosts(free, 96);
      // Even sizes, n * (free - 1) + 2 cores (at most n * free): one more pair than the nodes can use.
      fill(n * (free - 1) + 2, [2, 2, 4, 6], () => 1 + Math.floor(rand() * 12), someName);
      // A VM naming a host must fit it alone: the named ones are spread over both, each fits.
      break;
    }
    case "residue": {
      const free = pick([11, 14, 17]);
      const n = twoHosts(free, 96);
      fill(n * (free - 2) + 3, [3, 3, 6], () => 1 + Math.floor(rand() * 12), someName);
      break;
    }
    case "matching": {
      // Host a: nodes of 16 free; host b: nodes of 8. VMs of 9-12 cores fit only a's nodes, one
      // each: one more of them than a has nodes. Small VMs fill most of the rest.
      const half = Math.max(2, nodes / 2);
      hosts.push({ name: "a", topology: hostWith(`matchA${half}`, 16, half, 128) }, { name: "b", topology: hostWith(`matchB${half}`, 8, half, 128) });
      let big = 0;
      for (let i = 0; i <= half; i++) {
        const c = 9 + Math.floor(rand() * 4);
        add(c, 4 + Math.floor(rand() * 24));
        big += c;
      }
      // The totals fit with 2 cores to spare.
      fill(24 * half - big - 2, [1, 2, 3], () => 1 + Math.floor(rand() * 8));
      break;
    }
    case "named": {
      const n = twoHosts(12, 128);
      let left = (n / 2) * 12 + 1;
      while (left > 0) {
        const s = Math.min(left, pick([1, 2, 3, 4]));
        add(s, 1 + Math.floor(rand() * 8), { host: "a" });
        left -= s;
      }
      fill(n * 2, [1, 2], () => 2);
      break;
    }
    case "pages": {
      // 5 x 1G pages per node, VMs of 2 or 4 pages: each node uses at most 4; one more pair asked.
      hosts.push({ name: "big", topology: hostWith(`pages5x${nodes}`, 12, nodes, 96, 5) });
      let left = nodes * 4 + 2;
      while (left > 0) {
        const p = Math.min(left, pick([2, 2, 4]));
        add(1 + Math.floor(rand() * 3), p, { hugepages: "1G" });
        left -= p;
      }
      fill(nodes * 6, [1, 2, 3], () => 1 + Math.floor(rand() * 16));
      break;
    }
    case "memory": {
      // 64 GiB per node, 4 reserved: 60 for VMs; VMs of multiples of 8 GiB use at most 56 of it.
      hosts.push({ name: "big", topology: hostWith(`memory64x${nodes}`, 12, nodes, 64) });
      let left = nodes * 56 + 8;
      while (left > 0) {
        const m = Math.min(left, pick([8, 8, 16, 24]));
        add(1 + Math.floor(rand() * 3), m);
        left -= m;
      }
      break;
    }
  }
  const request = PlacementRequestSchema.parse({ hosts: hosts.map((h) => ({ name: h.name, capabilities: `${h.name}.xml`, reserve: RESERVE })), vms });
  return { name: `${kind} ${nodes} nodes ${vms.length} VMs #${seed}`, kind, request, topologies: new Map(hosts.map((h) => [h.name, h.topology])) };
}
