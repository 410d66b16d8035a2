// `npm run plan` as a user runs it: the process, its output and its exit code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const requests = join(root, "test/fixtures/requests");

function plan(...args: string[]) {
  const r = spawnSync(tsx, [join(root, "cli/plan.ts"), ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function noStackTrace(text: string) {
  expect(text).not.toMatch(/\n\s+at /);
}

describe("npm run plan", () => {
  it("places the documents' single layout: exit 0, a table per host", () => {
    const r = plan("--request", join(requests, "single.yaml"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/numa-01 .*2 nodes, 36 cores x 2 threads/);
    expect(r.stdout).toMatch(/^\s+0\s+k3s-worker-slm-heavy\s+16\s+32\s+0,36,1,37,/m);
    expect(r.stdout).toMatch(/totals: 4 VMs, 32 of 36 cores, 234 GiB of 252 GiB to VMs/);
  });

  it("--json prints docs/placement-rules.md's shape", () => {
    const r = plan("--request", join(requests, "single.yaml"), "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const vm = out.vms[1];
    expect(Object.keys(vm)).toEqual(
      expect.arrayContaining(["name", "host", "node", "vcpus", "vcpupin", "emulatorpin", "iothreadpin", "memoryKiB", "numatune", "topology", "hugepages"]),
    );
    expect(vm).toMatchObject({ name: "k3s-worker-data", node: 1, vcpus: 12, numatune: { mode: "strict", nodeset: [1] }, topology: { sockets: 1, dies: 1, cores: 6, threads: 2 }, hugepages: null });
    // The capture path is printed as written, so the output is the same on every machine.
    expect(out.hosts[0].capabilities).toBe("../../../hosts/reference-2x-e5-2697v4.capabilities.xml");
  });

  it("is deterministic: the same input gives byte-identical output", () => {
    const a = plan("--request", join(requests, "single.yaml"), "--json");
    const b = plan("--request", join(requests, "single.yaml"), "--json");
    expect(a.stdout).toBe(b.stdout);
  });

  it("refuses the documents' mac-numa layout with exit 3, naming the VM, what is missing and what is free", () => {
    const r = plan("--request", join(requests, "mac-numa-original.yaml"));
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/mac-numa-original\.yaml: vms\[2\]\.cores = 3: k3s-minio-storage .*0 whole cores left.*needs 3/);
    noStackTrace(r.stderr);
  });

  it.each([
    ["a missing file", ["--request", "/nonexistent/request.yaml"], /request\.yaml: no such file/],
    ["an unknown flag", ["--request", "x.yaml", "--jsn"], /Unknown option '--jsn'/],
    ["neither --request nor --stack", [], /give exactly one of --request FILE or --stack NAME/],
    ["an unknown stack", ["--stack", "nope"], /Pulumi\.nope\.yaml: no such stack file/],
  ])("exit 2 on %s, one line, no stack trace", (_, args, message) => {
    const r = plan(...(args as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    noStackTrace(r.stderr);
  });

  it("exit 2 on a misspelt key in a request, naming the file and the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    const req = YAML.parse(readFileSync(join(requests, "single.yaml"), "utf8"));
    req.hosts[0].capabilities = join(root, "hosts/reference-2x-e5-2697v4.capabilities.xml");
    req.vms[0].cpus = 4;
    writeFileSync(join(dir, "r.yaml"), YAML.stringify(req));
    const r = plan("--request", join(dir, "r.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/r\.yaml: vms\[0\]\.cpus: unknown key; did you mean cores\?$/);
  });

  it.each([
    ["a misspelt key named first, before the key it makes missing", (vm: Record<string, unknown>) => ((vm.coers = vm.cores), delete vm.cores), /vms\[0\]\.coers: unknown key; did you mean cores\? \(and 1 more problem\)$/],
    ["memoryGB", (vm: Record<string, unknown>) => ((vm.memoryGB = vm.memoryGiB), delete vm.memoryGiB), /vms\[0\]\.memoryGB: unknown key; did you mean memoryGiB\?/],
    ["a node that is not a number", (vm: Record<string, unknown>) => (vm.node = "one"), /vms\[0\]\.node = "one": must be a node id of the host \(0, 1, \.\.\.\) or "auto"$/],
    ["a node the host does not have (exit 2, not 3)", (vm: Record<string, unknown>) => (vm.node = 7), /vms\[0\]\.node = 7: k3s-worker-slm-heavy: numa-01 has no node 7 \(its nodes: 0, 1\)$/],
    ["no cores", (vm: Record<string, unknown>) => (vm.cores = 0), /vms\[0\]\.cores = 0: must be a whole number >= 1$/],
  ])("exit 2 on %s, in one line naming the file and the key", (_why, edit, message) => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    const req = YAML.parse(readFileSync(join(requests, "single.yaml"), "utf8"));
    req.hosts[0].capabilities = join(root, "hosts/reference-2x-e5-2697v4.capabilities.xml");
    edit(req.vms[0]);
    writeFileSync(join(dir, "r.yaml"), YAML.stringify(req));
    const r = plan("--request", join(dir, "r.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a request that says cores as a string, as `pulumi config set` stores it, is read as a number", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    const req = YAML.parse(readFileSync(join(requests, "single.yaml"), "utf8"));
    req.hosts[0].capabilities = join(root, "hosts/reference-2x-e5-2697v4.capabilities.xml");
    req.vms[0].cores = "16";
    req.vms[0].memoryGiB = "118";
    writeFileSync(join(dir, "r.yaml"), YAML.stringify(req));
    const r = plan("--request", join(dir, "r.yaml"), "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).vms[0].vcpus).toBe(32);
  });

  it("--search-seconds must be a positive number (exit 2); a generous one changes nothing", () => {
    const bad = plan("--request", join(requests, "single.yaml"), "--search-seconds", "soon");
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('--search-seconds = "soon": must be a number of seconds > 0');
    const ok = plan("--request", join(requests, "single.yaml"), "--search-seconds", "10", "--json");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(plan("--request", join(requests, "single.yaml"), "--json").stdout);
  });

  it("exit 2 on a capture that is not XML, naming the capture", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    writeFileSync(join(dir, "bad.xml"), "<capabilities><host>");
    writeFileSync(join(dir, "r.yaml"), YAML.stringify({ hosts: [{ name: "h", capabilities: "bad.xml" }], vms: [] }));
    const r = plan("--request", join(dir, "r.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.xml: /);
    noStackTrace(r.stderr);
  });

  it("--lock writes the lock, and a re-plan with one VM resized moves no other VM", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    const lock = join(dir, "single.lock.json");
    const req = YAML.parse(readFileSync(join(requests, "single.yaml"), "utf8"));
    req.hosts[0].capabilities = join(root, "hosts/reference-2x-e5-2697v4.capabilities.xml");
    writeFileSync(join(dir, "r.yaml"), YAML.stringify(req));
    expect(plan("--request", join(dir, "r.yaml"), "--lock", lock).code).toBe(0);
    expect(existsSync(lock)).toBe(true);
    const before = JSON.parse(plan("--request", join(dir, "r.yaml"), "--lock", lock, "--json").stdout);

    req.vms[1].cores = 5; // k3s-worker-data shrinks
    writeFileSync(join(dir, "r.yaml"), YAML.stringify(req));
    const after = JSON.parse(plan("--request", join(dir, "r.yaml"), "--lock", lock, "--json").stdout);
    for (const name of ["k3s-worker-slm-heavy", "k3s-worker-slm", "k3s-server-tasks"]) {
      const a = before.vms.find((v: { name: string }) => v.name === name);
      const b = after.vms.find((v: { name: string }) => v.name === name);
      expect(b).toEqual(a);
    }
    const data = after.vms.find((v: { name: string }) => v.name === "k3s-worker-data");
    expect(data.vcpus).toBe(10);
    // It keeps cores it had.
    expect(before.vms[1].vcpupin).toEqual(expect.arrayContaining(data.vcpupin));
  });

  it("exit 2 when --lock or --svg names a place that cannot be written", () => {
    for (const flag of ["--lock", "--svg"]) {
      const r = plan("--request", join(requests, "single.yaml"), flag, "/nonexistent/dir/out");
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe("/nonexistent/dir/out: cannot write it (ENOENT)");
    }
  });

  it("--svg writes the host picture", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    const svg = join(dir, "plan.svg");
    const r = plan("--request", join(requests, "single.yaml"), "--svg", svg);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`wrote ${svg}\n`);
    const text = readFileSync(svg, "utf8");
    expect(text).toMatch(/^<svg/);
    for (const name of ["k3s-worker-slm-heavy", "k3s-worker-data", "k3s-worker-slm", "k3s-server-tasks"]) expect(text).toContain(name);
  });

  it("--stack reads the stack's config and its lock", () => {
    const r = plan("--stack", "single", "--json");
    expect(r.code).toBe(0);
    const committed = JSON.parse(readFileSync(join(root, "hosts/single.lock.json"), "utf8"));
    // The lock's entries, each with its L3 domains (the reference host: one L3 per socket and node).
    const vms = JSON.parse(r.stdout).vms as { l3Domains: number[]; node: number }[];
    for (const vm of vms) expect(vm.l3Domains).toEqual([vm.node]);
    expect(vms.map(({ l3Domains: _l3, ...rest }) => rest)).toEqual(expect.arrayContaining(committed.vms));
  });
});
