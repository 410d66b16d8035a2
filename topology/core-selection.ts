// Which cores of a node a VM gets, once the node is decided. Any whole cores would obey the
// placement rules; these choices are about cache locality and about keeping plans stable.
import { Core } from "./host-topology";

/**
 * Cores sharing an L3 group together: the capture's L3 bank when it lists one; else the die (an
 * AMD CCD); else the socket. (Many AMD hosts report die_id 0 on every CPU: only the banks tell
 * their CCXs apart.)
 */
export function groupKey(c: Core): string {
  return c.l3 !== null ? `l${c.l3}` : c.die !== null ? `d${c.die}` : `s${c.socket ?? -1}`;
}

/**
 * Take `count` cores out of `free` (ascending by first thread; it is not modified).
 * 1. Cores in `prefer` that are still free, in their given order (a resized VM keeps its cores).
 * 2. If one cache group (die, else socket) has enough free cores for the rest, the group with the
 *    fewest free cores that fits (best fit keeps big groups whole for big VMs), lowest cores first.
 * 3. Else whole groups by size, descending (the fewest groups spanned), lowest cores first.
 * Returns null when `free` has fewer than `count` cores.
 */
export function chooseCores(free: readonly Core[], count: number, prefer: readonly Core[] = []): Core[] | null {
  if (count === 0) return [];
  if (free.length < count) return null;
  const isFree = new Set(free.map((c) => c.threads[0]));
  const kept = prefer.filter((c) => isFree.has(c.threads[0])).slice(0, count);
  const keptIds = new Set(kept.map((c) => c.threads[0]));
  const rest = free.filter((c) => !keptIds.has(c.threads[0]));
  const need = count - kept.length;
  if (need === 0) return kept;

  const groups = new Map<string, Core[]>();
  for (const c of rest) {
    const key = groupKey(c);
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  const byFirstCore = (a: Core[], b: Core[]) => a[0].threads[0] - b[0].threads[0];
  const fitting = [...groups.values()].filter((g) => g.length >= need).sort((a, b) => a.length - b.length || byFirstCore(a, b));
  if (fitting.length > 0) return [...kept, ...fitting[0].slice(0, need)];
  const largestFirst = [...groups.values()].sort((a, b) => b.length - a.length || byFirstCore(a, b));
  return [...kept, ...largestFirst.flat().slice(0, need)];
}
