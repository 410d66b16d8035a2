// Every pod each shipped stack runs has a k8s node that admits it, and they all fit together.
// Nodes come from the stack's own render (`npm run render`): each k8s node's config.yaml (labels,
// taints, disabled add-ons) and kubelet.yaml (reserved CPUs, reserved memory, eviction) with the
// VM's size from the plan. Pods: every Kubernetes object the program creates, each chart's pods as
// far as the values we pass fix their placement and requests, and the add-ons K3s deploys itself
// (test/fixtures/k3s/packaged-addons.json). The scheduler model and what it leaves out:
// test/platform/scheduler.ts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { parseQuantity } from "../../platform/args";
import { parseCpuset } from "../../topology/cpuset";
import type { VmPlacement } from "../../topology/placement";
import { Container, Effect, MatchExpression, Node, Pod, Toleration, podRequests, schedule } from "./scheduler";

const root = resolve(__dirname, "../..");
const MiB = 2 ** 20;
const addons = JSON.parse(readFileSync(join(root, "test/fixtures/k3s/packaged-addons.json"), "utf8")) as {
  pods: { name: string; disable: string; replicas: number; nodeSelector: Record<string, string>; tolerations: Toleration[]; requests: { cpu?: string; memory?: string } }[];
};

/**
 * Machines the stack files do not size: the Mac's Lima VM is sized by lima.yaml; the bare-metal
 * data server of `distributed` is the Xeon E3-1270 v6 of docs/reference-layouts.md (4 cores, 8
 * threads, 64 GB). Neither runs our kubelet file, so nothing is reserved for the system there; the
 * K3s server process (API server, datastore, controllers) lives outside pods, so the model keeps
 * 1.5 GiB of such a server from pods: the scheduler itself would allow it, the machine would not.
 */
const BARE_METAL: Record<string, { cpus: number; memoryMiB: number }> = { "k3s-data-server": { cpus: 8, memoryMiB: 64 * 1024 } };
const UNRESERVED_SERVER_MIB = 1536;

/** A guest's MemTotal is its memory less the kernel's page map (1/64), as slm/capacity.ts counts it. */
const memTotalMiB = (memoryMiB: number) => memoryMiB - Math.ceil(memoryMiB / 64);

function render(stack: string): string {
  const out = mkdtempSync(join(tmpdir(), `schedule-${stack}-`));
  const r = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "cli/render.ts"), "--stack", stack, "--out", out], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`render --stack ${stack} exited ${r.status}: ${r.stderr}`);
  return out;
}

function taintOf(text: string): { key: string; value?: string; effect: Effect } {
  const [kv, effect] = text.split(":");
  const [key, value] = kv.split("=");
  return { key, ...(value !== undefined ? { value } : {}), effect: effect as Effect };
}

function nodesOf(out: string): { nodes: Node[]; disabled: string[] } {
  const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { vms: VmPlacement[] };
  const lima = existsSync(join(out, "k3s/lima.yaml")) ? parse(readFileSync(join(out, "k3s/lima.yaml"), "utf8")) : undefined;
  let disabled: string[] = [];
  const nodes = readdirSync(join(out, "k3s"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e): Node => {
      const config = parse(readFileSync(join(out, "k3s", e.name, "config.yaml"), "utf8"));
      const name: string = config["node-name"];
      const server = config.server === undefined;
      if (server) disabled = config.disable ?? [];
      const labels: Record<string, string> = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        ...(server ? { "node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true" } : {}),
        ...Object.fromEntries((config["node-label"] ?? []).map((l: string) => l.split("=") as [string, string])),
      };
      const taints = (config["node-taint"] ?? []).map(taintOf);
      const kubeletFile = join(out, "k3s", e.name, "kubelet.yaml");
      const vm = plan.vms.find((v) => v.name === name);
      if (existsSync(kubeletFile) && vm) {
        const k = parse(readFileSync(kubeletFile, "utf8"));
        const memoryMiB = Math.floor(vm.memoryKiB / 1024);
        const reserved = parseQuantity(k.systemReserved.memory) + parseQuantity(k.kubeReserved.memory) + parseQuantity(k.evictionHard["memory.available"]);
        const fullCores = k.cpuManagerPolicy === "static" && k.cpuManagerPolicyOptions?.["full-pcpus-only"] === "true";
        return {
          name,
          labels,
          taints,
          allocatable: { cpuMilli: (vm.vcpus - parseCpuset(k.reservedSystemCPUs).length) * 1000, memory: memTotalMiB(memoryMiB) * MiB - reserved },
          ...(fullCores ? { staticCpu: { threadsPerCore: vm.topology.threads } } : {}),
        };
      }
      const size = BARE_METAL[name] ?? (lima && { cpus: lima.cpus, memoryMiB: parseQuantity(lima.memory.replace(/iB$/, "i")) / MiB });
      if (!size) throw new Error(`no size known for k8s node ${name}`);
      return { name, labels, taints, allocatable: { cpuMilli: size.cpus * 1000, memory: (memTotalMiB(size.memoryMiB) - (server ? UNRESERVED_SERVER_MIB : 0)) * MiB } };
    });
  return { nodes, disabled };
}

type Resources = { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } } | undefined;
const cpu = (q: string | undefined) => (q === undefined ? undefined : Math.round(parseQuantity(q) * 1000));
const mem = (q: string | undefined) => (q === undefined ? undefined : parseQuantity(q));
function container(name: string, r: Resources): Container {
  // A limit without a request is also the request (the API server defaults it so).
  const limits = { cpuMilli: cpu(r?.limits?.cpu), memory: mem(r?.limits?.memory) };
  return { name, requests: { cpuMilli: cpu(r?.requests?.cpu) ?? limits.cpuMilli ?? 0, memory: mem(r?.requests?.memory) ?? limits.memory ?? 0 }, limits };
}

/** A pod of a chart, from the values we pass it (the chart's own templates are not expanded here). */
function chartPod(what: string, placed: { nodeSelector?: unknown; tolerations?: unknown }, resources: Resources, daemon = false): Pod {
  const yamlOr = <T>(v: unknown, empty: T): T => (typeof v === "string" ? (parse(v) as T) : ((v as T) ?? empty));
  return {
    what: `chart ${what}`,
    nodeSelector: yamlOr(placed.nodeSelector, {}),
    tolerations: yamlOr(placed.tolerations, []),
    containers: [container(what, resources)],
    initContainers: [],
    daemon,
    replicas: 1,
  };
}

/** The pods each chart runs, from the values we pass it: chart by chart, what its templates place. */
function chartPods(chart: string, v: any): Pod[] {
  switch (chart) {
    case "seaweedfs":
      return [chartPod("seaweedfs", v.allInOne, v.allInOne.resources), ...(v.admin?.enabled ? [chartPod("seaweedfs-admin", v.admin, v.admin.resources)] : [])];
    case "victoria-metrics-single":
    case "victoria-logs-single":
      return [chartPod(chart, v.server, v.server.resources)];
    case "victoria-metrics-agent":
      return [chartPod("vmagent", v, v.resources)];
    case "victoria-metrics-alert":
      return [chartPod("vmalert", v.server, v.server.resources), ...(v.alertmanager?.enabled ? [chartPod("alertmanager", v.alertmanager, v.alertmanager.resources)] : [])];
    case "victoria-logs-collector":
      return [chartPod("log-collector", v, v.resources, true)];
    case "temporal":
      return [
        ...["frontend", "history", "matching", "worker"].map((s) => chartPod(`temporal-${s}`, v.server[s], v.server[s].resources)),
        chartPod("temporal-web", v.web, v.web.resources),
        // The schema and namespace Jobs run one after the other: one at a time.
        chartPod("temporal-schema-job", v.admintools, v.schema.resources),
      ];
    default:
      throw new Error(`scheduling test: no pod table for chart ${chart}`);
  }
}

function objectPod(o: any): Pod {
  const spec = o.spec.template.spec;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms as { matchExpressions?: MatchExpression[] }[] | undefined;
  return {
    what: `${o.kind}/${o.metadata.name}`,
    nodeSelector: spec.nodeSelector ?? {},
    ...(terms ? { affinity: terms.map((t) => t.matchExpressions ?? []) } : {}),
    tolerations: spec.tolerations ?? [],
    containers: spec.containers.map((c: any) => container(c.name, c.resources)),
    initContainers: (spec.initContainers ?? []).map((c: any) => container(c.name, c.resources)),
    daemon: o.kind === "DaemonSet",
    replicas: o.kind === "Deployment" || o.kind === "StatefulSet" ? (o.spec.replicas ?? 1) : 1,
  };
}

function podsOf(out: string, disabled: string[]): { ours: Pod[]; addons: Pod[] } {
  const docs = readdirSync(join(out, "k8s")).map((f) => parse(readFileSync(join(out, "k8s", f), "utf8")));
  const ours = [
    ...docs.filter((d) => d.kind === "HelmRelease").flatMap((d) => chartPods(d.chart, d.values)),
    ...docs.filter((d) => ["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(d.kind)).map(objectPod),
  ];
  const k3s = addons.pods
    .filter((a) => !disabled.includes(a.disable))
    .map((a): Pod => ({ what: `k3s ${a.name}`, nodeSelector: a.nodeSelector, tolerations: a.tolerations, containers: [container(a.name, { requests: a.requests })], initContainers: [], daemon: false, replicas: a.replicas }));
  return { ours, addons: k3s };
}

describe.each(["mac-numa", "single", "single-two-hosts", "distributed"])("stack %s: every pod has a k8s node, and all fit", (stack) => {
  let out: string;
  let nodes: Node[];
  let ours: Pod[];
  let k3s: Pod[];
  beforeAll(() => {
    out = render(stack);
    const n = nodesOf(out);
    nodes = n.nodes;
    ({ ours, addons: k3s } = podsOf(out, n.disabled));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("K3s's own add-ons (cluster DNS, the local-path provisioner, metrics-server) are admitted by some k8s node", () => {
    expect(k3s.map((p) => p.what).sort()).toEqual(["k3s coredns", "k3s local-path-provisioner", "k3s metrics-server"]);
    const s = schedule(nodes, k3s);
    expect(s.unplaced).toEqual([]);
  });

  it("every pod asks for memory, and for CPU unless it is a per-node agent (platform/victoria.ts NODE_AGENT_RESOURCES says why)", () => {
    expect(ours.filter((p) => podRequests(p).memory === 0).map((p) => p.what)).toEqual([]);
    expect(ours.filter((p) => podRequests(p).cpuMilli === 0).map((p) => p.what).sort()).toEqual(["DaemonSet/node-exporter", "chart log-collector"]);
  });

  it("every pod lands, and the pods fit every node's allocatable together (model and limits: test/platform/scheduler.ts)", () => {
    const s = schedule(nodes, [...k3s, ...ours]);
    const report = nodes.map((n) => {
      const u = s.used.get(n.name)!;
      return `${n.name} ${(u.cpuMilli / 1000).toFixed(2)}/${n.allocatable.cpuMilli / 1000} CPU, ${Math.round(u.memory / MiB)}/${Math.round(n.allocatable.memory / MiB)} MiB`;
    });
    console.log(`${stack}: ${report.join("; ")}`);
    expect(s.unplaced).toEqual([]);
    // Every model server landed on the VM the plan gave it, not merely somewhere.
    for (const p of ours.filter((p) => p.what.startsWith("Deployment/slm-"))) {
      const host = p.nodeSelector["kubernetes.io/hostname"];
      expect({ pod: p.what, on: s.byNode.get(host)?.includes(p.what) }).toEqual({ pod: p.what, on: true });
    }
  });
});
