// The real Pulumi CLI (npm run tools) around a copy of the project: a local backend and a
// PULUMI_HOME of the test's own in a temporary directory, the passphrase secrets provider, no update
// check, no plugin download. Providers go where the CLI finds them (`pulumi plugin install`), each at
// exactly the version its npm SDK asks for: package.json pins the SDKs at the provider releases that
// can be built here (tools/upstream.tsv says why those), and a mismatch stops the test.
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pinnedTool, toolPath } from "../real-tools";

export const ROOT = resolve(__dirname, "..", "..");

/** The providers the program's npm SDKs ask for, and the binary each is served by. */
export const PROVIDERS = [
  { name: "command", npm: "@pulumi/command", binary: "pulumi-resource-command" },
  { name: "random", npm: "@pulumi/random", binary: "pulumi-resource-random" },
  { name: "kubernetes", npm: "@pulumi/kubernetes", binary: "pulumi-resource-kubernetes" },
];

/** Everything `pulumi` (and the language host and the pack) needs from the test's tools. */
export const ENGINE_TOOLS = ["pulumi", "pulumi-language-nodejs", ...PROVIDERS.map((p) => p.binary)];

// Not project files: dependencies (linked instead), outputs, the Go tool modules.
const NOT_COPIED = new Set(["node_modules", ".git", "out", "bin", "tools", "test/.tmp", "policy/node_modules"]);

export interface Engine {
  /** The project copy, where `pulumi` runs. */
  dir: string;
  env: NodeJS.ProcessEnv;
  pulumi(args: string[], input?: string): SpawnSyncReturns<string>;
  /** `npm run SCRIPT -- ARGS` in the project copy, as README tells a user to run it. */
  npm(script: string, args: string[], opts?: { path?: string }): SpawnSyncReturns<string>;
  cleanup(): void;
}

export interface EngineOptions {
  /** argv in front of every command (e.g. nsenter into a network namespace). */
  wrap?: (argv: string[]) => string[];
}

function npmVersion(pkg: string): string {
  return JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;
}

/** A copy of the project with a fresh backend and PULUMI_HOME, its providers installed. */
export function startEngine(prefix: string, opts: EngineOptions = {}): Engine {
  const wrap = opts.wrap ?? ((argv: string[]) => argv);
  const work = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const dir = join(work, "project");
  cpSync(ROOT, dir, { recursive: true, filter: (src) => !NOT_COPIED.has(src.slice(ROOT.length + 1)) });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  symlinkSync(join(ROOT, "policy", "node_modules"), join(dir, "policy", "node_modules"));
  mkdirSync(join(work, "state"));
  const env: NodeJS.ProcessEnv = {
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: work,
    PULUMI_HOME: join(work, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "numa-k3s engine test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // Only the plugins installed here or named in the copy's Pulumi.yaml, never one found on PATH.
    PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    NO_COLOR: "1",
  };
  const run = (argv: string[], input?: string, runEnv = env) => {
    const [cmd, ...args] = wrap(argv);
    return spawnSync(cmd, args, { cwd: dir, env: runEnv, input, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  };
  const pulumi = (args: string[], input?: string) => run([toolPath("pulumi"), ...args, "--non-interactive", "--color", "never"], input);
  const npm = (script: string, args: string[], o: { path?: string } = {}) =>
    run(["npm", "run", "--silent", script, "--", ...args], undefined, { ...env, PATH: o.path ? `${o.path}:${env.PATH}` : env.PATH });
  for (const p of PROVIDERS) {
    const built = pinnedTool(p.binary);
    const wanted = npmVersion(p.npm);
    if (built.version !== wanted) throw new Error(`${p.npm} ${wanted} asks for provider ${p.name} ${wanted}, but tools/ builds ${built.version}: pin one to the other`);
    const r = pulumi(["plugin", "install", "resource", p.name, wanted, "--file", built.path]);
    if (r.status !== 0) throw new Error(`pulumi plugin install resource ${p.name} ${wanted}: ${r.stderr}`);
  }
  return { dir, env, pulumi, npm, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

/** The shipped stacks: Pulumi.<stack>.yaml in the project. */
export function shippedStacks(): string[] {
  return readdirSync(ROOT)
    .sort()
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined);
}

/** stdout and stderr of a run, for a failure message. */
export function outputOf(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.error ? ` (${r.error.message})` : ""}\n${r.stdout}\n${r.stderr}`;
}

/** The run, when it exited 0; otherwise fails with what it printed. */
export function succeeded(what: string, r: SpawnSyncReturns<string>): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(`${what}: ${outputOf(r)}`);
  return r;
}
