// Which labels and taints a k8s node registers with, by layout and role (docs/reference-layouts.md). One table,
// so the three stacks cannot drift apart; the SLM and platform components select on these labels.

/** The deployment layouts (stack config `numa-k3s:layout`). */
export const LAYOUTS = ["mac-numa", "single", "distributed"] as const;
export type Layout = (typeof LAYOUTS)[number];

/** Label keys this program owns; values come from the placement. */
export const LABEL_HOST = "numa-k3s.io/host";
export const LABEL_NUMA_NODE = "numa-k3s.io/numa-node";
export const LABEL_WORKLOAD = "numa-k3s.io/workload";

/** A k8s label value (RFC 1123-ish: what `kubectl label` accepts), for the workload names. */
export const LABEL_VALUE = /^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/;

export interface NodeMarks {
  /** `key=value`, what config.yaml's node-label takes. */
  labels: string[];
  /** `key=value:Effect`, what config.yaml's node-taint takes. */
  taints: string[];
}

/**
 * The server's labels and taints:
 * - mac-numa: the Mac's VM only runs the control plane and the pods that tolerate it (monitoring,
 *   Temporal), so it is tainted control-plane:NoSchedule and labelled role=master;
 * - single: the k3s-server-tasks VM also runs the ETL tasks, which tolerate workload=tasks;
 * - distributed: the bare-metal data server runs the lake, Temporal and data preparation, and is
 *   the only non-NUMA machine: nothing to keep off it, so no taint.
 */
export function serverMarks(layout: Layout): NodeMarks {
  switch (layout) {
    case "mac-numa":
      return { labels: ["role=master"], taints: ["node-role.kubernetes.io/control-plane:NoSchedule"] };
    case "single":
      return { labels: ["role=master", "workload=tasks", `${LABEL_WORKLOAD}=tasks`], taints: ["workload=tasks:NoSchedule"] };
    case "distributed":
      return { labels: ["role=master", "workload=data", `${LABEL_WORKLOAD}=data`], taints: [] };
  }
}

/** Where a worker VM runs, as the placement says (host name, node; null = floating). */
export interface WorkerSite {
  host: string;
  node: number | null;
  workload: string;
}

/**
 * A worker's labels (role=worker, the documents' workload and numa-node, and numa-k3s.io/ ones
 * with the host) and taints: `single` taints every worker with its workload, so only pods that ask
 * for it land there; mac-numa and distributed workers are untainted (workloads opt in with
 * nodeSelector). A floating VM has no NUMA node: it gets numa-k3s.io/numa-node=floating and no
 * `numa-node` label, so the SLM anti-affinity over numa-node never counts it.
 */
export function workerMarks(layout: Layout, site: WorkerSite): NodeMarks {
  const node = site.node === null ? "floating" : String(site.node);
  const labels = [
    "role=worker",
    `workload=${site.workload}`,
    ...(site.node === null ? [] : [`numa-node=${node}`]),
    `${LABEL_HOST}=${site.host}`,
    `${LABEL_NUMA_NODE}=${node}`,
    `${LABEL_WORKLOAD}=${site.workload}`,
  ];
  const taints = layout === "single" ? [`workload=${site.workload}:NoSchedule`] : [];
  return { labels, taints };
}
