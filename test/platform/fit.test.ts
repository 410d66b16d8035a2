// The platform's pods, scheduled onto each layout's k8s nodes by their selectors and tolerations,
// and their requests summed per k8s node against what the node has after the OS and K3s: the
// Mac's 4 GiB control-plane VM included. Chart pods' requests are read from the values we pass
// (the mock cannot expand a chart), and every chart pod must have them, or the sum would lie.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { LAYOUTS, Layout } from "../../k3s/node-roles";
import { parseQuantity } from "../../platform/args";
import { PodPlacement, platformPlacement } from "../../platform/placement";
import { CLUSTERS, schedulable } from "./cluster-nodes";
import { charts, k8sObjects, settled, startPlatformMocks } from "./platform-mocks";

interface Pod {
  what: string;
  placement: PodPlacement;
  requests: { cpu?: string; memory?: string } | undefined;
  /** A DaemonSet's pod: one on every k8s node it may run on. */
  everyNode: boolean;
}

const DATA_NODE: Record<Layout, string> = { "mac-numa": "k3s-minio-storage", single: "k3s-worker-data", distributed: "data-server" };

async function deployAll(layout: Layout) {
  startPlatformMocks();
  const { DataLake } = await import("../../components/DataLake");
  const { VictoriaStack } = await import("../../components/VictoriaStack");
  const { TemporalCluster } = await import("../../components/TemporalCluster");
  const provider = new k8s.Provider("k8s", { kubeconfig: "apiVersion: v1\nkind: Config\n" });
  const p = platformPlacement(layout);
  const lake = new DataLake("lake", { provider, dataNodeName: DATA_NODE[layout], placement: p.lake });
  new VictoriaStack("monitoring", { provider, placement: p.platform, hypervisors: [{ name: "numa-01", address: "192.168.50.10" }] });
  new TemporalCluster("temporal", {
    provider,
    placement: p.platform,
    worker: { image: "ghcr.io/example/worker:1.0.0", placement: p.worker },
    s3: { endpoint: lake.endpoint, credentials: pulumi.secret(lake.credentials) },
  });
  return settled();
}

/** The pods each chart runs, from the values we pass it. */
function chartPods(chart: string, v: any): Pod[] {
  const pod = (what: string, c: any, requests: any, everyNode = false): Pod => ({
    what,
    placement: { nodeSelector: c.nodeSelector ?? {}, tolerations: c.tolerations ?? [] },
    requests,
    everyNode,
  });
  switch (chart) {
    case "seaweedfs": {
      const a = v.allInOne;
      const placed = (c: any): PodPlacement => ({ nodeSelector: c.nodeSelector ? parse(c.nodeSelector) : {}, tolerations: c.tolerations ? parse(c.tolerations) : [] });
      return [
        { what: "seaweedfs", placement: placed(a), requests: a.resources?.requests, everyNode: false },
        ...(v.admin?.enabled ? [{ what: "seaweedfs-admin", placement: placed(v.admin), requests: v.admin.resources?.requests, everyNode: false }] : []),
      ];
    }
    case "victoria-metrics-single":
    case "victoria-logs-single":
      return [pod(chart, v.server, v.server.resources?.requests)];
    case "victoria-metrics-agent":
      return [pod("vmagent", v, v.resources?.requests)];
    case "victoria-metrics-alert":
      return [pod("vmalert", v.server, v.server.resources?.requests), ...(v.alertmanager?.enabled ? [pod("alertmanager", v.alertmanager, v.alertmanager.resources?.requests)] : [])];
    case "victoria-logs-collector":
      return [pod("log-collector", v, v.resources?.requests, true)];
    case "temporal":
      return [
        ...["frontend", "history", "matching", "worker"].map((s) => pod(`temporal-${s}`, v.server[s], v.server[s].resources?.requests)),
        pod("temporal-web", v.web, v.web.resources?.requests),
        // The schema and namespace Jobs run one after the other: count one.
        pod("temporal-schema-job", v.admintools, v.schema.resources?.requests),
      ];
    default:
      throw new Error(`fit test: no pod table for chart ${chart}`);
  }
}

function objectPods(objects: any[]): Pod[] {
  return objects
    .filter((o) => ["StatefulSet", "Deployment", "DaemonSet", "Job"].includes(o.kind))
    .map((o) => {
      const spec = o.spec.template.spec;
      const sum = (key: "cpu" | "memory") => spec.containers.reduce((t: number, c: any) => t + (c.resources?.requests?.[key] ? parseQuantity(c.resources.requests[key]) : NaN), 0);
      const replicas = o.kind === "StatefulSet" || o.kind === "Deployment" ? (o.spec.replicas ?? 1) : 1;
      return {
        what: `${o.kind}/${o.metadata.name}`,
        placement: { nodeSelector: spec.nodeSelector ?? {}, tolerations: spec.tolerations ?? [] },
        requests: { cpu: `${sum("cpu") * replicas}`, memory: `${sum("memory") * replicas}` },
        everyNode: o.kind === "DaemonSet",
      };
    });
}

const MiB = 1024 * 1024;

describe("the platform fits the k8s nodes it lands on", () => {
  it.each(LAYOUTS)("%s", async (layout) => {
    const resources = await deployAll(layout);
    // The mock does not refuse two resources of one name; the engine would.
    const names = resources.map((r) => `${r.type}::${r.name}`);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    const objectNames = k8sObjects(resources).map((o) => `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`);
    expect(objectNames.filter((n, i) => objectNames.indexOf(n) !== i)).toEqual([]);
    const pods = [...charts(resources).flatMap((c) => chartPods(c.chart, c.values)), ...objectPods(k8sObjects(resources))];
    // Every pod asks for memory and CPU: a pod without requests would make the sum below lie.
    expect(pods.filter((p) => !p.requests?.memory || !p.requests?.cpu).map((p) => p.what)).toEqual([]);
    const nodes = CLUSTERS[layout];
    const totals = new Map(nodes.map((n) => [n.name, { memory: 0, cpu: 0, pods: [] as string[] }]));
    for (const p of pods) {
      const targets = schedulable(p.placement, nodes);
      expect({ pod: p.what, lands: targets.length > 0 }).toEqual({ pod: p.what, lands: true });
      // A Deployment's pod could go to any of its targets: charge it to each (the worst case).
      for (const t of targets) {
        const total = totals.get(t)!;
        total.memory += parseQuantity(p.requests!.memory!);
        total.cpu += parseQuantity(p.requests!.cpu!);
        total.pods.push(p.what);
      }
    }
    const report = nodes.map((n) => {
      const t = totals.get(n.name)!;
      return { node: n.name, requestsMiB: Math.round(t.memory / MiB), availableMiB: n.memoryMiB - n.reserveMiB, requestsMilliCpu: Math.round(t.cpu * 1000), cpuMilli: n.cpuMilli };
    });
    console.log(`${layout}: ${report.map((r) => `${r.node} ${r.requestsMiB}/${r.availableMiB} MiB, ${r.requestsMilliCpu}/${r.cpuMilli}m`).join("; ")}`);
    for (const r of report) {
      expect({ node: r.node, fitsMemory: r.requestsMiB <= r.availableMiB, fitsCpu: r.requestsMilliCpu <= r.cpuMilli }).toEqual({ node: r.node, fitsMemory: true, fitsCpu: true });
    }
    if (layout === "mac-numa") {
      // The Mac's VM: the whole platform but the lake and the worker, in 4 GiB with K3s itself.
      const server = report.find((r) => r.node === "k3s-server")!;
      expect(server.requestsMiB).toBeLessThanOrEqual(4096 - 1536);
      expect(totals.get("k3s-server")!.pods).toEqual(expect.arrayContaining(["victoria-metrics-single", "victoria-logs-single", "temporal-history", "StatefulSet/postgres"]));
      expect(totals.get("k3s-server")!.pods).not.toContain("seaweedfs");
    }
  });
});
