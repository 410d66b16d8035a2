// npm run check on real renders of the three shipped stacks: each passes as rendered, and each
// rule, broken by hand in a copy of a render, is reported as exactly that rule.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readRender } from "../../cli/check";
import { checkAll } from "../../policy/rules/check-all";
import { contextFromPlan } from "../../policy/rules/context";
import { stackNames } from "../../stacks/stack-inputs";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
// Every stack the repository ships; the breaks below are written against these three.
const STACKS = stackNames(ROOT);
let work: string;
const renders: Record<string, string> = {};

function cli(script: string, args: string[]) {
  const r = spawnSync(TSX, [join(ROOT, "cli", script), ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "numa-check-"));
  for (const stack of STACKS) {
    renders[stack] = join(work, `render-${stack}`);
    const r = cli("render.ts", ["--stack", stack, "--out", renders[stack]]);
    if (r.code !== 0) throw new Error(`render ${stack}: ${r.stderr}`);
  }
}, 120000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

let copies = 0;
/** A fresh copy of a stack's render, to break. */
function copyOf(stack: string): string {
  const dir = join(work, `broken-${copies++}`);
  cpSync(renders[stack], dir, { recursive: true });
  return dir;
}

function edit(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, "utf8");
  const next = text.replace(from, to);
  if (next === text) throw new Error(`${file}: ${from} not found: the test no longer breaks anything`);
  writeFileSync(file, next);
}

/** Rule ids of the findings on a render directory (the CLI's own reading and checks). */
function rulesOf(dir: string): string[] {
  const { plan, inputs } = readRender(dir);
  return checkAll(inputs, contextFromPlan(ROOT, plan)).map((f) => f.rule);
}

const domain = (dir: string, vm: string) => join(dir, "domains", `${vm}.xml`);

describe("npm run check", () => {
  test("the shipped stacks include the three layouts the breaks use", () => {
    expect(STACKS).toEqual(expect.arrayContaining(["single", "mac-numa", "distributed"]));
  });

  test.each(STACKS)("the shipped stack %s passes: exit 0, nothing printed on stdout", (stack) => {
    const r = cli("check.ts", [renders[stack]]);
    expect(r.stderr).toContain("every rule holds");
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
  });

  test("a directory that is no render is exit 2, in one line", () => {
    const empty = join(work, "empty");
    mkdirSync(empty);
    const r = cli("check.ts", [empty]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("not a render");
  });

  test("a violation is exit 1 with one line per violation: rule id, resource, why", () => {
    const dir = copyOf("single");
    edit(domain(dir, "k3s-worker-slm"), '<memory mode="strict" nodeset="1"/>', '<memory mode="strict" nodeset="0"/>');
    const r = cli("check.ts", [dir]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toEqual([expect.stringMatching(/^memory-strict-local domains\/k3s-worker-slm\.xml: VM k3s-worker-slm numatune strict 0 is not strict to node 1$/)]);
  });

  // Each break touches one thing, and is caught as exactly its rule (and nothing else).
  const breaks: [string, (dir: string) => void][] = [
    [
      "vcpu-single-node",
      // One whole core of the node-1 worker traded for one of the node-0 worker: both keep whole,
      // exclusive cores, but each now has vCPUs on the other node.
      (dir) => {
        edit(domain(dir, "k3s-worker-slm"), '<vcpupin vcpu="0" cpuset="24"/>\n    <vcpupin vcpu="1" cpuset="60"/>', '<vcpupin vcpu="0" cpuset="0"/>\n    <vcpupin vcpu="1" cpuset="36"/>');
        edit(domain(dir, "k3s-worker-slm-heavy"), '<vcpupin vcpu="0" cpuset="0"/>\n    <vcpupin vcpu="1" cpuset="36"/>', '<vcpupin vcpu="0" cpuset="24"/>\n    <vcpupin vcpu="1" cpuset="60"/>');
      },
    ],
    ["memory-strict-local", (dir) => edit(domain(dir, "k3s-worker-slm"), /nodeset="1"/g, 'nodeset="0"')],
    // Sibling threads no longer adjacent: vCPUs 0-1 are threads 24 and 25, two halves of two cores.
    ["whole-cores", (dir) => edit(domain(dir, "k3s-worker-slm"), '<vcpupin vcpu="1" cpuset="60"/>\n    <vcpupin vcpu="2" cpuset="25"/>', '<vcpupin vcpu="1" cpuset="25"/>\n    <vcpupin vcpu="2" cpuset="60"/>')],
    ["emulator-isolated", (dir) => edit(domain(dir, "k3s-worker-slm"), '<emulatorpin cpuset="34-35,70-71"/>', '<emulatorpin cpuset="18,54"/>')],
    // The node-1 worker's first core is the data VM's first core too.
    ["no-shared-pcpu", (dir) => edit(domain(dir, "k3s-worker-slm"), '<vcpupin vcpu="0" cpuset="24"/>\n    <vcpupin vcpu="1" cpuset="60"/>', '<vcpupin vcpu="0" cpuset="18"/>\n    <vcpupin vcpu="1" cpuset="54"/>')],
    // 1 GiB pages the host's node 1 does not have.
    ["node-capacity", (dir) => edit(domain(dir, "k3s-worker-slm"), "<vcpu ", '<memoryBacking>\n    <hugepages>\n      <page size="1048576" unit="KiB" nodeset="0"/>\n    </hugepages>\n  </memoryBacking>\n  <vcpu ')],
    ["kubelet-matches-plan", (dir) => edit(join(dir, "k3s/k3s-worker-slm/kubelet.yaml"), "reservedSystemCPUs: 0-1", "reservedSystemCPUs: 0-3")],
    ["no-public-console", (dir) => edit(domain(dir, "k3s-worker-data"), "<memballoon", '<graphics type="vnc" port="-1" autoport="yes" listen="0.0.0.0">\n      <listen type="address" address="0.0.0.0"/>\n    </graphics>\n    <memballoon')],
    [
      "secrets-stay-secret",
      (dir) => writeFileSync(join(dir, "commands/numa-01-host-prepare.create.sh"), "set -e\ncat >/root/.ssh/id_ed25519 <<'KEY'\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\nKEY\n"),
    ],
  ];
  test.each(breaks)("%s, broken by hand, is caught as exactly that rule", (rule, breakIt) => {
    const dir = copyOf("single");
    expect(rulesOf(dir)).toEqual([]);
    breakIt(dir);
    const rules = rulesOf(dir);
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules)).toEqual(new Set([rule]));
  });

  test("the same breaks on the other stacks: mac-numa's kubelet, distributed's numatune", () => {
    const mac = copyOf("mac-numa");
    edit(join(mac, "k3s/k3s-slm-worker-2/kubelet.yaml"), "cpuManagerPolicy: static", "cpuManagerPolicy: none");
    expect(new Set(rulesOf(mac))).toEqual(new Set(["kubelet-matches-plan"]));
    const dist = copyOf("distributed");
    edit(domain(dist, "k3s-worker-2"), '<memory mode="strict" nodeset="1"/>', '<memory mode="interleave" nodeset="0-1"/>');
    expect(new Set(rulesOf(dist))).toEqual(new Set(["memory-strict-local"]));
  });

  test("two hosts: a thread id in use on both is no sharing; the same core twice on one host is no-shared-pcpu", () => {
    const dir = copyOf("single-two-hosts");
    // k3s-worker-slm-2b (numa-02) and k3s-worker-data (numa-01) both start at threads 18,54: the
    // shipped render passes, so the check tells hosts apart.
    expect(readFileSync(domain(dir, "k3s-worker-slm-2b"), "utf8")).toContain('<vcpupin vcpu="0" cpuset="18"/>');
    expect(readFileSync(domain(dir, "k3s-worker-data"), "utf8")).toContain('<vcpupin vcpu="0" cpuset="18"/>');
    expect(rulesOf(dir)).toEqual([]);
    edit(domain(dir, "k3s-worker-slm-2b"), /<vcpupin vcpu="2" cpuset="\d+"\/>\n    <vcpupin vcpu="3" cpuset="\d+"\/>/, '<vcpupin vcpu="2" cpuset="18"/>\n    <vcpupin vcpu="3" cpuset="54"/>');
    expect(new Set(rulesOf(dir))).toEqual(new Set(["no-shared-pcpu"]));
  });
});

/** A model server as the SLM layer would write it (k8s/<kind>-<name>.yaml). */
function modelServer(cpu: string, nodeSelector: Record<string, string>): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: slm-heavy, namespace: slm }
spec:
  replicas: 1
  selector: { matchLabels: { app: slm-heavy } }
  template:
    metadata: { labels: { app: slm-heavy, numa-k3s.io/workload: slm } }
    spec:
      nodeSelector: ${JSON.stringify(nodeSelector)}
      containers:
        - name: server
          image: ghcr.io/ggml-org/llama.cpp:server
          resources:
            requests: { cpu: "${cpu}", memory: 64Gi }
            limits: { cpu: "${cpu}", memory: 64Gi }
`;
}

describe("npm run check: files render does not write yet, in policy/README.md's layout", () => {
  test("a render without k3s/ or k8s/ has nothing of theirs to check", () => {
    const dir = copyOf("single");
    rmSync(join(dir, "k3s"), { recursive: true });
    expect(rulesOf(dir)).toEqual([]);
  });

  test("a model server that is Guaranteed on whole cores of a named VM passes; 3 CPUs, or no node, is slm-guaranteed", () => {
    const dir = copyOf("single");
    mkdirSync(join(dir, "k8s"), { recursive: true });
    writeFileSync(join(dir, "k8s/deployment-slm-heavy.yaml"), modelServer("30", { "kubernetes.io/hostname": "k3s-worker-slm-heavy" }));
    expect(rulesOf(dir)).toEqual([]);
    writeFileSync(join(dir, "k8s/deployment-slm-heavy.yaml"), modelServer("3", { "kubernetes.io/hostname": "k3s-worker-slm-heavy" }));
    expect(rulesOf(dir)).toEqual(["slm-guaranteed"]);
    writeFileSync(join(dir, "k8s/deployment-slm-heavy.yaml"), modelServer("30", { "numa-k3s.io/workload": "slm" }));
    expect(rulesOf(dir)).toEqual(["slm-guaranteed"]);
  });

  test("a pod that only runs on SLM nodes (the Temporal worker) is no model server; a key name beside existingSecret is no credential", () => {
    const dir = copyOf("single");
    mkdirSync(join(dir, "k8s"), { recursive: true });
    writeFileSync(
      join(dir, "k8s/DaemonSet-worker.yaml"),
      "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: { name: worker }\nspec:\n  template:\n    metadata: { labels: { app: worker } }\n    spec:\n      nodeSelector: { workload: slm }\n      containers: [{ name: worker, image: w }]\n",
    );
    writeFileSync(
      join(dir, "k8s/HelmRelease-db.yaml"),
      "kind: HelmRelease\nchart: temporal\nrepository: https://go.temporal.io/helm-charts\nversion: 0.1.0\nvalues:\n  sql: { existingSecret: temporal-db, secretKey: password, user: temporal }\n",
    );
    expect(rulesOf(dir)).toEqual([]);
    // The same pod labelled as a model server is judged as one (no node, no limits).
    edit(join(dir, "k8s/DaemonSet-worker.yaml"), "labels: { app: worker }", "labels: { app: worker, app.kubernetes.io/component: model-server }");
    expect(new Set(rulesOf(dir))).toEqual(new Set(["slm-guaranteed"]));
  });

  test("a Helm release's literal credential, or a kubeconfig in a ConfigMap, is secrets-stay-secret; a redacted one passes", () => {
    const dir = copyOf("single");
    mkdirSync(join(dir, "k8s"), { recursive: true });
    const release = (secretKey: string) =>
      `kind: HelmRelease\nchart: seaweedfs\nrepository: https://seaweedfs.github.io/seaweedfs/helm\nversion: 4.0.0\nvalues:\n  s3:\n    enabled: true\n    secretKey: ${JSON.stringify(secretKey)}\n    existingConfigSecret: seaweedfs-s3\n`;
    writeFileSync(join(dir, "k8s/helmrelease-seaweedfs.yaml"), release("[secret]"));
    expect(rulesOf(dir)).toEqual([]);
    writeFileSync(join(dir, "k8s/helmrelease-seaweedfs.yaml"), release("hunter2-hunter2"));
    expect(rulesOf(dir)).toEqual(["secrets-stay-secret"]);
    rmSync(join(dir, "k8s/helmrelease-seaweedfs.yaml"));
    writeFileSync(
      join(dir, "k8s/configmap-kubeconfig.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: admin }\ndata:\n  config: |\n    users:\n    - name: default\n      user:\n        client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t\n",
    );
    expect(rulesOf(dir)).toEqual(["secrets-stay-secret"]);
  });

  test("a k8s node that is a VM but runs K3s without the derived kubelet.yaml is kubelet-matches-plan", () => {
    const dir = copyOf("distributed");
    rmSync(join(dir, "k3s/k3s-worker-1/kubelet.yaml"));
    expect(rulesOf(dir)).toEqual(["kubelet-matches-plan"]);
  });
});
