// The rules about what runs on the VMs: each kubelet configured as derived from its VM's placement
// (k3s/kubelet-config.ts, the same function K3sAgent calls), model servers as Guaranteed pods on
// whole cores of a named node, and secrets that stay secrets.
import YAML from "yaml";
import { kubeletConfiguration } from "../../k3s/kubelet-config";
import { LABEL_NUMA_NODE, LABEL_WORKLOAD } from "../../k3s/node-roles";
import { readDomains } from "./placement-rules";
import { CommandInput, DomainInput, Finding, KubeletInput, ObjectInput, PolicyContext, SECRET } from "./model";

/** JSON with sorted keys: two configurations are the same when these are equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** The first field (dotted path) where `actual` differs from `expected`, with both values. */
function firstDifference(actual: unknown, expected: unknown, path = ""): string | null {
  if (canonical(actual) === canonical(expected)) return null;
  if (actual && expected && typeof actual === "object" && typeof expected === "object" && !Array.isArray(actual) && !Array.isArray(expected)) {
    const keys = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort();
    for (const k of keys) {
      const d = firstDifference((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
  }
  return `${path || "the document"} is ${actual === undefined ? "missing" : JSON.stringify(actual)}, the placement gives ${expected === undefined ? "none" : JSON.stringify(expected)}`;
}

/** kubelet-matches-plan: every k8s node that is a VM of the stack runs the kubelet configuration
 * derived from the placement its domain pins. */
export function checkKubelets(kubelets: readonly KubeletInput[], domains: readonly DomainInput[], ctx: PolicyContext): Finding[] {
  const placements = new Map(readDomains(domains, ctx).vms.map((v) => [v.placement.name, v.placement]));
  const out: Finding[] = [];
  for (const k of kubelets) {
    const f = (message: string) => out.push({ rule: "kubelet-matches-plan", resource: k.resource, message: `${k.resource}: ${message}` });
    const placement = placements.get(k.node);
    if (!placement) {
      // A node that is no VM (the Mac's Lima server, the bare-metal data server) has no placement
      // to derive a kubelet from, and K3s's defaults are what it should run.
      if (k.yaml !== null) f(`k8s node ${k.node} has a kubelet configuration but is no VM of the stack: nothing to derive it from`);
      continue;
    }
    if (k.yaml === null) {
      f(`k8s node ${k.node} runs K3s without the kubelet configuration derived from its VM (static CPU manager, reserved first core)`);
      continue;
    }
    let expected: unknown;
    try {
      expected = kubeletConfiguration(placement, k.role);
    } catch (e) {
      f((e as Error).message);
      continue;
    }
    let actual: unknown;
    try {
      actual = YAML.parse(k.yaml);
    } catch (e) {
      f(`kubelet configuration is not YAML (${(e as Error).message.split("\n")[0]})`);
      continue;
    }
    const d = firstDifference(actual, expected);
    if (d) f(`kubelet configuration of ${k.role} ${k.node}: ${d}`);
  }
  return out;
}

/** The pod spec, its labels and its kind of a workload object, or null for other objects. */
function podOf(o: ObjectInput): { spec: Record<string, unknown>; labels: Record<string, unknown> } | null {
  const kind = /^kubernetes:[^:]+:(\w+)$/.exec(o.type)?.[1];
  const p = o.props as Record<string, any>;
  const meta = (m: unknown) => ((m as Record<string, any> | undefined)?.labels ?? {}) as Record<string, unknown>;
  switch (kind) {
    case "Pod":
      return p.spec ? { spec: p.spec, labels: meta(p.metadata) } : null;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return p.spec?.template?.spec ? { spec: p.spec.template.spec, labels: meta(p.spec.template.metadata) } : null;
    case "CronJob":
      return p.spec?.jobTemplate?.spec?.template?.spec ? { spec: p.spec.jobTemplate.spec.template.spec, labels: meta(p.spec.jobTemplate.spec.template.metadata) } : null;
    default:
      return null;
  }
}

/** CPU in millicores, memory in bytes; NaN for what is no Kubernetes quantity. */
export function quantity(v: unknown): number {
  const s = String(v ?? "").trim();
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(s);
  if (!m) return NaN;
  const scale: Record<string, number> = { "": 1, m: 0.001, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * scale[m[2] ?? ""];
}

/** Keys a model server may select its k8s node by (a VM by name, or a NUMA node by label). */
const NODE_KEYS = ["kubernetes.io/hostname", LABEL_NUMA_NODE, "numa-node"];

function selectedNodes(spec: Record<string, any>): { key: string; values: string[] }[] {
  const out: { key: string; values: string[] }[] = [];
  for (const [key, value] of Object.entries((spec.nodeSelector ?? {}) as Record<string, unknown>)) out.push({ key, values: [String(value)] });
  for (const term of spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [])
    for (const e of term.matchExpressions ?? []) if (e.operator === "In") out.push({ key: e.key, values: (e.values ?? []).map(String) });
  return out;
}

/** A model server: a pod the SLM layer labels as one (slm/manifests.ts). Not every pod that runs on
 * an SLM node: the Temporal worker shares those nodes and is no model server. The pod spec is
 * taken (and not read) so that callers pass a pod as they have it: spec, then labels. */
export function isModelServer(_spec: unknown, labels: Record<string, unknown>): boolean {
  return labels["app.kubernetes.io/component"] === "model-server" || labels[LABEL_WORKLOAD] === "slm";
}

/** slm-guaranteed: every model server pod is Guaranteed (limits = requests, CPU and memory, every
 * container), asks for whole cores (an integer number of CPUs that is a multiple of the host's
 * threads per core: the kubelet's full-pcpus-only refuses anything else), and selects its node. */
export function checkModelServers(objects: readonly ObjectInput[], ctx: PolicyContext): Finding[] {
  const out: Finding[] = [];
  for (const o of objects) {
    const pod = podOf(o);
    if (!pod || !isModelServer(pod.spec, pod.labels)) continue;
    const f = (message: string) => out.push({ rule: "slm-guaranteed", resource: o.resource, message: `${o.resource}: ${message}` });
    const spec = pod.spec as Record<string, any>;
    const selected = selectedNodes(spec).filter((s) => NODE_KEYS.includes(s.key));
    const vm = selected.find((s) => s.key === "kubernetes.io/hostname")?.values[0];
    if (selected.length === 0) f(`model server selects no node (nodeSelector kubernetes.io/hostname or ${LABEL_NUMA_NODE})`);
    else if (vm !== undefined && !ctx.hostOfVm.has(vm)) f(`model server selects k8s node ${vm}, which is no VM of the stack`);
    const host = ctx.hosts.find((h) => h.name === (vm !== undefined ? ctx.hostOfVm.get(vm) : undefined));
    const T = host ? host.topology.threadsPerCore : Math.max(1, ...ctx.hosts.map((h) => h.topology.threadsPerCore));
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as Record<string, any>[]) {
      const limits = (c.resources?.limits ?? {}) as Record<string, unknown>;
      const requests = (c.resources?.requests ?? {}) as Record<string, unknown>;
      for (const r of ["cpu", "memory"]) {
        if (limits[r] === undefined) f(`container ${c.name} has no ${r} limit: the pod is not Guaranteed`);
        // Requests default to limits when absent; when present they must be the same quantity.
        else if (requests[r] !== undefined && quantity(requests[r]) !== quantity(limits[r])) f(`container ${c.name} requests ${r} ${requests[r]} but is limited to ${limits[r]}: the pod is not Guaranteed`);
      }
      if (limits.cpu !== undefined) {
        const cpus = quantity(limits.cpu);
        if (!Number.isInteger(cpus) || cpus < 1 || cpus % T !== 0) f(`container ${c.name} asks for ${limits.cpu} CPUs, not whole cores (a multiple of ${T} threads)`);
      }
    }
  }
  return out;
}

/** Secret material as it would read in the clear. */
const MATERIAL: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/client-key-data:\s*[A-Za-z0-9+/=]{16,}/, "a kubeconfig's client key"],
  [/\bK3S_TOKEN=[^\s"'$]{8,}/, "the K3s token"],
  [/^cluster-token [A-Za-z0-9+/=]{8,}$/m, "the K3s token"],
  [/aws_secret_access_key\s*[=:]\s*[^\s"'$]{8,}/i, "an S3 secret key"],
];

export function secretMaterial(text: string): string | null {
  for (const [re, what] of MATERIAL) if (re.test(text)) return what;
  return null;
}

/** Keys whose values are credentials (Helm values, env names). */
const CREDENTIAL_KEY = /(password|passwd|secret[_-]?key|secretkey|access[_-]?key|accesskey|private[_-]?key|token|kubeconfig)$/i;

function walk(v: unknown, path: string, visit: (path: string, key: string, value: unknown, siblings: Record<string, unknown>) => void): void {
  if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, visit));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      visit(path ? `${path}.${k}` : k, k, x, v as Record<string, unknown>);
      walk(x, path ? `${path}.${k}` : k, visit);
    }
}

/** Keys that name an existing Secret: beside one, a `password`/`secretKey` value is the name of a
 * key in that Secret (Temporal's sql.existingSecret + secretKey), not a credential. */
const SECRET_REFERENCE = /^existingSecret(Name)?$/i;

/**
 * secrets-stay-secret: the K3s token, the kubeconfig, S3 keys and the SSH key appear only as
 * secrets. In the clear they would be in the state file, the diff and every render:
 * - a command's create/update/delete/environment/triggers text carrying secret material;
 * - a ConfigMap holding it (a Secret is the object for it);
 * - a container env var named like a credential with a literal value (valueFrom.secretKeyRef);
 * - a Helm release's values with a literal credential (a Pulumi secret, or an existingSecret).
 */
export function checkSecrets(commands: readonly CommandInput[], objects: readonly ObjectInput[]): Finding[] {
  const out: Finding[] = [];
  const f = (resource: string, message: string) => out.push({ rule: "secrets-stay-secret", resource, message: `${resource}: ${message}` });
  for (const c of commands)
    for (const [field, value] of Object.entries(c.fields)) {
      const what = value === undefined || value === SECRET ? null : secretMaterial(typeof value === "string" ? value : JSON.stringify(value));
      if (what) f(c.resource, `${field} carries ${what} in the clear (command text shows in diffs and logs; send it as a secret on stdin)`);
    }
  for (const o of objects) {
    if (/:ConfigMap$/.test(o.type)) {
      for (const [k, v] of Object.entries({ ...((o.props.data ?? {}) as object), ...((o.props.binaryData ?? {}) as object) })) {
        const what = typeof v === "string" ? secretMaterial(v) ?? (CREDENTIAL_KEY.test(k) && v !== "" ? "a credential" : null) : null;
        if (what) f(o.resource, `ConfigMap key ${k} holds ${what}; put it in a Secret`);
      }
    }
    const pod = podOf(o);
    if (pod)
      for (const c of [...((pod.spec.initContainers ?? []) as Record<string, any>[]), ...((pod.spec.containers ?? []) as Record<string, any>[])])
        for (const e of (c.env ?? []) as Record<string, any>[])
          if (CREDENTIAL_KEY.test(String(e.name)) && typeof e.value === "string" && e.value !== "" && e.value !== SECRET)
            f(o.resource, `container ${c.name} sets ${e.name} to a literal value; use valueFrom.secretKeyRef`);
    if (/^kubernetes:helm\.sh\/v\d+:Chart$/.test(o.type))
      walk(o.props.values, "values", (path, key, value, siblings) => {
        if (typeof value !== "string" || value === "" || value === SECRET) return;
        const referenced = Object.keys(siblings).some((k) => SECRET_REFERENCE.test(k) && typeof siblings[k] === "string" && siblings[k] !== "");
        if (CREDENTIAL_KEY.test(key) && !/existing|secretname|secretref|ref$/i.test(key) && !referenced)
          f(o.resource, `${path} is a literal credential; pass it as a Pulumi secret or an existing Secret`);
        else {
          const what = secretMaterial(value);
          if (what) f(o.resource, `${path} carries ${what} in the clear`);
        }
      });
  }
  return out;
}
