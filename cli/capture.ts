// npm run capture -- --host NAME [--stack NAME]
// Fetch a hypervisor's `virsh capabilities` over SSH (the stack's ssh settings) into the capture
// file the stack names, after checking it parses; print what changed against the old capture.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseCapabilities } from "../topology/capabilities";
import { topologyDiff } from "../topology/topology-diff";
import { StackHost, readStackFile } from "../stacks/config";
import { shellQuote } from "../hypervisor/shell-quote";
import { BadInput, run } from "./exit";

const USAGE = "usage: npm run capture -- --host NAME [--stack NAME]";

/** The host's settings from the named stack, or from the one stack file that has it. */
function findHost(projectDir: string, host: string, stack?: string): StackHost {
  const stacks = stack ? [stack] : readdirSync(projectDir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []).sort();
  const found = new Map<string, StackHost>();
  for (const s of stacks) {
    const h = readStackFile(projectDir, s).config.hosts.find((x) => x.name === host);
    if (h) found.set(s, h);
  }
  if (found.size === 0) throw new BadInput(`no stack${stack ? ` ${stack}` : ""} has a host '${host}' (stacks: ${stacks.join(", ")})`);
  const distinct = new Set([...found.values()].map((h) => JSON.stringify([h.ssh, h.libvirt.uri, h.capabilities])));
  if (distinct.size > 1) throw new BadInput(`host '${host}' differs between stacks ${[...found.keys()].join(", ")}: choose one with --stack`);
  return [...found.values()][0];
}

function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { host: { type: "string" }, stack: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.host) throw new BadInput(`--host NAME is required; ${USAGE}`);
  const projectDir = process.cwd();
  const host = findHost(projectDir, values.host, values.stack);
  const target = resolve(projectDir, host.capabilities);
  const ssh = spawnSync(
    "ssh",
    ["-o", "BatchMode=yes", "-p", String(host.ssh.port), `${host.ssh.user}@${host.ssh.address}`, `virsh -c ${shellQuote(host.libvirt.uri)} capabilities`],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  if (ssh.error) throw new BadInput(`cannot run ssh: ${ssh.error.message}`);
  if (ssh.status !== 0) throw new BadInput(`ssh ${host.ssh.user}@${host.ssh.address} virsh capabilities failed (exit ${ssh.status}): ${ssh.stderr.trim().split("\n").pop() ?? ""}`);

  // Never replace a good capture with one the planner cannot read.
  const live = parseCapabilities(ssh.stdout, `${values.host}: live virsh capabilities`);
  const before = existsSync(target) ? readFileSync(target, "utf8") : null;
  writeFileSync(target, ssh.stdout);
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
    if (changes.length === 0) console.log("no change that moves a pin since the previous capture");
    else {
      console.log(`changed since the previous capture (re-plan and review the lock: npm run plan -- --stack NAME --lock FILE):`);
      for (const c of changes) console.log(`  ${c}`);
    }
  }
  return 0;
}

if (require.main === module) run(() => main(process.argv.slice(2)));
