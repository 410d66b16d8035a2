import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { DATA_DISK_SCRIPT_NAME, GUEST_INTERFACE, GuestSpec, instanceId, renderMetaData, renderNetworkConfig, renderUserData } from "../../guest/cloud-init";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb7vTestKeyOnlyNotARealOne ops@laptop";

// The three guest shapes of docs/reference-layouts.md: an SLM worker with staging, the data VM with hot tier and
// lake, and a VM with its OS disk only.
const slmWorker: GuestSpec = {
  hostname: "k3s-slm-worker-1",
  adminUser: "ops",
  sshAuthorizedKeys: [KEY],
  packages: ["nfs-common"],
  address: { cidr: "192.168.50.11/24", gateway: "192.168.50.1", nameservers: ["192.168.50.1"] },
  mac: "52:54:00:00:50:11",
  mounts: [{ device: "/dev/vdb", mountPoint: "/data/local", fsType: "ext4", label: "local", format: "when-blank" }],
};
const dataVm: GuestSpec = {
  hostname: "k3s-worker-data",
  domain: "lab.example.org",
  adminUser: "ops",
  sshAuthorizedKeys: [KEY, "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAI second"],
  packages: ["nfs-common", "qemu-guest-agent"],
  timezone: "Europe/Berlin",
  address: { cidr: "10.20.0.12/16", gateway: "10.20.0.1", nameservers: ["10.20.0.1", "9.9.9.9"], search: ["lab.example.org"] },
  mac: "52:54:00:ab:cd:ef",
  mounts: [
    { device: "/dev/disk/by-id/virtio-hot", mountPoint: "/data/hot", fsType: "ext4", label: "hot", format: "when-blank" },
    { device: "/dev/disk/by-id/virtio-lake", mountPoint: "/data/lake", fsType: "ext4", label: "lake", format: "never" },
  ],
};
const osOnly: GuestSpec = { ...slmWorker, hostname: "k3s-server-tasks", mounts: [], packages: [], mac: "52:54:00:00:00:01" };
const specs = { slmWorker, dataVm, osOnly };

// cloud-init reads YAML 1.1 (PyYAML); parse the way it does.
const asCloudInit = (text: string) => parse(text, { version: "1.1" });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "numa-k3s-cloud-init-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(Object.entries(specs))("%s", (name, spec) => {
  test("user-data passes cloud-init's own schema check", () => {
    const file = join(dir, `${name}.user-data`);
    writeFileSync(file, renderUserData(spec));
    const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe(`Valid cloud-config: ${file}`);
    expect(r.status).toBe(0);
  });

  test("network-config is understood by cloud-init's network parser and renders the static address", () => {
    // cloud-init 22.4 has no schema for network-config; `devel net-convert` runs its real v2
    // parser and renderer, so a config it misreads (e.g. a MAC read as a base-60 number) fails here.
    const file = join(dir, `${name}.network-config`);
    const out = join(dir, `${name}.networkd`);
    writeFileSync(file, renderNetworkConfig(spec));
    execFileSync("cloud-init", ["devel", "net-convert", "-p", file, "-k", "yaml", "-d", out, "-D", "debian", "-O", "networkd"], { stdio: "pipe" });
    const unitDir = join(out, "etc/systemd/network");
    const units = readdirSync(unitDir);
    expect(units).toHaveLength(1);
    const unit = readFileSync(join(unitDir, units[0]), "utf8");
    expect(unit).toContain(`MACAddress=${spec.mac}`);
    expect(unit).toContain(`Name=${GUEST_INTERFACE}`);
    expect(unit).toContain(`Address=${spec.address.cidr}`);
    expect(unit).toContain(`Gateway=${spec.address.gateway}`);
    expect(unit).toContain("DHCP=no");
    expect(unit).toMatch(new RegExp(`^DNS=${spec.address.nameservers.join(" ").replace(/\./g, "\\.")}$`, "m"));
  });

  test("network-config v2 structure: one ethernet matched by the MAC, as a string", () => {
    const doc = asCloudInit(renderNetworkConfig(spec));
    expect(doc.version).toBe(2);
    const nics = Object.values(doc.ethernets) as any[];
    expect(nics).toHaveLength(1);
    expect(nics[0].match).toEqual({ macaddress: spec.mac });
    expect(nics[0].addresses).toEqual([spec.address.cidr]);
    expect(nics[0].routes).toEqual([{ to: "0.0.0.0/0", via: spec.address.gateway }]);
    expect(nics[0].nameservers.addresses).toEqual(spec.address.nameservers);
  });

  test("no password anywhere: keys only, password locked, no password SSH, no root", () => {
    const text = renderUserData(spec);
    const doc = asCloudInit(text);
    const keys: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) (keys.push(k), walk(x));
    };
    walk(doc);
    expect(keys.filter((k) => /passw|pwauth/.test(k)).sort()).toEqual(["lock_passwd", "ssh_pwauth"]);
    expect(doc.ssh_pwauth).toBe(false);
    expect(doc.disable_root).toBe(true);
    expect(doc.users).toHaveLength(1);
    expect(doc.users[0]).toMatchObject({ name: spec.adminUser, lock_passwd: true, ssh_authorized_keys: spec.sshAuthorizedKeys });
    expect(doc.users[0].sudo).toMatch(/NOPASSWD/);
  });

  test("data disks go to our boot script (formats only blank devices), never to cloud-init's disk_setup, fs_setup or mounts", () => {
    const doc = asCloudInit(renderUserData(spec));
    expect(doc.disk_setup).toBeUndefined();
    expect(doc.fs_setup).toBeUndefined();
    expect(doc.mounts).toBeUndefined();
    if (spec.mounts.length === 0) {
      expect(doc.bootcmd).toBeUndefined();
      return;
    }
    const [bash, flag, script, name] = doc.bootcmd[0];
    expect([bash, flag, name]).toEqual(["bash", "-c", DATA_DISK_SCRIPT_NAME]);
    for (const m of spec.mounts) expect(script).toContain(`'${m.device}' '${m.mountPoint}' '${m.label}'`);
    const file = join(dir, `${name}-${spec.hostname}.sh`);
    writeFileSync(file, script);
    const r = spawnSync("shellcheck", ["-s", "bash", file], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  test("the guest agent is always installed (once) and enabled", () => {
    const doc = asCloudInit(renderUserData(spec));
    expect(doc.packages.filter((p: string) => p === "qemu-guest-agent")).toHaveLength(1);
    for (const p of spec.packages) expect(doc.packages).toContain(p);
    expect(doc.runcmd).toContainEqual(["systemctl", "enable", "--now", "qemu-guest-agent"]);
    expect(doc.hostname).toBe(spec.hostname);
  });

  test("meta-data names the host and an instance id that follows the spec", () => {
    const meta = asCloudInit(renderMetaData(spec));
    expect(meta["local-hostname"]).toBe(spec.hostname);
    expect(meta["instance-id"]).toBe(instanceId(spec));
    expect(instanceId({ ...spec })).toBe(instanceId(spec));
    expect(instanceId({ ...spec, packages: [...spec.packages, "htop"] })).not.toBe(instanceId(spec));
    expect(instanceId({ ...spec, address: { ...spec.address, cidr: "192.168.77.5/24", gateway: "192.168.77.1" } })).not.toBe(instanceId(spec));
  });
});

test("the fqdn is written only when a domain is given", () => {
  expect(asCloudInit(renderUserData(dataVm)).fqdn).toBe("k3s-worker-data.lab.example.org");
  expect(asCloudInit(renderUserData(slmWorker)).fqdn).toBeUndefined();
});

describe("a bad spec is refused with one line naming the field and the value", () => {
  const cases: Array<[string, GuestSpec, RegExp]> = [
    ["no key", { ...slmWorker, sshAuthorizedKeys: [] }, /'k3s-slm-worker-1': sshAuthorizedKeys = \[\]: at least one public key/],
    ["a private key pasted", { ...slmWorker, sshAuthorizedKeys: ["-----BEGIN OPENSSH PRIVATE KEY-----"] }, /sshAuthorizedKeys\[0\] = "-----BEGIN OPENSSH PRIVA\.\.\.": is not an OpenSSH public key/],
    ["root as admin", { ...slmWorker, adminUser: "root" }, /adminUser = "root"/],
    ["bad MAC", { ...slmWorker, mac: "52:54:00:zz:00:01" }, /mac = "52:54:00:zz:00:01"/],
    ["CIDR without prefix", { ...slmWorker, address: { ...slmWorker.address, cidr: "192.168.50.11" } }, /address\.cidr = "192\.168\.50\.11": must be an address with prefix length/],
    ["gateway of another family", { ...slmWorker, address: { ...slmWorker.address, gateway: "fe80::1" } }, /address\.gateway = "fe80::1": must be an IPv4 address/],
    ["label too long for ext4", { ...slmWorker, mounts: [{ ...slmWorker.mounts[0], label: "a-very-long-label-x" }] }, /mounts\[0\]\.label = "a-very-long-label-x": must be 1-16/],
    ["one mount point twice", { ...dataVm, mounts: [dataVm.mounts[0], { ...dataVm.mounts[1], mountPoint: "/data/hot" }] }, /mounts\[1\]\.mountPoint = "\/data\/hot": is already used by mounts\[0\]/],
    ["mount point outside the layout", { ...slmWorker, mounts: [{ ...slmWorker.mounts[0], mountPoint: "/srv" as any }] }, /mounts\[0\]\.mountPoint = "\/srv": must be one of \/data\/local, \/data\/hot, \/data\/lake/],
  ];
  test.each(cases)("%s", (_why, spec, message) => {
    for (const render of [renderUserData, renderNetworkConfig, renderMetaData]) {
      let error: Error | undefined;
      try {
        render(spec);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).toMatch(message);
      expect(error?.message).not.toContain("\n");
    }
  });
});
