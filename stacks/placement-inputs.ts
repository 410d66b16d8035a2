// What planning a stack reads besides its config: the host captures and the placement lock; and
// how a NoFit is said in terms of the file the user edits. Shared by `npm run plan` and the program.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CapabilitiesError, readCapabilities } from "../topology/capabilities";
import { HostTopology } from "../topology/host-topology";
import { PlacementLock, PlacementLockSchema } from "../topology/lock";
import { NoFit } from "../topology/planner";
import { PlacementRequest } from "../topology/request";
import { ConfigError, formatZodError } from "./config";

/** Where a request came from: the file and the key prefix that errors should name. */
export interface LoadedRequest {
  file: string;
  keyPrefix: string;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
  /** The lock the stack config names, relative to the project (read when --lock is not given). */
  stackLock?: string;
}

/** Capture paths are relative to the file that names them (`baseDir`); plans keep them as written. */
export function readTopologies(request: PlacementRequest, baseDir: string): Map<string, HostTopology> {
  const topologies = new Map<string, HostTopology>();
  for (const h of request.hosts) {
    try {
      topologies.set(h.name, { ...readCapabilities(resolve(baseDir, h.capabilities)), source: h.capabilities });
    } catch (e) {
      if (e instanceof CapabilitiesError) throw new ConfigError(e.message);
      throw e;
    }
  }
  return topologies;
}

export function readLock(path: string): PlacementLock | undefined {
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`${path}: not JSON: ${(e as Error).message}`);
  }
  const parsed = PlacementLockSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatZodError(path, raw, parsed.error, ""));
  return parsed.data;
}

/** `Pulumi.single.yaml: numa-k3s:vms[2].cores = 20: node 1 of numa-01 has ...` */
export function formatNoFit(loaded: LoadedRequest, p: NoFit, lockFile?: string): string {
  if (p.field === "lock") return `${lockFile ?? "lock"}: ${p.message}`;
  const vm = loaded.request.vms[p.vmIndex];
  const value: Record<NoFit["field"], unknown> = {
    cores: vm.cores,
    memoryGiB: vm.memoryGiB,
    hugepages: vm.hugepages,
    node: vm.node,
    emulator: vm.emulator,
    lock: undefined,
  };
  const shown = value[p.field] === undefined ? "" : ` = ${JSON.stringify(value[p.field])}`;
  return `${loaded.file}: ${loaded.keyPrefix}vms[${p.vmIndex}].${p.field}${shown}: ${p.message}`;
}

