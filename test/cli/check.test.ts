// npm run check on real renders: each shipped stack passes as rendered, and each rule, broken by
// hand in a copy of a render in several ways, is reported as exactly that rule (and nothing else).
// What is judged is compared with what the stack decided (its lock, its VMs, its captures), so a
// domain the plan does not know, a binding the plan does not make or a workload on the wrong VM
// is caught even where the artefact is consistent with itself.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readRender, renderContext } from "../../cli/check";
import { checkAll } from "../../policy/rules/check-all";
import { contextFromStack } from "../../policy/rules/context";
import { stackNames } from "../../stacks/stack-inputs";
import { renderDomainXml } from "../../topology/domain-xml";
import { TestDriver } from "../libvirt-test-driver";
import { modelServerOf, tempProject, TempProject } from "../policy/projects";
import { requireTools } from "../tools";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
// Every stack the repository ships; the breaks below are written against these.
const STACKS = stackNames(ROOT);
let work: string;
const renders: Record<string, string> = {};

function cli(script: string, args: string[], cwd = ROOT) {
  const r = spawnSync(TSX, [join(ROOT, "cli", script), ...args], { cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "numa-check-"));
  for (const stack of STACKS) {
    renders[stack] = join(work, stack);
    const r = cli("render.ts", ["--stack", stack, "--out", renders[stack]]);
    if (r.code !== 0) throw new Error(`render ${stack}: ${r.stderr}`);
  }
}, 180000);
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

function write(file: string, text: string): void {
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, text);
}

/** Rule ids of the findings on a render directory of `stack` in project `project`. */
function rulesOf(dir: string, stack: string, project = ROOT): string[] {
  return checkAll(readRender(dir).inputs, renderContext(dir, project, stack)).map((f) => f.rule);
}

const domain = (dir: string, vm: string) => join(dir, "domains", `${vm}.xml`);
/** A break that replaces `from` by `to` in VM `vm`'s domain. */
const inDomain = (vm: string, from: string | RegExp, to: string) => (dir: string) => edit(domain(dir, vm), from, to);
const pins = (threads: number[]) => threads.map((t, v) => `<vcpupin vcpu="${v}" cpuset="${t}"/>`).join("\n    ");

describe("npm run check", () => {
  test("the shipped stacks include the layouts the breaks use", () => {
    expect(STACKS).toEqual(expect.arrayContaining(["single", "mac-numa", "distributed", "single-two-hosts"]));
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

  test("a render whose directory names no stack is exit 2 until --stack says which", () => {
    const dir = copyOf("single");
    const r = cli("check.ts", [dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/which stack is it a render of\? .*pass --stack NAME$/)]);
    expect(cli("check.ts", [dir, "--stack", "single"]).code).toBe(0);
  });

  test("a violation is exit 1 with one line per violation: rule id, resource, why", () => {
    const dir = copyOf("single");
    edit(domain(dir, "k3s-worker-slm"), '<memory mode="strict" nodeset="1"/>', '<memory mode="strict" nodeset="0"/>');
    const r = cli("check.ts", [dir, "--stack", "single"]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split("\n")).toEqual(["memory-strict-local domains/k3s-worker-slm.xml: VM k3s-worker-slm numatune strict 0; the plan binds its memory strict to node 1"]);
  });
});

/** A model server selecting `selector` (and, when given, by affinity instead). */
function modelServer(cpu: string, nodeSelector: Record<string, string> | null, affinity?: Record<string, string[]>): string {
  const terms = affinity ? `      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [ { matchExpressions: ${JSON.stringify(Object.entries(affinity).map(([key, values]) => ({ key, operator: "In", values })))} } ] } } }\n` : "";
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: slm-heavy, namespace: slm }
spec:
  replicas: 1
  selector: { matchLabels: { app: slm-heavy } }
  template:
    metadata: { labels: { app: slm-heavy, numa-k3s.io/workload: slm } }
    spec:
${nodeSelector ? `      nodeSelector: ${JSON.stringify(nodeSelector)}\n` : ""}${terms}      containers:
        - name: server
          image: ghcr.io/ggml-org/llama.cpp:server
          resources:
            requests: { cpu: "${cpu}", memory: 64Gi }
            limits: { cpu: "${cpu}", memory: 64Gi }
`;
}

/** A ConfigMap with `data`, as render writes Kubernetes objects. */
const configMap = (data: Record<string, string>) => `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: lake-client, namespace: slm }\ndata: ${JSON.stringify(data)}\n`;
const TOKEN = "K10" + "a".repeat(64) + "::server:5f1d2c3b4a596877";

/** Two VMs each given the other's first core (vCPUs 0 and 1): whole, exclusive cores still. */
const tradeFirstCores = (a: string, aCore: number[], b: string, bCore: number[]) => (dir: string) => {
  edit(domain(dir, a), pins(aCore), pins(bCore));
  edit(domain(dir, b), pins(bCore), pins(aCore));
};

type Break = [rule: string, stack: string, what: string, breakIt: (dir: string) => void];
// Each break touches one thing; its rule alone reports it.
const BREAKS: Break[] = [
  // vcpu-single-node: vCPUs off the plan's node, with whole, exclusive cores kept.
  ["vcpu-single-node", "single", "one core traded between the node-1 and the node-0 worker", tradeFirstCores("k3s-worker-slm", [24, 60], "k3s-worker-slm-heavy", [0, 36])],
  ["vcpu-single-node", "single-two-hosts", "on numa-02, one core traded between the node-0 and the node-1 VM", tradeFirstCores("k3s-worker-slm-2a", [0, 36], "k3s-worker-slm-2b", [18, 54])],
  // memory-strict-local: memory bound elsewhere than the plan binds it.
  ["memory-strict-local", "single", "numatune and memnode on the other node", inDomain("k3s-worker-slm", /nodeset="1"/g, 'nodeset="0"')],
  ["memory-strict-local", "single", "memnode alone on the other node than the vCPUs", inDomain("k3s-worker-slm", '<memnode cellid="0" mode="strict" nodeset="1"/>', '<memnode cellid="0" mode="strict" nodeset="0"/>')],
  ["memory-strict-local", "single", "memnode preferred instead of strict", inDomain("k3s-worker-data", '<memnode cellid="0" mode="strict"', '<memnode cellid="0" mode="preferred"')],
  ["memory-strict-local", "distributed", "numatune interleaved over both nodes", inDomain("k3s-worker-2", '<memory mode="strict" nodeset="1"/>', '<memory mode="interleave" nodeset="0-1"/>')],
  ["memory-strict-local", "mac-numa", "no numatune at all", inDomain("k3s-slm-worker-2", /  <numatune>[\s\S]*?<\/numatune>\n/, "")],
  // whole-cores: the vCPUs no longer whole cores in sibling order, or the guest told otherwise.
  ["whole-cores", "single", "sibling threads no longer adjacent", inDomain("k3s-worker-slm", '<vcpupin vcpu="1" cpuset="60"/>\n    <vcpupin vcpu="2" cpuset="25"/>', '<vcpupin vcpu="1" cpuset="25"/>\n    <vcpupin vcpu="2" cpuset="60"/>')],
  ["whole-cores", "single", "a guest topology of single-thread cores", inDomain("k3s-worker-slm", 'cores="4" threads="2"', 'cores="8" threads="1"')],
  ["whole-cores", "single", "a vCPU pinned to a whole core's two threads (it floats between them)", inDomain("k3s-worker-slm", '<vcpupin vcpu="0" cpuset="24"/>', '<vcpupin vcpu="0" cpuset="24,60"/>')],
  ["whole-cores", "single", "the guest NUMA cell holding half the vCPUs", inDomain("k3s-worker-slm", '<cell id="0" cpus="0-7"', '<cell id="0" cpus="0-3"')],
  // emulator-isolated: emulator threads or an iothread not where the plan pins them.
  ["emulator-isolated", "single", "emulator threads on another VM's vCPUs", inDomain("k3s-worker-slm", '<emulatorpin cpuset="34-35,70-71"/>', '<emulatorpin cpuset="18,54"/>')],
  ["emulator-isolated", "single", "a second iothread left unpinned", inDomain("k3s-worker-slm", "<iothreads>1</iothreads>", "<iothreads>2</iothreads>")],
  ["emulator-isolated", "single", "the iothread pinned to the other node's reserved cores", inDomain("k3s-worker-slm", '<iothreadpin iothread="1" cpuset="34-35,70-71"/>', '<iothreadpin iothread="1" cpuset="16-17,52-53"/>')],
  ["emulator-isolated", "distributed", "no emulatorpin at all", inDomain("k3s-worker-1", /\n *<emulatorpin [^\n]*/, "")],
  // no-shared-pcpu: a host thread that is a vCPU of two VMs.
  ["no-shared-pcpu", "single", "the node-1 worker's first core is the data VM's first core too", inDomain("k3s-worker-slm", '<vcpupin vcpu="0" cpuset="24"/>\n    <vcpupin vcpu="1" cpuset="60"/>', '<vcpupin vcpu="0" cpuset="18"/>\n    <vcpupin vcpu="1" cpuset="54"/>')],
  ["no-shared-pcpu", "single", "the server's last core is the node-1 worker's last core too", inDomain("k3s-server-tasks", '<vcpupin vcpu="10" cpuset="33"/>\n    <vcpupin vcpu="11" cpuset="69"/>', '<vcpupin vcpu="10" cpuset="27"/>\n    <vcpupin vcpu="11" cpuset="63"/>')],
  // node-capacity: memory or huge pages other than the plan sizes them.
  ["node-capacity", "single", "1 GiB pages the plan does not give it (and node 1 does not have)", inDomain("k3s-worker-slm", "<vcpu ", '<memoryBacking>\n    <hugepages>\n      <page size="1048576" unit="KiB" nodeset="0"/>\n    </hugepages>\n  </memoryBacking>\n  <vcpu ')],
  ["node-capacity", "single", "<hugepages/> without <page>: the host's default size", inDomain("k3s-worker-slm", "<vcpu ", "<memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n  <vcpu ")],
  ["node-capacity", "single", "twice the memory the plan gives it", inDomain("k3s-worker-slm", /33554432/g, "67108864")],
  ["node-capacity", "distributed", "currentMemory ballooned below its memory", inDomain("k3s-worker-1", /<currentMemory unit="KiB">\d+</, '<currentMemory unit="KiB">1048576<')],
  // domain-matches-plan: what the plan does not say, and the pack cannot judge.
  ["domain-matches-plan", "single", "a real-time scheduler on the vCPUs", inDomain("k3s-worker-slm", "<emulatorpin ", '<vcpusched vcpus="0-7" scheduler="fifo" priority="1"/>\n    <emulatorpin ')],
  ["domain-matches-plan", "single", "numad placing the vCPUs", inDomain("k3s-worker-data", '<vcpu placement="static">', '<vcpu placement="auto">')],
  ["domain-matches-plan", "single", "QEMU arguments libvirt passes through unread", inDomain("k3s-worker-data", "</domain>", '  <qemu:commandline xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">\n    <qemu:arg value="-numa"/>\n  </qemu:commandline>\n</domain>')],
  ["domain-matches-plan", "mac-numa", "a memfd memory source", inDomain("k3s-slm-worker-2", "<vcpu ", '<memoryBacking>\n    <source type="memfd"/>\n  </memoryBacking>\n  <vcpu ')],
  // kubelet-matches-plan: a k8s node not as its VM's planned placement and role make it.
  ["kubelet-matches-plan", "single", "reservedSystemCPUs two cores wide", (dir) => edit(join(dir, "k3s/k3s-worker-slm/kubelet.yaml"), "reservedSystemCPUs: 0-1", "reservedSystemCPUs: 0-3")],
  ["kubelet-matches-plan", "mac-numa", "the CPU manager off", (dir) => edit(join(dir, "k3s/k3s-slm-worker-2/kubelet.yaml"), "cpuManagerPolicy: static", "cpuManagerPolicy: none")],
  ["kubelet-matches-plan", "distributed", "K3s without the derived kubelet.yaml", (dir) => rmSync(join(dir, "k3s/k3s-worker-1/kubelet.yaml"))],
  ["kubelet-matches-plan", "single", "the data VM labelled as an SLM node", (dir) => edit(join(dir, "k3s/k3s-worker-data/config.yaml"), "numa-k3s.io/workload=data", "numa-k3s.io/workload=slm")],
  ["kubelet-matches-plan", "single", "the node-1 worker labelled with node 0", (dir) => edit(join(dir, "k3s/k3s-worker-slm/config.yaml"), "numa-k3s.io/numa-node=1", "numa-k3s.io/numa-node=0")],
  // slm-guaranteed: a model server not Guaranteed on whole cores of an SLM VM of the plan.
  [
    "slm-guaranteed",
    "single",
    "a shipped model server pinned (nodeSelector) to the data VM",
    (dir) => {
      const { file, vm } = modelServerOf(dir);
      edit(file, `kubernetes.io/hostname: ${vm}\n`, "kubernetes.io/hostname: k3s-worker-data\n");
      edit(file, /numa-k3s.io\/workload: slm\n( +)terminationGracePeriodSeconds/, "numa-k3s.io/workload: data\n$1terminationGracePeriodSeconds");
    },
  ],
  ["slm-guaranteed", "single", "a model server pinned by node affinity to the data VM", (dir) => write(join(dir, "k8s/Deployment-slm-extra.yaml"), modelServer("2", null, { "kubernetes.io/hostname": ["k3s-worker-data"] }))],
  ["slm-guaranteed", "single", "a model server on 3 CPUs (not whole cores)", (dir) => write(join(dir, "k8s/Deployment-slm-extra.yaml"), modelServer("3", { "kubernetes.io/hostname": "k3s-worker-slm-heavy" }))],
  ["slm-guaranteed", "single", "a model server that selects no node", (dir) => write(join(dir, "k8s/Deployment-slm-extra.yaml"), modelServer("2", { "numa-k3s.io/workload": "slm" }))],
  ["slm-guaranteed", "single", "an init container asking less than its limit", (dir) => edit(modelServerOf(dir).file, /requests:\n( +)cpu: "(\d+)"\n( +)memory: 512Mi/, 'requests:\n$1cpu: "$2"\n$3memory: 256Mi')],
  // no-public-console.
  ["no-public-console", "single", "VNC on every address", inDomain("k3s-worker-data", "<memballoon", '<graphics type="vnc" port="-1" autoport="yes" listen="0.0.0.0">\n      <listen type="address" address="0.0.0.0"/>\n    </graphics>\n    <memballoon')],
  ["no-public-console", "distributed", "SPICE with no listen address of its own", inDomain("k3s-worker-1", "<memballoon", '<graphics type="spice" autoport="yes"/>\n    <memballoon')],
  // secrets-stay-secret: a token, password or key in the clear, in any quoting.
  ["secrets-stay-secret", "single", "a private key in a command", (dir) => write(join(dir, "commands/numa-01-host-prepare.create.sh"), "set -e\ncat >/root/.ssh/id_ed25519 <<'KEY'\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\nKEY\n")],
  ["secrets-stay-secret", "single", "K3S_TOKEN='...' (single quotes)", (dir) => write(join(dir, "commands/join.create.sh"), `curl -sfL https://get.k3s.io | K3S_URL=https://192.168.50.10:6443 K3S_TOKEN='${TOKEN}' sh -\n`)],
  ["secrets-stay-secret", "single", 'K3S_TOKEN="..." (double quotes, exported)', (dir) => write(join(dir, "commands/join.create.sh"), `export K3S_TOKEN="hunter2-cluster-secret"\nk3s agent\n`)],
  ["secrets-stay-secret", "single", "K3S_TOKEN=$'...' (ANSI-C quotes)", (dir) => write(join(dir, "commands/join.create.sh"), `K3S_TOKEN=$'s3cr3t-t0ken' k3s agent --server https://192.168.50.10:6443\n`)],
  ["secrets-stay-secret", "single", "k3s agent --token VALUE", (dir) => write(join(dir, "commands/join.create.sh"), "k3s agent --server https://192.168.50.10:6443 --token s3cr3t-t0ken\n")],
  ["secrets-stay-secret", "single", "k3s agent --token='VALUE'", (dir) => write(join(dir, "commands/join.create.sh"), "k3s agent --server https://192.168.50.10:6443 --token='s3cr3t-t0ken'\n")],
  ["secrets-stay-secret", "single", "k3s agent -t VALUE", (dir) => write(join(dir, "commands/join.create.sh"), "k3s agent -s https://192.168.50.10:6443 -t s3cr3t-t0ken\n")],
  ["secrets-stay-secret", "single", "the K3s token's own shape, named nothing", (dir) => write(join(dir, "commands/join.create.sh"), `echo ${TOKEN} > /tmp/t\n`)],
  ["secrets-stay-secret", "single", "an S3 secret key in a ConfigMap, by its key's name", (dir) => write(join(dir, "k8s/ConfigMap-lake-client.yaml"), configMap({ AWS_ACCESS_KEY_ID: "lake-admin", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }))],
  ["secrets-stay-secret", "single", "an S3 secret key inside a ConfigMap's JSON", (dir) => write(join(dir, "k8s/ConfigMap-lake-client.yaml"), configMap({ "s3.json": '{"identities":[{"name":"admin","credentials":[{"accessKey":"admin","secretKey":"Zm9vYmFyYmF6cXV4"}]}]}' }))],
  ["secrets-stay-secret", "single", "an S3 secret key in a ConfigMap under an innocent name", (dir) => write(join(dir, "k8s/ConfigMap-lake-client.yaml"), configMap({ lake: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }))],
  ["secrets-stay-secret", "single", "a password in an annotation", (dir) => edit(modelServerOf(dir).file, "prometheus.io/path: /metrics", 'prometheus.io/path: /metrics\n        numa-k3s.io/basic-auth-password: "hunter2-hunter2"')],
  ["secrets-stay-secret", "single", "a password on a container's command line", (dir) => edit(modelServerOf(dir).file, "- --metrics\n", "- --metrics\n            - --api-key\n            - sk-live-0123456789\n")],
  ["secrets-stay-secret", "single", "a literal credential in a Helm release's values", (dir) => write(join(dir, "k8s/HelmRelease-extra.yaml"), "kind: HelmRelease\nchart: seaweedfs\nrepository: https://seaweedfs.github.io/seaweedfs/helm\nversion: 4.0.0\nvalues:\n  s3:\n    secretKey: hunter2-hunter2\n")],
  ["secrets-stay-secret", "single", "a password inside a database URL in an env var", (dir) => edit(modelServerOf(dir).file, "- name: S3_REGION\n", "- name: DATABASE_URL\n              value: postgres://temporal:hunter2@postgres:5432/temporal\n            - name: S3_REGION\n")],
];

describe("each rule, broken by hand, is caught as exactly that rule", () => {
  const haveLibvirt = requireTools("test/cli/check.test.ts", [["virsh", "libvirt-clients"]]);
  let driver: TestDriver | undefined;
  beforeAll(() => {
    if (haveLibvirt) driver = new TestDriver();
  });
  afterAll(() => driver?.dispose());

  test.each(BREAKS)("%s (%s): %s", (rule, stack, _what, breakIt) => {
    const dir = copyOf(stack);
    expect(rulesOf(dir, stack)).toEqual([]);
    breakIt(dir);
    const rules = rulesOf(dir, stack);
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules)).toEqual(new Set([rule]));
    // A broken domain is one libvirt accepts: the pack is judging a real input, not a typo.
    if (driver)
      for (const f of readdirSync(join(dir, "domains"))) {
        const xml = readFileSync(join(dir, "domains", f), "utf8");
        if (xml !== readFileSync(join(renders[stack], "domains", f), "utf8")) expect(() => driver!.defineAndDump(xml, f.replace(/\.xml$/, ""))).not.toThrow();
      }
  });

  test("harmless neighbours of the secrets breaks are not flagged: references, files, Secret objects and their refs", () => {
    const dir = copyOf("single");
    write(join(dir, "commands/join.create.sh"), 'K3S_TOKEN="$(cat /etc/rancher/k3s/cluster-token)" k3s agent --token-file /etc/rancher/k3s/cluster-token --token "$TOKEN"\nexport K3S_TOKEN=${K3S_TOKEN:?}\n');
    write(join(dir, "k8s/Secret-extra.yaml"), 'apiVersion: v1\nkind: Secret\nmetadata: { name: extra, annotations: { password: "hunter2-hunter2" } }\nstringData: { AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }\n');
    write(join(dir, "k8s/ConfigMap-lake-client.yaml"), configMap({ S3_ENDPOINT: "http://seaweedfs:8333", tokenFile: "/var/run/secrets/token", checksum: "0".repeat(64) }));
    edit(modelServerOf(dir).file, "- name: S3_REGION\n", "- name: API_TOKEN\n              valueFrom: { secretKeyRef: { name: slm-lake-credentials, key: token } }\n            - name: S3_REGION\n");
    expect(rulesOf(dir, "single")).toEqual([]);
  });

  test("the same shipped model server, moved to another SLM VM of the plan (its node label too), is no violation", () => {
    const dir = copyOf("single");
    const { file, vm } = modelServerOf(dir);
    const plan = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as { vms: { name: string; node: number }[] };
    const to = ["k3s-worker-slm", "k3s-worker-slm-heavy"].find((name) => name !== vm)!;
    const node = (name: string) => plan.vms.find((p) => p.name === name)!.node;
    edit(file, `kubernetes.io/hostname: ${vm}\n`, `kubernetes.io/hostname: ${to}\n`);
    edit(file, `numa-k3s.io/numa-node: "${node(vm)}"`, `numa-k3s.io/numa-node: "${node(to)}"`);
    expect(rulesOf(dir, "single")).toEqual([]);
  });
});

describe("against the plan, in a stack with free cores", () => {
  // `single` with the server one core smaller: node 1 then has one free core (33,69).
  let project: TempProject;
  beforeAll(() => {
    project = tempProject("free", "single", (text) => {
      const at = text.indexOf("name: k3s-server-tasks");
      return text.slice(0, at) + text.slice(at).replace("cores: 6", "cores: 5");
    });
  }, 120000);
  afterAll(() => rmSync(project.dir, { recursive: true, force: true }));

  const free = () => {
    const plan = JSON.parse(readFileSync(join(project.render, "plan.json"), "utf8"));
    return plan.hosts[0].nodes.find((n: { id: number }) => n.id === 1).freeThreads as number[];
  };
  const copy = () => {
    const dir = join(work, `broken-${copies++}`);
    cpSync(project.render, dir, { recursive: true });
    return dir;
  };

  test("the stack's own render passes, and node 1 has one free core", () => {
    expect(rulesOf(project.render, "free", project.dir)).toEqual([]);
    expect(free()).toEqual([33, 69]);
  });

  test("an extra domain on the free core, in neither the stack nor its lock, is domain-matches-plan", () => {
    const dir = copy();
    const xml = renderDomainXml(
      { name: "rogue", host: "numa-01", node: 1, vcpus: 2, vcpupin: free(), emulatorpin: [34, 35, 70, 71], iothreadpin: [34, 35, 70, 71], memoryKiB: 1048576, numatune: { mode: "strict", nodeset: [1] }, topology: { sockets: 1, dies: 1, cores: 1, threads: 2 }, hugepages: null, emulator: "shared" },
      { osDisk: { path: "/var/lib/libvirt/images/rogue.qcow2" }, cloudInitIso: { path: "/var/lib/libvirt/images/rogue.iso" }, network: { mac: "52:54:00:00:00:99" } },
    );
    writeFileSync(domain(dir, "rogue"), xml);
    const findings = checkAll(readRender(dir).inputs, renderContext(dir, project.dir, "free"));
    expect(findings).toEqual([{ rule: "domain-matches-plan", resource: "domains/rogue.xml", message: "domains/rogue.xml: domain rogue is a VM of neither Pulumi.free.yaml nor hosts/free.lock.json: nothing decided where it runs" }]);
  });

  test("a VM's core moved to the free core (whole, exclusive, on its node) is domain-matches-plan, naming the plan's threads", () => {
    const dir = copy();
    edit(domain(dir, "k3s-worker-slm"), '<vcpupin vcpu="6" cpuset="27"/>\n    <vcpupin vcpu="7" cpuset="63"/>', `${pins([24, 60, 25, 61, 26, 62, ...free()]).split("\n    ").slice(6).join("\n    ")}`);
    const findings = checkAll(readRender(dir).inputs, renderContext(dir, project.dir, "free"));
    expect(findings).toEqual([
      { rule: "domain-matches-plan", resource: "domains/k3s-worker-slm.xml", message: "domains/k3s-worker-slm.xml: VM k3s-worker-slm vCPU 6 on thread 33, 7 on thread 69; the plan pins them to 27, 63" },
    ]);
  });
});

describe("a multi-host stack whose VMs leave out `host` (the planner chooses)", () => {
  // Pulumi.single-two-hosts.yaml without host: and node: keys, locked by `npm run plan -- --lock`.
  let project: TempProject;
  beforeAll(() => {
    project = tempProject("hostless", "single-two-hosts", (text) => text.replace(/^ {6}(host|node): [^\n]*\n/gm, ""));
  }, 120000);
  afterAll(() => rmSync(project.dir, { recursive: true, force: true }));

  test("the stack names no host for any VM, and two hosts", () => {
    const text = readFileSync(join(project.dir, "Pulumi.hostless.yaml"), "utf8");
    expect(text).not.toMatch(/^ {6}host:/m);
    expect(text).toMatch(/- name: numa-02/);
  });

  test("the pack's context takes each VM's host from the plan (no crash), and the render passes", () => {
    const ctx = contextFromStack(project.dir, "hostless");
    const lock = JSON.parse(readFileSync(join(project.dir, "hosts/hostless.lock.json"), "utf8")) as { vms: { name: string; host: string }[] };
    expect(new Set(lock.vms.map((vm) => vm.host))).toEqual(new Set(["numa-01", "numa-02"]));
    for (const vm of lock.vms) expect([vm.name, ctx.vms.get(vm.name)?.placement?.host]).toEqual([vm.name, vm.host]);
    expect(rulesOf(project.render, "hostless", project.dir)).toEqual([]);
    expect(cli("check.ts", [project.render, "--stack", "hostless"], project.dir).code).toBe(0);
  });

  test("grown to two hosts: VMs that name their node but not their host are on the host their lock holds", () => {
    const grown = tempProject("grown", "single-two-hosts", (text) => text.replace(/^ {6}host: numa-01\n/gm, ""), true);
    try {
      expect(readFileSync(join(grown.dir, "Pulumi.grown.yaml"), "utf8")).not.toMatch(/host: numa-01/);
      const ctx = contextFromStack(grown.dir, "grown");
      expect(ctx.vms.get("k3s-worker-data")?.placement?.host).toBe("numa-01");
      expect(rulesOf(grown.render, "grown", grown.dir)).toEqual([]);
    } finally {
      rmSync(grown.dir, { recursive: true, force: true });
    }
  }, 120000);

  test("a domain of it broken by hand is still caught as its rule", () => {
    const dir = join(work, `broken-${copies++}`);
    cpSync(project.render, dir, { recursive: true });
    const victim = readdirSync(join(dir, "domains")).find((f) => existsSync(join(dir, "domains", f)))!;
    edit(join(dir, "domains", victim), /<memnode cellid="0" mode="strict" nodeset="(\d)"\/>/, '<memnode cellid="0" mode="interleave" nodeset="0-1"/>');
    expect(new Set(rulesOf(dir, "hostless", project.dir))).toEqual(new Set(["memory-strict-local"]));
  });
});
