// What the planner promises: for every VM the exact host threads of its vCPUs, emulator and
// iothreads, and where its memory lives. This is the `plan --json` shape (DESIGN.md) and the
// content of a placement lock; domain-xml.ts, picture.ts and the components read only this.

export interface VmPlacement {
  name: string;
  host: string;
  /** The NUMA node of a strict VM; null for a floating one. */
  node: number | null;
  vcpus: number;
  /** Host thread of each vCPU: vCPUs k*T .. k*T+T-1 are the T sibling threads of one core. */
  vcpupin: number[];
  emulatorpin: number[];
  iothreadpin: number[];
  memoryKiB: number;
  numatune: { mode: "strict" | "interleave"; nodeset: number[] };
  topology: { sockets: 1; dies: 1; cores: number; threads: number };
  hugepages: { sizeKiB: number; count: number } | null;
  /** How the VM asked for its emulator threads (decides how the lock re-reads emulatorpin). */
  emulator: "shared" | "dedicated";
}

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
