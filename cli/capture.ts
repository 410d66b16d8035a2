// npm run capture -- --host NAME [--stack NAME]
// Fetch a hypervisor's `virsh capabilities` over SSH (the stack's ssh settings) into the capture
// file the stack names, after checking it parses; print what changed against the old capture, and
// check every stack that uses that file against its lock with the new capture, as `npm run plan`
// would. A capture file belongs to one host: a file another machine's host also names is refused
// (writing it would change that host's topology under its stacks). A stack file that does not
// parse is skipped with a warning, unless it is the one --stack names.
// Exit 0 written and every lock still fits; 2 bad input or output that is not a capture (the old
// file is kept); 3 written, but a stack's locked plan no longer fits the host as it is now.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { UserError, InputError } from "../common/user-error";
import { parseCapabilities } from "../topology/capabilities";
import { topologyDiff } from "../topology/topology-diff";
import { StackConfig, StackHost, parseStackConfig } from "../stacks/config";
import { placeRequest } from "../stacks/place-stack";
import { readStackEntries, stackInputsOf, stackNames } from "../stacks/stack-inputs";
import { shellQuote } from "../common/remote-script";
import { run } from "./exit";
import { sshArgs, sshTarget } from "./ssh";

const USAGE = "usage: npm run capture -- --host NAME [--stack NAME]";

interface ParsedStack {
  stack: string;
  config: StackConfig;
}

/** Why each skipped stack file did not parse, by stack. */
const skipped = new Map<string, string>();

/** Every stack file of the project that parses. One that does not is another stack's problem: it
 * is said and skipped, unless it is `required` (the stack --stack names). */
function readStacks(projectDir: string, required?: string): ParsedStack[] {
  const stacks: ParsedStack[] = [];
  for (const stack of stackNames(projectDir)) {
    try {
      stacks.push({ stack, config: parseStackConfig(readStackEntries(projectDir, stack), `Pulumi.${stack}.yaml`) });
    } catch (e) {
      if (!(e instanceof UserError) || stack === required) throw e;
      skipped.set(stack, e.message);
      console.error(`warning: skipped stack ${stack}, which does not parse: ${e.message}`);
    }
  }
  if (required && !stacks.some((s) => s.stack === required)) readStackEntries(projectDir, required);
  return stacks;
}

/** The host's settings from the named stack, or from every stack that has it (they must agree). */
function findHost(all: ParsedStack[], host: string, stack?: string): StackHost {
  const stacks = stack ? all.filter((s) => s.stack === stack) : all;
  const found = new Map<string, StackHost>();
  for (const s of stacks) {
    const h = s.config.hosts.find((x) => x.name === host);
    if (h) found.set(s.stack, h);
  }
  if (found.size === 0) {
    const unread = [...skipped.values()].filter((why) => why.includes(host));
    throw new InputError(`no stack${stack ? ` ${stack}` : ""} has a host '${host}' (stacks: ${stacks.map((s) => s.stack).join(", ")})${unread.length > 0 ? `; not read: ${unread.join("; ")}` : ""}`);
  }
  const distinct = new Set([...found.values()].map((h) => JSON.stringify([h.ssh, h.libvirt.uri, h.capabilities])));
  if (distinct.size > 1) throw new InputError(`host '${host}' differs between stacks ${[...found.keys()].join(", ")}: choose one with --stack`);
  return [...found.values()][0];
}

/** Each stack's hosts that name capture file `file`; refuses when one of them is another machine. */
function usersOf(all: ParsedStack[], projectDir: string, file: string, host: StackHost): Array<{ stack: string; hosts: string[] }> {
  const users: Array<{ stack: string; hosts: string[] }> = [];
  for (const s of all) {
    const sharing = s.config.hosts.filter((h) => resolve(projectDir, h.capabilities) === file);
    for (const h of sharing)
      if (h.ssh.address !== host.ssh.address)
        throw new InputError(
          `${host.capabilities} is also the capture of host '${h.name}' (${h.ssh.address}) in stack ${s.stack}, not only of '${host.name}' (${host.ssh.address}): one capture file per host; give each host a file of its own in its stack`,
        );
    if (sharing.length > 0) users.push({ stack: s.stack, hosts: sharing.map((h) => h.name) });
  }
  return users;
}

function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { host: { type: "string" }, stack: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.host) throw new InputError(`--host NAME is required; ${USAGE}`);
  const projectDir = process.cwd();
  const all = readStacks(projectDir, values.stack);
  const host = findHost(all, values.host, values.stack);
  const target = resolve(projectDir, host.capabilities);
  const users = usersOf(all, projectDir, target, host);
  const ssh = spawnSync("ssh", sshArgs(host, `virsh -c ${shellQuote(host.libvirt.uri)} capabilities`), { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (ssh.error) throw new InputError(`cannot run ssh: ${ssh.error.message}`);
  if (ssh.status !== 0) throw new InputError(`ssh ${sshTarget(host)} virsh capabilities failed (exit ${ssh.status}): ${ssh.stderr.trim().split("\n").pop() ?? ""}`);

  // Never replace a good capture with one the planner cannot read (no <topology>, damaged XML).
  const live = parseCapabilities(ssh.stdout, `${values.host}: live virsh capabilities`);
  const before = existsSync(target) ? readFileSync(target, "utf8") : null;
  // Whole or not at all: a reader never sees half a capture.
  writeFileSync(`${target}.capture-tmp`, ssh.stdout);
  renameSync(`${target}.capture-tmp`, target);
  const threads = live.nodes.reduce((sum, n) => sum + n.threads.length, 0);
  console.log(`wrote ${host.capabilities}: ${live.nodes.length} nodes, ${threads} threads, ${live.threadsPerCore} per core`);
  for (const w of live.warnings) console.log(`warning: ${w}`);
  if (before !== null) {
    let changes: string[];
    try {
      changes = topologyDiff(parseCapabilities(before, host.capabilities), live);
    } catch {
      changes = ["the previous capture did not parse"];
    }
    if (changes.length === 0) console.log("no change to nodes, threads, cores or page sizes since the previous capture");
    else {
      console.log(`changed since the previous capture (re-plan and review the lock: npm run plan -- --stack NAME --lock FILE):`);
      for (const c of changes) console.log(`  ${c}`);
    }
  }

  // The checks `npm run plan` makes, on the new capture: memory or huge pages that changed can
  // leave a locked plan unable to start although no thread moved.
  let broken = 0;
  for (const { stack, hosts } of users) {
    try {
      const inputs = stackInputsOf(projectDir, stack, readStackEntries(projectDir, stack), new Map(hosts.map((h) => [h, live])));
      const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
      if (placed.kind === "placed") console.log(`stack ${stack}: its plan${inputs.lock ? ` (locked in ${inputs.lockFile})` : ""} fits the new capture`);
      else {
        broken++;
        console.error(`stack ${stack}: its locked plan no longer fits the new capture:`);
        for (const line of placed.lines) console.error(`  ${line}`);
      }
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      broken++;
      console.error(`stack ${stack}: cannot be planned with the new capture: ${e.message}`);
    }
  }
  return broken > 0 ? 3 : 0;
}

if (require.main === module) run(() => main(process.argv.slice(2)));
