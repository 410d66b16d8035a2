import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, recordedResources, settle, startMockRuntime, unwrapSecrets, resourceNamed } from "../../cli/mock-runtime";
import type { SlmWorkerPoolArgs } from "../../components/SlmWorkerPool";
import { memoryEstimate } from "../../slm/memory";
import { LAYOUT_NAMES, defaultConfig, qosClass, slmVms, validateK8s } from "../slm/helpers";
import type { Layout } from "../../k3s/layouts";

const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n";

async function deploy(layout: Layout, over: Partial<SlmWorkerPoolArgs> = {}) {
  startMockRuntime({ project: "numa-k3s", stack: layout });
  const k8s = await import("@pulumi/kubernetes");
  const { SlmWorkerPool } = await import("../../components/SlmWorkerPool");
  const provider = new k8s.Provider("k8s", { kubeconfig: KUBECONFIG });
  const pool = new SlmWorkerPool("slm", { config: defaultConfig(layout), vms: slmVms(layout), provider, ...over });
  await settle();
  const resources = recordedResources();
  const byName = (n: string) => resourceNamed(resources, n);
  return { pool, resources, byName };
}

type PodSpec = Parameters<typeof qosClass>[0] & {
  nodeSelector: Record<string, string>;
  containers: { name: string; args: string[]; resources: { limits: Record<string, string> } }[];
};

describe("SlmWorkerPool (mock runtime)", () => {
  it("creates the namespace, a Deployment and a Service per model and the ensemble ConfigMap, all children through the provider", async () => {
    const { resources, byName, pool } = await deploy("single");
    const config = defaultConfig("single");
    // Registration order follows when each resource's inputs resolve, not construction order.
    const kinds = resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => [r.type, r.name]);
    const sorted = (rows: string[][]) => [...rows].sort((a, b) => a.join(" ").localeCompare(b.join(" ")));
    expect(sorted(kinds)).toEqual(sorted([
      ["kubernetes:core/v1:Namespace", "slm-ns"],
      ...config.models.flatMap((m) => [
        ["kubernetes:apps/v1:Deployment", `slm-${m.name}`],
        ["kubernetes:core/v1:Service", `slm-${m.name}-svc`],
      ]),
      ["kubernetes:core/v1:ConfigMap", "slm-ensemble"],
    ]));
    const names = resources.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const [, name] of kinds) expect(byName(name).parent).toBe(byName("slm").urn);
    expect(byName("slm").type).toBe("numa-k3s:slm:SlmWorkerPool");
    expect(pool.endpoints["qwen-7b"]).toBe("http://slm-qwen-7b.slm.svc.cluster.local:8080");
  });

  it.each(LAYOUT_NAMES)("%s: every model pod is Guaranteed, its threads are the physical cores granted, and it sits where the plan put its VM", async (layout) => {
    const { resources } = await deploy(layout);
    const config = defaultConfig(layout);
    const vms = slmVms(layout);
    const deployments = resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
    expect(deployments).toHaveLength(config.models.length);
    for (const d of deployments) {
      const model = config.models.find((m) => `slm-${m.name}` === d.name)!;
      const vm = vms.find((v) => v.placement.name === model.vm)!;
      const pod = (d.inputs.spec as { template: { spec: PodSpec } }).template.spec;
      expect(qosClass(pod)).toBe("Guaranteed");
      const server = pod.containers[0];
      const granted = Number(server.resources.limits.cpu) / vm.placement.topology.threads;
      expect(granted).toBe(model.cores);
      const arg = (flag: string) => Number(server.args[server.args.indexOf(flag) + 1]);
      expect(arg("--threads")).toBe(granted);
      expect(arg("--threads-batch")).toBe(granted);
      expect(server.resources.limits.memory).toBe(`${memoryEstimate(model).totalMiB}Mi`);
      expect(pod.nodeSelector["kubernetes.io/hostname"]).toBe(vm.placement.name);
      expect(pod.nodeSelector["numa-k3s.io/numa-node"]).toBe(String(vm.placement.node));
      expect(pod.nodeSelector["numa-k3s.io/host"]).toBe(vm.placement.host);
    }
  });

  it("what reaches the engine is valid against the Kubernetes schemas (kubernetes-models 5.1.0), and equals the objects render shows", async () => {
    const { resources, pool } = await deploy("mac-numa");
    const kinds: Record<string, [string, string]> = {
      "kubernetes:core/v1:Namespace": ["v1", "Namespace"],
      "kubernetes:apps/v1:Deployment": ["apps/v1", "Deployment"],
      "kubernetes:core/v1:Service": ["v1", "Service"],
      "kubernetes:core/v1:ConfigMap": ["v1", "ConfigMap"],
    };
    const objects = resources
      .filter((r) => kinds[r.type])
      .map((r) => {
        const { apiVersion: _a, kind: _k, ...rest } = r.inputs;
        return { apiVersion: kinds[r.type][0], kind: kinds[r.type][1], ...rest };
      });
    const results = validateK8s(objects);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect(results).toHaveLength(pool.objects.length);
    const byKindName = (list: unknown[]) =>
      list.map((o) => JSON.parse(JSON.stringify(o)) as { kind: string; metadata: { name: string } }).sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    expect(byKindName(objects)).toEqual(byKindName(pool.objects));
  });

  it("writes the lake's credentials into the fetch containers' Secret, only as a secret", async () => {
    const { byName } = await deploy("single", { lakeCredentials: pulumi.secret({ accessKeyId: "lake-reader", secretAccessKey: "s3cr3t-lake-key" }) });
    const secret = byName("slm-lake-credentials");
    expect(secret.type).toBe("kubernetes:core/v1:Secret");
    const { value, secretPaths } = unwrapSecrets(secret.inputs);
    expect(secretPaths).toContain("stringData");
    expect((value as { stringData: Record<string, string> }).stringData).toEqual({ AWS_ACCESS_KEY_ID: "lake-reader", AWS_SECRET_ACCESS_KEY: "s3cr3t-lake-key" });
    expect((value as { metadata: { name: string; namespace: string } }).metadata).toMatchObject({ name: "lake-models-reader", namespace: "slm" });
    const plain = recordedResources().filter((r) => r.name !== "slm-lake-credentials");
    expect(JSON.stringify(plain.map((r) => r.inputs))).not.toContain("s3cr3t-lake-key");
  });

  it("the ensemble ConfigMap gives the consensus workflow every model's endpoint, weight and size class", async () => {
    const { byName } = await deploy("distributed");
    const data = byName("slm-ensemble").inputs.data as Record<string, string>;
    const ensemble = JSON.parse(data["ensemble.json"]) as { models: { name: string; endpoint: string; weight: number; sizeClass: string; vm: string }[] };
    expect(ensemble.models).toHaveLength(7);
    expect(ensemble.models.find((m) => m.name === "qwen-7b")).toMatchObject({ endpoint: "http://slm-qwen-7b.slm.svc.cluster.local:8080", weight: 1.5, sizeClass: "large", vm: "k3s-worker-2" });
  });

  it("refuses at construction (preview), in one line, a VM whose models do not fit, and creates nothing", async () => {
    const config = defaultConfig("single");
    const tooBig = { ...config, models: config.models.map((m) => (m.name === "gemma-4b" ? { ...m, cores: 3 } : m)) };
    startMockRuntime({ project: "numa-k3s", stack: "single" });
    const k8s = await import("@pulumi/kubernetes");
    const { SlmWorkerPool } = await import("../../components/SlmWorkerPool");
    const provider = new k8s.Provider("k8s", { kubeconfig: KUBECONFIG });
    expect(() => new SlmWorkerPool("slm", { config: tooBig, vms: slmVms("single"), provider })).toThrow(
      /^numa-k3s:slm\.models: VM k3s-worker-slm does not hold its models: CPU: models 6 \(gemma-4b 6\) \+ Temporal worker 2 = 8 CPUs > allocatable 6 \(8 vCPUs - 2 of the system core\); at most 2 cores in all for its models$/,
    );
    await settle();
    expect(recordedResources().filter((r) => r.type.startsWith("numa-k3s:slm") || r.type.startsWith("kubernetes:apps"))).toEqual([]);
  });
});

describe("SlmWorkerPool against the numa-guard policy pack", () => {
  it.each(LAYOUT_NAMES)("%s: the pack's slm-guaranteed rule recognises every model server and finds nothing wrong", async (layout) => {
    const { resources } = await deploy(layout);
    const { checkModelServers } = await import("../../policy/rules/workload-rules");
    const { contextFromStack } = await import("../../policy/rules/context");
    const objects = resources.filter((r) => r.type.startsWith("kubernetes:")).map((r) => ({ resource: r.name, type: r.type, props: r.inputs }));
    const pods = objects.filter((o) => o.type === "kubernetes:apps/v1:Deployment").map((o) => (o.props.spec as { template: { spec: Record<string, unknown>; metadata: { labels: Record<string, unknown> } } }).template);
    // The label the pack tells a model server by (the broken copy below proves it looks).
    expect(pods.every((t) => t.metadata.labels["app.kubernetes.io/component"] === "model-server")).toBe(true);
    const ctx = contextFromStack(join(__dirname, "../.."), layout);
    expect(checkModelServers(objects, ctx)).toEqual([]);
    // The rule is not blind: an init container asking for less than its limit is caught.
    const broken = JSON.parse(JSON.stringify(objects.find((o) => o.type === "kubernetes:apps/v1:Deployment")!));
    broken.props.spec.template.spec.initContainers[0].resources.requests.memory = "256Mi";
    expect(checkModelServers([broken], ctx).map((f) => f.rule)).toEqual(["slm-guaranteed"]);
  });
});
