import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { shellQuote, bashCommand } from "../../common/remote-script";
import { createScript, deleteScript, updateScript, VmScriptParams } from "../../hypervisor/vm-scripts";

const POOL = "/var/lib/numa-k3s/k3s-slm-worker-1";
const slmWorker: VmScriptParams = {
  domainName: "k3s-slm-worker-1",
  poolDir: POOL,
  baseImage: "/var/lib/numa-k3s/base/debian-12-genericcloud-amd64.qcow2",
  osDiskPath: `${POOL}/os.qcow2`,
  osDiskGiB: 35,
  stagingDisk: { path: `${POOL}/staging.qcow2`, sizeGiB: 100 },
  seed: { dir: `${POOL}/seed`, isoPath: `${POOL}/seed.iso` },
  waitForGuest: { enabled: true, timeoutSeconds: 300 },
  pins: { vcpupin: [0, 36, 1, 37, 2, 38], emulatorpin: [17, 53], iothreadpin: [17, 53] },
};
// Every value a user could make awkward: spaces, quotes, $, backquotes, globs in paths.
const WEIRD = "/srv/it's $(touch PWNED) `id` *";
const dataVm: VmScriptParams = {
  libvirtUri: "qemu+ssh://root@numa-01/system",
  domainName: "k3s-worker-data",
  poolDir: WEIRD,
  baseImage: "/srv/base image's.qcow2",
  osDiskPath: `${WEIRD}/os $HOME.qcow2`,
  osDiskGiB: 40,
  hotDisk: { path: `${WEIRD}/hot "tier".qcow2`, sizeGiB: 80 },
  dataDevice: "/dev/disk/by-id/ata-ST8000VN004-2M2101_WSD0XXXX",
  seed: { dir: `${WEIRD}/seed dir`, isoPath: `${WEIRD}/seed;rm -rf.iso` },
  waitForGuest: { enabled: false, timeoutSeconds: 1 },
  deleteDataDisks: true,
  pins: { vcpupin: [18, 54, 19, 55], emulatorpin: [35, 71], iothreadpin: [] },
  iothreads: 2,
  shutdownTimeoutSeconds: 30,
};
const osOnly: VmScriptParams = { ...slmWorker, domainName: "k3s-server-tasks", stagingDisk: undefined, pins: { vcpupin: [5], emulatorpin: [], iothreadpin: [] } };
const cases = { slmWorker, dataVm, osOnly };
const scripts = { createScript, updateScript, deleteScript };

describe.each(Object.entries(cases))("%s", (_name, params) => {
  test.each(Object.entries(scripts))("%s passes bash -n and shellcheck -s bash", (_s, render) => {
    const text = render(params);
    expect(text.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(text).toMatch(/^set -euo pipefail$/m);
    const syntax = spawnSync("bash", ["-n"], { input: text, encoding: "utf8" });
    expect(syntax.stderr).toBe("");
    expect(syntax.status).toBe(0);
    const lint = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
    expect(lint.stdout).toBe("");
    expect(lint.status).toBe(0);
  });
});

test("the same parameters give the same script text (a Pulumi diff shows only real changes)", () => {
  for (const render of Object.values(scripts)) expect(render({ ...dataVm })).toBe(render(dataVm));
});

test("shellQuote: bash reads every quoted string back byte for byte", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: "binary" }).map((s) => s.replace(/\0/g, "")), { minLength: 1, maxLength: 40 }), (values) => {
      const r = spawnSync("bash", ["-c", `printf '%s\\0' ${values.map(shellQuote).join(" ")}`], { encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(r.stdout.split("\0").slice(0, -1)).toEqual(values);
    }),
    { numRuns: 30 },
  );
  expect(() => shellQuote("a\0b")).toThrow(/NUL/);
});

describe("scripts run by bash (libvirt's test:/// driver: real virsh, no daemon)", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "numa-k3s-vm-scripts-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  // One awkward pool inside the temp dir; test:///default holds no such domain, so delete
  // has nothing to undefine and works on the files alone.
  function weirdParams(deleteDataDisks: boolean): VmScriptParams {
    const pool = join(root, "it's $(touch PWNED) `touch PWNED2` *");
    const at = (f: string) => join(pool, f);
    return {
      libvirtUri: "test:///default",
      domainName: "numa-k3s-unit",
      poolDir: pool,
      baseImage: join(root, "base.qcow2"),
      osDiskPath: at("os $HOME.qcow2"),
      osDiskGiB: 1,
      stagingDisk: { path: at("staging.qcow2"), sizeGiB: 1 },
      hotDisk: { path: at('hot "tier".qcow2'), sizeGiB: 1 },
      dataDevice: "/dev/disk/by-id/numa-k3s-test-lake",
      seed: { dir: at("seed dir"), isoPath: at("seed;touch PWNED3.iso") },
      waitForGuest: { enabled: false, timeoutSeconds: 1 },
      deleteDataDisks,
      pins: { vcpupin: [0], emulatorpin: [1], iothreadpin: [1] },
    };
  }
  function populate(p: VmScriptParams): void {
    mkdirSync(p.seed.dir, { recursive: true });
    for (const f of [p.baseImage, p.osDiskPath, p.stagingDisk!.path, p.hotDisk!.path, p.seed.isoPath]) writeFileSync(f, "x");
    for (const f of ["user-data", "meta-data", "network-config"]) writeFileSync(join(p.seed.dir, f), "x");
  }
  const runViaLoginShell = (script: string, input = "") => spawnSync("sh", ["-c", bashCommand(script)], { input, encoding: "utf8", cwd: root });

  test.each([false, true])("delete with deleteDataDisks=%s removes the VM's files, keeps data as asked, never runs a value", (deleteDataDisks) => {
    const p = weirdParams(deleteDataDisks);
    populate(p);
    const r = runViaLoginShell(deleteScript(p));
    expect(r.stderr).toContain("no such domain");
    expect(r.status).toBe(0);
    expect(readdirSync(root).filter((f) => f.startsWith("PWNED"))).toEqual([]);
    for (const f of [p.osDiskPath, p.stagingDisk!.path, p.seed.isoPath, p.seed.dir]) expect(existsSync(f)).toBe(false);
    expect(existsSync(p.baseImage)).toBe(true);
    expect(existsSync(p.hotDisk!.path)).toBe(!deleteDataDisks);
    expect(r.stderr.includes(`kept data disk ${p.hotDisk!.path}`)).toBe(!deleteDataDisks);
    expect(r.stderr).toContain("kept passed-through device /dev/disk/by-id/numa-k3s-test-lake (never touched)");
    // Idempotent: nothing left to do, still a success.
    expect(runViaLoginShell(deleteScript(p)).status).toBe(0);
  });

  test.each(Object.entries({ createScript, updateScript }))("%s refuses a missing or foreign domain XML before touching anything", (_s, render) => {
    const p = weirdParams(false);
    const none = runViaLoginShell(render(p), "");
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe("numa-k3s numa-k3s-unit: error: no domain XML on stdin");
    const foreign = runViaLoginShell(render(p), "<domain type='qemu'><name>someone-else</name></domain>");
    expect(foreign.status).toBe(1);
    expect(foreign.stderr.trim()).toBe("numa-k3s numa-k3s-unit: error: the domain XML on stdin does not define <name>numa-k3s-unit</name>");
    expect(existsSync(p.poolDir)).toBe(false);
  });

  test("create refuses to run without the base image, naming it", () => {
    const p = weirdParams(false);
    const r = runViaLoginShell(createScript(p), "<domain type='qemu'><name>numa-k3s-unit</name></domain>");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: base image ${p.baseImage} does not exist`);
    expect(existsSync(p.poolDir)).toBe(false);
  });
});

describe("parameters that could make a script destroy the wrong thing are refused, in one line", () => {
  const bad: Array<[string, VmScriptParams, RegExp]> = [
    ["overlay outside the pool", { ...slmWorker, osDiskPath: "/var/lib/libvirt/images/os.qcow2" }, /osDiskPath = "\/var\/lib\/libvirt\/images\/os.qcow2": must lie inside poolDir/],
    ["the base image as the overlay", { ...slmWorker, baseImage: `${POOL}/os.qcow2` }, /osDiskPath = ".*os.qcow2": is the base image/],
    ["one file for two disks", { ...slmWorker, stagingDisk: { path: `${POOL}/os.qcow2`, sizeGiB: 1 } }, /stagingDisk.path = ".*": is already osDiskPath/],
    ["a relative path", { ...slmWorker, poolDir: "images" }, /poolDir = "images": must be an absolute, normalised path/],
    ["a path escaping with ..", { ...slmWorker, osDiskPath: `${POOL}/../other/os.qcow2` }, /osDiskPath = .*: must be an absolute, normalised path/],
    ["no vCPU", { ...slmWorker, pins: { ...slmWorker.pins, vcpupin: [] } }, /pins.vcpupin = \[\]: a VM has at least one vCPU/],
    ["a negative thread", { ...slmWorker, pins: { ...slmWorker.pins, emulatorpin: [-1] } }, /pins.emulatorpin\[0\] = -1: must be an integer >= 0/],
    ["a fractional size", { ...slmWorker, osDiskGiB: 1.5 }, /osDiskGiB = 1.5: must be an integer >= 1/],
    ["a domain name with a space", { ...slmWorker, domainName: "k3s worker" }, /domainName = "k3s worker"/],
    ["a data device that is not a device", { ...slmWorker, dataDevice: "/srv/lake.img" }, /dataDevice = "\/srv\/lake.img": must be a \/dev\/disk\/by-id\/ path/],
  ];
  test.each(bad)("%s", (_why, params, message) => {
    for (const render of Object.values(scripts)) {
      expect(() => render(params)).toThrow(message);
      try {
        render(params);
      } catch (e) {
        expect((e as Error).message).not.toContain("\n");
      }
    }
  });
});
