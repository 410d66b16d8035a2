// `npm run capture` against a stand-in `ssh` on PATH that answers as the hypervisor would.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { REFERENCE_SHAPE, capabilitiesXml, regularHost } from "../fixtures/hosts";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const reference = readFileSync(join(root, "hosts/reference-2x-e5-2697v4.capabilities.xml"), "utf8");

/** A project with one stack whose host numa-01 is captured at hosts/numa-01.capabilities.xml. */
function project(answer: string) {
  const dir = mkdtempSync(join(tmpdir(), "capture-"));
  mkdirSync(join(dir, "hosts"));
  mkdirSync(join(dir, "bin"));
  const stack = readFileSync(join(root, "Pulumi.single.yaml"), "utf8").replace("hosts/reference-2x-e5-2697v4.capabilities.xml", "hosts/numa-01.capabilities.xml");
  writeFileSync(join(dir, "Pulumi.single.yaml"), stack);
  copyFileSync(join(root, "hosts/reference-2x-e5-2697v4.capabilities.xml"), join(dir, "hosts/numa-01.capabilities.xml"));
  copyFileSync(join(root, "hosts/single.lock.json"), join(dir, "hosts/single.lock.json"));
  writeFileSync(join(dir, "answer.xml"), answer);
  // Records its arguments, then prints the answer: what `ssh HOST virsh capabilities` would print.
  writeFileSync(join(dir, "bin/ssh"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/ssh-args"\ncat "${dir}/answer.xml"\n`);
  chmodSync(join(dir, "bin/ssh"), 0o755);
  const capture = (...args: string[]) => {
    const r = spawnSync(tsx, [join(root, "cli/capture.ts"), ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, capture, captured: () => readFileSync(join(dir, "hosts/numa-01.capabilities.xml"), "utf8") };
}

describe("npm run capture", () => {
  it("reaches the host with the stack's ssh settings and writes the capture; unchanged topology is said", () => {
    const p = project(reference);
    const r = p.capture("--host", "numa-01");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote hosts/numa-01.capabilities.xml: 2 nodes, 72 threads, 2 per core");
    expect(r.stdout).toContain("no change to nodes, threads, cores or page sizes since the previous capture");
    expect(r.stdout).toContain("stack single: its plan (locked in hosts/single.lock.json) fits the new capture");
    const args = readFileSync(join(p.dir, "ssh-args"), "utf8").trim().split("\n");
    expect(args).toEqual(["-o", "BatchMode=yes", "-l", "root", "-p", "22", "--", "192.0.2.10", "virsh -c 'qemu:///system' capabilities"]);
  });

  it("lists what changed when the BIOS renumbered the threads", () => {
    // The same machine with sibling threads numbered 2n, 2n+1 instead of n, n+36.
    const renumbered = capabilitiesXml(regularHost({ ...REFERENCE_SHAPE, numbering: "adjacent" }));
    const p = project(renumbered);
    const r = p.capture("--host", "numa-01");
    // The lock pins threads of the old numbering: it no longer fits, and the command says so.
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/stack single: its locked plan no longer fits the new capture/);
    expect(r.stdout).toMatch(/changed since the previous capture \(re-plan and review the lock/);
    expect(r.stdout).toMatch(/node 0/);
    expect(p.captured()).toBe(renumbered);
  });

  it("refuses output that is not a capture, and keeps the old file", () => {
    const p = project("virsh: error: failed to connect to the hypervisor");
    const r = p.capture("--host", "numa-01");
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(p.captured()).toBe(reference);
  });

  it("a huge-page change after which the locked plan no longer fits: written, but exit 3 naming the VM", () => {
    // 100 of node 0's 126 GiB reserved as 1 GiB pages: no pin moves, but the 118 GiB VM cannot start.
    let node = 0;
    const hugepages = reference.replace(/<pages unit='KiB' size='1048576'>0<\/pages>/g, (m) => (node++ === 0 ? "<pages unit='KiB' size='1048576'>100</pages>" : m));
    const p = project(hugepages);
    const r = p.capture("--host", "numa-01");
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/stack single: its locked plan no longer fits the new capture/);
    expect(r.stderr).toMatch(/k3s-worker-slm-heavy/);
    expect(p.captured()).toBe(hugepages);
  });

  it("refuses a capture without <topology>, and keeps the good one", () => {
    const p = project(reference.replace(/<topology>[\s\S]*<\/topology>/, ""));
    const r = p.capture("--host", "numa-01");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no NUMA topology/);
    expect(p.captured()).toBe(reference);
  });

  it("an unknown host is exit 2, naming the stacks looked in", () => {
    const p = project(reference);
    const r = p.capture("--host", "numa-09");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no stack has a host 'numa-09' \(stacks: single\)/);
  });
});
