// Two stacks that prepare one host are refused offline too (plan, render, host-check and the
// program read every stack file of the project), naming both; the prepare script refuses it on the
// host itself (test/hostprep/prepare-undo.test.ts). Before, a copied stack file (pulumi stack init,
// README step 2) on the same hypervisor rendered and planned without a word.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readStackInputs } from "../../stacks/stack-inputs";

const root = resolve(__dirname, "../..");

/** The single stack and a copy of it (`mylab`), each given `address` for numa-01 (and `capture`). */
function project(single: string, mylab: string, mylabCapture?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "one-stack-per-host-"));
  copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
  copyFileSync(join(dir, "hosts/single.lock.json"), join(dir, "hosts/mylab.lock.json"));
  const text = readFileSync(join(root, "Pulumi.single.yaml"), "utf8");
  writeFileSync(join(dir, "Pulumi.single.yaml"), text.replace("address: 192.0.2.10", `address: ${single}`));
  let copy = text.replace("address: 192.0.2.10", `address: ${mylab}`);
  if (mylabCapture) {
    copyFileSync(join(dir, "hosts/reference-2x-e5-2697v4.capabilities.xml"), join(dir, mylabCapture));
    copy = copy.replace("capabilities: hosts/reference-2x-e5-2697v4.capabilities.xml", `capabilities: ${mylabCapture}`);
  }
  writeFileSync(join(dir, "Pulumi.mylab.yaml"), copy);
  return dir;
}

describe("one stack per host, offline", () => {
  it("a copy of a stack on the same hypervisor address is refused, naming both stacks; plan exits 2", () => {
    const dir = project("10.0.0.5", "10.0.0.5", "hosts/mylab-numa-01.capabilities.xml");
    expect(() => readStackInputs(dir, "mylab")).toThrow(
      /^Pulumi\.mylab\.yaml: numa-k3s:hosts\[0\]\.ssh\.address = "10\.0\.0\.5": host numa-01 is also host numa-01 of stack single \(Pulumi\.single\.yaml, hosts\[0\], at 10\.0\.0\.5\): two stacks that prepare one host overwrite/,
    );
    const r = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "cli/plan.ts"), "--stack", "single"], { cwd: dir, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^Pulumi\.single\.yaml: numa-k3s:hosts\[0\]\.ssh\.address = "10\.0\.0\.5": host numa-01 is also host numa-01 of stack mylab/);
  });

  it("the same capture file for two real addresses is refused (one capture per host)", () => {
    const dir = project("10.0.0.5", "10.0.0.6");
    expect(() => readStackInputs(dir, "single")).toThrow(/numa-k3s:hosts\[0\]\.capabilities = "hosts\/reference-2x-e5-2697v4\.capabilities\.xml": host numa-01 is also host numa-01 of stack mylab .*at 10\.0\.0\.6/);
  });

  it("a stack still holding the documentation address is an alternative, not a second owner", () => {
    const dir = project("192.0.2.10", "10.0.0.5");
    expect(readStackInputs(dir, "mylab").config.hosts[0].ssh.address).toBe("10.0.0.5");
    expect(readStackInputs(dir, "single").config.hosts[0].ssh.address).toBe("192.0.2.10");
  });
});
