// Issue 19, tests 2 and 3: `pulumi up` for real, against this machine as the hypervisor.
// test/engine/hypervisor.ts makes it one privately: a network namespace with the private libvirtd
// of .ci/libvirtd.sh and an sshd that Pulumi logs in to with a key set by `pulumi config set
// --secret`; what the program runs over that SSH prepares a throwaway root, never this machine's
// GRUB, sysfs or systemd. The stack is made the way README's "Use it for real" says: stack init,
// config set, `npm run capture` over SSH, `npm run plan -- --lock`, then the CLI:
// - up creates the VM through remote.Command over SSH and the guest boots (its agent answers);
//   the host preparation landed in the throwaway root, and this machine's files are as they were;
// - a second `up --expect-no-changes` passes: nothing re-runs on an unchanged stack;
// - stopAfter: vms made nothing of the later stages (test 3's previews of them: preview.test.ts,
//   since a K3s node needs 2 whole cores and this machine has one for a VM);
// - a pin changed by hand (`virsh vcpupin`) is reported by `npm run host-check`; `pulumi refresh`
//   and the next up say nothing of it (the command provider reads nothing back);
// - a seed change is an update in place (the same domain and QEMU process);
// - a new poolDir is a replacement, said by `preview --diff` before the up does it (a new UUID);
// - destroy removes the domain, keeps the lake's data, and undoes the host preparation in the root.
// One guest boots twice under TCG (create, replacement): minutes each; waits are for states.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { requireRealTools } from "../real-tools";
import { requireTools } from "../tools";
import { snapshot, USER_GRUB, USER_IRQBALANCE } from "../hostprep/throwaway-root";
import { NODE_EXPORTER_FILES } from "../../hostprep/node-exporter";
import { TEXTFILE_DIR } from "../../platform/victoria";
import { Hypervisor, Lake, startHypervisor } from "./hypervisor";
import { ENGINE_TOOLS, Engine, startEngine, succeeded } from "./pulumi-cli";

const FILE = "test/engine/up.test.ts";
const ready =
  requireRealTools(FILE, ENGINE_TOOLS) &&
  requireTools(FILE, [
    ["virsh", "libvirt-clients"],
    ["/usr/sbin/libvirtd", "libvirt-daemon-system"],
    ["/usr/sbin/sshd", "openssh-server"],
    ["ssh", "openssh-client"],
    ["ssh-keygen", "openssh-client"],
    ["nsenter", "util-linux"],
    ["losetup", "mount"],
    ["mkfs.ext4", "e2fsprogs"],
    ["qemu-img", "qemu-utils"],
    ["cloud-localds", "cloud-image-utils"],
  ]);
// Guards against a hung engine or guest only: a create under TCG waits minutes for the guest agent.
const UP_GUARD_MS = 25 * 60_000;
const STACK = "engine-up";
const VM = "up-data";
const NETNS = "numa-k3s-up";
const CIDR = "10.79.0.1/24";
const GUEST_ADDRESS = "10.79.0.10";

/** This machine's own host files the throwaway root stands in for: unchanged by every step. */
function machineFiles(): string {
  const out: string[] = [];
  const add = (path: string) => {
    if (!existsSync(path)) {
      out.push(`${path}: absent`);
      return;
    }
    try {
      out.push(`${path}: ${readFileSync(path, "utf8")}`);
    } catch {
      out.push(`${path}: ${readdirSync(path).sort().join(" ")}`);
    }
  };
  for (const p of ["/etc/default/grub", "/etc/default/grub.d", "/etc/default/irqbalance", "/etc/systemd/system", "/etc/systemd/system/multi-user.target.wants", "/etc/tuned"]) add(p);
  if (existsSync("/etc/default/grub.d")) for (const f of readdirSync("/etc/default/grub.d")) add(`/etc/default/grub.d/${f}`);
  for (const node of readdirSync("/sys/devices/system/node").filter((n) => /^node\d+$/.test(n)))
    for (const size of readdirSync(`/sys/devices/system/node/${node}/hugepages`)) add(`/sys/devices/system/node/${node}/hugepages/${size}/nr_hugepages`);
  for (const cpu of readdirSync("/sys/devices/system/cpu").filter((c) => /^cpu\d+$/.test(c))) add(`/sys/devices/system/cpu/${cpu}/cpufreq/scaling_governor`);
  return out.join("\n");
}

(ready ? describe : describe.skip)("pulumi up against this machine as the hypervisor", () => {
  let hv: Hypervisor;
  let lake: Lake;
  let engine: Engine;
  let machineBefore: string;
  let rootBefore: Record<string, string>;
  let uuid = "";
  let poolDir = "";
  const timings: Record<string, number> = {};
  const timed = <T>(what: string, f: () => T): T => {
    const t = Date.now();
    try {
      return f();
    } finally {
      timings[what] = Math.round((Date.now() - t) / 1000);
    }
  };
  const pulumi = (what: string, args: string[], input?: string) => timed(what, () => succeeded(`pulumi ${args[0]}`, engine.pulumi([...args, "--stack", STACK], input)));
  const configSet = (key: string, value: string, path = false) => pulumi(`config set ${key}`, ["config", "set", ...(path ? ["--path"] : []), key, value]);
  const virsh = (...args: string[]) => hv.virsh(...args).trim();
  const vcpupin = () => virsh("vcpupin", VM, "--live");

  beforeAll(async () => {
    machineBefore = machineFiles();
    const image = timed("guest image", () => {
      const r = spawnSync("bash", [join(__dirname, "..", "..", ".ci", "guest-image.sh")], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`.ci/guest-image.sh: ${r.stderr}`);
      return r.stdout.trim();
    });
    hv = await startHypervisor({ netns: NETNS, cidr: CIDR }, image);
    lake = hv.makeLake(64);
    // Pulumi, the capture's ssh and the guest all live in the namespace (the guest's bridge).
    engine = startEngine("numa-engine-up", { wrap: hv.inNetns });
    poolDir = join(hv.work, "pool");
    rootBefore = snapshot(hv.root);

    // The stack file a user writes (README step 2), with this machine's values in every key.
    const config = {
      "numa-k3s:layout": "single",
      "numa-k3s:stopAfter": "vms",
      "numa-k3s:hosts": [
        {
          name: "this-machine",
          capabilities: `hosts/${STACK}.capabilities.xml`,
          // One core for the host and the emulator threads, one for the VM: all this machine has.
          reserve: { coresPerNode: 1, memoryGiBPerNode: 2 },
          ssh: { address: hv.address, user: "root", port: 22 },
          libvirt: { uri: hv.uri, poolDir, baseImage: image, bridge: "br0", domainType: "qemu" },
        },
      ],
      "numa-k3s:vms": [{ name: VM, node: 0, cores: 1, memoryGiB: 1, workload: "data", k3sRole: "server", address: GUEST_ADDRESS, disks: { osGiB: 10, lakeDevice: lake.device } }],
      "numa-k3s:network": { prefixLength: 24, gateway: hv.address, nameservers: [hv.address] },
      "numa-k3s:admin": { user: "ops", sshAuthorizedKeys: [hv.publicKey] },
      "numa-k3s:platform": { temporal: { workerImage: "registry.example.net/numa-k3s/worker:0.1.0" } },
    };
    writeFileSync(join(engine.dir, `Pulumi.${STACK}.yaml`), YAML.stringify({ config }));
    timed("stack init", () => succeeded("pulumi stack init", engine.pulumi(["stack", "init", STACK])));
    pulumi("config set --secret", ["config", "set", "--secret", "numa-k3s:sshPrivateKey"], readFileSync(hv.privateKeyFile, "utf8"));
    // README step 3: the capture over the operator's ssh, then the lock.
    timed("capture", () => succeeded("npm run capture", engine.npm("capture", ["--host", "this-machine", "--stack", STACK], { path: hv.operatorBin })));
    timed("plan --lock", () => succeeded("npm run plan", engine.npm("plan", ["--stack", STACK, "--lock", `hosts/${STACK}.lock.json`])));
  }, UP_GUARD_MS);

  afterAll(() => {
    console.log(`${FILE} timings (s): ${JSON.stringify(timings)}`);
    hv?.stop();
    engine?.cleanup();
  });

  test(
    "up creates the VM over SSH and the guest boots; the host preparation lands in the throwaway root only",
    () => {
      const lock = JSON.parse(readFileSync(join(engine.dir, `hosts/${STACK}.lock.json`), "utf8"));
      expect(lock.vms.map((v: { name: string }) => v.name)).toEqual([VM]);
      const r = pulumi("up", ["up", "--yes", "--skip-preview"]);
      expect(r.stdout).toMatch(/numa-k3s up-data: guest agent answers/);
      expect(virsh("domstate", VM)).toBe("running");
      // The guest's agent answers the host (the create waited for it; asked again here).
      expect(virsh("qemu-agent-command", VM, '{"execute":"guest-ping"}')).toBe('{"return":{}}');
      uuid = virsh("domuuid", VM);
      expect(vcpupin()).toMatch(new RegExp(`^\\s*0\\s+${lock.vms[0].vcpupin[0]}$`, "m"));
      // The preparation ran, in the root: the kernel parameters written, the user's own kept aside.
      const root = snapshot(hv.root);
      expect(Object.keys(root).some((p) => p.startsWith("/etc/default/grub.d/") && p.includes("numa-k3s"))).toBe(true);
      expect(hv.standInCalls()).toContain("update-grub ");
      // The hypervisor's monitoring files too (hostprep/node-exporter.ts, a command of its own).
      for (const f of NODE_EXPORTER_FILES) expect(root[f]).toMatch(/^file /);
      expect(machineFiles()).toBe(machineBefore);
      // Nothing of the later stages: the up stopped after the VMs.
      const state = pulumi("stack export", ["stack", "export"]).stdout;
      expect(state).not.toMatch(/numa-k3s:(k3s|platform|slm):/);
    },
    UP_GUARD_MS,
  );

  test(
    "a second up of the unchanged stack changes nothing (--expect-no-changes)",
    () => {
      const r = pulumi("up again", ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
      expect(r.stdout).not.toMatch(/^\s*[+~-]{1,2}\s+command:remote:Command/m);
      expect(virsh("domuuid", VM)).toBe(uuid);
    },
    UP_GUARD_MS,
  );

  test(
    "a pin changed by hand is reported by npm run host-check; pulumi refresh and up do not see it",
    () => {
      const pinDrift = /domain up-data vCPU 0: expected thread 0, live 1/;
      const hostCheck = () => timed("host-check", () => engine.npm("host-check", ["--stack", STACK], { path: hv.operatorBin }));
      expect(hostCheck().stdout).not.toMatch(pinDrift);
      virsh("vcpupin", VM, "0", "1", "--live");
      const check = hostCheck();
      // Exit 1 on any drift (here also the kernel parameters, which wait for a reboot).
      expect(check.status).toBe(1);
      expect(check.stdout).toMatch(pinDrift);
      // The command provider reads nothing back, and the up's drift check is marked by what the
      // stack wants (it runs when the plan changes): neither says anything of a pin moved by hand.
      const refresh = pulumi("refresh", ["refresh", "--yes", "--skip-preview"]);
      expect(refresh.stdout).not.toMatch(/vCPU 0/);
      const up = pulumi("up after a manual pin", ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
      expect(up.stdout).not.toMatch(/vCPU 0/);
      virsh("vcpupin", VM, "0", "0", "--live");
      expect(hostCheck().stdout).not.toMatch(pinDrift);
    },
    UP_GUARD_MS,
  );

  test(
    "a seed change (a package) is an update in place: preview --diff says update, same UUID, same QEMU process",
    () => {
      // Its pins cannot move here: the planner keeps the last core as the reserve, so this
      // machine's one VM core is the only place for it (re-pinning is the mock runtime's test).
      const qemuPid = () => readFileSync(join(hv.runDir, "qemu", `${VM}.pid`), "utf8").trim();
      const pid = qemuPid();
      configSet("numa-k3s:packages[0]", "htop", true);
      const preview = pulumi("preview update", ["preview", "--diff"]);
      expect(preview.stdout).toMatch(/~ command:remote:Command: \(update\)\s+\[id=[^\]]*\]\s+\[urn=[^\]]*::up-data-domain\]/);
      expect(preview.stdout).not.toMatch(/\(replace\)/);
      const r = pulumi("up update", ["up", "--yes", "--skip-preview"]);
      expect(r.stdout).toMatch(/numa-k3s up-data: seed ISO re-inserted into the running guest/);
      expect(virsh("domuuid", VM)).toBe(uuid);
      expect(qemuPid()).toBe(pid);
    },
    UP_GUARD_MS,
  );

  test(
    "a new poolDir replaces the VM: preview --diff says so first, the up gives it a new UUID, the lake stays",
    () => {
      const newPool = join(hv.work, "pool2");
      configSet("numa-k3s:hosts[0].libvirt.poolDir", newPool, true);
      const preview = pulumi("preview replace", ["preview", "--diff"]);
      expect(preview.stdout).toMatch(/\+-\s*command:remote:Command: \(replace\)[\s\S]*up-data-domain/);
      const r = pulumi("up replace", ["up", "--yes", "--skip-preview"]);
      expect(r.stdout).toMatch(/numa-k3s up-data: guest agent answers/);
      expect(virsh("domuuid", VM)).not.toBe(uuid);
      expect(existsSync(join(newPool, VM, "os.qcow2"))).toBe(true);
      expect(existsSync(join(poolDir, VM, "os.qcow2"))).toBe(false);
    },
    UP_GUARD_MS,
  );

  test(
    "destroy removes the domain, keeps the lake's data and undoes the host preparation in the root",
    () => {
      pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
      expect(virsh("list", "--all", "--name")).toBe("");
      expect(lake.lakeFile()).toBe(lake.content);
      const root = snapshot(hv.root);
      expect(root["/etc/default/grub.d/50-user.cfg"]).toBe(`file 644 ${USER_GRUB}`);
      expect(root["/etc/default/irqbalance"]).toBe(`file 644 ${USER_IRQBALANCE}`);
      // Kept on purpose: the pool directory (its disks may hold data) and node_exporter's textfile
      // directory (the package's); empty directories both.
      const kept = (p: string) => root[p] === "dir 755" && [TEXTFILE_DIR, hv.work].some((d) => d === p || d.startsWith(`${p}/`) || p.startsWith(`${d}/`));
      const left = Object.keys(root).filter((p) => root[p] !== rootBefore[p] && !kept(p));
      expect(left).toEqual([]);
      expect(machineFiles()).toBe(machineBefore);
    },
    UP_GUARD_MS,
  );
});

