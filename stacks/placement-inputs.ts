// What planning reads besides the request itself: the host captures and the placement lock; the
// checks that need both (a node the host does not have); and how a NoFit is said in terms of the
// file the user edits. Shared by request files (`npm run plan -- --request`) and stacks.
import { resolve } from "node:path";
import { readCapabilities } from "../topology/capabilities";
import { HostTopology } from "../topology/host-topology";
import { NoFit } from "../topology/planner";
import { PlacementRequest, hostOf } from "../topology/request";
import { InputError } from "../common/user-error";

/** Where a request came from: the file and the key prefix that errors should name. */
export interface LoadedRequest {
  /** The file as the user named it (relative paths stay relative). */
  file: string;
  /** `numa-k3s:` for a stack, "" for a request file. */
  keyPrefix: string;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

/** Capture paths are relative to the file that names them (`baseDir`); plans keep them as written.
 * `instead` gives a host's topology from elsewhere (a capture just fetched, not yet written). */
export function readTopologies(request: PlacementRequest, baseDir: string, instead: ReadonlyMap<string, HostTopology> = new Map()): Map<string, HostTopology> {
  const topologies = new Map<string, HostTopology>();
  for (const h of request.hosts) {
    const given = instead.get(h.name);
    topologies.set(h.name, { ...(given ?? readCapabilities(resolve(baseDir, h.capabilities), h.capabilities)), source: h.capabilities });
  }
  return topologies;
}

/** A VM that names a node its host does not have is a typing mistake (exit 2), not a "does not fit". */
export function checkNodesExist(loaded: LoadedRequest): void {
  loaded.request.vms.forEach((vm, i) => {
    if (vm.node === "auto") return;
    const host = hostOf(loaded.request, vm);
    const nodes = loaded.topologies.get(host)!.nodes.map((n) => n.id);
    if (!nodes.includes(vm.node))
      throw new InputError(`${loaded.file}: ${loaded.keyPrefix}vms[${i}].node = ${vm.node}: ${vm.name}: ${host} has no node ${vm.node} (its nodes: ${nodes.join(", ")})`);
  });
}

// The lock is read where the policy pack reads it too.
export { readLock } from "../topology/lock";

/** `Pulumi.single.yaml: numa-k3s:vms[2].cores = 20: k3s-worker-slm: node 1 of numa-01 has ...` */
export function formatNoFit(loaded: LoadedRequest, p: NoFit, lockFile?: string): string {
  if (p.field === "lock") return `${lockFile ?? "lock"}: ${p.message}`;
  // Giving up is about the request as a whole, not about a key of one VM: no key is named.
  if (p.kind === "gave-up") return `${loaded.file}: gave up (not proved impossible): ${p.message}`;
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
  const named = p.message.startsWith(vm.name) ? p.message : `${vm.name}: ${p.message}`;
  return `${loaded.file}: ${loaded.keyPrefix}vms[${p.vmIndex}].${p.field}${shown}: ${named}`;
}
