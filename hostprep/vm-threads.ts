// Which threads of a host VMs may ever run on, and which the host keeps. Isolation covers every
// thread outside the node reserves, not only the threads today's VMs hold: isolation is on the
// kernel command line, so isolating just today's threads would make every VM added later wait for
// a reboot. The cost: an idle isolated thread runs nothing else (that is the point of the reserve).
import type { HostTopology } from "../topology/host-topology";
import type { HostPlan } from "../topology/placement";
import { InputError } from "../common/user-error";

export interface ThreadSplit {
  /** Online threads of CPU nodes outside the reserves: where vCPUs are or may be pinned. */
  vmThreads: number[];
  /** Threads of the node reserves: host work, interrupts and every VM's emulator threads. */
  reservedThreads: number[];
}

/** Split a host's online threads by the plan's node reserves (HostPlan.nodes[].reservedThreads). */
export function threadSplit(topology: HostTopology, hostPlan: HostPlan): ThreadSplit {
  const reserved = new Set(hostPlan.nodes.flatMap((n) => n.reservedThreads));
  const online = topology.nodes.flatMap((n) => n.threads.filter((t) => t.online).map((t) => t.id));
  for (const id of reserved) {
    if (!online.includes(id)) throw new InputError(`host ${hostPlan.name}: reserved thread ${id} is not an online thread of ${topology.source}: re-plan against this capture`);
  }
  const vmThreads = online.filter((id) => !reserved.has(id)).sort((a, b) => a - b);
  const reservedThreads = [...reserved].sort((a, b) => a - b);
  // Nothing would be left for interrupts, RCU callbacks and housekeeping: the kernel refuses
  // nohz_full on every CPU and the host would be unusable.
  if (reservedThreads.length === 0) throw new InputError(`host ${hostPlan.name}: reserve.coresPerNode = 0 on every node leaves no thread for the host: keep at least one reserved core on one node`);
  return { vmThreads, reservedThreads };
}
