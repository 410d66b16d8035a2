import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, outputValue, recordedResources, settle, startMockRuntime, stdoutByName, unwrapSecrets, resourceNamed } from "../../cli/mock-runtime";
import { parseCapabilities } from "../../topology/capabilities";
import { renderDomainXml } from "../../topology/domain-xml";
import type { VmPlacement } from "../../topology/placement";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";
import { GuestSpec, renderMetaData, renderNetworkConfig, renderUserData } from "../../guest/cloud-init";
import { createScript, deleteScript, updateScript } from "../../hypervisor/vm-scripts";
import type { NumaPinnedVmArgs } from "../../components/NumaPinnedVm";
import { VmDescription, domainSpecOf, scriptParamsOf, vmFilesOf } from "../../hypervisor/vm-description";
import { bashCommand } from "../../common/remote-script";

const CAPTURE_PATH = join(__dirname, "../../hosts/reference-2x-e5-2697v4.capabilities.xml");
const capture = readFileSync(CAPTURE_PATH, "utf8");
const topology = parseCapabilities(capture, CAPTURE_PATH);

// docs/reference-layouts.md option 2's data VM, placed by the planner on the reference host.
function placementOfDataVm(): VmPlacement {
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "numa-01", capabilities: CAPTURE_PATH }],
    vms: [{ name: "k3s-worker-data", node: 1, cores: 6, memoryGiB: 60 }],
  });
  const outcome = planPlacement({ request, topologies: new Map([["numa-01", topology]]) });
  if (outcome.kind !== "placed") throw new Error(JSON.stringify(outcome.problems));
  return outcome.plan.vms[0];
}

const POOL = "/var/lib/libvirt/images/numa-k3s";
const MAC = "52:54:00:0a:0b:0c";
const guest: GuestSpec = {
  hostname: "k3s-worker-data",
  adminUser: "k3s-admin",
  sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7cZ1kR0aIx5Jx8pO7yB1qqF3kZ3x2mQ8g0GqC0xyz admin@lab"],
  packages: ["numactl"],
  address: { cidr: "192.168.50.12/24", gateway: "192.168.50.1", nameservers: ["192.168.50.1"] },
  mac: MAC,
  mounts: [{ device: "/dev/disk/by-id/virtio-hot", mountPoint: "/data/hot", fsType: "ext4", label: "hot", format: "when-blank" }],
};
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";

/** The data VM as a stack describes it, its files in `pool`. */
function dataVm(pool = POOL, deleteDataDisks = false): VmDescription {
  return {
    placement: placementOfDataVm(),
    files: vmFilesOf(pool, "k3s-worker-data", { osGiB: 40, hotGiB: 80, lakeDevice: "/dev/disk/by-id/ata-ST8000DM004-2CX188_ZCT0AAAA" }),
    hypervisor: { baseImage: "/var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2", domainType: "kvm", bridge: "br0", arch: "x86_64", machine: "q35" },
    guest,
    vnc: false,
    waitForGuest: { enabled: true, timeoutSeconds: 600 },
    deleteDataDisks,
  };
}

type Args = Omit<NumaPinnedVmArgs, "hostCheck" | "connection">;
const baseArgs = (): Args => ({ vm: dataVm() });

/** One VM behind its host check, under the mock; returns the VM and what the mock recorded. */
async function deploy(args: Args, opts?: pulumi.ComponentResourceOptions) {
  startMockRuntime({ project: "numa-k3s", stack: "test", commandStdout: stdoutByName({ "numa-01-check-capabilities": capture }) });
  const { HostCheck } = await import("../../components/HostCheck");
  const { NumaPinnedVm } = await import("../../components/NumaPinnedVm");
  const connection = { host: "192.0.2.10", user: "root", privateKey: PRIVATE_KEY };
  const hostCheck = new HostCheck("numa-01-check", { host: "numa-01", topology, connection, desired: "test" });
  const vm = new NumaPinnedVm(args.vm.placement.name, { ...args, connection, hostCheck }, opts);
  await outputValue(vm.address);
  await settle();
  const resources = recordedResources();
  const byName = (n: string) => resourceNamed(resources, n);
  return { vm, resources, byName };
}

describe("NumaPinnedVm", () => {
  it("is a component with a seed upload and a domain command under it", async () => {
    const { resources, byName } = await deploy(baseArgs());
    const vmResources = resources.filter((r) => !r.name.startsWith("numa-01-check"));
    expect(vmResources.map((r) => [r.type, r.name])).toEqual([
      ["numa-k3s:libvirt:NumaPinnedVm", "k3s-worker-data"],
      ["command:remote:Command", "k3s-worker-data-seed"],
      ["command:remote:Command", "k3s-worker-data-domain"],
    ]);
    const component = byName("k3s-worker-data");
    expect(byName("k3s-worker-data-seed").parent).toBe(component.urn);
    expect(byName("k3s-worker-data-domain").parent).toBe(component.urn);
    expect(new Set(resources.map((r) => r.urn)).size).toBe(resources.length);
  });

  it("carries exactly the rendered domain XML to virsh define, and exactly the scripts", async () => {
    const args = baseArgs();
    const { byName } = await deploy(args);
    const cmd = byName("k3s-worker-data-domain").inputs;
    expect(cmd.stdin).toBe(renderDomainXml(args.vm.placement, domainSpecOf(args.vm)));
    const params = scriptParamsOf(args.vm);
    expect(params.domainName).toBe("k3s-worker-data");
    expect(params.pins.vcpupin).toEqual(args.vm.placement.vcpupin);
    const { seedMarker } = await import("../../components/NumaPinnedVm");
    expect(cmd.create).toBe(`${seedMarker(guest)} ${bashCommand(createScript(params))}`);
    expect(cmd.update).toBe(`${seedMarker(guest)} ${bashCommand(updateScript(params))}`);
    expect(cmd.environment).toBeUndefined();
    expect(cmd.delete).toBe(bashCommand(deleteScript(params)));
    expect(cmd.addPreviousOutputInEnv).toBe(false);
    expect(cmd.logging).toBe("stdoutAndStderr");
  });

  it("marks the SSH connection secret, private key included", async () => {
    const { secretConnection } = await import("../../components/remote");
    const connection = secretConnection({ host: "192.0.2.10", user: "root", privateKey: PRIVATE_KEY });
    const key = connection.apply((c) => c.privateKey);
    expect(await (pulumi.isSecret(key) as unknown as Promise<boolean>)).toBe(true);
    const { byName } = await deploy(baseArgs());
    for (const name of ["k3s-worker-data-seed", "k3s-worker-data-domain"]) {
      const { value, secretPaths } = unwrapSecrets(byName(name).inputs);
      expect(secretPaths).toEqual(["connection"]);
      expect((value as { connection: { privateKey: string } }).connection.privateKey).toBe(PRIVATE_KEY);
      // Nowhere else in the inputs: not in a script, not in stdin.
      const { connection: _c, ...rest } = value as Record<string, unknown>;
      expect(JSON.stringify(rest)).not.toContain("PRIVATE KEY");
    }
  });

  it("makes a pin change an update (stdin and update script change), never a replacement", async () => {
    const before = baseArgs();
    const a = (await deploy(before)).byName("k3s-worker-data-domain").inputs;
    // The same VM one core further along node 1 (what a re-plan may do to a VM that is not locked).
    const moved = { ...before.vm.placement, vcpupin: before.vm.placement.vcpupin.map((t) => t + 1) };
    const b = (await deploy({ vm: { ...before.vm, placement: moved } })).byName("k3s-worker-data-domain").inputs;
    expect(b.stdin).not.toBe(a.stdin);
    expect(b.update).not.toBe(a.update);
    expect(b.triggers).toEqual(a.triggers);
    expect(b.create).toBe(a.create);
    expect(b.delete).toBe(a.delete);
  });

  it("its identity, the triggers that replace a VM without a hot disk, changes with its name", async () => {
    const before = baseArgs();
    const a = (await deploy(before)).byName("k3s-worker-data-domain").inputs;
    const renamed = { vm: { ...before.vm, placement: { ...before.vm.placement, name: "k3s-worker-data-2" } } };
    const b = (await deploy(renamed)).byName("k3s-worker-data-2-domain").inputs;
    expect(b.triggers).not.toEqual(a.triggers);
  });

  it("never replaces a VM with a hot disk: a change of its identity is left to the update script, which refuses a move", async () => {
    // What the engine is told besides the inputs, seen through a transformation on the component.
    const seen = new Map<string, pulumi.CustomResourceOptions>();
    const watch = { transformations: [(args: pulumi.ResourceTransformationArgs) => void seen.set(args.name, args.opts) as undefined] };
    await deploy(baseArgs(), watch);
    expect(seen.get("k3s-worker-data-domain")?.ignoreChanges).toEqual(["triggers"]);
    const noHot = { vm: { ...dataVm(), files: vmFilesOf(POOL, "k3s-worker-data", { osGiB: 40, lakeDevice: "/dev/disk/by-id/ata-ST8000DM004-2CX188_ZCT0AAAA" }) } };
    seen.clear();
    await deploy(noHot, watch);
    expect(seen.get("k3s-worker-data-domain")?.ignoreChanges).toBeUndefined();
    expect(seen.get("k3s-worker-data-domain")?.deleteBeforeReplace).toBe(true);
  });

  it("updates the domain command when only the seed changes, so the seed ISO is rebuilt", async () => {
    const before = baseArgs();
    const a = (await deploy(before)).byName("k3s-worker-data-domain").inputs;
    const moreKeys = { vm: { ...before.vm, guest: { ...guest, packages: ["numactl", "htop"] } } };
    const b = (await deploy(moreKeys)).byName("k3s-worker-data-domain").inputs;
    expect(b.stdin).toBe(a.stdin);
    expect(b.update).not.toEqual(a.update);
    expect(b.create).not.toEqual(a.create);
    expect(b.triggers).toEqual(a.triggers);
  });

  it("deletes the VM's own files but keeps the hot disk unless deleteDataDisks (the delete command, run for real)", async () => {
    // The stored delete command, run with sh in a scratch pool, with a virsh that knows no domain.
    const runDelete = async (deleteDataDisks: boolean) => {
      const scratch = mkdtempSync(join(tmpdir(), "pool-"));
      try {
        const pool = join(scratch, "k3s-worker-data");
        const bin = join(scratch, "bin");
        execFileSync("mkdir", ["-p", join(pool, "seed"), bin]);
        for (const f of ["os.qcow2", "seed.iso", "seed/user-data"]) writeFileSync(join(pool, f), "x");
        const hot = join(scratch, "hot-of-ata-ST8000DM004-2CX188_ZCT0AAAA.qcow2");
        writeFileSync(hot, "x");
        writeFileSync(join(bin, "virsh"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
        const { byName } = await deploy({ vm: dataVm(scratch, deleteDataDisks) });
        const del = byName("k3s-worker-data-domain").inputs.delete as string;
        execFileSync("sh", ["-c", del], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ["ignore", "pipe", "pipe"] });
        return { os: existsSync(join(pool, "os.qcow2")), hot: existsSync(hot), seedIso: existsSync(join(pool, "seed.iso")), seedDir: existsSync(join(pool, "seed")) };
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    };
    expect(await runDelete(false)).toEqual({ os: false, hot: true, seedIso: false, seedDir: false });
    expect(await runDelete(true)).toEqual({ os: false, hot: false, seedIso: false, seedDir: false });
  });

  it("uploads the rendered seed files, and its script writes exactly them", async () => {
    const { byName } = await deploy(baseArgs());
    const seed = byName("k3s-worker-data-seed").inputs;
    const { seedScript } = await import("../../components/NumaPinnedVm");
    const { payloadFiles } = await import("../../common/remote-script");
    expect(payloadFiles(seed.stdin as string)).toEqual({
      "user-data": renderUserData(guest),
      "meta-data": renderMetaData(guest),
      "network-config": renderNetworkConfig(guest),
    });
    // The script, run for real with bash into a scratch directory, with the payload on stdin.
    const scratch = mkdtempSync(join(tmpdir(), "seed-"));
    try {
      // A fresh pool: QEMU (another user) must reach the disks in it; the seed is the owner's.
      const dir = join(scratch, "pool", "vm", "seed");
      execFileSync("bash", ["-c", seedScript(dir)], { input: seed.stdin as string, stdio: ["pipe", "pipe", "pipe"] });
      expect(statSync(join(scratch, "pool")).mode & 0o777).toBe(0o755);
      expect(statSync(join(scratch, "pool", "vm")).mode & 0o777).toBe(0o755);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(readFileSync(join(dir, "user-data"), "utf8")).toBe(renderUserData(guest));
      expect(readFileSync(join(dir, "network-config"), "utf8")).toBe(renderNetworkConfig(guest));
      expect(readFileSync(join(dir, "meta-data"), "utf8")).toBe(renderMetaData(guest));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    execFileSync("shellcheck", ["-s", "bash", "-"], { input: seedScript("/var/lib/x/seed") });
  });

  it("resolves its outputs to the placement's values", async () => {
    const args = baseArgs();
    const { vm } = await deploy(args);
    expect(await outputValue(vm.name)).toBe("k3s-worker-data");
    expect(await outputValue(vm.host)).toBe("numa-01");
    expect(await outputValue(vm.node)).toBe(1);
    // docs/reference-layouts.md: node 1 starts at core 18 (threads 18 and 54).
    expect(await outputValue(vm.threads)).toBe("18-23,54-59");
    expect(await outputValue(vm.address)).toBe("192.168.50.12");
  });

  it("refuses a VM placed on another host than the one checked, in one line", async () => {
    await expect(deploy({ vm: { ...dataVm(), placement: { ...placementOfDataVm(), host: "numa-02" } } })).rejects.toThrow(
      /NumaPinnedVm 'k3s-worker-data': vm.placement.host = "numa-02": must be the checked host \(numa-01\)/,
    );
  });
});
