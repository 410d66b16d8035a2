// The real prepare and undo scripts, run in bash against a throwaway root (NUMA_K3S_ROOT): a fake
// sysfs and procfs, /etc/default/grub and grub.d, irqbalance's defaults, tuned, systemd's unit
// directory, each holding the user's own settings. Commands that would act on the machine (update-grub,
// systemctl, tuned-adm, mount) are stand-ins on PATH that record their calls and keep their state in
// the root. The old NumaHost had no delete: after `pulumi destroy` its GRUB drop-in (isolcpus and
// nohz_full on every VM thread), its irqbalance line (in place of the user's own, which it dropped)
// and its boot unit (the plan's huge pages at every boot) stayed on the host.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATE_DIR } from "../../hostprep/host-record";
import { prepareScript } from "../../hostprep/scripts";
import type { HostSettings } from "../../hostprep/settings";
import { undoScript } from "../../hostprep/undo";
import { NODE_EXPORTER_FILES } from "../../hostprep/node-exporter";
import { epyc, referenceSingle } from "./hosts";
import { USER_GRUB, USER_IRQBALANCE, USER_TUNED, snapshot as snapshotOf, writeStandIns, writeUserHost } from "./throwaway-root";

const OWNER = "numa-k3s/single";

let dir: string;
let root: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nk3s-hostprep-"));
  root = join(dir, "root");
  writeStandIns(join(dir, "bin"), join(dir, "calls"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function put(path: string, text: string) {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), text);
}
const read = (path: string) => readFileSync(join(root, path), "utf8");

/** A host as the user keeps it, for the settings' plan: every sysfs file the boot script may touch,
 * with values of the user's (not the plan's), and the user's own GRUB, irqbalance and tuned files. */
function host(s: HostSettings) {
  writeUserHost(root, { threads: [...s.vmThreads, ...s.reservedThreads], pages: [...s.pages.runtime, ...s.pages.boot], baseImage: s.libvirt.baseImage });
}

const snapshot = () => snapshotOf(root);

function run(script: string) {
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}`, NUMA_K3S_ROOT: root } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The host as the user keeps it, then prepared by this stack; returns the host before. */
function prepared(s: HostSettings): Record<string, string> {
  host(s);
  const before = snapshot();
  expect(run(prepareScript(s, OWNER)).code).toBe(0);
  return before;
}

/** The kernel command line the next boot gets, as update-grub computes it: /etc/default/grub, then
 * every grub.d/*.cfg in order, sourced by the real bash. */
function nextBootCmdline(): string {
  const r = spawnSync("bash", ["-c", `. "$R/etc/default/grub"; for f in "$R"/etc/default/grub.d/*.cfg; do . "$f"; done; printf '%s' "$GRUB_CMDLINE_LINUX"`], { encoding: "utf8", env: { ...process.env, R: root } });
  return r.stdout.trim();
}

describe("prepare, then undo: the host is as it was", () => {
  it.each([
    ["reference-single, cmdline isolation", () => referenceSingle().settings()],
    ["EPYC with 1 GiB pages (a hugetlbfs mount), tuned isolation, a wake-latency limit", () => epyc().settings({ isolation: "tuned", maxWakeLatencyUs: 2 })],
  ])("%s", (_name, settings) => {
    const s = settings();
    host(s);
    const before = snapshot();
    const bootBefore = nextBootCmdline();
    expect(bootBefore).toBe("console=ttyS0 mitigations=auto isolcpus=3");

    const firstRun = run(prepareScript(s, OWNER));
    expect(firstRun.stderr).toContain("irqbalance keeps off the VM threads");
    expect(firstRun.code).toBe(0);
    // It did change the host: the drop-in (cmdline mode), the irqbalance ban, the unit, sysfs.
    const after = snapshot();
    expect(after).not.toEqual(before);
    expect(read("etc/default/irqbalance")).toMatch(/^IRQBALANCE_BANNED_CPULIST=\d/m);
    expect(read("etc/default/irqbalance")).not.toMatch(/^IRQBALANCE_BANNED_CPULIST=0-1$/m);
    expect(after["/etc/systemd/system/multi-user.target.wants/numa-k3s-host-tuning.service"]).toBeDefined();
    expect(read(`sys/devices/system/cpu/cpu${s.vmThreads[0]}/cpufreq/scaling_governor`)).toBe("performance\n");
    if (s.isolation === "cmdline") expect(nextBootCmdline()).toMatch(/isolcpus=3 isolcpus=managed_irq,domain,/);
    else expect(read("var/lib/tuned-state/active")).toBe("cpu-partitioning\n");
    // A second run converges: nothing changes.
    expect(run(prepareScript(s, OWNER)).code).toBe(0);
    expect(snapshot()).toEqual(after);
    // The hypervisor's monitoring command (hostprep/node-exporter.ts, a command of its own) writes
    // its files and enables its timer.
    for (const f of NODE_EXPORTER_FILES) put(f, "# numa-k3s monitoring\n");
    expect(run("systemctl enable --now --quiet numa-k3s-pinning.timer").code).toBe(0);

    const undone = run(undoScript(OWNER, s.host));
    expect(undone.stderr).toContain("host put back as it was before numa-k3s prepared it");
    expect(undone.code).toBe(0);
    expect(undone.stdout).toMatch(/^reboot-needed: /m);
    expect(snapshot()).toEqual(before);
    expect(nextBootCmdline()).toBe(bootBefore);
    expect(read("etc/default/grub.d/50-user.cfg")).toBe(USER_GRUB);
    expect(read("etc/default/irqbalance")).toBe(USER_IRQBALANCE);
    expect(read("etc/tuned/cpu-partitioning-variables.conf")).toBe(USER_TUNED);
  });

  it("a plan that changes between runs is undone to the host before the first run", () => {
    const first = referenceSingle().settings();
    // The second plan: other VM threads, 1 GiB pages, a wake-latency limit (on the same host name).
    const changed = { ...epyc().settings({ maxWakeLatencyUs: 5 }), host: first.host };
    host(first);
    host(changed);
    const before = snapshot();
    expect(run(prepareScript(first, OWNER)).code).toBe(0);
    expect(run(prepareScript(changed, OWNER)).code).toBe(0);
    expect(read("etc/default/grub.d/numa-k3s.cfg")).toContain("hugepages=0:8,1:16");
    expect(run(undoScript(OWNER, first.host)).code).toBe(0);
    expect(snapshot()).toEqual(before);
  });

  it("a host renamed in its stack: the new name prepares first, the old name's delete leaves it, the new one's undoes it", () => {
    const s = referenceSingle().settings();
    const before = prepared(s);
    const renamed = { ...s, host: "numa-10" };
    expect(run(prepareScript(renamed, OWNER)).code).toBe(0);
    const after = snapshot();
    const old = run(undoScript(OWNER, s.host));
    expect(old.stderr).toContain("now prepared as host numa-10 of stack numa-k3s/single, not as numa-01: left as it is");
    expect(snapshot()).toEqual(after);
    expect(run(undoScript(OWNER, "numa-10")).code).toBe(0);
    expect(snapshot()).toEqual(before);
  });

  it("a file the user changed since is left as they changed it, what was there before kept beside", () => {
    const s = referenceSingle().settings();
    prepared(s);
    put("etc/default/grub.d/numa-k3s.cfg", "# the user's edit\nGRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX nosmt\"\n");
    put("etc/default/irqbalance", `${read("etc/default/irqbalance")}IRQBALANCE_EXTRA=1\n`);
    const undone = run(undoScript(OWNER, s.host));
    expect(undone.code).toBe(0);
    expect(undone.stderr).toContain("left /etc/default/grub.d/numa-k3s.cfg as it is: it changed since numa-k3s wrote it (there was no such file before)");
    expect(read("etc/default/grub.d/numa-k3s.cfg")).toContain("the user's edit");
    // irqbalance: our line is put back to the user's, their later edit stays.
    expect(undone.stderr).toContain("put back its IRQBALANCE_BANNED_CPULIST line");
    expect(read("etc/default/irqbalance")).toBe(`${USER_IRQBALANCE}\nIRQBALANCE_EXTRA=1\n`);
  });
});

describe("one stack per host", () => {
  it("another stack's prepare is refused, naming both, and changes nothing", () => {
    const s = referenceSingle().settings();
    prepared(s);
    const after = snapshot();
    const other = run(prepareScript(s, "numa-k3s/mylab"));
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`this host is prepared by stack numa-k3s/single (recorded in ${STATE_DIR}), and stack numa-k3s/mylab would overwrite`);
    expect(other.stderr).toContain(`run bash ${STATE_DIR}/undo.sh on the host`);
    expect(snapshot()).toEqual(after);
  });

  it("another stack's undo leaves the host alone; the copy kept on the host undoes it when the stack is gone", () => {
    const s = referenceSingle().settings();
    const before = prepared(s);
    const after = snapshot();
    const foreign = run(undoScript("numa-k3s/mylab", s.host));
    expect(foreign.code).toBe(0);
    expect(foreign.stderr).toContain("prepared by stack numa-k3s/single, not numa-k3s/mylab: left as it is");
    expect(snapshot()).toEqual(after);
    expect(run(`bash "$NUMA_K3S_ROOT${STATE_DIR}/undo.sh"`).code).toBe(0);
    expect(snapshot()).toEqual(before);
  });

  it("an undo on a host with no record (never prepared, or already undone) does nothing", () => {
    const s = referenceSingle().settings();
    host(s);
    const before = snapshot();
    const r = run(undoScript(OWNER, s.host));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("no record of a numa-k3s preparation here");
    expect(snapshot()).toEqual(before);
  });
});
