// Huge pages each node of a host must hold for the plan's VMs, and how each size gets there.
// - Gigantic pages (1 GiB on x86, 16 GiB on POWER) need physically contiguous memory that a
//   running host rarely still has: they are allocated by the kernel at boot, from the command line,
//   per node (`hugepagesz=1G hugepages=0:8,1:4`). That per-node form exists since Linux 5.16 (commit
//   b5389086ad7b, "hugetlbfs: extend the definition of hugepages parameter to support node
//   allocation"), not 5.13; older kernels read only `hugepages=N`, spread over all nodes, so the
//   prepare script refuses a 1G plan on a kernel older than 5.16 (Debian 12: 6.1, Ubuntu 24.04: 6.8;
//   Ubuntu 22.04's 5.15 needs its HWE kernel).
// - Smaller sizes (2 MiB, POWER's 16 MiB) are allocated at runtime per node through
//   /sys/devices/system/node/nodeN/hugepages/hugepages-<size>kB/nr_hugepages, by the boot script
//   (a systemd unit) on every boot and by the prepare script now.
// The count is exactly what the plan's VMs take: pages beyond that would be memory no VM and no
// host process can use. (The planner only hands out pages the capture shows, so a host gets
// hugepage VMs only after its pages were reserved once and captured.)
import type { HostTopology } from "../topology/host-topology";
import type { HostPlan, VmPlacement } from "../topology/placement";
import { InputError } from "../common/user-error";

/** Sizes at or above this are gigantic: allocated at boot only. */
export const GIGANTIC_KIB = 1048576;

export interface NodePages {
  node: number;
  sizeKiB: number;
  count: number;
}

export interface HugepagePlan {
  /** One entry per node and per huge page size the host offers, ascending by size then node;
   * count 0 where no VM takes that size on that node (so stale pages are given back). */
  runtime: NodePages[];
  /** The same for gigantic sizes, set at boot by the kernel command line. */
  boot: NodePages[];
}

/** `1G`, `2M`, `16M`, `16G`: the size as the kernel's hugepagesz= takes it. */
export function sizeName(sizeKiB: number): string {
  if (sizeKiB % GIGANTIC_KIB === 0) return `${sizeKiB / GIGANTIC_KIB}G`;
  if (sizeKiB % 1024 === 0) return `${sizeKiB / 1024}M`;
  return `${sizeKiB}K`;
}

export function hugepagePlan(topology: HostTopology, hostPlan: HostPlan, vms: readonly VmPlacement[]): HugepagePlan {
  const need = new Map<string, number>();
  for (const vm of vms) {
    if (vm.host !== hostPlan.name || vm.hugepages === null) continue;
    // Floating VMs take ordinary, interleaved memory (the planner gives pages to strict VMs only).
    if (vm.node === null) throw new InputError(`host ${hostPlan.name}: VM ${vm.name} has huge pages but no node: a floating VM's memory is interleaved, not from one node's pages`);
    const key = `${vm.node}/${vm.hugepages.sizeKiB}`;
    need.set(key, (need.get(key) ?? 0) + vm.hugepages.count);
  }
  const sizes = [...new Set(topology.nodes.flatMap((n) => n.pages.slice(1).map((p) => p.sizeKiB)))].sort((a, b) => a - b);
  const all: NodePages[] = [];
  for (const sizeKiB of sizes) {
    for (const node of topology.nodes) {
      if (!node.pages.slice(1).some((p) => p.sizeKiB === sizeKiB)) continue;
      all.push({ node: node.id, sizeKiB, count: need.get(`${node.id}/${sizeKiB}`) ?? 0 });
    }
  }
  for (const [key, count] of need) {
    const [node, sizeKiB] = key.split("/").map(Number);
    if (!all.some((p) => p.node === node && p.sizeKiB === sizeKiB))
      throw new InputError(`host ${hostPlan.name}: the plan takes ${count} pages of ${sizeName(sizeKiB)} on node ${node}, which ${topology.source} does not offer there`);
  }
  return { runtime: all.filter((p) => p.sizeKiB < GIGANTIC_KIB), boot: all.filter((p) => p.sizeKiB >= GIGANTIC_KIB) };
}

/** `hugepagesz=1G hugepages=0:8,1:4` per gigantic size with any page planned; [] when none. */
export function hugepageBootParameters(plan: HugepagePlan): string[] {
  const sizes = [...new Set(plan.boot.filter((p) => p.count > 0).map((p) => p.sizeKiB))];
  return sizes.flatMap((sizeKiB) => {
    const perNode = plan.boot.filter((p) => p.sizeKiB === sizeKiB && p.count > 0).map((p) => `${p.node}:${p.count}`);
    return [`hugepagesz=${sizeName(sizeKiB)}`, `hugepages=${perNode.join(",")}`];
  });
}
