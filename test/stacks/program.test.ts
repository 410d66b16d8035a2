// The whole Pulumi program under the mock runtime, as `pulumi up` would run it for the `single`
// stack: what it registers, what stays secret, and the deploy gate on unlocked placements.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pulumiConfig } from "../../cli/render";
import { OFFLINE_KUBECONFIG, offlineAnswers, outputValue, recordedResources, redactSecrets, settle, startMockRuntime } from "../../cli/mock-runtime";
import * as pulumi from "@pulumi/pulumi";

const root = resolve(__dirname, "../..");
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----";

/** The shipped stack with its placeholders replaced, as a user's would be before an up. */
function ownValues(config: Record<string, string>): void {
  for (const [key, value] of Object.entries(config))
    config[key] = value
      .replace(/192\.0\.2\./g, "10.20.0.")
      .replace(/198\.51\.100\./g, "10.30.0.")
      .replace(/00:00:5e:00:53:01/g, "52:54:00:4d:61:63")
      .replace(/ReplaceThisPlaceholderWithYourOwnPublicKey0000/g, "TheProgramTestsKeyNotUsedAnywhereElse00000")
      .replace(/ata-REPLACE-WITH-YOUR-8TB-HDD/g, "ata-ST8000VN004-2M2101_WSD0TEST")
      .replace(/registry\.example\.org\/replace-me\/temporal-worker:0\.1\.0/g, "registry.lab.internal/finance/temporal-worker:0.1.0")
      .replace(/"0{64}"/g, `"${"5e".repeat(32)}"`);
}

async function runStack(stack: string, edit?: (config: Record<string, string>) => void, keepPlaceholders = false) {
  const { config } = pulumiConfig(root, stack);
  if (!keepPlaceholders) ownValues(config);
  config["numa-k3s:sshPrivateKey"] = PRIVATE_KEY;
  edit?.(config);
  const capture = readFileSync(resolve(root, "hosts/reference-2x-e5-2697v4.capabilities.xml"), "utf8");
  const { HostCheck } = await import("../../components/HostCheck");
  const { K3sControlPlane } = await import("../../components/K3sControlPlane");
  startMockRuntime({
    project: "numa-k3s",
    stack,
    config,
    secretConfigKeys: ["numa-k3s:sshPrivateKey"],
    commandStdout: offlineAnswers({ "numa-01": capture, "numa-02": capture }, { hostCheck: (h) => HostCheck.commandName(`${h}-host-check`), kubeconfig: K3sControlPlane.kubeconfigCommandName("k3s") }),
  });
  const { runProgram } = await import("../../stacks/program");
  const outputs = runProgram(root);
  await settle();
  return { outputs, resources: recordedResources() };
}

const runSingle = (edit?: (config: Record<string, string>) => void) => runStack("single", edit);

describe.each(["mac-numa", "single", "distributed"])("the program, stack %s", (stack) => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });

  it("creates exactly its locked VMs: per VM a component, a seed upload and a domain command, behind one host check and one host preparation", async () => {
    const { outputs, resources } = await runStack(stack);
    const lock = JSON.parse(readFileSync(resolve(root, `hosts/${stack}.lock.json`), "utf8"));
    const vms = lock.vms.map((v: { name: string }) => v.name).sort();
    const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.name).sort();
    expect(of("numa-k3s:libvirt:NumaPinnedVm")).toEqual(vms);
    expect(of("numa-k3s:libvirt:HostCheck")).toEqual(["numa-01-host-check"]);
    expect(of("numa-k3s:host:NumaHost")).toEqual(["numa-01-host"]);
    const vmCommands = of("command:remote:Command").filter((n) => /-(seed|domain)$/.test(n) || n.startsWith("numa-01-"));
    expect(vmCommands).toEqual(["numa-01-drift", "numa-01-host-check-capabilities", "numa-01-host-node-exporter", "numa-01-host-prepare", ...vms.flatMap((v: string) => [`${v}-domain`, `${v}-seed`])].sort());
    expect(outputs.layout).toBe(stack);
    // The host is checked, then prepared, then its VMs are touched: their commands wait for both.
    const at = (name: string) => resources.findIndex((r) => r.name === name);
    for (const vm of vms) {
      expect(at(`${vm}-seed`)).toBeGreaterThan(at("numa-01-host-prepare"));
      expect(at(`${vm}-domain`)).toBeGreaterThan(at("numa-01-host-prepare"));
    }
    expect(at("numa-01-host-prepare")).toBeGreaterThan(at("numa-01-host-check-capabilities"));
  });

  it.each([
    ["vms", (t: string) => !/^(numa-k3s:(k3s|platform|slm):|kubernetes:|random:|pulumi:providers:kubernetes)/.test(t)],
    ["cluster", (t: string) => !/^(numa-k3s:(platform|slm):|kubernetes:)/.test(t)],
  ])("stopAfter: %s builds that stage and every one before it, nothing after", async (stage, allowed) => {
    const { outputs, resources } = await runStack(stack, (config) => (config["numa-k3s:stopAfter"] = stage as string));
    const types = [...new Set(resources.map((r) => r.type))];
    expect(types.filter((t) => !allowed(t))).toEqual([]);
    expect(types).toContain("numa-k3s:libvirt:NumaPinnedVm");
    expect(types.includes("numa-k3s:k3s:K3sAgent")).toBe(stage === "cluster");
    expect(outputs.kubeconfig === undefined).toBe(stage === "vms");
  });

  it("never deletes the data disks: every delete command keeps the hot disk and leaves the lake device alone", async () => {
    const { resources } = await runStack(stack);
    for (const r of resources.filter((x) => x.name.endsWith("-domain"))) {
      const del = r.inputs.delete as string;
      const removeLine = del.split("\n").find((l) => l.startsWith("remove="))!;
      expect(removeLine).toContain("os.qcow2");
      // The hot disk (named by its lake) only as the temporary file an interrupted create leaves.
      expect(removeLine).not.toMatch(/hot-of-\S*\.qcow2(?!\.partial)/);
      expect(removeLine).not.toContain("/dev/");
      if (del.includes("hot-of-")) expect(del).toMatch(/^keep=\(.*hot-of-.*\.qcow2.*\)$/m);
      expect(del).not.toMatch(/\b(mkfs|wipefs|blkdiscard)\b|\bdd /);
    }
  });

  it("points every volume on a k8s node's own disks at a pods' directory, which only a mounted data disk has", async () => {
    const { resources } = await runStack(stack);
    const { POD_DIRS } = await import("../../guest/data-mounts");
    const paths: string[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        for (const key of ["hostPath", "local"]) {
          const path = (o[key] as { path?: unknown } | undefined)?.path;
          if (typeof path === "string" && path.startsWith("/data")) paths.push(path);
        }
        Object.values(o).forEach(visit);
      }
    };
    for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) visit(r.inputs);
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(Object.values(POD_DIRS)).toContain(path);
  });
});

describe.each(["mac-numa", "single", "distributed"])("the cluster of stack %s", (stack) => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });

  it("one K3s server and one NUMA-aware agent per other VM; each agent after its own VM and the server, never after another agent", async () => {
    const { resources } = await runStack(stack);
    const lock = JSON.parse(readFileSync(resolve(root, `hosts/${stack}.lock.json`), "utf8"));
    const vms: string[] = lock.vms.map((v: { name: string }) => v.name).sort();
    const serverVm = stack === "single" ? "k3s-server-tasks" : undefined;
    const of = (type: string) => resources.filter((r) => r.type === type).map((r) => r.name).sort();
    expect(of("numa-k3s:k3s:K3sControlPlane")).toEqual(["k3s"]);
    const agents = vms.filter((v) => v !== serverVm);
    expect(of("numa-k3s:k3s:K3sAgent")).toEqual(agents.map((v) => `${v}-agent`));
    const urn = (name: string) => resources.find((r) => r.name === name)!.urn!;
    const deps = (name: string) => resources.find((r) => r.name === name)!.dependencies ?? [];
    for (const vm of agents) {
      const install = deps(`${vm}-agent-k3s`);
      expect(install).toContain(urn(`${vm}-domain`));
      for (const other of agents.filter((o) => o !== vm)) expect(install).not.toContain(urn(`${other}-agent-k3s`));
      expect(deps(`${vm}-agent-drain`)).toContain(urn("k3s-k3s"));
    }
    if (serverVm) expect(deps("k3s-k3s")).toContain(urn(`${serverVm}-domain`));
    if (stack === "mac-numa") expect(deps("k3s-k3s")).toContain(urn("k3s-lima"));
  });

  it("the token and the kubeconfig are secrets everywhere: no input shows them once secrets are redacted", async () => {
    const { outputs, resources } = await runStack(stack);
    const token = resources.find((r) => r.type === "random:index/randomPassword:RandomPassword");
    expect(token).toBeDefined();
    const clientKey = /client-key-data: (\S+)\}/.exec(OFFLINE_KUBECONFIG)![1];
    for (const r of resources) {
      const shown = JSON.stringify(redactSecrets(r.inputs));
      expect(shown).not.toContain("offline-k3s-token");
      if (r.type !== "pulumi:providers:kubernetes") expect(shown).not.toContain(clientKey);
    }
    expect(await (pulumi.isSecret(outputs.kubeconfig!) as unknown as Promise<boolean>)).toBe(true);
    expect(await outputValue(outputs.kubeconfig!)).toContain("server: https://");
  });
});

describe("the program, stack single, as pulumi up runs it", () => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });

  it("registers one host check and, per VM, a component with a seed upload and a domain command", async () => {
    const { outputs, resources } = await runSingle();
    const names = resources.map((r) => `${r.type} ${r.name}`);
    expect(names.filter((n) => n.startsWith("numa-k3s:libvirt:HostCheck"))).toEqual(["numa-k3s:libvirt:HostCheck numa-01-host-check"]);
    const vms = ["k3s-worker-slm-heavy", "k3s-worker-data", "k3s-worker-slm", "k3s-server-tasks"];
    for (const vm of vms) {
      expect(names).toContain(`numa-k3s:libvirt:NumaPinnedVm ${vm}`);
      expect(names).toContain(`command:remote:Command ${vm}-seed`);
      expect(names).toContain(`command:remote:Command ${vm}-domain`);
    }
    expect(new Set(resources.map((r) => r.name)).size).toBe(resources.length);
    expect(outputs.plan.vms.map((v) => v.name)).toEqual(vms);
    const committed = JSON.parse(readFileSync(resolve(root, "hosts/single.lock.json"), "utf8"));
    expect(outputs.plan.vms).toEqual(expect.arrayContaining(committed.vms));
  });

  it("carries each VM's planned pins to virsh define, and keeps the private key secret", async () => {
    const { outputs, resources } = await runSingle();
    const domain = resources.find((r) => r.name === "k3s-worker-data-domain")!;
    const xml = domain.inputs.stdin as string;
    const data = outputs.plan.vms.find((v) => v.name === "k3s-worker-data")!;
    data.vcpupin.forEach((thread, vcpu) => expect(xml).toContain(`<vcpupin vcpu="${vcpu}" cpuset="${thread}"`));
    expect(xml).toContain(`<memory mode="strict" nodeset="1"`);
    for (const r of resources) {
      // Every place the key appears is inside a secret: redacting the secrets leaves no trace of it.
      expect(JSON.stringify(redactSecrets(r.inputs))).not.toContain("PRIVATE KEY");
    }
  });

  it("refuses to create a VM whose placement is not locked, naming the command that locks it", async () => {
    await expect(
      runSingle((config) => {
        const vms = JSON.parse(config["numa-k3s:vms"]);
        vms[2].cores = 3;
        config["numa-k3s:vms"] = JSON.stringify(vms);
      }),
    ).rejects.toThrow(/Pulumi\.single\.yaml: k3s-worker-slm not in hosts\/single\.lock\.json .*npm run plan -- --stack single --lock hosts\/single\.lock\.json/);
  });

  it("an up refuses the shipped placeholders, naming each key", async () => {
    const error = await runStack("single", undefined, true).catch((e: Error) => e);
    expect((error as Error).constructor.name).toBe("RunError");
    const message = (error as Error).message;
    expect(message).toMatch(/^Pulumi\.single\.yaml: still holds placeholders/);
    expect(message).toContain('numa-k3s:hosts[0].ssh.address = "192.0.2.10": a documentation address');
    expect(message).toMatch(/numa-k3s:vms\[1\]\.disks\.lakeDevice = .*REPLACE.*: a placeholder/);
    expect(message).toMatch(/numa-k3s:admin\.sshAuthorizedKeys\[0\] = .*: the example key/);
  });

  it("a lake the stack lets its guest format is said as a warning naming the VM and the device; without the opt-in nothing is said", async () => {
    const warnings = async (edit?: (config: Record<string, string>) => void) => {
      const p = await import("@pulumi/pulumi");
      const warn = jest.spyOn(p.log, "warn").mockImplementation(async () => undefined);
      await runSingle(edit);
      const lines = warn.mock.calls.map((c) => String(c[0]));
      warn.mockRestore();
      return lines.filter((l) => /lakeFormat/.test(l));
    };
    expect(await warnings()).toEqual([]);
    jest.resetModules();
    const said = await warnings((config) => {
      const vms = JSON.parse(config["numa-k3s:vms"]);
      vms[1].disks.lakeFormat = true;
      config["numa-k3s:vms"] = JSON.stringify(vms);
    });
    expect(said).toEqual([
      "Pulumi.single.yaml: numa-k3s:vms[1].disks.lakeFormat = true: VM k3s-worker-data may format its lake /dev/disk/by-id/ata-ST8000VN004-2M2101_WSD0TEST (ext4) at boot when the disk reads as blank (no signature, every sampled byte zero); remove the key once the lake holds its filesystem",
    ]);
  });

  it("a misspelt slm key stops the program with one line naming the file and the key", async () => {
    const error = await runSingle((config) => {
      const slm = JSON.parse(config["numa-k3s:slm"]);
      config["numa-k3s:slm"] = JSON.stringify({ checksum: slm.checksums });
    }).catch((e: Error) => e);
    // Checked before anything is registered: nothing is half-created.
    expect(recordedResources()).toEqual([]);
    expect((error as Error).constructor.name).toBe("RunError");
    expect((error as Error).message).toBe("Pulumi.single.yaml: numa-k3s:slm.checksum: unknown key; did you mean checksums?");
  });

  it("a capture that cannot be read stops the program with one line naming it", async () => {
    const error = await runSingle((config) => {
      const hosts = JSON.parse(config["numa-k3s:hosts"]);
      hosts[0].capabilities = "hosts/missing.capabilities.xml";
      config["numa-k3s:hosts"] = JSON.stringify(hosts);
    }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor.name).toBe("RunError");
    // The path as the stack file writes it, not as this machine resolves it.
    expect((error as Error).message).toMatch(/^hosts\/missing\.capabilities\.xml: cannot read the capture \(no such file\)/);
  });

  it("root as the admin user, or a private key pasted as a public one, is refused naming the key", async () => {
    await expect(
      runSingle((config) => {
        config["numa-k3s:admin"] = JSON.stringify({ user: "root", sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc a@b"] });
      }),
    ).rejects.toThrow(/^Pulumi\.single\.yaml: numa-k3s:admin\.user = "root": must not be root/);
    await expect(
      runSingle((config) => {
        config["numa-k3s:admin"] = JSON.stringify({ sshAuthorizedKeys: [PRIVATE_KEY] });
      }),
    ).rejects.toThrow(/numa-k3s:admin\.sshAuthorizedKeys\[0\] = "<redacted>": is not an OpenSSH public key line/);
  });

  it("a bad config value stops the program with one line naming the key", async () => {
    await expect(
      runSingle((config) => {
        config["numa-k3s:layout"] = "dual";
      }),
    ).rejects.toThrow(/^Pulumi\.single\.yaml: numa-k3s:layout = "dual": /);
  });
});

describe.each(["mac-numa", "single", "distributed"])("the platform of stack %s", (stack) => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });

  it("the lake, monitoring and Temporal through the cluster's one provider; the lake's volumes bound to the data k8s node and never deleted", async () => {
    const { resources } = await runStack(stack);
    const components = resources.filter((r) => !r.custom).map((r) => r.type);
    for (const t of ["DataLake", "VictoriaStack", "TemporalCluster"]) expect(components.some((c) => c.endsWith(`:${t}`))).toBe(true);
    const providers = resources.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(providers.map((p) => p.name)).toEqual(["k3s-k8s"]);
    const dataNode = stack === "mac-numa" ? "k3s-minio-storage" : stack === "single" ? "k3s-worker-data" : "k3s-data-server";
    const pvs = resources.filter((r) => r.type === "kubernetes:core/v1:PersistentVolume");
    expect(pvs.length).toBeGreaterThan(0);
    for (const pv of pvs) {
      const spec = pv.inputs.spec as { persistentVolumeReclaimPolicy: string; nodeAffinity: { required: { nodeSelectorTerms: { matchExpressions: { values: string[] }[] }[] } } };
      expect(spec.persistentVolumeReclaimPolicy).toBe("Retain");
      expect(spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values).toEqual([dataNode]);
    }
  });
});

describe.each(["mac-numa", "single", "distributed"])("the models of stack %s", (stack) => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });

  it("one Guaranteed llama.cpp server per model of the ensemble, each on its SLM VM, threads = the cores it is granted", async () => {
    const { resources } = await runStack(stack);
    const deployments = resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && String((r.inputs.metadata as { namespace?: string }).namespace) === "slm");
    expect(deployments).toHaveLength(7);
    const lock = JSON.parse(readFileSync(resolve(root, `hosts/${stack}.lock.json`), "utf8")) as { vms: { name: string; topology: { threads: number } }[] };
    for (const d of deployments) {
      const pod = (d.inputs.spec as { template: { spec: { nodeSelector: Record<string, string>; containers: { args: string[]; resources: { requests: Record<string, string>; limits: Record<string, string> } }[]; initContainers?: { resources: { requests: Record<string, string>; limits: Record<string, string> } }[] } } }).template.spec;
      const vm = lock.vms.find((v) => v.name === pod.nodeSelector["kubernetes.io/hostname"]);
      expect(vm).toBeDefined();
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) expect(c.resources.requests).toEqual(c.resources.limits);
      const server = pod.containers[0];
      const cpus = Number(server.resources.limits.cpu);
      expect(cpus % vm!.topology.threads).toBe(0);
      const threads = Number(server.args[server.args.indexOf("--threads") + 1]);
      expect(threads).toBe(cpus / vm!.topology.threads);
    }
  });
});

describe("growth: a second NUMA host in the same cluster (stack single-two-hosts)", () => {
  beforeEach(() => {
    jest.resetModules();
    delete process.env.NUMA_K3S_RENDER;
  });

  it("its VMs join the same K3s server, and nothing that touches numa-01 changes", async () => {
    const one = (await runStack("single")).resources;
    const two = (await runStack("single-two-hosts")).resources;
    const firstHostVms = ["k3s-worker-slm-heavy", "k3s-worker-data", "k3s-worker-slm", "k3s-server-tasks"];
    const suffixes = ["", "-seed", "-domain", "-agent", "-agent-k3s", "-agent-drain", "-agent-uncordon"];
    const onFirstHost = (r: { name: string }) => r.name.startsWith("numa-01-") || r.name === "k3s-k3s" || firstHostVms.some((vm) => suffixes.some((x) => r.name === `${vm}${x}`));
    const inputsOf = (rs: typeof one) => Object.fromEntries(rs.filter((r) => r.custom && onFirstHost(r)).map((r) => [r.name, JSON.stringify(redactSecrets(r.inputs))]));
    const before = inputsOf(one);
    expect(Object.keys(before).length).toBeGreaterThan(10);
    // Grown for real, it is the same stack: the owner the host preparation records is the same.
    const after = Object.fromEntries(Object.entries(inputsOf(two)).map(([n, text]) => [n, text.split("numa-k3s/single-two-hosts").join("numa-k3s/single")]));
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const name of Object.keys(before)) expect([name, after[name] === before[name]]).toEqual([name, true]);
    const agents = two.filter((r) => r.type === "numa-k3s:k3s:K3sAgent").map((r) => r.name).sort();
    expect(agents).toEqual(["k3s-worker-data-agent", "k3s-worker-slm-2a-agent", "k3s-worker-slm-2b-agent", "k3s-worker-slm-agent", "k3s-worker-slm-heavy-agent"]);
    expect(two.filter((r) => r.type === "numa-k3s:k3s:K3sControlPlane")).toHaveLength(1);
    expect(two.filter((r) => r.type === "numa-k3s:host:NumaHost").map((r) => r.name).sort()).toEqual(["numa-01-host", "numa-02-host"]);
  });
});
