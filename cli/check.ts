// npm run check -- DIR [--stack NAME] [--project DIR]
// The policy pack's rules (policy/rules/) on a `npm run render` directory, offline, against what
// the stack decided (its stack file, lock and captures in the project): exit 0 when every rule
// holds, 1 with one line per violation (`rule resource: why`), 2 when DIR is no render or the
// stack cannot be read. The layout it reads is policy/README.md's "Render layout"; what is absent
// is simply nothing to check.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import YAML from "yaml";
import type { Plan } from "../topology/placement";
import { checkAll, formatFinding } from "../policy/rules/check-all";
import { contextFromStack } from "../policy/rules/context";
import type { PolicyContext } from "../policy/rules/model";
import { CommandInput, Inputs, KubeletInput, ObjectInput, emptyInputs } from "../policy/rules/model";
import { run } from "./exit";
import { InputError } from "../common/user-error";

const USAGE = "usage: npm run check -- DIR [--stack NAME] [--project DIR]   (DIR: a render, e.g. out/single; NAME: its stack, by default DIR's name)";

function files(dir: string, ext: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(ext) && statSync(join(dir, f)).isFile()).sort() : [];
}

/** The Pulumi type token of a Kubernetes object (`apps/v1` Deployment -> kubernetes:apps/v1:Deployment;
 * the core group `v1` -> kubernetes:core/v1:...). */
export function k8sType(apiVersion: string, kind: string): string {
  return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** Everything the rules read from render directory `dir`. */
export function readRender(dir: string): { plan: Plan; inputs: Inputs } {
  const planFile = join(dir, "plan.json");
  if (!existsSync(planFile) || !existsSync(join(dir, "domains"))) throw new InputError(`${dir}: not a render (no plan.json and domains/); make one with npm run render -- --stack NAME (it writes out/NAME), then npm run check -- out/NAME`);
  let plan: Plan;
  try {
    plan = JSON.parse(readFileSync(planFile, "utf8")) as Plan;
  } catch (e) {
    throw new InputError(`${planFile}: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(plan?.hosts) || !Array.isArray(plan?.vms)) throw new InputError(`${planFile}: has no hosts and vms: not a render's plan`);
  const inputs = emptyInputs();
  for (const f of files(join(dir, "domains"), ".xml")) inputs.domains.push({ resource: `domains/${f}`, xml: readFileSync(join(dir, "domains", f), "utf8") });

  // k3s/<node>/config.yaml (+ kubelet.yaml): an agent's config names its server, a server's does not.
  const k3s = join(dir, "k3s");
  if (existsSync(k3s))
    for (const node of readdirSync(k3s).sort()) {
      const nodeDir = join(k3s, node);
      if (!statSync(nodeDir).isDirectory()) continue;
      const kubelet = join(nodeDir, "kubelet.yaml");
      const config = join(nodeDir, "config.yaml");
      if (!existsSync(kubelet) && !existsSync(config)) continue;
      let role: KubeletInput["role"] = "agent";
      let labels: string[] = [];
      if (existsSync(config)) {
        const doc = YAML.parse(readFileSync(config, "utf8")) as Record<string, unknown> | null;
        role = doc && "server" in doc ? "agent" : "server";
        labels = Array.isArray(doc?.["node-label"]) ? (doc["node-label"] as unknown[]).map(String) : [];
      }
      inputs.kubelets.push({ resource: `k3s/${node}/kubelet.yaml`, node, role, yaml: existsSync(kubelet) ? readFileSync(kubelet, "utf8") : null, labels });
    }

  // k8s/<kind>-<name>.yaml: objects, one per document; a Helm release as {kind: HelmRelease, ...}.
  for (const f of files(join(dir, "k8s"), ".yaml")) {
    const docs = YAML.parseAllDocuments(readFileSync(join(dir, "k8s", f), "utf8")).map((d) => d.toJS() as Record<string, any> | null).filter((d) => d !== null);
    docs.forEach((doc, i) => {
      const resource = `k8s/${f}${docs.length > 1 ? `#${i + 1}` : ""}`;
      const o: ObjectInput =
        doc!.kind === "HelmRelease"
          ? { resource, type: "kubernetes:helm.sh/v4:Chart", props: { chart: doc!.chart, version: doc!.version, repositoryOpts: { repo: doc!.repository }, values: doc!.values ?? {} } }
          : { resource, type: k8sType(String(doc!.apiVersion ?? ""), String(doc!.kind ?? "")), props: doc! };
      inputs.objects.push(o);
    });
  }

  // commands/<resource>.<verb>.sh: what each remote command runs, as the engine receives it.
  const byResource = new Map<string, CommandInput>();
  for (const f of files(join(dir, "commands"), ".sh")) {
    const m = /^(.*)\.(create|update|delete)\.sh$/.exec(basename(f));
    if (!m) continue;
    const c = byResource.get(m[1]) ?? { resource: `commands/${m[1]}`, fields: {} };
    c.fields[m[2]] = readFileSync(join(dir, "commands", f), "utf8");
    byResource.set(m[1], c);
  }
  inputs.commands.push(...byResource.values());
  return { plan, inputs };
}

/** The context of the stack a render was made of: `--stack`, or the stack named like DIR (what
 * `npm run render -- --stack NAME` writes by default: out/NAME). */
export function renderContext(dir: string, projectDir: string, stack?: string): PolicyContext {
  const name = stack ?? basename(resolve(dir));
  if (stack === undefined && !existsSync(join(projectDir, `Pulumi.${name}.yaml`)))
    throw new InputError(`${dir}: which stack is it a render of? No Pulumi.${name}.yaml in ${projectDir}: pass --stack NAME`);
  // A stack, lock or capture that cannot be read is a UserError: one line, exit 2 (cli/exit.ts).
  return contextFromStack(projectDir, name);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { stack: { type: "string" }, project: { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new InputError(USAGE);
  const dir = resolve(positionals[0]);
  const { inputs } = readRender(dir);
  const ctx = renderContext(positionals[0], resolve(values.project ?? process.cwd()), values.stack);
  const findings = checkAll(inputs, ctx);
  for (const f of findings) console.log(formatFinding(f));
  if (findings.length > 0) {
    console.error(`${positionals[0]}: ${findings.length} violation${findings.length > 1 ? "s" : ""} of ${new Set(findings.map((f) => f.rule)).size} rule(s)`);
    return 1;
  }
  console.error(`${positionals[0]}: every rule holds (${inputs.domains.length} domains, ${inputs.kubelets.length} kubelets, ${inputs.objects.length} objects, ${inputs.commands.length} commands)`);
  return 0;
}

if (require.main === module) run(() => main(process.argv.slice(2)));
