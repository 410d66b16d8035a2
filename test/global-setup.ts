// jest globalSetup: a real libvirtd for the tests that drive one (test/integration), started the
// way .ci/run starts it, when it is installed and nothing answers on qemu:///system yet. Only what
// this run started is stopped again (test/global-teardown.ts). The e2e test starts its own private
// daemon in a network namespace (`.ci/libvirtd.sh netns-start`) and needs nothing from here.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const STARTED_LIBVIRTD = "__numaK3sStartedLibvirtd";

export default function globalSetup(): void {
  if (process.env.NUMA_K3S_SKIP_LIBVIRTD === "1" || !existsSync("/usr/sbin/libvirtd")) return;
  if (spawnSync("virsh", ["-c", "qemu:///system", "version"], { stdio: "ignore" }).status === 0) return;
  const script = join(__dirname, "..", ".ci", "libvirtd.sh");
  const r = spawnSync("bash", [script, "start"], { encoding: "utf8", timeout: 60_000 });
  // A daemon that will not start is the integration test's failure to report, with its own message.
  if (r.status !== 0) {
    process.stderr.write(`test/global-setup.ts: bash .ci/libvirtd.sh start failed:\n${r.stderr}`);
    return;
  }
  (globalThis as Record<string, unknown>)[STARTED_LIBVIRTD] = true;
}
