import { spawnSync } from "child_process";
import { readFileSync, readdirSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import type { VmPlacement } from "../../topology/placement";
import { DEFAULT_DISABLED, TOKEN_FILE, renderAgentConfig, renderServerConfig, serverUrl } from "../../k3s/config-files";
import { rewriteKubeconfigServer } from "../../k3s/kubeconfig";
import { firstCoreVcpus, kubeletConfiguration, kubeletPolicyDigest, renderKubeletConfig, reservedMemoryMiB } from "../../k3s/kubelet-config";
import { DEFAULT_LIMA_IMAGE, limaDeleteScript, limaPreflightScript, limaProvisionScript, limaUpScript, renderLimaTemplate } from "../../k3s/lima";
import { serverMarks, workerMarks } from "../../k3s/node-roles";
import { drainScript, installScript, readKubeconfigScript, removeNodeScript, uncordonScript, uninstallScript } from "../../k3s/scripts";
import { K3S_VERSION, KUBERNETES_VERSION, checkK3sVersion, installScriptOf, installerUrl } from "../../k3s/version";

const FIX = join(__dirname, "../fixtures/k3s");
const flags = JSON.parse(readFileSync(join(FIX, "k3s-flags.json"), "utf8")) as { k3sVersion: string; server: string[]; agent: string[]; disableItems: { values: string[] } };
const addons = JSON.parse(readFileSync(join(FIX, "packaged-addons.json"), "utf8")) as { k3sVersion: string };
const kubelet = JSON.parse(readFileSync(join(FIX, "kubelet-config-fields.json"), "utf8")) as {
  k3sVersion: string;
  kubernetesVersion: string;
  fields: string[];
  enums: Record<string, string[]>;
  cpuManagerPolicyOptions: { values: string[] };
};
const lima = JSON.parse(readFileSync(join(FIX, "lima-template-keys.json"), "utf8")) as Record<string, string[]> & { enums: Record<string, string[]> };

// The documents' single layout, as locked (docs/reference-layouts.md option 2).
const lock = JSON.parse(readFileSync(join(__dirname, "../../hosts/single.lock.json"), "utf8")) as { vms: VmPlacement[] };
const vm = (name: string) => lock.vms.find((v) => v.name === name)!;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7cZ1kR0aIx5Jx8pO7yB1qqF3kZ3x2mQ8g0GqC0xyz admin@lab";

function shellcheck(text: string, shell = "bash"): void {
  expect(spawnSync("bash", ["-n"], { input: text, encoding: "utf8" }).stderr).toBe("");
  const lint = spawnSync("shellcheck", ["-s", shell, "-"], { input: text, encoding: "utf8" });
  expect(lint.stdout).toBe("");
  expect(lint.status).toBe(0);
}

describe("pinned version", () => {
  it("is a stable v1.3x release tag, and the checker refuses rcs and other shapes in one line", () => {
    expect(checkK3sVersion("version", K3S_VERSION)).toBe(K3S_VERSION);
    expect(() => checkK3sVersion("numa-k3s:k3s.version", "v1.36.2-rc1+k3s1")).toThrow(/^numa-k3s:k3s.version = "v1.36.2-rc1\+k3s1": a stable K3s release tag/);
    expect(() => checkK3sVersion("version", "1.36.1")).toThrow(/a stable K3s release tag/);
    expect(installerUrl(K3S_VERSION)).toBe("https://raw.githubusercontent.com/k3s-io/k3s/v1.36.3%2Bk3s1/install.sh");
  });

  it("every upstream list the checks use was read for the pinned releases, and every shipped stack pins the same one", () => {
    // A new pin needs its lists re-read (and their "source" updated): until then this fails.
    expect({ flags: flags.k3sVersion, addons: addons.k3sVersion, kubelet: kubelet.k3sVersion }).toEqual({ flags: K3S_VERSION, addons: K3S_VERSION, kubelet: K3S_VERSION });
    expect(kubelet.kubernetesVersion).toBe(KUBERNETES_VERSION);
    expect(K3S_VERSION.startsWith(`${KUBERNETES_VERSION}+`)).toBe(true);
    const root = join(__dirname, "../..");
    const stacks = readdirSync(root).filter((f) => /^Pulumi\.[a-z0-9-]+\.yaml$/.test(f));
    expect(stacks.length).toBeGreaterThan(0);
    for (const file of stacks) {
      const version = parse(readFileSync(join(root, file), "utf8")).config["numa-k3s:k3s"]?.version;
      expect({ file, version }).toEqual({ file, version: K3S_VERSION });
    }
  });
});

describe("config.yaml", () => {
  const server = renderServerConfig({
    nodeName: "k3s-server-tasks",
    address: "192.168.50.14",
    tlsSans: ["k3s.lab.example"],
    flannelIface: "eth0",
    marks: serverMarks("single"),
    disable: DEFAULT_DISABLED,
    kubeletConfig: true,
  });
  const agent = renderAgentConfig({
    nodeName: "k3s-worker-slm",
    serverUrl: serverUrl("192.168.50.14"),
    address: "192.168.50.13",
    flannelIface: "eth0",
    marks: workerMarks("single", { host: "numa-01", node: 1, workload: "slm" }),
    kubeletConfig: true,
  });

  it("uses only keys that are flags of the pinned K3s (server and agent lists)", () => {
    for (const key of Object.keys(parse(server))) expect(flags.server).toContain(key);
    for (const key of Object.keys(parse(agent))) expect(flags.agent).toContain(key);
    for (const item of DEFAULT_DISABLED) expect(flags.disableItems.values).toContain(item);
  });

  it("server: the single layout's tasks VM with the control-plane taint K3s's add-ons tolerate, secrets encryption, 0600 kubeconfig, no token text", () => {
    const doc = parse(server);
    expect(doc).toEqual({
      "node-name": "k3s-server-tasks",
      "token-file": TOKEN_FILE,
      "node-ip": "192.168.50.14",
      "advertise-address": "192.168.50.14",
      "tls-san": ["192.168.50.14", "k3s.lab.example"],
      "flannel-iface": "eth0",
      "write-kubeconfig-mode": "0600",
      "secrets-encryption": true,
      disable: ["traefik", "servicelb"],
      "node-label": ["role=master", "workload=tasks", "numa-k3s.io/role=server", "numa-k3s.io/workload=tasks"],
      "node-taint": ["node-role.kubernetes.io/control-plane:NoSchedule"],
      "kubelet-arg": ["config=/etc/rancher/k3s/kubelet.yaml"],
    });
    // The mode must reach K3s as the string "0600", not an octal or decimal number.
    expect(server).toMatch(/^write-kubeconfig-mode: "0600"$/m);
  });

  it("server: mac-numa taints the control plane and labels it role=master; distributed does not taint", () => {
    expect(serverMarks("mac-numa")).toEqual({ labels: ["role=master", "numa-k3s.io/role=server"], taints: ["node-role.kubernetes.io/control-plane:NoSchedule"] });
    expect(serverMarks("distributed").taints).toEqual([]);
  });

  it("agent: server URL, token file, node-ip, eth0, the plan's labels, the layout's taint", () => {
    expect(parse(agent)).toEqual({
      "node-name": "k3s-worker-slm",
      server: "https://192.168.50.14:6443",
      "token-file": TOKEN_FILE,
      "node-ip": "192.168.50.13",
      "flannel-iface": "eth0",
      "node-label": ["role=worker", "workload=slm", "numa-node=1", "numa-k3s.io/role=agent", "numa-k3s.io/host=numa-01", "numa-k3s.io/numa-node=1", "numa-k3s.io/workload=slm"],
      "node-taint": ["workload=slm:NoSchedule"],
      "kubelet-arg": ["config=/etc/rancher/k3s/kubelet.yaml"],
    });
    expect(workerMarks("mac-numa", { host: "numa-01", node: 0, workload: "slm" }).taints).toEqual([]);
    const floating = workerMarks("mac-numa", { host: "numa-01", node: null, workload: "data" });
    expect(floating.labels).toContain("numa-k3s.io/numa-node=floating");
    expect(floating.labels.some((l) => l.startsWith("numa-node="))).toBe(false);
  });

  it("refuses an address that is not an IP, naming the field", () => {
    expect(() => renderAgentConfig({ nodeName: "x", serverUrl: "https://a:6443", address: "192.168.50.300", flannelIface: "eth0", marks: { labels: [], taints: [] }, kubeletConfig: false })).toThrow(
      'address = "192.168.50.300": an IPv4 or IPv6 address',
    );
    expect(serverUrl("fd00::10")).toBe("https://[fd00::10]:6443");
  });
});

describe("KubeletConfiguration from the placement", () => {
  it.each(lock.vms.map((v) => [v.name, v] as const))("%s: every field is a real v1beta1 field, every enum value a real one", (_n, placement) => {
    const config = kubeletConfiguration(placement, "agent");
    for (const key of Object.keys(config)) expect(kubelet.fields).toContain(key);
    for (const [field, values] of Object.entries(kubelet.enums)) if (field in config) expect(values).toContain(config[field]);
    for (const option of Object.keys(config.cpuManagerPolicyOptions as object)) expect(kubelet.cpuManagerPolicyOptions.values).toContain(option);
    expect(parse(renderKubeletConfig(config))).toEqual(config);
  });

  it("reserves the guest's first whole core: vCPUs 0..T-1, which the placement pins to the two threads of one host core", () => {
    const p = vm("k3s-worker-slm-heavy");
    expect(firstCoreVcpus(p)).toEqual([0, 1]);
    // The reference host's siblings are n and n+36 (docs/reference-layouts.md): vCPUs 0 and 1 are one core.
    expect(p.vcpupin[1] - p.vcpupin[0]).toBe(36);
    const c = kubeletConfiguration(p, "agent");
    expect(c).toMatchObject({
      cpuManagerPolicy: "static",
      cpuManagerPolicyOptions: { "full-pcpus-only": "true" },
      reservedSystemCPUs: "0-1",
      topologyManagerPolicy: "single-numa-node",
      topologyManagerScope: "pod",
      memoryManagerPolicy: "None",
    });
    const four = { ...p, vcpus: 16, topology: { ...p.topology, cores: 4, threads: 4 } };
    expect(kubeletConfiguration(four, "agent").reservedSystemCPUs).toBe("0-3");
    expect(() => firstCoreVcpus({ ...p, vcpus: 2 })).toThrow(/at least two whole cores \(4 vCPUs\)/);
  });

  it("sizes reserved memory from the VM: 118 GiB heavy worker and 24 GiB server", () => {
    expect(reservedMemoryMiB(118 * 1024, "agent")).toEqual({ system: 256 + 944, kube: 384 + 944, eviction: 1209 });
    expect(reservedMemoryMiB(24 * 1024, "server")).toEqual({ system: 448, kube: 576 + 1024, eviction: 256 });
    const c = kubeletConfiguration(vm("k3s-worker-slm-heavy"), "agent");
    expect(c.systemReserved).toEqual({ memory: "1200Mi" });
    expect(c.kubeReserved).toEqual({ memory: "1328Mi" });
    expect(c.evictionHard).toEqual({ "memory.available": "1209Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%", "imagefs.available": "15%" });
    // Reserved memory stays a small share of any VM from 4 GiB up, and always leaves most of it to pods.
    for (const gib of [4, 8, 24, 32, 60, 118, 500]) {
      const r = reservedMemoryMiB(gib * 1024, "server");
      expect(r.system + r.kube + r.eviction).toBeLessThan(gib * 1024 * 0.6);
    }
  });

  it("the policy digest changes with the CPU policy, reserved CPUs or vCPU count, and not with memory sizing", () => {
    const p = vm("k3s-worker-slm");
    const base = kubeletPolicyDigest(kubeletConfiguration(p, "agent"), p.vcpus);
    const bigger = { ...p, vcpus: 10, topology: { ...p.topology, cores: 5 } };
    expect(kubeletPolicyDigest(kubeletConfiguration(bigger, "agent"), bigger.vcpus)).not.toBe(base);
    expect(kubeletPolicyDigest({ ...kubeletConfiguration(p, "agent"), cpuManagerPolicy: "none" }, p.vcpus)).not.toBe(base);
    const moreMemory = { ...p, memoryKiB: p.memoryKiB * 2 };
    expect(kubeletPolicyDigest(kubeletConfiguration(moreMemory, "agent"), p.vcpus)).toBe(base);
  });
});

describe("scripts", () => {
  const params = { version: K3S_VERSION, nodeName: "k3s-worker-slm", policyDigest: "0123456789abcdef", readyTimeoutSeconds: 600, installer: installScriptOf("installScript", K3S_VERSION) };
  const scripts: Record<string, string> = {
    "install (server)": installScript({ ...params, role: "server" }),
    "install (agent)": installScript({ ...params, role: "agent" }),
    "uninstall (server)": uninstallScript("server"),
    "uninstall (agent)": uninstallScript("agent"),
    drain: drainScript("k3s-worker-slm"),
    uncordon: uncordonScript("k3s-worker-slm", 600),
    "remove node": removeNodeScript("k3s-worker-slm"),
    "read kubeconfig": readKubeconfigScript("/etc/rancher/k3s/k3s.yaml"),
    "lima up": limaUpScript("k3s-server", "bridged"),
    "lima preflight": limaPreflightScript("bridged"),
    "lima delete": limaDeleteScript("k3s-server"),
    "lima provision": limaProvisionScript("k3s-admin", [KEY]),
  };
  it.each(Object.entries(scripts))("%s passes bash -n and shellcheck", (_n, text) => shellcheck(text));

  // What the install script does is tested by running it (test/k3s/install-script.test.ts, install-guards.test.ts).
});

describe("kubeconfig", () => {
  const k3sYaml = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
`;
  it("points every cluster at the reachable address and keeps the rest", () => {
    const out = parse(rewriteKubeconfigServer(k3sYaml, "https://192.168.50.14:6443"));
    expect(out.clusters[0].cluster.server).toBe("https://192.168.50.14:6443");
    expect(out.users[0].user["client-key-data"]).toBe("S0VZ");
  });
  it("fails in one line without echoing the content", () => {
    let message = "";
    try {
      rewriteKubeconfigServer("users: [{user: {client-key-data: S0VZ}}]\n", "https://x:6443");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/no clusters\[\]\.cluster/);
    expect(message).not.toContain("S0VZ");
  });
});

describe("Lima template", () => {
  const input = { cpus: 2, memoryGiB: 4, diskGiB: 20, image: DEFAULT_LIMA_IMAGE, network: "bridged", macAddress: "52:55:55:12:34:56", adminUser: "k3s-admin", sshAuthorizedKeys: [KEY] };
  const doc = parse(renderLimaTemplate(input));

  it("uses only keys of Lima's template schema, with valid enum values", () => {
    for (const key of Object.keys(doc)) expect(lima.top).toContain(key);
    for (const n of doc.networks) for (const key of Object.keys(n)) expect(lima.network).toContain(key);
    for (const i of doc.images) for (const key of Object.keys(i)) expect(lima.image).toContain(key);
    for (const p of doc.provision) for (const key of Object.keys(p)) expect(lima.provision).toContain(key);
    for (const key of Object.keys(doc.containerd)) expect(lima.containerd).toContain(key);
    expect(lima.enums.vmType).toContain(doc.vmType);
    expect(lima.enums.arch).toContain(doc.arch);
    expect(lima.enums.os).toContain(doc.os);
    for (const p of doc.provision) expect(lima.enums.provisionMode).toContain(p.mode);
  });

  it("is the documents' control plane VM: vz, 2 vCPUs, 4 GiB, 20 GiB, bridged through socket_vmnet", () => {
    expect(doc).toMatchObject({ vmType: "vz", cpus: 2, memory: "4GiB", disk: "20GiB", mounts: [] });
    expect(doc.networks).toEqual([{ lima: "bridged", macAddress: "52:55:55:12:34:56", interface: "lima0" }]);
    expect(lima.bridgedNetworks).toContain(doc.networks[0].lima);
    shellcheck(doc.provision[0].script);
  });

  it("refuses what cannot work, naming the field", () => {
    expect(() => renderLimaTemplate({ ...input, cpus: 1 })).toThrow(/^lima.cpus = 1: a whole number >= 2/);
    expect(() => renderLimaTemplate({ ...input, adminUser: "root" })).toThrow(/^lima.adminUser = "root"/);
    expect(() => renderLimaTemplate({ ...input, sshAuthorizedKeys: ["-----BEGIN OPENSSH PRIVATE KEY-----"] })).toThrow(/^lima.sshAuthorizedKeys\[0\]/);
  });
});
