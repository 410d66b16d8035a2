// Where the platform's pods land, per layout (docs/reference-layouts.md), as the plain values the components
// take: a node selector and the tolerations of the taints k3s/node-roles.ts puts on those k8s
// nodes. One table, so the three stacks and the tests agree on it.
import type { IToleration } from "kubernetes-models/v1/Toleration";
import { LABEL_WORKLOAD, Layout } from "../k3s/node-roles";

/** A node selector and the tolerations that let a pod onto the k8s nodes it selects. */
export interface PodPlacement {
  nodeSelector: Record<string, string>;
  tolerations: IToleration[];
}

export interface PlatformPlacement {
  /** VictoriaMetrics, VictoriaLogs, vmagent, vmalert, the Temporal server, UI and PostgreSQL. */
  platform: PodPlacement;
  /** The S3 engine and its bucket Job: the k8s node that holds /data/lake and /data/hot. */
  lake: PodPlacement;
  /** The Temporal worker DaemonSet: every SLM worker (co-located with the model servers, whose
   * /data/local it shares). */
  worker: PodPlacement;
  /** Per-node agents (node-exporter, the log collector): every k8s node, whatever its taints. */
  everyNode: PodPlacement;
}

const DATA_NODE: Record<string, string> = { [LABEL_WORKLOAD]: "data" };
const DATA_TAINT: IToleration = { key: "workload", operator: "Equal", value: "data", effect: "NoSchedule" };
const SLM_TAINT: IToleration = { key: "workload", operator: "Equal", value: "slm", effect: "NoSchedule" };
const CONTROL_PLANE_TAINT: IToleration = { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" };

/**
 * The placement of each platform part:
 * - mac-numa: the platform on the Mac's control-plane VM (role=master, tolerates its
 *   control-plane:NoSchedule taint); the lake on the storage VM (workload=data, untainted).
 * - single: the platform and the lake on the data VM k3s-worker-data (tolerates
 *   workload=data:NoSchedule); the 24 GiB tasks VM keeps the control plane and the ETL tasks.
 * - distributed: everything on the bare-metal data server (role=master, workload=data, untainted).
 * The worker DaemonSet selects role=worker AND workload=slm: the storage VM is a worker too, but
 * has no /data/local and no model servers to sit next to. In `single` the SLM VMs are tainted
 * workload=slm:NoSchedule, so the worker tolerates that.
 */
export function platformPlacement(layout: Layout): PlatformPlacement {
  const everyNode: PodPlacement = { nodeSelector: {}, tolerations: [{ operator: "Exists" }] };
  const worker: PodPlacement = { nodeSelector: { role: "worker", workload: "slm" }, tolerations: layout === "single" ? [SLM_TAINT] : [] };
  switch (layout) {
    case "mac-numa":
      return { platform: { nodeSelector: { role: "master" }, tolerations: [CONTROL_PLANE_TAINT] }, lake: { nodeSelector: DATA_NODE, tolerations: [] }, worker, everyNode };
    case "single":
      return { platform: { nodeSelector: DATA_NODE, tolerations: [DATA_TAINT] }, lake: { nodeSelector: DATA_NODE, tolerations: [DATA_TAINT] }, worker, everyNode };
    case "distributed":
      return { platform: { nodeSelector: DATA_NODE, tolerations: [] }, lake: { nodeSelector: DATA_NODE, tolerations: [] }, worker, everyNode };
  }
}
