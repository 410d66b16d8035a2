// The placement lock: the plan a deployment was made from, committed next to the host capture.
// With it, the planner keeps every unchanged VM exactly where it is (docs/placement-rules.md, "Stable").
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { problemLine } from "../common/config-errors";
import { InputError } from "../common/user-error";
import { Plan, VmPlacement, VmPlacementSchema } from "./placement";

export const PlacementLockSchema = z
  .object({
    lockVersion: z.literal(1),
    vms: z.array(VmPlacementSchema),
  })
  .strict();
export type PlacementLock = z.infer<typeof PlacementLockSchema>;

/** Sorted by host then name, so that the lock's diff in review shows only what moved. */
export function lockOf(plan: Plan): PlacementLock {
  const vms: VmPlacement[] = [...plan.vms].sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name));
  return { lockVersion: 1, vms };
}

/** One VM per line keeps the lock reviewable; pins stay on the VM's line. */
export function formatLock(lock: PlacementLock): string {
  if (lock.vms.length === 0) return `{\n  "lockVersion": 1,\n  "vms": []\n}\n`;
  const lines = lock.vms.map((vm) => `    ${JSON.stringify(vm)}`);
  return `{\n  "lockVersion": 1,\n  "vms": [\n${lines.join(",\n")}\n  ]\n}\n`;
}

/** The planned VMs the lock does not hold exactly as planned (new, or changed): what an up refuses. */
export function unlockedVms(plan: Plan, lock: PlacementLock | undefined): VmPlacement[] {
  const held = new Set((lock?.vms ?? []).map((l) => JSON.stringify(l)));
  return plan.vms.filter((vm) => !held.has(JSON.stringify(vm)));
}

/** The lock at `path` (as the user wrote it, resolved against `baseDir`), or undefined if none yet. */
export function readLock(path: string, baseDir = process.cwd()): PlacementLock | undefined {
  const full = resolve(baseDir, path);
  if (!existsSync(full)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(full, "utf8"));
  } catch (e) {
    throw new InputError(`${path}: not JSON: ${(e as Error).message}`);
  }
  const parsed = PlacementLockSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(problemLine({ file: path, prefix: "" }, raw, parsed.error, PlacementLockSchema));
  return parsed.data;
}
