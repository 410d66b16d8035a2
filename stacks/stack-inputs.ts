// A stack's inputs, read once: its config (from Pulumi.<stack>.yaml offline, or from the Pulumi
// engine in a run), the placement request inside it, the host captures and the placement lock.
// `npm run plan -- --stack`, `npm run render`, `npm run capture` and the program all start here.
import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import YAML from "yaml";
import { HostTopology } from "../topology/host-topology";
import { PlacementLock } from "../topology/lock";
import { lockFileOf, withLockedHosts as lockedHostsFilled } from "../topology/stack-placement";
import { StackConfig, parseStackConfig, placementRequestOf, stackConfigEntries } from "./config";
import { LoadedRequest, checkNodesExist, readLock, readTopologies } from "./placement-inputs";
import { isDocumentation, isPlaceholderDevice } from "./placeholders";
import { InputError } from "../common/user-error";

export interface StackInputs extends LoadedRequest {
  stack: string;
  config: StackConfig;
  /** The lock as the config names it (or its default), relative to the project. */
  lockFile: string;
  /** undefined before the first `npm run plan -- --stack NAME --lock FILE`. */
  lock: PlacementLock | undefined;
}

/** The stack file's `numa-k3s:` entries, as Pulumi would hand them to the program. */
export function readStackEntries(projectDir: string, stack: string): Record<string, unknown> {
  const file = `Pulumi.${stack}.yaml`;
  let text: string;
  try {
    text = readFileSync(resolve(projectDir, file), "utf8");
  } catch {
    throw new InputError(`${file}: no such stack file (stacks here: ${stackNames(projectDir).join(", ") || "none"}; or create it with pulumi stack init ${stack})`);
  }
  return stackConfigEntries(text, file);
}

export function stackNames(projectDir: string): string[] {
  return readdirSync(projectDir)
    .flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? [])
    .sort();
}

/**
 * A lock belongs to one stack: two stacks writing one lock would each move the other's VMs on
 * paper. The other stack files of the project are read for their lock (a file that does not parse
 * is that stack's problem, not this one's).
 */
function checkLockIsOwn(projectDir: string, stack: string, lockFile: string): void {
  for (const other of stackNames(projectDir)) {
    if (other === stack) continue;
    let theirs: string;
    try {
      const doc = YAML.parse(readFileSync(resolve(projectDir, `Pulumi.${other}.yaml`), "utf8")) as { config?: Record<string, unknown> } | null;
      const named = doc?.config?.["numa-k3s:placementLock"];
      theirs = lockFileOf(other, { placementLock: typeof named === "string" ? named : undefined });
    } catch {
      continue;
    }
    if (resolve(projectDir, theirs) === resolve(projectDir, lockFile))
      throw new InputError(
        `Pulumi.${stack}.yaml: numa-k3s:placementLock = ${JSON.stringify(lockFile)}: is also the lock of stack ${other} (Pulumi.${other}.yaml); remove the key to use hosts/${stack}.lock.json, or name another file`,
      );
  }
}

/** The stack's entries with each VM's host filled in from its lock (topology/stack-placement.ts
 * says when). */
function withLockedHosts(projectDir: string, stack: string, entries: Record<string, unknown>): Record<string, unknown> {
  const named = entries.placementLock;
  let lock: PlacementLock | undefined;
  try {
    lock = readLock(lockFileOf(stack, { placementLock: typeof named === "string" ? named : undefined }), projectDir);
  } catch {
    return entries; // a lock that does not read is refused, with its own message, below
  }
  return lockedHostsFilled(entries, lock);
}

/** A lake disk a stack gives a VM: the VM, its index in `vms`, and the ssh addresses of the hosts it
 * may run on (its `host`, or any host of its stack when the planner chooses). */
interface LakeUse {
  vm: string;
  index: number;
  device: string;
  addresses: string[];
}

function lakeUses(hosts: unknown, vms: unknown): LakeUse[] {
  const hostList = Array.isArray(hosts) ? (hosts as Array<{ name?: unknown; ssh?: { address?: unknown } }>) : [];
  const addressOf = (h: (typeof hostList)[number]) => (typeof h?.ssh?.address === "string" ? [h.ssh.address] : []);
  if (!Array.isArray(vms)) return [];
  return (vms as Array<{ name?: unknown; host?: unknown; disks?: { lakeDevice?: unknown } }>).flatMap((vm, index) => {
    const device = vm?.disks?.lakeDevice;
    if (typeof device !== "string" || isPlaceholderDevice(device)) return [];
    const onHosts = typeof vm.host === "string" ? hostList.filter((h) => h?.name === vm.host) : hostList;
    return [{ vm: String(vm.name), index, device, addresses: onHosts.flatMap(addressOf) }];
  });
}

/**
 * A lake disk belongs to one stack: two stacks that each give it to a VM would have two guests
 * write one filesystem, and each stack's delete and format rules would apply to the other's data.
 * A host is the machine its ssh address reaches; the shipped placeholder disk name is left out (an
 * up refuses it anyway). The other stack files are read as they are (a file that does not parse
 * is that stack's problem, not this one's).
 */
function checkLakesAreOwn(projectDir: string, stack: string, config: StackConfig): void {
  const ours = lakeUses(config.hosts, config.vms);
  if (ours.length === 0) return;
  for (const other of stackNames(projectDir)) {
    if (other === stack) continue;
    let theirs: LakeUse[];
    try {
      const doc = YAML.parse(readFileSync(resolve(projectDir, `Pulumi.${other}.yaml`), "utf8")) as { config?: Record<string, unknown> } | null;
      theirs = lakeUses(doc?.config?.["numa-k3s:hosts"], doc?.config?.["numa-k3s:vms"]);
    } catch {
      continue;
    }
    for (const mine of ours) {
      const clash = theirs.find((t) => t.device === mine.device && t.addresses.some((a) => mine.addresses.includes(a)));
      if (clash) {
        const host = clash.addresses.find((a) => mine.addresses.includes(a));
        throw new InputError(
          `Pulumi.${stack}.yaml: numa-k3s:vms[${mine.index}].disks.lakeDevice = ${JSON.stringify(mine.device)}: is also the lake of VM ${clash.vm} in stack ${other} (Pulumi.${other}.yaml, vms[${clash.index}]) on host ${host}: two stacks never give one disk to a VM each; keep it in one of them`,
        );
      }
    }
  }
}

/** Another stack file's `numa-k3s:hosts`, as written (a file that does not parse has none). */
function hostsOf(projectDir: string, stack: string): Array<{ name?: unknown; capabilities?: unknown; ssh?: { address?: unknown } }> {
  try {
    const doc = YAML.parse(readFileSync(resolve(projectDir, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> } | null;
    const hosts = doc?.config?.["numa-k3s:hosts"];
    return Array.isArray(hosts) ? hosts : [];
  } catch {
    return [];
  }
}

/**
 * A host belongs to one stack: two stacks preparing one host overwrite each other's kernel command
 * line, huge pages and irqbalance ban (the prepare script refuses it on the host as well). Another
 * stack naming the same address, or the same capture file, for one of its hosts is refused. A
 * documentation address is a placeholder that no up accepts: the shipped stacks are alternatives
 * for one example host, and a user's copy of one conflicts only once both hold real addresses.
 */
function checkHostsAreOwn(projectDir: string, stack: string, config: StackConfig): void {
  for (const other of stackNames(projectDir)) {
    if (other === stack) continue;
    hostsOf(projectDir, other).forEach((theirs, j) => {
      const address = theirs?.ssh?.address;
      if (typeof address !== "string" || isDocumentation(address)) return;
      config.hosts.forEach((mine, i) => {
        if (isDocumentation(mine.ssh.address)) return;
        const sameCapture = typeof theirs.capabilities === "string" && resolve(projectDir, theirs.capabilities) === resolve(projectDir, mine.capabilities);
        if (address !== mine.ssh.address && !sameCapture) return;
        const [key, value] = address === mine.ssh.address ? ["ssh.address", mine.ssh.address] : ["capabilities", mine.capabilities];
        throw new InputError(
          `Pulumi.${stack}.yaml: numa-k3s:hosts[${i}].${key} = ${JSON.stringify(value)}: host ${mine.name} is also host ${String(theirs.name)} of stack ${other} (Pulumi.${other}.yaml, hosts[${j}], at ${address}): two stacks that prepare one host overwrite each other's kernel command line, huge pages and irqbalance settings; keep the host in one stack (pulumi destroy the other first)`,
        );
      });
    });
  }
}

/** The inputs of stack `stack` from its config entries (keys without the `numa-k3s:` prefix). */
export function stackInputsOf(projectDir: string, stack: string, entries: Record<string, unknown>, topologiesInstead?: ReadonlyMap<string, HostTopology>): StackInputs {
  const file = `Pulumi.${stack}.yaml`;
  const config = parseStackConfig(withLockedHosts(projectDir, stack, entries), file);
  const request = placementRequestOf(config);
  const lockFile = lockFileOf(stack, config);
  checkLockIsOwn(projectDir, stack, lockFile);
  checkLakesAreOwn(projectDir, stack, config);
  checkHostsAreOwn(projectDir, stack, config);
  const inputs: StackInputs = {
    stack,
    file,
    keyPrefix: "numa-k3s:",
    config,
    request,
    topologies: readTopologies(request, projectDir, topologiesInstead),
    lockFile,
    lock: readLock(lockFile, projectDir),
  };
  checkNodesExist(inputs);
  return inputs;
}

/** The inputs of stack `stack` from Pulumi.<stack>.yaml in `projectDir` (the offline commands). */
export function readStackInputs(projectDir: string, stack: string): StackInputs {
  return stackInputsOf(projectDir, stack, readStackEntries(projectDir, stack));
}
