// One libvirt VM pinned as the planner placed it, driven over SSH on its hypervisor: the seed files
// are uploaded, then one command creates, updates and deletes the VM with the scripts of
// hypervisor/vm-scripts.ts, the domain XML on stdin. Nothing runs before the host's HostCheck has
// seen the live topology match the committed capture.
import * as pulumi from "@pulumi/pulumi";
import { formatCpuset } from "../topology/cpuset";
import { renderDomainXml } from "../topology/domain-xml";
import { GuestSpec, renderMetaData, renderNetworkConfig, renderUserData } from "../guest/cloud-init";
import { createScript, deleteScript, updateScript } from "../hypervisor/vm-scripts";
import { VmDescription, domainSpecOf, replacedWhenMoved, scriptParamsOf, vmIdentity } from "../hypervisor/vm-description";
import { changeMarker, filesPayload, readPayloadBash, shellQuote } from "../common/remote-script";
import { HostGate } from "./HostCheck";
import { ConnectionArgs, hostCommand } from "./remote";
import { fieldProblem, InputError } from "../common/user-error";

export interface NumaPinnedVmArgs {
  /**
   * The whole VM (hypervisor/vm-description.ts documents each field), each fact once:
   * - `placement`: its host, node, the host thread of every vCPU, emulator and iothread pins,
   *   memory, guest topology (the planner's output, from the placement lock); `placement.name` is
   *   the libvirt domain name. Pin, memory and topology changes are updates: pins are applied live
   *   (`virsh vcpupin --live`), and what a running guest cannot take (vCPU count, memory, NUMA
   *   policy, huge pages) restarts it once, cleanly.
   * - `files`: its disks and seed on the hypervisor. A larger size grows the disk (a smaller one is
   *   refused); the guest grows its filesystem at its next boot.
   * - `guest`: cloud-init (host name, admin and public keys, packages, static address, the NIC's
   *   MAC, mounts). A change uploads new seed files and rebuilds the seed ISO (an update); the guest
   *   applies it at its next boot, when cloud-init sees the new instance-id.
   * - `deleteDataDisks`: deleting the VM (removing it from the stack, or `pulumi destroy`) never
   *   removes the hot disk unless true, and never touches the lake device at all. The flag is read
   *   from the delete command Pulumi stored at the last `up`: set it, run `pulumi up`, then delete.
   * What identifies the VM (vmIdentity: host, name, libvirt URI, its directory, its OS disk)
   * changing REPLACES it: it is deleted first (OS and staging disks with it, data disks kept), then
   * created. Not a VM with a hot disk (replacedWhenMoved): for it such a change is an update,
   * which the update script refuses, saying how to move the VM with its data (README: "Which
   * changes replace a VM"). A new name is a new VM; while the old one holds the lake and the hot
   * disk, its create is refused, naming the old VM.
   */
  vm: VmDescription;
  /** SSH to the hypervisor (host, port, user, privateKey). Made secret as a whole here. A change
   * (new key, new address) is an update that runs the update script; never a replacement. */
  connection: pulumi.Input<ConnectionArgs>;
  /** The VM's host: its HostCheck, or its NumaHost (which waits for the check, then prepares the
   * host). No command of this VM runs before the gate opens, so a host whose live topology differs
   * from its capture gets no VM changes at all. */
  hostCheck: HostGate;
}

/** The three NoCloud files, in the order the seed script writes them. */
export const SEED_FILES = ["user-data", "meta-data", "network-config"] as const;
export type SeedFile = (typeof SEED_FILES)[number];

/** The seed documents of a guest. */
export function seedFiles(guest: GuestSpec): Record<SeedFile, string> {
  return { "user-data": renderUserData(guest), "meta-data": renderMetaData(guest), "network-config": renderNetworkConfig(guest) };
}

/** What the seed upload sends on stdin: the three files as a payload (common/remote-script.ts). */
export function seedPayload(guest: GuestSpec): string {
  return filesPayload(seedFiles(guest));
}

/** The assignment in front of the domain command that changes exactly when the seed does. */
export function seedMarker(guest: GuestSpec): string {
  return changeMarker("NUMA_K3S_SEED", seedPayload(guest));
}

/** The bash script that writes the payload's files into `dir` (created if missing): each file
 * staged next to its target and renamed, so a half-written file is never read. */
export function seedScript(dir: string): string {
  return `set -euo pipefail
say() { echo "numa-k3s seed: $*" >&2; }
dir=${shellQuote(dir)}
# The pool and the VM's directory are made readable: QEMU (another user) opens the disks in them.
# Only the seed (the admin's keys, the token) is the owner's alone.
(umask 022 && mkdir -p -- "$(dirname -- "$dir")")
umask 077
mkdir -p "$dir"
${readPayloadBash(SEED_FILES)}
for file in "\${received[@]}"; do
  mv -f "$dir/.$file.new" "$dir/$file"
  say "wrote $dir/$file"
done
for file in ${SEED_FILES.join(" ")}; do
  [[ -f $dir/$file ]] || { say "$dir/$file was not written"; exit 1; }
done
`;
}

/**
 * A libvirt VM with NUMA pins on one host: children `<name>-seed` (uploads user-data, meta-data
 * and network-config into scripts.seed.dir) and `<name>-domain` (create / update / delete scripts,
 * the domain XML on stdin).
 *
 * Decisions:
 * - The XML is stdin, not a trigger: remote.Command runs `update` when create/update/stdin/
 *   environment change and replaces only on triggers, so a pin change is re-pinned live instead of
 *   deleting the VM.
 * - Replacement is delete-then-create (`deleteBeforeReplace`): the old and the new VM share their
 *   domain name and paths, so Pulumi's default (create the new, then delete the old) would end
 *   with the delete script removing the VM just created. A VM with a hot disk is never replaced:
 *   its triggers' changes are ignored (`ignoreChanges`), and its scripts refuse to move it.
 * - No `protect` by default: removing a VM from the lock is a normal change, and the delete script
 *   keeps the data disks anyway. Pass `{ protect: true }` in the options to guard a VM; children
 *   inherit it.
 * - The seed's digest stands in front of the domain command's create and update as a variable
 *   assignment (`NUMA_K3S_SEED_SHA256=... bash -c ...`), so that a new seed makes the domain command
 *   update and rebuild the ISO. Not `environment`: sshd drops variables it does not AcceptEnv, and
 *   the provider warns about each one on every run.
 */
export class NumaPinnedVm extends pulumi.ComponentResource {
  /** The libvirt domain name (= placement.name). */
  readonly name: pulumi.Output<string>;
  /** The host (stack config `hosts[].name`) the VM runs on. */
  readonly host: pulumi.Output<string>;
  /** The VM's NUMA node; null for a floating VM. */
  readonly node: pulumi.Output<number | null>;
  /** The host threads of its vCPUs, libvirt cpuset syntax (`0-16,36-52`). */
  readonly threads: pulumi.Output<string>;
  /** The guest's address on the bridge, without the prefix length. */
  readonly address: pulumi.Output<string>;

  constructor(name: string, args: NumaPinnedVmArgs, opts?: pulumi.ComponentResourceOptions) {
    const { vm, hostCheck } = args;
    const { placement, guest, files } = vm;
    if (placement.host !== hostCheck.host)
      throw new InputError(fieldProblem(`NumaPinnedVm '${name}'`, "vm.placement.host", placement.host, `must be the checked host (${hostCheck.host})`));
    const summary = {
      host: placement.host,
      node: placement.node,
      threads: formatCpuset(placement.vcpupin),
      address: guest.address.cidr.split("/")[0],
    };
    super("numa-k3s:libvirt:NumaPinnedVm", name, summary, opts);

    const params = scriptParamsOf(vm);
    const xml = renderDomainXml(placement, domainSpecOf(vm));
    const payload = seedPayload(guest);
    const connection = hostCheck.gate(args.connection);

    const seed = hostCommand(
      `${name}-seed`,
      { connection, script: seedScript(files.seed.dir), stdin: payload, triggers: [files.seed.dir] },
      { parent: this },
    );

    const domainCommand = hostCommand(
      `${name}-domain`,
      {
        connection,
        script: createScript(params),
        update: updateScript(params),
        delete: deleteScript(params),
        markers: [seedMarker(guest)],
        stdin: xml,
        triggers: vmIdentity(vm),
      },
      { parent: this, dependsOn: [seed], ...(replacedWhenMoved(vm) ? {} : { ignoreChanges: ["triggers"] }) },
    );

    // Released once the domain command is registered, so whoever uses an output (a K3s agent
    // reaching `address`) comes after the VM.
    const after = <T>(value: T) => domainCommand.id.apply(() => value);
    this.name = after(placement.name);
    this.host = after(summary.host);
    this.node = after(summary.node);
    this.threads = after(summary.threads);
    this.address = after(summary.address);
    this.registerOutputs({ name: this.name, host: this.host, node: this.node, threads: this.threads, address: this.address });
  }
}
