// The pack as the Pulumi CLI runs it: @pulumi/pulumi's run-policy-pack starts policy/index.ts under
// ts-node (type-checked) from a copy that has no root node_modules (only `npm ci` in policy/), and
// answers the engine's Analyze and AnalyzeStack calls over gRPC. Checks what a unit test cannot: the
// relative imports of ../topology resolve from the pack's own node_modules, rules are mandatory, a
// secret value reaches the pack as a secret (policy/secret-aware.ts), and a broken stack is
// refused by the rule that owns the break, in the repository's layout and in a copy staged by
// policy/stage.sh (what `pulumi policy publish` uploads).
// Needs `npm ci --prefix policy`; without the pack's node_modules there is no pack to run.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SECRET_SIG_KEY, SECRET_SIG_VALUE } from "../../cli/mock-runtime";
import { modelServerOf, tempProject, TempProject } from "./projects";

const ROOT = resolve(__dirname, "../..");
const PACK_MODULES = join(ROOT, "policy/node_modules");
const installed = existsSync(join(PACK_MODULES, "@pulumi/policy"));
// What the pack imports by relative path (policy/stage.sh copies the same).
const PACK_IMPORTS = ["topology", "common", "k3s"];
const PACK = ["index.ts", "modules.ts", "secret-aware.ts", "rules", "package.json", "tsconfig.json", "PulumiPolicy.yaml"];

/* eslint-disable @typescript-eslint/no-require-imports */
const load = (m: string) => require(join(PACK_MODULES, m));

interface Diagnostic {
  getPolicyname(): string;
  getMessage(): string;
  getEnforcementlevel(): number;
}
interface Resource {
  type: string;
  name: string;
  stack?: string;
  props: Record<string, unknown>;
}

/** How the engine sends a value it does not know yet (the SDK's unknown sentinel). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const secret = (value: string) => ({ [SECRET_SIG_KEY]: SECRET_SIG_VALUE, value });

// The project the pack judges against: the single stack and its lock, and a two-host stack whose
// VMs name no host, planned and locked with `npm run plan -- --lock`.
let project: string;
let single: string;
let hostless: TempProject;

beforeAll(() => {
  if (!installed) return;
  project = mkdtempSync(join(tmpdir(), "numa-pack-project-"));
  for (const p of ["Pulumi.yaml", "Pulumi.single.yaml", "hosts"]) cpSync(join(ROOT, p), join(project, p), { recursive: true });
  hostless = tempProject("hostless", "single-two-hosts", (text) => text.replace(/^ {6}(host|node): [^\n]*\n/gm, ""));
  copyFileSync(join(hostless.dir, "Pulumi.hostless.yaml"), join(project, "Pulumi.hostless.yaml"));
  copyFileSync(join(hostless.dir, "hosts/hostless.lock.json"), join(project, "hosts/hostless.lock.json"));
  single = join(project, "render-single");
  execFileSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "cli/render.ts"), "--stack", "single", "--out", single], { cwd: project, stdio: "ignore" });
}, 180000);
afterAll(() => {
  for (const d of [project, hostless?.dir]) if (d) rmSync(d, { recursive: true, force: true });
});

/** Where the pack runs from: the repository's layout (policy/ beside the project code), or a copy
 * staged by policy/stage.sh for `pulumi policy publish` (told the project by NUMA_K3S_PROJECT_DIR). */
const LAYOUTS = ["repository", "staged"] as const;

(installed ? describe.each(LAYOUTS) : describe.skip.each(LAYOUTS))("the pack under run-policy-pack, %s layout", (layout) => {
  let dir: string;
  let pack: ChildProcess;
  type Call = (req: unknown, cb: (err: Error | null, res: { getDiagnosticsList(): Diagnostic[] }) => void) => void;
  let client: { analyze: Call; analyzeStack: Call; close(): void };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "numa-pack-"));
    let packDir: string;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NUMA_K3S_PROJECT_DIR;
    if (layout === "repository") {
      // The pack finds the project above itself: the project's files, the pack beside them.
      cpSync(project, dir, { recursive: true });
      for (const p of PACK_IMPORTS) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
      for (const p of PACK) cpSync(join(ROOT, "policy", p), join(dir, "policy", p), { recursive: true });
      packDir = join(dir, "policy");
    } else {
      packDir = join(dir, "staged");
      execFileSync("bash", [join(ROOT, "policy/stage.sh"), packDir], { stdio: "ignore" });
      env.NUMA_K3S_PROJECT_DIR = project;
    }
    symlinkSync(PACK_MODULES, join(packDir, "node_modules"));
    pack = spawn(process.execPath, [join(PACK_MODULES, "@pulumi/pulumi/cmd/run-policy-pack"), "127.0.0.1:1", "."], { cwd: packDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    pack.stderr!.on("data", (d) => (stderr += d));
    const port = await new Promise<string>((resolvePort, reject) => {
      pack.stdout!.on("data", (d: Buffer) => {
        const m = /^(\d+)\s*$/m.exec(d.toString());
        if (m) resolvePort(m[1]);
      });
      pack.on("exit", (code) => reject(new Error(`the pack exited (${code}) before serving: ${stderr}`)));
    });
    const grpc = load("@grpc/grpc-js");
    const { AnalyzerClient } = load("@pulumi/pulumi/proto/analyzer_grpc_pb");
    client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }, 120000);

  afterAll(() => {
    client?.close();
    if (pack && pack.exitCode === null) pack.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function message(r: Resource, Of: { new (): any }) {
    const { AnalyzerResourceOptions } = load("@pulumi/pulumi/proto/analyzer_pb");
    const { Struct } = load("google-protobuf/google/protobuf/struct_pb");
    const req = new Of();
    req.setType(r.type);
    req.setName(r.name);
    req.setUrn(`urn:pulumi:${r.stack ?? "single"}::numa-k3s::${r.type}::${r.name}`);
    req.setProperties(Struct.fromJavaScript(r.props));
    // Options are always sent by the engine (the SDK refuses a request without them).
    req.setOptions(new AnalyzerResourceOptions());
    return req;
  }
  function analyze(r: Resource): Promise<Diagnostic[]> {
    const req = message(r, load("@pulumi/pulumi/proto/analyzer_pb").AnalyzeRequest);
    return new Promise((res, rej) => client.analyze(req, (err, reply) => (err ? rej(err) : res(reply.getDiagnosticsList()))));
  }
  function analyzeStack(rs: Resource[]): Promise<Diagnostic[]> {
    const { AnalyzeStackRequest, AnalyzerResource } = load("@pulumi/pulumi/proto/analyzer_pb");
    const req = new AnalyzeStackRequest();
    req.setResourcesList(rs.map((r) => message(r, AnalyzerResource)));
    return new Promise((res, rej) => client.analyzeStack(req, (err, reply) => (err ? rej(err) : res(reply.getDiagnosticsList()))));
  }
  const named = (ds: Diagnostic[]) => ds.map((d) => [d.getPolicyname(), d.getEnforcementlevel()]);

  /** The domain commands of a render, as a preview sends them (connection and triggers unknown). */
  function domains(render: string, stack: string): Resource[] {
    return readdirSync(join(render, "domains")).map((f) => ({
      type: "command:remote:Command",
      name: `${f.replace(/\.xml$/, "")}-domain`,
      stack,
      props: { stdin: readFileSync(join(render, "domains", f), "utf8"), create: "true", connection: UNKNOWN, triggers: UNKNOWN },
    }));
  }
  const domainOf = (vm: string) => domains(single, "single").find((d) => d.name === `${vm}-domain`)!;
  const edited = (r: Resource, from: string | RegExp, to: string): Resource => {
    const stdin = String(r.props.stdin);
    if (stdin.replace(from, to) === stdin) throw new Error(`${r.name}: ${from} not found`);
    return { ...r, props: { ...r.props, stdin: stdin.replace(from, to) } };
  };

  test("the stack's domains pass one by one and as a stack", async () => {
    for (const d of domains(single, "single")) expect([d.name, await analyze(d)]).toEqual([d.name, []]);
    expect(await analyzeStack(domains(single, "single"))).toEqual([]);
  }, 120000);

  test("a domain command whose memory is on the other node is a mandatory memory-strict-local violation", async () => {
    const diagnostics = await analyze(edited(domainOf("k3s-worker-slm"), /nodeset="1"/g, 'nodeset="0"'));
    expect(named(diagnostics)).toEqual([
      ["memory-strict-local", 1],
      ["memory-strict-local", 1],
    ]);
    expect(diagnostics[0].getMessage()).toContain("k3s-worker-slm-domain: VM k3s-worker-slm numatune strict 0; the plan binds its memory strict to node 1");
  }, 60000);

  test("a broken stack: memnode on the other node, an unpinned iothread, a rogue domain, two VMs on one core", async () => {
    expect(named(await analyze(edited(domainOf("k3s-worker-slm"), '<memnode cellid="0" mode="strict" nodeset="1"/>', '<memnode cellid="0" mode="strict" nodeset="0"/>')))).toEqual([["memory-strict-local", 1]]);
    const rogue = edited({ ...domainOf("k3s-worker-slm"), name: "rogue-domain" }, "<name>k3s-worker-slm</name>", "<name>rogue</name>");
    expect(named(await analyze(rogue))).toEqual([["domain-matches-plan", 1]]);
    // Stack policies see every domain at once.
    const stack = domains(single, "single").map((d) =>
      d.name === "k3s-worker-slm-domain" ? edited(edited(d, "<iothreads>1</iothreads>", "<iothreads>2</iothreads>"), '<vcpupin vcpu="0" cpuset="24"/>\n    <vcpupin vcpu="1" cpuset="60"/>', '<vcpupin vcpu="0" cpuset="18"/>\n    <vcpupin vcpu="1" cpuset="54"/>') : d,
    );
    const diagnostics = await analyzeStack(stack);
    expect(named(diagnostics).sort()).toEqual([
      ["emulator-isolated", 1],
      ["no-shared-pcpu", 1],
      ["no-shared-pcpu", 1],
    ]);
    expect(diagnostics.map((d) => d.getMessage()).join("\n")).toContain("iothread 2 has no <iothreadpin>");
  }, 60000);

  test("a model server pinned to the data VM, and the K3s token quoted in a command, are refused", async () => {
    const { file, vm } = modelServerOf(single);
    const doc = load("yaml").parse(readFileSync(file, "utf8").replace(`kubernetes.io/hostname: ${vm}\n`, "kubernetes.io/hostname: k3s-worker-data\n"));
    expect(named(await analyze({ type: "kubernetes:apps/v1:Deployment", name: "slm-gemma-2b", props: doc }))).toEqual([["slm-guaranteed", 1]]);
    expect(named(await analyze({ type: "command:remote:Command", name: "join", props: { create: 'K3S_TOKEN="s3cr3t-t0ken" k3s agent' } }))).toEqual([["secrets-stay-secret", 1]]);
    expect(named(await analyze({ type: "command:remote:Command", name: "join", props: { create: "k3s agent --token=s3cr3t-t0ken" } }))).toEqual([["secrets-stay-secret", 1]]);
  }, 60000);

  test("a private key in a command's text is refused in the clear and accepted as a secret", async () => {
    const text = "cat >k <<'E'\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END OPENSSH PRIVATE KEY-----\nE\n";
    const plain = await analyze({ type: "command:remote:Command", name: "numa-01-host-prepare", props: { create: text } });
    expect(plain.map((d) => d.getPolicyname())).toEqual(["secrets-stay-secret"]);
    expect(await analyze({ type: "command:remote:Command", name: "numa-01-host-prepare", props: { create: secret(text) } })).toEqual([]);
  }, 60000);

  test("a two-host stack whose VMs name no host: each VM's host comes from the plan, no crash", async () => {
    const all = domains(hostless.render, "hostless");
    for (const d of all) expect([d.name, await analyze(d)]).toEqual([d.name, []]);
    expect(await analyzeStack(all)).toEqual([]);
    expect(named(await analyzeStack([edited(all[0], /<emulatorpin cpuset="[^"]*"\/>/, '<emulatorpin cpuset="0"/>'), ...all.slice(1)])).map(([n]) => n)).toContain("emulator-isolated");
  }, 120000);
});

test("stage.sh copies exactly the folders the pack imports", () => {
  const imports = new Set<string>();
  const visit = (file: string, seen: Set<string>) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(file, "..", m[1]);
      const path = existsSync(`${target}.ts`) ? `${target}.ts` : join(target, "index.ts");
      const top = path.slice(ROOT.length + 1).split("/")[0];
      if (top !== "policy") imports.add(top);
      visit(path, seen);
    }
  };
  const seen = new Set<string>();
  visit(join(ROOT, "policy/index.ts"), seen);
  expect([...imports].sort()).toEqual([...PACK_IMPORTS].sort());
  const stage = readFileSync(join(ROOT, "policy/stage.sh"), "utf8");
  expect(/for d in ([\w ]+); do/.exec(stage)?.[1].split(" ").sort()).toEqual([...PACK_IMPORTS].sort());
});
