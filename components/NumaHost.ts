// One per hypervisor, between its HostCheck and its VMs: prepares the host for the plan (packages,
// pool, base image, bridge check, CPU isolation, irqbalance, huge pages per node, governor and
// wake latency; hostprep/ derives every value) and holds the host's VM commands back until that
// ran. What takes effect only at the next boot is reported, and rebooted for only with allowReboot.
// Its delete undoes the preparation (hostprep/undo.ts): what the host held before comes back, and
// a reboot is said to be needed for the kernel command line.
import * as pulumi from "@pulumi/pulumi";
import { HostLibvirt, HostPrep, HostPrepSchema } from "../hostprep/config";
import { HostSettings, hostSettings } from "../hostprep/settings";
import { hostOwner } from "../hostprep/host-record";
import { prepareScript } from "../hostprep/scripts";
import { nodeExporterScript } from "../hostprep/node-exporter";
import { undoScript } from "../hostprep/undo";
import { hostDrift } from "../hostprep/drift";
import { parseHostState, stateScript } from "../hostprep/host-state";
import type { HostTopology } from "../topology/host-topology";
import type { HostPlan, VmPlacement } from "../topology/placement";
import { HostCheck, HostGate } from "./HostCheck";
import { ConnectionArgs, hostCommand } from "./remote";
import { changeMarker } from "../common/remote-script";
import { InputError } from "../common/user-error";

export interface NumaHostArgs {
  /** The committed capture of this host, parsed: the topology the plan was made on. */
  topology: HostTopology;
  /** This host's part of the plan (`plan.hosts[i]`): its node reserves decide the VM threads. */
  hostPlan: HostPlan;
  /** The plan's VMs (others' are ignored): their huge pages and, for the drift check, their pins.
   * Adding or resizing a VM changes the prepare command: an update, never a replacement. */
  vms: readonly VmPlacement[];
  /** `numa-k3s:hosts[i].prepare` as the stack schema parsed it (hostprep/config.ts documents each
   * field). Default: cmdline isolation, no wake-latency limit, no reboot. */
  prepare?: HostPrep;
  /** The host's libvirt settings from the stack (uri, poolDir, baseImage, bridge). */
  libvirt: HostLibvirt;
  /** SSH to the hypervisor (components/remote.ts sshConnection). */
  connection: pulumi.Input<ConnectionArgs>;
  /** The host's topology check: nothing is prepared on a host whose CPU numbering moved. */
  hostCheck: HostCheck;
}

/** `reboot-needed:` lines of the prepare command's stdout: what waits for the next boot. */
export function rebootNeeds(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("reboot-needed: "))
    .map((l) => l.slice("reboot-needed: ".length));
}

export function parsePrepare(host: string, raw: unknown): HostPrep {
  const parsed = HostPrepSchema.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
  throw new InputError(`NumaHost '${host}': prepare${key}: ${issue.message}`);
}

export class NumaHost extends pulumi.ComponentResource implements HostGate {
  readonly host: string;
  /** Every value the scripts use, derived from the plan (what render writes to hosts/<host>/). */
  readonly settings: HostSettings;
  /** Kernel parameters the plan needs on the command line; they apply at the next boot. */
  readonly bootParameters: string[];
  /** After the prepare command ran: each setting that waits for a reboot, one line each; [] when
   * the running kernel already has everything. */
  readonly rebootRequired: pulumi.Output<string[]>;
  /** Resolves once the prepare command ran (its id); what `gate` waits for. */
  readonly prepared: pulumi.Output<string>;

  static commandName(name: string): string {
    return `${name}-prepare`;
  }

  constructor(name: string, args: NumaHostArgs, opts?: pulumi.ComponentResourceOptions) {
    const host = args.hostPlan.name;
    if (args.hostCheck.host !== host) throw new InputError(`NumaHost '${name}': hostPlan.name = ${JSON.stringify(host)}: must equal hostCheck.host (${JSON.stringify(args.hostCheck.host)})`);
    const prepare = args.prepare ?? HostPrepSchema.parse({});
    const settings = hostSettings(args.topology, args.hostPlan, args.vms, prepare, args.libvirt);
    super("numa-k3s:host:NumaHost", name, { host, bootParameters: settings.bootParameters, allowReboot: prepare.allowReboot }, opts);
    this.host = host;
    this.settings = settings;
    this.bootParameters = settings.bootParameters;

    // The stack this host belongs to: the prepare refuses a host another stack prepared.
    const owner = hostOwner(pulumi.getProject(), pulumi.getStack());
    // No triggers: a new plan is a new script text, which is an update that converges the host.
    // A replacement (pulumi up --replace) undoes the old preparation before it prepares again
    // (hostCommand deletes first): the other way round, the old one's undo would take back what
    // the new one just set.
    const prepareCommand = hostCommand(
      NumaHost.commandName(name),
      { connection: args.hostCheck.gate(args.connection), script: prepareScript(settings, owner), delete: undoScript(owner, host) },
      { parent: this },
    );
    // The metrics VictoriaStack's hypervisor job scrapes (node_exporter, the pinning collector),
    // after the packages and the VMs' plan are in place.
    hostCommand(
      `${name}-node-exporter`,
      { connection: args.hostCheck.gate(args.connection), script: nodeExporterScript(host, args.vms.filter((vm) => vm.host === host), args.libvirt.uri) },
      { parent: this, dependsOn: [prepareCommand] },
    );
    this.rebootRequired = prepareCommand.stdout.apply(rebootNeeds);
    this.prepared = prepareCommand.id;

    if (pulumi.runtime.isDryRun() && settings.bootParameters.length > 0) {
      // The command's output is unknown in a preview; what can be said is what the boot waits for.
      pulumi.log.warn(
        `host ${host}: the plan needs kernel parameters that apply at the next boot only: ${settings.bootParameters.join(" ")}; ` +
          (prepare.allowReboot ? "allowReboot is true: the host reboots if its running kernel lacks them" : "allowReboot is false: reboot the host yourself if pulumi up reports reboot-needed"),
        this,
      );
    }
    this.rebootRequired.apply((needs) => {
      if (needs.length > 0)
        pulumi.log.warn(`host ${host}: ${needs.length} setting(s) wait for a reboot${prepare.allowReboot ? " (rebooting in a minute)" : " (allowReboot is false: not rebooting)"}: ${needs.join("; ")}`, this);
    });
    this.registerOutputs({ host, bootParameters: settings.bootParameters, rebootRequired: this.rebootRequired });
  }

  /**
   * The drift check of `npm run host-check`, inside `pulumi up`: once `after` (the host's VMs) is
   * done, a read-only command reads the live state (command line, isolated threads, huge pages,
   * governor, every domain's pins) and each difference from the plan is logged as a warning on
   * this host. It runs whenever the host's plan changed (a marker of the settings it checks
   * against), like the host check, and never changes the host: drift is reported, not "fixed"
   * behind the operator's back. Between ups, `npm run host-check` reads it on demand.
   */
  checkDrift(after: pulumi.Resource[], connection: pulumi.Input<ConnectionArgs>): pulumi.Output<string[]> {
    const read = hostCommand(
      `${this.host}-drift`,
      {
        connection: this.gate(connection),
        script: stateScript(this.settings),
        markers: [changeMarker("NUMA_K3S_DRIFT", JSON.stringify(this.settings))],
        logging: "stderr",
      },
      { parent: this, dependsOn: after },
    );
    return read.stdout.apply((stdout) => {
      if (stdout.trim() === "") return [];
      const { differences } = hostDrift(this.settings, parseHostState(stdout));
      for (const line of differences) pulumi.log.warn(`drift: ${line} (npm run host-check -- --stack NAME shows it again)`, this);
      return differences;
    });
  }

  /**
   * `value`, released only after the host passed its check and was prepared. With allowReboot and
   * a reboot pending, the host is going down: the VM commands are held back (the run fails with
   * one line) and the next `pulumi up`, after the reboot, creates them.
   */
  gate<T>(value: pulumi.Input<T>): pulumi.Output<T> {
    if (pulumi.runtime.isDryRun()) return pulumi.output(value) as pulumi.Output<T>;
    return pulumi.all([this.prepared, this.rebootRequired]).apply(([, needs]) => {
      if (needs.length > 0 && this.settings.allowReboot)
        throw new pulumi.ResourceError(`host ${this.host} reboots to apply ${needs.join("; ")}: run pulumi up again once it is back`, this, true);
      return value;
    }) as pulumi.Output<T>;
  }
}
