// What changed between a host's committed capture and its live `virsh capabilities`, as far as
// pinning is concerned. A plan names OS thread ids and node ids; both move when a BIOS setting
// changes (SMT, sub-NUMA clustering, the order threads are numbered in) or a thread goes offline,
// and a plan made on the old numbering would then pin VMs to the wrong node without any error.
//
// What counts (one line each, in this order):
// 1. node ids present on one side only;
// 2. threadsPerCore (SMT switched on or off);
// 3. per node, ascending by id: which threads belong to it; which of them are online; its cores
//    (sibling groups); its memory, when it moved by more than MEMORY_DRIFT; page sizes it lost.
// What does not count:
// - memory moving by up to 1%: the kernel's count of a node's memory changes by a few MiB between
//   boots (firmware reservations, crash kernel), which no placement can notice;
// - huge page counts: they are a runtime setting (`nr_hugepages`) that operators change without
//   touching the topology. A VM asking for more pages than the node holds fails to start, loudly,
//   on the right node. Only a page size that disappears (e.g. 1G pages no longer offered) is
//   reported, since the plan's huge-page VMs could then never start there;
// - NUMA distances, socket/die labels, cache and CPU model: they do not decide a pin.
// Pure: values in, lines out.
import { formatCpuset } from "./cpuset";
import type { HostTopology, NumaNode } from "./host-topology";
import { gib as gibOf } from "./units";

/** Relative change of a node's memory tolerated as drift between boots. */
export const MEMORY_DRIFT = 0.01;

/** How many sibling groups a line lists before it says how many more differ. */
const GROUPS_SHOWN = 3;


// Two decimals: a drift of about 1% must show as a difference of the printed values.
const gib = (kib: number) => gibOf(kib, 2);

function cpus(ids: readonly number[]): string {
  return ids.length === 0 ? "none" : formatCpuset(ids);
}

function groups(list: readonly string[]): string {
  if (list.length === 0) return "none";
  const shown = list.slice(0, GROUPS_SHOWN).join(" ");
  return list.length > GROUPS_SHOWN ? `${shown} ... (${list.length})` : shown;
}

/**
 * One line per difference that matters for pinning (see the head of this file); [] when the two
 * topologies pin alike.
 */
export function topologyDiff(committed: HostTopology, live: HostTopology): string[] {
  const lines: string[] = [];
  const liveById = new Map(live.nodes.map((n) => [n.id, n]));
  const committedIds = new Set(committed.nodes.map((n) => n.id));
  for (const node of committed.nodes) {
    if (!liveById.has(node.id)) lines.push(`node ${node.id} is gone (it had threads ${cpus(node.threads.map((t) => t.id))})`);
  }
  for (const node of live.nodes) {
    if (!committedIds.has(node.id)) lines.push(`node ${node.id} is new (threads ${cpus(node.threads.map((t) => t.id))})`);
  }
  if (committed.threadsPerCore !== live.threadsPerCore) {
    lines.push(`threads per core ${committed.threadsPerCore} -> ${live.threadsPerCore}`);
  }
  for (const node of committed.nodes) {
    const other = liveById.get(node.id);
    if (other) lines.push(...nodeDiff(node, other));
  }
  return lines;
}

function nodeDiff(committed: NumaNode, live: NumaNode): string[] {
  const lines: string[] = [];
  const at = `node ${committed.id}`;

  const before = committed.threads.map((t) => t.id);
  const after = live.threads.map((t) => t.id);
  const sameThreads = cpus(before) === cpus(after);
  if (!sameThreads) lines.push(`${at} threads ${cpus(before)} -> ${cpus(after)}`);

  // Online status only means something for a thread the node has on both sides.
  const liveOnline = new Map(live.threads.map((t) => [t.id, t.online]));
  const wentOffline: number[] = [];
  const cameOnline: number[] = [];
  for (const t of committed.threads) {
    const now = liveOnline.get(t.id);
    if (now === undefined || now === t.online) continue;
    (now ? cameOnline : wentOffline).push(t.id);
  }
  if (wentOffline.length > 0) lines.push(`${at} threads ${cpus(wentOffline)} offline (were online)`);
  if (cameOnline.length > 0) lines.push(`${at} threads ${cpus(cameOnline)} online (were offline)`);

  // Sibling groups, leaving out those a line above already explains (a group that shrank because
  // one of its threads went offline is that offline thread, said once).
  // A core lists only its online threads, so the group is found through either side: every
  // thread of a group that holds a changed thread, on the side where it is online, is touched.
  const changed = new Set([...wentOffline, ...cameOnline]);
  const touched = new Set<number>();
  for (const c of [...committed.cores, ...live.cores]) {
    if (c.threads.some((t) => changed.has(t))) c.threads.forEach((t) => touched.add(t));
  }
  const key = (threads: readonly number[]) => threads.join(",");
  const unexplained = (node: NumaNode) =>
    node.cores.filter((c) => !c.threads.some((t) => touched.has(t))).map((c) => key(c.threads));
  const beforeGroups = unexplained(committed);
  const afterGroups = unexplained(live);
  const afterSet = new Set(afterGroups);
  const beforeSet = new Set(beforeGroups);
  const lost = beforeGroups.filter((g) => !afterSet.has(g));
  const gained = afterGroups.filter((g) => !beforeSet.has(g));
  if (lost.length > 0 || gained.length > 0) lines.push(`${at} cores (sibling threads) ${groups(lost)} -> ${groups(gained)}`);

  const m0 = committed.memoryKiB;
  const m1 = live.memoryKiB;
  if (m0 === null || m1 === null) {
    if (m0 !== m1) lines.push(`${at} memory ${m0 === null ? "unknown" : gib(m0)} -> ${m1 === null ? "unknown" : gib(m1)}`);
  } else if (Math.abs(m1 - m0) > m0 * MEMORY_DRIFT) {
    lines.push(`${at} memory ${gib(m0)} -> ${gib(m1)} (more than the ${MEMORY_DRIFT * 100}% drift allowed between boots)`);
  }

  const liveSizes = new Set(live.pages.map((p) => p.sizeKiB));
  const gone = committed.pages.filter((p) => !liveSizes.has(p.sizeKiB)).map((p) => `${p.sizeKiB} KiB`);
  if (gone.length > 0) lines.push(`${at} no longer offers ${gone.join(", ")} pages`);
  return lines;
}
