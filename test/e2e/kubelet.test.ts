// Issue 20, tests 2-4: the kubelet of a booted guest takes the configuration the product derives
// for that guest's placement and gives Guaranteed pods whole cores; a kubelet policy change on the
// live node runs the product's drain, state removal and restart for real.
//
// The guest: a VM of 2 cores x 2 threads planned by the product's planner on a small SMT host (a
// synthetic capture: this machine has 2 threads and no SMT), rendered by the product's domain XML,
// seed and create script, booted under TCG in a private libvirtd in the network namespace
// numa-k3s-kubelet (bridge 10.78.0.1/24: never the e2e test's). This machine cannot hold the
// plan's host threads, so each pin is folded onto its threads (thread t -> live[t mod n]); the
// guest's topology, which is all the kubelet sees, is the plan's. The guest image is the e2e base
// image plus a K3s agent's files (.ci/kubelet-image.sh): the pinned kubelet, containerd, runc and
// CNI plugins at K3s's paths, a stand-in for the k3s binary (.ci/kubelet-guest/k3s says what it does
// and where it differs from K3s), and two local images in an OCI archive (no registry).
//
// The control plane (test/k8s/control-plane.ts) runs in the namespace at 10.78.0.1:6443: kine,
// kube-apiserver (Node,RBAC, NodeRestriction), kube-controller-manager and kube-scheduler. Pods are
// scheduled by the real scheduler (they tolerate the node's workload taint like the platform's
// pods), so a drained node's pods wait Pending and come back where the scheduler puts them, as in
// a cluster; the CPU manager under test is the kubelet's alone either way.
//
// Opt-in outside CI (NUMA_K3S_E2E=1); with CI=true it always runs. Runs as root.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentFiles } from "../../components/K3sAgent";
import { renderAgentConfig, serverUrl } from "../../k3s/config-files";
import { KUBELET_CONFIG_COPY, KUBELET_STATE_FILES, KubeletConfiguration, kubeletConfiguration, kubeletPolicyDigest, renderKubeletConfig, reservedMemoryMiB } from "../../k3s/kubelet-config";
import { LABEL_WORKLOAD } from "../../k3s/layouts";
import { workerMarks } from "../../k3s/node-roles";
import { POLICY_FILE, drainScript, installPayload, installScript, uncordonScript } from "../../k3s/scripts";
import { K3S_VERSION, installScriptOf } from "../../k3s/version";
import { bashCommand } from "../../common/remote-script";
import { StackConfigSchema, placementRequestOf, stackConfigEntries } from "../../stacks/config";
import { parseCapabilities } from "../../topology/capabilities";
import { formatCpuset, parseCpuset } from "../../topology/cpuset";
import type { HostTopology } from "../../topology/host-topology";
import type { VmPlacement } from "../../topology/placement";
import { planPlacement } from "../../topology/planner";
import { capabilitiesXml, regularHost } from "../fixtures/hosts";
import { CONTROL_PLANE_TOOLS, ControlPlane, startControlPlane } from "../k8s/control-plane";
import { requireRealTools, toolPath } from "../real-tools";
import { requireTools } from "../tools";
import { GUEST_TOOLS, GuestConsole, GuestShell, NetnsLibvirtd, ProductVm, REPO, createVm, must, netnsLibvirtd, productVm, run, sleepSync, stopNetnsLibvirtd } from "./netns-guest";

const NETNS = "numa-k3s-kubelet";
const GATEWAY = "10.78.0.1";
const GUEST_ADDRESS = "10.78.0.10";
const ADMIN = "ops";
/** What .ci/kubelet-image.sh puts into the guest, from `npm run tools`. */
const GUEST_BINARIES = ["kubelet", "kubectl", "containerd", "containerd-shim-runc-v2", "ctr", "runc", "bridge", "host-local", "loopback", "portmap"];
// Named in .ci/kubelet-image.sh (the OCI archive) and .ci/kubelet-guest/containerd-config.toml.
const PAUSE_IMAGE = "localhost/numa-k3s/pause:test";
const CPUS_IMAGE = "localhost/numa-k3s/cpus:test";
const IMAGES_ARCHIVE = "/var/lib/rancher/k3s/agent/images/numa-k3s-test-images.tar";
const CTR = "/var/lib/rancher/k3s/data/current/bin/ctr --address /run/k3s/containerd/containerd.sock";
const AGENT_DIR = "/var/lib/rancher/k3s/agent";
const STANDIN_VERSION_FILE = "/etc/rancher/k3s/.numa-k3s-test-standin-version";
const NAMESPACE = "kubelet-test";
// Guards only (the tests wait for states): TCG on 2 shared cores is slow, and slower under load.
const GUARD_MS = 15 * 60_000;

/** The host the VM is planned on: 1 socket, 3 cores x 2 threads (siblings n, n+3), 8 GiB. */
const KUBELET_HOST = regularHost({ name: "kubelet-host", sockets: 1, nodesPerSocket: 1, coresPerNode: 3, threadsPerCore: 2, memoryGiBPerNode: 8 });

const ci = process.env.CI === "true";
const optedIn = ci || process.env.NUMA_K3S_E2E === "1";
if (!optedIn) console.log("test/e2e/kubelet.test.ts skipped: a real guest with a kubelet takes many minutes; set NUMA_K3S_E2E=1 to run it (CI=true always does)");
const ready =
  optedIn &&
  requireTools("test/e2e/kubelet.test.ts", [...GUEST_TOOLS, ["openssl", "openssl"], ["go", "Go (as for npm run tools)"]]) &&
  requireRealTools("test/e2e/kubelet.test.ts", [...new Set([...GUEST_BINARIES, ...CONTROL_PLANE_TOOLS])]);

/**
 * The rendered domain with every pin moved onto a thread of this machine (thread t -> live[t mod n]):
 * the renderer rightly refuses a placement that shares threads, so the fold is made on its output.
 */
function onThisMachine(xml: string, live: HostTopology): string {
  const threads = live.nodes.flatMap((n) => n.threads.filter((t) => t.online).map((t) => t.id));
  return xml.replace(/<(vcpupin|emulatorpin|iothreadpin)\b([^>]*)\bcpuset=(["'])([^"']+)\3/g, (_, element: string, attrs: string, q: string, cpuset: string) =>
    `<${element}${attrs}cpuset=${q}${formatCpuset([...new Set(parseCpuset(cpuset).map((t) => threads[t % threads.length]))])}${q}`,
  );
}

/** The guest vCPUs of each core, as the placement's vCPU order promises (k*T .. k*T+T-1). */
function coresOf(p: VmPlacement): number[][] {
  const t = p.topology.threads;
  return Array.from({ length: p.vcpus / t }, (_, k) => Array.from({ length: t }, (_, i) => k * t + i));
}

interface PodSpec {
  name: string;
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}
/** A pod of the test image that lands on the node the way the platform's pods do (its workload
 * label, tolerating its taint), never pulling (there is no registry). */
function podTemplate(spec: PodSpec) {
  return {
    metadata: { labels: { app: spec.name } },
    spec: {
      nodeSelector: { [LABEL_WORKLOAD]: "tasks" },
      tolerations: [{ key: "workload", operator: "Equal", value: "tasks", effect: "NoSchedule" }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 5,
      containers: [{ name: "main", image: CPUS_IMAGE, imagePullPolicy: "Never", resources: { requests: spec.requests ?? {}, limits: spec.limits ?? {} } }],
    },
  };
}

(ready ? describe : describe.skip)("the kubelet in a booted guest takes the product's configuration and gives whole cores (TCG, private netns)", () => {
  const suffix = randomBytes(3).toString("hex");
  const name = `k3s-kubelet-${suffix}`;
  const token = randomBytes(24).toString("hex");
  let work = "";
  let libvirtd: NetnsLibvirtd | undefined;
  let cp: ControlPlane | undefined;
  let placement: VmPlacement;
  let vm: ProductVm;
  let guestConsole: GuestConsole | undefined;
  let guest: GuestShell;
  let serverBin = "";
  let booted = false;
  let registered = false;
  const timings: Record<string, number> = {};
  const needGuest = () => {
    if (!booted) throw new Error("the guest never booted (see beforeAll); nothing to check inside it");
  };
  const needNode = () => {
    needGuest();
    if (!registered) throw new Error("the kubelet never registered (see the first test)");
  };
  const timed = <T>(what: string, f: () => T): T => {
    const t = Date.now();
    const r = f();
    timings[what] = Math.round((Date.now() - t) / 1000);
    return r;
  };

  const kubectl = (args: string[], input?: string) => {
    const r = cp!.kubectl(args, { input });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const getJson = (args: string[]) => JSON.parse(kubectl([...args, "-o", "json"]));
  const apply = (object: unknown) => kubectl(["apply", "--server-side", "-f", "-"], JSON.stringify(object));

  /** Polls `probe` until it returns a value; the deadline is a guard against a hang, not a timing. */
  function waitFor<T>(what: string, probe: () => T | undefined, guardMs = GUARD_MS): T {
    const t = Date.now();
    for (;;) {
      const value = probe();
      if (value !== undefined) {
        timings[what] = Math.round((Date.now() - t) / 1000);
        return value;
      }
      if (Date.now() - t > guardMs) {
        const journal = guest.ssh("sudo journalctl -u k3s-agent -u containerd --no-pager -n 40").stdout;
        throw new Error(`${what}: not reached within the ${guardMs / 60_000} min guard\n--- k3s-agent and containerd (tail) ---\n${journal}\n--- control plane ---\n${cp?.logs(10)}`);
      }
      sleepSync(3000);
    }
  }
  const readyCondition = (node: { status?: { conditions?: Array<{ type: string; status: string; lastHeartbeatTime: string }> } }) =>
    (node.status?.conditions ?? []).find((c) => c.type === "Ready");
  /** The node, once Ready; with `staleHeartbeat`, once Ready as posted by a later kubelet than the
   * one that posted that heartbeat (a restarted kubelet posts its status at once; until then the
   * API still shows the old kubelet's Ready, even while the new one is failing). */
  const nodeReady = (staleHeartbeat?: string) => () => {
    const r = cp!.kubectl(["get", "node", name, "-o", "json"]);
    if (r.status !== 0) return undefined;
    const node = JSON.parse(r.stdout);
    const cond = readyCondition(node);
    return cond?.status === "True" && cond.lastHeartbeatTime !== staleHeartbeat ? node : undefined;
  };
  const heartbeat = (): string => readyCondition(getJson(["get", "node", name]))!.lastHeartbeatTime;
  const cpuManagerState = () => JSON.parse(guest.inGuest(`sudo cat ${KUBELET_STATE_FILES[0]}`));
  const journalSince = (cursor: string) => guest.ssh(`sudo journalctl -u k3s-agent --no-pager --after-cursor='${cursor}'`).stdout;
  const journalCursor = () => guest.inGuest("sudo journalctl -u k3s-agent -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'");

  /** The threads a pod's container may run on: its cgroup's cpuset.cpus.effective in the guest. */
  function containerCpus(pod: string): number[] {
    const p = getJson(["get", "pod", "-n", NAMESPACE, pod]);
    const id = String(p.status.containerStatuses[0].containerID).replace(/^containerd:\/\//, "");
    const cgroup = guest.inGuest(`find /sys/fs/cgroup/kubepods.slice -type d -name 'cri-containerd-${id}.scope'`);
    if (cgroup === "") throw new Error(`no cgroup for container ${id} of pod ${pod}`);
    return parseCpuset(guest.inGuest(`cat ${cgroup}/cpuset.cpus.effective`));
  }
  /** What the container printed at start: the threads the process itself may run on. */
  function allowedCpusSeenInside(pod: string): number[] {
    const line = kubectl(["logs", "-n", NAMESPACE, pod]).trim();
    const m = /^Cpus_allowed_list:\s*(\S+)$/.exec(line);
    if (!m) throw new Error(`pod ${pod} printed '${line}'`);
    return parseCpuset(m[1]);
  }
  const podPhase = (pod: string) => {
    const r = cp!.kubectl(["get", "pod", "-n", NAMESPACE, pod, "-o", "json"]);
    return r.status === 0 ? JSON.parse(r.stdout).status : undefined;
  };
  const runningPod = (pod: string) => waitFor(`${pod} running`, () => (podPhase(pod)?.containerStatuses?.[0]?.state?.running ? pod : undefined));
  /** The one Running pod of the deployment `app`. */
  const runningPodOf = (app: string) =>
    waitFor(`${app} running`, () => {
      const pods = getJson(["get", "pods", "-n", NAMESPACE, "-l", `app=${app}`]).items as Array<{ metadata: { name: string; deletionTimestamp?: string }; status: { containerStatuses?: Array<{ state: { running?: unknown } }> } }>;
      const live = pods.filter((p) => !p.metadata.deletionTimestamp && p.status.containerStatuses?.[0]?.state?.running);
      return live.length === 1 && pods.length === 1 ? live[0].metadata.name : undefined;
    });

  /** The agent's files as K3sAgent renders them; `kubeletFile: false` is a node that passes none. */
  function agentInputs(kubeletFile: boolean) {
    const args = { placement, address: GUEST_ADDRESS, workload: "tasks", layout: "single" as const };
    const { files, policyDigest } = agentFiles(args, serverUrl(GATEWAY));
    if (kubeletFile) return { files, policyDigest };
    const config = renderAgentConfig({
      nodeName: placement.name,
      serverUrl: serverUrl(GATEWAY),
      address: GUEST_ADDRESS,
      flannelIface: "eth0",
      marks: workerMarks("single", { host: placement.host, node: placement.node, workload: "tasks" }),
      kubeletConfig: false,
    });
    return { files: { "config.yaml": config }, policyDigest: "" };
  }
  /** K3sAgent's `<name>-k3s` command: the install script as the admin user, files and token on stdin. */
  function runAgentInstall(kubeletFile: boolean): string {
    const { files, policyDigest } = agentInputs(kubeletFile);
    const script = bashCommand(installScript({ role: "agent", version: K3S_VERSION, nodeName: name, policyDigest, readyTimeoutSeconds: 900, installer: installScriptOf("test", K3S_VERSION) }));
    const r = guest.ssh(script, { input: installPayload(name, files, token), timeoutMs: 1_200_000 });
    if (r.status !== 0) throw new Error(`the agent's install script exited ${r.status}:\n${r.stderr}\n--- k3s-agent ---\n${guest.ssh("sudo journalctl -u k3s-agent --no-pager -n 30").stdout}`);
    return r.stderr;
  }
  /** K3sAgent's `<name>-drain` / `<name>-uncordon` commands: on the K3s server, which here is the
   * control plane in the namespace; `k3s kubectl` there is a stand-in (serverBin/k3s) for the
   * real kubectl with the admin kubeconfig, as K3s's own `k3s kubectl` uses the server's. */
  function runOnServer(script: string): string {
    const r = run("nsenter", [`--net=/run/netns/${NETNS}`, "--", "env", `PATH=${serverBin}:${process.env.PATH}`, "sh", "-c", bashCommand(script)], { timeoutMs: 1_200_000 });
    if (r.status !== 0) throw new Error(`server script exited ${r.status}:\n${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  }

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("the kubelet test needs root (loop devices, network namespaces)");
    // 1. The guest image (built once per version of its parts) and the private libvirtd.
    const image = timed("image", () =>
      must("bash", [join(REPO, ".ci/kubelet-image.sh"), ...GUEST_BINARIES.map((b) => `${b}=${toolPath(b)}`)], { timeoutMs: 2_400_000 }).trim(),
    );
    libvirtd = netnsLibvirtd(NETNS, `${GATEWAY}/24`);
    work = mkdtempSync("/var/tmp/numa-k3s-kubelet-");
    chmodSync(work, 0o755);
    const keyFile = join(work, "id_ed25519");
    must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kubelet-${suffix}`, "-f", keyFile]);

    // 2. The control plane in the namespace, at the address the agent's config.yaml names.
    cp = await startControlPlane({ name: `kubelet-${suffix}`, netns: NETNS, address: GATEWAY, port: 6443, controllers: true, scheduler: true, readyDeadlineMs: GUARD_MS });
    serverBin = join(work, "server-bin");
    mkdirSync(serverBin);
    writeFileSync(join(serverBin, "k3s"), `#!/bin/sh\n# K3s's 'k3s kubectl' on the server: the real kubectl as the cluster admin.\n[ "$1" = kubectl ] || { echo "k3s (test stand-in on the server): only kubectl" >&2; exit 1; }\nshift\nexec ${toolPath("kubectl")} --kubeconfig=${cp.kubeconfig} "$@"\n`, { mode: 0o755 });

    // 3. The plan: the stack's VM on the small SMT host, by the product's planner. The stack is
    //    read as a layout whose K3s server is outside its VMs (here the harness), as the schema
    //    asks; the agent's files are still a single-layout agent's (agentInputs), tainted.
    const file = join(REPO, "Pulumi.single.yaml");
    const known = new Set(Object.keys(StackConfigSchema.shape));
    const raw = Object.fromEntries(Object.entries(stackConfigEntries(readFileSync(file, "utf8"), file)).filter(([key]) => known.has(key)));
    const cfg = StackConfigSchema.parse({
      ...raw,
      layout: "distributed",
      placementLock: "(none: the test plans live)",
      hosts: [
        {
          name: KUBELET_HOST.name,
          capabilities: "(synthetic)",
          reserve: { coresPerNode: 1, memoryGiBPerNode: 1 },
          ssh: { address: "127.0.0.1" },
          libvirt: { uri: libvirtd.uri, poolDir: join(work, "pool"), baseImage: image, bridge: "br0", domainType: "qemu" },
        },
      ],
      vms: [{ name, node: 0, cores: 2, memoryGiB: 2, workload: "tasks", k3sRole: "agent", address: GUEST_ADDRESS, disks: { osGiB: 10 } }],
      network: { prefixLength: 24, gateway: GATEWAY, nameservers: [GATEWAY] },
      admin: { user: ADMIN, sshAuthorizedKeys: [readFileSync(`${keyFile}.pub`, "utf8").trim()] },
      packages: [],
      waitForGuest: true,
      k3s: { ...((raw.k3s as object) ?? {}), server: { address: GATEWAY } },
    });
    const planned = parseCapabilities(capabilitiesXml(KUBELET_HOST), "synthetic:kubelet-host");
    const outcome = planPlacement({ request: placementRequestOf(cfg), topologies: new Map([[KUBELET_HOST.name, planned]]) });
    if (outcome.kind !== "placed") throw new Error(`the test VM does not fit its host: ${outcome.problems.map((p) => p.message).join("; ")}`);
    placement = outcome.plan.vms[0];
    const live = parseCapabilities(must("virsh", ["-q", "-c", libvirtd.uri, "capabilities"]), `virsh -c ${libvirtd.uri} capabilities`);
    const rendered = productVm(cfg, planned, placement);
    vm = { ...rendered, xml: onThisMachine(rendered.xml, live) };
    expect(vm.xml).not.toBe(rendered.xml);

    // 4. Boot it with the product's create script.
    guestConsole = new GuestConsole(libvirtd.uri, name, join(work, "console.log"));
    guest = new GuestShell(NETNS, ADMIN, GUEST_ADDRESS, keyFile, guestConsole);
    const t = Date.now();
    await createVm(vm, guestConsole);
    guest.waitForBoot("boot");
    timings.boot = Math.round((Date.now() - t) / 1000);
    expect(guest.cloudInitDone()).toMatch(/status: done/);
    booted = true;
  }, 3 * GUARD_MS);

  afterAll(async () => {
    guestConsole?.stop();
    if (libvirtd && run("virsh", ["-c", libvirtd.uri, "dominfo", name]).status === 0) {
      run("virsh", ["-c", libvirtd.uri, "destroy", name]);
      run("virsh", ["-c", libvirtd.uri, "undefine", "--nvram", name]);
    }
    await cp?.stop();
    if (libvirtd) stopNetnsLibvirtd(libvirtd);
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`kubelet test timings (s): ${JSON.stringify(timings)}`);
  }, GUARD_MS);

  test("the planned guest has the plan's topology: 2 cores x 2 sibling threads", () => {
    needGuest();
    expect(placement.topology).toMatchObject({ cores: 2, threads: 2 });
    expect(Number(guest.inGuest("nproc"))).toBe(placement.vcpus);
    for (const core of coresOf(placement))
      for (const vcpu of core) expect(guest.inGuest(`cat /sys/devices/system/cpu/cpu${vcpu}/topology/thread_siblings_list`)).toBe(formatCpuset(core));
  });

  test("2: containerd and the kubelet start with the KubeletConfiguration k3s/kubelet-config.ts derives for this placement; the node registers and is Ready", () => {
    needGuest();
    // The credentials K3s's agent would fetch from the server, minted by the control plane.
    const node = cp!.nodeCredentials(name, [GUEST_ADDRESS]);
    const files: Array<[string, string]> = [
      ["client-kubelet.crt", node.cert],
      ["client-kubelet.key", node.key],
      ["serving-kubelet.crt", node.servingCert],
      ["serving-kubelet.key", node.servingKey],
      ["server-ca.crt", cp!.serverCa],
      ["client-ca.crt", cp!.clientCa],
    ];
    guest.inGuest(`sudo bash -c 'set -e; umask 077; mkdir -p ${AGENT_DIR} /etc/rancher/k3s; while read -r f data; do base64 -d >"${AGENT_DIR}/$f" <<<"$data"; done'`, {
      input: files.map(([f, path]) => `${f} ${readFileSync(path).toString("base64")}\n`).join(""),
    });
    guest.inGuest(`echo ${K3S_VERSION} | sudo tee ${STANDIN_VERSION_FILE} >/dev/null`);
    // The stand-in speaks for the pinned release only if the kubelet is that release's Kubernetes.
    expect(guest.inGuest("sudo k3s --version")).toBe(`k3s version ${K3S_VERSION} (numa-k3s test stand-in: kubelet ${K3S_VERSION.split("+")[0]})`);

    // The images, from the OCI archive, into the namespace the CRI plugin reads.
    guest.inGuest(`sudo ${CTR} -n k8s.io images import ${IMAGES_ARCHIVE}`, { timeoutMs: 600_000 });
    expect(guest.inGuest(`sudo ${CTR} -n k8s.io images ls -q`).split("\n")).toEqual(expect.arrayContaining([PAUSE_IMAGE, CPUS_IMAGE]));

    const stderr = timed("install", () => runAgentInstall(true));
    expect(stderr).toMatch(/restarting k3s-agent/);
    expect(stderr).toMatch(/: ready$/m);
    const ready = waitFor("nodeReady", nodeReady());
    registered = true;

    // Registered as the product marks an agent of the single layout.
    const marks = workerMarks("single", { host: placement.host, node: placement.node, workload: "tasks" });
    for (const label of marks.labels) {
      const [key, value] = label.split("=");
      expect([key, ready.metadata.labels[key]]).toEqual([key, value]);
    }
    expect(ready.spec.taints).toEqual(expect.arrayContaining([{ key: "workload", value: "tasks", effect: "NoSchedule" }]));

    // Every field the product sets is what the running kubelet uses (its /configz, through the API
    // server), merged over K3s's defaults the way K3s merges it.
    const product: KubeletConfiguration = kubeletConfiguration(placement, "agent");
    expect(guest.inGuest(`sudo cat ${KUBELET_CONFIG_COPY}`)).toBe(guest.inGuest("sudo cat /etc/rancher/k3s/kubelet.yaml"));
    const live = JSON.parse(kubectl(["get", "--raw", `/api/v1/nodes/${name}/proxy/configz`])).kubeletconfig;
    const reservedCores = parseCpuset(String(product.reservedSystemCPUs));
    // With reservedSystemCPUs the kubelet writes their count into systemReserved's cpu itself
    // (cmd/kubelet/app/server.go at v1.36.3: "it will overwrite the cpu setting").
    const expected = { ...product, systemReserved: { ...(product.systemReserved as object), cpu: String(reservedCores.length) } };
    for (const [key, value] of Object.entries(expected)) if (key !== "apiVersion" && key !== "kind") expect([key, live[key]]).toEqual([key, value]);
    expect(live.cgroupDriver).toBe("systemd");

    // What the node offers: the vCPUs less the reserved core; memory less the product's reserve.
    expect(reservedCores).toEqual(coresOf(placement)[0]);
    expect(ready.status.capacity.cpu).toBe(String(placement.vcpus));
    expect(ready.status.allocatable.cpu).toBe(String(placement.vcpus - reservedCores.length));
    const r = reservedMemoryMiB(Math.floor(placement.memoryKiB / 1024), "agent");
    const ki = (q: string) => Number(/^(\d+)Ki$/.exec(q)![1]);
    expect(ki(ready.status.capacity.memory) - ki(ready.status.allocatable.memory)).toBe((r.system + r.kube + r.eviction) * 1024);

    const state = cpuManagerState();
    expect(state.policyName).toBe("static");
    expect(parseCpuset(state.defaultCpuSet)).toEqual(coresOf(placement).flat());
  }, GUARD_MS);

  test("3: a Guaranteed pod of one core gets an exclusive sibling pair outside the reserved core; a Burstable pod runs on the rest; one thread of a core is refused (SMTAlignmentError)", () => {
    needNode();
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    const pod = (spec: PodSpec) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: spec.name, namespace: NAMESPACE, ...podTemplate(spec).metadata }, spec: { ...podTemplate(spec).spec, restartPolicy: "Never" } });
    const reserved = coresOf(placement)[0];

    // One thread of a core: full-pcpus-only refuses it at admission (asked first, while the CPUs
    // are free, so that nothing else could refuse it).
    apply(pod({ name: "one-thread", requests: { cpu: "1", memory: "32Mi" }, limits: { cpu: "1", memory: "32Mi" } }));
    const refused = waitFor("one-thread refused", () => {
      const s = podPhase("one-thread");
      return s?.phase === "Failed" ? s : undefined;
    });
    expect(refused.reason).toBe("SMTAlignmentError");
    expect(refused.message).toMatch(/SMT Alignment Error: requested 1 cpus not multiple cpus per core = 2/);

    apply(pod({ name: "whole-core", requests: { cpu: "2", memory: "32Mi" }, limits: { cpu: "2", memory: "32Mi" } }));
    runningPod("whole-core");
    expect(podPhase("whole-core").qosClass).toBe("Guaranteed");
    const exclusive = containerCpus("whole-core");
    const siblings = parseCpuset(guest.inGuest(`cat /sys/devices/system/cpu/cpu${exclusive[0]}/topology/thread_siblings_list`));
    expect(exclusive).toEqual(siblings);
    expect(exclusive).toHaveLength(placement.topology.threads);
    expect(exclusive.filter((c) => reserved.includes(c))).toEqual([]);
    expect(allowedCpusSeenInside("whole-core")).toEqual(exclusive);

    apply(pod({ name: "burstable", requests: { memory: "32Mi" } }));
    runningPod("burstable");
    expect(podPhase("burstable").qosClass).toBe("Burstable");
    const shared = containerCpus("burstable");
    const all = coresOf(placement).flat();
    expect(shared).toEqual(all.filter((c) => !exclusive.includes(c)));
    expect(allowedCpusSeenInside("burstable")).toEqual(shared);

    // The kubelet's own record agrees: the pair is the Guaranteed container's, the rest the pool.
    const state = cpuManagerState();
    const uid = getJson(["get", "pod", "-n", NAMESPACE, "whole-core"]).metadata.uid;
    expect(parseCpuset(state.entries[uid].main)).toEqual(exclusive);
    expect(parseCpuset(state.defaultCpuSet)).toEqual(shared);

    // Plain pods have no controller, which a drain refuses to evict: gone before test 4.
    kubectl(["delete", "pod", "-n", NAMESPACE, "one-thread", "whole-core", "burstable", "--wait=true", "--timeout=600s"]);
  }, GUARD_MS);

  /**
   * One kubelet policy change as K3sAgent carries it out: `-drain` on the server (the node's pods
   * evicted; their replacements wait Pending on the cordoned node), `-k3s` on the node (the new
   * files, the service stopped, the CPU and memory manager state removed, restarted, healthz
   * awaited), `-uncordon` on the server; then the node is Ready with the new policy and the
   * deployment's pod back on it.
   */
  function changePolicy(kubeletFile: boolean): { install: string; drain: string } {
    const drain = timed(kubeletFile ? "drainToStatic" : "drainToNone", () => runOnServer(drainScript(name)));
    expect(getJson(["get", "node", name]).spec.unschedulable).toBe(true);
    const stale = heartbeat();
    const install = timed(kubeletFile ? "installStatic" : "installNone", () => runAgentInstall(kubeletFile));
    runOnServer(uncordonScript(name, 900));
    waitFor(kubeletFile ? "readyStatic" : "readyNone", nodeReady(stale));
    return { install, drain };
  }

  test("4: a kubelet policy change on the live node: drained, state removed, restarted, Ready with the new policy, its pods back (static -> K3s's default none -> static)", () => {
    needNode();
    apply({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "llm", namespace: NAMESPACE },
      spec: { replicas: 1, selector: { matchLabels: { app: "llm" } }, template: podTemplate({ name: "llm", requests: { cpu: "2", memory: "32Mi" }, limits: { cpu: "2", memory: "32Mi" } }) },
    });
    const before = runningPodOf("llm");
    const reserved = coresOf(placement)[0];
    const pinned = containerCpus(before);
    expect(pinned.filter((c) => reserved.includes(c))).toEqual([]);
    const staticDigest = kubeletPolicyDigest(kubeletConfiguration(placement, "agent"), placement.vcpus);
    expect(guest.inGuest(`sudo cat ${POLICY_FILE}`)).toBe(staticDigest);

    // 1. The node stops passing the product's kubelet file: K3s's default policy (none) comes back.
    let cursor = journalCursor();
    const toNone = changePolicy(false);
    expect(toNone.drain).toMatch(new RegExp(`evicting pod ${NAMESPACE}/${before}`));
    expect(toNone.install).toMatch(/kubelet policy changed .* removing the manager state/);
    // The kubelet stopped once and started once, and never refused its state.
    expect(journalSince(cursor)).not.toMatch(/could not restore state from checkpoint/);
    expect(guest.ssh(`sudo test -e ${KUBELET_CONFIG_COPY}`).status).toBe(1);
    expect(cpuManagerState().policyName).toBe("none");
    const underNone = runningPodOf("llm");
    expect(underNone).not.toBe(before);
    // No exclusive CPUs under none: the Guaranteed pod runs on every vCPU, the reserved core's too.
    expect(containerCpus(underNone)).toEqual(coresOf(placement).flat());

    // Without the removal, the kubelet refuses a new policy: the product's file copied in by hand
    // and a plain restart, the none-policy state kept.
    cursor = journalCursor();
    guest.inGuest(`sudo install -m 0600 /dev/stdin ${KUBELET_CONFIG_COPY} && sudo systemctl restart k3s-agent`, { input: renderKubeletConfig(kubeletConfiguration(placement, "agent")) });
    // The kubelet's structured log quotes the error's own quotes (\"static\").
    waitFor("refused", () => (/could not restore state from checkpoint: configured policy \\"static\\" differs from state checkpoint policy \\"none\\"/.test(journalSince(cursor)) ? true : undefined));
    const stale = heartbeat();
    guest.inGuest(`sudo rm -f ${KUBELET_CONFIG_COPY} && sudo systemctl restart k3s-agent`);
    waitFor("backToNone", nodeReady(stale));

    // 2. The product's kubelet file again: static, and the pod gets whole cores again.
    cursor = journalCursor();
    const toStatic = changePolicy(true);
    expect(toStatic.install).toMatch(/kubelet policy changed \(none -> [0-9a-f]{16}\)/);
    expect(journalSince(cursor)).not.toMatch(/could not restore state from checkpoint/);
    const state = cpuManagerState();
    expect(state.policyName).toBe("static");
    expect(guest.inGuest(`sudo cat ${POLICY_FILE}`)).toBe(staticDigest);
    const after = runningPodOf("llm");
    expect(after).not.toBe(underNone);
    const again = containerCpus(after);
    expect(again).toEqual(parseCpuset(guest.inGuest(`cat /sys/devices/system/cpu/cpu${again[0]}/topology/thread_siblings_list`)));
    expect(again.filter((c) => reserved.includes(c))).toEqual([]);
    expect(parseCpuset(state.entries[getJson(["get", "pod", "-n", NAMESPACE, after]).metadata.uid].main)).toEqual(again);
  }, 4 * GUARD_MS);
});
