import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { platformPlacement } from "../../k3s/layouts";
import type { TemporalClusterArgs } from "../../components/TemporalCluster";
import { schemaErrors } from "../k8s-schema";
import { charts, k8sObjects, passwordOf, redacted, secretPaths, settled, startPlatformMocks } from "../platform/platform-mocks";

const S3_SECRET = "s3-secret-key-for-tests-abcdef0123456789";

async function deploy(args: Omit<TemporalClusterArgs, "provider">) {
  startPlatformMocks();
  const { TemporalCluster } = await import("../../components/TemporalCluster");
  const provider = new k8s.Provider("k8s", { kubeconfig: "apiVersion: v1\nkind: Config\n" });
  const cluster = new TemporalCluster("temporal", { provider, ...args });
  const resources = await settled();
  const byName = (n: string) => {
    const r = resources.find((x) => x.name === n);
    if (!r) throw new Error(`no ${n} among ${resources.map((x) => x.name).join(", ")}`);
    return r;
  };
  return { cluster, resources, byName };
}

const argsFor = (layout: "mac-numa" | "single" | "distributed"): Omit<TemporalClusterArgs, "provider"> => ({
  placement: platformPlacement(layout).platform,
  worker: { image: "ghcr.io/example/finance-worker:1.4.2", placement: platformPlacement(layout).worker, env: { MODEL_SET: "finance" } },
  s3: { endpoint: "http://seaweedfs-all-in-one.storage.svc:8333", credentials: pulumi.secret({ accessKeyId: "LAKEACCESSKEY0000000", secretAccessKey: S3_SECRET }) },
});

describe("TemporalCluster", () => {
  it("installs the pinned chart on our PostgreSQL, registers the default namespace, the password only through the Secret", async () => {
    const { resources } = await deploy(argsFor("mac-numa"));
    const [chart] = charts(resources);
    expect([chart.chart, chart.version, chart.repo]).toEqual(["temporal", "1.6.0", "https://go.temporal.io/helm-charts"]);
    const v = chart.values as any;
    const sql = v.server.config.persistence.datastores.default.sql;
    expect([sql.pluginName, sql.connectAddr, sql.existingSecret, sql.password]).toEqual(["postgres12", "postgres.temporal.svc:5432", "temporal-db", undefined]);
    expect(v.server.config.persistence.datastores.visibility.sql.databaseName).toBe("temporal_visibility");
    expect(v.server.config.namespaces).toEqual({ create: true, useHelmHooks: false, namespace: [{ name: "default", retention: "3d" }] });
    const pg = k8sObjects(resources).find((o) => o.kind === "StatefulSet") as any;
    expect(pg.spec.template.spec.containers[0].image).toBe("postgres:17.6-bookworm");
    expect(pg.spec.template.spec.containers[0].env).toContainEqual({ name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "temporal-db", key: "password" } } });
  });

  it("mac-numa: server, UI, schema Jobs and PostgreSQL select the server (numa-k3s.io/role=server) and tolerate the control-plane taint; the UI on NodePort 30880", async () => {
    const { resources } = await deploy(argsFor("mac-numa"));
    const v = charts(resources)[0].values as any;
    const master = { nodeSelector: { "numa-k3s.io/role": "server" }, tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }] };
    for (const p of [v.server.frontend, v.server.history, v.server.matching, v.server.worker, v.web, v.admintools]) expect({ nodeSelector: p.nodeSelector, tolerations: p.tolerations }).toEqual(master);
    const pg = k8sObjects(resources).find((o) => o.kind === "StatefulSet") as any;
    expect({ nodeSelector: pg.spec.template.spec.nodeSelector, tolerations: pg.spec.template.spec.tolerations }).toEqual(master);
    const ui = k8sObjects(resources).find((o) => o.metadata?.name === "temporal-web-nodeport") as any;
    expect(ui.spec.ports[0].nodePort).toBe(30880);
    expect(ui.spec.selector).toEqual({ "app.kubernetes.io/name": "temporal", "app.kubernetes.io/instance": "temporal", "app.kubernetes.io/component": "web" });
  });

  it("the worker DaemonSet: numa-k3s.io/workload=slm, the staging disk's /data/local/numa-k3s, Guaranteed with 2 whole CPUs, env from the args and the S3 Secret", async () => {
    const { resources } = await deploy(argsFor("single"));
    const ds = k8sObjects(resources).find((o) => o.kind === "DaemonSet") as any;
    const pod = ds.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ "numa-k3s.io/workload": "slm" });
    expect(pod.tolerations).toEqual([{ key: "workload", operator: "Equal", value: "slm", effect: "NoSchedule" }]);
    expect(pod.volumes).toEqual([{ name: "staging", hostPath: { path: "/data/local/numa-k3s", type: "Directory" } }]);
    const c = pod.containers[0];
    expect(c.resources.requests).toEqual(c.resources.limits);
    expect(c.resources.requests.cpu).toBe("2");
    expect(c.image).toBe("ghcr.io/example/finance-worker:1.4.2");
    expect(c.env).toEqual(expect.arrayContaining([{ name: "TEMPORAL_ADDRESS", value: "temporal.temporal.svc:7233" }, { name: "MODEL_SET", value: "finance" }]));
    expect(c.envFrom).toEqual([{ secretRef: { name: "worker-s3" } }]);
  });

  it("the database password and the S3 key exist only inside secret wrappers", async () => {
    const { resources, byName } = await deploy(argsFor("mac-numa"));
    expect(secretPaths(byName("temporal-db-secret"))).toEqual(["stringData"]);
    expect(secretPaths(byName("temporal-worker-s3"))).toEqual(["stringData"]);
    const rendered = redacted(resources);
    expect(rendered).not.toContain(passwordOf("temporal-db-password"));
    expect(rendered).not.toContain(S3_SECRET);
    const s3 = k8sObjects(resources).find((o) => o.metadata?.name === "worker-s3") as any;
    expect(s3.stringData.AWS_SECRET_ACCESS_KEY).toBe(S3_SECRET);
  });

  it("every Kubernetes object validates against the API schema", async () => {
    const { resources } = await deploy(argsFor("distributed"));
    const objects = k8sObjects(resources);
    expect(objects.map((o) => o.kind).sort()).toEqual(["DaemonSet", "Namespace", "Secret", "Secret", "Service", "Service", "Service", "StatefulSet"]);
    expect(schemaErrors(objects)).toEqual([]);
  });

  it("refuses what a user could mistype, in one line naming the field", async () => {
    const { temporalSpec } = await import("../../components/TemporalCluster");
    const a = argsFor("mac-numa");
    expect(() => temporalSpec("t", { ...a, worker: { ...a.worker, image: "ghcr.io/example/worker:latest" } })).toThrow(/^TemporalCluster 't': worker.image = "ghcr.io\/example\/worker:latest": must be an image reference with a tag \(not latest\)/);
    expect(() => temporalSpec("t", { ...a, worker: { ...a.worker, cpus: 1.5 } })).toThrow(/^TemporalCluster 't': worker.cpus = 1.5: /);
    expect(() => temporalSpec("t", { ...a, worker: { ...a.worker, env: { TEMPORAL_ADDRESS: "x" } } })).toThrow(/worker.env.TEMPORAL_ADDRESS = "x": set by the component/);
    expect(() => temporalSpec("t", { ...a, worker: { ...a.worker, temporalNamespace: "finance" } })).toThrow(/worker.temporalNamespace = "finance": not a registered namespace \(default\)/);
  });
});
