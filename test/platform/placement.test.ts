import { LAYOUTS, Layout } from "../../k3s/layouts";
import { platformPlacement } from "../../k3s/layouts";
import { CLUSTERS, schedulable } from "./cluster-nodes";

describe("platformPlacement", () => {
  const expected: Record<Layout, { platform: string[]; lake: string[]; worker: string[] }> = {
    "mac-numa": { platform: ["k3s-server"], lake: ["k3s-minio-storage"], worker: ["k3s-slm-worker-1", "k3s-slm-worker-2"] },
    single: { platform: ["k3s-worker-data"], lake: ["k3s-worker-data"], worker: ["k3s-worker-slm-heavy", "k3s-worker-slm"] },
    distributed: { platform: ["data-server"], lake: ["data-server"], worker: ["k3s-worker-1", "k3s-worker-2"] },
  };
  it.each(LAYOUTS)("%s: each part lands exactly where docs/reference-layouts.md puts it, through the real labels and taints", (layout) => {
    const p = platformPlacement(layout);
    const nodes = CLUSTERS[layout];
    expect({ platform: schedulable(p.platform, nodes), lake: schedulable(p.lake, nodes), worker: schedulable(p.worker, nodes) }).toEqual(expected[layout]);
    expect(schedulable(p.everyNode, nodes)).toEqual(nodes.map((n) => n.name));
  });
});
