import { readFileSync } from "fs";
import { join } from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { RecordedResource, outputValue, recordedResources, settle, startMockRuntime, stdoutByName, unwrapSecrets, resourceNamed } from "../../cli/mock-runtime";
import type { VmPlacement } from "../../topology/placement";
import type { K3sControlPlaneArgs } from "../../components/K3sControlPlane";

const lock = JSON.parse(readFileSync(join(__dirname, "../../hosts/single.lock.json"), "utf8")) as { vms: VmPlacement[] };
const vm = (name: string) => lock.vms.find((v) => v.name === name)!;
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
const TOKEN = "k3s-token-for-tests-0123456789abcdef";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7cZ1kR0aIx5Jx8pO7yB1qqF3kZ3x2mQ8g0GqC0xyz admin@lab";
export const K3S_YAML = `apiVersion: v1
clusters:
- cluster: {certificate-authority-data: Q0E=, server: "https://127.0.0.1:6443"}
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: QURNSU4tS0VZ}
`;

const connection = { host: "192.168.50.14", user: "k3s-admin", privateKey: PRIVATE_KEY };
const singleArgs = (): K3sControlPlaneArgs => ({
  nodeName: "k3s-server-tasks",
  layout: "single",
  address: "192.168.50.14",
  connection,
  placement: vm("k3s-server-tasks"),
  token: pulumi.secret(TOKEN),
});

async function deploy(args: K3sControlPlaneArgs) {
  startMockRuntime({ project: "numa-k3s", stack: "test", commandStdout: stdoutByName({ "cp-kubeconfig": K3S_YAML }) });
  const { K3sControlPlane } = await import("../../components/K3sControlPlane");
  const cp = new K3sControlPlane("cp", args);
  await outputValue(cp.kubeconfig);
  await settle();
  const resources = recordedResources();
  const byName = (n: string) => resourceNamed(resources, n);
  return { cp, resources, byName };
}

/** The files an install's stdin carries. */
function stdinFiles(stdin: string): Record<string, string> {
  return Object.fromEntries(
    stdin
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const [name, data] = l.split(" ");
        return [name, Buffer.from(data, "base64").toString("utf8")];
      }),
  );
}

describe("K3sControlPlane", () => {
  it("installs over SSH, reads the kubeconfig after the install, and builds one provider from it", async () => {
    const { resources, byName } = await deploy(singleArgs());
    expect(resources.map((r) => [r.type, r.name])).toEqual([
      ["numa-k3s:k3s:K3sControlPlane", "cp"],
      ["command:remote:Command", "cp-k3s"],
      ["command:remote:Command", "cp-kubeconfig"],
      ["pulumi:providers:kubernetes", "cp-k8s"],
    ]);
    for (const child of ["cp-k3s", "cp-kubeconfig", "cp-k8s"]) expect(byName(child).parent).toBe(byName("cp").urn);
    expect(resources.filter((r) => r.type === "pulumi:providers:kubernetes")).toHaveLength(1);
  });

  it("sends exactly the rendered config.yaml and kubelet.yaml, and the token only in the secret stdin", async () => {
    const args = singleArgs();
    const { byName, cp } = await deploy(args);
    const install = unwrapSecrets(byName("cp-k3s").inputs);
    expect(install.secretPaths.sort()).toEqual(["connection", "stdin"]);
    const files = stdinFiles((install.value as { stdin: string }).stdin);
    const { serverFiles } = await import("../../components/K3sControlPlane");
    expect(files["config.yaml"]).toBe(serverFiles(args).files["config.yaml"]);
    expect(files["kubelet.yaml"]).toBe(serverFiles(args).files["kubelet.yaml"]);
    expect(files["cluster-token"]).toBe(`${TOKEN}\n`);
    expect(cp.files["config.yaml"]).not.toContain(TOKEN);
    expect(parse(cp.files["kubelet.yaml"]!).reservedSystemCPUs).toBe("0-1");
    // Nothing but stdin and the connection holds a secret, and no plain input holds the token or key.
    const { connection: _c, stdin: _s, ...plain } = install.value as Record<string, unknown>;
    expect(JSON.stringify(plain)).not.toContain(TOKEN);
    expect(JSON.stringify(plain)).not.toContain("PRIVATE KEY");
    expect(byName("cp-k3s").inputs.logging).toBe("stderr");
  });

  it("exports the kubeconfig with the reachable server address, as a secret, and feeds the provider that secret", async () => {
    const { cp, byName } = await deploy(singleArgs());
    expect(await (pulumi.isSecret(cp.kubeconfig) as unknown as Promise<boolean>)).toBe(true);
    expect(await (pulumi.isSecret(cp.token) as unknown as Promise<boolean>)).toBe(true);
    const kubeconfig = parse(await outputValue(cp.kubeconfig));
    expect(kubeconfig.clusters[0].cluster.server).toBe("https://192.168.50.14:6443");
    expect(await outputValue(cp.serverUrl)).toBe("https://192.168.50.14:6443");
    const provider = unwrapSecrets(byName("cp-k8s").inputs);
    expect(provider.secretPaths).toEqual(["kubeconfig"]);
    const read = byName("cp-kubeconfig").inputs;
    expect(read.logging).toBe("none");
    expect(JSON.stringify(unwrapSecrets(read).value)).not.toContain("QURNSU4tS0VZ");
  });

  it("a version change is an update of the same install (in place), unchanged inputs change no command text", async () => {
    const a = (await deploy(singleArgs())).byName("cp-k3s").inputs;
    const same = (await deploy(singleArgs())).byName("cp-k3s").inputs;
    expect(same.create).toBe(a.create);
    expect(same.update).toBe(a.update);
    const b = (await deploy({ ...singleArgs(), version: "v1.36.2+k3s1", installScript: { sha256: "ab".repeat(32) } })).byName("cp-k3s").inputs;
    expect(b.update).not.toBe(a.update);
    expect(b.update).toContain("k3s/v1.36.2%2Bk3s1/install.sh");
    expect(b.triggers).toEqual(a.triggers);
    expect(a.delete).toContain("k3s-uninstall.sh");
  });

  it("mac-numa with Lima: limactl on the Mac first, the template on stdin, lima0 for flannel, the server tainted", async () => {
    const args: K3sControlPlaneArgs = {
      nodeName: "k3s-server",
      layout: "mac-numa",
      address: "192.168.50.5",
      connection: { ...connection, host: "192.168.50.5" },
      token: pulumi.secret(TOKEN),
      lima: { macConnection: { host: "192.168.50.4", user: "admin", privateKey: PRIVATE_KEY }, macAddress: "52:55:55:12:34:56", adminUser: "k3s-admin", sshAuthorizedKeys: [KEY] },
    };
    const { byName, cp } = await deploy(args);
    const limaCmd = byName("cp-lima").inputs;
    expect(limaCmd.stdin).toBe(cp.files["lima.yaml"]);
    expect(String(limaCmd.create)).toContain("limactl create --tty=false");
    expect(String(limaCmd.delete)).toContain("limactl delete --force");
    const config = parse(cp.files["config.yaml"]);
    expect(config["flannel-iface"]).toBe("lima0");
    expect(config["node-taint"]).toEqual(["node-role.kubernetes.io/control-plane:NoSchedule"]);
    expect(config["kubelet-arg"]).toBeUndefined();
    const order = recordedResources().map((r) => r.name);
    expect(order.indexOf("cp-lima")).toBeLessThan(order.indexOf("cp-k3s"));
  });

  it("the install runs only the tag's install.sh with the pinned sha256; another release needs its sum", async () => {
    const { INSTALL_SCRIPT_SHA256, K3S_VERSION } = await import("../../k3s/version");
    const install = String((await deploy(singleArgs())).byName("cp-k3s").inputs.create);
    expect(install).toMatch(new RegExp(`installer_sha256=\\W*${INSTALL_SCRIPT_SHA256[K3S_VERSION]}\\W`));
    expect(install).toContain(`https://raw.githubusercontent.com/k3s-io/k3s/${encodeURIComponent(K3S_VERSION)}/install.sh`);
    expect(install).not.toMatch(/curl[^\n]*\| *(INSTALL_K3S_[A-Z_]+=\S+ )*sh/);
    const { K3sControlPlane } = await import("../../components/K3sControlPlane");
    expect(() => new K3sControlPlane("cp2", { ...singleArgs(), version: "v1.35.0+k3s1" })).toThrow(
      /^K3sControlPlane 'k3s-server-tasks': installScript\.sha256: no checksum of https:\/\/raw\.githubusercontent\.com\/k3s-io\/k3s\/v1\.35\.0%2Bk3s1\/install\.sh is known here .*\| sha256sum$/,
    );
  });

  it("the generated token ignores changes to every input of RandomPassword (as @pulumi/random declares them): no change of code replaces it", async () => {
    const { token: _given, ...args } = singleArgs();
    const { byName } = await deploy(args);
    const declared = readFileSync(join(__dirname, "../../node_modules/@pulumi/random/randomPassword.d.ts"), "utf8");
    const argsInterface = declared.slice(declared.indexOf("export interface RandomPasswordArgs"));
    const inputs = [...argsInterface.slice(0, argsInterface.indexOf("\n}")).matchAll(/^ {4}(\w+)\??:/gm)].map((m) => m[1]).sort();
    expect(inputs).toContain("length");
    expect([...(byName("cp-token").ignoreChanges ?? [])].sort()).toEqual(inputs);
  });

  it("refuses a bad address or version in one line naming the field", async () => {
    const { checkControlPlaneArgs } = await import("../../components/K3sControlPlane");
    expect(() => checkControlPlaneArgs({ ...singleArgs(), address: "k3s.local" })).toThrow(/^K3sControlPlane 'k3s-server-tasks': address = "k3s.local": /);
    expect(() => checkControlPlaneArgs({ ...singleArgs(), version: "latest" })).toThrow(/version = "latest": a stable K3s release tag/);
  });
});
