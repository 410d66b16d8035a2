// The three committed stacks are valid, and a user's mistake in a stack file is one line naming
// the file, the key and the value.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { parseStackConfig, stackConfigEntries } from "../../stacks/config";
import { macOf } from "../../guest/lan";
import { vmDescriptions } from "../../stacks/numa-vms";
import { placeRequest } from "../../stacks/place-stack";
import { readStackInputs } from "../../stacks/stack-inputs";
import { LoadedRequest, formatNoFit } from "../../stacks/placement-inputs";
import { domainSpecOf, scriptParamsOf } from "../../hypervisor/vm-description";
import { InputError } from "../../common/user-error";

const projectDir = resolve(__dirname, "../..");
const STACKS = ["mac-numa", "single", "distributed"] as const;

function rawOf(stack: string): Record<string, unknown> {
  const file = resolve(projectDir, `Pulumi.${stack}.yaml`);
  return stackConfigEntries(readFileSync(file, "utf8"), file);
}

type Raw = Record<string, unknown>;
const vmsOf = (raw: Raw) => raw.vms as Record<string, unknown>[];

function errorOf(raw: Record<string, unknown>): string {
  try {
    parseStackConfig(raw, "Pulumi.single.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("the config was accepted");
}

describe.each(STACKS)("stack %s", (stack) => {
  const inputs = readStackInputs(projectDir, stack);

  it("is the layout its file says, and plans with its own lock", () => {
    expect(inputs.config.layout).toBe(stack);
    expect(inputs.lockFile).toBe(`hosts/${stack}.lock.json`);
    expect(placeRequest(inputs, inputs.lock, inputs.lockFile).kind).toBe("placed");
  });

  it("gives each VM its own MAC and address, and keeps every volume inside the VM's directory", () => {
    const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
    if (placed.kind !== "placed") throw new Error("not placed");
    const macs = new Set<string>();
    for (const vm of vmDescriptions(inputs, placed.plan)) {
      const domain = domainSpecOf(vm);
      const scripts = scriptParamsOf(vm);
      macs.add(domain.network.mac);
      expect(vm.guest.mac).toBe(domain.network.mac);
      for (const path of [scripts.osDiskPath, scripts.seed.isoPath, scripts.stagingDisk?.path, scripts.hotDisk?.path])
        if (path) expect(path.startsWith(scripts.poolDir + "/")).toBe(true);
      expect(scripts.deleteDataDisks).toBe(false);
    }
    expect(macs.size).toBe(placed.plan.vms.length);
  });
});

describe("mistakes in a stack file", () => {
  it("a misspelt key is refused, naming it", () => {
    const raw = rawOf("single");
    const vms = raw.vms as Record<string, unknown>[];
    vms[1] = { ...vms[1], memoryGb: 60 };
    const message = errorOf(raw);
    expect(message).toBe("Pulumi.single.yaml: numa-k3s:vms[1].memoryGb: unknown key; did you mean memoryGiB?");
    expect(message).not.toContain("\n");
  });

  it("a wrong value names the key, the value and what would fit", () => {
    const raw = rawOf("single");
    (raw.vms as Record<string, unknown>[])[2].cores = "four";
    expect(errorOf(raw)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:vms\[2\]\.cores = "four": .*number/);
  });

  it("an unknown layout lists the layouts", () => {
    const raw = { ...rawOf("single"), layout: "dual" };
    expect(errorOf(raw)).toMatch(/numa-k3s:layout = "dual": .*mac-numa.*single.*distributed/);
  });

  it("two VMs with one address are refused", () => {
    const raw = rawOf("single");
    const vms = raw.vms as Record<string, unknown>[];
    vms[3].address = vms[0].address;
    expect(errorOf(raw)).toMatch(/numa-k3s:vms\[3\]\.address = "198\.51\.100\.11": .*k3s-worker-slm-heavy/);
  });

  // The network as a whole: each of these rendered a network-config the VM could not use, and
  // plan, render and check all said nothing.
  it.each([
    ["an address outside the gateway's subnet", (raw: Raw) => (vmsOf(raw)[0].address = "10.9.9.9"), /numa-k3s:vms\[0\]\.address = "10\.9\.9\.9": is outside 198\.51\.100\.0\/24, the subnet of network\.gateway 198\.51\.100\.1/],
    ["an address equal to the gateway", (raw: Raw) => (vmsOf(raw)[1].address = "198.51.100.1"), /numa-k3s:vms\[1\]\.address = "198\.51\.100\.1": is network\.gateway's address/],
    ["the broadcast address", (raw: Raw) => (vmsOf(raw)[2].address = "198.51.100.255"), /numa-k3s:vms\[2\]\.address = "198\.51\.100\.255": is the broadcast address of 198\.51\.100\.0\/24/],
    ["the gateway on a VM's address", (raw: Raw) => ((raw.network as Record<string, unknown>).gateway = "198.51.100.12"), /numa-k3s:vms\[1\]\.address = "198\.51\.100\.12": is network\.gateway's address/],
    ["a gateway that is the network address", (raw: Raw) => ((raw.network as Record<string, unknown>).gateway = "198.51.100.0"), /numa-k3s:network\.gateway = "198\.51\.100\.0": is the network address/],
    ["a prefix too long for the addresses", (raw: Raw) => ((raw.network as Record<string, unknown>).prefixLength = 30), /numa-k3s:vms\[0\]\.address = "198\.51\.100\.11": is outside 198\.51\.100\.0\/30/],
    ["two VMs with one MAC", (raw: Raw) => { vmsOf(raw)[0].mac = "52:54:00:aa:bb:cc"; vmsOf(raw)[2].mac = "52:54:00:aa:bb:cc"; }, /numa-k3s:vms\[2\]\.mac = "52:54:00:aa:bb:cc": 52:54:00:aa:bb:cc is also k3s-worker-slm-heavy's MAC/],
    ["a VM's MAC equal to another's derived one", (raw: Raw) => (vmsOf(raw)[1].mac = macOf("k3s-worker-slm-heavy")), /numa-k3s:vms\[1\]\.mac = .*is also k3s-worker-slm-heavy's MAC/],
    ["the hypervisor's address on a VM", (raw: Raw) => ((raw.hosts as { ssh: Record<string, unknown> }[])[0].ssh.address = "198.51.100.13"), /numa-k3s:vms\[2\]\.address = "198\.51\.100\.13": is also hypervisor numa-01's address \(hosts\[0\]\.ssh\.address\)/],
  ])("%s is refused at its key", (_what, edit, expected) => {
    const raw = rawOf("single");
    edit(raw);
    expect(errorOf(raw)).toMatch(expected);
  });

  it("an OS disk too small for the image and K3s is refused", () => {
    const raw = rawOf("single");
    (vmsOf(raw)[0].disks as Record<string, unknown>).osGiB = 2;
    expect(errorOf(raw)).toMatch(/numa-k3s:vms\[0\]\.disks\.osGiB = 2: is too small: .*use 10 or more/);
  });

  it("the K3s server's address on a VM is refused", () => {
    const raw = rawOf("distributed");
    vmsOf(raw)[1].address = ((raw.k3s as { server: { address: string } }).server.address);
    expect(errorOf(raw)).toMatch(/numa-k3s:vms\[1\]\.address = "198\.51\.100\.40": is also the K3s server's address \(k3s\.server\.address\)/);
  });

  // A misspelt key in any section gets the nearest key of that section.
  it.each([
    ["slm.checksum", (raw: Raw) => { const slm = raw.slm as Record<string, unknown>; slm.checksum = slm.checksums; delete slm.checksums; }, "numa-k3s:slm.checksum: unknown key; did you mean checksums?"],
    ["slm.imge", (raw: Raw) => ((raw.slm as Record<string, unknown>).imge = "ghcr.io/x/y:1"), "numa-k3s:slm.imge: unknown key; did you mean image?"],
    ["quantization", (raw: Raw) => ((raw.slm as Record<string, unknown>).overrides = { "gemma-7b": { quantization: "Q4_K_M" } }), "numa-k3s:slm.overrides.gemma-7b.quantization: unknown key; did you mean quantisation?"],
    ["a model name", (raw: Raw) => ((raw.slm as Record<string, unknown>).overrides = { "gemma-7": { cores: 2 } }), /^Pulumi\.single\.yaml: numa-k3s:slm\.overrides\.gemma-7 = \{"cores":2\}: not a model of the default ensemble; did you mean gemma-7b\?/],
    ["a nested platform key", (raw: Raw) => ((raw.platform as { temporal: Record<string, unknown> }).temporal.workerimage = "x"), "numa-k3s:platform.temporal.workerimage: unknown key; did you mean workerImage?"],
  ])("%s", (_what, edit, expected) => {
    const raw = rawOf("single");
    edit(raw);
    const message = errorOf(raw);
    if (typeof expected === "string") expect(message).toBe(`Pulumi.single.yaml: ${expected}`);
    else expect(message).toMatch(expected);
  });

  it("a prepare setting is refused at its key by the stack schema, the one place it is parsed", () => {
    const raw = rawOf("single");
    const host = (raw.hosts as Record<string, unknown>[])[0];
    host.prepare = { isolation: "tuned-adm" };
    expect(errorOf(raw)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:hosts\[0\]\.prepare\.isolation = "tuned-adm": /);
    host.prepare = { allowreboot: true };
    expect(errorOf(raw)).toBe("Pulumi.single.yaml: numa-k3s:hosts[0].prepare.allowreboot: unknown key; did you mean allowReboot?");
  });

  it("lima.macAdress gets its did-you-mean", () => {
    const raw = rawOf("mac-numa");
    const lima = (raw.k3s as { server: { lima: Record<string, unknown> } }).server.lima;
    lima.macAdress = lima.macAddress;
    delete lima.macAddress;
    // The one more problem is macAddress missing, which the typo explains.
    expect(errorOf(raw)).toBe("Pulumi.single.yaml: numa-k3s:k3s.server.lima.macAdress: unknown key; did you mean macAddress? (and 1 more problem)");
  });

  it("a key missing is said to be missing; .inf and 1e400 are shown as written, not as null", () => {
    const raw = rawOf("single");
    delete raw.layout;
    expect(errorOf(raw)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:layout: is missing: /);
    const inf = rawOf("single");
    vmsOf(inf)[0].cores = Infinity;
    expect(errorOf(inf)).toMatch(/numa-k3s:vms\[0\]\.cores = Infinity: /);
    const text = readFileSync(resolve(projectDir, "Pulumi.single.yaml"), "utf8").replace("cores: 16", "cores: 1e400");
    expect(errorOf(stackConfigEntries(text, "Pulumi.single.yaml"))).toMatch(/numa-k3s:vms\[0\]\.cores = Infinity: /);
  });

  it("a namespace off by a character is ours mistyped, not another project's", () => {
    const text = readFileSync(resolve(projectDir, "Pulumi.single.yaml"), "utf8").replace("numa-k3s:layout", "numa_k3s:layout");
    expect(() => stackConfigEntries(text, "Pulumi.single.yaml")).toThrow(/^Pulumi\.single\.yaml: numa_k3s:layout: unknown namespace "numa_k3s"; did you mean numa-k3s:layout\?$/);
    const other = readFileSync(resolve(projectDir, "Pulumi.single.yaml"), "utf8").replace("config:\n", "config:\n  kubernetes:context: lab\n");
    expect(() => stackConfigEntries(other, "Pulumi.single.yaml")).not.toThrow();
  });

  // Where the K3s server runs is the layout's (k3s/layouts.ts).
  it.each([
    ["single without a server VM", "single", (raw: Raw) => (vmsOf(raw)[3].k3sRole = "agent"), /numa-k3s:layout = "single": runs the K3s server on one of its VMs: give one VM k3sRole: server/],
    ["mac-numa with a server VM", "mac-numa", (raw: Raw) => (vmsOf(raw)[0].k3sRole = "server"), /numa-k3s:vms\[0\]\.k3sRole = "server": the mac-numa layout runs the K3s server outside the NUMA hosts/],
    ["distributed with a Lima server", "distributed", (raw: Raw) => ((raw.k3s as { server: Record<string, unknown> }).server.lima = { mac: { address: "192.0.2.30", user: "admin" }, macAddress: "52:54:00:4d:61:63" }), /numa-k3s:k3s\.server\.lima = .*: a Lima server on the Mac is the mac-numa layout's/],
  ])("%s is refused", (_what, stack, edit, expected) => {
    const raw = rawOf(stack);
    edit(raw);
    expect(errorOf(raw)).toMatch(expected);
  });

  it("a VM on a host the stack does not have is refused", () => {
    const raw = rawOf("single");
    (raw.vms as Record<string, unknown>[])[0].host = "numa-02";
    expect(errorOf(raw)).toMatch(/numa-k3s:vms\[0\]\.host = "numa-02": .*numa-01/);
  });

  it("a lake disk named by sdX is refused (the name moves between boots)", () => {
    const raw = rawOf("single");
    (raw.vms as { disks: Record<string, unknown> }[])[1].disks.lakeDevice = "/dev/sdb";
    expect(errorOf(raw)).toMatch(/lakeDevice = "\/dev\/sdb": .*by-id/);
  });

  it("a stack file that is not YAML, or has no config, is one line", () => {
    expect(() => stackConfigEntries("config: [", "Pulumi.x.yaml")).toThrow(/^Pulumi\.x\.yaml: not YAML/);
    expect(() => stackConfigEntries(YAML.stringify({ encryptionsalt: "x" }), "Pulumi.x.yaml")).toThrow(/has no config/);
  });
});

describe("macOf", () => {
  it("is a locally administered QEMU MAC, stable per name and different across names", () => {
    expect(macOf("k3s-worker-1")).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macOf("k3s-worker-1")).toBe(macOf("k3s-worker-1"));
    expect(macOf("k3s-worker-1")).not.toBe(macOf("k3s-worker-2"));
  });
});

describe("config values as `pulumi config set` stores them", () => {
  it("reads \"true\" and \"22\" as Pulumi's getBoolean and getNumber would", () => {
    const raw = rawOf("single");
    raw.deleteDataDisks = "true";
    raw.waitForGuest = "false";
    const hosts = raw.hosts as Record<string, Record<string, unknown>>[];
    hosts[0].ssh.port = "2222";
    (raw.vms as Record<string, unknown>[])[0].cores = "16";
    const cfg = parseStackConfig(raw, "Pulumi.single.yaml");
    expect([cfg.deleteDataDisks, cfg.waitForGuest, cfg.hosts[0].ssh.port, cfg.vms[0].cores]).toEqual([true, false, 2222, 16]);
  });

  it("refuses what is neither, saying what is expected", () => {
    const raw = rawOf("single");
    raw.deleteDataDisks = "yes please";
    expect(errorOf(raw)).toBe('Pulumi.single.yaml: numa-k3s:deleteDataDisks = "yes please": must be true or false');
  });
});

describe("the placement lock of a stack", () => {
  it("a copied stack file gets a lock of its own; two stacks naming one lock are refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "stacks-"));
    cpSync(join(projectDir, "hosts"), join(dir, "hosts"), { recursive: true });
    const single = readFileSync(join(projectDir, "Pulumi.single.yaml"), "utf8");
    writeFileSync(join(dir, "Pulumi.single.yaml"), single);
    writeFileSync(join(dir, "Pulumi.lab2.yaml"), single);
    expect(readStackInputs(dir, "lab2").lockFile).toBe("hosts/lab2.lock.json");
    writeFileSync(join(dir, "Pulumi.lab2.yaml"), single.replace("config:\n", "config:\n  numa-k3s:placementLock: hosts/single.lock.json\n"));
    expect(() => readStackInputs(dir, "lab2")).toThrow(
      'Pulumi.lab2.yaml: numa-k3s:placementLock = "hosts/single.lock.json": is also the lock of stack single (Pulumi.single.yaml); remove the key to use hosts/lab2.lock.json, or name another file',
    );
  });
});

describe("data disks in a stack", () => {
  const disksOf = (raw: Record<string, unknown>, i: number) => (raw.vms as { disks: Record<string, unknown> }[])[i].disks;

  it("two VMs with one lake disk are refused, naming both", () => {
    const raw = rawOf("mac-numa");
    const vms = raw.vms as Record<string, unknown>[];
    vms.push({ ...vms[2], name: "k3s-minio-storage-2", address: "198.51.100.24", disks: { ...disksOf(raw, 2) } });
    expect(errorOf(raw)).toBe(
      'Pulumi.single.yaml: numa-k3s:vms[3].disks.lakeDevice = "/dev/disk/by-id/ata-REPLACE-WITH-YOUR-8TB-HDD": is also VM k3s-minio-storage\'s lake: two VMs never share a disk (both would write its filesystem); give one of them another disk',
    );
  });

  it("a hot disk needs its lake, and lakeFormat a lake to format", () => {
    const hotAlone = rawOf("single");
    delete disksOf(hotAlone, 1).lakeDevice;
    expect(errorOf(hotAlone)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:vms\[1\]\.disks\.hotGiB = 80: the hot tier holds a lake's metadata/);
    const formatNothing = rawOf("single");
    disksOf(formatNothing, 0).lakeFormat = true;
    expect(errorOf(formatNothing)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:vms\[0\]\.disks\.lakeFormat = true: there is no lake to format/);
    const optIn = rawOf("single");
    disksOf(optIn, 1).lakeFormat = "true";
    expect(parseStackConfig(optIn, "Pulumi.single.yaml").vms[1].disks.lakeFormat).toBe(true);
  });

  it("an SLM VM without a staging disk is refused at its key: its pods' /data/local would not exist", () => {
    const raw = rawOf("single");
    delete disksOf(raw, 2).stagingGiB;
    expect(errorOf(raw)).toBe(
      "Pulumi.single.yaml: numa-k3s:vms[2].disks.stagingGiB: is missing: it must be set and be the size of an SLM VM's staging disk (/data/local), GiB: its models and the Temporal worker keep their files there (the models' GGUFs must fit, e.g. 100)",
    );
  });

  it("two stacks giving one host's lake disk to a VM each are refused by plan (exit 2, one line naming both); the shipped placeholder is not compared", () => {
    const dir = mkdtempSync(join(tmpdir(), "stacks-"));
    cpSync(join(projectDir, "hosts"), join(dir, "hosts"), { recursive: true });
    const single = readFileSync(join(projectDir, "Pulumi.single.yaml"), "utf8");
    writeFileSync(join(dir, "Pulumi.single.yaml"), single);
    writeFileSync(join(dir, "Pulumi.lab2.yaml"), single.replace("numa-k3s:layout: single", "numa-k3s:layout: single\n  numa-k3s:placementLock: hosts/single.lock.json-lab2"));
    // Both still name the placeholder: not one disk yet.
    expect(readStackInputs(dir, "lab2").config.vms[1].disks.lakeDevice).toMatch(/REPLACE/);
    const real = (text: string) => text.replace("ata-REPLACE-WITH-YOUR-8TB-HDD", "ata-ST8000VN004-2M2101_WSD0TEST");
    writeFileSync(join(dir, "Pulumi.single.yaml"), real(single));
    writeFileSync(join(dir, "Pulumi.lab2.yaml"), real(readFileSync(join(dir, "Pulumi.lab2.yaml"), "utf8")));
    const r = spawnSync(join(projectDir, "node_modules/.bin/tsx"), [join(projectDir, "cli/plan.ts"), "--stack", "lab2"], { cwd: dir, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      'Pulumi.lab2.yaml: numa-k3s:vms[1].disks.lakeDevice = "/dev/disk/by-id/ata-ST8000VN004-2M2101_WSD0TEST": is also the lake of VM k3s-worker-data in stack single (Pulumi.single.yaml, vms[1]) on host 192.0.2.10: two stacks never give one disk to a VM each; keep it in one of them',
    );
    // Another host's disk of that name is another disk.
    writeFileSync(join(dir, "Pulumi.lab2.yaml"), readFileSync(join(dir, "Pulumi.lab2.yaml"), "utf8").replace("address: 192.0.2.10", "address: 192.0.2.99"));
    expect(readStackInputs(dir, "lab2").config.vms[1].disks.lakeDevice).toMatch(/WSD0TEST/);
  });
});

describe("how a NoFit is said", () => {
  const loaded = { file: "Pulumi.single.yaml", keyPrefix: "numa-k3s:", request: { hosts: [], vms: [{ name: "w", cores: 4, memoryGiB: 8, node: "auto", emulator: "shared", numa: "strict" }] }, topologies: new Map() } as unknown as LoadedRequest;
  it("a proved does-not-fit names the key, its value and the VM", () => {
    expect(formatNoFit(loaded, { kind: "does-not-fit", vm: "w", vmIndex: 0, host: "h", field: "cores", message: "node 0 of h has 2 free cores; needs 4" })).toBe(
      "Pulumi.single.yaml: numa-k3s:vms[0].cores = 4: w: node 0 of h has 2 free cores; needs 4",
    );
  });
  it("gave up names the request, not a key of one VM", () => {
    expect(formatNoFit(loaded, { kind: "gave-up", vm: "w", vmIndex: 0, host: "h", field: "node", message: "the 60 node: auto VMs of h (...): no placement found within the search limit of 3 s (searchSeconds)" })).toBe(
      "Pulumi.single.yaml: gave up (not proved impossible): the 60 node: auto VMs of h (...): no placement found within the search limit of 3 s (searchSeconds)",
    );
  });
});

describe("typos in the newer keys are named like any other", () => {
  it("a misspelt nested platform key gets its did-you-mean", () => {
    const raw = rawOf("single");
    const platform = raw.platform as { temporal: Record<string, unknown> };
    platform.temporal = { workerimage: platform.temporal.workerImage };
    expect(errorOf(raw)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:platform\.temporal\.workerimage: unknown key; did you mean workerImage\?/);
  });

  it("a K3s version that is not a release tag is refused at its key", () => {
    const raw = rawOf("single");
    raw.k3s = { version: "v1.36.1" };
    expect(errorOf(raw)).toBe('Pulumi.single.yaml: numa-k3s:k3s.version = "v1.36.1": must be a stable K3s release tag of v1.30 or later, like v1.36.3+k3s1');
  });
});

describe("growing to a second host", () => {
  /** The single stack in a project of its own, with a second host and a VM on it. */
  function grown() {
    const dir = mkdtempSync(join(tmpdir(), "grow-"));
    cpSync(join(projectDir, "hosts"), join(dir, "hosts"), { recursive: true });
    cpSync(join(projectDir, "hosts/reference-2x-e5-2697v4.capabilities.xml"), join(dir, "hosts/numa-02.capabilities.xml"));
    const doc = YAML.parse(readFileSync(join(projectDir, "Pulumi.single.yaml"), "utf8"));
    const hosts = doc.config["numa-k3s:hosts"] as Record<string, unknown>[];
    hosts.push({ ...hosts[0], name: "numa-02", capabilities: "hosts/numa-02.capabilities.xml", ssh: { address: "192.0.2.11" } });
    (doc.config["numa-k3s:vms"] as Record<string, unknown>[]).push({ name: "k3s-worker-slm-3", host: "numa-02", node: 0, cores: 8, memoryGiB: 32, workload: "slm", address: "198.51.100.14", disks: { stagingGiB: 40 } });
    writeFileSync(join(dir, "Pulumi.single.yaml"), YAML.stringify(doc));
    return dir;
  }

  it("the VMs the lock holds stay on their host without naming it: adding the host is one edit", () => {
    const inputs = readStackInputs(grown(), "single");
    const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
    expect(placed.kind).toBe("placed");
    if (placed.kind !== "placed") return;
    for (const vm of inputs.lock!.vms) expect(placed.plan.vms.find((p) => p.name === vm.name)).toEqual(vm);
    expect(placed.plan.vms.find((p) => p.name === "k3s-worker-slm-3")!.host).toBe("numa-02");
  });

  it("without a lock, a VM with a node must name its host, and the message says so", () => {
    const dir = grown();
    rmSync(join(dir, "hosts/single.lock.json"));
    expect(() => readStackInputs(dir, "single")).toThrow(/numa-k3s:vms\[0\]\.host: is missing: .*required with node: 0 when there are several hosts/);
  });

  it("a K3s release without a pinned install.sh checksum needs numa-k3s:k3s.installScript.sha256", () => {
    const raw = rawOf("single");
    raw.k3s = { version: "v1.35.0+k3s1" };
    expect(errorOf(raw)).toMatch(/^Pulumi\.single\.yaml: numa-k3s:k3s\.version = "v1\.35\.0\+k3s1": no checksum of its install\.sh is pinned here .*set numa-k3s:k3s\.installScript\.sha256 to the output of curl -fsSL 'https:\/\/raw\.githubusercontent\.com\/k3s-io\/k3s\/v1\.35\.0%2Bk3s1\/install\.sh' \| sha256sum$/);
    raw.k3s = { version: "v1.35.0+k3s1", installScript: { sha256: "ab".repeat(32) } };
    expect(() => parseStackConfig(raw, "Pulumi.single.yaml")).not.toThrow();
  });
});
