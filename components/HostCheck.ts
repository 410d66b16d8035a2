// Before any VM on a host is created or changed: is the host still the one its committed capture
// describes? CPU numbering moves with BIOS settings (SMT, sub-NUMA clustering, thread order) and
// a thread can go offline; a plan made on a stale capture would pin VMs to the wrong node without
// any error from libvirt. This component reads the live `virsh capabilities` on every `pulumi up`
// and fails the deployment, in one line, when it differs in anything a pin depends on.
import { createHash } from "node:crypto";
import { isAbsolute, relative } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { topologyDiff } from "../topology/topology-diff";
import { changeMarker, shellQuote } from "../common/remote-script";
import { ConnectionArgs, hostCommand } from "./remote";
import { HostMismatch } from "../common/user-error";
import { DEFAULT_LIBVIRT_URI } from "../common/formats";

export interface HostCheckArgs {
  /** The host's name in the stack config (`hosts[].name`), e.g. `numa-01`; names it in messages
   * and in the capture command a message suggests. */
  host: string;
  /** The committed capture, parsed (`readCapabilities(...)`): the topology the plan was made on,
   * which the live host must match. */
  topology: HostTopology;
  /** The capture's path as the stack config names it (`hosts/numa-01.capabilities.xml`), for
   * messages. Default: topology.source. */
  captureFile?: string;
  /** SSH to the hypervisor. Made secret as a whole here (it holds the private key), whatever the
   * caller passed. Changing it runs the check again; never a replacement. */
  connection: pulumi.Input<ConnectionArgs>;
  /** libvirt connection URI on the hypervisor. Default `qemu:///system`. */
  libvirtUri?: string;
  /**
   * What the stack will make this host do (a digest of its preparation and of every VM on it):
   * the check runs again whenever it changes, so it comes before every command that would act on
   * the host, and an unchanged stack runs nothing at all (see the class comment).
   */
  desired: string;
}

/** How many differences the one-line message shows before saying how many more there are. */
const SHOWN = 3;

/** A capture path as a user would type it: relative to the working directory when inside it. */
function shownPath(source: string): string {
  if (!isAbsolute(source)) return source;
  const rel = relative(process.cwd(), source);
  return rel.startsWith("..") || isAbsolute(rel) ? source : rel;
}

/** A token that changes exactly when the committed topology does: the value of `verified`. */
export function topologyDigest(topology: HostTopology): string {
  const pinning = { nodes: topology.nodes, threadsPerCore: topology.threadsPerCore };
  return `sha256:${createHash("sha256").update(JSON.stringify(pinning)).digest("hex")}`;
}

/** What a host's VMs wait behind: the host's check (and, with NumaHost, its preparation). */
export interface HostGate {
  /** The host (stack config `hosts[].name`). */
  readonly host: string;
  /** `value`, released only once the host may take VM changes. */
  gate<T>(value: pulumi.Input<T>): pulumi.Output<T>;
}

/**
 * Compare the live `virsh capabilities` output with the committed topology. Returns
 * topologyDigest(committed) when they pin alike; throws a HostMismatch (one line: what
 * differs, and the command that captures the host again) when not, or when the output is not a
 * capabilities document.
 */
export function verifyLiveTopology(host: string, committed: HostTopology, liveXml: string, captureFile = committed.source): string {
  const capture = shownPath(captureFile);
  const again = `capture again with npm run capture -- --host ${host} and re-plan`;
  let live: HostTopology;
  try {
    live = parseCapabilities(liveXml, `live virsh capabilities of ${host}`);
  } catch (e) {
    throw new HostMismatch(`host ${host}: cannot compare with ${capture}: ${(e as Error).message}`);
  }
  const differences = topologyDiff(committed, live);
  if (differences.length > 0) {
    const more = differences.length > SHOWN ? ` (and ${differences.length - SHOWN} more)` : "";
    throw new HostMismatch(
      `host ${host}: live virsh capabilities differ from ${capture}: ${differences.slice(0, SHOWN).join("; ")}${more}; ${again}`,
    );
  }
  return topologyDigest(committed);
}

/**
 * Reads a host's live `virsh capabilities` before anything of the stack acts on the host, and
 * resolves `verified` only when it pins like the committed capture. Every command on the host takes
 * `verified` into its inputs, so no command reaches a host whose topology changed.
 *
 * When it runs: `remote.Command` runs `create` once and `update` when an input changes. The check's
 * command carries a marker of what the stack wants of the host (`desired`) and of the committed
 * capture, so it runs again exactly when some command on the host will (a VM added, re-pinned,
 * resized; the preparation changed; a new capture), and an unchanged stack re-runs nothing: a
 * second `pulumi up` is a no-op. Between ups, `npm run host-check` compares the live host with the
 * plan on demand. Rejected alternatives:
 * - a per-run marker: an update in every preview and every up, so `pulumi up --expect-no-changes`
 *   could never pass;
 * - `triggers: [timestamp]`: a replacement on every run;
 * - `local.run` (an invoke, run on every preview too): needs an ssh client and the key on the
 *   machine running Pulumi, outside Pulumi's secret handling.
 */
export class HostCheck extends pulumi.ComponentResource {
  /** topologyDigest(committed) once the live host matched; rejects with the one-line difference. */
  readonly verified: pulumi.Output<string>;
  readonly host: string;

  /** The name of the check's command, for mocks that answer it with a capture. */
  static commandName(name: string): string {
    return `${name}-capabilities`;
  }

  constructor(name: string, args: HostCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super("numa-k3s:libvirt:HostCheck", name, { host: args.host, captureFile: args.captureFile ?? args.topology.source }, opts);
    this.host = args.host;
    const virsh = `virsh -c ${shellQuote(args.libvirtUri ?? DEFAULT_LIBVIRT_URI)} capabilities`;
    const capabilities = hostCommand(
      HostCheck.commandName(name),
      {
        connection: args.connection,
        script: virsh,
        markers: [changeMarker("NUMA_K3S_HOST_CHECK", `${args.desired} ${topologyDigest(args.topology)}`)],
        // The XML is hundreds of lines of noise in `pulumi up`; virsh's errors still show.
        logging: "stderr",
      },
      { parent: this },
    );
    this.verified = capabilities.stdout.apply((xml) => {
      try {
        return verifyLiveTopology(args.host, args.topology, xml, args.captureFile);
      } catch (e) {
        // hideStack: the user sees the one line, attached to this resource, not a trace.
        if (e instanceof HostMismatch) throw new pulumi.ResourceError(e.message, this, true);
        throw e;
      }
    });
    // `verified` is left out on purpose: a registered output that rejects fails the run with
    // "error serializing property outputs" in front of the message. The VMs' commands, gated on
    // it, fail the run with the message alone.
    this.registerOutputs({ host: args.host });
  }

  /**
   * `value`, released only after this host passed the check: a VM command whose input goes through
   * here is not registered (so never runs) when the check fails. In a preview the check's output is
   * unknown; gating there would only turn every VM command into an unknown "update", so the value
   * passes straight through (nothing runs in a preview anyway).
   */
  gate<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    if (pulumi.runtime.isDryRun()) return pulumi.output(value) as pulumi.Output<T>;
    return this.verified.apply(() => value) as pulumi.Output<T>;
  }
}
