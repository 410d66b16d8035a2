// The three deployment layouts (docs/reference-layouts.md), each as one record: where the K3s server
// runs and what it carries, whether the workers are tainted, which k8s node holds the lake, and where
// every platform pod goes. Everything that differs between `mac-numa`, `single` and `distributed` is
// here and nowhere else: the stack schema, the K3s components, the platform and the tests read it.

/** The deployment layouts (stack config `numa-k3s:layout`). */
export const LAYOUTS = ["mac-numa", "single", "distributed"] as const;
export type Layout = (typeof LAYOUTS)[number];

/** Label keys this program owns and selects on; values come from the placement. Every k8s node
 * also carries the documents' own labels (`role=master|worker`, `workload=...`, `numa-node=...`)
 * for a user's workloads; the program's selectors use only these. */
export const LABEL_ROLE = "numa-k3s.io/role";
export const LABEL_HOST = "numa-k3s.io/host";
export const LABEL_NUMA_NODE = "numa-k3s.io/numa-node";
export const LABEL_WORKLOAD = "numa-k3s.io/workload";

/** The taint Kubernetes' own control-plane nodes carry, and K3s's packaged add-ons (coredns,
 * local-path-provisioner, metrics-server) tolerate (test/fixtures/k3s/packaged-addons.json). */
export const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule";

export interface NodeMarks {
  /** `key=value`, what config.yaml's node-label takes. */
  labels: string[];
  /** `key=value:Effect`, what config.yaml's node-taint takes. */
  taints: string[];
}

/** A pod's toleration (the fields of Kubernetes' core/v1 Toleration this program uses). */
export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

/** A node selector and the tolerations that let a pod onto the k8s nodes it selects. */
export interface PodPlacement {
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
}

export interface PlatformPlacement {
  /** VictoriaMetrics, VictoriaLogs, vmagent, vmalert, the Temporal server, UI and PostgreSQL. */
  platform: PodPlacement;
  /** The S3 engine and its bucket Job: the k8s node that holds the lake and hot disks. */
  lake: PodPlacement;
  /** The Temporal worker DaemonSet: every SLM k8s node (beside the model servers, whose staging
   * disk it shares). */
  worker: PodPlacement;
  /** Per-node agents (node-exporter, the log collector): every k8s node, whatever its taints. */
  everyNode: PodPlacement;
}

export interface LayoutProfile {
  /** Where the K3s server runs: one of the stack's VMs (`k3sRole: server`), or a machine outside
   * the NUMA hosts named by `k3s.server` (an existing Linux host, or with `lima` a VM on the Mac). */
  server: "a VM" | "outside";
  /** `k3s.server.lima` is allowed (only the Mac of mac-numa runs Lima). */
  lima: boolean;
  /** The server's labels and taints. */
  serverMarks: NodeMarks;
  /** Every worker VM is tainted `workload=<its workload>:NoSchedule`, so only pods that ask land on it. */
  taintWorkers: boolean;
  /** The k8s node holding the lake's disks: the VM with `workload: data`, else (a bare-metal data
   * server) the K3s server itself. */
  dataNode: "the data VM" | "the data VM, else the server";
  pods: PlatformPlacement;
}

const DATA_NODE = { [LABEL_WORKLOAD]: "data" };
const tolerate = (workload: string): Toleration => ({ key: "workload", operator: "Equal", value: workload, effect: "NoSchedule" });
const TOLERATE_CONTROL_PLANE: Toleration = { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" };
const EVERY_NODE: PodPlacement = { nodeSelector: {}, tolerations: [{ operator: "Exists" }] };
const SLM_WORKERS = { [LABEL_WORKLOAD]: "slm" };
const SERVER = { [LABEL_ROLE]: "server" };

export const LAYOUT_PROFILES: Record<Layout, LayoutProfile> = {
  // The design's recommendation: a small Linux VM on a Mac Mini is the control plane, and with
  // the monitoring stack and Temporal (which tolerate its taint) all it runs; the NUMA host runs the
  // SLM workers and the storage VM, untainted (workloads opt in with nodeSelector).
  "mac-numa": {
    server: "outside",
    lima: true,
    serverMarks: { labels: ["role=master", `${LABEL_ROLE}=server`], taints: [CONTROL_PLANE_TAINT] },
    taintWorkers: false,
    dataNode: "the data VM",
    pods: {
      platform: { nodeSelector: SERVER, tolerations: [TOLERATE_CONTROL_PLANE] },
      lake: { nodeSelector: DATA_NODE, tolerations: [] },
      worker: { nodeSelector: SLM_WORKERS, tolerations: [] },
      everyNode: EVERY_NODE,
    },
  },
  // Everything on the NUMA host. Every worker carries its workload's taint, so the server VM is the
  // node K3s's packaged add-ons can use: it gets the taint they tolerate, not workload=tasks (which
  // none of them tolerates: cluster DNS and the volume provisioner would stay Pending). The ETL
  // tasks select workload=tasks and tolerate control-plane:NoSchedule. The platform and the lake
  // live on the data VM; the 24 GiB tasks VM keeps the control plane and the tasks.
  single: {
    server: "a VM",
    lima: false,
    serverMarks: { labels: ["role=master", "workload=tasks", `${LABEL_ROLE}=server`, `${LABEL_WORKLOAD}=tasks`], taints: [CONTROL_PLANE_TAINT] },
    taintWorkers: true,
    dataNode: "the data VM",
    pods: {
      platform: { nodeSelector: DATA_NODE, tolerations: [tolerate("data")] },
      lake: { nodeSelector: DATA_NODE, tolerations: [tolerate("data")] },
      worker: { nodeSelector: SLM_WORKERS, tolerations: [tolerate("slm")] },
      everyNode: EVERY_NODE,
    },
  },
  // Two machines: the NUMA host's SLM workers and a bare-metal data server that runs the K3s
  // server, the lake, Temporal and the data preparation. It is the only non-NUMA machine: nothing
  // to keep off it, so no taint.
  distributed: {
    server: "outside",
    lima: false,
    serverMarks: { labels: ["role=master", "workload=data", `${LABEL_ROLE}=server`, `${LABEL_WORKLOAD}=data`], taints: [] },
    taintWorkers: false,
    dataNode: "the data VM, else the server",
    pods: {
      platform: { nodeSelector: DATA_NODE, tolerations: [] },
      lake: { nodeSelector: DATA_NODE, tolerations: [] },
      worker: { nodeSelector: SLM_WORKERS, tolerations: [] },
      everyNode: EVERY_NODE,
    },
  },
};

/** Where the platform's pods land in `layout`. */
export function platformPlacement(layout: Layout): PlatformPlacement {
  return LAYOUT_PROFILES[layout].pods;
}
