// The host check's domain part against a real libvirtd (`bash .ci/libvirtd.sh start`): a small
// TCG domain created by the product's own createScript, then the state script and the drift
// check, run locally the way host-check --local runs them. No drift after the create; after a
// manual `virsh vcpupin NAME 0 <other thread> --live`, exactly that VM and vCPU.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localRunner } from "../../cli/host-check";
import { domainDrift } from "../../hostprep/drift";
import { parseHostState, stateScript } from "../../hostprep/host-state";
import { HostSettings, hostSettings } from "../../hostprep/settings";
import { HostPrepSchema } from "../../hostprep/config";
import { createScript, VmScriptParams } from "../../hypervisor/vm-scripts";
import { parseCapabilities } from "../../topology/capabilities";
import { renderDomainXml } from "../../topology/domain-xml";
import { VmPlacement } from "../../topology/placement";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";
import { bashCommand } from "../../common/remote-script";

const URI = "qemu:///system";
function run(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { input, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}
const virsh = (...args: string[]) => must("virsh", ["-q", "-c", URI, ...args]);

const libvirtdAnswers = run("virsh", ["-c", URI, "version"]).status === 0;
const skip = process.env.NUMA_K3S_SKIP_LIBVIRTD === "1";
if (!libvirtdAnswers && skip) console.log(`test/integration/host-check-libvirtd.test.ts skipped: ${URI} does not answer and NUMA_K3S_SKIP_LIBVIRTD=1`);
if (!libvirtdAnswers && !skip) {
  test("libvirtd answers on qemu:///system", () => {
    throw new Error(`${URI} does not answer: run \`bash .ci/libvirtd.sh start\` (or set NUMA_K3S_SKIP_LIBVIRTD=1 to skip this test)`);
  });
}

(libvirtdAnswers ? describe : describe.skip)("host check against a real libvirtd (qemu:///system, TCG)", () => {
  const suffix = randomBytes(3).toString("hex");
  const name = `nk3s-hostcheck-${suffix}`;
  const bridge = `nk3shc${suffix}`;
  let pool: string;
  let placement: VmPlacement;
  let settings: HostSettings;

  beforeAll(() => {
    const topology = parseCapabilities(virsh("capabilities"), `virsh -c ${URI} capabilities`);
    const request = PlacementRequestSchema.parse({
      hosts: [{ name: "ci-host", capabilities: "(live)", reserve: { coresPerNode: 1, memoryGiBPerNode: 1 } }],
      vms: [{ name, node: topology.nodes[0].id, cores: 1, memoryGiB: 0.25, emulator: "shared" }],
    });
    const outcome = planPlacement({ request, topologies: new Map([["ci-host", topology]]) });
    if (outcome.kind !== "placed") throw new Error(`this machine cannot hold the test VM: ${outcome.problems.map((p) => p.message).join("; ")}`);
    placement = outcome.plan.vms[0];
    pool = mkdtempSync(`/tmp/${name}-`);
    chmodSync(pool, 0o755);
    must("qemu-img", ["create", "-q", "-f", "qcow2", join(pool, "base.qcow2"), "64M"]);
    must("ip", ["link", "add", bridge, "type", "bridge"]);
    must("ip", ["link", "set", bridge, "up"]);
    const seed = join(pool, "seed");
    mkdirSync(seed);
    for (const f of ["user-data", "meta-data", "network-config"]) writeFileSync(join(seed, f), f === "user-data" ? "#cloud-config\n" : "{}\n");
    const params: VmScriptParams = {
      libvirtUri: URI,
      domainName: name,
      poolDir: pool,
      baseImage: join(pool, "base.qcow2"),
      osDiskPath: join(pool, "os.qcow2"),
      osDiskGiB: 1,
      seed: { dir: seed, isoPath: join(pool, "seed.iso") },
      waitForGuest: { enabled: false, timeoutSeconds: 1 },
      pins: placement,
    };
    const xml = renderDomainXml(placement, { domainType: "qemu", osDisk: { path: params.osDiskPath }, cloudInitIso: { path: params.seed.isoPath }, network: { bridge, mac: `52:54:00:${suffix.slice(0, 2)}:${suffix.slice(2, 4)}:${suffix.slice(4, 6)}` } });
    const r = run("sh", ["-c", bashCommand(createScript(params))], xml);
    if (r.status !== 0) throw new Error(`create exited ${r.status}: ${r.stderr}`);
    settings = hostSettings(topology, outcome.plan.hosts[0], outcome.plan.vms, HostPrepSchema.parse({}), { uri: URI, poolDir: pool, baseImage: params.baseImage, bridge });
  });

  afterAll(() => {
    if (run("virsh", ["-c", URI, "dominfo", name]).status === 0) {
      run("virsh", ["-c", URI, "destroy", name]);
      run("virsh", ["-c", URI, "undefine", "--nvram", name]);
    }
    run("ip", ["link", "del", bridge]);
    if (pool) rmSync(pool, { recursive: true, force: true });
  });

  function liveDomainDrift(): string[] {
    const r = localRunner({ name: "ci-host" } as never, stateScript(settings));
    expect(r.status).toBe(0);
    return domainDrift(settings, parseHostState(r.stdout));
  }

  test("after the create: no drift in the domain's pins and memory binding", () => {
    expect(virsh("domstate", name).trim()).toBe("running");
    expect(liveDomainDrift()).toEqual([]);
  });

  test("after a manual vcpupin --live to another thread: exactly that VM and vCPU", () => {
    const other = placement.emulatorpin.find((t) => t !== placement.vcpupin[0]);
    if (other === undefined) throw new Error("this machine has no second thread to move vCPU 0 to");
    virsh("vcpupin", name, "0", String(other), "--live");
    expect(liveDomainDrift()).toEqual([`host ci-host: domain ${name} vCPU 0: expected thread ${placement.vcpupin[0]}, live ${other}`]);
  });
});
