// The pinned tools `npm run tools` builds (tools/build.sh), found where it put them:
// <cache>/<family>-<version>/<binary>, the cache being $NUMA_K3S_TOOLS or tools/cache-dir, the
// version the one tools/<family>/go.mod requires (tools/tools.tsv) or upstream.tsv names.
// A test asks requireRealTools() first: with CI=true a missing binary fails the test (CI must run
// everything; .ci/run builds them), elsewhere the test skips with one line saying what to run.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const TOOLS = resolve(__dirname, "..", "tools");

export function toolsDir(): string {
  return process.env.NUMA_K3S_TOOLS || readFileSync(join(TOOLS, "cache-dir"), "utf8").trim();
}

function rows(file: string): string[][] {
  return readFileSync(join(TOOLS, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split("\t"));
}

/** The version tools/<family>/go.mod requires <module> at. */
export function requiredVersion(family: string, module: string): string {
  for (const line of readFileSync(join(TOOLS, family, "go.mod"), "utf8").split("\n")) {
    const words = line.trim().split(/\s+/);
    const [path, version] = words[0] === "require" ? words.slice(1) : words;
    if (path === module && /^v\d/.test(version ?? "")) return version;
  }
  throw new Error(`tools/${family}/go.mod does not require ${module}`);
}

export interface PinnedTool {
  binary: string;
  family: string;
  version: string;
  /** Where the binary is once built (it may not be yet). */
  path: string;
}

/** Every binary npm run tools builds, with its pinned version. */
export function pinnedTools(): PinnedTool[] {
  const at = (binary: string, family: string, version: string): PinnedTool => ({ binary, family, version, path: join(toolsDir(), `${family}-${version}`, binary) });
  return [
    ...rows("tools.tsv").map(([binary, family, module]) => at(binary, family, requiredVersion(family, module))),
    ...rows("upstream.tsv").map(([binary, family, version]) => at(binary, family, version)),
  ];
}

export function pinnedTool(binary: string): PinnedTool {
  const tool = pinnedTools().find((t) => t.binary === binary);
  if (!tool) throw new Error(`${binary} is not a tool of tools/tools.tsv or tools/upstream.tsv`);
  return tool;
}

/** The path of a pinned binary, e.g. toolPath("kubelet"); it exists once `npm run tools` built it. */
export function toolPath(binary: string): string {
  return pinnedTool(binary).path;
}

/** true when every binary is built; otherwise throws under CI, or prints one line and returns false. */
export function requireRealTools(testFile: string, binaries: string[]): boolean {
  const missing = binaries.map(pinnedTool).filter((t) => !existsSync(t.path));
  if (missing.length === 0) return true;
  const line = `${testFile}: missing ${missing.map((t) => `${t.binary} ${t.version}`).join(", ")} in ${toolsDir()} (npm run tools builds them)`;
  if (process.env.CI === "true") throw new Error(`${line}; CI runs every test, so .ci/run must build them`);
  console.log(`${line}: skipped`);
  return false;
}
