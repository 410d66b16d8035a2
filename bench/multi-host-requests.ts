// Requests over several hosts that fit by construction (issue 23, point 1): 2-4 hosts of different
// shapes, 20-60 VMs, each node's usable cores and memory cut into VMs first (cores 85-100 % full,
// memory 80-100 %, or 95-100 % and 92-100 % when tight; memory not in proportion to cores), then most VMs leave their host out (the
// planner chooses it), some name their host, a few their node too. For `npm run bench` and the
// host-choice tests.
import { capabilitiesXml, regularHost } from "../test/fixtures/hosts";
import { parseCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { prng } from "../topology/prng";
import { PlacementRequestSchema, type PlacementRequest } from "../topology/request";
import { cut } from "./tight-requests";

export interface MultiHostCase {
  name: string;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

export interface MultiHostOptions {
  /** Share of the VMs that name their host (default 0.3); of those, a third also name their node. */
  naming?: number;
  /** Leave out one VM at random after construction (still fits): the "removing one VM" case. */
  minusOne?: boolean;
  /** Cores 95-100 % and memory 92-100 % full instead of 85-100 % and 80-100 %. */
  tight?: boolean;
  /**
   * Then resize the first three VMs that name no host by +1, -1 and +1 cores: the totals still
   * fit, but whether a placement exists is not known by construction any more.
   */
  perturb?: boolean;
}

const RESERVE_GIB = 4;

/** A host of `nodes` nodes (2 per socket) of `cores` cores x 2 threads and `memoryGiB` each. */
function hostOf(name: string, nodes: number, cores: number, memoryGiB: number): HostTopology {
  const sockets = nodes >= 2 ? nodes / 2 : 1;
  const host = regularHost({ name, sockets, nodesPerSocket: nodes / sockets, coresPerNode: cores, threadsPerCore: 2, memoryGiBPerNode: memoryGiB });
  return parseCapabilities(capabilitiesXml(host), `synthetic:${name}`);
}

export function multiHostCase(seed: number, options: MultiHostOptions = {}): MultiHostCase {
  const rand = prng(seed * 15485863 + (options.minusOne ? 7 : 0) + (options.tight ? 13 : 0));
  const [coreFill, memoryFill] = options.tight ? [0.95, 0.92] : [0.85, 0.8];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const hostCount = 2 + Math.floor(rand() * 3);
  const target = 20 + Math.floor(rand() * 41);
  const shapes = Array.from({ length: hostCount }, () => ({ nodes: pick([2, 2, 4]), cores: pick([8, 12, 16, 24]) + 1, memoryGiB: pick([64, 128, 192, 256]) }));
  const usable = shapes.reduce((s, h) => s + h.nodes * (h.cores - 1), 0);
  const maxVm = Math.max(2, Math.min(12, Math.round((2.2 * usable) / target)));
  type Entry = Record<string, unknown> & { name: string; host: string; node: number; cores: number };
  const entries: Entry[] = [];
  shapes.forEach((shape, hi) => {
    for (let n = 0; n < shape.nodes; n++) {
      const take = Math.max(1, Math.round((shape.cores - 1) * (coreFill + (1 - coreFill) * rand())));
      const sizes = cut(take, Math.min(maxVm, shape.cores - 1), rand);
      const weights = sizes.map(() => 0.2 + rand());
      const wsum = weights.reduce((a, b) => a + b, 0);
      const memory = (shape.memoryGiB - RESERVE_GIB) * (memoryFill + (1 - memoryFill) * rand());
      sizes.forEach((cores, k) => entries.push({ name: "", host: `h${hi}`, node: n, cores, memoryGiB: Math.max(1, Math.floor((memory * weights[k]) / wsum)) }));
    }
  });
  if (options.minusOne) entries.splice(Math.floor(rand() * entries.length), 1);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  const naming = options.naming ?? 0.3;
  const vms = entries.map((e, i) => {
    const r = rand();
    const name = `vm-${String(i).padStart(3, "0")}`;
    if (r < naming / 3) return { ...e, name };
    if (r < naming) return { ...e, name, node: "auto" };
    return { ...e, name, host: undefined, node: "auto" };
  });
  if (options.perturb) {
    const free = vms.filter((v) => v.host === undefined);
    free[0].cores += 1;
    free[1].cores = Math.max(1, free[1].cores - 1);
    free[2].cores += 1;
  }
  const request = PlacementRequestSchema.parse({
    hosts: shapes.map((_, hi) => ({ name: `h${hi}`, capabilities: `h${hi}.xml`, reserve: { coresPerNode: 1, memoryGiBPerNode: RESERVE_GIB } })),
    vms,
  });
  const topologies = new Map(shapes.map((s, hi) => [`h${hi}`, hostOf(`h${hi}x${s.nodes}x${s.cores}`, s.nodes, s.cores, s.memoryGiB)]));
  const named = vms.filter((v) => v.host !== undefined).length;
  const variant = `${options.tight ? " tight" : ""}${options.minusOne ? " minus one" : ""}${options.perturb ? " perturbed" : ""}`;
  return { name: `${hostCount} hosts ${vms.length} VMs (${named} name a host) #${seed}${variant}`, request, topologies };
}
