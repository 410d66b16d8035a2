// The Mac's Lima networking check, run for real in bash against a directory tree standing in for
// the Mac: in a private mount namespace, a tmpfs on /srv holds /srv/mac (the Mac's /opt, /private,
// /etc -> private/etc, the user's home), owned as on a Mac (root:wheel system directories,
// /private/var/run root:daemon 0775, Homebrew's /opt/homebrew owned by the user), and private
// copies of /etc/passwd and /etc/group add the user `me` (uid 501, like a Mac's first user) in
// the group `admin`. The script runs as that user, as it does over SSH. The rules are Lima's at
// the release test/fixtures/k3s/lima-networks-rules.json names.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_LIMA_NETWORK, LIMA_RULES_RELEASE, limaPreflightScript, renderLimaTemplate, DEFAULT_LIMA_IMAGE } from "../../k3s/lima";
import { outputValue, recordedResources, resourceNamed, settle, startMockRuntime, stdoutByName } from "../../cli/mock-runtime";
import { requireTools } from "../tools";

const rules = JSON.parse(readFileSync(join(__dirname, "../fixtures/k3s/lima-networks-rules.json"), "utf8")) as {
  limaRelease: string;
  commit: string;
  defaults: { socketVMNet: string; varRun: string; sudoers: string; group: string; bridgedNetwork: { name: string; mode: string; interface: string } };
  identifier: { pattern: string; maxLength: number };
};

const isRoot = process.getuid?.() === 0;
function skipBecause(why: string): boolean {
  if (process.env.CI === "true") throw new Error(`${why}; CI runs every test`);
  console.log(`${why}: skipped`);
  return false;
}
const ready =
  requireTools("test/k3s/lima-preflight.test.ts", [["unshare", "util-linux"], ["setpriv", "util-linux"], ["mount", "mount"], ["awk", "mawk"]]) &&
  (isRoot || skipBecause("test/k3s/lima-preflight.test.ts needs root (mount namespace, files owned by root and by uid 501)"));

const MAC = "/srv/mac";
const HOME = `${MAC}/Users/me`;
const CONFIG = `${HOME}/.lima/_config/networks.yaml`;
/** The Mac's paths under MAC: the fixture's defaults, rooted in the stand-in tree. */
const at = (path: string) => `${MAC}${path}`;
const HOMEBREW_LINK = at("/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet");
const HOMEBREW_CELLAR = at("/opt/homebrew/Cellar/socket_vmnet/1.2.2/bin/socket_vmnet");

interface Networks {
  socketVMNet?: string;
  varRun?: string;
  sudoers?: string;
  group?: string;
  mode?: string;
}

/** networks.yaml as Lima writes it (networks.TEMPLATE.yaml's layout), with the Mac's paths. */
function networksYaml(n: Networks = {}): string {
  const d = rules.defaults;
  const line = (key: string, value: string | undefined) => (value === undefined ? "" : `  ${key}: ${value}\n`);
  return `# Path to socket_vmnet executable. Because socket_vmnet is invoked via sudo it should be
# installed where only root can modify/replace it.
paths:
# socketVMNet requires Lima >= 0.12 .
${line("socketVMNet", n.socketVMNet ?? `"${at(d.socketVMNet)}"`)}${line("varRun", n.varRun ?? at(d.varRun))}${line("sudoers", n.sudoers ?? `'${at(d.sudoers)}'`)}
group: ${n.group ?? d.group}

networks:
  user-v2:
    mode: user-v2
    gateway: 192.168.104.1
  ${d.bridgedNetwork.name}:
    mode: ${n.mode ?? d.bridgedNetwork.mode}
    interface: ${d.bridgedNetwork.interface}
    # bridged mode doesn't have a gateway; dhcp is managed by outside network
  host:
    mode: host
    gateway: 192.168.106.1
`;
}

/** The Mac as `sudo make PREFIX=/opt/socket_vmnet install.bin`, `sudo install -o root ... sudoers.d/lima`
 * and Homebrew leave it. */
const MAC_TREE = `set -eu
mount -t tmpfs -o mode=0755 numa-k3s-mac /srv
cp /etc/passwd /srv/passwd && echo 'me:x:501:50:me:${HOME}:/bin/bash' >>/srv/passwd
cp /etc/group /srv/group && echo 'admin:x:4080:me' >>/srv/group
mount --bind /srv/passwd /etc/passwd && mount --bind /srv/group /etc/group
m=${MAC}
install -d -m 0755 "$m/opt" "$m/private/etc/sudoers.d" "$m/private/var/run" "$m/Users"
chgrp 1 "$m/private/var/run" && chmod 0775 "$m/private/var/run"
ln -s private/etc "$m/etc"
install -d -m 0755 "$m/opt/socket_vmnet/bin" && install -m 0755 /bin/true "$m/opt/socket_vmnet/bin/socket_vmnet"
install -d -o 501 -g 4080 "$m/opt/homebrew" "$m/opt/homebrew/opt" "$m/opt/homebrew/Cellar/socket_vmnet/1.2.2/bin"
install -o 501 -g 4080 -m 0755 /bin/true "${HOMEBREW_CELLAR}"
ln -s ../Cellar/socket_vmnet/1.2.2 "$m/opt/homebrew/opt/socket_vmnet" && chown -h 501:4080 "$m/opt/homebrew/opt/socket_vmnet"
printf '%%admin ALL=(root:wheel) NOPASSWD:NOSETENV: /bin/mkdir -m 775 -p /private/var/run/lima\\n' >"$m/private/etc/sudoers.d/lima"
chmod 0755 "$m/private/etc/sudoers.d/lima"
install -d -o 501 -g 50 "${HOME}" "${HOME}/.lima" "${HOME}/.lima/_config"
`;

interface Run {
  status: number;
  stderr: string;
  log: string;
}

/**
 * Builds the Mac, applies `change` as root, writes networks.yaml (unless null), then runs
 * `command` as the user with HOME set, PATH starting with `bin`, and `stdin`.
 */
function onTheMac(opts: { networks?: Networks | null; change?: string; command: string; stdin?: string; bin?: string }): Run {
  const dir = mkdtempSync(join(tmpdir(), "numa-k3s-lima-"));
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "command"), opts.command);
    writeFileSync(join(dir, "stdin"), opts.stdin ?? "");
    writeFileSync(join(dir, "log"), "");
    chmodSync(join(dir, "log"), 0o666);
    const writeConfig =
      opts.networks === null ? "" : `cat >'${CONFIG}' <<'YAML'\n${networksYaml(opts.networks ?? {})}YAML\nchown 501:50 '${CONFIG}'`;
    const script = `${MAC_TREE}
${opts.change ?? ""}
${writeConfig}
exec setpriv --reuid=501 --regid=50 --init-groups env -i HOME='${HOME}' PATH='${opts.bin ?? "/nonexistent"}':/usr/bin:/bin LIMACTL_LOG='${dir}/log' \\
  bash -c "$(cat '${dir}/command')" <'${dir}/stdin'`;
    const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", script], { encoding: "utf8" });
    return { status: r.status ?? -1, stderr: r.stderr, log: readFileSync(join(dir, "log"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const preflight = limaPreflightScript(DEFAULT_LIMA_NETWORK);
const check = (opts: { networks?: Networks | null; change?: string }) => onTheMac({ ...opts, command: preflight });
/** The one line a refusal prints, with the file and the key first. */
function refusal(r: Run): string {
  expect(r.status).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0].startsWith(`${CONFIG}: `)).toBe(true);
  return lines[0].slice(CONFIG.length + 2);
}

describe("the rules' release", () => {
  it("is the one the fixture was read at, and the template's network name follows Lima's identifier rule", () => {
    expect(LIMA_RULES_RELEASE).toEqual({ tag: rules.limaRelease, commit: rules.commit });
    expect(preflight).toContain(`lima-vm/lima ${rules.limaRelease} (${rules.commit.slice(0, 12)})`);
    const identifier = new RegExp(rules.identifier.pattern);
    const input = { cpus: 2, memoryGiB: 4, diskGiB: 20, image: DEFAULT_LIMA_IMAGE, macAddress: "52:55:55:12:34:56", adminUser: "k3s-admin", sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7cZ1kR0aIx5Jx8pO7yB1qqF3kZ3x2mQ8g0GqC0xyz a@b"] };
    for (const name of ["bridged", "lan.en0", "my_lan-2", "x".repeat(rules.identifier.maxLength)]) {
      expect(identifier.test(name)).toBe(true);
      expect(() => renderLimaTemplate({ ...input, network: name })).not.toThrow();
    }
    for (const name of ["", "lan 1", "-lan", "lan\nALL ALL=(ALL) NOPASSWD: ALL", "x".repeat(rules.identifier.maxLength + 1)]) {
      expect(() => renderLimaTemplate({ ...input, network: name })).toThrow(/^lima.network = .*: a network name of Lima's networks.yaml/);
      expect(() => limaPreflightScript(name)).toThrow(/^lima.network = .*: a network name of Lima's networks.yaml/);
    }
  });
});

describe("README's mac-numa steps", () => {
  it("say what the preflight wants: Lima's default paths, the root-owned install, the sudoers install at that path", () => {
    const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### mac-numa"), readme.indexOf("### distributed")).replace(/\s+/g, " ");
    const d = rules.defaults;
    for (const wanted of [
      `paths.socketVMNet: ${d.socketVMNet}`,
      `paths.varRun: ${d.varRun}`,
      `paths.sudoers: ${d.sudoers}`,
      `(\`admin\`, Lima's default`,
      `mode: ${d.bridgedNetwork.mode}`,
      `sudo make PREFIX=/opt/socket_vmnet install.bin`,
      `limactl sudoers >etc_sudoers.d_lima && sudo install -o root etc_sudoers.d_lima ${d.sudoers}`,
      `Lima ${rules.limaRelease}'s own rules`,
    ])
      expect(section).toContain(wanted);
    expect(preflight).toContain(`sudo make PREFIX=/opt/socket_vmnet install.bin) and set paths.socketVMNet: ${d.socketVMNet}`);
    expect(preflight).toContain(`set paths.sudoers: ${d.sudoers} (Lima's default`);
    expect(preflight).toContain(`set paths.varRun: ${d.varRun} (Lima's default)`);
  });
});

(ready ? describe : describe.skip)("the preflight on a Mac", () => {
  it("accepts socket_vmnet installed root-owned under /opt/socket_vmnet with the sudoers file in place", () => {
    const r = check({});
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("refuses Homebrew's symlinked path: through the link, the binary is the user's (as Lima finds it first)", () => {
    expect(refusal(check({ networks: { socketVMNet: HOMEBREW_LINK } }))).toMatch(
      new RegExp(`^paths\\.socketVMNet = ${HOMEBREW_LINK}: file ${HOMEBREW_LINK} is owned by uid 501, not root, .*; install socket_vmnet root-owned \\(in its source: sudo make PREFIX=/opt/socket_vmnet install\\.bin\\) and set paths\\.socketVMNet: ${rules.defaults.socketVMNet} `),
    );
  });

  it("refuses a root-owned install reached through a symlink, in the path or as the binary itself", () => {
    const change = `ln -s socket_vmnet ${at("/opt/socket_vmnet-current")} && ln -s socket_vmnet ${at("/opt/socket_vmnet/bin/socket_vmnet-link")}`;
    expect(refusal(check({ change, networks: { socketVMNet: at("/opt/socket_vmnet-current/bin/socket_vmnet") } }))).toMatch(
      new RegExp(`^paths\\.socketVMNet = ${at("/opt/socket_vmnet-current/bin/socket_vmnet")}: ${at("/opt/socket_vmnet-current")} is a symlink, and Lima refuses any symlink on the way`),
    );
    expect(refusal(check({ change, networks: { socketVMNet: at("/opt/socket_vmnet/bin/socket_vmnet-link") } }))).toMatch(/: \/srv\/mac\/opt\/socket_vmnet\/bin\/socket_vmnet-link is a symlink/);
  });

  it("refuses Homebrew's resolved Cellar path: the user owns it", () => {
    expect(refusal(check({ networks: { socketVMNet: HOMEBREW_CELLAR } }))).toMatch(new RegExp(`^paths\\.socketVMNet = ${HOMEBREW_CELLAR}: file ${HOMEBREW_CELLAR} is owned by uid 501, not root`));
  });

  it("refuses a root-owned binary under a directory the user owns", () => {
    const r = check({ change: `chown 501 ${at("/opt/socket_vmnet")}` });
    expect(refusal(r)).toMatch(new RegExp(`directory ${at("/opt/socket_vmnet")} is owned by uid 501, not root`));
  });

  it("refuses a parent writable by the user's group or by everyone, and accepts one writable by root's group only", () => {
    expect(refusal(check({ change: `chgrp 50 ${at("/opt/socket_vmnet/bin")} && chmod 0775 ${at("/opt/socket_vmnet/bin")}` }))).toMatch(/directory \/srv\/mac\/opt\/socket_vmnet\/bin is writable by group 50; only root's group may write it/);
    expect(refusal(check({ change: `chmod 0777 ${at("/opt")}` }))).toMatch(/directory \/srv\/mac\/opt is world-writable/);
    expect(refusal(check({ change: `chmod 0757 ${at("/opt/socket_vmnet/bin/socket_vmnet")}` }))).toMatch(/file \/srv\/mac\/opt\/socket_vmnet\/bin\/socket_vmnet is world-writable/);
    expect(check({ change: `chmod 0775 ${at("/opt/socket_vmnet/bin")}` }).status).toBe(0);
  });

  it("refuses socket_vmnet that is not installed, or a relative path", () => {
    expect(refusal(check({ change: `rm ${at("/opt/socket_vmnet/bin/socket_vmnet")}` }))).toMatch(new RegExp(`^paths\\.socketVMNet = ${at(rules.defaults.socketVMNet)}: not installed; install socket_vmnet root-owned`));
    expect(refusal(check({ networks: { socketVMNet: "socket_vmnet" } }))).toMatch(/^paths\.socketVMNet = socket_vmnet: not an absolute path/);
  });

  it("refuses a missing sudoers file, one reached through /etc (a symlink on macOS), one the user cannot read", () => {
    const sudoers = at(rules.defaults.sudoers);
    expect(refusal(check({ change: `rm ${sudoers}` }))).toBe(
      `paths.sudoers = ${sudoers}: does not exist; run: limactl sudoers >etc_sudoers.d_lima && sudo install -o root etc_sudoers.d_lima ${sudoers}`,
    );
    expect(refusal(check({ networks: { sudoers: at("/etc/sudoers.d/lima") } }))).toMatch(
      new RegExp(`^paths\\.sudoers = ${at("/etc/sudoers.d/lima")}: ${at("/etc")} is a symlink, .*; set paths\\.sudoers: ${rules.defaults.sudoers} \\(Lima's default`),
    );
    expect(refusal(check({ change: `chmod 0440 ${sudoers}` }))).toMatch(/^paths\.sudoers = .*: me cannot read it, and Lima compares it with 'limactl sudoers'/);
    expect(refusal(check({ networks: { sudoers: "" } }))).toMatch(/^paths\.sudoers is not set, so Lima would need sudo without a password/);
  });

  it("refuses a varRun whose nearest existing directory the user could write, and accepts macOS's root:daemon 0775", () => {
    expect(check({}).status).toBe(0);
    expect(refusal(check({ change: `chgrp 50 ${at("/private/var/run")}` }))).toMatch(/^paths\.varRun = \/srv\/mac\/private\/var\/run\/lima: directory \/srv\/mac\/private\/var\/run is writable by group 50; only root's group or daemon's may write it/);
  });

  it("refuses a group the user is not in, a network that is not bridged, and a missing networks.yaml", () => {
    expect(refusal(check({ networks: { group: "everyone" } }))).toMatch(/^group = everyone: me is not in it, and the sudoers rules are for that group only/);
    expect(refusal(check({ networks: { mode: "shared" } }))).toMatch(/^networks\.bridged\.mode = shared: the K3s server needs a NIC bridged onto the LAN/);
    const missing = check({ networks: null });
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toBe(`${CONFIG}: does not exist: run 'limactl sudoers' once (Lima writes its default networks.yaml there), then follow README, mac-numa step 1`);
  });
});

/** A limactl that records its calls; `sudoers --check` fails when networks.yaml says so. */
const FAKE_LIMACTL = `#!/bin/bash
echo "limactl $*" >>"$LIMACTL_LOG"
if [[ $1 == sudoers && $2 == --check ]] && grep -q out-of-sync "$HOME/.lima/_config/networks.yaml"; then
  echo 'time="2026-12-04T10:00:00Z" level=fatal msg="sudoers file is out of sync and must be regenerated"' >&2
  exit 1
fi
`;

(ready ? describe : describe.skip)("K3sControlPlane's Lima command on a Mac", () => {
  const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd7cZ1kR0aIx5Jx8pO7yB1qqF3kZ3x2mQ8g0GqC0xyz admin@lab";
  let create = "";
  let template = "";
  let bin = "";

  beforeAll(async () => {
    startMockRuntime({ project: "numa-k3s", stack: "test", commandStdout: stdoutByName({ "cp-kubeconfig": "clusters: [{cluster: {server: 'https://127.0.0.1:6443'}}]\n" }) });
    const { K3sControlPlane } = await import("../../components/K3sControlPlane");
    const cp = new K3sControlPlane("cp", {
      nodeName: "k3s-server",
      layout: "mac-numa",
      address: "192.168.50.5",
      connection: { host: "192.168.50.5", user: "k3s-admin", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----" },
      token: pulumi.secret("k3s-token-for-tests-0123456789abcdef"),
      lima: { macConnection: { host: "192.168.50.4", user: "me", privateKey: "k" }, macAddress: "52:55:55:12:34:56", adminUser: "k3s-admin", sshAuthorizedKeys: [KEY] },
    });
    await outputValue(cp.kubeconfig);
    await settle();
    const inputs = resourceNamed(recordedResources(), "cp-lima").inputs;
    create = String(inputs.create);
    template = String(inputs.stdin);
    bin = mkdtempSync(join(tmpdir(), "numa-k3s-limactl-"));
    chmodSync(bin, 0o755);
    writeFileSync(join(bin, "limactl"), FAKE_LIMACTL);
    chmodSync(join(bin, "limactl"), 0o755);
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it("runs the preflight before limactl create: Homebrew's socket_vmnet stops it with the preflight's line", () => {
    const r = onTheMac({ networks: { socketVMNet: HOMEBREW_LINK }, command: create, stdin: template, bin });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${CONFIG}: paths\\.socketVMNet = ${HOMEBREW_LINK}: file ${HOMEBREW_LINK} is owned by uid 501, not root`));
    expect(r.log).not.toMatch(/limactl (create|start|sudoers)/);
  });

  it("stops on Lima's own sudoers check before create, with its last line", () => {
    const r = onTheMac({ networks: { group: "admin # out-of-sync" }, command: create, stdin: template, bin });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`numa-k3s lima: 'limactl sudoers --check' refused: time="2026-12-04T10:00:00Z" level=fatal msg="sudoers file is out of sync and must be regenerated"`);
    expect(r.log).not.toMatch(/limactl (create|start)/);
  });

  it("on a Mac set up as README says: sudoers --check, then create from the template, then start", () => {
    const r = onTheMac({ command: create, stdin: template, bin });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const calls = r.log.trim().split("\n").map((l) => l.split(" ").slice(0, 3).join(" "));
    expect(calls).toEqual(["limactl list --format", "limactl sudoers --check", "limactl create --tty=false", "limactl start --tty=false"]);
  });
});
