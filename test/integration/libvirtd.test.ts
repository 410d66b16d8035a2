// A real hypervisor: the VM scripts (the very text remote.Command sends) run with bash against the
// libvirtd of this machine (`bash .ci/libvirtd.sh start`), on a plan for this machine's own
// topology captured live. No /dev/kvm here, so the domain runs under TCG (domainType qemu) with a
// blank disk, and the wait for the guest agent is off. Every pin is checked twice: as libvirt
// reports it, and as the kernel enforces it on QEMU's threads.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderMetaData, renderNetworkConfig, renderUserData } from "../../guest/cloud-init";
import { createScript, deleteScript, updateScript, VmScriptParams } from "../../hypervisor/vm-scripts";
import { VmDescription, domainSpecOf, guestMountsOf, scriptParamsOf, vmFilesOf } from "../../hypervisor/vm-description";
import { guestMachineOf } from "../../hypervisor/guest-machine";
import type { HostTopology } from "../../topology/host-topology";
import { parseCapabilities } from "../../topology/capabilities";
import { parseCpuset } from "../../topology/cpuset";
import { DomainSpec, renderDomainXml } from "../../topology/domain-xml";
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
  const r = run("sh", ["-c", bashCommand(script)], domainXml);
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
    const r = run("sh", ["-c", bashCommand(updateScript({ ...params, hotDisk: { ...params.hotDisk!, sizeGiB: 1 } }))], xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/hot disk .* is 2 GiB and the stack asks for 1 GiB: disks are never shrunk/);
    expect(JSON.parse(must("qemu-img", ["info", "-U", "--output=json", params.hotDisk!.path]))["virtual-size"]).toBe(2 * 1024 ** 3);
  });

  test("create refuses a lake device that is not there, before defining anything", () => {
    const r = run("sh", ["-c", bashCommand(createScript({ ...params, dataDevice: "/dev/disk/by-id/ata-NUMA-K3S-NO-SUCH-DISK" }))], xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/lake device \/dev\/disk\/by-id\/ata-NUMA-K3S-NO-SUCH-DISK is not a block device/);
    expect(r.stderr).not.toMatch(/defined|created|grew/);
  });

  test("create waiting for the guest fails after its timeout when no guest agent answers, saying why", () => {
    const domid = virsh("domid", name).trim();
    const r = run("sh", ["-c", bashCommand(createScript({ ...params, waitForGuest: { enabled: true, timeoutSeconds: 2 } }))], xml);
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

// ---------------------------------------------------------------------------------------------
// The data VM's lifecycle, against the same libvirtd: interrupted creates, renames, moves and
// deletes, each done for real, each ending with the hot disk's data where it was. The VMs are laid
// out by the product's own description (hypervisor/vm-description.ts), so the hot disk is where a
// stack would put it: beside the VMs, named by the lake.
(libvirtdAnswers ? describe : describe.skip)("the VM scripts keep the data VM's disks through interruptions, renames, moves and deletes (qemu:///system, TCG)", () => {
  const suffix = randomBytes(3).toString("hex");
  const bridge = `nk3slc${suffix}`;
  let pool = "";
  let base = "";
  let lake = "";
  let loop = "";
  let createdById = false;
  let topology: HostTopology;
  const names = new Set<string>();

  beforeAll(() => {
    topology = parseCapabilities(virsh("capabilities"), `virsh -c ${URI} capabilities`);
    pool = mkdtempSync(`/tmp/numa-k3s-lc-${suffix}-`);
    chmodSync(pool, 0o755);
    base = join(pool, "base.qcow2");
    must("qemu-img", ["create", "-q", "-f", "qcow2", base, "64M"]);
    must("ip", ["link", "add", bridge, "type", "bridge"]);
    must("ip", ["link", "set", bridge, "up"]);
    // The lake HDD: a loop device under a /dev/disk/by-id/ name, as a real disk is named.
    must("truncate", ["-s", "16M", join(pool, "lake.img")]);
    loop = must("losetup", ["--find", "--show", join(pool, "lake.img")]).trim();
    if (!existsSync("/dev/disk/by-id")) {
      mkdirSync("/dev/disk/by-id", { recursive: true });
      createdById = true;
    }
    lake = `/dev/disk/by-id/numa-k3s-it-lake-${suffix}`;
    symlinkSync(loop, lake);
  });

  afterAll(() => {
    for (const name of names) forget(name);
    run("ip", ["link", "del", bridge]);
    if (lake) rmSync(lake, { force: true });
    if (createdById) rmSync("/dev/disk/by-id", { recursive: true, force: true });
    if (loop) run("losetup", ["-d", loop]);
    if (pool) rmSync(pool, { recursive: true, force: true });
  });

  function forget(name: string): void {
    if (run("virsh", ["-c", URI, "dominfo", name]).status !== 0) return;
    run("virsh", ["-c", URI, "destroy", name]);
    run("virsh", ["-c", URI, "undefine", "--nvram", name]);
  }

  /** The data VM `name` as a stack describes it (files in `inPool`), its seed files uploaded. */
  function dataVm(name: string, inPool = pool): { params: VmScriptParams; xml: string; vm: VmDescription } {
    names.add(name);
    const request = PlacementRequestSchema.parse({
      hosts: [{ name: "ci-host", capabilities: "(live)", reserve: { coresPerNode: 1, memoryGiBPerNode: 1 } }],
      vms: [{ name, node: topology.nodes[0].id, cores: 1, memoryGiB: 0.25, emulator: "shared" }],
    });
    const outcome = planPlacement({ request, topologies: new Map([["ci-host", topology]]) });
    if (outcome.kind !== "placed") throw new Error(`this machine cannot hold the test VM: ${outcome.problems.map((p) => p.message).join("; ")}`);
    const files = vmFilesOf(inPool, name, { osGiB: 1, hotGiB: 1, lakeDevice: lake });
    const vm: VmDescription = {
      placement: outcome.plan.vms[0],
      files,
      hypervisor: { libvirtUri: URI, baseImage: base, domainType: "qemu", bridge, ...guestMachineOf("ci-host", topology) },
      guest: {
        hostname: name,
        adminUser: "ops",
        sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIntegrationTestKeyOnly ci"],
        packages: [],
        address: { cidr: "192.168.254.11/24", gateway: "192.168.254.1", nameservers: ["192.168.254.1"] },
        mac: `52:54:00:${suffix.slice(0, 2)}:${suffix.slice(2, 4)}:${suffix.slice(4, 6)}`,
        mounts: guestMountsOf(files),
      },
      vnc: false,
      waitForGuest: { enabled: false, timeoutSeconds: 1 },
      deleteDataDisks: false,
    };
    mkdirSync(files.seed.dir, { recursive: true });
    writeFileSync(join(files.seed.dir, "user-data"), renderUserData(vm.guest));
    writeFileSync(join(files.seed.dir, "meta-data"), renderMetaData(vm.guest));
    writeFileSync(join(files.seed.dir, "network-config"), renderNetworkConfig(vm.guest));
    // No OS answers ACPI on a blank disk: delete's clean shutdown gives up after 2 s.
    return { params: { ...scriptParamsOf(vm), shutdownTimeoutSeconds: 2 }, xml: renderDomainXml(vm.placement, domainSpecOf(vm)), vm };
  }

  /** A script run as sshd runs it, in a session of its own, so that a kill can take the whole of it. */
  function attempt(script: string, xml: string, env: Record<string, string> = {}) {
    const r = spawnSync("setsid", ["-w", "sh", "-c", bashCommand(script)], { input: xml, encoding: "utf8", env: { ...process.env, ...env } });
    return { status: r.status, signal: r.signal, stderr: r.stderr ?? "" };
  }

  /** The hot disk's data: 64 KiB of one byte at its start, as the guest's filesystem would have written. */
  const writeMarker = (file: string) => must("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 64k", file]);
  const hasMarker = (file: string) => run("qemu-io", ["-r", "-U", "-f", "qcow2", "-c", "read -P 0x5a 0 64k", file]).stdout.includes("read 65536/65536");
  const info = (file: string) => JSON.parse(must("qemu-img", ["info", "-U", "--output=json", file]));
  /** The file the domain's persistent definition gives the disk with serial `serial`. */
  const definedDisk = (name: string, serial: string) =>
    new RegExp(`<source file='([^']*)'[^>]*/>\\s*<target[^>]*/>\\s*<serial>${serial}</serial>`).exec(virsh("dumpxml", "--inactive", name))?.[1];

  // The interruptions: every call of qemu-img, the seed builders and virsh that changes something
  // (create, resize, define, autostart, start) goes through a wrapper that counts it; at call
  // KILL_AT it kills the script's whole session. Killed in `qemu-img create`, it first leaves the
  // file it was writing as the kill leaves it: created, empty.
  function killerBin(): string {
    const bin = join(pool, "killer-bin");
    if (existsSync(bin)) return bin;
    mkdirSync(bin);
    const wrapper = (tool: string, mutating: string) => `#!/bin/bash
real=$(PATH=\${PATH#*killer-bin:} command -v ${tool})
if [[ ${mutating} ]]; then
  n=$(( $(cat "$KILL_COUNT" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$KILL_COUNT"
  echo "${tool} $*" >>"$KILL_COUNT.calls"
  if (( n == KILL_AT )); then
    if [[ "${tool} $1" == "qemu-img create" ]]; then args=("$@"); : >"\${args[\${#args[@]} - 2]}"; fi
    kill -KILL 0
  fi
fi
exec "$real" "$@"
`;
    for (const [tool, mutating] of [
      ["qemu-img", ' " $* " == *" create "* || " $* " == *" resize "* '],
      ["virsh", ' " $* " == *" define "* || " $* " == *" autostart "* || " $* " == *" start "* '],
      ["cloud-localds", " 1 "],
      ["genisoimage", " 1 "],
    ])
      if (run("sh", ["-c", `command -v ${tool}`]).status === 0) writeFileSync(join(bin, tool), wrapper(tool, mutating), { mode: 0o755 });
    return bin;
  }

  test("a create killed at any step converges when run again: a domain that starts, every image whole", () => {
    const { params, xml } = dataVm(`numa-k3s-lc-${suffix}-a`);
    const bin = killerBin();
    const count = join(pool, "kill-count");
    const fresh = () => {
      forget(params.domainName);
      for (const f of [params.osDiskPath, params.hotDisk!.path, params.seed.isoPath]) for (const g of [f, `${f}.partial`]) rmSync(g, { force: true });
      rmSync(count, { force: true });
      rmSync(`${count}.calls`, { force: true });
    };
    const env = (killAt: number) => ({ PATH: `${bin}:${process.env.PATH}`, KILL_AT: String(killAt), KILL_COUNT: count });
    fresh();
    expect(attempt(createScript(params), xml, env(0)).status).toBe(0);
    const steps = readFileSync(`${count}.calls`, "utf8").trim().split("\n");
    expect(steps.length).toBeGreaterThanOrEqual(6);
    for (let k = 1; k <= steps.length; k++) {
      fresh();
      const killed = attempt(createScript(params), xml, env(k));
      expect({ step: steps[k - 1], killed: killed.status !== 0 }).toEqual({ step: steps[k - 1], killed: true });
      const again = attempt(createScript(params), xml);
      expect({ step: steps[k - 1], status: again.status, stderr: again.stderr }).toMatchObject({ step: steps[k - 1], status: 0 });
      expect(virsh("domstate", params.domainName).trim()).toBe("running");
      expect(info(params.osDiskPath)).toMatchObject({ format: "qcow2", "backing-filename": base, "virtual-size": 1024 ** 3 });
      expect(info(params.hotDisk!.path)).toMatchObject({ format: "qcow2", "virtual-size": 1024 ** 3 });
      expect(readdirSync(pool).filter((f) => f.endsWith(".partial"))).toEqual([]);
    }
    forget(params.domainName);
  }, 600_000);

  test("empty images an older version's interrupted create left are created again; the domain starts", () => {
    const { params, xml } = dataVm(`numa-k3s-lc-${suffix}-a`);
    forget(params.domainName);
    for (const f of [params.osDiskPath, params.hotDisk!.path]) {
      rmSync(f, { force: true });
      writeFileSync(f, "");
    }
    // What the old re-run made of the empty hot disk: a sparse raw file of its size.
    must("truncate", ["-s", "1G", params.hotDisk!.path]);
    const r = attempt(createScript(params), xml);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/OS disk .* held nothing \(an interrupted create left it\): creating it again/);
    expect(r.stderr).toMatch(/hot disk .* held nothing \(an interrupted create left it\): creating it again/);
    expect(virsh("domstate", params.domainName).trim()).toBe("running");
    expect(info(params.hotDisk!.path).format).toBe("qcow2");
    forget(params.domainName);
  }, 120_000);

  test("a file at a disk's path that is not the image this VM uses is refused, not a byte changed, nothing defined", () => {
    const { params, xml } = dataVm(`numa-k3s-lc-${suffix}-b`);
    rmSync(params.hotDisk!.path, { force: true });
    writeFileSync(params.hotDisk!.path, randomBytes(1 << 20));
    const before = readFileSync(params.hotDisk!.path);
    const r = attempt(createScript(params), xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: hot disk .* is not a qcow2 image \(qemu-img reads it as "raw"\) and holds data: not the image this VM uses, so not touched/);
    expect(readFileSync(params.hotDisk!.path).equals(before)).toBe(true);
    expect(run("virsh", ["-c", URI, "dominfo", params.domainName]).status).not.toBe(0);
    rmSync(params.hotDisk!.path);

    // An OS disk that is an overlay on another image.
    const other = join(pool, "other-base.qcow2");
    must("qemu-img", ["create", "-q", "-f", "qcow2", other, "64M"]);
    mkdirSync(dirname(params.osDiskPath), { recursive: true });
    rmSync(params.osDiskPath, { force: true });
    must("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", other, params.osDiskPath, "1G"]);
    const overlay = attempt(createScript(params), xml);
    expect(overlay.status).toBe(1);
    expect(overlay.stderr).toMatch(new RegExp(`error: OS disk .* is an overlay on "${other}", not on ${base}: not this VM's, so not touched`));
    expect(info(params.osDiskPath)["backing-filename"]).toBe(other);
    rmSync(params.osDiskPath);
  }, 120_000);

  test("a rename: the new VM is refused while the old one has the lake and the hot disk; with the old one removed first, the new one finds the hot disk's data", () => {
    const old = dataVm(`numa-k3s-lc-${suffix}-old`);
    const renamed = dataVm(`numa-k3s-lc-${suffix}-new`);
    expect(renamed.params.hotDisk!.path).toBe(old.params.hotDisk!.path);
    rmSync(old.params.hotDisk!.path, { force: true });
    must("qemu-img", ["create", "-q", "-f", "qcow2", old.params.hotDisk!.path, "1G"]);
    writeMarker(old.params.hotDisk!.path);
    expect(attempt(createScript(old.params), old.xml).stderr).toMatch(/hot disk .* exists, kept/);

    // What `pulumi up` does with a renamed VM: create the new one first.
    const refused = attempt(createScript(renamed.params), renamed.xml);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `numa-k3s ${renamed.params.domainName}: error: lake device ${lake} is attached to domain ${old.params.domainName} already: two domains never share a disk (both would write the filesystem on it). If ${renamed.params.domainName} replaces ${old.params.domainName} (a rename), remove ${old.params.domainName} from the stack and run pulumi up first (it is shut down and deleted; its hot disk and the lake are kept), then add ${renamed.params.domainName}`,
    );
    expect(run("virsh", ["-c", URI, "dominfo", renamed.params.domainName]).status).not.toBe(0);
    expect(existsSync(renamed.params.osDiskPath)).toBe(false);
    // The hot disk alone is refused as well (a lake the old domain no longer names).
    const hotOnly = attempt(createScript({ ...renamed.params, dataDevice: undefined }), renamed.xml);
    expect(hotOnly.stderr).toMatch(new RegExp(`error: hot disk ${old.params.hotDisk!.path} is attached to domain ${old.params.domainName} already`));

    // The way the message says: the old VM removed, then the new one added.
    const deleted = attempt(deleteScript(old.params), "");
    expect(deleted.status).toBe(0);
    expect(deleted.stderr).toMatch(/no clean shutdown within 2 s; destroying \(a hard power-off\)/);
    expect(deleted.stderr).toContain(`kept data disk ${old.params.hotDisk!.path}`);
    const created = attempt(createScript(renamed.params), renamed.xml);
    expect(created.status).toBe(0);
    expect(created.stderr).toMatch(/hot disk .* exists, kept/);
    expect(definedDisk(renamed.params.domainName, "hot")).toBe(old.params.hotDisk!.path);
    expect(hasMarker(renamed.params.hotDisk!.path)).toBe(true);
  }, 180_000);

  test("an update that would move the data VM or swap its hot disk is refused, saying how; done that way, the data comes along", () => {
    const { params, xml } = dataVm(`numa-k3s-lc-${suffix}-new`);
    const hot = params.hotDisk!.path;
    expect(hasMarker(hot)).toBe(true);
    const definition = virsh("dumpxml", "--inactive", params.domainName);

    // Another poolDir: the OS disk and the hot disk would both be elsewhere.
    const elsewhere = join(pool, "elsewhere");
    const moved = dataVm(params.domainName, elsewhere);
    const r = attempt(updateScript(moved.params), moved.xml);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: ${params.domainName} would move from ${params.osDiskPath} to ${moved.params.osDiskPath} \\(its poolDir changed\\): a VM with a hot disk is never moved by an update`));
    expect(virsh("dumpxml", "--inactive", params.domainName)).toBe(definition);
    expect(existsSync(moved.params.osDiskPath)).toBe(false);
    expect(existsSync(moved.params.hotDisk!.path)).toBe(false);

    // The hot disk alone at another path (as when the VM's own directory held it, before issue 16).
    const legacy = join(dirname(params.osDiskPath), "hot.qcow2");
    const swapped = { ...params, hotDisk: { ...params.hotDisk!, path: legacy } };
    const s = attempt(updateScript(swapped), xml.replace(hot, legacy));
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(new RegExp(`error: ${params.domainName}'s hot disk would change from ${hot} to ${legacy}, leaving the lake's metadata behind. To keep it: virsh -c ${URI} shutdown ${params.domainName}; mv -n -- ${hot} ${legacy}; then run pulumi up again`));
    expect(existsSync(legacy)).toBe(false);
    // Following it.
    virsh("destroy", params.domainName);
    must("mv", ["-n", "--", hot, legacy]);
    expect(attempt(updateScript(swapped), xml.replace(hot, legacy)).status).toBe(0);
    expect(definedDisk(params.domainName, "hot")).toBe(legacy);
    expect(hasMarker(legacy)).toBe(true);

    // The domain gone from this libvirt (another host or URI) and no hot disk where the update
    // would put it: nothing is created.
    virsh("destroy", params.domainName);
    virsh("undefine", "--nvram", params.domainName);
    const gone = attempt(updateScript(params), xml);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(new RegExp(`error: ${params.domainName} is not defined on .* \\(${URI}\\) and its hot disk ${hot} is not there: .*An update never creates a hot disk afresh`));
    expect(existsSync(hot)).toBe(false);
    expect(run("virsh", ["-c", URI, "dominfo", params.domainName]).status).not.toBe(0);
  }, 180_000);
});
