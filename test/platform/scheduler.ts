// A small model of what kube-scheduler and the kubelet decide for the pods of a stack, pure and
// synchronous, for the scheduling test: which k8s nodes admit a pod, and whether every pod fits
// together.
//
// Modelled (kube-scheduler's filter plugins of the same names; the kubelet's admission):
// - NodeSelector / NodeAffinity: nodeSelector labels, and required node affinity with In / NotIn /
//   Exists / DoesNotExist terms (terms ORed, expressions ANDed);
// - TaintToleration: every NoSchedule and NoExecute taint tolerated (Exists or Equal, key-less
//   Exists tolerates all; an effect-less toleration matches every effect);
// - NodeResourcesFit: requests (per container summed, init containers' max when larger) against
//   allocatable = capacity - the kubelet's reserved CPUs and memory - the eviction threshold;
// - the static CPU manager with full-pcpus-only: a Guaranteed container with integer CPUs gets
//   exclusive CPUs and must ask for whole cores (a multiple of the threads per core), else the
//   kubelet rejects the pod (SMTAlignmentError);
// - DaemonSets: one pod on every node that admits the template.
// Then "fits together": the other pods, largest first, each on the first admitting node with room
// (first-fit decreasing). A packing found this way exists; it is not the one kube-scheduler picks.
//
// Not modelled: scoring and the order pods arrive in (kube-scheduler can pack worse than FFD when
// several nodes admit a pod; here each platform pod admits one node), preferred affinities, pod
// (anti-)affinity and topology spread (every spread here is over one replica), volume topology
// (local-path PVs are created where the pod lands; the lake's PVs name the data node, which the
// lake pods also select), host ports, PriorityClasses and preemption, ephemeral storage, extended
// resources, the topology manager (every guest has one NUMA cell), and pods K3s or the
// provisioner create on demand (helper pods, Helm install Jobs).

export type Effect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";
export interface Taint {
  key: string;
  value?: string;
  effect: Effect;
}
export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: Effect;
}
export interface MatchExpression {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

export interface Node {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  /** What pods may request: millicores and bytes. */
  allocatable: { cpuMilli: number; memory: number };
  /** Set when the kubelet runs the static CPU manager with full-pcpus-only. */
  staticCpu?: { threadsPerCore: number };
}

export interface Container {
  name: string;
  requests: { cpuMilli: number; memory: number };
  limits: { cpuMilli?: number; memory?: number };
}

export interface Pod {
  /** What the pod comes from, for messages: `Deployment/slm-gemma-7b`, `chart victoria-metrics-single`. */
  what: string;
  nodeSelector: Record<string, string>;
  /** Required node affinity: any term, all expressions of it. */
  affinity?: MatchExpression[][];
  tolerations: Toleration[];
  containers: Container[];
  initContainers: Container[];
  /** A DaemonSet's pod: one on every node that admits it. */
  daemon: boolean;
  replicas: number;
}

/** The pod's effective requests: its containers summed, or its largest init container's if larger. */
export function podRequests(pod: Pod): { cpuMilli: number; memory: number } {
  const sum = (key: "cpuMilli" | "memory") => pod.containers.reduce((t, c) => t + c.requests[key], 0);
  const init = (key: "cpuMilli" | "memory") => Math.max(0, ...pod.initContainers.map((c) => c.requests[key]));
  return { cpuMilli: Math.max(sum("cpuMilli"), init("cpuMilli")), memory: Math.max(sum("memory"), init("memory")) };
}

/** Guaranteed QoS: every container has CPU and memory limits equal to its requests. */
export function isGuaranteed(pod: Pod): boolean {
  return [...pod.containers, ...pod.initContainers].every(
    (c) => c.limits.cpuMilli !== undefined && c.limits.memory !== undefined && c.limits.cpuMilli === c.requests.cpuMilli && c.limits.memory === c.requests.memory,
  );
}

function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== taint.effect) return false;
  if (t.operator === "Exists") return t.key === undefined || t.key === taint.key;
  return t.key === taint.key && (t.value ?? "") === (taint.value ?? "");
}

function matches(e: MatchExpression, labels: Record<string, string>): boolean {
  const has = e.key in labels;
  switch (e.operator) {
    case "In":
      return has && (e.values ?? []).includes(labels[e.key]);
    case "NotIn":
      return !has || !(e.values ?? []).includes(labels[e.key]);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
  }
}

/** Why `node` refuses `pod` before resources are counted, or null when it admits it. */
export function refusal(node: Node, pod: Pod): string | null {
  const wrongLabel = Object.entries(pod.nodeSelector).find(([k, v]) => node.labels[k] !== v);
  if (wrongLabel) return `nodeSelector ${wrongLabel[0]}=${wrongLabel[1]} (node has ${node.labels[wrongLabel[0]] ?? "no such label"})`;
  if (pod.affinity && !pod.affinity.some((term) => term.every((e) => matches(e, node.labels)))) return "required node affinity";
  const untolerated = node.taints.find((taint) => taint.effect !== "PreferNoSchedule" && !pod.tolerations.some((t) => tolerates(t, taint)));
  if (untolerated) return `taint ${untolerated.key}${untolerated.value ? `=${untolerated.value}` : ""}:${untolerated.effect} not tolerated`;
  if (node.staticCpu && isGuaranteed(pod)) {
    const t = node.staticCpu.threadsPerCore;
    const split = pod.containers.find((c) => c.requests.cpuMilli % 1000 === 0 && (c.requests.cpuMilli / 1000) % t !== 0);
    if (split) return `container ${split.name} asks for ${split.requests.cpuMilli / 1000} CPUs, not whole cores of ${t} threads (full-pcpus-only refuses it)`;
  }
  const r = podRequests(pod);
  if (r.cpuMilli > node.allocatable.cpuMilli || r.memory > node.allocatable.memory) return "larger than the node's allocatable";
  return null;
}

export interface Schedule {
  /** Pod copies (`what` plus `#i` for replicas) by node. */
  byNode: Map<string, string[]>;
  used: Map<string, { cpuMilli: number; memory: number }>;
  /** Pods no node admits, with each node's reason; and pods admitted somewhere but with no room left. */
  unplaced: { pod: string; why: string }[];
}

/** Places DaemonSet pods on every admitting node, then the rest by first-fit decreasing. */
export function schedule(nodes: Node[], pods: Pod[]): Schedule {
  const byNode = new Map(nodes.map((n) => [n.name, [] as string[]]));
  const used = new Map(nodes.map((n) => [n.name, { cpuMilli: 0, memory: 0 }]));
  const unplaced: Schedule["unplaced"] = [];
  const place = (node: Node, what: string, r: { cpuMilli: number; memory: number }) => {
    byNode.get(node.name)!.push(what);
    const u = used.get(node.name)!;
    u.cpuMilli += r.cpuMilli;
    u.memory += r.memory;
  };
  const fits = (node: Node, r: { cpuMilli: number; memory: number }) => {
    const u = used.get(node.name)!;
    return u.cpuMilli + r.cpuMilli <= node.allocatable.cpuMilli && u.memory + r.memory <= node.allocatable.memory;
  };
  const why = (pod: Pod) => nodes.map((n) => `${n.name}: ${refusal(n, pod)}`).join("; ");

  for (const pod of pods.filter((p) => p.daemon)) {
    const targets = nodes.filter((n) => refusal(n, pod) === null);
    if (targets.length === 0) unplaced.push({ pod: pod.what, why: why(pod) });
    for (const n of targets) place(n, pod.what, podRequests(pod));
  }
  const copies = pods
    .filter((p) => !p.daemon)
    .flatMap((p) => Array.from({ length: p.replicas }, (_, i) => ({ pod: p, what: p.replicas > 1 ? `${p.what}#${i}` : p.what })))
    // Largest first: by CPU, then memory, then name (a stable order).
    .sort((a, b) => podRequests(b.pod).cpuMilli - podRequests(a.pod).cpuMilli || podRequests(b.pod).memory - podRequests(a.pod).memory || a.what.localeCompare(b.what));
  for (const { pod, what } of copies) {
    const admitting = nodes.filter((n) => refusal(n, pod) === null);
    if (admitting.length === 0) {
      unplaced.push({ pod: what, why: why(pod) });
      continue;
    }
    const r = podRequests(pod);
    const target = admitting.find((n) => fits(n, r));
    if (target) place(target, what, r);
    else unplaced.push({ pod: what, why: `admitted by ${admitting.map((n) => n.name).join(", ")}, but no room left there` });
  }
  return { byNode, used, unplaced };
}
