// Input that reaches a shell or a secret (issue 16, section 4), through the real commands on a
// project of their own: a login name or address that ssh would read as an option, a pool directory
// that walks out of itself, a private key pasted into the wrong key, a private key in the clear.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sshArgs } from "../../cli/ssh";
import { redact } from "../../common/redact";
import { requireTools } from "../tools";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
const PRIVATE_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${KEY_BODY}\nQyNTUxOQAAACDqyg3kTestTestTestTestTestTestTestTestTestTest\n-----END OPENSSH PRIVATE KEY-----`;

/** A copy of the project's `single` stack, edited by `edit` (text in, text out), with a stand-in
 * `ssh` on PATH that records its arguments and answers with the reference capture. */
function project(edit: (stackFile: string) => string) {
  const dir = mkdtempSync(join(tmpdir(), "input-safety-"));
  copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  writeFileSync(join(dir, "Pulumi.single.yaml"), edit(readFileSync(join(root, "Pulumi.single.yaml"), "utf8")));
  cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin/ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/ssh-args"\ncat "${root}/hosts/reference-2x-e5-2697v4.capabilities.xml"\n`);
  chmodSync(join(dir, "bin/ssh"), 0o755);
  const cli = (command: string, ...args: string[]) => {
    const r = spawnSync(tsx, [join(root, "cli", `${command}.ts`), ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, cli };
}

const setSsh = (ssh: string) => (text: string) => text.replace("ssh: { address: 192.0.2.10, user: root, port: 22 }", `ssh: ${ssh}`);

describe("ssh: a login name or an address is never an option", () => {
  it.each([
    ["user", `{ address: 192.0.2.10, user: "-oProxyCommand=touch /tmp/nk3s-pwned", port: 22 }`, /numa-k3s:hosts\[0\]\.ssh\.user = "-oProxyCommand=touch \/tmp\/nk3s-pwned": must be a login name/],
    ["user", `{ address: 192.0.2.10, user: "$(id)", port: 22 }`, /numa-k3s:hosts\[0\]\.ssh\.user = "\$\(id\)": must be a login name/],
    ["address", `{ address: "-oProxyCommand=touch /tmp/nk3s-pwned", user: root, port: 22 }`, /numa-k3s:hosts\[0\]\.ssh\.address = "-oProxyCommand=touch \/tmp\/nk3s-pwned": must be an IP address or a DNS name/],
  ])("capture refuses an ssh.%s that starts an option, exit 2, and never runs ssh", (_what, ssh, message) => {
    const p = project(setSsh(ssh));
    const r = p.cli("capture", "--host", "numa-01");
    expect(r.stderr.trim()).toMatch(message);
    expect(r.code).toBe(2);
    expect(existsSync(join(p.dir, "ssh-args"))).toBe(false);
  });

  it("passes the login with -l and the address after --", () => {
    const p = project((t) => t);
    expect(p.cli("capture", "--host", "numa-01").code).toBe(0);
    expect(readFileSync(join(p.dir, "ssh-args"), "utf8").trim().split("\n")).toEqual(["-o", "BatchMode=yes", "-l", "root", "-p", "22", "--", "192.0.2.10", "virsh -c 'qemu:///system' capabilities"]);
  });

  const haveSsh = requireTools("test/cli/input-safety.test.ts", [["ssh", "openssh-client"]]);
  (haveSsh ? it : it.skip)("the real ssh reads a hostile login as a login (-l), where user@address made it a ProxyCommand", () => {
    // ssh -G prints the configuration it would connect with, and connects to nothing.
    const hostile = { ssh: { user: "-oProxyCommand=touch /tmp/nk3s-pwned", address: "192.0.2.10", port: 22 } };
    const config = (args: string[]) => spawnSync("ssh", ["-G", ...args], { encoding: "utf8" });
    // The old way: `-p 22 user@address command`.
    const old = config(["-p", "22", `${hostile.ssh.user}@${hostile.ssh.address}`, "true"]);
    expect(old.stdout).toMatch(/^proxycommand touch \/tmp\/nk3s-pwned@192\.0\.2\.10$/m);
    const now = config(sshArgs(hostile, "true").filter((a) => a !== "BatchMode=yes" && a !== "-o"));
    expect(now.stdout).not.toMatch(/^proxycommand /m);
    const hostileAddress = config(sshArgs({ ssh: { user: "root", address: "-oProxyCommand=touch /tmp/nk3s-pwned", port: 22 } }, "true").filter((a) => a !== "BatchMode=yes" && a !== "-o"));
    expect(hostileAddress.stdout).not.toMatch(/^proxycommand /m);
  });
});

describe("paths: '..' never walks out of the pool directory", () => {
  it("render refuses poolDir /var/lib/libvirt/images/../../../etc, exit 2 naming the key (accepted before)", () => {
    const p = project((t) => t.replace("poolDir: /var/lib/libvirt/images/numa-k3s", "poolDir: /var/lib/libvirt/images/../../../etc"));
    const r = p.cli("render", "--stack", "single", "--out", join(p.dir, "out"));
    expect(r.stderr.trim()).toMatch(/^Pulumi\.single\.yaml: numa-k3s:hosts\[0\]\.libvirt\.poolDir = "\/var\/lib\/libvirt\/images\/\.\.\/\.\.\/\.\.\/etc": must be an absolute path, normalised/);
    expect(r.code).toBe(2);
  });
});

describe("a private key pasted into the wrong key is never printed", () => {
  const quoted = JSON.stringify(PRIVATE_KEY);
  it.each([
    ["hosts[0].ssh.address", (t: string) => t.replace("address: 192.0.2.10, user: root", `address: ${quoted}, user: root`)],
    ["platform.temporal.workerImage", (t: string) => t.replace("workerImage: registry.example.org/replace-me/temporal-worker:0.1.0", `workerImage: ${quoted}`)],
  ])("render refuses %s in one line, the key replaced by <redacted>", (key, edit) => {
    const p = project(edit);
    const r = p.cli("render", "--stack", "single", "--out", join(p.dir, "out"));
    expect(r.code).not.toBe(0);
    const refusal = r.stderr.trim().split("\n").pop()!;
    expect(refusal).toContain("<redacted>");
    expect(refusal).toContain(`numa-k3s:${key} = "<redacted>"`);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain("PRIVATE KEY");
      expect(text).not.toContain(KEY_BODY.slice(0, 24));
    }
  });

  it("redact: keys (in the clear, JSON-escaped, cut off), K3s tokens and credentials; public keys and digests stay", () => {
    expect(redact(`a = ${PRIVATE_KEY} b`)).toBe("a = <redacted> b");
    expect(redact(`a = ${JSON.stringify(PRIVATE_KEY)}: why`)).toBe('a = "<redacted>": why');
    expect(redact(`"-----BEGIN RSA PRIVATE KEY-----\\nMIIEow..."`)).toBe('"<redacted>"');
    expect(redact(`token K10${"ab".repeat(32)}::server:s3cr3tS3cr3t`)).toBe("token <redacted>");
    expect(redact("K3S_TOKEN=abc123secret and password: hunter2")).toBe("K3S_TOKEN=<redacted> and password: <redacted>");
    expect(redact(`${KEY_BODY}`)).toBe("<redacted>");
    const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7cZ1kR0aIx5Jx8pO7yB1qqF3kZ3x2mQ8g0GqC0xyz admin@lab";
    expect(redact(publicKey)).toBe(publicKey);
    const digest = `sha256:${"5e".repeat(32)}`;
    expect(redact(digest)).toBe(digest);
  });
});
