// `npm run render` on the three committed stacks: the files a reviewer reads, valid where a real
// tool can say so, and nothing secret in them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");

function render(...args: string[]) {
  const r = spawnSync(tsx, [join(root, "cli/render.ts"), ...args], { cwd: root, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
}

describe.each(["mac-numa", "single", "distributed"])("npm run render -- --stack %s", (stack) => {
  const out = mkdtempSync(join(tmpdir(), `render-${stack}-`));
  let result: ReturnType<typeof render>;
  beforeAll(() => {
    result = render("--stack", stack, "--out", out);
  });

  it("exits 0 and writes the plan, the picture, a domain and cloud-init per VM, and the commands", () => {
    // The shipped placeholders are said, one warning each; nothing else is.
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    expect(lines.filter((l) => !/^warning: .*Pulumi\.[a-z-]+\.yaml: numa-k3s:\S+( = .*)?: .*(documentation address|documentation MAC|placeholder|example key)/.test(l))).toEqual([]);
    expect(lines.length).toBeGreaterThan(0);
    expect(result.code).toBe(0);
    const plan = JSON.parse(readFileSync(join(out, "plan.json"), "utf8"));
    const files = filesUnder(out);
    expect(files).toEqual(expect.arrayContaining(["plan.json", "plan.md", "plan.svg"]));
    for (const vm of plan.vms) {
      expect(files).toContain(`domains/${vm.name}.xml`);
      for (const f of ["user-data", "meta-data", "network-config"]) expect(files).toContain(`cloud-init/${vm.name}/${f}`);
      for (const verb of ["create", "update", "delete"]) expect(files).toContain(`commands/${vm.name}-domain.${verb}.sh`);
    }
    const planMd = readFileSync(join(out, "plan.md"), "utf8");
    expect(planMd).toContain(`Every VM is locked in hosts/${stack}.lock.json`);
    // The shipped stacks are named after their layout: the title says it once.
    expect(planMd.split("\n")[0]).toBe(`# ${stack}`);
    // K3s: every k8s node's config.yaml; a kubelet configuration for every pinned VM.
    const planned = JSON.parse(readFileSync(join(out, "plan.json"), "utf8"));
    for (const vm of planned.vms) for (const f of ["config.yaml", "kubelet.yaml"]) expect(files).toContain(`k3s/${vm.name}/${f}`);
    expect(files.filter((f) => /^k3s\/[^/]+\/config\.yaml$/.test(f))).toHaveLength(planned.vms.length + (stack === "single" ? 0 : 1));
    if (stack === "mac-numa") expect(files).toContain("k3s/lima.yaml");
    // Host preparation of the one host, and the very command NumaHost sends.
    for (const f of ["summary.txt", "cmdline.txt", "cpu-partitioning-variables.conf", "prepare.sh", "numa-k3s-host-tuning.sh", "state.sh"]) expect(files).toContain(`hosts/numa-01/${f}`);
    expect(readFileSync(join(out, "commands/numa-01-host-prepare.create.sh"), "utf8")).toContain(readFileSync(join(out, "hosts/numa-01/prepare.sh"), "utf8").split("\n")[3]);
  });

  it("writes domains libvirt's schema accepts", () => {
    for (const f of readdirSync(join(out, "domains"))) {
      const r = spawnSync("virt-xml-validate", [join(out, "domains", f), "domain"], { encoding: "utf8" });
      expect(r.stderr).toMatch(/ validates\n$/);
      expect(r.status).toBe(0);
    }
  });

  it("leaks no secret and no public VNC listener", () => {
    for (const f of filesUnder(out)) {
      const text = readFileSync(join(out, f), "utf8");
      expect(text).not.toMatch(/PRIVATE KEY|sshPrivateKey/);
      // The cluster token (offline: the mock's stand-in) and the kubeconfig's client key.
      expect(text).not.toMatch(/offline-k3s-token|client-key-data: T0ZG/);
      expect(text).not.toContain("0.0.0.0'");
      expect(text).not.toMatch(/listen=["']0\.0\.0\.0/);
    }
  });

  it("names each k8s/ file after the object inside, and shows a Secret's keys with their values redacted", () => {
    for (const f of filesUnder(out).filter((f) => f.startsWith("k8s/"))) {
      const doc = YAML.parse(readFileSync(join(out, f), "utf8"));
      const meta = doc.metadata ?? doc;
      expect(f).toBe(`k8s/${[doc.kind, meta.namespace, meta.name].filter(Boolean).join("-")}.yaml`);
      if (doc.kind === "Secret") {
        const data = doc.stringData ?? doc.data;
        expect(Object.keys(data).length).toBeGreaterThan(0);
        for (const value of Object.values(data)) expect(value).toBe("[secret]");
      }
    }
  });

  it("is deterministic", () => {
    const again = mkdtempSync(join(tmpdir(), `render-${stack}-again-`));
    expect(render("--stack", stack, "--out", again).code).toBe(0);
    for (const f of filesUnder(out)) expect(readFileSync(join(again, f), "utf8")).toBe(readFileSync(join(out, f), "utf8"));
  });
});

describe("render refuses bad input in one line", () => {
  it("an unknown stack is exit 2", () => {
    const r = render("--stack", "nope", "--out", mkdtempSync(join(tmpdir(), "render-")));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^.*Pulumi\.nope\.yaml: no such stack file/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("no --stack is exit 2", () => {
    const r = render();
    expect(r.code).toBe(2);
    expect(existsSync(join(root, "out", "undefined"))).toBe(false);
  });
});
