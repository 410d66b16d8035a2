// The control-plane harness (test/k8s/control-plane.ts) itself: what the kubelet tests rely on.
// - a kubelet's credentials are a k8s node's and nothing more: it registers its own Node, and the
//   Node authorizer and NodeRestriction refuse it another's;
// - stop() ends every process it started and removes its directory;
// - inside a network namespace it answers there, and not in this machine's own namespace;
// - it listens only where it may: no real network address without a namespace of ours.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { requireRealTools } from "../real-tools";
import { requireTools } from "../tools";
import { CONTROL_PLANE_TOOLS, ControlPlane, startControlPlane } from "./control-plane";

const ready = requireRealTools("test/k8s/control-plane.test.ts", CONTROL_PLANE_TOOLS) && requireTools("test/k8s/control-plane.test.ts", [["openssl", "openssl"], ["ip", "iproute2"], ["ss", "iproute2"], ["nsenter", "util-linux"]]);
// Starting an API server on 2 shared cores: seconds when quiet, minutes under load. Only a guard.
const GUARD_MS = 10 * 60_000;

const nodeObject = (name: string) => JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } } });

(ready ? describe : describe.skip)("the control-plane harness", () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ name: "harness" });
  }, GUARD_MS);
  afterAll(async () => cp?.stop(), GUARD_MS);

  test("a kubelet's credentials register its own Node and no other", () => {
    const node = cp.nodeCredentials("worker-a", ["10.77.0.10"]);
    const who = cp.kubectl(["auth", "whoami", "-o", "json"], { kubeconfig: node.kubeconfig });
    expect(who.status).toBe(0);
    const user = JSON.parse(who.stdout).status.userInfo;
    expect(user.username).toBe("system:node:worker-a");
    expect(user.groups).toContain("system:nodes");

    const own = cp.kubectl(["create", "-f", "-"], { kubeconfig: node.kubeconfig, input: nodeObject("worker-a") });
    expect(own.stderr).toBe("");
    expect(own.status).toBe(0);
    const other = cp.kubectl(["create", "-f", "-"], { kubeconfig: node.kubeconfig, input: nodeObject("worker-b") });
    expect(other.status).not.toBe(0);
    expect(other.stderr).toMatch(/forbidden/i);
    // Not even reading what is not its own.
    expect(cp.kubectl(["get", "secrets", "-A"], { kubeconfig: node.kubeconfig }).stderr).toMatch(/forbidden/i);
    // The admin sees the one node.
    expect(cp.kubectl(["get", "nodes", "-o", "name"]).stdout.trim()).toBe("node/worker-a");
  });

  test("stop() ends every process it started and removes its directory", async () => {
    const own = await startControlPlane({ name: "harness-stop", controllers: true, scheduler: true });
    const pids = own.pids();
    expect(pids).toHaveLength(4); // kine, kube-apiserver, kube-controller-manager, kube-scheduler
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(true);
    await own.stop();
    // Reaped, not left as zombies: node waits for its children.
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(own.dir)).toBe(false);
  }, GUARD_MS);

  test("inside a network namespace: reached there, not from this machine's own namespace", async () => {
    // A namespace of this test's own, with a bridge address as the e2e test's numa-k3s-e2e has.
    const netns = `numa-k3s-cp-test-${process.pid}`;
    const ip = (...args: string[]) => {
      const r = spawnSync("ip", args, { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
    };
    ip("netns", "add", netns);
    let inside: ControlPlane | undefined;
    try {
      ip("-n", netns, "link", "set", "lo", "up");
      ip("-n", netns, "link", "add", "br0", "type", "bridge");
      ip("-n", netns, "addr", "add", "10.79.0.1/24", "dev", "br0");
      ip("-n", netns, "link", "set", "br0", "up");
      inside = await startControlPlane({ name: "harness-netns", netns, address: "10.79.0.1" });
      expect(inside.server).toBe("https://10.79.0.1:6443");
      expect(inside.kubectl(["get", "namespace", "default", "-o", "name"]).stdout.trim()).toBe("namespace/default");
      // Its listening socket is in that namespace and not in this one (asked of the kernel: a
      // connection attempt from here would go out by the default route).
      const ss = ["ss", "-Hltn", "src", "10.79.0.1"];
      const there = spawnSync("nsenter", [`--net=/run/netns/${netns}`, "--", ...ss], { encoding: "utf8" });
      const here = spawnSync(ss[0], ss.slice(1), { encoding: "utf8" });
      expect(there.stdout).toMatch(/10\.79\.0\.1:6443/);
      expect([here.status, here.stdout.trim()]).toEqual([0, ""]);
      const pids = inside.pids();
      await inside.stop();
      for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      await inside?.stop();
      ip("netns", "del", netns);
    }
  }, GUARD_MS);

  test("no real network address without a namespace", async () => {
    await expect(startControlPlane({ name: "harness-refused", address: "0.0.0.0" })).rejects.toThrow(/only a loopback address/);
    await expect(startControlPlane({ name: "harness-refused", netns: "numa-k3s-no-such-namespace", address: "10.77.0.1" })).rejects.toThrow(/no network namespace/);
  });
});
