// L3 cache domains: which cores share one (what the planner packs VMs into, node-budget.ts keeps
// the reserve in, and the picture boxes), and the domains a placement uses: what `plan --json`
// reports per VM as `l3Domains`, derived from the pins and the capture, not stored in the lock,
// so old locks stay valid.
import type { Core, HostTopology } from "./host-topology";
import type { VmPlacement } from "./placement";

/**
 * Cores sharing an L3 group together: the capture's L3 bank when it lists one; else the die (an
 * AMD CCD); else the socket. (Many AMD hosts report die_id 0 on every CPU: only the banks tell
 * their CCXs apart.)
 */
export function groupKey(c: Core): string {
  return c.l3 !== null ? `l${c.l3}` : c.die !== null ? `d${c.die}` : `s${c.socket ?? -1}`;
}

/**
 * The L3 domains of the VM's vCPU threads, ascending: the capture's L3 bank ids; where the capture
 * lists no banks, null (the caller shows none). A VM of c cores on domains of s cores is split when
 * it uses more than ceil(c / s) of them.
 */
export function l3DomainsOf(vm: Pick<VmPlacement, "vcpupin">, topology: HostTopology): number[] | null {
  const l3OfThread = new Map<number, number | null>();
  for (const n of topology.nodes) for (const c of n.cores) for (const t of c.threads) l3OfThread.set(t, c.l3);
  const ids = vm.vcpupin.map((t) => l3OfThread.get(t) ?? null);
  if (ids.some((id) => id === null)) return null;
  return [...new Set(ids as number[])].sort((a, b) => a - b);
}
