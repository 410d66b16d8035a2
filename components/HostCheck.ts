// Before any VM on a host is created or changed: is the host still the one its committed capture
// describes? CPU numbering moves with BIOS settings (SMT, sub-NUMA clustering, thread order) and
// a thread can go offline; a plan made on a stale capture would pin VMs to the wrong node without
// any error from libvirt. This component reads the live `virsh capabilities` on every `pulumi up`
// and fails the deployment, in one line, when it differs in anything a pin depends on.
import { createHash } from "node:crypto";
import { isAbsolute, relative } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { parseCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { topologyDiff } from "../topology/topology-diff";
import { shellQuote } from "../hypervisor/shell-quote";
import { UserError } from "../common/user-error";
import { DEFAULT_LIBVIRT_URI } from "../common/formats";

export type ConnectionArgs = command.types.input.remote.ConnectionArgs;

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
   * Marks one run of the program; a value different from the last `pulumi up` is what makes the
   * check run again (see the class comment). Default: the time this module was loaded, ISO 8601.
   * Give a fixed value where output must be reproducible (render, tests).
   */
  runId?: string;
}

/** When this program run started: the default runId. */
export const PROGRAM_STARTED = new Date().toISOString();

/** The libvirt URI HostCheck and the VM scripts default to. */

/** How many differences the one-line message shows before saying how many more there are. */
const SHOWN = 3;

/** The SSH connection as a secret Output: the private key (and any password) must never reach a
 * log, a diff or a render in the clear. The command provider stores it secret too; this makes it
 * secret before it gets there, and in everything derived from it. */
export function secretConnection(connection: pulumi.Input<ConnectionArgs>): pulumi.Output<ConnectionArgs> {
  return pulumi.secret(connection) as pulumi.Output<ConnectionArgs>;
}

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

/** The live topology does not match the committed capture; the message is one line. */
export class HostTopologyError extends UserError {}

/** What a host's VMs wait behind: the host's check (and, with NumaHost, its preparation). */
export interface HostGate {
  /** The host (stack config `hosts[].name`). */
  readonly host: string;
  /** `value`, released only once the host may take VM changes. */
  gate<T>(value: pulumi.Input<T>): pulumi.Output<T>;
}

/**
 * Compare the live `virsh capabilities` output with the committed topology. Returns
 * topologyDigest(committed) when they pin alike; throws a HostTopologyError (one line: what
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
    throw new HostTopologyError(`host ${host}: cannot compare with ${capture}: ${(e as Error).message}`);
  }
  const differences = topologyDiff(committed, live);
  if (differences.length > 0) {
    const more = differences.length > SHOWN ? ` (and ${differences.length - SHOWN} more)` : "";
    throw new HostTopologyError(
      `host ${host}: live virsh capabilities differ from ${capture}: ${differences.slice(0, SHOWN).join("; ")}${more}; ${again}`,
    );
  }
  return topologyDigest(committed);
}

/**
 * Reads a host's live `virsh capabilities` on every `pulumi up` and resolves `verified` only when
 * it pins like the committed capture. Every VM of the host takes `verified` into its commands'
 * inputs, so no VM command reaches a host whose topology changed.
 *
 * Running a command on every `up`: `remote.Command` runs `create` once and `update` only when an
 * input changes. The update command carries a per-run value (runId) as a variable assignment in
 * front of `virsh capabilities`, so each `up` is an *update* that runs it again. Rejected alternatives:
 * - `triggers: [timestamp]`: a replacement on every run ("+-replace" in every preview), and a
 *   replacement cascades to dependents when anyone later sets deleteBeforeReplace;
 * - `local.run` (an invoke that does run on every preview too): needs an ssh client and the key on
 *   the machine running Pulumi, outside Pulumi's secret handling.
 * Not `environment`: sshd drops variables it does not AcceptEnv, and the provider warns about each
 * one on every run; an assignment in the command text reaches the shell and warns about nothing.
 * The cost: each preview shows this check as an update, and its output is unknown there, so the
 * comparison happens at `up`, before any VM command runs.
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
    const capabilities = new command.remote.Command(
      HostCheck.commandName(name),
      {
        connection: secretConnection(args.connection),
        create: virsh,
        update: `NUMA_K3S_CHECK_RUN=${shellQuote(args.runId ?? PROGRAM_STARTED)} ${virsh}`,
        addPreviousOutputInEnv: false,
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
        if (e instanceof HostTopologyError) throw new pulumi.ResourceError(e.message, this, true);
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
