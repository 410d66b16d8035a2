// A private key in the clear in a stack file (committed to git with it): `up` refuses it, a preview
// or render warns, and neither prints it. Written with `pulumi config set` without --secret, it
// was accepted silently.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pulumiConfig } from "../../cli/render";
import { settle, startMockRuntime } from "../../cli/mock-runtime";

const root = resolve(__dirname, "../..");
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMw\n-----END OPENSSH PRIVATE KEY-----";

/** The single stack in a project of its own, its stack file holding the key as `pulumi config set`
 * without --secret writes it (or encrypted, as --secret does). */
function projectWithKey(plain: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "plaintext-key-"));
  copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
  const entry = plain ? `  numa-k3s:sshPrivateKey: ${JSON.stringify(KEY)}\n` : `  numa-k3s:sshPrivateKey:\n    secure: v1:AAAABBBBCCCC\n`;
  writeFileSync(join(dir, "Pulumi.single.yaml"), readFileSync(join(root, "Pulumi.single.yaml"), "utf8").replace("config:\n", `config:\n${entry}`));
  return dir;
}

describe("numa-k3s:sshPrivateKey in the clear in the stack file", () => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });
  afterEach(() => settle());

  async function up(dir: string) {
    const { config, secretKeys } = pulumiConfig(dir, "single");
    // What the engine hands the program: the key's value, as a secret only when it was stored as one.
    config["numa-k3s:sshPrivateKey"] = KEY;
    startMockRuntime({ project: "numa-k3s", stack: "single", config, secretConfigKeys: secretKeys });
    const { runProgram } = await import("../../stacks/program");
    try {
      runProgram(dir);
      return { message: "", kind: "" };
    } catch (e) {
      return { message: (e as Error).message, kind: (e as Error).constructor.name };
    }
  }

  it("an up refuses it in one line that points at --secret and does not print the key", async () => {
    const { message, kind } = await up(projectWithKey(true));
    expect(kind).toBe("RunError");
    expect(message).toMatch(/^Pulumi\.single\.yaml: numa-k3s:sshPrivateKey is stored in the clear in the stack file.*pulumi config set --secret numa-k3s:sshPrivateKey/);
    expect(message).not.toContain("PRIVATE KEY-----");
  });

  it("an up with the key stored encrypted (--secret) passes this check", async () => {
    const { message } = await up(projectWithKey(false));
    // It stops at the shipped placeholders instead, which comes after.
    expect(message).toMatch(/still holds placeholders/);
  });

  it("render warns, once, and writes nothing of the key", () => {
    const dir = projectWithKey(true);
    const out = join(dir, "out");
    const r = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "cli/render.ts"), "--stack", "single", "--out", out], { cwd: dir, encoding: "utf8" });
    expect(r.status).toBe(0);
    const warnings = r.stderr.split("\n").filter((l) => l.includes("numa-k3s:sshPrivateKey"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: .*Pulumi\.single\.yaml: numa-k3s:sshPrivateKey is stored in the clear in the stack file/);
    expect(r.stderr + r.stdout).not.toContain("b3BlbnNzaC1rZXktdjEAAAAA");
    const files = spawnSync("grep", ["-rl", "b3BlbnNzaC1rZXktdjEAAAAA", out], { encoding: "utf8" });
    expect(files.stdout).toBe("");
  });
});
