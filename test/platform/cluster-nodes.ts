// The k8s nodes of each layout's shipped stack, with the labels and taints k3s/node-roles.ts gives
// them and the capacity the VM (lock file) or machine (docs/reference-layouts.md) has: what the placement and
// fit tests schedule the platform's pods onto.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Layout, serverMarks, workerMarks } from "../../k3s/node-roles";
import type { PodPlacement } from "../../platform/placement";

/** A k8s node as k3s registers it: labels and taints from k3s/node-roles.ts. */
export interface K8sNode {
  name: string;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  /** Memory and CPU the machine has (MiB, millicores), and what the OS and K3s keep. */
  memoryMiB: number;
  cpuMilli: number;
  reserveMiB: number;
}
/** VM sizes from the committed lock files (what the planner placed), by VM name. */
const LOCKED: Record<string, { vcpus: number; memoryKiB: number }> = Object.fromEntries(
  ["mac-numa", "single", "distributed"].flatMap((l) =>
    (JSON.parse(readFileSync(join(__dirname, `../../hosts/${l}.lock.json`), "utf8")) as { vms: { name: string; vcpus: number; memoryKiB: number }[] }).vms.map((v) => [v.name, v]),
  ),
);

/**
 * What the OS, containerd and K3s keep on a k8s node, MiB: a K3s server (API server, kine,
 * controllers, the kubelet) and the OS 1.5 GiB; an agent (kubelet, containerd, flannel) and the
 * OS 768 MiB. Pods' requests must fit in the rest.
 */
export const SERVER_RESERVE_MIB = 1536;
export const AGENT_RESERVE_MIB = 768;

const node = (name: string, marks: { labels: string[]; taints: string[] }, size?: { vcpus: number; memoryMiB: number }): K8sNode => {
  const locked = LOCKED[name];
  const s = size ?? { vcpus: locked.vcpus, memoryMiB: locked.memoryKiB / 1024 };
  return {
    name,
    labels: Object.fromEntries(marks.labels.map((l) => l.split("=") as [string, string])),
    taints: marks.taints.map((t) => {
      const [kv, effect] = t.split(":");
      const [key, value] = kv.split("=");
      return { key, value, effect };
    }),
    memoryMiB: s.memoryMiB,
    cpuMilli: s.vcpus * 1000,
    reserveMiB: marks.labels.includes("role=master") ? SERVER_RESERVE_MIB : AGENT_RESERVE_MIB,
  };
};

/** The k8s nodes of each layout's shipped stack (Pulumi.<layout>.yaml). */
export const CLUSTERS: Record<Layout, K8sNode[]> = {
  "mac-numa": [
    // The Mac's Lima VM: K3sControlPlane's defaults, 2 vCPUs and 4 GiB (docs/reference-layouts.md).
    node("k3s-server", serverMarks("mac-numa"), { vcpus: 2, memoryMiB: 4096 }),
    node("k3s-slm-worker-1", workerMarks("mac-numa", { host: "numa-01", node: 0, workload: "slm" })),
    node("k3s-slm-worker-2", workerMarks("mac-numa", { host: "numa-01", node: 1, workload: "slm" })),
    node("k3s-minio-storage", workerMarks("mac-numa", { host: "numa-01", node: 1, workload: "data" })),
  ],
  single: [
    node("k3s-server-tasks", serverMarks("single")),
    node("k3s-worker-slm-heavy", workerMarks("single", { host: "numa-01", node: 0, workload: "slm" })),
    node("k3s-worker-data", workerMarks("single", { host: "numa-01", node: 1, workload: "data" })),
    node("k3s-worker-slm", workerMarks("single", { host: "numa-01", node: 1, workload: "slm" })),
  ],
  distributed: [
    // The bare-metal Xeon E3-1270 v6: 4 cores / 8 threads, 64 GB (docs/reference-layouts.md).
    node("data-server", serverMarks("distributed"), { vcpus: 8, memoryMiB: 64 * 1024 }),
    node("k3s-worker-1", workerMarks("distributed", { host: "numa-01", node: 0, workload: "slm" })),
    node("k3s-worker-2", workerMarks("distributed", { host: "numa-01", node: 1, workload: "slm" })),
  ],
};

/** The k8s nodes a pod with this placement may be scheduled on (selector matches, every NoSchedule/NoExecute taint tolerated). */
export function schedulable(p: PodPlacement, nodes: K8sNode[]): string[] {
  return nodes
    .filter((n) => Object.entries(p.nodeSelector).every(([k, v]) => n.labels[k] === v))
    .filter((n) =>
      n.taints.every((t) =>
        p.tolerations.some((tol) => (tol.effect === undefined || tol.effect === t.effect) && (tol.operator === "Exists" ? tol.key === undefined || tol.key === t.key : tol.key === t.key && tol.value === t.value)),
      ),
    )
    .map((n) => n.name);
}

