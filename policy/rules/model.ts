// What the rules read, the same whether it comes from a `pulumi preview` (the resources the engine
// hands the pack) or from a `npm run render` directory (the files render writes): the domain XML a
// `<vm>-domain` command carries on stdin, each k8s node's kubelet configuration, the Kubernetes
// objects and Helm releases, and every remote command's text. Secrets are "[secret]" here, as in a
// render: a value that is a Pulumi secret never reaches a rule that judges what is in the clear.
import type { HostTopology } from "../../topology/host-topology";
import type { VmPlacement } from "../../topology/placement";
import type { PlacementRequest, Reserve } from "../../topology/request";

/** The rules of the pack, in the order they are listed (README, PulumiPolicy). */
export const RULES = [
  "vcpu-single-node",
  "memory-strict-local",
  "whole-cores",
  "emulator-isolated",
  "no-shared-pcpu",
  "node-capacity",
  "domain-matches-plan",
  "kubelet-matches-plan",
  "slm-guaranteed",
  "no-public-console",
  "secrets-stay-secret",
] as const;
export type RuleName = (typeof RULES)[number];

/** One broken rule: which, on which resource (a Pulumi resource name, or `host/node` for a node's
 * totals), and why, in one line. */
export interface Finding {
  rule: RuleName;
  resource: string;
  message: string;
}

/** What a redacted secret reads as (the same placeholder as cli/mock-runtime.ts redactSecrets). */
export const SECRET = "[secret]";

export interface DomainInput {
  /** The resource that sends it (`<vm>-domain`), or the render file. */
  resource: string;
  xml: string;
}

export interface KubeletInput {
  resource: string;
  /** The k8s node (= the VM's domain name). */
  node: string;
  role: "server" | "agent";
  /** kubelet.yaml as the node receives it; null when the node runs K3s without one. */
  yaml: string | null;
  /** config.yaml's node-label entries (`key=value`). */
  labels: string[];
}

export interface ObjectInput {
  resource: string;
  /** Pulumi type token: `kubernetes:apps/v1:Deployment`, `kubernetes:helm.sh/v4:Chart`, ... */
  type: string;
  /** The object (for a Chart: its inputs, `chart`, `version`, `repositoryOpts`, `values`). */
  props: Record<string, unknown>;
}

export interface CommandInput {
  resource: string;
  /** create / update / delete / environment / triggers: what diffs and logs show. */
  fields: Record<string, unknown>;
}

export interface Inputs {
  domains: DomainInput[];
  kubelets: KubeletInput[];
  objects: ObjectInput[];
  commands: CommandInput[];
}

export interface HostContext {
  name: string;
  topology: HostTopology;
  reserve: Reserve;
}

/** One VM as the stack decided it. */
export interface DecidedVm {
  name: string;
  /** Where the plan puts it: the lock's placement, or the planner's for a VM not locked yet; null
   * when the stack's VMs could not be planned (then `undecided` says why). */
  placement: VmPlacement | null;
  /** In the lock (an up deploys only these), or only planned (a preview shows it, an up refuses it). */
  locked: boolean;
  /** What runs on it (`numa-k3s:vms[i].workload`); "" for a VM only the lock still holds. */
  workload: string;
  role: "server" | "agent";
}

/** What the rules check against: what the stack decided (its lock, its VMs, its hosts' committed
 * captures and reserves), never what the artefacts themselves say. */
export interface PolicyContext {
  /** `Pulumi.<stack>.yaml` and the lock file, as messages name them. */
  stackFile: string;
  lockFile: string;
  hosts: HostContext[];
  /** The hosts and VMs the stack asks for (the planner's request). */
  request: PlacementRequest;
  /** Every VM of the stack or of its lock, by name. */
  vms: ReadonlyMap<string, DecidedVm>;
  /** Why VMs not in the lock have no placement (the stack's request does not fit); else null. */
  undecided: string | null;
}

export function emptyInputs(): Inputs {
  return { domains: [], kubelets: [], objects: [], commands: [] };
}
