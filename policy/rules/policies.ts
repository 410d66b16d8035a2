// The pack's policies: each rule of model.ts as a Pulumi policy over the rules' pure checks. The
// argument types are the few fields of @pulumi/policy 1.21's ResourceValidationArgs and
// StackValidationArgs the policies read, declared here so that the root tests can call them with
// fabricated args without @pulumi/policy installed; policy/index.ts hands them to PolicyPack,
// whose types they must satisfy (tsc -p policy checks that).
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { checkAll } from "./check-all";
import { contextFromStack, stackOfUrn } from "./context";
import { Finding, PolicyContext, RuleName } from "./model";
import { checkConsoles, checkPlacements } from "./placement-rules";
import { inputsOfResources, ResourceLike } from "./pulumi-resources";
import { checkSecrets } from "./secrets";
import { checkKubelets, checkModelServers } from "./workload-rules";

export type EnforcementLevel = "advisory" | "mandatory" | "remediate" | "disabled";
type Report = (message: string, urn?: string) => void;

export interface PackConfig {
  /** The project directory: where Pulumi.<stack>.yaml and the captures it names are. Default: the
   * directory above the pack (policy/..), where it sits in this repository. */
  projectDir?: string;
}

interface ResourceArgs extends ResourceLike {
  urn: string;
  getConfig<T extends object>(): T;
  notApplicable(reason?: string): never;
}
interface StackArgs {
  resources: (ResourceLike & { urn: string })[];
  getConfig<T extends object>(): T;
  notApplicable(reason?: string): never;
}

const configSchema = {
  properties: {
    projectDir: { type: "string" as const, description: "Directory of Pulumi.<stack>.yaml and the host captures it names (default: the pack's parent directory)" },
  },
};

/** Where the project is: the config's projectDir; else $NUMA_K3S_PROJECT_DIR (a published pack
 * runs from Pulumi's plugin cache, far from the checkout: the CI job says where the checkout is);
 * else the pack's parent (policy/rules/../..) when it is the project; else the working directory. */
export function projectDirOf(config: PackConfig): string {
  if (config.projectDir) return resolve(config.projectDir);
  if (process.env.NUMA_K3S_PROJECT_DIR) return resolve(process.env.NUMA_K3S_PROJECT_DIR);
  const parent = resolve(__dirname, "..", "..");
  return existsSync(resolve(parent, "Pulumi.yaml")) ? parent : process.cwd();
}

const contexts = new Map<string, PolicyContext>();

/** The stack's context, read once per project directory, project and stack. */
function contextOf(urn: string, config: PackConfig): PolicyContext {
  const of = stackOfUrn(urn);
  if (!of) throw new Error(`numa-guard: cannot tell the stack from URN ${urn}`);
  const dir = projectDirOf(config);
  const key = `${dir}\0${of.project}\0${of.stack}`;
  if (!contexts.has(key)) contexts.set(key, contextFromStack(dir, of.stack, of.project));
  return contexts.get(key)!;
}

const DESCRIPTIONS: Record<RuleName, string> = {
  "vcpu-single-node": "A strict VM's vCPUs are all on the plan's host NUMA node",
  "memory-strict-local": "numatune memory and every memnode are bound as the plan binds them: strict to the VM's node (interleave only for floating VMs)",
  "whole-cores": "vCPUs take whole cores, sibling threads adjacent, guest topology matching",
  "emulator-isolated": "Emulator threads and every iothread pinned as the plan pins them, on the VM's node, never on any VM's vCPU",
  "no-shared-pcpu": "No host thread is a vCPU of two VMs",
  "node-capacity": "Memory and huge pages as the plan sizes them, and per node within what the host has after its reserve",
  "domain-matches-plan": "Every domain is a VM of the plan, pinned as the plan says, with nothing the pack cannot judge",
  "kubelet-matches-plan": "Each k8s node's role, placement labels and kubelet configuration are the ones derived from its VM's planned placement",
  "slm-guaranteed": "Every model server pod is Guaranteed, on whole cores, and selects an SLM VM of the plan",
  "no-public-console": "No VNC/SPICE console listens beyond 127.0.0.1",
  "secrets-stay-secret": "No token, password or key in the clear in a command, environment, ConfigMap, annotation or chart value",
};

function report(findings: Finding[], rule: RuleName, reportViolation: Report, urnOf?: (resource: string) => string | undefined): void {
  for (const f of findings) if (f.rule === rule) reportViolation(f.message, urnOf?.(f.resource));
}

/** A policy over one resource at a time (its inputs, before it is sent). */
function resourcePolicy(rule: RuleName, applies: (r: ResourceLike) => boolean, check: (r: ResourceArgs) => Finding[]) {
  return {
    name: rule,
    description: DESCRIPTIONS[rule],
    enforcementLevel: "mandatory" as EnforcementLevel,
    configSchema,
    validateResource: (args: ResourceArgs, reportViolation: Report): void => {
      if (!applies(args)) args.notApplicable(`not a resource ${rule} judges`);
      report(check(args), rule, reportViolation);
    },
  };
}

/** A policy over the whole stack (every resource's outputs, at the end of a preview or update). */
function stackPolicy(rule: RuleName) {
  return {
    name: rule,
    description: DESCRIPTIONS[rule],
    enforcementLevel: "mandatory" as EnforcementLevel,
    configSchema,
    validateStack: (args: StackArgs, reportViolation: Report): void => {
      const inputs = inputsOfResources(args.resources);
      if (inputs.domains.length === 0) args.notApplicable(`the stack has nothing ${rule} judges`);
      const ctx = contextOf(args.resources[0].urn, args.getConfig<PackConfig>());
      const urns = new Map(args.resources.map((r) => [r.name, r.urn]));
      report(checkAll(inputs, ctx), rule, reportViolation, (resource) => urns.get(resource));
    },
  };
}

const isDomain = (r: ResourceLike) => r.type === "command:remote:Command" && r.name.endsWith("-domain");
const domainCheck = (r: ResourceArgs) => checkPlacements(inputsOfResources([r]).domains, contextOf(r.urn, r.getConfig<PackConfig>()));

export const policies = [
  resourcePolicy("vcpu-single-node", isDomain, domainCheck),
  resourcePolicy("memory-strict-local", isDomain, domainCheck),
  resourcePolicy("whole-cores", isDomain, domainCheck),
  resourcePolicy("domain-matches-plan", isDomain, domainCheck),
  // Each domain is judged next to the plan's other VMs either way; a stack rule also sees two
  // domains that both moved onto one core.
  stackPolicy("emulator-isolated"),
  stackPolicy("no-shared-pcpu"),
  stackPolicy("node-capacity"),
  // The kubelet is in the K3s install's stdin; the placement it derives from is the plan's.
  resourcePolicy(
    "kubelet-matches-plan",
    (r) => inputsOfResources([r]).kubelets.length > 0,
    (r) => checkKubelets(inputsOfResources([r]).kubelets, contextOf(r.urn, r.getConfig<PackConfig>())),
  ),
  resourcePolicy(
    "slm-guaranteed",
    (r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm"),
    (r) => checkModelServers(inputsOfResources([r]).objects, contextOf(r.urn, r.getConfig<PackConfig>())),
  ),
  resourcePolicy("no-public-console", isDomain, (r) => checkConsoles(inputsOfResources([r]).domains, contextOf(r.urn, r.getConfig<PackConfig>()))),
  resourcePolicy(
    "secrets-stay-secret",
    (r) => r.type.startsWith("command:") || r.type.startsWith("kubernetes:"),
    (r) => {
      const inputs = inputsOfResources([r]);
      return checkSecrets(inputs.commands, inputs.objects);
    },
  ),
];

