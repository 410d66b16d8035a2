// npm run render -- --stack NAME [--out DIR]
// Runs the real Pulumi program under the mock runtime and writes what it would do, for review:
// plan.json, plan.md, plan.svg, domains/*.xml, cloud-init/<vm>/*, commands/*.sh. Secrets are
// redacted: a render is something people paste into reviews.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import YAML from "yaml";
import { seedFiles } from "../components/NumaPinnedVm";
import { domainSpecOf } from "../hypervisor/vm-description";
import { stateScript } from "../hostprep/host-state";
import { hostOwner } from "../hostprep/host-record";
import { prepareScript, tuningScript } from "../hostprep/scripts";
import { hostSettings } from "../hostprep/settings";
import { hostSummary } from "../hostprep/summary";
import { tunedVariables } from "../hostprep/tuned";
import { renderDomainXml } from "../topology/domain-xml";
import { unlockedVms } from "../topology/lock";
import { formatPlanTable } from "../topology/view/plan-table";
import { renderPicture } from "../topology/view/picture";
import { Plan } from "../topology/placement";
import { CONFIG_NAMESPACE } from "../stacks/config";
import { vmDescriptions } from "../stacks/numa-vms";
import { CLUSTER_NAME } from "../stacks/cluster";
import { placeStack } from "../stacks/place-stack";
import { readStackEntries, readStackInputs } from "../stacks/stack-inputs";
import { redact } from "../common/redact";
import { run } from "./exit";
import { finishRender, renderTarget, startRender } from "./render-dir";
import { RecordedResource, offlineAnswers, programErrors, recordedResources, redactSecrets, settle, startMockRuntime } from "./mock-runtime";
import { InputError } from "../common/user-error";

const USAGE = "usage: npm run render -- --stack NAME [--out DIR]";
/** The project name (Pulumi.yaml), as the engine would give it. */
const PROJECT = "numa-k3s";

/** The stack's config as Pulumi would hand it to the program: strings, objects as JSON text. */
export function pulumiConfig(projectDir: string, stack: string): { config: Record<string, string>; secretKeys: string[] } {
  const entries = readStackEntries(projectDir, stack);
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

/** The Kubernetes document a recorded resource stands for, secrets redacted; null for others. */
export function kubernetesDocument(r: RecordedResource): Record<string, unknown> | null {
  if (!r.type.startsWith("kubernetes:") || r.type.startsWith("pulumi:providers:")) return null;
  const inputs = redactSecrets(r.inputs) as Record<string, unknown>;
  if (r.type.startsWith("kubernetes:helm.sh/")) {
    const repo = (inputs.repositoryOpts as { repo?: string } | undefined)?.repo;
    return { kind: "HelmRelease", name: inputs.name ?? r.name, namespace: inputs.namespace, chart: inputs.chart, repository: repo, version: inputs.version, values: inputs.values ?? {} };
  }
  const { apiVersion, kind, ...rest } = inputs;
  return { apiVersion, kind, ...rest };
}

/** `Kind-namespace-name` of the object inside (cluster-scoped objects have no namespace part). */
export function objectFileName(doc: Record<string, unknown>): string {
  const meta = (doc.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const name = meta.name ?? doc.name;
  const namespace = meta.namespace ?? doc.namespace;
  return [doc.kind, namespace, name].filter((p) => typeof p === "string" && p !== "").join("-").replace(/[^A-Za-z0-9_.-]/g, "_");
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
  if (!values.stack) throw new InputError(`--stack NAME is required; ${USAGE}`);
  const stack = values.stack;
  const projectDir = process.cwd();
  const given = values.out ?? join("out", stack);
  const target = resolve(given);
  // Refused before the (slow) program runs, and again before the new render takes its place.
  renderTarget(target, given, stack, projectDir);

  // Read and planned once, here, and handed to the program: a bad config or a host too small is
  // exit 2 or 3 with the same one-line messages as `npm run plan`.
  const inputs = readStackInputs(projectDir, stack);
  const lockFile = inputs.lockFile;
  const lock = inputs.lock;
  const placed = placeStack(inputs, lock, lockFile, inputs.config.searchSeconds);
  if (placed.kind === "no-fit") {
    for (const line of placed.lines) console.error(line);
    return placed.gaveUp ? 4 : 3;
  }

  process.env.NUMA_K3S_RENDER = "1";
  const { config, secretKeys } = pulumiConfig(projectDir, stack);
  const captures = Object.fromEntries(inputs.request.hosts.map((h) => [h.name, readFileSync(resolve(projectDir, h.capabilities), "utf8")]));
  const { HostCheck } = await import("../components/HostCheck");
  const { K3sControlPlane } = await import("../components/K3sControlPlane");
  startMockRuntime({
    project: PROJECT,
    stack,
    config,
    secretConfigKeys: secretKeys,
    // The live host answers with the committed capture: a render shows the program as it runs when
    // the host check passes.
    commandStdout: offlineAnswers(captures, { hostCheck: (host) => HostCheck.commandName(`${host}-host-check`), kubeconfig: K3sControlPlane.kubeconfigCommandName(CLUSTER_NAME) }),
  });
  const { runProgram } = await import("../stacks/program");
  const pulumi = await import("@pulumi/pulumi");
  let outputs: ReturnType<typeof runProgram>;
  try {
    outputs = runProgram(projectDir, { inputs, placed });
  } catch (e) {
    // The program's own one-line stops (RunError) are the user's to fix, as in `pulumi up`.
    if (e instanceof pulumi.RunError) throw new InputError(e.message);
    throw e;
  }
  await settle();
  const errors = programErrors();
  if (errors.length > 0) {
    for (const e of errors) console.error(redact(`${stack}: ${e.message.split("\n")[0]}`));
    return 1;
  }

  const out = startRender(target, stack);
  const plan: Plan = outputs.plan;
  const resources = recordedResources();
  write(join(out, "plan.json"), JSON.stringify(plan, null, 2));
  write(join(out, "plan.svg"), renderPicture(plan.hosts.map((h) => inputs.topologies.get(h.name)!), plan));
  const unlocked = unlockedVms(plan, lock).map((vm) => vm.name);
  write(
    join(out, "plan.md"),
    [
      stack === outputs.layout ? `# ${stack}` : `# ${stack} (layout ${outputs.layout})`,
      "",
      "![placement](plan.svg)",
      "",
      "```",
      formatPlanTable(plan, inputs.topologies).trimEnd(),
      "```",
      "",
      unlocked.length > 0 ? `Not in ${lockFile} yet (pulumi up refuses them): ${unlocked.join(", ")}.` : `Every VM is locked in ${lockFile}.`,
      "",
      `Resources: ${resources.length} (${[...new Set(resources.map((r) => r.type))].join(", ")}).`,
    ].join("\n"),
  );
  // Domains and seeds from the same pure functions the component calls, for every planned VM.
  for (const vm of vmDescriptions(inputs, plan)) {
    write(join(out, "domains", `${vm.placement.name}.xml`), renderDomainXml(vm.placement, domainSpecOf(vm)));
    for (const [file, text] of Object.entries(seedFiles(vm.guest))) write(join(out, "cloud-init", vm.placement.name, file), text);
  }
  // Each host's preparation, from the same pure derivation NumaHost runs.
  for (const hostPlan of plan.hosts) {
    const host = inputs.config.hosts.find((h) => h.name === hostPlan.name)!;
    if (!plan.vms.some((vm) => vm.host === host.name)) continue;
    const settings = hostSettings(inputs.topologies.get(host.name)!, hostPlan, plan.vms, host.prepare, host.libvirt);
    const dir = join(out, "hosts", host.name);
    write(join(dir, "summary.txt"), hostSummary(settings));
    write(join(dir, "cmdline.txt"), settings.bootParameters.join(" "));
    write(join(dir, "cpu-partitioning-variables.conf"), tunedVariables(host.name, settings));
    write(join(dir, "prepare.sh"), prepareScript(settings, hostOwner(PROJECT, stack)));
    write(join(dir, "numa-k3s-host-tuning.sh"), tuningScript(settings));
    write(join(dir, "state.sh"), stateScript(settings));
  }
  // K3s: each k8s node's config.yaml and kubelet configuration (the token is in a file of its
  // own, never in these); the Lima template beside them for mac-numa.
  for (const [node, files] of Object.entries(outputs.k3sFiles)) {
    for (const [file, text] of Object.entries(files)) write(file === "lima.yaml" ? join(out, "k3s", file) : join(out, "k3s", node, file), text);
  }
  // Every Kubernetes object as the provider receives it; a Helm release (which the mock runtime
  // cannot expand) as its chart, repository, pinned version and values.
  for (const r of resources) {
    const doc = kubernetesDocument(r);
    // YAML 1.1, as kubectl and Helm read it: a string such as `on` or `yes` is quoted, not left to
    // become a boolean (test/k8s/apply-rendered.test.ts found llama-server's `--flash-attn on`).
    if (doc) write(join(out, "k8s", `${objectFileName(doc)}.yaml`), YAML.stringify(doc, { version: "1.1" }));
  }
  // What each remote command runs, as the engine receives it (secrets redacted).
  for (const r of resources) if (r.type === "command:remote:Command") for (const [verb, script] of commandScripts(r)) write(join(out, "commands", `${r.name}.${verb}.sh`), script);
  finishRender(out, target, given, stack, projectDir);
  console.log(`wrote ${target}: ${plan.vms.length} VMs on ${plan.hosts.length} host${plan.hosts.length > 1 ? "s" : ""}, ${resources.length} resources${unlocked.length > 0 ? `; not locked yet: ${unlocked.join(", ")}` : ""}`);
  return 0;
}

if (require.main === module) run(() => main(process.argv.slice(2)));

