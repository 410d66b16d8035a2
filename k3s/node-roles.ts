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

/** The taint Kubernetes' own control-plane nodes carry, and K3s's packaged add-ons tolerate. */
export const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule";

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
 * - single: the k3s-server-tasks VM also runs the ETL tasks (they select workload=tasks). Every
 *   worker there carries its workload's taint, so the server is the one node K3s's packaged
 *   add-ons (coredns, local-path-provisioner, metrics-server) can use: it gets the taint they
 *   tolerate, control-plane:NoSchedule (test/fixtures/k3s/packaged-addons.json), not
 *   workload=tasks, which none of them tolerates and would leave cluster DNS and the volume
 *   provisioner Pending. The ETL tasks tolerate control-plane:NoSchedule;
 * - distributed: the bare-metal data server runs the lake, Temporal and data preparation, and is
 *   the only non-NUMA machine: nothing to keep off it, so no taint.
 */
export function serverMarks(layout: Layout): NodeMarks {
  switch (layout) {
    case "mac-numa":
      return { labels: ["role=master"], taints: [CONTROL_PLANE_TAINT] };
    case "single":
      return { labels: ["role=master", "workload=tasks", `${LABEL_WORKLOAD}=tasks`], taints: [CONTROL_PLANE_TAINT] };
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
