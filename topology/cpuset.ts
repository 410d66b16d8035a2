// libvirt's cpuset syntax (`0-3,8,^2`), as used by <vcpupin cpuset>, <emulatorpin>, <numatune
// nodeset> and the `siblings` attribute of `virsh capabilities`, to and from sorted id arrays.
import { InputError } from "../common/user-error";

/** A cpuset that is not one: callers (the capture reader, the policy pack reading a domain) catch
 * it by type and say where it was. */
export class CpusetError extends InputError {}

/**
 * The largest thread id accepted. Linux caps NR_CPUS at 8192 today; the bound is generous so that
 * a real host never trips it, yet a typo such as `0-99999999` fails instead of filling memory.
 */
export const MAX_CPUSET_ID = 65535;

/**
 * Parse a libvirt cpuset into ascending, unique ids.
 *
 * Entries are applied left to right, as libvirt does: `N` and `N-M` add ids, `^N` removes one, so
 * `0-3,^2` is 0,1,3 while `^2,0-3` is 0-3. Spaces around entries are allowed. An empty text, a
 * descending range, `^N-M`, anything else, or a result with no id at all is refused.
 */
export function parseCpuset(text: string): number[] {
  function refuse(why: string): never {
    throw new CpusetError(`cpuset '${text}': ${why}`);
  }
  if (text.trim() === "") refuse("is empty; expected ids and ranges such as 0-3,8");
  const selected = new Set<number>();
  for (const rawEntry of text.split(",")) {
    const entry = rawEntry.trim();
    const match = /^(\^)?(\d+)(?:\s*-\s*(\d+))?$/.exec(entry);
    if (match === null) {
      refuse(
        entry === ""
          ? "has an empty entry; expected N, N-M or ^N between commas"
          : `entry '${entry}' is not N, N-M or ^N`,
      );
    }
    const [, exclude, firstText, lastText] = match;
    const first = toId(firstText, refuse);
    if (exclude !== undefined) {
      if (lastText !== undefined) refuse(`entry '${entry}': libvirt excludes single ids only (^N)`);
      selected.delete(first);
      continue;
    }
    const last = lastText === undefined ? first : toId(lastText, refuse);
    if (last < first) refuse(`range '${entry}' is descending; write ${last}-${first}`);
    for (let id = first; id <= last; id++) selected.add(id);
  }
  if (selected.size === 0) refuse("selects no id (every id is excluded)");
  return [...selected].sort((a, b) => a - b);
}

function toId(digits: string, refuse: (why: string) => never): number {
  const id = Number(digits);
  if (id > MAX_CPUSET_ID) refuse(`id ${digits} is above ${MAX_CPUSET_ID}`);
  return id;
}

/**
 * libvirt's canonical form (virBitmapFormat): ascending, every run of two or more consecutive ids
 * written `first-last` (so 0,1 is `0-1`), single ids alone, joined by commas. Duplicates and order
 * in the input do not matter. An empty list gives "" (libvirt prints nothing for an empty set).
 */
export function formatCpuset(ids: readonly number[]): string {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id > MAX_CPUSET_ID) {
      throw new CpusetError(`cpuset id ${id} is not a whole number from 0 to ${MAX_CPUSET_ID}`);
    }
  }
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = 0;
  while (start < sorted.length) {
    let end = start;
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end] + 1) end++;
    parts.push(end === start ? `${sorted[start]}` : `${sorted[start]}-${sorted[end]}`);
    start = end + 1;
  }
  return parts.join(",");
}
