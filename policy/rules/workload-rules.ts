// The rules about what runs on the VMs, against the plan: each k8s node's kubelet configuration
// and placement labels derived from its VM's planned placement and role (k3s/kubelet-config.ts,
// the same function K3sAgent calls), and model servers as Guaranteed pods on whole cores of the
// SLM VMs the plan decided.
import YAML from "yaml";
import { kubeletConfiguration } from "../../k3s/kubelet-config";
import { LABEL_HOST, LABEL_NUMA_NODE, LABEL_WORKLOAD } from "../../k3s/layouts";
import type { VmPlacement } from "../../topology/placement";
import { DecidedVm, Finding, KubeletInput, ObjectInput, PolicyContext } from "./model";
import { podsOf } from "./pods";

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

/** The labels of a VM's k8s node that carry what the plan decided (k3s/node-roles.ts sets them):
 * its host, its NUMA node (or "floating") and its workload. */
export function planLabels(vm: DecidedVm & { placement: VmPlacement }): Record<string, string> {
  const node = vm.placement.node;
  return {
    "kubernetes.io/hostname": vm.name,
    [LABEL_HOST]: vm.placement.host,
    [LABEL_NUMA_NODE]: node === null ? "floating" : String(node),
    ...(node === null ? {} : { "numa-node": String(node) }),
    [LABEL_WORKLOAD]: vm.workload,
    workload: vm.workload,
  };
}

function placed(ctx: PolicyContext, name: string): (DecidedVm & { placement: VmPlacement }) | undefined {
  const vm = ctx.vms.get(name);
  return vm?.placement && ctx.request.vms.some((r) => r.name === name) ? (vm as DecidedVm & { placement: VmPlacement }) : undefined;
}

/** kubelet-matches-plan: every k8s node that is a VM of the plan joins in the plan's role, with
 * the kubelet configuration derived from its planned placement and the plan's placement labels. */
export function checkKubelets(kubelets: readonly KubeletInput[], ctx: PolicyContext): Finding[] {
  const out: Finding[] = [];
  for (const k of kubelets) {
    const f = (message: string) => out.push({ rule: "kubelet-matches-plan", resource: k.resource, message: `${k.resource}: ${message}` });
    const vm = placed(ctx, k.node);
    if (!vm) {
      // A node that is no VM (the Mac's Lima server, the bare-metal data server) has no placement
      // to derive a kubelet from, and K3s's defaults are what it should run.
      if (k.yaml !== null) f(`k8s node ${k.node} has a kubelet configuration but is no VM the plan places: nothing to derive it from`);
      continue;
    }
    if (k.role !== vm.role) f(`k8s node ${k.node} joins as ${k.role === "server" ? "a server" : "an agent"}; the plan makes it ${vm.role === "server" ? "the server" : "an agent"}`);
    const want = planLabels(vm);
    for (const label of k.labels) {
      const [key, value] = [label.slice(0, label.indexOf("=")), label.slice(label.indexOf("=") + 1)];
      if (key === "kubernetes.io/hostname" || !(key in want || key === "numa-node")) continue;
      if (want[key] !== value) f(`k8s node ${k.node} registers ${label}; the plan gives ${want[key] === undefined ? `no ${key} (it is floating)` : `${key}=${want[key]}`}`);
    }
    if (k.yaml === null) {
      f(`k8s node ${k.node} runs K3s without the kubelet configuration derived from its VM (static CPU manager, reserved first core)`);
      continue;
    }
    let expected: unknown;
    try {
      expected = kubeletConfiguration(vm.placement, vm.role);
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
    if (d) f(`kubelet configuration of ${vm.role} ${k.node}: ${d}`);
  }
  return out;
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

interface Requirement {
  key: string;
  operator: string;
  values: string[];
}

/** A node selector requirement on `labels` (the Kubernetes operators). */
function holds(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key];
  switch (r.operator) {
    case "In":
      return v !== undefined && r.values.includes(v);
    case "NotIn":
      return v === undefined || !r.values.includes(v);
    case "Exists":
      return v !== undefined;
    case "DoesNotExist":
      return v === undefined;
    case "Gt":
      return v !== undefined && Number(v) > Number(r.values[0]);
    case "Lt":
      return v !== undefined && Number(v) < Number(r.values[0]);
    default:
      return false;
  }
}

/** What a pod requires of its node: nodeSelector, and the required node affinity's terms (any
 * one term; every requirement of it; matchFields on metadata.name read as the hostname). */
function nodeRequirements(spec: Record<string, any>): { all: Requirement[]; anyOf: Requirement[][] | null } {
  const all = Object.entries((spec.nodeSelector ?? {}) as Record<string, unknown>).map(([key, value]) => ({ key, operator: "In", values: [String(value)] }));
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms as Record<string, any>[] | undefined;
  const anyOf = terms
    ? terms.map((t) => [
        ...((t.matchExpressions ?? []) as Record<string, any>[]).map((e) => ({ key: String(e.key), operator: String(e.operator), values: ((e.values ?? []) as unknown[]).map(String) })),
        ...((t.matchFields ?? []) as Record<string, any>[]).map((e) => ({ key: e.key === "metadata.name" ? "kubernetes.io/hostname" : `field:${e.key}`, operator: String(e.operator), values: ((e.values ?? []) as unknown[]).map(String) })),
      ])
    : null;
  return { all, anyOf };
}

/** A model server: a pod the SLM layer labels as one (slm/manifests.ts). Not every pod that runs on
 * an SLM node: the Temporal worker shares those nodes and is no model server. The pod spec is
 * taken (and not read) so that callers pass a pod as they have it: spec, then labels. */
export function isModelServer(_spec: unknown, labels: Record<string, unknown>): boolean {
  return labels["app.kubernetes.io/component"] === "model-server" || labels[LABEL_WORKLOAD] === "slm";
}

/** slm-guaranteed: every model server pod is Guaranteed (limits = requests, CPU and memory, every
 * container), asks for whole cores (an integer number of CPUs that is a multiple of the host's
 * threads per core: the kubelet's full-pcpus-only refuses anything else), and selects its node
 * among the plan's SLM VMs only. */
export function checkModelServers(objects: readonly ObjectInput[], ctx: PolicyContext): Finding[] {
  const out: Finding[] = [];
  const vms = ctx.request.vms.flatMap((r) => placed(ctx, r.name) ?? []);
  const slm = vms.filter((vm) => vm.workload === "slm").map((vm) => vm.name);
  for (const o of objects)
    for (const pod of podsOf(o)) {
      if (!isModelServer(pod.spec, pod.labels)) continue;
      const f = (message: string) => out.push({ rule: "slm-guaranteed", resource: o.resource, message: `${o.resource}: ${message}` });
      const { all, anyOf } = nodeRequirements(pod.spec);
      const names = (reqs: Requirement[]) => reqs.some((r) => NODE_KEYS.includes(r.key) && r.operator === "In");
      const candidates = vms.filter((vm) => {
        const labels = planLabels(vm);
        return all.every((r) => holds(labels, r)) && (anyOf === null || anyOf.some((term) => term.length > 0 && term.every((r) => holds(labels, r))));
      });
      if (!names(all) && !(anyOf !== null && anyOf.length > 0 && anyOf.every(names)))
        f(`model server selects no node (nodeSelector kubernetes.io/hostname or ${LABEL_NUMA_NODE})`);
      else if (candidates.length === 0) f(`model server selects no VM the plan places (${[...all, ...(anyOf ?? []).flat()].map((r) => `${r.key} ${r.operator} ${r.values.join(",")}`).join("; ")})`);
      else
        for (const vm of candidates.filter((c) => c.workload !== "slm"))
          f(`model server may run on ${vm.name}, ${vm.workload ? `a ${vm.workload} VM` : "a VM without a workload"}; the plan runs model servers on its slm VMs only (${slm.join(", ") || "none"})`);
      const hosts = new Set(candidates.map((vm) => vm.placement.host));
      const T = Math.max(1, ...ctx.hosts.filter((h) => hosts.size === 0 || hosts.has(h.name)).map((h) => h.topology.threadsPerCore));
      for (const c of pod.containers) {
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
