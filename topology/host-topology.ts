// The hardware of one host as the planner sees it: NUMA nodes, their memory and huge pages,
// and the host's threads grouped into cores. Produced by capabilities.ts from a committed
// `virsh capabilities` capture; everything downstream reads only this.
import { z } from "zod";

const id = z.number().int().nonnegative();

export const PagePoolSchema = z
  .object({
    /** Page size in KiB (4, 2048, 1048576 on x86; 64, 16384, 16777216 on POWER). */
    sizeKiB: z.number().int().positive(),
    /** Pages of this size the node holds (for the smallest size: all of its memory). */
    count: z.number().int().nonnegative(),
  })
  .strict();
export type PagePool = z.infer<typeof PagePoolSchema>;

export const ThreadSchema = z
  .object({
    /** OS cpu id: what libvirt's cpuset, vcpupin and `taskset` speak. */
    id,
    node: id,
    /** Labels from the capture (not indexes); null where the capture does not say. */
    socket: id.nullable(),
    die: id.nullable(),
    core: id.nullable(),
    /** Offline threads are listed bare (`<cpu id='N'/>`) next to online ones. */
    online: z.boolean(),
  })
  .strict();
export type Thread = z.infer<typeof ThreadSchema>;

export const CoreSchema = z
  .object({
    node: id,
    socket: id.nullable(),
    die: id.nullable(),
    /**
     * The L3 cache domain (the capture's <cache><bank level='3'> id) its threads share; null when
     * the capture lists no L3 bank for them. Cores with one l3 share a last-level cache (an AMD
     * CCX/CCD, an Intel socket or sub-NUMA cluster).
     */
    l3: id.nullable(),
    /** The online sibling threads of this core, ascending. The core's identity is threads[0]. */
    threads: z.array(id).min(1),
    /** All of the host's threadsPerCore threads are online. Incomplete cores never go to a VM. */
    complete: z.boolean(),
  })
  .strict();
export type Core = z.infer<typeof CoreSchema>;

export const NodeSchema = z
  .object({
    id,
    /** Total memory of the node; null when the capture has no <memory> for it. */
    memoryKiB: z.number().int().nonnegative().nullable(),
    /** One entry per page size, ascending by size; the first is the base page size. */
    pages: z.array(PagePoolSchema),
    /** NUMA distance to each node (10 = local), as listed; empty when the capture has none. */
    distances: z.array(z.object({ node: id, value: z.number().int().positive() }).strict()),
    /** Every thread of the node, online or not, ascending. */
    threads: z.array(ThreadSchema),
    /** Online cores, ascending by their first thread. Empty for a CPU-less (memory-only) node. */
    cores: z.array(CoreSchema),
  })
  .strict();
export type NumaNode = z.infer<typeof NodeSchema>;

export const HostTopologySchema = z
  .object({
    /** The capture file it came from, for error messages. */
    source: z.string(),
    /** The host CPU's architecture as libvirt names it (x86_64, aarch64, ppc64le, s390x); null
     * when the capture does not say. Guests are of the same architecture. */
    arch: z.string().nullable(),
    /** Ascending by id. Ids are labels: POWER hosts number them 0, 1, 16, 17. */
    nodes: z.array(NodeSchema).min(1),
    /** SMT width: the most online siblings any core has (1 = no SMT, 2 = x86 HT, 4/8 = POWER). */
    threadsPerCore: z.number().int().positive(),
    /** Things the capture could not tell, said once, for the user (e.g. no siblings data). */
    warnings: z.array(z.string()),
  })
  .strict();
export type HostTopology = z.infer<typeof HostTopologySchema>;

/** Huge pages a node holds, in KiB: every page pool but the base (smallest) size. */
export function hugepagesKiB(node: NumaNode): number {
  return node.pages.slice(1).reduce((sum, p) => sum + p.sizeKiB * p.count, 0);
}

export function findNode(host: HostTopology, nodeId: number): NumaNode | undefined {
  return host.nodes.find((n) => n.id === nodeId);
}
