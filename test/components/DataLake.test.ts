import * as k8s from "@pulumi/kubernetes";
import { platformPlacement } from "../../k3s/layouts";
import type { DataLakeArgs } from "../../components/DataLake";
import { schemaErrors } from "../k8s-schema";
import { Recorded, charts, k8sObjects, passwordOf, redacted, secretPaths, settled, startPlatformMocks } from "../platform/platform-mocks";

async function deploy(args: Omit<DataLakeArgs, "provider">) {
  startPlatformMocks();
  const { DataLake } = await import("../../components/DataLake");
  const provider = new k8s.Provider("k8s", { kubeconfig: "apiVersion: v1\nkind: Config\n" });
  const lake = new DataLake("lake", { provider, ...args });
  const resources = await settled();
  const byName = (n: string): Recorded => {
    const r = resources.find((x) => x.name === n);
    if (!r) throw new Error(`no ${n} among ${resources.map((x) => x.name).join(", ")}`);
    return r;
  };
  return { lake, resources, byName };
}

const single = (): Omit<DataLakeArgs, "provider"> => ({ dataNodeName: "k3s-worker-data", placement: platformPlacement("single").lake });

describe("DataLake", () => {
  it("binds the lake to the HDD and the hot tier to the SSD of the data k8s node, Retain, through a no-provisioner class", async () => {
    const { resources } = await deploy(single());
    const objects = k8sObjects(resources);
    const pvs = objects.filter((o) => o.kind === "PersistentVolume") as unknown as { metadata: { name: string }; spec: Record<string, any> }[];
    expect(pvs.map((p) => [p.spec.local.path, p.spec.persistentVolumeReclaimPolicy, p.spec.claimRef.name])).toEqual([
      // Below the mount points, where only the mounted disks have them (guest/data-mounts.ts).
      ["/data/lake/numa-k3s", "Retain", "seaweedfs-lake"],
      ["/data/hot/numa-k3s", "Retain", "seaweedfs-hot"],
    ]);
    for (const pv of pvs) expect(pv.spec.nodeAffinity.required.nodeSelectorTerms).toEqual([{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["k3s-worker-data"] }] }]);
    const sc = objects.find((o) => o.kind === "StorageClass") as Record<string, unknown>;
    expect([sc.provisioner, sc.volumeBindingMode]).toEqual(["kubernetes.io/no-provisioner", "WaitForFirstConsumer"]);
    const claims = objects.filter((o) => o.kind === "PersistentVolumeClaim") as unknown as { spec: { volumeName: string; storageClassName: string } }[];
    expect(claims.map((c) => c.spec.volumeName)).toEqual(pvs.map((p) => p.metadata.name));
  });

  it("every Kubernetes object validates against the API schema", async () => {
    const { resources } = await deploy(single());
    const objects = k8sObjects(resources);
    expect(objects.map((o) => o.kind).sort()).toEqual(["Job", "Namespace", "PersistentVolume", "PersistentVolume", "PersistentVolumeClaim", "PersistentVolumeClaim", "Secret", "Secret", "Secret", "Service", "Service", "StorageClass"]);
    expect(schemaErrors(objects)).toEqual([]);
  });

  it("the engine and its Job land on the data node (selector and toleration), the chart pinned, the NodePorts 30900/30901", async () => {
    const { resources } = await deploy(single());
    const [chart] = charts(resources);
    expect([chart.chart, chart.version, chart.repo]).toEqual(["seaweedfs", "4.44.0", "https://seaweedfs.github.io/seaweedfs/helm"]);
    const aio = chart.values.allInOne as Record<string, string>;
    expect(aio.nodeSelector).toBe("numa-k3s.io/workload: data\n");
    expect(aio.tolerations).toContain("value: data");
    const job = k8sObjects(resources).find((o) => o.kind === "Job") as any;
    expect(job.spec.template.spec.nodeSelector).toEqual({ "numa-k3s.io/workload": "data" });
    expect(job.spec.template.spec.tolerations).toEqual([{ key: "workload", operator: "Equal", value: "data", effect: "NoSchedule" }]);
    expect(job.spec.template.spec.containers[0].image).toBe("amazon/aws-cli:2.22.35");
    const services = k8sObjects(resources).filter((o) => o.kind === "Service") as any[];
    expect(services.map((s) => [s.metadata.name, s.spec.selector["app.kubernetes.io/component"], s.spec.ports[0].port, s.spec.ports[0].nodePort])).toEqual([
      ["s3-nodeport", "seaweedfs-all-in-one", 8333, 30900],
      ["console-nodeport", "admin", 23646, 30901],
    ]);
    // The console is the admin UI behind a login, placed like the engine.
    const admin = chart.values.admin as Record<string, any>;
    expect([admin.enabled, admin.secret.existingSecret, admin.nodeSelector]).toEqual([true, "seaweedfs-console", "numa-k3s.io/workload: data\n"]);
  });

  it("the credentials exist only inside secret wrappers: never in plain inputs, the chart's values or the Job", async () => {
    const { resources, byName, lake } = await deploy(single());
    const access = passwordOf("lake-access-key", 20);
    const secret = passwordOf("lake-secret-key", 40);
    expect(secretPaths(byName("lake-credentials"))).toEqual(["stringData"]);
    expect(secretPaths(byName("lake-identities"))).toEqual(["stringData"]);
    expect(secretPaths(byName("lake-console"))).toEqual(["stringData"]);
    expect(redacted(resources)).not.toContain(passwordOf("lake-console-password", 24));
    const creds = k8sObjects(resources).find((o) => o.metadata?.name === "s3-credentials") as any;
    expect(creds.stringData).toEqual({ AWS_ACCESS_KEY_ID: access, AWS_SECRET_ACCESS_KEY: secret, AWS_ENDPOINT_URL: "http://seaweedfs-all-in-one.storage.svc:8333", AWS_REGION: "us-east-1" });
    const rendered = redacted(resources);
    expect(rendered).not.toContain(access);
    expect(rendered).not.toContain(secret);
    expect(await new Promise((r) => (lake.credentials as any).isSecret.then(r))).toBe(true);
  });

  it("no hot tier and no NodePorts where asked; the Job's name follows its scripts", async () => {
    const a = await deploy({ ...single(), hot: false, nodePorts: false });
    const kinds = k8sObjects(a.resources).map((o) => o.kind);
    expect(kinds.filter((k) => k === "PersistentVolume")).toHaveLength(1);
    expect(kinds).not.toContain("Service");
    const jobName = (rs: Recorded[]) => (k8sObjects(rs).find((o) => o.kind === "Job") as any).metadata.name;
    const same = await deploy({ ...single(), hot: false, nodePorts: false });
    expect(jobName(same.resources)).toBe(jobName(a.resources));
    const more = await deploy({ ...single(), hot: false, nodePorts: false, stagingExpiryDays: 3 });
    expect(jobName(more.resources)).not.toBe(jobName(a.resources));
  });

  it("refuses what a user could mistype, in one line naming the field", async () => {
    const { lakeSpec } = await import("../../components/DataLake");
    expect(() => lakeSpec("lake", { ...single(), dataNodeName: "K3S_DATA" })).toThrow(/^DataLake 'lake': dataNodeName = "K3S_DATA": a k8s node name/);
    expect(() => lakeSpec("lake", { ...single(), versionedZones: ["gold"] })).toThrow(/^DataLake 'lake': versionedZones = "gold": not one of zones/);
    expect(() => lakeSpec("lake", { ...single(), nodePorts: { api: 9000 } })).toThrow(/^DataLake 'lake': nodePorts.api = 9000: /);
    expect(() => lakeSpec("lake", { ...single(), stagingDays: 3 } as never)).toThrow(/^DataLake 'lake': stagingDays: unknown key$/);
    expect(() => lakeSpec("lake", { ...single(), lake: { path: "/data/lake", sizeGB: 10 } } as never)).toThrow(/^DataLake 'lake': lake.sizeGB: unknown key$/);
  });
});
