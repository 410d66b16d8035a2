// The Pulumi program: read and check the stack's config, pick its layout, compose it.
// (stacks/index.ts runs it; `npm run render` runs it under the mock runtime.)
import * as pulumi from "@pulumi/pulumi";
import { UserError } from "../common/user-error";
import { ConfigError, parseStackConfig } from "./config";
import { StackContext } from "./context";
import { distributed } from "./distributed";
import { macNuma } from "./mac-numa";
import { single } from "./single";

const layouts = { "mac-numa": macNuma, single, distributed } as const;

/** This stack's `numa-k3s:` config as plain values (objects arrive as JSON text). */
function rawConfig(): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(pulumi.runtime.allConfig())) {
    if (!key.startsWith("numa-k3s:")) continue;
    const name = key.slice("numa-k3s:".length);
    // The private key is read as a secret below and never enters plain values.
    if (name === "sshPrivateKey") continue;
    try {
      raw[name] = JSON.parse(text);
    } catch {
      raw[name] = text;
    }
  }
  return raw;
}

export function runProgram(projectDir = process.cwd()) {
  const stack = pulumi.getStack();
  const configFile = `Pulumi.${stack}.yaml`;
  let cfg;
  try {
    cfg = parseStackConfig(rawConfig(), configFile);
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
  const config = new pulumi.Config("numa-k3s");
  const sshPrivateKey = config.getSecret("sshPrivateKey");
  // `npm run render` is an offline preview: it shows unlocked VMs and must give the same output twice.
  const rendering = process.env.NUMA_K3S_RENDER === "1";
  const previewOnly = pulumi.runtime.isDryRun() || rendering;
  if (!sshPrivateKey && !previewOnly)
    throw new pulumi.RunError(`${configFile}: numa-k3s:sshPrivateKey is not set: pulumi config set --secret numa-k3s:sshPrivateKey < ~/.ssh/id_ed25519`);
  const ctx: StackContext = {
    stack,
    configFile,
    projectDir,
    previewOnly,
    runId: rendering ? "render" : undefined,
    sshPrivateKey: sshPrivateKey ?? pulumi.secret("(set numa-k3s:sshPrivateKey)"),
  };
  let deployment;
  try {
    deployment = layouts[cfg.layout](cfg, ctx);
  } catch (e) {
    // What a user wrote that only shows once specs are built (a capture that does not parse, a
    // disk path libvirt would refuse): one line, no stack trace. Anything else is ours: rethrown.
    if (e instanceof UserError) throw new pulumi.RunError((e as Error).message);
    throw e;
  }
  return {
    layout: cfg.layout,
    plan: deployment.plan,
    vms: deployment.vms.map((vm) => ({ name: vm.name, host: vm.host, node: vm.node, cpus: vm.cpus, address: vm.address })),
  };
}
