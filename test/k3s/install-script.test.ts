// The K3s install script, run for real in bash as the agent's SSH command runs it, in a private mount
// namespace: /etc and /var/lib are overlays whose writes land in a tmpfs, so nothing on this machine
// changes. k3s, systemctl and curl are stubs; the systemctl stub's start does what K3s's agent does
// at every start with `kubelet-arg: config=FILE` (pkg/daemons/agent extractConfigArgs): it copies
// FILE into the kubelet's managed drop-in directory as 10-cli-config.conf, and never deletes it.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VmPlacement } from "../../topology/placement";
import { renderAgentConfig, serverUrl } from "../../k3s/config-files";
import { KUBELET_CONFIG_COPY, KUBELET_CONFIG_PATH, kubeletConfiguration, kubeletPolicyDigest, renderKubeletConfig } from "../../k3s/kubelet-config";
import { workerMarks } from "../../k3s/node-roles";
import { k3sFilesPayload, installScript } from "../../k3s/scripts";
import { K3S_VERSION, installScriptOf } from "../../k3s/version";
import { requireTools } from "../tools";

const isRoot = process.getuid?.() === 0;
function skipBecause(why: string): boolean {
  if (process.env.CI === "true") throw new Error(`${why}; CI runs every test`);
  console.log(`${why}: skipped`);
  return false;
}
const ready = requireTools("test/k3s/install-script.test.ts", [["unshare", "util-linux"], ["mount", "mount"]]) && (isRoot || skipBecause("test/k3s/install-script.test.ts needs root (mount namespace, overlays)"));

const lock = JSON.parse(readFileSync(join(__dirname, "../../hosts/single.lock.json"), "utf8")) as { vms: VmPlacement[] };
const placement = lock.vms.find((v) => v.name === "k3s-worker-slm")!;

/** The agent's stdin: config.yaml (with or without the kubelet file), kubelet.yaml when given, the token. */
function payload(withKubelet: boolean): { stdin: string; policy: string } {
  const kubelet = kubeletConfiguration(placement, "agent");
  const config = renderAgentConfig({
    nodeName: placement.name,
    serverUrl: serverUrl("192.168.50.10"),
    address: "192.168.50.13",
    flannelIface: "eth0",
    marks: workerMarks("single", { host: placement.host, node: placement.node, workload: "slm" }),
    kubeletConfig: withKubelet,
  });
  const files = withKubelet ? { "config.yaml": config, "kubelet.yaml": renderKubeletConfig(kubelet), "cluster-token": "t".repeat(48) } : { "config.yaml": config, "cluster-token": "t".repeat(48) };
  return { stdin: k3sFilesPayload(files), policy: withKubelet ? kubeletPolicyDigest(kubelet, placement.vcpus) : "" };
}

const STUBS: Record<string, string> = {
  k3s: `#!/bin/bash
[[ $1 == --version ]] && echo "k3s version ${K3S_VERSION} (stub)"
`,
  curl: "#!/bin/bash\nexit 0\n",
  // The readiness wait's pauses: the stand-ins are ready at once.
  sleep: "#!/bin/bash\nexit 0\n",
  systemctl: `#!/bin/bash
[[ $1 == show ]] && { echo 4242; exit 0; }
echo "systemctl $*" >>"$STUB_LOG"
case $1 in
  is-active) exit 0 ;;
  restart | start)
    config=$(sed -n 's/^ *- config=//p' /etc/rancher/k3s/config.yaml)
    dropins=/var/lib/rancher/k3s/agent/etc/kubelet.conf.d
    mkdir -p "$dropins"
    if [[ -n $config && $config != "$dropins"* ]]; then cp "$config" "$dropins/10-cli-config.conf"; fi
    ;;
esac
`,
};

/** Runs the install script once per stdin, in one namespace, and reports the files after each run. */
function runInstalls(runs: { stdin: string; policy: string }[], before = ""): { status: number; stderr: string; reports: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "numa-k3s-install-"));
  try {
    const stubs = join(dir, "bin");
    mkdirSync(stubs);
    for (const [name, text] of Object.entries(STUBS)) {
      writeFileSync(join(stubs, name), text);
      chmodSync(join(stubs, name), 0o755);
    }
    const steps = runs.map((r, i) => {
      writeFileSync(join(dir, `stdin-${i}`), r.stdin);
      writeFileSync(join(dir, `script-${i}`), installScript({ role: "agent", version: K3S_VERSION, nodeName: placement.name, policyDigest: r.policy, readyTimeoutSeconds: 30, installer: installScriptOf("installScript", K3S_VERSION) }));
      return `bash -c "$(cat '${dir}/script-${i}')" <'${dir}/stdin-${i}' || exit $?
echo "=== run ${i}"
for f in ${KUBELET_CONFIG_PATH} ${KUBELET_CONFIG_COPY} /var/lib/kubelet/cpu_manager_state; do [[ -e $f ]] && echo "present $f"; done
cat "$STUB_LOG"; : >"$STUB_LOG"`;
    });
    const wrapper = `set -u
t='${dir}/t'
mkdir -p "$t" && mount -t tmpfs numa-k3s-test "$t" || exit 99
for d in etc var-lib; do mkdir -p "$t/$d/upper" "$t/$d/work"; done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/etc/upper,workdir=$t/etc/work" /etc || exit 99
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$t/var-lib/upper,workdir=$t/var-lib/work" /var/lib || exit 99
export PATH='${stubs}':$PATH STUB_LOG="$t/systemctl.log"
: >"$STUB_LOG"
${before}
${steps.join("\n")}`;
    const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", wrapper], { encoding: "utf8" });
    return { status: r.status ?? -1, stderr: r.stderr, reports: r.stdout.split(/^=== run \d+\n/m).slice(1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

(ready ? describe : describe.skip)("the install script when a node stops passing its kubelet file", () => {
  it("removes the file and K3s's copy of it, so the old CPU manager settings stop applying", () => {
    const r = runInstalls([payload(true), payload(false)]);
    expect(r.stderr).not.toMatch(/unexpected|was not written/);
    expect(r.status).toBe(0);
    // First run: the file, and K3s's copy from the start.
    expect(r.reports[0]).toContain(`present ${KUBELET_CONFIG_PATH}`);
    expect(r.reports[0]).toContain(`present ${KUBELET_CONFIG_COPY}`);
    // Second run: both gone; the policy changed, so the node's kubelet stopped and its state went too.
    expect(r.reports[1]).not.toContain("present ");
    expect(r.reports[1]).toMatch(/systemctl stop k3s-agent[\s\S]*systemctl restart k3s-agent/);
  });

  it("removes a copy left behind when the file itself is already gone (a node an older version reconfigured)", () => {
    const leftover = `mkdir -p "$(dirname ${KUBELET_CONFIG_COPY})" && echo 'cpuManagerPolicy: static' >${KUBELET_CONFIG_COPY}
mkdir -p /etc/rancher/k3s && echo '' >/etc/rancher/k3s/numa-k3s-kubelet-policy`;
    const r = runInstalls([payload(false)], leftover);
    expect(r.status).toBe(0);
    expect(r.reports[0]).not.toContain(`present ${KUBELET_CONFIG_COPY}`);
    expect(r.reports[0]).toContain("systemctl restart k3s-agent");
  });

  it("treats a kubelet file arriving on a node that ran without one as a policy change (its state is K3s's default none policy's)", () => {
    const r = runInstalls([payload(true), payload(false), payload(true)]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/kubelet policy changed \(none -> [0-9a-f]{16}\)/);
    expect(r.reports[2]).toMatch(/systemctl stop k3s-agent[\s\S]*systemctl restart k3s-agent/);
  });

  it("keeps the file, and restarts nothing, when the same inputs come again", () => {
    const r = runInstalls([payload(true), payload(true)]);
    expect(r.status).toBe(0);
    expect(r.reports[1]).toContain(`present ${KUBELET_CONFIG_COPY}`);
    expect(r.reports[1]).not.toContain("systemctl restart");
  });
});
