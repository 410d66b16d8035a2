// A real hypervisor: the VM scripts (the very text remote.Command sends) run with bash against the
// libvirtd of this machine (`bash .ci/libvirtd.sh start`), on a plan for this machine's own
// topology captured live. No /dev/kvm here, so the domain runs under TCG (domainType qemu) with a
// blank disk, and the wait for the guest agent is off. Every pin is checked twice: as libvirt
// reports it, and as the kernel enforces it on QEMU's threads.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderMetaData, renderNetworkConfig, renderUserData } from "../../guest/cloud-init";
import { createScript, deleteScript, remoteCommand, updateScript, VmScriptParams } from "../../hypervisor/vm-scripts";
import { parseCapabilities } from "../../topology/capabilities";
import { parseCpuset } from "../../topology/cpuset";
import { DomainSpec, renderDomainXml } from "../../topology/domain-xml";
import { VmPlacement } from "../../topology/placement";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";

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
const skip = process.env.NUMA_K3S_SKIP_LIBVIRTD === "1" && process.env.CI !== "true";
if (!libvirtdAnswers && skip) console.log(`test/integration/libvirtd.test.ts skipped: ${URI} does not answer and NUMA_K3S_SKIP_LIBVIRTD=1`);

if (!libvirtdAnswers && !skip) {
  test("libvirtd answers on qemu:///system", () => {
    // test/global-setup.ts starts one when it is installed; so it is missing, or it failed to start.
    throw new Error(
      `${URI} does not answer: install libvirt (apt-get install libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils), or see why \`bash .ci/libvirtd.sh start\` fails; NUMA_K3S_SKIP_LIBVIRTD=1 skips this test outside CI`,
    );
  });
}

// The script text, run the way sshd runs remote.Command's command: by a login shell, `sh -c`.
function runScript(script: string, domainXml = ""): { stderr: string } {
  const r = run("sh", ["-c", remoteCommand(script)], domainXml);
  if (r.status !== 0) throw new Error(`script exited ${r.status}:\n${r.stderr}`);
  return { stderr: r.stderr };
}

/** vCPU index -> host threads, from `virsh vcpupin NAME --live|--config`. */
function vcpupinOf(name: string, flag: "--live" | "--config"): number[][] {
  return virsh("vcpupin", name, flag)
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, cpus]) => parseCpuset(cpus));
}
function emulatorpinOf(name: string, flag: "--live" | "--config"): number[] {
  return parseCpuset(virsh("emulatorpin", name, flag).trim().split(/\s+/).pop()!);
}
function numatuneOf(name: string): Record<string, string> {
  return Object.fromEntries(
    virsh("numatune", name, "--live")
      .trim()
      .split("\n")
      .map((l) => l.split(":").map((s) => s.trim())),
  );
}
function qemuPid(name: string): number {
  return Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());
}
/** What the kernel lets a QEMU thread run on (sched_setaffinity / cpuset cgroup). */
function allowedThreads(pid: number, tid = pid): number[] {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
  return parseCpuset(/^Cpus_allowed_list:\s*(\S+)$/m.exec(status)![1]);
}
/** The host thread id (tid) of each vCPU, from QEMU itself. */
function vcpuTids(name: string): number[] {
  const reply = JSON.parse(virsh("qemu-monitor-command", name, '{"execute":"query-cpus-fast"}'));
  return (reply.return as Array<{ "cpu-index": number; "thread-id": number }>).sort((a, b) => a["cpu-index"] - b["cpu-index"]).map((c) => c["thread-id"]);
}

(libvirtdAnswers ? describe : describe.skip)("VM scripts against a real libvirtd (qemu:///system, TCG)", () => {
  const suffix = randomBytes(3).toString("hex");
  const name = `numa-k3s-it-${suffix}`;
  const bridge = `nk3sit${suffix}`;
  let pool: string;
  let params: VmScriptParams;
  let spec: DomainSpec;
  let placement: VmPlacement;
  let xml: string;

  beforeAll(() => {
    // 1. This machine's topology, live, and a plan for one small VM on node 0.
    const topology = parseCapabilities(virsh("capabilities"), `virsh -c ${URI} capabilities`);
    const request = PlacementRequestSchema.parse({
      hosts: [{ name: "ci-host", capabilities: "(live)", reserve: { coresPerNode: 1, memoryGiBPerNode: 1 } }],
      vms: [{ name, node: topology.nodes[0].id, cores: 1, memoryGiB: 0.25, emulator: "shared" }],
    });
    const outcome = planPlacement({ request, topologies: new Map([["ci-host", topology]]) });
    if (outcome.kind !== "placed") throw new Error(`this machine cannot hold the test VM: ${outcome.problems.map((p) => p.message).join("; ")}`);
    placement = outcome.plan.vms[0];

    // 2. A pool the QEMU user can reach (mkdtemp makes 0700 directories), a blank base image,
    //    a bridge of our own, and the uploaded seed files.
    pool = mkdtempSync(`/tmp/${name}-`);
    chmodSync(pool, 0o755);
    must("qemu-img", ["create", "-q", "-f", "qcow2", join(pool, "base.qcow2"), "64M"]);
    must("ip", ["link", "add", bridge, "type", "bridge"]);
    must("ip", ["link", "set", bridge, "up"]);
    const mac = `52:54:00:${suffix.slice(0, 2)}:${suffix.slice(2, 4)}:${suffix.slice(4, 6)}`;
    const seedDir = join(pool, "seed");
    mkdirSync(seedDir);
    const guest = {
      hostname: name,
      adminUser: "ops",
      sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIntegrationTestKeyOnly ci"],
      packages: [],
      address: { cidr: "192.168.254.10/24", gateway: "192.168.254.1", nameservers: ["192.168.254.1"] },
      mac,
      mounts: [{ device: "/dev/disk/by-id/virtio-hot", mountPoint: "/data/hot" as const, fsType: "ext4" as const, label: "hot", format: "when-blank" as const }],
    };
    writeFileSync(join(seedDir, "user-data"), renderUserData(guest));
    writeFileSync(join(seedDir, "meta-data"), renderMetaData(guest));
    writeFileSync(join(seedDir, "network-config"), renderNetworkConfig(guest));

    params = {
      libvirtUri: URI,
      domainName: name,
      poolDir: pool,
      baseImage: join(pool, "base.qcow2"),
      osDiskPath: join(pool, "os.qcow2"),
      osDiskGiB: 1,
      stagingDisk: { path: join(pool, "staging.qcow2"), sizeGiB: 1 },
      hotDisk: { path: join(pool, "hot.qcow2"), sizeGiB: 1 },
      seed: { dir: seedDir, isoPath: join(pool, "seed.iso") },
      waitForGuest: { enabled: false, timeoutSeconds: 1 },
      pins: placement,
      shutdownTimeoutSeconds: 2,
    };
    spec = {
      domainType: "qemu",
      osDisk: { path: params.osDiskPath },
      stagingDisk: { path: params.stagingDisk!.path },
      hotDisk: { path: params.hotDisk!.path },
      cloudInitIso: { path: params.seed.isoPath },
      network: { bridge, mac },
    };
    xml = renderDomainXml(placement, spec);
  });

  afterAll(() => {
    if (run("virsh", ["-c", URI, "dominfo", name]).status === 0) {
      run("virsh", ["-c", URI, "destroy", name]);
      run("virsh", ["-c", URI, "undefine", "--nvram", name]);
    }
    run("ip", ["link", "del", bridge]);
    if (pool) rmSync(pool, { recursive: true, force: true });
  });

  function expectPinnedAs(p: VmPlacement): void {
    const perVcpu = p.vcpupin.map((t) => [t]);
    expect(vcpupinOf(name, "--live")).toEqual(perVcpu);
    expect(vcpupinOf(name, "--config")).toEqual(perVcpu);
    expect(emulatorpinOf(name, "--live")).toEqual(p.emulatorpin);
    expect(emulatorpinOf(name, "--config")).toEqual(p.emulatorpin);
    // The kernel's view: each vCPU thread may run only on its thread, QEMU's main thread only on
    // the emulator threads.
    const pid = qemuPid(name);
    expect(vcpuTids(name).map((tid) => allowedThreads(pid, tid))).toEqual(perVcpu);
    expect(allowedThreads(pid)).toEqual(p.emulatorpin);
  }

  test("create: the domain runs, pinned and memory-bound as planned; the volumes and seed ISO exist", () => {
    const { stderr } = runScript(createScript(params), xml);
    expect(stderr).toMatch(/created OS disk/);
    expect(virsh("domstate", name).trim()).toBe("running");
    expect(virsh("dominfo", name)).toMatch(/Autostart:\s+enable/);
    expectPinnedAs(placement);
    expect(numatuneOf(name)).toEqual({ numa_mode: placement.numatune.mode, numa_nodeset: placement.numatune.nodeset.join(",") });
    const overlay = JSON.parse(must("qemu-img", ["info", "-U", "--output=json", params.osDiskPath]));
    expect(overlay).toMatchObject({ format: "qcow2", "backing-filename": params.baseImage, "virtual-size": 1024 ** 3 });
    for (const f of [params.stagingDisk!.path, params.hotDisk!.path, params.seed.isoPath]) expect(existsSync(f)).toBe(true);
    // The seed is a NoCloud ISO: volume id `cidata` with the three files.
    const iso = must("isoinfo", ["-d", "-i", params.seed.isoPath]);
    expect(iso).toMatch(/Volume id:\s+cidata/i);
  });

  test("create again converges: one domain, still running, same QEMU process, data kept", () => {
    const domid = virsh("domid", name).trim();
    const pid = qemuPid(name);
    writeFileSync(params.hotDisk!.path + ".marker", "");
    const hotBefore = readFileSync(params.hotDisk!.path);
    const { stderr } = runScript(createScript(params), xml);
    expect(stderr).toMatch(/OS disk .* exists, kept/);
    expect(virsh("list", "--all", "--name").split("\n").filter((n) => n.trim() === name)).toHaveLength(1);
    expect(virsh("domstate", name).trim()).toBe("running");
    expect(virsh("domid", name).trim()).toBe(domid);
    expect(qemuPid(name)).toBe(pid);
    expect(readFileSync(params.hotDisk!.path).equals(hotBefore)).toBe(true);
  });

  test("update with other pins re-pins the running domain live, without a restart", () => {
    // Swap the VM's threads with the emulator's: both lie on node 0, and this machine may have
    // no other free threads.
    const moved: VmPlacement = { ...placement, vcpupin: placement.emulatorpin.slice(0, placement.vcpus), emulatorpin: placement.vcpupin, iothreadpin: placement.vcpupin };
    expect(moved.vcpupin).toHaveLength(placement.vcpus);
    expect(moved.vcpupin).not.toEqual(placement.vcpupin);
    const domid = virsh("domid", name).trim();
    const pid = qemuPid(name);
    const { stderr } = runScript(updateScript({ ...params, pins: moved }), renderDomainXml(moved, spec));
    expect(stderr).toMatch(/pins applied live/);
    expect(stderr).not.toMatch(/restart needed/);
    expect(virsh("domid", name).trim()).toBe(domid);
    expect(qemuPid(name)).toBe(pid);
    expectPinnedAs(moved);
    expect(parseCpuset(virsh("iothreadinfo", name).trim().split(/\s+/).pop()!)).toEqual(moved.iothreadpin);
  });

  test("update rebuilds the seed ISO and the running QEMU reads the new one, not the replaced file", () => {
    runScript(updateScript(params), xml);
    const pid = qemuPid(name);
    const seedFds = readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })
      .filter((target) => target.includes("seed.iso"));
    expect(seedFds.length).toBeGreaterThan(0);
    for (const target of seedFds) expect(target).toBe(params.seed.isoPath);
  });

  test("update that changes the memory size restarts the domain cleanly with the new definition", () => {
    const bigger: VmPlacement = { ...placement, memoryKiB: placement.memoryKiB + 64 * 1024 };
    const domid = virsh("domid", name).trim();
    const { stderr } = runScript(updateScript({ ...params, pins: bigger }), renderDomainXml(bigger, spec));
    expect(stderr).toMatch(new RegExp(`restart needed: memory ${placement.memoryKiB} KiB -> ${bigger.memoryKiB} KiB`));
    expect(virsh("domstate", name).trim()).toBe("running");
    expect(virsh("domid", name).trim()).not.toBe(domid);
    expect(virsh("dominfo", name)).toMatch(new RegExp(`Max memory:\\s+${bigger.memoryKiB} KiB`));
    expectPinnedAs(bigger);
    // What the host runs from now on.
    placement = bigger;
    xml = renderDomainXml(bigger, spec);
    params = { ...params, pins: bigger };
  });

  test("update with a larger hot disk grows it under the running guest; a smaller one is refused and changes nothing", () => {
    const domid = virsh("domid", name).trim();
    const grown = { ...params, hotDisk: { ...params.hotDisk!, sizeGiB: 2 } };
    const { stderr } = runScript(updateScript(grown), xml);
    params = grown;
    expect(stderr).toMatch(/grew hot disk .* from 1 to 2 GiB/);
    expect(JSON.parse(must("qemu-img", ["info", "-U", "--output=json", params.hotDisk!.path]))["virtual-size"]).toBe(2 * 1024 ** 3);
    // libvirt resized it under the running domain: the guest sees the new size, no restart.
    expect(virsh("domblkinfo", name, params.hotDisk!.path)).toMatch(new RegExp(`Capacity:\\s+${2 * 1024 ** 3}`));
    expect(virsh("domid", name).trim()).toBe(domid);
    const r = run("sh", ["-c", remoteCommand(updateScript({ ...params, hotDisk: { ...params.hotDisk!, sizeGiB: 1 } }))], xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/hot disk .* is 2 GiB and the stack asks for 1 GiB: disks are never shrunk/);
    expect(JSON.parse(must("qemu-img", ["info", "-U", "--output=json", params.hotDisk!.path]))["virtual-size"]).toBe(2 * 1024 ** 3);
  });

  test("create refuses a lake device that is not there, before defining anything", () => {
    const r = run("sh", ["-c", remoteCommand(createScript({ ...params, dataDevice: "/dev/disk/by-id/ata-NUMA-K3S-NO-SUCH-DISK" }))], xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/lake device \/dev\/disk\/by-id\/ata-NUMA-K3S-NO-SUCH-DISK is not a block device/);
    expect(r.stderr).not.toMatch(/defined|created|grew/);
  });

  test("create waiting for the guest fails after its timeout when no guest agent answers, saying why", () => {
    const domid = virsh("domid", name).trim();
    const r = run("sh", ["-c", remoteCommand(createScript({ ...params, waitForGuest: { enabled: true, timeoutSeconds: 2 } }))], xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: the guest agent did not answer within 2 s/);
    // Waiting never harms the domain.
    expect(virsh("domid", name).trim()).toBe(domid);
  });

  test("delete: no domain, OS overlay, staging disk and seed gone, the hot disk kept; a second delete succeeds", () => {
    const { stderr } = runScript(deleteScript(params));
    expect(run("virsh", ["-c", URI, "dominfo", name]).status).not.toBe(0);
    for (const f of [params.osDiskPath, params.stagingDisk!.path, params.seed.isoPath, params.seed.dir]) expect(existsSync(f)).toBe(false);
    expect(existsSync(params.hotDisk!.path)).toBe(true);
    expect(existsSync(params.baseImage)).toBe(true);
    expect(stderr).toContain(`kept data disk ${params.hotDisk!.path}`);
    expect(readdirSync(pool).sort()).toEqual(["base.qcow2", "hot.qcow2", "hot.qcow2.marker"]);
    runScript(deleteScript(params));
  });
});
