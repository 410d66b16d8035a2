// npm run host-check -- --stack NAME [--host NAME] [--local]
// Read-only: compares each host's live state (kernel command line, isolated threads, huge pages per
// node, governor, wake latency, each domain's live vcpupin/emulatorpin/numatune) with the stack's
// plan and prints each difference on one line. Exit 0 no drift, 1 drift (or a host whose state
// could not be read), 2 bad input.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { hostDrift } from "../hostprep/drift";
import { parseHostState, stateScript } from "../hostprep/host-state";
import { HostSettings, hostSettings } from "../hostprep/settings";
import type { StackHost } from "../stacks/config";
import { readStackInputs } from "../stacks/stack-inputs";
import { isDocumentation } from "../stacks/placeholders";
import { placeRequest } from "../stacks/place-stack";
import { run } from "./exit";
import { sshArgs } from "./ssh";
import { InputError, HostMismatch } from "../common/user-error";

const USAGE = "usage: npm run host-check -- --stack NAME [--host NAME] [--local]";

/** Runs the read-only state script on a host; resolves to what it printed on stdout. */
export type StateRunner = (host: StackHost, script: string) => { status: number | null; stdout: string; stderr: string };

/** Over SSH with the operator's own ssh client and keys (not Pulumi's secret): read-only. */
export const sshRunner: StateRunner = (host, script) => {
  const r = spawnSync("ssh", sshArgs(host, "bash -s"), { input: script, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? r.error?.message ?? "" };
};

/** On this machine, for tests and for running the check on the hypervisor itself. */
export const localRunner: StateRunner = (_host, script) => {
  const r = spawnSync("bash", ["-s"], { input: script, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
};

/**
 * The stack's hosts and their settings, planned as `plan --stack` and the program plan them.
 * The one place that knows how a stack is loaded (stacks/ is where that lives; re-point here).
 */
export function stackHostSettings(projectDir: string, stack: string): Array<{ host: StackHost; settings: HostSettings }> {
  const inputs = readStackInputs(projectDir, stack);
  const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
  if (placed.kind === "no-fit") throw new InputError(placed.lines[0]);
  return inputs.config.hosts
    .filter((h) => placed.plan.hosts.some((p) => p.name === h.name))
    .map((host) => {
      const hostPlan = placed.plan.hosts.find((p) => p.name === host.name)!;
      return { host, settings: hostSettings(inputs.topologies.get(host.name)!, hostPlan, placed.plan.vms, host.prepare, host.libvirt) };
    });
}

/** Differences and notes of one host, as lines. */
export function checkHost(host: StackHost, settings: HostSettings, runner: StateRunner): { differences: string[]; notes: string[] } {
  const r = runner(host, stateScript(settings));
  if (r.status !== 0) return { differences: [`host ${host.name}: state not read (exit ${r.status}): ${r.stderr.trim().split("\n").pop() ?? ""}`], notes: [] };
  try {
    return hostDrift(settings, parseHostState(r.stdout));
  } catch (e) {
    if (e instanceof HostMismatch) return { differences: [`host ${host.name}: state not read: ${e.message}`], notes: [] };
    throw e;
  }
}

export function main(argv: string[], runner?: StateRunner, projectDir = process.cwd()): number {
  const { values } = parseArgs({
    args: argv,
    options: { stack: { type: "string" }, host: { type: "string" }, local: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.stack === undefined) throw new InputError(`--stack NAME is required; ${USAGE}`);
  let hosts = stackHostSettings(projectDir, values.stack);
  if (values.host !== undefined) {
    const names = hosts.map((h) => h.host.name);
    if (!names.includes(values.host)) throw new InputError(`--host ${values.host}: not a host of stack ${values.stack} with VMs (${names.join(", ")})`);
    hosts = hosts.filter((h) => h.host.name === values.host);
  }
  const use = runner ?? (values.local ? localRunner : sshRunner);
  if (use === sshRunner) {
    // A shipped stack's placeholder would only time out with "No route to host": say what it is.
    const placeholder = hosts.find((h) => isDocumentation(h.host.ssh.address));
    if (placeholder)
      throw new InputError(
        `host ${placeholder.host.name}: ssh.address = ${placeholder.host.ssh.address}: a documentation address (RFC 5737), the shipped stack's placeholder: set the address your hypervisor's sshd answers at (pulumi config set --path 'numa-k3s:hosts[N].ssh.address' ADDRESS)`,
      );
  }
  let drift = 0;
  for (const { host, settings } of hosts) {
    const { differences, notes } = checkHost(host, settings, use);
    for (const n of notes) console.error(n);
    for (const d of differences) console.log(d);
    drift += differences.length;
  }
  if (drift === 0) console.error(`no drift on ${hosts.map((h) => h.host.name).join(", ")}`);
  return drift === 0 ? 0 : 1;
}

if (require.main === module) run(() => main(process.argv.slice(2)));
