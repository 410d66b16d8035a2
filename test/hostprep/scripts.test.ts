// Golden host preparation for three hosts (the documents' reference host with the single stack's
// locked plan, a two-socket EPYC with huge-page VMs, a POWER8 SMT8 host): only what varies per host
// (the summary, tuned's variables, and each script's block of values), since the scripts' constant
// text is tested by running it (prepare-undo.test.ts, and the boot script below on a sysfs tree).
// Every script shellcheck clean. UPDATE_GOLDEN=1 rewrites the golden files; review the diff.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hugepageBootParameters } from "../../hostprep/hugepages";
import { missingParameters } from "../../hostprep/kernel-cmdline";
import { assignmentBlock, prepareAssignments, prepareScript, tuningAssignments, tuningScript } from "../../hostprep/scripts";
import { undoScript } from "../../hostprep/undo";
import { stateScript } from "../../hostprep/host-state";
import { HostSettings } from "../../hostprep/settings";
import { tunedVariables } from "../../hostprep/tuned";
import { hostSummary } from "../../hostprep/summary";
import { PlannedHost, epyc, power, referenceSingle } from "./hosts";
import { expectGolden } from "../golden";



const summary = hostSummary;
const OWNER = "numa-k3s/test";

const hosts: Array<[string, () => PlannedHost]> = [
  ["reference-single", referenceSingle],
  ["epyc-2s", epyc],
  ["power8-smt8", power],
];

function shellcheck(script: string): string {
  const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" });
  if (r.error) throw r.error;
  return r.stdout + r.stderr;
}

describe.each(hosts)("%s", (name, host) => {
  const planned = host();
  const s = planned.settings();

  it("golden: summary (cmdline, irqbalance, huge pages), tuned variables, the values of the boot and prepare scripts", () => {
    expectGolden(__dirname, `${name}/summary.txt`, summary(s));
    expectGolden(__dirname, `${name}/cpu-partitioning-variables.conf`, tunedVariables(s.host, s));
    expectGolden(__dirname, `${name}/numa-k3s-host-tuning.values.sh`, `${assignmentBlock(tuningAssignments(s))}\n`);
    // What the plan decides: the stack's own settings (owner, libvirt, base image) pass through as
    // given; the boot script it installs is the one above; the unit and the undo are constant.
    const passedThrough = ["owner", "pool_dir", "base_image", "image_url", "image_checksum", "bridge", "packages", "tuning_text", "unit_text", "undo_text"];
    const values = prepareAssignments(s, OWNER).filter(([n]) => !passedThrough.includes(n));
    expectGolden(__dirname, `${name}/prepare.values.sh`, `${assignmentBlock(values)}\n`);
    expect(prepareAssignments(s, OWNER).find(([n]) => n === "tuning_text")![1]).toBe(tuningScript(s));
  });

  it("every thread is either a VM thread or reserved, and every vCPU and emulator thread is where it should be", () => {
    const online = planned.topology.nodes.flatMap((n) => n.threads.filter((t) => t.online).map((t) => t.id));
    expect([...s.vmThreads, ...s.reservedThreads].sort((a, b) => a - b)).toEqual([...online].sort((a, b) => a - b));
    for (const vm of planned.plan.vms) {
      for (const t of vm.vcpupin) expect(s.vmThreads).toContain(t);
      for (const t of vm.emulatorpin) expect(s.reservedThreads).toContain(t);
    }
  });

  it("huge pages per node add up to what the plan's VMs take", () => {
    for (const p of [...s.pages.runtime, ...s.pages.boot]) {
      const taken = planned.plan.vms.filter((vm) => vm.node === p.node && vm.hugepages?.sizeKiB === p.sizeKiB).reduce((n, vm) => n + vm.hugepages!.count, 0);
      expect(p.count).toBe(taken);
    }
  });

  it.each(["cmdline", "tuned"] as const)("shellcheck is clean on every script (%s mode)", (isolation) => {
    const t = planned.settings({ isolation, maxWakeLatencyUs: 2, allowReboot: true, baseImage: { url: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2", checksum: `sha512:${"ab".repeat(64)}` } });
    for (const script of [prepareScript(t, OWNER), tuningScript(t), stateScript(t), undoScript(OWNER, "host-a"), undoScript("", "")]) expect(shellcheck(script)).toBe("");
  });
});

describe("what varies per host is in the block of values, and nowhere else", () => {
  const withoutValues = (script: string, block: string) => {
    expect(script).toContain(block);
    return script.replace(block, "");
  };
  it.each([
    ["prepare", (s: HostSettings) => withoutValues(prepareScript(s, OWNER), assignmentBlock(prepareAssignments(s, OWNER)))],
    ["boot", (s: HostSettings) => withoutValues(tuningScript(s), assignmentBlock(tuningAssignments(s)))],
  ])("the %s script's text outside its values is the same for every host", (_n, constant) => {
    const texts = hosts.map(([, host]) => constant(host().settings({ maxWakeLatencyUs: 2 })));
    expect(new Set(texts).size).toBe(1);
  });
});

describe("derivations", () => {
  it("1G pages per node on the command line; nothing for a plan without them", () => {
    expect(epyc().settings().bootParameters.slice(-2)).toEqual(["hugepagesz=1G", "hugepages=0:8,1:16"]);
    expect(hugepageBootParameters(referenceSingle().settings().pages)).toEqual([]);
  });

  it("tuned mode leaves isolation to tuned: only huge pages stay on our command line", () => {
    expect(epyc().settings({ isolation: "tuned" }).bootParameters).toEqual(["hugepagesz=1G", "hugepages=0:8,1:16"]);
    expect(referenceSingle().settings({ isolation: "tuned" }).bootParameters).toEqual([]);
  });

  it("a reboot is needed exactly for the parameters the live command line lacks (last value wins)", () => {
    const wanted = ["isolcpus=managed_irq,domain,2-5", "nohz_full=2-5", "hugepagesz=1G", "hugepages=0:8"];
    expect(missingParameters(wanted, "ro quiet isolcpus=managed_irq,domain,2-5 nohz_full=2-5 hugepagesz=1G hugepages=0:8\n")).toEqual([]);
    expect(missingParameters(wanted, "ro nohz_full=2-5 nohz_full=2-3 hugepagesz=1G hugepages=0:4")).toEqual(["isolcpus=managed_irq,domain,2-5", "nohz_full=2-5", "hugepages=0:8"]);
  });
});

describe("the boot script, run on a sysfs tree", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "nk3s-sysfs-"));
    mkdirSync(join(root, "proc"));
    writeFileSync(join(root, "proc/mounts"), "sysfs /sys sysfs rw 0 0\n");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function file(path: string, text: string) {
    mkdirSync(join(root, "sys", path, ".."), { recursive: true });
    writeFileSync(join(root, "sys", path), text);
  }
  const read = (path: string) => readFileSync(join(root, "sys", path), "utf8").trim();
  const boot = (script: string) => spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, NUMA_K3S_ROOT: root } });

  it("sets each node's pages, the governor and the wake latency on VM threads only; says where there is no cpufreq", () => {
    const s = epyc().settings({ maxWakeLatencyUs: 2 });
    for (const node of [0, 1]) {
      file(`devices/system/node/node${node}/hugepages/hugepages-2048kB/nr_hugepages`, "7\n");
      // The kernel already allocated the 1G pages at boot.
      file(`devices/system/node/node${node}/hugepages/hugepages-1048576kB/nr_hugepages`, node === 0 ? "8\n" : "16\n");
    }
    // Threads 0 (VM) and 15 (reserve) have cpufreq; thread 1 (VM) has none.
    for (const t of [0, 15]) file(`devices/system/cpu/cpu${t}/cpufreq/scaling_governor`, "powersave\n");
    for (const t of [0, 1, 15]) file(`devices/system/cpu/cpu${t}/power/pm_qos_resume_latency_us`, "0\n");
    const r = boot(tuningScript({ ...s, pages: { runtime: s.pages.runtime, boot: [] } }));
    expect(r.stderr).toContain("node 1: 2048 pages of 2048 KiB");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    expect(read("devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages")).toBe("0");
    expect(read("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages")).toBe("2048");
    expect(read("devices/system/cpu/cpu0/cpufreq/scaling_governor")).toBe("performance");
    expect(read("devices/system/cpu/cpu15/cpufreq/scaling_governor")).toBe("powersave");
    expect(read("devices/system/cpu/cpu0/power/pm_qos_resume_latency_us")).toBe("2");
    expect(read("devices/system/cpu/cpu15/power/pm_qos_resume_latency_us")).toBe("0");
    expect(r.stderr).toMatch(/no cpufreq on \d+ VM thread\(s\): no governor to set there, nothing to do/);
  });

  it("fails, naming node and size, on a pool the kernel does not offer", () => {
    const s = epyc().settings();
    file("devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
    const only2M = { ...s, pages: { runtime: s.pages.runtime, boot: [] } };
    rmSync(join(root, "sys/devices/system/node/node1"), { recursive: true, force: true });
    const gone = boot(tuningScript(only2M));
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain("this kernel offers no 2048 KiB pages on node 1");
  });
});
