// npm run render -- --stack NAME [--out DIR]
// Runs the real Pulumi program under the mock runtime and writes what it would do, for review:
// plan.json, plan.md, plan.svg, domains/*.xml, cloud-init/<vm>/*, commands/*.sh. Secrets are
// redacted: a render is something people paste into reviews.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseSeedPayload } from "../components/NumaPinnedVm";
import { unlockedVms } from "../topology/lock";
import { formatPlanTable } from "../topology/plan-table";
import { renderPicture } from "../topology/picture";
import { Plan } from "../topology/placement";
import { planPlacement } from "../topology/planner";
import { CONFIG_NAMESPACE, stackConfigEntries } from "../stacks/config";
import { formatNoFit, readLock } from "../stacks/placement-inputs";
import { loadStack } from "./plan";
import { BadInput, run } from "./exit";
import { RecordedResource, programErrors, recordedResources, redactSecrets, settle, startMockRuntime } from "./mock-runtime";

const USAGE = "usage: npm run render -- --stack NAME [--out DIR]";

/** The stack's config as Pulumi would hand it to the program: strings, objects as JSON text. */
export function pulumiConfig(projectDir: string, stack: string): { config: Record<string, string>; secretKeys: string[] } {
  const file = resolve(projectDir, `Pulumi.${stack}.yaml`);
  const entries = stackConfigEntries(readFileSync(file, "utf8"), file);
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(entries)) {
    const full = `${CONFIG_NAMESPACE}:${key}`;
    if (value !== null && typeof value === "object" && "secure" in value) {
      // Encrypted in the stack file; offline there is no key to decrypt it, and nothing to show.
      config[full] = "[secret]";
      secretKeys.push(full);
    } else config[full] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { config, secretKeys };
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text.endsWith("\n") ? text : text + "\n");
}

function commandScripts(r: RecordedResource): [string, string][] {
  const inputs = redactSecrets(r.inputs) as Record<string, unknown>;
  return (["create", "update", "delete"] as const).filter((k) => typeof inputs[k] === "string").map((k) => [k, inputs[k] as string]);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { stack: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.stack) throw new BadInput(`--stack NAME is required; ${USAGE}`);
  const stack = values.stack;
  const projectDir = process.cwd();
  const out = resolve(values.out ?? join("out", stack));

  // The checks the program makes, first, so that a bad config or a host too small is exit 2 or 3
  // with the same one-line messages as `npm run plan`.
  const loaded = loadStack(projectDir, stack);
  const lockFile = loaded.stackLock!;
  const lock = readLock(resolve(projectDir, lockFile));
  const outcome = planPlacement({ request: loaded.request, topologies: loaded.topologies, lock });
  if (outcome.kind === "no-fit") {
    for (const p of outcome.problems) console.error(formatNoFit(loaded, p, lockFile));
    return 3;
  }

  process.env.NUMA_K3S_RENDER = "1";
  const { config, secretKeys } = pulumiConfig(projectDir, stack);
  const captures = Object.fromEntries(loaded.request.hosts.map((h) => [h.name, readFileSync(resolve(projectDir, h.capabilities), "utf8")]));
  const { HostCheck } = await import("../components/HostCheck");
  startMockRuntime({
    project: "numa-k3s",
    stack,
    config,
    secretConfigKeys: secretKeys,
    // The live host answers with the committed capture: a render shows the program as it runs when
    // the host check passes.
    commandStdout: (r) => {
      for (const [host, xml] of Object.entries(captures)) if (r.name === HostCheck.commandName(`${host}-host-check`)) return xml;
      return undefined;
    },
  });
  const { runProgram } = await import("../stacks/program");
  const pulumi = await import("@pulumi/pulumi");
  let outputs: ReturnType<typeof runProgram>;
  try {
    outputs = runProgram(projectDir);
  } catch (e) {
    // The program's own one-line stops (RunError) are the user's to fix, as in `pulumi up`.
    if (e instanceof pulumi.RunError) throw new BadInput(e.message);
    throw e;
  }
  await settle();
  const errors = programErrors();
  if (errors.length > 0) {
    for (const e of errors) console.error(`${stack}: ${e.message.split("\n")[0]}`);
    return 1;
  }

  rmSync(out, { recursive: true, force: true });
  const plan: Plan = outputs.plan;
  const resources = recordedResources();
  write(join(out, "plan.json"), JSON.stringify(plan, null, 2));
  write(join(out, "plan.svg"), renderPicture(plan.hosts.map((h) => loaded.topologies.get(h.name)!), plan));
  const unlocked = unlockedVms(plan, lock).map((vm) => vm.name);
  write(
    join(out, "plan.md"),
    [
      `# ${stack}: ${outputs.layout}`,
      "",
      "![placement](plan.svg)",
      "",
      "```",
      formatPlanTable(plan).trimEnd(),
      "```",
      "",
      unlocked.length > 0 ? `Not in ${lockFile} yet (pulumi up refuses them): ${unlocked.join(", ")}.` : `Every VM is locked in ${lockFile}.`,
      "",
      `Resources: ${resources.length} (${[...new Set(resources.map((r) => r.type))].join(", ")}).`,
    ].join("\n"),
  );
  for (const r of resources) {
    const inputs = redactSecrets(r.inputs) as Record<string, unknown>;
    if (r.type === "command:remote:Command") {
      for (const [verb, script] of commandScripts(r)) write(join(out, "commands", `${r.name}.${verb}.sh`), script);
      if (typeof inputs.stdin === "string" && inputs.stdin.trimStart().startsWith("<domain")) write(join(out, "domains", `${r.name.replace(/-domain$/, "")}.xml`), inputs.stdin);
    }
      // The seed upload carries the guest's NoCloud files, exactly as they reach the hypervisor.
      if (r.name.endsWith("-seed") && typeof inputs.stdin === "string")
        for (const [file, text] of Object.entries(parseSeedPayload(inputs.stdin))) write(join(out, "cloud-init", r.name.replace(/-seed$/, ""), file), text);
  }
  console.log(`wrote ${out}: ${plan.vms.length} VMs on ${plan.hosts.length} host${plan.hosts.length > 1 ? "s" : ""}, ${resources.length} resources${unlocked.length > 0 ? `; not locked yet: ${unlocked.join(", ")}` : ""}`);
  return 0;
}

if (require.main === module) run(() => main(process.argv.slice(2)));

