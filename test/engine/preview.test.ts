// Issue 19, test 1: `pulumi preview` for real. The pinned Pulumi CLI (npm run tools) runs the
// program through the Node.js language host, the real providers and the numa-guard pack loaded by
// the CLI (--policy-pack policy), on a copy of the project (stack init writes an encryption salt
// into the stack file; the shipped files stay as they are).
// - every shipped stack previews without an error, the pack named in the output;
// - a copy broken by hand (a VNC console opened to every address, which the program never renders)
//   is refused by the pack's no-public-console rule;
// - test 3, staged bring-up: a copy of single with numa-k3s:stopAfter: cluster previews the VMs
//   and the cluster as creates and nothing of the platform; without stopAfter, the platform too;
// - README's `pulumi config set --path` and `--secret` commands, run as written on a copied stack,
//   land where the program reads them (the key encrypted), and that stack's preview and
//   `npm run render` agree: the same VMs, with the same vCPU and emulator pins.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { XMLParser } from "fast-xml-parser";
import { requireRealTools } from "../real-tools";
import { ENGINE_TOOLS, Engine, shippedStacks, startEngine, succeeded } from "./pulumi-cli";

const ready = requireRealTools("test/engine/preview.test.ts", ENGINE_TOOLS);
// A preview runs the whole program under ts-node on 2 shared cores: minutes, not seconds. This is
// only the guard against a hung engine; nothing waits on time.
const PREVIEW_GUARD_MS = 20 * 60_000;
const PACK = "numa-guard";

/** vCPU and emulator pins of a domain XML, as the host would apply them. */
function pinsOf(xml: string): { name: string; vcpupin: string[]; emulatorpin: string } {
  const dom = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml).domain;
  const vcpupin = [dom.cputune.vcpupin].flat().map((p: { vcpu: string; cpuset: string }) => `${p.vcpu}:${p.cpuset}`);
  return { name: String(dom.name), vcpupin, emulatorpin: String(dom.cputune.emulatorpin.cpuset) };
}

(ready ? describe : describe.skip)("pulumi preview with the real CLI", () => {
  let engine: Engine;
  beforeAll(() => {
    engine = startEngine("numa-engine");
  });
  afterAll(() => engine?.cleanup());

  test.each(shippedStacks())(
    "stack %s previews with no error, the numa-guard pack loaded by the CLI",
    (stack) => {
      succeeded("pulumi stack init", engine.pulumi(["stack", "init", stack]));
      const r = succeeded("pulumi preview", engine.pulumi(["preview", "--stack", stack, "--policy-pack", "policy"]));
      // The CLI's policy summary: the pack it loaded from the project's policy/ folder.
      expect(r.stdout).toMatch(new RegExp(`${PACK}@v\\d+\\.\\d+\\.\\d+ \\(local: policy\\)`));
      expect(r.stdout).not.toMatch(/^\s*error:/m);
      // The shipped hypervisor address is a documentation one, which the preview warns about.
      expect(r.stdout).toMatch(/numa-k3s:hosts\[0\]\.ssh\.address = "192\.0\.2\.\d+"/);
    },
    PREVIEW_GUARD_MS,
  );

  test(
    "a copy broken by hand (VNC listening on every address) is refused by no-public-console",
    () => {
      const broken = startEngine("numa-engine-broken");
      try {
        const renderer = join(broken.dir, "topology/domain-xml.ts");
        const source = readFileSync(renderer, "utf8");
        // The line that keeps every console on the hypervisor's loopback; the test breaks it.
        expect(source).toContain('const listen = "127.0.0.1";');
        writeFileSync(renderer, source.replace('const listen = "127.0.0.1";', 'const listen = "0.0.0.0";'));
        succeeded("pulumi stack init", broken.pulumi(["stack", "init", "single"]));
        succeeded("pulumi config set", broken.pulumi(["config", "set", "--path", "numa-k3s:vms[0].vnc", "true", "--stack", "single"]));
        const r = broken.pulumi(["preview", "--stack", "single", "--policy-pack", "policy"]);
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/no-public-console/);
        expect(r.stdout + r.stderr).toMatch(/0\.0\.0\.0/);
      } finally {
        broken.cleanup();
      }
    },
    PREVIEW_GUARD_MS,
  );

  test.each([
    ["cluster", ["numa-k3s:libvirt:NumaPinnedVm", "numa-k3s:k3s:K3sControlPlane", "numa-k3s:k3s:K3sAgent"], ["numa-k3s:platform:", "numa-k3s:slm:"]],
    ["(absent)", ["numa-k3s:libvirt:NumaPinnedVm", "numa-k3s:k3s:K3sControlPlane", "numa-k3s:platform:DataLake", "numa-k3s:platform:VictoriaStack", "numa-k3s:platform:TemporalCluster", "numa-k3s:slm:SlmWorkerPool"], []],
  ])(
    "staged bring-up: stopAfter %s previews cleanly, the stages it builds as creates and none after",
    (stopAfter, built, notBuilt) => {
      // A copy of single (test/engine/up.test.ts runs stopAfter: vms for real on this machine).
      const stack = `staged-${stopAfter === "cluster" ? "cluster" : "all"}`;
      const config = YAML.parse(readFileSync(join(engine.dir, "Pulumi.single.yaml"), "utf8"));
      if (stopAfter === "cluster") config.config["numa-k3s:stopAfter"] = "cluster";
      else delete config.config["numa-k3s:stopAfter"];
      writeFileSync(join(engine.dir, `Pulumi.${stack}.yaml`), YAML.stringify(config));
      cpSync(join(engine.dir, "hosts/single.lock.json"), join(engine.dir, `hosts/${stack}.lock.json`));
      succeeded("pulumi stack init", engine.pulumi(["stack", "init", stack]));
      const preview = succeeded("pulumi preview --json", engine.pulumi(["preview", "--stack", stack, "--json"]));
      const creates = (JSON.parse(preview.stdout).steps as { op: string; newState?: { type: string } }[]).filter((st) => st.op === "create").map((st) => st.newState?.type ?? "");
      for (const t of built) expect(creates).toContain(t);
      for (const t of notBuilt) expect(creates.filter((c) => c.startsWith(t))).toEqual([]);
    },
    PREVIEW_GUARD_MS,
  );

  test(
    "README's config commands work on a copied stack, and its preview and render agree on every VM's pins",
    () => {
      const stack = "mylab";
      cpSync(join(engine.dir, "Pulumi.single.yaml"), join(engine.dir, `Pulumi.${stack}.yaml`));
      succeeded("pulumi stack init", engine.pulumi(["stack", "init", stack]));
      const keys = mkdtempSync(join(tmpdir(), "numa-engine-key-"));
      try {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "admin@mylab", "-f", join(keys, "id_ed25519")]);
        const publicKey = readFileSync(join(keys, "id_ed25519.pub"), "utf8").trim();
        const privateKey = readFileSync(join(keys, "id_ed25519"), "utf8");
        // README "Use it for real", step 2, as written there (the secret read from stdin).
        const set = (args: string[], input?: string) => succeeded(`pulumi config set ${args.join(" ")}`, engine.pulumi(["config", "set", ...args, "--stack", stack], input));
        set(["--path", "numa-k3s:hosts[0].ssh.address", "10.0.0.5"]);
        set(["--path", "numa-k3s:admin.sshAuthorizedKeys[0]", publicKey]);
        set(["--secret", "numa-k3s:sshPrivateKey"], privateKey);
        set(["--path", "numa-k3s:vms[1].disks.lakeDevice", "/dev/disk/by-id/ata-ST8000VN004-2M2101_WKD3ABCD"]);

        const file = readFileSync(join(engine.dir, `Pulumi.${stack}.yaml`), "utf8");
        const config = YAML.parse(file).config;
        expect(config["numa-k3s:hosts"][0].ssh.address).toBe("10.0.0.5");
        expect(config["numa-k3s:admin"].sshAuthorizedKeys[0]).toBe(publicKey);
        expect(config["numa-k3s:vms"][1].disks.lakeDevice).toBe("/dev/disk/by-id/ata-ST8000VN004-2M2101_WKD3ABCD");
        expect(config["numa-k3s:sshPrivateKey"]).toEqual({ secure: expect.any(String) });
        expect(file).not.toContain(privateKey.split("\n")[1]);

        const preview = succeeded("pulumi preview --json", engine.pulumi(["preview", "--stack", stack, "--policy-pack", "policy", "--json"]));
        const result = JSON.parse(preview.stdout);
        const text = JSON.stringify(result);
        // The key reached the engine as a secret: nowhere in what the preview shows.
        expect(text).not.toContain(privateKey.split("\n")[1]);
        // The values set replaced the placeholders: no warning names those keys any more (the
        // shipped stacks' previews above show the warning's form).
        const warnings = (result.diagnostics as { message: string }[]).map((d) => d.message).join("\n");
        for (const key of ["hosts[0].ssh.address", "admin.sshAuthorizedKeys[0]", "vms[1].disks.lakeDevice"]) expect(warnings).not.toContain(`numa-k3s:${key} =`);
        expect(warnings).toContain("numa-k3s:"); // the placeholders not replaced here are still warned about

        const previewed = (result.steps as { urn: string; newState?: { type: string; inputs: { stdin?: string } } }[])
          .filter((s) => s.newState?.type === "command:remote:Command" && s.urn.endsWith("-domain"))
          .map((s) => pinsOf(s.newState!.inputs.stdin!))
          .sort((a, b) => a.name.localeCompare(b.name));

        const out = join(keys, "render");
        succeeded(
          "npm run render",
          spawnSync(process.execPath, [join(engine.dir, "node_modules/tsx/dist/cli.mjs"), "cli/render.ts", "--stack", stack, "--out", out], { cwd: engine.dir, encoding: "utf8" }),
        );
        const rendered = readdirSync(join(out, "domains"))
          .map((f) => pinsOf(readFileSync(join(out, "domains", f), "utf8")))
          .sort((a, b) => a.name.localeCompare(b.name));

        expect(previewed.map((d) => d.name)).toEqual(YAML.parse(file).config["numa-k3s:vms"].map((v: { name: string }) => v.name).sort());
        expect(previewed).toEqual(rendered);
      } finally {
        rmSync(keys, { recursive: true, force: true });
      }
    },
    PREVIEW_GUARD_MS,
  );
});
