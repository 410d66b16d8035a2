// This machine as a stack's hypervisor, privately: a network namespace of the test's own with a
// bridge, the private libvirtd of .ci/libvirtd.sh in it, and an sshd on the bridge's address that
// Pulumi logs in to as root with a key made here. Nothing the program runs over that SSH may change
// this machine's GRUB, sysfs, systemd or packages, so every session gets:
// - NUMA_K3S_ROOT: a throwaway root holding a host as its user keeps it (test/hostprep/
//   throwaway-root.ts). The host scripts write every path under $root already; this is the seam
//   the host-preparation tests use, so the engine runs the very scripts a user's host gets.
// - stand-ins first on PATH for the commands that act on the machine outside any root
//   (update-grub, systemctl, apt-get, systemd-run, tuned-adm, mount, umount): they record the
//   call and act on the root. Read-only commands (id, dpkg-query, ip, uname, virsh) are the real ones.
// - a mount namespace in which /etc, /usr, /boot, /sys and /var/lib are read-only: a path a
//   script writes without $root fails there (EROFS) and fails the test, instead of changing the
//   machine. The VM scripts write only their pool directory (under /var/tmp, which QEMU in the
//   private libvirtd's own mount namespace sees too).
// Not a `prepare` setting of the product: a dry-run root is no use to a user (it prepares nothing),
// and the machine-wide commands would still need stand-ins.
// Everything stays inside the namespace: Pulumi, `npm run capture` and the test's SSH run there
// (inNetns), and the guest's only NIC is on its bridge.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeStandIns, writeUserHost } from "../hostprep/throwaway-root";

const REPO = resolve(__dirname, "..", "..");
const LIBVIRTD = join(REPO, ".ci", "libvirtd.sh");
/** The directories a session may not write (a mount namespace of read-only binds). */
const READ_ONLY = ["/etc", "/usr", "/boot", "/sys", "/var/lib"];

export interface HypervisorOptions {
  /** The network namespace (.ci/libvirtd.sh's NUMA_K3S_NETNS); others' tests use other names. */
  netns: string;
  /** The bridge's address and prefix in it: the sshd's address and the guests' gateway. */
  cidr: string;
}

export interface Lake {
  /** /dev/disk/by-id/ name of the loop device, as a stack names a lake HDD. */
  device: string;
  /** What the lake holds (a file `keep.txt` on its ext4), read back by `lakeFile()`. */
  content: string;
  /** keep.txt as it is on the disk now (mounted read-only; only while no guest has it). */
  lakeFile(): string;
}

export interface Hypervisor {
  netns: string;
  /** The sshd's and the bridge's address. */
  address: string;
  /** How the host's own virsh reaches the private libvirtd (libvirt.uri of the stack). */
  uri: string;
  /** The private libvirtd's /run/libvirt, as this mount namespace sees it (QEMU's pid files). */
  runDir: string;
  /** A directory of the test's (0755, so QEMU reads the pool in it). */
  work: string;
  /** The throwaway root the sessions' host scripts work in. */
  root: string;
  /** The private key Pulumi and the operator's ssh log in with, and its public half. */
  privateKeyFile: string;
  publicKey: string;
  /** A directory to put first on PATH: its `ssh` is the operator's, with the key and known host. */
  operatorBin: string;
  /** argv run inside the namespace. */
  inNetns(argv: string[]): string[];
  /** The stand-ins' calls so far, `<command> <args>` each. */
  standInCalls(): string[];
  virsh(...args: string[]): string;
  /** A loop device with an ext4 and a file on it, under a /dev/disk/by-id/ name. */
  makeLake(sizeMiB: number): Lake;
  stop(): void;
}

function must(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env, encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}${r.error ? ` (${r.error.message})` : ""}: ${(r.stderr ?? "").trim()}`);
  return r.stdout;
}

/** The threads and huge page pools of this machine, for a throwaway root shaped like it. */
function machineShape(): { threads: number[]; pages: Array<{ node: number; sizeKiB: number }> } {
  const threads = must("sh", ["-c", "ls -d /sys/devices/system/cpu/cpu[0-9]*"]).trim().split("\n").map((d) => Number(/cpu(\d+)$/.exec(d)![1]));
  const pools = must("sh", ["-c", "ls -d /sys/devices/system/node/node[0-9]*/hugepages/hugepages-*kB 2>/dev/null || true"]).trim().split("\n").filter(Boolean);
  const pages = pools.map((p) => {
    const [, node, size] = /node(\d+)\/hugepages\/hugepages-(\d+)kB$/.exec(p)!;
    return { node: Number(node), sizeKiB: Number(size) };
  });
  return { threads: threads.sort((a, b) => a - b), pages };
}

export async function startHypervisor(opts: HypervisorOptions, baseImage: string): Promise<Hypervisor> {
  const address = opts.cidr.split("/")[0];
  const env = { ...process.env, NUMA_K3S_NETNS: opts.netns, NUMA_K3S_NETNS_ADDRESS: opts.cidr };
  const cleanups: Array<() => void> = [];
  let uri = "";
  const stop = () => {
    // First: no guest of the test left running (QEMU would hold the lake's loop device). Only the
    // private daemon's domains, which are the test's.
    if (uri) {
      const listed = spawnSync("virsh", ["-q", "-c", uri, "list", "--all", "--name"], { encoding: "utf8" });
      for (const name of (listed.stdout ?? "").split("\n").filter(Boolean)) {
        spawnSync("virsh", ["-q", "-c", uri, "destroy", name]);
        spawnSync("virsh", ["-q", "-c", uri, "undefine", "--nvram", name]);
      }
    }
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch (e) {
        console.error(`test/engine/hypervisor.ts: cleanup: ${(e as Error).message}`);
      }
    }
    cleanups.length = 0;
  };
  try {
    // 1. The private libvirtd in the namespace (started here unless it runs already).
    if (spawnSync("bash", [LIBVIRTD, "netns-status"], { env, stdio: "ignore" }).status !== 0) {
      must("bash", [LIBVIRTD, "netns-start"], { env });
      cleanups.push(() => must("bash", [LIBVIRTD, "netns-stop"], { env }));
    }
    uri = must("bash", [LIBVIRTD, "netns-uri"], { env }).trim();
    const inNetns = (argv: string[]) => ["nsenter", `--net=/run/netns/${opts.netns}`, ...argv];

    // 2. The test's directory, the throwaway root and the stand-ins.
    const work = mkdtempSync("/var/tmp/numa-k3s-engine-up-");
    chmodSync(work, 0o755);
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const root = join(work, "root");
    const bin = join(work, "stand-ins");
    const calls = join(work, "stand-in-calls");
    writeFileSync(calls, "");
    writeStandIns(bin, calls, false);
    writeUserHost(root, { ...machineShape(), baseImage, cmdline: readFileSync("/proc/cmdline", "utf8") });

    // 3. Keys: the sshd's host key, the login key (Pulumi's numa-k3s:sshPrivateKey).
    const ssh = join(work, "ssh");
    mkdirSync(ssh, { mode: 0o700 });
    const privateKeyFile = join(ssh, "id_ed25519");
    must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "numa-k3s-engine-up", "-f", privateKeyFile]);
    must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "numa-k3s-engine-up-host", "-f", join(ssh, "host_ed25519")]);
    const publicKey = readFileSync(`${privateKeyFile}.pub`, "utf8").trim();
    writeFileSync(join(ssh, "authorized_keys"), `${publicKey}\n`);
    writeFileSync(join(ssh, "known_hosts"), `${address} ${readFileSync(join(ssh, "host_ed25519.pub"), "utf8").split(" ").slice(0, 2).join(" ")}\n`);

    // 4. The sshd, in the namespace and in a mount namespace of read-only system directories.
    const config = join(ssh, "sshd_config");
    writeFileSync(
      config,
      [
        `ListenAddress ${address}:22`,
        `HostKey ${join(ssh, "host_ed25519")}`,
        `AuthorizedKeysFile ${join(ssh, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        // The key files live under /var/tmp (mode 1777), which StrictModes would refuse.
        "StrictModes no",
        "PidFile none",
        // Pulumi opens a session per command, several at once.
        "MaxStartups 100",
        "MaxSessions 100",
        `SetEnv NUMA_K3S_ROOT=${root} PATH=${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        "",
      ].join("\n"),
    );
    const guard = READ_ONLY.filter((d) => existsSync(d))
      .map((d) => `mount --bind ${d} ${d} && mount -o remount,bind,ro ${d}`)
      .join(" && ");
    // sshd wants its privilege separation directory, which its package makes only when it starts it.
    const launch = `mkdir -p /run/sshd && ${guard} && exec /usr/sbin/sshd -D -e -f ${config}`;
    const log = openSync(join(work, "sshd.log"), "a");
    const sshd: ChildProcess = spawn("nsenter", [`--net=/run/netns/${opts.netns}`, "unshare", "--mount", "--propagation", "private", "bash", "-c", launch], { stdio: ["ignore", log, log] });
    cleanups.push(() => {
      if (sshd.exitCode === null) sshd.kill("SIGTERM");
    });

    // 5. The operator's ssh (README: npm run capture uses the operator's own ssh client and keys).
    const operatorBin = join(work, "operator-bin");
    mkdirSync(operatorBin);
    writeFileSync(
      join(ssh, "config"),
      `Host ${address}\n  IdentityFile ${privateKeyFile}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${join(ssh, "known_hosts")}\n  StrictHostKeyChecking yes\n`,
    );
    writeFileSync(join(operatorBin, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F ${join(ssh, "config")} "$@"\n`);
    chmodSync(join(operatorBin, "ssh"), 0o755);

    // sshd answers once it listens: wait for a login (a guard against a hung start, not a timing).
    const [cmd, ...args] = inNetns([join(operatorBin, "ssh"), "-o", "BatchMode=yes", "-l", "root", "--", address, "true"]);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = spawnSync(cmd, args, { encoding: "utf8" });
      if (r.status === 0) break;
      if (sshd.exitCode !== null || Date.now() > deadline) throw new Error(`sshd in ${opts.netns} does not answer: ${r.stderr}\n${readFileSync(join(work, "sshd.log"), "utf8")}`);
      // Asynchronously, so that an sshd that exited is seen as exited.
      await new Promise((done) => setTimeout(done, 200));
    }

    const virsh = (...args: string[]) => must("virsh", ["-q", "-c", uri, ...args]);

    let createdByIdDir = false;
    const makeLake = (sizeMiB: number): Lake => {
      const suffix = randomBytes(3).toString("hex");
      const file = join(work, `lake-${suffix}.img`);
      const content = `lake data written before numa-k3s ${randomBytes(8).toString("hex")}\n`;
      must("truncate", ["-s", `${sizeMiB}M`, file]);
      const loop = must("losetup", ["--find", "--show", file]).trim();
      cleanups.push(() => must("losetup", ["-d", loop]));
      must("mkfs.ext4", ["-q", "-L", "lake", loop]);
      const mnt = join(work, `lake-mnt-${suffix}`);
      mkdirSync(mnt);
      must("mount", [loop, mnt]);
      writeFileSync(join(mnt, "keep.txt"), content);
      must("umount", [mnt]);
      if (!existsSync("/dev/disk/by-id")) {
        mkdirSync("/dev/disk/by-id", { recursive: true });
        if (!createdByIdDir) {
          createdByIdDir = true;
          cleanups.push(() => {
            rmdirSync("/dev/disk/by-id");
            spawnSync("rmdir", ["/dev/disk"]);
          });
        }
      }
      const device = `/dev/disk/by-id/numa-k3s-engine-up-lake-${suffix}`;
      symlinkSync(loop, device);
      cleanups.push(() => {
        if (lstatSync(device, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(device);
      });
      const lakeFile = () => {
        must("mount", ["-o", "ro", loop, mnt]);
        try {
          return readFileSync(join(mnt, "keep.txt"), "utf8");
        } finally {
          must("umount", [mnt]);
        }
      };
      return { device, content, lakeFile };
    };

    return {
      netns: opts.netns,
      address,
      uri,
      runDir: uri.replace(/^.*socket=/, "").replace(/\/libvirt-sock$/, ""),
      work,
      root,
      privateKeyFile,
      publicKey,
      operatorBin,
      inNetns,
      standInCalls: () => readFileSync(calls, "utf8").split("\n").filter(Boolean),
      virsh,
      makeLake,
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
