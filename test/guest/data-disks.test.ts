// Data safety, proven with the code that would do the damage: cloud-init's own disk module and our
// boot script, run for real against loop devices that already hold data. The guest side of the
// "never wipe a data disk" rule (the host side is in test/hypervisor/vm-scripts.test.ts).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { DATA_DISK_SCRIPT_NAME, GuestSpec, renderUserData } from "../../guest/cloud-init";
import { requireTools } from "../tools";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb7vTestKeyOnlyNotARealOne ops@laptop";

function run(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { input, encoding: "utf8" });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

const isRoot = process.getuid?.() === 0;
const ready = requireTools("test/guest/data-disks.test.ts", [
  ["losetup", "mount"],
  ["wipefs", "util-linux"],
  ["unshare", "util-linux"],
  ["mkfs.ext4", "e2fsprogs"],
  ["debugfs", "e2fsprogs"],
  ["sfdisk", "fdisk"],
  ["/usr/bin/python3", "python3"],
]) && (isRoot || skipBecause("test/guest/data-disks.test.ts needs root (loop devices, mounts)"));

function skipBecause(why: string): boolean {
  if (process.env.CI === "true") throw new Error(`${why}; CI runs every test`);
  console.log(`${why}: skipped`);
  return false;
}

let dir: string;
let createdData = false;
const loops: string[] = [];

/** A loop device over a sparse file of `mib` MiB. */
function loopDevice(name: string, mib: number): { device: string; file: string } {
  const file = join(dir, `${name}.img`);
  must("truncate", ["-s", `${mib}M`, file]);
  const device = must("losetup", ["--find", "--show", file]).trim();
  loops.push(device);
  return { device, file };
}

/** An ext4 filesystem on `device` holding /keep.txt, the way an existing lake disk holds data. */
function withData(device: string, label: string, text: string): void {
  must("mkfs.ext4", ["-q", "-L", label, device]);
  const src = join(dir, `keep-${label}.txt`);
  writeFileSync(src, text);
  must("debugfs", ["-w", "-R", `write ${src} keep.txt`, device]);
}

/** /keep.txt read straight from the filesystem on `device` (no mount), or null when it is gone. */
function kept(device: string): string | null {
  const r = run("debugfs", ["-R", "cat /keep.txt", device]);
  return r.status === 0 && !/File not found/.test(r.stderr) ? r.stdout : null;
}

/** cloud-init's real disk module (cc_disk_setup.handle, Debian's cloud-init) on a cloud-config. */
function runCloudInitDiskSetup(cloudConfig: object): void {
  const harness = `
import json, logging, sys
from cloudinit.config import cc_disk_setup
class Cloud:
    def device_name_to_device(self, name): return None
cc_disk_setup.handle("disk_setup", json.loads(sys.argv[1]), Cloud(), logging.getLogger(), [])
`;
  must("/usr/bin/python3", ["-c", harness, JSON.stringify(cloudConfig)]);
}

function spec(mounts: GuestSpec["mounts"]): GuestSpec {
  return {
    hostname: "k3s-worker-data",
    adminUser: "ops",
    sshAuthorizedKeys: [KEY],
    packages: [],
    address: { cidr: "192.168.50.12/24", gateway: "192.168.50.1", nameservers: ["192.168.50.1"] },
    mac: "52:54:00:00:50:12",
    mounts,
  };
}

/**
 * The user-data's bootcmd, run as cloud-init runs it (the argv as written), in a private mount
 * namespace: /etc/fstab is a scratch copy and /data a tmpfs there, so nothing on this machine
 * changes. Afterwards, inside the same namespace, each mount point and its fstab line are reported.
 */
function boot(userData: string, fstab: string): { status: number; stderr: string; mounted: Record<string, string>; fstab: string } {
  const doc = parse(userData, { version: "1.1" });
  const argv: string[] = doc.bootcmd[0];
  const report = `
for mp in /data/local /data/hot /data/lake; do
  src=$(findmnt -n -o SOURCE --mountpoint "$mp" 2>/dev/null) && echo "MOUNT $mp $src"
done
sed 's/^/FSTAB /' /etc/fstab`;
  const wrapper = `mount --bind "$1" /etc/fstab && mount -t tmpfs numa-k3s-test /data || exit 99
shift
"$@"
rc=$?
${report}
exit "$rc"`;
  const r = run("unshare", ["--mount", "--propagation", "private", "bash", "-c", wrapper, "wrapper", fstab, ...argv]);
  const mounted: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^MOUNT (\S+) (\S+)$/gm)) mounted[m[1]] = m[2];
  const lines = [...r.stdout.matchAll(/^FSTAB (.*)$/gm)].map((m) => m[1]).join("\n");
  return { status: r.status, stderr: r.stderr, mounted, fstab: lines };
}

(ready ? describe : describe.skip)("data disks on a real block device", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "numa-k3s-data-disks-"));
    if (!existsSync("/data")) {
      mkdirSync("/data");
      createdData = true;
    }
  });
  afterAll(() => {
    for (const l of loops) run("losetup", ["-d", l]);
    rmSync(dir, { recursive: true, force: true });
    if (createdData) rmdirSync("/data");
  });

  test("cloud-init's own disk module formats a whole disk that holds data despite overwrite: false (why we do not use it)", () => {
    // The configuration cloud-init documents as safe, run through cloud-init 22.4's real
    // cc_disk_setup.handle: the filesystem is recreated and the file is gone (canonical/cloud-init#3902).
    const lake = loopDevice("upstream-bug", 64);
    withData(lake.device, "lake", "measurements 2026\n");
    const cfg = {
      disk_setup: { [lake.device]: { table_type: "gpt", layout: false, overwrite: false } },
      fs_setup: [{ label: "lake", filesystem: "ext4", device: lake.device, partition: "none", overwrite: false }],
    };
    runCloudInitDiskSetup(cfg);
    expect(kept(lake.device)).toBeNull();
  });

  test("our user-data gives cloud-init's disk module nothing to format: the data survives its real run", () => {
    const lake = loopDevice("module-run", 64);
    withData(lake.device, "lake", "measurements 2026\n");
    const doc = parse(renderUserData(spec([{ device: lake.device, mountPoint: "/data/lake", fsType: "ext4", label: "lake" }])), { version: "1.1" });
    expect(doc.disk_setup).toBeUndefined();
    expect(doc.fs_setup).toBeUndefined();
    runCloudInitDiskSetup(doc);
    expect(kept(lake.device)).toBe("measurements 2026\n");
  });

  test("a lake that holds data keeps it through a first boot and a second one, and mounts by UUID", () => {
    const lake = loopDevice("lake", 64);
    withData(lake.device, "my-old-label", "measurements 2026\n");
    const uuid = must("blkid", ["-p", "-s", "UUID", "-o", "value", lake.device]).trim();
    const fstab = join(dir, "fstab-lake");
    writeFileSync(fstab, "UUID=os-disk / ext4 defaults 0 1\n");
    const userData = renderUserData(spec([{ device: lake.device, mountPoint: "/data/lake", fsType: "ext4", label: "lake" }]));

    const first = boot(userData, fstab);
    expect(first.status).toBe(0);
    expect(first.mounted["/data/lake"]).toBe(lake.device);
    expect(first.fstab.split("\n")).toEqual(["UUID=os-disk / ext4 defaults 0 1", `UUID=${uuid} /data/lake ext4 defaults,noatime,nofail 0 2`]);
    expect(kept(lake.device)).toBe("measurements 2026\n");

    // The same boot again (a reboot, or a new instance-id after a user-data change): no change.
    const second = boot(userData, fstab);
    expect(second.status).toBe(0);
    expect(second.fstab).toBe(first.fstab);
    expect(second.stderr).not.toMatch(/formatted/);
    expect(kept(lake.device)).toBe("measurements 2026\n");
  });

  test("a blank disk is formatted once with its label, then kept", () => {
    const hot = loopDevice("hot", 64);
    const fstab = join(dir, "fstab-hot");
    writeFileSync(fstab, "");
    const userData = renderUserData(spec([{ device: hot.device, mountPoint: "/data/hot", fsType: "ext4", label: "hot" }]));
    const first = boot(userData, fstab);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/formatted .* as ext4, label hot/);
    expect(must("blkid", ["-p", "-s", "LABEL", "-o", "value", hot.device]).trim()).toBe("hot");
    expect(first.mounted["/data/hot"]).toBe(hot.device);
    const uuid = must("blkid", ["-p", "-s", "UUID", "-o", "value", hot.device]).trim();
    const again = boot(userData, fstab);
    expect(again.stderr).not.toMatch(/formatted/);
    expect(must("blkid", ["-p", "-s", "UUID", "-o", "value", hot.device]).trim()).toBe(uuid);
  });

  test("a disk with a partition table is left alone and not mounted; the boot script says so and fails", () => {
    const disk = loopDevice("partitioned", 64);
    must("sfdisk", ["-q", disk.device], "label: gpt\n,\n");
    const before = must("sfdisk", ["--dump", disk.device]);
    const fstab = join(dir, "fstab-partitioned");
    writeFileSync(fstab, "");
    const r = boot(renderUserData(spec([{ device: disk.device, mountPoint: "/data/lake", fsType: "ext4", label: "lake" }])), fstab);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds a gpt partition table, not a filesystem: left as it is, \/data\/lake not mounted/);
    expect(r.mounted["/data/lake"]).toBeUndefined();
    expect(must("sfdisk", ["--dump", disk.device])).toBe(before);
  });

  test("a grown disk's filesystem grows at the next boot, its data intact", () => {
    const hot = loopDevice("grow", 64);
    withData(hot.device, "hot", "clean cache\n");
    const fstab = join(dir, "fstab-grow");
    writeFileSync(fstab, "");
    const userData = renderUserData(spec([{ device: hot.device, mountPoint: "/data/hot", fsType: "ext4", label: "hot" }]));
    expect(boot(userData, fstab).status).toBe(0);
    const blocks = () => Number(/Block count:\s+(\d+)/.exec(must("dumpe2fs", ["-h", hot.device]))![1]);
    const before = blocks();
    must("truncate", ["-s", "128M", hot.file]);
    must("losetup", ["--set-capacity", hot.device]);
    expect(boot(userData, fstab).status).toBe(0);
    expect(blocks()).toBeGreaterThanOrEqual(before * 2 - 16);
    expect(kept(hot.device)).toBe("clean cache\n");
  });

  test("a data disk that is not attached does not stop the boot", () => {
    const fstab = join(dir, "fstab-absent");
    writeFileSync(fstab, "");
    const r = boot(renderUserData(spec([{ device: "/dev/disk/by-id/virtio-not-attached", mountPoint: "/data/local", fsType: "ext4", label: "local" }])), fstab);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/virtio-not-attached is not attached: \/data\/local not mounted/);
    expect(r.fstab).toBe("");
  });

  test("the boot script's name is what cloud-init's log shows", () => {
    const doc = parse(renderUserData(spec([{ device: "/dev/disk/by-id/virtio-hot", mountPoint: "/data/hot", fsType: "ext4", label: "hot" }])), { version: "1.1" });
    expect(doc.bootcmd[0].slice(0, 2)).toEqual(["bash", "-c"]);
    expect(doc.bootcmd[0][3]).toBe(DATA_DISK_SCRIPT_NAME);
  });
});
