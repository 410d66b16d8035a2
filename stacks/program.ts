// The Pulumi program: read and check the stack's inputs, place its VMs, pick its layout, compose it.
// (stacks/index.ts runs it; `npm run render` runs it under the mock runtime.)
import * as pulumi from "@pulumi/pulumi";
import { redact } from "../common/redact";
import { UserError } from "../common/user-error";
import { composeStack } from "./compose";
import { StackContext } from "./context";
import { lockedPlan } from "./locked-plan";
import { Placed } from "./place-stack";
import { StackInputs, readStackEntries, stackInputsOf } from "./stack-inputs";
import { CONFIG_NAMESPACE, ourEntries } from "./config";
import { placeholdersIn } from "./placeholders";
import { formatOptIns } from "./opt-ins";
import { checkModels } from "./model-check";

/** This stack's `numa-k3s:` config as plain values (objects arrive as JSON text). */
function rawConfig(file: string): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(pulumi.runtime.allConfig())) {
    // The private key is read as a secret below and never enters plain values.
    if (key === `${CONFIG_NAMESPACE}:sshPrivateKey`) continue;
    try {
      all[key] = JSON.parse(text);
    } catch {
      all[key] = text;
    }
  }
  return ourEntries(all, file);
}

/** What `npm run render` has read and planned already, so that the program does not do it again. */
export interface Prepared {
  inputs: StackInputs;
  placed: Placed;
}

/** Runs `step`; a UserError becomes the one-line RunError Pulumi prints without a stack trace. */
function asUserStop<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof UserError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

/** A stop Pulumi prints as it is: redacted like every UserError. */
const stop = (message: string) => new pulumi.RunError(redact(message));

/** Whether the stack file holds the private key in the clear: `pulumi config set` without
 * --secret writes it there as text, and the file is committed with the project. */
function plaintextPrivateKey(projectDir: string, stack: string): boolean {
  let entries: Record<string, unknown>;
  try {
    entries = readStackEntries(projectDir, stack);
  } catch {
    return false;
  }
  return typeof entries.sshPrivateKey === "string";
}

export function runProgram(projectDir = process.cwd(), prepared?: Prepared) {
  const stack = pulumi.getStack();
  const inputs = prepared?.inputs ?? asUserStop(() => stackInputsOf(projectDir, stack, rawConfig(`Pulumi.${stack}.yaml`)));
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const sshPrivateKey = config.getSecret("sshPrivateKey");
  // `npm run render` is an offline preview: it shows unlocked VMs and must give the same output twice.
  const rendering = process.env.NUMA_K3S_RENDER === "1";
  const previewOnly = pulumi.runtime.isDryRun() || rendering;
  if (!sshPrivateKey && !previewOnly)
    throw stop(`${inputs.file}: numa-k3s:sshPrivateKey is not set: pulumi config set --secret numa-k3s:sshPrivateKey < ~/.ssh/id_ed25519`);
  if (plaintextPrivateKey(projectDir, stack)) {
    const why = `${inputs.file}: numa-k3s:sshPrivateKey is stored in the clear in the stack file, which is committed with the project: store it encrypted with pulumi config set --secret numa-k3s:sshPrivateKey < ~/.ssh/id_ed25519 (and take the old key out of the repository's history)`;
    if (!previewOnly) throw stop(why);
    pulumi.log.warn(why);
  }
  // Placeholders render and preview, with a warning each; an up refuses them all at once.
  const placeholders = placeholdersIn(inputs.config);
  if (placeholders.length > 0 && !previewOnly)
    throw stop(`${inputs.file}: still holds placeholders, which an up would use for real:\n${placeholders.map((p) => `  ${p}`).join("\n")}`);
  for (const p of placeholders) pulumi.log.warn(redact(`${inputs.file}: ${p}`));
  for (const o of formatOptIns(inputs.config)) pulumi.log.warn(`${inputs.file}: ${o}`);
  const ctx: StackContext = {
    stack,
    configFile: inputs.file,
    projectDir,
    previewOnly,
    sshPrivateKey: sshPrivateKey ?? pulumi.secret("(set numa-k3s:sshPrivateKey)"),
  };
  // What a user wrote that only shows once specs are built (a disk path libvirt would refuse, a
  // host of another architecture) stops the same way: one line, no stack trace.
  const deployment = asUserStop(() => {
    const plan = lockedPlan(inputs, previewOnly, prepared?.placed);
    checkModels(inputs, plan);
    return composeStack(inputs, plan, ctx);
  });
  return {
    layout: inputs.config.layout,
    plan: deployment.plan,
    vms: deployment.vms.map((vm) => ({ name: vm.name, host: vm.host, node: vm.node, threads: vm.threads, address: vm.address })),
    /** The K3s API, and a kubeconfig for it (a secret); none when the stack stops after its VMs. */
    k3sServer: deployment.cluster?.controlPlane.serverUrl,
    kubeconfig: deployment.cluster?.controlPlane.kubeconfig,
    /** For render: each k8s node's K3s files in the clear (no secret in them). */
    k3sFiles: deployment.cluster?.files ?? {},
  };
}
