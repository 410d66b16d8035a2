// The pod a Kubernetes workload object runs, as the rules read it: its spec, labels, annotations
// and containers (init containers first), and where it sits in the object.
import type { ObjectInput } from "./model";

export interface PodView {
  /** Dotted path of the pod template in the object (`spec.template`, or "" for a Pod). */
  path: string;
  spec: Record<string, any>;
  labels: Record<string, unknown>;
  annotations: Record<string, unknown> | undefined;
  containers: Record<string, any>[];
}

/** Where each workload kind keeps its pod template. */
const TEMPLATE: Record<string, string[]> = {
  Pod: [],
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  ReplicationController: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

/** The pod of a workload object (none for other objects). */
export function podsOf(o: ObjectInput): PodView[] {
  const kind = /^kubernetes:[^:]+:(\w+)$/.exec(o.type)?.[1];
  const path = kind === undefined ? undefined : TEMPLATE[kind];
  if (path === undefined) return [];
  let pod: any = o.props;
  for (const k of path) pod = pod?.[k];
  if (!pod?.spec || typeof pod.spec !== "object") return [];
  const spec = pod.spec as Record<string, any>;
  return [
    {
      path: path.join("."),
      spec,
      labels: (pod.metadata?.labels ?? {}) as Record<string, unknown>,
      annotations: pod.metadata?.annotations as Record<string, unknown> | undefined,
      containers: [...((spec.initContainers ?? []) as Record<string, any>[]), ...((spec.containers ?? []) as Record<string, any>[])],
    },
  ];
}
