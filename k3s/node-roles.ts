// The labels and taints a k8s node registers with: the layout's record (k3s/layouts.ts) for the
// server, and for a worker the placement's facts (its host, its NUMA node, its workload).
import { LABEL_HOST, LABEL_NUMA_NODE, LABEL_ROLE, LABEL_WORKLOAD, LAYOUT_PROFILES, Layout, NodeMarks } from "./layouts";

/** A k8s label value (RFC 1123-ish: what `kubectl label` accepts), for the workload names. */
export const LABEL_VALUE = /^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/;

/** The server's labels and taints (k3s/layouts.ts says why each layout's are what they are). */
export function serverMarks(layout: Layout): NodeMarks {
  return LAYOUT_PROFILES[layout].serverMarks;
}

/** Where a worker VM runs, as the placement says (host name, node; null = floating). */
export interface WorkerSite {
  host: string;
  node: number | null;
  workload: string;
}

/**
 * A worker's labels (the documents' role=worker, workload and numa-node, and the numa-k3s.io/ ones
 * the program selects on: role=agent, host, NUMA node, workload) and taints (its workload's, where the layout taints workers). A floating VM has no
 * NUMA node: it gets numa-k3s.io/numa-node=floating and no `numa-node` label, so the SLM
 * anti-affinity over numa-node never counts it.
 */
export function workerMarks(layout: Layout, site: WorkerSite): NodeMarks {
  const node = site.node === null ? "floating" : String(site.node);
  const labels = [
    "role=worker",
    `workload=${site.workload}`,
    ...(site.node === null ? [] : [`numa-node=${node}`]),
    `${LABEL_ROLE}=agent`,
    `${LABEL_HOST}=${site.host}`,
    `${LABEL_NUMA_NODE}=${node}`,
    `${LABEL_WORKLOAD}=${site.workload}`,
  ];
  const taints = LAYOUT_PROFILES[layout].taintWorkers ? [`workload=${site.workload}:NoSchedule`] : [];
  return { labels, taints };
}
