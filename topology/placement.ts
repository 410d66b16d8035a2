// What the planner promises: for every VM the exact host threads of its vCPUs, emulator and
// iothreads, and where its memory lives. This is the `plan --json` shape (docs/placement-rules.md) and the
// content of a placement lock; domain-xml.ts, picture.ts and the components read only this.
import { z } from "zod";

const id = z.number().int().nonnegative();

/** One VM's placement; the lock holds a list of these, so its schema is the one definition. */
export const VmPlacementSchema = z
  .object({
    name: z.string(),
    host: z.string(),
    /** The NUMA node of a strict VM; null for a floating one. */
    node: id.nullable(),
    vcpus: z.number().int().positive(),
    /** Host thread of each vCPU: vCPUs k*T .. k*T+T-1 are the T sibling threads of one core. */
    vcpupin: z.array(id).min(1),
    emulatorpin: z.array(id),
    iothreadpin: z.array(id),
    memoryKiB: z.number().int().positive(),
    numatune: z.object({ mode: z.enum(["strict", "interleave"]), nodeset: z.array(id).min(1) }).strict(),
    topology: z
      .object({ sockets: z.literal(1), dies: z.literal(1), cores: z.number().int().positive(), threads: z.number().int().positive() })
      .strict(),
    hugepages: z.object({ sizeKiB: z.number().int().positive(), count: z.number().int().positive() }).strict().nullable(),
    /** How the VM asked for its emulator threads (decides how the lock re-reads emulatorpin). */
    emulator: z.enum(["shared", "dedicated"]),
  })
  .strict();
export type VmPlacement = z.infer<typeof VmPlacementSchema>;

export interface NodeUsage {
  id: number;
  /** Cores of the node (online, complete or not). */
  cores: number;
  /** Threads of the cores kept by the reserve (incomplete cores first, then the node's last cores). */
  reservedThreads: number[];
  /** Threads of complete cores no VM holds. */
  freeThreads: number[];
  memoryKiB: number;
  hugepagesKiB: number;
  reserveKiB: number;
  /** Ordinary (non-huge-page) memory the node's strict VMs take. */
  vmMemoryKiB: number;
  /** memory - huge pages - reserve - VM memory (floating VMs' share not subtracted). */
  freeMemoryKiB: number;
}

export interface HostPlan {
  name: string;
  capabilities: string;
  threadsPerCore: number;
  nodes: NodeUsage[];
}

export interface Plan {
  hosts: HostPlan[];
  vms: VmPlacement[];
}
