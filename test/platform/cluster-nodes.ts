// The k8s nodes of each layout's shipped stack, with the labels and taints k3s/node-roles.ts gives
// them: what the placement test checks each platform part's selector and tolerations against.
// (Sizes, reservations and the fit of every pod: test/platform/scheduling.test.ts, on the render.)
import { Layout } from "../../k3s/layouts";
import { serverMarks, workerMarks } from "../../k3s/node-roles";
import type { PodPlacement } from "../../k3s/layouts";
import { Effect, Node, refusal } from "./scheduler";

const node = (name: string, marks: { labels: string[]; taints: string[] }): Node => ({
  name,
  labels: Object.fromEntries(marks.labels.map((l) => l.split("=") as [string, string])),
  taints: marks.taints.map((t) => {
    const [kv, effect] = t.split(":");
    const [key, value] = kv.split("=");
    return { key, value, effect: effect as Effect };
  }),
  allocatable: { cpuMilli: Infinity, memory: Infinity },
});

/** The k8s nodes of each layout's shipped stack (Pulumi.<layout>.yaml). */
export const CLUSTERS: Record<Layout, Node[]> = {
  "mac-numa": [
    node("k3s-server", serverMarks("mac-numa")),
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
    node("data-server", serverMarks("distributed")),
    node("k3s-worker-1", workerMarks("distributed", { host: "numa-01", node: 0, workload: "slm" })),
    node("k3s-worker-2", workerMarks("distributed", { host: "numa-01", node: 1, workload: "slm" })),
  ],
};

/** The k8s nodes a pod with this placement may be scheduled on (the scheduler model's filters, resources aside). */
export function schedulable(p: PodPlacement, nodes: Node[]): string[] {
  const pod = { what: "pod", nodeSelector: p.nodeSelector, tolerations: p.tolerations, containers: [], initContainers: [], daemon: false, replicas: 1 };
  return nodes.filter((n) => refusal(n, pod as Parameters<typeof refusal>[1]) === null).map((n) => n.name);
}
