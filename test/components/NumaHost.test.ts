// NumaHost under the mock runtime: prepared after its host's check and before that host's VMs, a
// plan change is an update of the same command, what waits for a reboot is an output (and a
// warning in a preview), and with allowReboot a pending reboot holds the VMs back.
import * as pulumi from "@pulumi/pulumi";
import { outputValue, recordedResources, settle, startMockRuntime, stdoutByName } from "../../cli/mock-runtime";
import { LIBVIRT, referenceSingle, epyc } from "../hostprep/hosts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bashCommand } from "../../common/remote-script";
import { HostPrepSchema } from "../../hostprep/config";

const capture = readFileSync(join(__dirname, "../..", "hosts/reference-2x-e5-2697v4.capabilities.xml"), "utf8");
const connection = { host: "192.0.2.10", user: "root", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----" };

async function build(opts: { vms?: "all" | "without-slm"; prepare?: Record<string, unknown>; prepareStdout?: string; vm?: boolean; driftStdout?: string } = {}) {
  startMockRuntime({
    project: "numa-k3s",
    stack: "test",
    commandStdout: stdoutByName({ "numa-01-check-capabilities": capture, "numa-01-host-prepare": opts.prepareStdout ?? "", "numa-01-drift": opts.driftStdout ?? "" }),
  });
  const { HostCheck } = await import("../../components/HostCheck");
  const { NumaHost } = await import("../../components/NumaHost");
  const command = await import("@pulumi/command");
  const { plan, topology } = referenceSingle();
  const vms = opts.vms === "without-slm" ? plan.vms.filter((v) => v.name !== "k3s-worker-slm") : plan.vms;
  const hostCheck = new HostCheck("numa-01-check", { host: "numa-01", topology, connection, desired: "test" });
  const host = new NumaHost("numa-01-host", { topology, hostPlan: plan.hosts[0], vms, prepare: opts.prepare ? HostPrepSchema.parse(opts.prepare) : undefined, libvirt: LIBVIRT, connection, hostCheck });
  // A stand-in for a VM's command, gated the way a NumaPinnedVm's would be.
  const vm = opts.vm !== false ? new command.remote.Command("k3s-worker-slm-domain", { connection: host.gate(connection), create: "true" }) : undefined;
  return { host, vm };
}

const named = (name: string) => recordedResources().find((r) => r.name === name)!;

describe("NumaHost's drift check inside pulumi up", () => {
  afterEach(() => settle());
  const state = (name: string) => readFileSync(join(__dirname, "../fixtures/host-state", name), "utf8");

  it("reads the host back after its VMs and reports each difference; an in-sync host reports none", async () => {
    const drifted = await build({ driftStdout: state("numa-01-drifted.state.txt") });
    const lines = await outputValue(drifted.host.checkDrift([drifted.vm!], connection));
    await settle();
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => l.startsWith("host numa-01: "))).toBe(true);
    expect(named("numa-01-drift").dependencies).toContain(named("k3s-worker-slm-domain").urn);
    expect(String(named("numa-01-drift").inputs.create)).not.toMatch(/\b(virsh (vcpupin|emulatorpin|numatune) \S+ \d|echo [0-9]+ >)/);
    const clean = await build({ driftStdout: state("numa-01-in-sync.state.txt") });
    expect(await outputValue(clean.host.checkDrift([clean.vm!], connection))).toEqual([]);
  });
});

describe("NumaHost", () => {
  // A component's registerOutputs waits for its outputs; a new mock runtime must not start before.
  afterEach(() => settle());

  it("registers its prepare command after the host check and before the host's VM commands", async () => {
    await build();
    await settle();
    const order = recordedResources().map((r) => r.name);
    expect(order.indexOf("numa-01-check-capabilities")).toBeLessThan(order.indexOf("numa-01-host-prepare"));
    expect(order.indexOf("numa-01-host-prepare")).toBeLessThan(order.indexOf("k3s-worker-slm-domain"));
    const component = named("numa-01-host");
    expect(component.type).toBe("numa-k3s:host:NumaHost");
    expect(named("numa-01-host-prepare").parent).toBe(component.urn);
  });

  it("a config change is an update of the same command (new script text, no triggers), never a replacement", async () => {
    await build({ prepare: { maxWakeLatencyUs: 2 } });
    await settle();
    const before = named("numa-01-host-prepare").inputs;
    await build({ prepare: { maxWakeLatencyUs: 5 } });
    await settle();
    const after = named("numa-01-host-prepare").inputs;
    expect(before.triggers).toBeUndefined();
    expect(after.triggers).toBeUndefined();
    expect(after.create).not.toBe(before.create);
    expect(after.update).toBe(after.create);
    expect(String(before.create)).toMatch(/max_wake_latency_us=\W*2\W/);
    expect(String(after.create)).toMatch(/max_wake_latency_us=\W*5\W/);
  });

  it("its delete undoes the preparation of this stack only (hostprep/undo.ts, run in test/hostprep/prepare-undo.test.ts)", async () => {
    await build();
    await settle();
    const { undoScript } = await import("../../hostprep/undo");
    const { bashCommand } = await import("../../common/remote-script");
    const inputs = named("numa-01-host-prepare").inputs;
    // The stack's own name: another stack's prepare is refused on the host, its undo leaves it.
    expect(inputs.delete).toBe(bashCommand(undoScript("numa-k3s/test", "numa-01")));
    expect(String(inputs.create)).toMatch(/owner=\W*numa-k3s\/test\W/);
  });

  it("a VM added without huge pages changes nothing on the host: isolation already covers every VM thread", async () => {
    await build({ vms: "without-slm" });
    await settle();
    const before = named("numa-01-host-prepare").inputs.create;
    await build({ vms: "all" });
    await settle();
    expect(named("numa-01-host-prepare").inputs.create).toBe(before);
  });

  it("a VM's huge pages change the host's huge-page plan", () => {
    const { plan, topology } = epyc();
    const { hostSettings } = require("../../hostprep/settings") as typeof import("../../hostprep/settings");
    const all = hostSettings(topology, plan.hosts[0], plan.vms, { isolation: "cmdline", allowReboot: false }, LIBVIRT);
    const fewer = hostSettings(topology, plan.hosts[0], plan.vms.filter((v) => v.name !== "web-1g"), { isolation: "cmdline", allowReboot: false }, LIBVIRT);
    expect(all.bootParameters).toContain("hugepages=0:8,1:16");
    expect(fewer.bootParameters).toContain("hugepages=0:8");
  });

  it("outputs what waits for a reboot, from the prepare command's stdout", async () => {
    const { host } = await build({ prepareStdout: "reboot-needed: kernel command line lacks nohz_full=0-15\nsomething else\n" });
    await expect(outputValue(host.rebootRequired)).resolves.toEqual(["kernel command line lacks nohz_full=0-15"]);
    expect(host.bootParameters[0]).toBe("isolcpus=managed_irq,domain,0-15,18-33,36-51,54-69");
  });

  it("with allowReboot and a reboot pending, the VM commands are held back with one line", async () => {
    const { host } = await build({ prepare: { allowReboot: true }, prepareStdout: "reboot-needed: kernel command line lacks nohz_full=0-15\nreboot-scheduled: in 60 s\n", vm: false });
    await expect(outputValue(host.gate("define"))).rejects.toThrow("host numa-01 reboots to apply kernel command line lacks nohz_full=0-15: run pulumi up again once it is back");
    const calm = await build({ prepare: { allowReboot: true }, prepareStdout: "" });
    await expect(outputValue(calm.host.gate("define"))).resolves.toBe("define");
  });

  it("warns in a preview about the kernel parameters the plan needs", async () => {
    const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
    const settings = require("@pulumi/pulumi/runtime/settings") as { _setIsDryRun(v: boolean): void };
    try {
      startMockRuntime({ project: "numa-k3s", stack: "test", commandStdout: stdoutByName({ "numa-01-check-capabilities": capture }) });
      settings._setIsDryRun(true);
      const { HostCheck } = await import("../../components/HostCheck");
      const { NumaHost } = await import("../../components/NumaHost");
      const { plan, topology } = referenceSingle();
      const hostCheck = new HostCheck("numa-01-check", { host: "numa-01", topology, connection, desired: "test" });
      new NumaHost("numa-01-host", { topology, hostPlan: plan.hosts[0], vms: plan.vms, libvirt: LIBVIRT, connection, hostCheck });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^host numa-01: the plan needs kernel parameters that apply at the next boot only: isolcpus=.* allowReboot is false/), expect.anything());
    } finally {
      settings._setIsDryRun(false);
      warn.mockRestore();
    }
  });

});
