// The pack's policies on the resources the real program registers (the `single` stack under the
// mock runtime, as `npm run render` runs it), called the way @pulumi/policy 1.21 calls them:
// fabricated args with notApplicable and stackTags, secrets as the SDK's Secret instances (what
// policy/secret-aware.ts makes the runtime hand over).
import { resolve } from "node:path";
import { offlineAnswers, recordedResources, settle, startMockRuntime, SECRET_SIG_KEY } from "../../cli/mock-runtime";
import { CLUSTER_NAME } from "../../stacks/cluster";
import { pulumiConfig } from "../../cli/render";
import { placeRequest } from "../../stacks/place-stack";
import { readStackInputs } from "../../stacks/stack-inputs";
import { policies } from "../../policy/rules/policies";
import { RULES } from "../../policy/rules/model";
import { tempProject } from "./projects";
import { readdirSync, readFileSync as readText, rmSync } from "node:fs";
import { join } from "node:path";

const ROOT = resolve(__dirname, "../..");

/** The SDK's Secret class as the policies see it (same name, same shape). */
class Secret {
  constructor(public value: unknown) {}
}

/** Mock-wrapped secrets (`{sig, value}`) as Secret instances. */
function asPolicyProps(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asPolicyProps);
  if (v && typeof v === "object") {
    if (SECRET_SIG_KEY in v) return new Secret(asPolicyProps((v as unknown as { value: unknown }).value));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asPolicyProps(x)]));
  }
  return v;
}

class NotApplicable extends Error {}
const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason);
};

interface Res {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
}
let resources: Res[];

beforeAll(async () => {
  const inputs = readStackInputs(ROOT, "single");
  const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
  process.env.NUMA_K3S_RENDER = "1";
  const { config, secretKeys } = pulumiConfig(ROOT, "single");
  const { HostCheck } = await import("../../components/HostCheck");
  const { K3sControlPlane } = await import("../../components/K3sControlPlane");
  const { readFileSync } = await import("node:fs");
  const captures = Object.fromEntries(inputs.request.hosts.map((h) => [h.name, readFileSync(resolve(ROOT, h.capabilities), "utf8")]));
  startMockRuntime({
    project: "numa-k3s",
    stack: "single",
    config,
    secretConfigKeys: secretKeys,
    // Answered as render answers them: the host check with the capture, the kubeconfig read with one.
    commandStdout: offlineAnswers(captures, { hostCheck: (host) => HostCheck.commandName(`${host}-host-check`), kubeconfig: K3sControlPlane.kubeconfigCommandName(CLUSTER_NAME) }),
  });
  const { runProgram } = await import("../../stacks/program");
  runProgram(ROOT, { inputs, placed });
  await settle();
  resources = recordedResources()
    .filter((r) => r.custom)
    .map((r) => ({ type: r.type, name: r.name, urn: r.urn ?? `urn:pulumi:single::numa-k3s::${r.type}::${r.name}`, props: asPolicyProps(r.inputs) as Record<string, unknown> }));
}, 60000);

function byName(name: string) {
  return policies.find((p) => p.name === name)!;
}

/** Messages a policy reports on `rs` (all of them for a stack policy, one at a time otherwise),
 * with the pack configured by `config`. */
function run(name: string, rs: Res[], config: object = {}): string[] {
  // Called as the SDK calls them: with the full 1.21 args, of which the policies read a few.
  type Validate = (args: unknown, report: (message: string) => void) => void;
  const p = byName(name) as unknown as { validateResource?: Validate; validateStack?: Validate };
  const out: string[] = [];
  const report = (message: string) => out.push(message);
  const common = { getConfig: <T extends object>() => config as T, notApplicable, stackTags: new Map<string, string>() };
  const attempt = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof NotApplicable)) throw e;
    }
  };
  if (p.validateStack) attempt(() => p.validateStack!({ ...common, resources: rs.map((r) => ({ ...r, dependencies: [], propertyDependencies: {}, opts: {} })) }, report));
  else for (const r of rs) attempt(() => p.validateResource!({ ...common, ...r, opts: {} }, report));
  return out;
}

function replaced(name: string, change: (props: Record<string, unknown>) => Record<string, unknown>): Res[] {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource ${name}`);
  return resources.map((r) => (r.name === name ? { ...r, props: change(r.props) } : r));
}

test("one policy per rule, each mandatory", () => {
  expect(policies.map((p) => p.name).sort()).toEqual([...RULES].sort());
  for (const p of policies) expect(p.enforcementLevel).toBe("mandatory");
});

test("the program's own resources break no rule (the kubelet is read from the install's secret stdin)", () => {
  expect(resources.some((r) => r.name.endsWith("-domain"))).toBe(true);
  expect(resources.some((r) => r.props.stdin instanceof Secret)).toBe(true);
  for (const p of policies) expect([p.name, run(p.name, resources)]).toEqual([p.name, []]);
});

test("a domain command whose XML puts memory on the other node is refused by memory-strict-local, naming it", () => {
  const rs = replaced("k3s-worker-slm-domain", (p) => ({ ...p, stdin: String(p.stdin).replace(/nodeset="1"/g, 'nodeset="0"') }));
  expect(run("memory-strict-local", rs)).toEqual([
    "k3s-worker-slm-domain: VM k3s-worker-slm numatune strict 0; the plan binds its memory strict to node 1",
    "k3s-worker-slm-domain: VM k3s-worker-slm memnode of guest cell 0 is strict 0; the plan binds its memory strict to node 1",
  ]);
  expect(run("vcpu-single-node", rs)).toEqual([]);
});

test("no-shared-pcpu (stack) sees two domains pinning one core", () => {
  const rs = replaced("k3s-worker-slm-domain", (p) => ({ ...p, stdin: String(p.stdin).replace('cpuset="24"', 'cpuset="18"').replace('cpuset="60"', 'cpuset="54"') }));
  expect(run("no-shared-pcpu", rs)).toEqual([
    "k3s-worker-slm-domain: VM k3s-worker-slm thread 18 is also a vCPU of k3s-worker-data",
    "k3s-worker-slm-domain: VM k3s-worker-slm thread 54 is also a vCPU of k3s-worker-data",
  ]);
});

test("kubelet-matches-plan reads the kubelet inside the K3s install's secret stdin", () => {
  const install = resources.find((r) => r.name.endsWith("-k3s") && r.props.stdin instanceof Secret && String((r.props.stdin as Secret).value).includes("kubelet.yaml "))!;
  const payload = String((install.props.stdin as Secret).value);
  const broken = payload
    .split("\n")
    .map((line) => {
      if (!line.startsWith("kubelet.yaml ")) return line;
      const yaml = Buffer.from(line.slice(13), "base64").toString("utf8").replace("cpuManagerPolicy: static", "cpuManagerPolicy: none");
      return `kubelet.yaml ${Buffer.from(yaml).toString("base64")}`;
    })
    .join("\n");
  const rs = replaced(install.name, (p) => ({ ...p, stdin: new Secret(broken) }));
  expect(run("kubelet-matches-plan", rs)).toEqual([expect.stringMatching(/^\S+-k3s: kubelet configuration of \w+ \S+: cpuManagerPolicy is "none", the placement gives "static"$/)]);
});

test("secrets-stay-secret: a private key in a command's text fires; the same key as a secret does not", () => {
  const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----";
  const name = resources.find((r) => r.name.endsWith("-seed"))!.name;
  expect(run("secrets-stay-secret", replaced(name, (p) => ({ ...p, create: `echo '${key}' > k` })))).toEqual([
    `${name}: create carries a private key in the clear (command text shows in diffs and logs; send it as a secret on stdin)`,
  ]);
  expect(run("secrets-stay-secret", replaced(name, (p) => ({ ...p, create: new Secret(`echo '${key}' > k`) })))).toEqual([]);
});

test("secrets-stay-secret on a Helm release: a literal S3 secret key fires, a Pulumi secret passes", () => {
  const chart = (secretKey: unknown): Res => ({
    type: "kubernetes:helm.sh/v4:Chart",
    name: "seaweedfs",
    urn: "urn:pulumi:single::numa-k3s::kubernetes:helm.sh/v4:Chart::seaweedfs",
    props: { chart: "seaweedfs", version: "4.0.0", values: { s3: { secretKey } } },
  });
  expect(run("secrets-stay-secret", [chart("plain-and-visible")])).toEqual(["seaweedfs: values.s3.secretKey is a literal credential; pass it as a Pulumi secret or an existing Secret"]);
  expect(run("secrets-stay-secret", [chart(new Secret("hidden"))])).toEqual([]);
});

test("slm-guaranteed on a Deployment: burstable CPU fires, naming the container", () => {
  const deployment = (limits: Record<string, string>): Res => ({
    type: "kubernetes:apps/v1:Deployment",
    name: "slm-heavy",
    urn: "urn:pulumi:single::numa-k3s::kubernetes:apps/v1:Deployment::slm-heavy",
    props: {
      metadata: { name: "slm-heavy" },
      spec: {
        template: {
          metadata: { labels: { "numa-k3s.io/workload": "slm" } },
          spec: { nodeSelector: { "kubernetes.io/hostname": "k3s-worker-slm-heavy" }, containers: [{ name: "server", resources: { requests: { cpu: "2", memory: "8Gi" }, limits } }] },
        },
      },
    },
  });
  expect(run("slm-guaranteed", [deployment({ cpu: "2", memory: "8Gi" })])).toEqual([]);
  expect(run("slm-guaranteed", [deployment({ cpu: "4", memory: "8Gi" })])).toEqual(["slm-heavy: container server requests cpu 2 but is limited to 4: the pod is not Guaranteed"]);
});

test("a resource a per-resource policy does not judge is marked not applicable", () => {
  const p = byName("whole-cores") as unknown as { validateResource: (args: unknown, report: () => void) => void };
  const seed = resources.find((r) => r.name.endsWith("-seed"))!;
  expect(() => p.validateResource({ ...seed, opts: {}, getConfig: () => ({}), notApplicable, stackTags: new Map() }, () => undefined)).toThrow(NotApplicable);
});

/** Every policy's messages on `rs`, as `rule: message`. */
function all(rs: Res[], config: object = {}): string[] {
  return policies.flatMap((p) => run(p.name, rs, config).map((m) => `${p.name}: ${m}`));
}

const replaceIn = (name: string, from: string | RegExp, to: string) =>
  replaced(name, (p) => {
    const text = p.stdin instanceof Secret ? String(p.stdin.value) : String(p.stdin);
    const next = text.replace(from, to);
    if (next === text) throw new Error(`${name}: ${from} not found`);
    return { ...p, stdin: p.stdin instanceof Secret ? new Secret(next) : next };
  });
const withCreate = (name: string, create: string) => replaced(name, (p) => ({ ...p, create }));
const added = (r: Omit<Res, "urn">): Res[] => [...resources, { ...r, urn: `urn:pulumi:single::numa-k3s::${r.type}::${r.name}` }];

/** The eight the pack once missed, through the policies as a preview hands them the resources. */
const MISSED: [string, () => Res[], string][] = [
  ["memnode on another node than the vCPUs", () => replaceIn("k3s-worker-slm-domain", '<memnode cellid="0" mode="strict" nodeset="1"/>', '<memnode cellid="0" mode="strict" nodeset="0"/>'), "memory-strict-local"],
  ["<hugepages/> without <page>", () => replaceIn("k3s-worker-slm-domain", "<vcpu ", "<memoryBacking><hugepages/></memoryBacking><vcpu "), "node-capacity"],
  ["a second iothread left unpinned", () => replaceIn("k3s-worker-slm-domain", "<iothreads>1</iothreads>", "<iothreads>2</iothreads>"), "emulator-isolated"],
  [
    "a model server pinned to the data VM",
    () =>
      replaced("slm-gemma-2b", (p) => {
        const copy = JSON.parse(JSON.stringify(p)) as { spec: { template: { spec: { nodeSelector: Record<string, string> } } } };
        copy.spec.template.spec.nodeSelector = { "kubernetes.io/hostname": "k3s-worker-data" };
        return copy as unknown as Record<string, unknown>;
      }),
    "slm-guaranteed",
  ],
  [
    "an extra domain the plan does not know",
    () => {
      const slm = resources.find((r) => r.name === "k3s-worker-slm-domain")!;
      return added({ type: slm.type, name: "rogue-domain", props: { ...slm.props, stdin: String(slm.props.stdin).replace("<name>k3s-worker-slm</name>", "<name>rogue</name>") } });
    },
    "domain-matches-plan",
  ],
  ["K3S_TOKEN='...' in a command", () => withCreate("k3s-worker-slm-seed", "K3S_TOKEN='s3cr3t-t0ken' k3s agent"), "secrets-stay-secret"],
  ["k3s agent --token ... in a command", () => withCreate("k3s-worker-slm-seed", "k3s agent --token s3cr3t-t0ken"), "secrets-stay-secret"],
  [
    "an S3 secret key in a ConfigMap, under a name that does not say so",
    () => added({ type: "kubernetes:core/v1:ConfigMap", name: "lake-client", props: { metadata: { name: "lake-client" }, data: { lake: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" } } }),
    "secrets-stay-secret",
  ],
];

test.each(MISSED)("%s is refused by exactly its rule, through the pack's policies", (_what, broken, rule) => {
  const found = all(broken());
  expect(found.length).toBeGreaterThan(0);
  expect(new Set(found.map((m) => m.slice(0, m.indexOf(":"))))).toEqual(new Set([rule]));
});

describe("a multi-host stack whose VMs leave out `host`", () => {
  let project: ReturnType<typeof tempProject>;
  let domains: Res[];
  beforeAll(() => {
    project = tempProject("hostless", "single-two-hosts", (text) => text.replace(/^ {6}(host|node): [^\n]*\n/gm, ""));
    domains = readdirSync(join(project.render, "domains")).map((f) => {
      const name = `${f.replace(/\.xml$/, "")}-domain`;
      return { type: "command:remote:Command", name, urn: `urn:pulumi:hostless::numa-k3s::command:remote:Command::${name}`, props: { create: "true", stdin: readText(join(project.render, "domains", f), "utf8") } };
    });
  }, 120000);
  afterAll(() => rmSync(project.dir, { recursive: true, force: true }));

  test("every policy runs (each VM's host from the plan) and finds its domains as planned", () => {
    expect(domains).toHaveLength(6);
    expect(all(domains, { projectDir: project.dir })).toEqual([]);
  });

  test("a domain of it pinned elsewhere is still refused", () => {
    const broken = domains.map((d, i) => (i === 0 ? { ...d, props: { ...d.props, stdin: String(d.props.stdin).replace(/<emulatorpin cpuset="[^"]*"\/>/, '<emulatorpin cpuset="0"/>') } } : d));
    expect(new Set(all(broken, { projectDir: project.dir }).map((m) => m.slice(0, m.indexOf(":"))))).toEqual(new Set(["emulator-isolated"]));
  });
});
