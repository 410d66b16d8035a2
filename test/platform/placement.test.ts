import { LAYOUTS, Layout, serverMarks, workerMarks } from "../../k3s/node-roles";
import { PodPlacement, platformPlacement } from "../../platform/placement";

/** A k8s node as k3s registers it: labels and taints from k3s/node-roles.ts. */
interface K8sNode {
  name: string;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
}
const node = (name: string, marks: { labels: string[]; taints: string[] }): K8sNode => ({
  name,
  labels: Object.fromEntries(marks.labels.map((l) => l.split("=") as [string, string])),
  taints: marks.taints.map((t) => {
    const [kv, effect] = t.split(":");
    const [key, value] = kv.split("=");
    return { key, value, effect };
  }),
});

/** The k8s nodes of each layout's shipped stack (Pulumi.<layout>.yaml). */
const CLUSTERS: Record<Layout, K8sNode[]> = {
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

/** The k8s nodes a pod with this placement may be scheduled on (selector matches, every NoSchedule/NoExecute taint tolerated). */
function schedulable(p: PodPlacement, nodes: K8sNode[]): string[] {
  return nodes
    .filter((n) => Object.entries(p.nodeSelector).every(([k, v]) => n.labels[k] === v))
    .filter((n) =>
      n.taints.every((t) =>
        p.tolerations.some((tol) => (tol.effect === undefined || tol.effect === t.effect) && (tol.operator === "Exists" ? tol.key === undefined || tol.key === t.key : tol.key === t.key && tol.value === t.value)),
      ),
    )
    .map((n) => n.name);
}

describe("platformPlacement", () => {
  const expected: Record<Layout, { platform: string[]; lake: string[]; worker: string[] }> = {
    "mac-numa": { platform: ["k3s-server"], lake: ["k3s-minio-storage"], worker: ["k3s-slm-worker-1", "k3s-slm-worker-2"] },
    single: { platform: ["k3s-worker-data"], lake: ["k3s-worker-data"], worker: ["k3s-worker-slm-heavy", "k3s-worker-slm"] },
    distributed: { platform: ["data-server"], lake: ["data-server"], worker: ["k3s-worker-1", "k3s-worker-2"] },
  };
  it.each(LAYOUTS)("%s: each part lands exactly where REFERENCE.md puts it, through the real labels and taints", (layout) => {
    const p = platformPlacement(layout);
    const nodes = CLUSTERS[layout];
    expect({ platform: schedulable(p.platform, nodes), lake: schedulable(p.lake, nodes), worker: schedulable(p.worker, nodes) }).toEqual(expected[layout]);
    expect(schedulable(p.everyNode, nodes)).toEqual(nodes.map((n) => n.name));
  });
});
