// The pack as the Pulumi CLI runs it: @pulumi/pulumi's run-policy-pack starts policy/index.ts under
// ts-node (type-checked) from a copy of the project that has no root node_modules (only `npm ci` in
// policy/), and answers the engine's Analyze calls over gRPC. Checks what a unit test cannot: the
// relative imports of ../topology resolve from the pack's own node_modules, rules are mandatory,
// and a secret value reaches the pack as a secret (policy/secret-aware.ts).
// Also the same from a copy staged by policy/stage.sh, which is what `pulumi policy publish` uploads.
// Needs `npm ci --prefix policy`; without the pack's node_modules there is no pack to run.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SECRET_SIG_KEY, SECRET_SIG_VALUE } from "../../cli/mock-runtime";

const ROOT = resolve(__dirname, "../..");
const PACK_MODULES = join(ROOT, "policy/node_modules");
const installed = existsSync(join(PACK_MODULES, "@pulumi/policy"));
// What the pack imports by relative path, and what its stack reading needs.
const PROJECT = ["topology", "common", "k3s", "stacks", "guest", "hostprep", "hypervisor", "slm", "platform", "hosts", "Pulumi.yaml", "Pulumi.single.yaml"];
const PACK = ["index.ts", "modules.ts", "secret-aware.ts", "rules", "package.json", "tsconfig.json", "PulumiPolicy.yaml"];

/* eslint-disable @typescript-eslint/no-require-imports */
const load = (m: string) => require(join(PACK_MODULES, m));

/** Where the pack runs from: the repository's layout (policy/ beside the project code), or a copy
 * staged by policy/stage.sh for `pulumi policy publish` (told the project by NUMA_K3S_PROJECT_DIR). */
const LAYOUTS = ["repository", "staged"] as const;

(installed ? describe.each(LAYOUTS) : describe.skip.each(LAYOUTS))("the pack under run-policy-pack, %s layout", (layout) => {
  let dir: string;
  let pack: ChildProcess;
  let client: { analyze(req: unknown, cb: (err: Error | null, res: { getDiagnosticsList(): Diagnostic[] }) => void): void; close(): void };
  interface Diagnostic {
    getPolicyname(): string;
    getMessage(): string;
    getEnforcementlevel(): number;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "numa-pack-"));
    let packDir: string;
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (layout === "repository") {
      for (const p of PROJECT) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
      for (const p of PACK) cpSync(join(ROOT, "policy", p), join(dir, "policy", p), { recursive: true });
      packDir = join(dir, "policy");
    } else {
      packDir = join(dir, "staged");
      execFileSync("bash", [join(ROOT, "policy/stage.sh"), packDir], { stdio: "ignore" });
      env.NUMA_K3S_PROJECT_DIR = ROOT;
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

  function analyze(type: string, name: string, props: Record<string, unknown>): Promise<Diagnostic[]> {
    const { AnalyzeRequest, AnalyzerResourceOptions } = load("@pulumi/pulumi/proto/analyzer_pb");
    const { Struct } = load("google-protobuf/google/protobuf/struct_pb");
    const req = new AnalyzeRequest();
    req.setType(type);
    req.setName(name);
    req.setUrn(`urn:pulumi:single::numa-k3s::${type}::${name}`);
    req.setProperties(Struct.fromJavaScript(props));
    // Options are always sent by the engine (the SDK refuses a request without them).
    req.setOptions(new AnalyzerResourceOptions());
    return new Promise((res, rej) => client.analyze(req, (err, reply) => (err ? rej(err) : res(reply.getDiagnosticsList()))));
  }
  const secret = (value: string) => ({ [SECRET_SIG_KEY]: SECRET_SIG_VALUE, value });
  /** How the engine sends a value it does not know yet (the SDK's unknown sentinel). */
  const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

  test("a domain command whose memory is on the other node is a mandatory memory-strict-local violation", async () => {
    const render = mkdtempSync(join(tmpdir(), "numa-pack-render-"));
    execFileSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "cli/render.ts"), "--stack", "single", "--out", render], { cwd: ROOT, stdio: "ignore" });
    const xml = readFileSync(join(render, "domains/k3s-worker-slm.xml"), "utf8");
    rmSync(render, { recursive: true });
    // In a preview the connection (behind the host gate) and here the triggers are unknown: the
    // rules read around them instead of giving up on the resource.
    const unknowns = { connection: UNKNOWN, triggers: UNKNOWN };
    expect(await analyze("command:remote:Command", "k3s-worker-slm-domain", { stdin: xml, create: "true", ...unknowns })).toEqual([]);
    const diagnostics = await analyze("command:remote:Command", "k3s-worker-slm-domain", { stdin: xml.replace(/nodeset="1"/g, 'nodeset="0"'), create: "true", ...unknowns });
    expect(diagnostics.map((d) => [d.getPolicyname(), d.getEnforcementlevel()])).toEqual([["memory-strict-local", 1]]);
    expect(diagnostics[0].getMessage()).toContain("k3s-worker-slm-domain: VM k3s-worker-slm numatune strict 0 is not strict to node 1");
  }, 60000);

  test("a private key in a command's text is refused in the clear and accepted as a secret", async () => {
    const text = "cat >k <<'E'\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END OPENSSH PRIVATE KEY-----\nE\n";
    const plain = await analyze("command:remote:Command", "numa-01-host-prepare", { create: text });
    expect(plain.map((d) => d.getPolicyname())).toEqual(["secrets-stay-secret"]);
    expect(await analyze("command:remote:Command", "numa-01-host-prepare", { create: secret(text) })).toEqual([]);
  }, 60000);
});
