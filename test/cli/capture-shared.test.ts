// One capture file per host, and every stack that uses a capture re-checked when it changes. The
// shipped single-two-hosts stack had numa-01 and numa-02 on one file: `capture --host numa-02`
// rewrote numa-01's capture under the single, mac-numa and distributed stacks, unwarned.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { REFERENCE_SHAPE, capabilitiesXml, regularHost } from "../fixtures/hosts";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const REFERENCE = "hosts/reference-2x-e5-2697v4.capabilities.xml";
const reference = readFileSync(join(root, REFERENCE), "utf8");
const STACKS = readdirSync(root).filter((f) => /^Pulumi\..+\.yaml$/.test(f) && f !== "Pulumi.yaml");

/** The project's stacks, captures and locks in a directory of their own, and an `ssh` on PATH that
 * answers with `answer` (what `virsh capabilities` prints on the host). */
function project(answer: string) {
  const dir = mkdtempSync(join(tmpdir(), "capture-shared-"));
  for (const f of ["Pulumi.yaml", ...STACKS]) copyFileSync(join(root, f), join(dir, f));
  cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "answer.xml"), answer);
  writeFileSync(join(dir, "bin/ssh"), `#!/bin/sh\ncat "${dir}/answer.xml"\n`);
  chmodSync(join(dir, "bin/ssh"), 0o755);
  const run = (command: string, ...args: string[]) => {
    const r = spawnSync(tsx, [join(root, "cli", `${command}.ts`), ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, run, read: (f: string) => readFileSync(join(dir, f), "utf8") };
}

/** single-two-hosts as it was shipped: numa-02 on numa-01's capture file. */
const shareOneFile = (dir: string) => {
  const file = join(dir, "Pulumi.single-two-hosts.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("capabilities: hosts/numa-02.capabilities.xml", `capabilities: ${REFERENCE}`));
};

describe("one capture file per host", () => {
  it("a stack whose two hosts name one capture file is refused, exit 2, naming both", () => {
    const p = project(reference);
    shareOneFile(p.dir);
    const r = p.run("plan", "--stack", "single-two-hosts");
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(
      /^Pulumi\.single-two-hosts\.yaml: numa-k3s:hosts\[1\]\.capabilities = "hosts\/reference-2x-e5-2697v4\.capabilities\.xml": is also the capture of host numa-01: one capture file per host .*give numa-02 a file of its own/,
    );
    // capture of numa-02 refuses too, before ssh, and leaves numa-01's capture as it was.
    const c = p.run("capture", "--host", "numa-02");
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/no stack has a host 'numa-02'.*not read: .*is also the capture of host numa-01/);
    expect(p.read(REFERENCE)).toBe(reference);
  });

  it("the shipped single-two-hosts gives numa-02 a file of its own: capturing it never touches numa-01's", () => {
    const numa02 = capabilitiesXml(regularHost({ ...REFERENCE_SHAPE, numbering: "adjacent" }));
    const p = project(numa02);
    const r = p.run("capture", "--host", "numa-02");
    expect(p.read("hosts/numa-02.capabilities.xml")).toBe(numa02);
    expect(p.read(REFERENCE)).toBe(reference);
    // Only the stack that uses numa-02's file is re-checked.
    expect(`${r.stdout}${r.stderr}`.match(/^stack [^:]+/gm)).toEqual(["stack single-two-hosts"]);
  });

  it("re-checks every stack that uses the file, naming each", () => {
    const p = project(reference);
    const r = p.run("capture", "--host", "numa-01");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const stack of ["distributed", "mac-numa", "single", "single-two-hosts"]) expect(r.stdout).toContain(`stack ${stack}: its plan (locked in hosts/${stack}.lock.json) fits the new capture`);
  });

  it("a capture file another stack names for another machine is refused before ssh runs", () => {
    const p = project(reference);
    const file = join(p.dir, "Pulumi.mac-numa.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("address: 192.0.2.10", "address: 192.0.2.77"));
    const r = p.run("capture", "--host", "numa-01", "--stack", "single");
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/is also the capture of host 'numa-01' \(192\.0\.2\.77\) in stack mac-numa, not only of 'numa-01' \(192\.0\.2\.10\): one capture file per host/);
  });

  it("an unrelated stack file that does not parse is warned about, and the capture goes on", () => {
    const p = project(reference);
    writeFileSync(join(p.dir, "Pulumi.broken.yaml"), "config:\n  numa-k3s:layout: dual\n");
    const r = p.run("capture", "--host", "numa-01");
    expect(r.stderr).toMatch(/^warning: skipped stack broken, which does not parse: Pulumi\.broken\.yaml: numa-k3s:/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("stack single: its plan");
  });
});
