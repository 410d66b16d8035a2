import { readFileSync } from "fs";
import { join } from "path";
import { outputValue, recordedResources, settle, startMockRuntime, stdoutByName, unwrapSecrets } from "../../cli/mock-runtime";
import { parseCapabilities } from "../../topology/capabilities";

const CAPTURE_PATH = "hosts/reference-2x-e5-2697v4.capabilities.xml";
const capture = readFileSync(join(__dirname, "../..", CAPTURE_PATH), "utf8");
// Parsed from an absolute path, as the stacks do; messages name the file as the config does.
const committed = parseCapabilities(capture, join(__dirname, "../..", CAPTURE_PATH));
// The same host after a BIOS change: adjacent sibling numbering (core c = threads 2c, 2c+1).
const renumbered = capture.replace(/<cpu id='(\d+)'([^>]*?)siblings='(\d+),(\d+)'/g, (_m, id: string, attrs: string, a: string, b: string) => {
  const to = (n: number) => (n < 36 ? 2 * n : 2 * (n - 36) + 1);
  return `<cpu id='${to(Number(id))}'${attrs}siblings='${to(Number(a))},${to(Number(b))}'`;
});

const connection = { host: "192.0.2.10", user: "root", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----" };

async function hostCheck(liveXml: string, desired = "the stack's wishes for numa-01") {
  startMockRuntime({ project: "numa-k3s", stack: "test", commandStdout: stdoutByName({ "numa-01-check-capabilities": liveXml }) });
  const { HostCheck } = await import("../../components/HostCheck");
  return new HostCheck("numa-01-check", { host: "numa-01", topology: committed, captureFile: CAPTURE_PATH, connection, desired });
}

describe("HostCheck", () => {
  it("runs virsh capabilities through one remote command that runs again exactly when what the stack wants of the host changes", async () => {
    const check = await hostCheck(capture);
    await outputValue(check.verified);
    await settle();
    const resources = recordedResources();
    expect(resources.map((r) => [r.type, r.name])).toEqual([
      ["numa-k3s:libvirt:HostCheck", "numa-01-check"],
      ["command:remote:Command", "numa-01-check-capabilities"],
    ]);
    const cmd = resources[1];
    expect(cmd.parent).toBe(resources[0].urn);
    expect(cmd.inputs.create).toMatch(/^NUMA_K3S_HOST_CHECK=[0-9a-f]{16} bash -c 'virsh -c '\\''qemu:\/\/\/system'\\'' capabilities'$/);
    // Update and create are one command: an unchanged stack runs nothing (a second up is a no-op),
    // a changed one is an update, never a replace.
    expect(cmd.inputs.update).toBe(cmd.inputs.create);
    expect(cmd.inputs.environment).toBeUndefined();
    expect(cmd.inputs.triggers).toBeUndefined();
    const { secretPaths } = unwrapSecrets(cmd.inputs);
    expect(secretPaths).toContain("connection");
    const marker = (create: unknown) => /^(NUMA_K3S_HOST_CHECK=\w+)/.exec(String(create))![1];
    const same = recordedResources().find((r) => r.name === "numa-01-check-capabilities")!.inputs.create;
    await hostCheck(capture);
    await settle();
    expect(marker(recordedResources().find((r) => r.name === "numa-01-check-capabilities")!.inputs.create)).toBe(marker(same));
    await hostCheck(capture, "a VM more on numa-01");
    await settle();
    expect(marker(recordedResources().find((r) => r.name === "numa-01-check-capabilities")!.inputs.create)).not.toBe(marker(same));
  });

  it("resolves verified when the live host matches the committed capture", async () => {
    const check = await hostCheck(capture);
    await expect(outputValue(check.verified)).resolves.toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("rejects verified with one line naming the host, the capture, the difference and the fix", async () => {
    const check = await hostCheck(renumbered);
    const error = await outputValue(check.verified).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeDefined();
    const message = error!.message;
    expect(message).not.toContain("\n");
    expect(message).toBe(
      "host numa-01: live virsh capabilities differ from hosts/reference-2x-e5-2697v4.capabilities.xml: " +
        "node 0 threads 0-17,36-53 -> 0-35; " +
        "node 0 cores (sibling threads) 0,36 1,37 2,38 ... (18) -> 0,1 2,3 4,5 ... (18); " +
        "node 1 threads 18-35,54-71 -> 36-71 (and 1 more); " +
        "capture again with npm run capture -- --host numa-01 and re-plan",
    );
  });

  it("rejects verified when the command printed something that is not a capabilities document", async () => {
    const check = await hostCheck("error: failed to connect to the hypervisor");
    await expect(outputValue(check.verified)).rejects.toThrow(/^host numa-01: cannot compare with hosts\/reference-2x-e5-2697v4\.capabilities\.xml: /);
  });

  it("holds a gated value back until the check passed, and never releases it when it failed", async () => {
    const good = await hostCheck(capture);
    await expect(outputValue(good.gate("define the domain"))).resolves.toBe("define the domain");
    const bad = await hostCheck(renumbered);
    await expect(outputValue(bad.gate("define the domain"))).rejects.toThrow(/live virsh capabilities differ/);
  });
});
