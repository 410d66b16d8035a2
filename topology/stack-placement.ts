// The placement a stack has decided, read from the project's committed files alone: the stack
// file's hosts (captures, reserves) and VMs, its lock, the captures. What the numa-guard policy
// pack and `npm run check` judge a deployment against, without the program's own stack reader
// (stacks/stack-inputs.ts, which also reads and checks everything else a stack says).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { InputError } from "../common/user-error";
import { positiveNumber } from "../common/config-values";
import { problemLine } from "../common/config-errors";
import { readCapabilities } from "./capabilities";
import type { HostTopology } from "./host-topology";
import { PlacementLock, readLock } from "./lock";
import { HostRequestSchema, PlacementRequest, PlacementRequestSchema, VmRequestSchema } from "./request";

export interface StackPlacement {
  stack: string;
  /** `Pulumi.<stack>.yaml`, as messages name it. */
  file: string;
  /** The lock, relative to the project (the stack's placementLock, or its default). */
  lockFile: string;
  /** undefined before the stack's first `npm run plan -- --stack NAME --lock FILE`. */
  lock: PlacementLock | undefined;
  /** The hosts and VMs as the planner reads them (the keys of topology/request.ts only). */
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
  /** Each VM entry as the stack file writes it, by name: what it says beyond the request. */
  vmEntries: Map<string, Record<string, unknown>>;
  searchSeconds: number | undefined;
}

/** `hosts/<stack>.lock.json` unless the stack names one: a copied stack file gets a lock of its own. */
export function lockFileOf(stack: string, config: { placementLock?: string }): string {
  return config.placementLock ?? `hosts/${stack}.lock.json`;
}

/**
 * A stack that grows from one host to two keeps its VMs where they are: a VM that names its node
 * but not its host (which needed no host while there was one) takes the host its lock holds it on,
 * so adding the second host is one edit, not one per existing VM. A VM the lock does not hold still
 * has to name its host (the schema says so). `entries` are the stack's config keys.
 */
export function withLockedHosts(entries: Record<string, unknown>, lock: PlacementLock | undefined): Record<string, unknown> {
  const { hosts, vms } = entries;
  if (!lock || !Array.isArray(hosts) || hosts.length < 2 || !Array.isArray(vms)) return entries;
  const lockedHost = new Map(lock.vms.map((vm) => [vm.name, vm.host]));
  return {
    ...entries,
    vms: vms.map((vm: unknown) => {
      if (vm === null || typeof vm !== "object") return vm;
      const v = vm as Record<string, unknown>;
      const host = typeof v.name === "string" ? lockedHost.get(v.name) : undefined;
      return v.host === undefined && v.node !== undefined && v.node !== "auto" && host !== undefined ? { ...v, host } : v;
    }),
  };
}

function refuse(message: string): never {
  throw new InputError(message);
}

function readText(projectDir: string, file: string): string | undefined {
  try {
    return readFileSync(resolve(projectDir, file), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    refuse(`${file}: cannot read the stack file (${(e as Error).message})`);
  }
}

const pick = (entry: unknown, keys: string[]) =>
  entry !== null && typeof entry === "object" ? Object.fromEntries(keys.filter((k) => k in entry).map((k) => [k, (entry as Record<string, unknown>)[k]])) : entry;

/**
 * Stack `stack` of the project in `projectDir`, config keys under `namespace:` (Pulumi's rule: the
 * project's name). Only the keys that place VMs are judged here, with topology/request.ts's own
 * schema; a stack the program refuses for another key is the program's to say.
 */
export function readStackPlacement(projectDir: string, stack: string, namespace: string): StackPlacement {
  const file = `Pulumi.${stack}.yaml`;
  const text = readText(projectDir, file) ?? refuse(`${file}: no such stack file in ${projectDir}`);
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    refuse(`${file}: not YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (!config || typeof config !== "object") refuse(`${file}: has no config: section`);
  const entries: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) if (key.startsWith(`${namespace}:`)) entries[key.slice(namespace.length + 1)] = value;
  const prefix = `${namespace}:`;

  const More = z.object({ searchSeconds: positiveNumber().optional(), placementLock: z.string().min(1, "must be a path relative to the project").optional() });
  const more = More.safeParse({ searchSeconds: entries.searchSeconds, placementLock: entries.placementLock });
  if (!more.success) refuse(problemLine({ file, prefix }, entries, more.error, More));
  const lockFile = lockFileOf(stack, more.data);
  const lock = readLock(lockFile, projectDir);

  const placed = withLockedHosts(entries, lock);
  const raw = {
    hosts: Array.isArray(placed.hosts) ? placed.hosts.map((h) => pick(h, Object.keys(HostRequestSchema.shape))) : placed.hosts,
    vms: Array.isArray(placed.vms) ? placed.vms.map((vm) => pick(vm, Object.keys(VmRequestSchema.shape))) : (placed.vms ?? []),
  };
  const parsed = PlacementRequestSchema.safeParse(raw);
  if (!parsed.success) refuse(problemLine({ file, prefix }, raw, parsed.error, PlacementRequestSchema));
  const request = parsed.data;

  const topologies = new Map(request.hosts.map((h) => [h.name, { ...readCapabilities(resolve(projectDir, h.capabilities), h.capabilities), source: h.capabilities }]));
  const vmEntries = new Map(((entries.vms ?? []) as Record<string, unknown>[]).map((vm) => [String(vm.name), vm]));
  return { stack, file, lockFile, lock, request, topologies, vmEntries, searchSeconds: more.data.searchSeconds };
}
