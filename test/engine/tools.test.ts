// The binaries `npm run tools` built run, and say the version tools/ pins: a build that lost its
// version stamp, or a binary that does not start on this machine, fails here first.
import { spawnSync } from "node:child_process";
import { pinnedTool, pinnedTools, requireRealTools } from "../real-tools";
import { PROVIDERS, startEngine } from "./pulumi-cli";

/** How each binary says its version (CNI plugins answer the CNI_COMMAND=VERSION protocol). */
const VERSION_ARGS: Record<string, { args: string[]; env?: Record<string, string>; says?: RegExp }> = {
  pulumi: { args: ["version"] },
  "kube-apiserver": { args: ["--version"] },
  kubelet: { args: ["--version"] },
  "kube-scheduler": { args: ["--version"] },
  "kube-controller-manager": { args: ["--version"] },
  kubectl: { args: ["version", "--client"] },
  kine: { args: ["--version"] },
  containerd: { args: ["--version"] },
  "containerd-shim-runc-v2": { args: ["-v"] },
  ctr: { args: ["--version"] },
  runc: { args: ["--version"] },
  helm: { args: ["version", "--short"] },
  bridge: { args: [], env: { CNI_COMMAND: "VERSION" }, says: /supportedVersions/ },
  "host-local": { args: [], env: { CNI_COMMAND: "VERSION" }, says: /supportedVersions/ },
  loopback: { args: [], env: { CNI_COMMAND: "VERSION" }, says: /supportedVersions/ },
  portmap: { args: [], env: { CNI_COMMAND: "VERSION" }, says: /supportedVersions/ },
};
// The language host and the providers are gRPC servers with no version flag: the providers are
// checked with `pulumi plugin ls` below, the language host by every preview (test/engine/preview).
const SERVERS = new Set(["pulumi-language-nodejs", ...PROVIDERS.map((p) => p.binary)]);

const tools = pinnedTools().filter((t) => !SERVERS.has(t.binary));
const ready = requireRealTools("test/engine/tools.test.ts", pinnedTools().map((t) => t.binary));

(ready ? describe : describe.skip)("the pinned tools run", () => {
  test("every built binary has a version check here", () => {
    expect(tools.map((t) => t.binary).filter((b) => !VERSION_ARGS[b])).toEqual([]);
  });

  test.each(tools.map((t) => [t.binary, t] as const))("%s says its pinned version", (_binary, tool) => {
    const how = VERSION_ARGS[tool.binary];
    const r = spawnSync(tool.path, how.args, { encoding: "utf8", env: { PATH: process.env.PATH, ...how.env }, timeout: 60_000 });
    const said = `${r.stdout}${r.stderr}`;
    if (r.status !== 0) throw new Error(`${tool.path} ${how.args.join(" ")}: exit ${r.status}: ${said}`);
    expect(said).toMatch(how.says ?? new RegExp(`\\bv?${tool.version.replace(/^v/, "").replace(/\./g, "\\.")}\\b`));
  });

  test("pulumi plugin ls lists the providers installed at the SDKs' versions", () => {
    const engine = startEngine("numa-engine-plugins");
    try {
      const ls = engine.pulumi(["plugin", "ls"]);
      expect(ls.status).toBe(0);
      for (const p of PROVIDERS) expect(ls.stdout).toMatch(new RegExp(`^${p.name}\\s+resource\\s+${pinnedTool(p.binary).version.replace(/\./g, "\\.")}\\b`, "m"));
    } finally {
      engine.cleanup();
    }
  });
});
