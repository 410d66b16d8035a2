// `npm run plan -- --stack` and `npm run render` accept and refuse the same stacks, with the same
// line: a value only a component used to check (a bridge, an image, a package) is refused at the
// user's key by both, in the shape README promises (`FILE: numa-k3s:KEY = VALUE: why`, exit 2),
// never with a component's internal field name.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
type Config = Record<string, unknown>;

const cases: [string, (config: Config) => void, RegExp][] = [
  ["a bridge name libvirt would refuse", (c) => ((c["numa-k3s:hosts"] as { libvirt: Config }[])[0].libvirt.bridge = "br 0"), /^Pulumi\.edited\.yaml: numa-k3s:hosts\[0\]\.libvirt\.bridge = "br 0": must be a Linux interface name/],
  ["a worker image without a tag", (c) => ((c["numa-k3s:platform"] as { temporal: Config }).temporal.workerImage = "registry.lab/team/worker"), /^Pulumi\.edited\.yaml: numa-k3s:platform\.temporal\.workerImage = "registry\.lab\/team\/worker": must be an image reference with a tag/],
  ["a private key pasted as the worker image", (c) => ((c["numa-k3s:platform"] as { temporal: Config }).temporal.workerImage = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"), /^Pulumi\.edited\.yaml: numa-k3s:platform\.temporal\.workerImage = "<redacted>": /],
  ["a package name apt would refuse", (c) => (c["numa-k3s:packages"] = ["htop; rm -rf /"]), /^Pulumi\.edited\.yaml: numa-k3s:packages\[0\] = "htop; rm -rf \/": is not a Debian package name/],
];

describe.each(cases)("%s", (_what, edit, expected) => {
  const dir = mkdtempSync(join(tmpdir(), "verdict-"));
  beforeAll(() => {
    cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
    cpSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    const doc = YAML.parse(readFileSync(join(root, "Pulumi.single.yaml"), "utf8")) as { config: Config };
    edit(doc.config);
    writeFileSync(join(dir, "Pulumi.edited.yaml"), YAML.stringify(doc));
    cpSync(join(root, "hosts/single.lock.json"), join(dir, "hosts/edited.lock.json"));
  });
  const run = (cli: string, ...args: string[]) => spawnSync(tsx, [join(root, "cli", cli), ...args], { cwd: dir, encoding: "utf8" });

  it("plan and render: exit 2, the same one line at the user's key", () => {
    const plan = run("plan.ts", "--stack", "edited");
    const render = run("render.ts", "--stack", "edited", "--out", join(dir, "out"));
    expect(plan.stderr.trim()).toMatch(expected);
    expect(plan.status).toBe(2);
    expect(render.status).toBe(2);
    expect(render.stderr.trim()).toBe(plan.stderr.trim());
    expect(render.stderr).not.toMatch(/\n\s+at |PRIVATE KEY/);
  });
});
