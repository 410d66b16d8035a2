// K3sAgent under the mock runtime: a worker VM joins after its VM and the server, never after
// another agent; the kubelet it gets is the one derived from its placement; a kubelet policy change
// (and only that) drains and uncordons the node around the restart; the token stays secret.
import { readFileSync } from "fs";
import { join } from "path";
import { parse } from "yaml";
import { OFFLINE_KUBECONFIG, RecordedResource, outputValue, recordedResources, settle, startMockRuntime, stdoutByName, unwrapSecrets, resourceNamed } from "../../cli/mock-runtime";
import { kubeletConfiguration, renderKubeletConfig } from "../../k3s/kubelet-config";
import type { VmPlacement } from "../../topology/placement";

const lock = JSON.parse(readFileSync(join(__dirname, "../../hosts/single.lock.json"), "utf8")) as { vms: VmPlacement[] };
const vm = (name: string) => lock.vms.find((v) => v.name === name)!;
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
const TOKEN = "k3s-token-for-tests-0123456789abcdef";

interface Worker {
  name: string;
  address: string;
  workload: string;
  placement?: VmPlacement;
}

/** A server and the given workers (each behind a stand-in VM resource), as stacks/cluster.ts builds them. */
async function deploy(workers: Worker[]) {
  startMockRuntime({ project: "numa-k3s", stack: "test", commandStdout: stdoutByName({ "cp-kubeconfig": OFFLINE_KUBECONFIG }) });
  const pulumi = await import("@pulumi/pulumi");
  const command = await import("@pulumi/command");
  const { K3sControlPlane } = await import("../../components/K3sControlPlane");
  const { K3sAgent } = await import("../../components/K3sAgent");
  const connection = (host: string) => ({ host, user: "k3s-admin", privateKey: PRIVATE_KEY });
  const cp = new K3sControlPlane("cp", { nodeName: "k3s-server-tasks", layout: "single", address: "192.168.50.10", connection: connection("192.168.50.10"), token: pulumi.secret(TOKEN) });
  const agents = workers.map((w) => {
    const machine = new command.local.Command(`${w.name}-vm`, { create: "true" });
    return new K3sAgent(`${w.name}-agent`, {
      placement: w.placement ?? vm(w.name),
      address: w.address,
      workload: w.workload,
      layout: "single",
      controlPlane: cp,
      connection: connection(w.address),
      vm: machine,
    });
  });
  await Promise.all(agents.map((a) => outputValue(a.nodeName)));
  await settle();
  const resources = recordedResources();
  const byName = (n: string) => resourceNamed(resources, n);
  return { agents, resources, byName };
}

const WORKERS: Worker[] = [
  { name: "k3s-worker-slm-heavy", address: "192.168.50.11", workload: "slm" },
  { name: "k3s-worker-data", address: "192.168.50.12", workload: "data" },
];

describe("K3sAgent", () => {
  it("joins after its own VM and the server's install; drain before, uncordon after; never after another agent", async () => {
    const { byName } = await deploy(WORKERS);
    const urn = (n: string) => byName(n).urn!;
    for (const w of WORKERS) {
      const install = byName(`${w.name}-agent-k3s`).dependencies!;
      expect(install).toEqual(expect.arrayContaining([urn(`${w.name}-vm`), urn("cp-k3s"), urn(`${w.name}-agent-drain`)]));
      for (const other of WORKERS.filter((o) => o !== w)) {
        expect(install).not.toContain(urn(`${other.name}-agent-k3s`));
        expect(install).not.toContain(urn(`${other.name}-vm`));
      }
      expect(byName(`${w.name}-agent-drain`).dependencies).toContain(urn("cp-k3s"));
      expect(byName(`${w.name}-agent-uncordon`).dependencies).toContain(urn(`${w.name}-agent-k3s`));
    }
  });

  it("runs drain and uncordon on the server, the install on the VM", async () => {
    const { byName } = await deploy(WORKERS.slice(0, 1));
    const host = (n: string) => (unwrapSecrets(byName(n).inputs).value as { connection: { host: string } }).connection.host;
    expect(host("k3s-worker-slm-heavy-agent-drain")).toBe("192.168.50.10");
    expect(host("k3s-worker-slm-heavy-agent-uncordon")).toBe("192.168.50.10");
    expect(host("k3s-worker-slm-heavy-agent-k3s")).toBe("192.168.50.11");
  });

  it("sends the kubelet configuration derived from the placement, and the token only in the secret stdin", async () => {
    const { agents, byName } = await deploy(WORKERS.slice(0, 1));
    const kubelet = parse(agents[0].files["kubelet.yaml"]);
    expect(agents[0].files["kubelet.yaml"]).toBe(renderKubeletConfig(kubeletConfiguration(vm("k3s-worker-slm-heavy"), "agent")));
    expect(kubelet.reservedSystemCPUs).toBe("0-1");
    expect(kubelet.cpuManagerPolicyOptions).toEqual({ "full-pcpus-only": "true" });
    const install = byName("k3s-worker-slm-heavy-agent-k3s");
    const { value, secretPaths } = unwrapSecrets(install.inputs);
    expect(secretPaths).toEqual(expect.arrayContaining(["connection", "stdin"]));
    const { stdin: _s, connection: _c, ...plain } = value as Record<string, unknown>;
    expect(JSON.stringify(plain)).not.toContain(TOKEN);
    expect(String((value as { stdin: string }).stdin)).not.toContain(TOKEN); // base64 in the payload, never in clear text
  });

  it("a kubelet policy change (another first core) changes drain and uncordon; a new address alone does not", async () => {
    const base = (await deploy(WORKERS.slice(0, 1))).byName;
    const drain0 = base("k3s-worker-slm-heavy-agent-drain").inputs.update;
    const uncordon0 = base("k3s-worker-slm-heavy-agent-uncordon").inputs.update;
    const install0 = base("k3s-worker-slm-heavy-agent-k3s").inputs.update;

    const resized = { ...vm("k3s-worker-slm-heavy"), vcpus: 30, vcpupin: vm("k3s-worker-slm-heavy").vcpupin.slice(0, 30), topology: { sockets: 1 as const, dies: 1 as const, cores: 15, threads: 2 } };
    const policy = (await deploy([{ ...WORKERS[0], placement: resized }])).byName;
    expect(policy("k3s-worker-slm-heavy-agent-drain").inputs.update).not.toBe(drain0);
    expect(policy("k3s-worker-slm-heavy-agent-uncordon").inputs.update).not.toBe(uncordon0);

    const moved = (await deploy([{ ...WORKERS[0], address: "192.168.50.21" }])).byName;
    expect(moved("k3s-worker-slm-heavy-agent-drain").inputs.update).toBe(drain0);
    expect(moved("k3s-worker-slm-heavy-agent-uncordon").inputs.update).toBe(uncordon0);
    expect(moved("k3s-worker-slm-heavy-agent-k3s").inputs.update).not.toBe(install0);
  });
});
