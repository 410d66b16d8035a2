// A host as its user keeps it, in a directory: what the host scripts read and write under
// NUMA_K3S_ROOT (hostprep/host-record.ts), and stand-ins on PATH for the commands that would act on
// the machine itself (update-grub, systemctl, apt-get, tuned-adm, mount, ...), each recording its
// call and keeping its state in the root. The host-preparation tests run the scripts in bash
// against it; the engine test (test/engine/) gives it to the sshd Pulumi logs in to.
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const USER_GRUB = 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX mitigations=auto isolcpus=3"\n';
// The user's own irqbalance settings, without a final newline (restored byte for byte).
export const USER_IRQBALANCE = "# the user's\nIRQBALANCE_ONESHOT=0\nIRQBALANCE_BANNED_CPULIST=0-1\nIRQBALANCE_ARGS=--debug";
export const USER_TUNED = "isolated_cores=2-3\n";

/** Commands that change the machine outside any root: a stand-in each, acting on the root only.
 * systemctl enables and disables as a symlink in multi-user.target.wants, as systemd's own does. */
const MACHINE: Record<string, string> = {
  "apt-get": `exit 0`,
  "update-grub": `exit 0`,
  "systemd-run": `exit 0`,
  systemctl: `w=$NUMA_K3S_ROOT/etc/systemd/system/multi-user.target.wants
case $1 in
  is-enabled) [[ -L $w/\${@: -1} ]] ;;
  enable) ln -sf "/etc/systemd/system/\${@: -1}" "$w/\${@: -1}" ;;
  disable) rm -f "$w/\${@: -1}" ;;
esac`,
  "tuned-adm": `f=$NUMA_K3S_ROOT/var/lib/tuned-state/active
case $1 in
  active) echo "Current active profile: $(<"$f")" ;;
  profile) echo "$2" >"$f" ;;
  auto_profile) echo balanced >"$f" ;;
esac`,
  mount: `echo "hugetlbfs \${@: -1} hugetlbfs rw,relatime,pagesize=1024M 0 0" >>"$NUMA_K3S_ROOT/proc/mounts"`,
  umount: `grep -v " $1 hugetlbfs " "$NUMA_K3S_ROOT/proc/mounts" >"$NUMA_K3S_ROOT/proc/mounts.new"; mv "$NUMA_K3S_ROOT/proc/mounts.new" "$NUMA_K3S_ROOT/proc/mounts"`,
};

/** Commands that only read the machine: stand-ins where a test wants a host other than this one. */
const OTHER_HOST: Record<string, string> = {
  id: `echo 0`,
  dpkg: `echo amd64`,
  "dpkg-query": `printf 'install ok installed'`,
  ip: `echo "5: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP"`,
  uname: `echo 6.1.0-18-amd64`,
};

/**
 * Writes the stand-ins into `bin` (put it first on PATH); each appends `<name> <args>` to `calls`.
 * `otherHost`: also stand in for id, dpkg, dpkg-query, ip and uname (a root-run amd64 Debian host
 * with br0 up), where the real ones would describe this machine.
 */
export function writeStandIns(bin: string, calls: string, otherHost = true): void {
  mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries({ ...MACHINE, ...(otherHost ? OTHER_HOST : {}) })) {
    writeFileSync(join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >>"${calls}"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
}

export interface UserHost {
  /** Every thread of the host: each gets a governor and a wake-latency limit of the user's. */
  threads: readonly number[];
  /** Huge page pools, per node and size, at the user's count (3). */
  pages: ReadonlyArray<{ node: number; sizeKiB: number }>;
  /** The base image the stack names (prepare checks it is there). */
  baseImage: string;
  /** The running kernel's command line. */
  cmdline?: string;
}

/** Writes a host as the user keeps it under `root`: sysfs and procfs files with values of the
 * user's (not a plan's), the user's own GRUB, irqbalance and tuned files, a unit of theirs. */
export function writeUserHost(root: string, h: UserHost): void {
  const put = (path: string, text: string) => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  for (const d of ["usr/local/sbin", "usr/local/lib", "etc/systemd/system/multi-user.target.wants", "etc/tuned", "var/lib/libvirt/images", "dev", "sys/class/net/br0/bridge"]) mkdirSync(join(root, d), { recursive: true });
  put("proc/cmdline", h.cmdline ?? "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet\n");
  put("proc/mounts", "sysfs /sys sysfs rw,nosuid 0 0\n");
  put("dev/kvm", "");
  put(h.baseImage, "qcow2 image");
  put("etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="console=ttyS0"\n');
  put("etc/default/grub.d/50-user.cfg", USER_GRUB);
  put("etc/default/irqbalance", USER_IRQBALANCE);
  put("etc/tuned/cpu-partitioning-variables.conf", USER_TUNED);
  put("var/lib/tuned-state/active", "throughput-performance\n");
  put("etc/systemd/system/user.service", "[Service]\nExecStart=/bin/true\n");
  for (const p of h.pages) put(`sys/devices/system/node/node${p.node}/hugepages/hugepages-${p.sizeKiB}kB/nr_hugepages`, "3\n");
  for (const t of h.threads) {
    put(`sys/devices/system/cpu/cpu${t}/cpufreq/scaling_governor`, "schedutil\n");
    put(`sys/devices/system/cpu/cpu${t}/power/pm_qos_resume_latency_us`, "0\n");
  }
}

/** Every file, directory and link under `root`: path, kind, mode, content or target. */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = `${rel}/${name}`;
      const st = lstatSync(join(root, path));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[path] = `link -> ${readlinkSync(join(root, path))}`;
      else if (st.isDirectory()) {
        out[path] = `dir ${mode}`;
        walk(path);
      } else out[path] = `file ${mode} ${readFileSync(join(root, path), "utf8")}`;
    }
  };
  walk("");
  return out;
}
