// Data safety, proven with the code that would do the damage: cloud-init's own disk module and our
// boot script, run for real against loop devices that already hold data. Each damaged disk is
// also given to the script as it was before issue 16 (test/fixtures/data-disks/before-issue-16.sh),
// which formatted it: the marker it held was lost there, and is kept now. The guest side of the
// "never wipe a data disk" rule (the host side is in test/hypervisor/vm-scripts.test.ts).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { DATA_DISK_SCRIPT_NAME, GuestMount, GuestSpec, renderUserData } from "../../guest/cloud-init";
import { POD_DIRS } from "../../guest/data-mounts";
import { requireTools } from "../tools";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb7vTestKeyOnlyNotARealOne ops@laptop";
const BEFORE_ISSUE_16 = resolve(__dirname, "../fixtures/data-disks/before-issue-16.sh");

function run(cmd: string, args: string[], input?: string | Buffer) {
  const r = spawnSync(cmd, args, { input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
function must(cmd: string, args: string[], input?: string | Buffer): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

const isRoot = process.getuid?.() === 0;
const ready = requireTools("test/guest/data-disks.test.ts", [
  ["losetup", "mount"],
  ["wipefs", "util-linux"],
  ["unshare", "util-linux"],
  ["cmp", "diffutils"],
  ["mkfs.ext4", "e2fsprogs"],
  ["debugfs", "e2fsprogs"],
  ["mkfs.xfs", "xfsprogs"],
  ["pvcreate", "lvm2"],
  ["sfdisk", "fdisk"],
  ["/usr/bin/python3", "python3"],
]) && (isRoot || skipBecause("test/guest/data-disks.test.ts needs root (loop devices, mounts)"));

function skipBecause(why: string): boolean {
  if (process.env.CI === "true") throw new Error(`${why}; CI runs every test`);
  console.log(`${why}: skipped`);
  return false;
}

let dir: string;
const loops: string[] = [];
const links: string[] = [];

/** A loop device over `file` (a sparse image). */
function attach(file: string): string {
  const device = must("losetup", ["--find", "--show", file]).trim();
  loops.push(device);
  return device;
}
function detach(device: string): void {
  must("losetup", ["-d", device]);
  loops.splice(loops.indexOf(device), 1);
}
/** A loop device over a new sparse file of `mib` MiB. */
function loopDevice(name: string, mib: number): { device: string; file: string } {
  const file = join(dir, `${name}.img`);
  must("truncate", ["-s", `${mib}M`, file]);
  return { device: attach(file), file };
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

// What every damaged disk holds: about 60 KiB of text, as a file or as raw bytes. It is found again
// by its last line, which only a whole copy of it holds.
const MARKER = Array.from({ length: 3000 }, (_, i) => `numa-k3s-marker-${i + 1}`).join(" ") + " end-of-marker\n";
const MARKER_END = Buffer.from("numa-k3s-marker-3000 end-of-marker");
function markerFile(): string {
  const file = join(dir, "marker.txt");
  writeFileSync(file, MARKER);
  return file;
}
/** How many whole markers the device holds, read through the device itself. */
function markersOn(device: string): number {
  const bytes = readFileSync(device);
  let n = 0;
  for (let at = bytes.indexOf(MARKER_END); at >= 0; at = bytes.indexOf(MARKER_END, at + 1)) n++;
  return n;
}
const digestOf = (device: string) => createHash("sha256").update(readFileSync(device)).digest("hex");
/** Writes `bytes` into `file` at byte `offset`, keeping the rest. */
function poke(file: string, offset: number, bytes: Buffer | string): void {
  must("dd", [`of=${file}`, "bs=1M", `seek=${offset}`, "oflag=seek_bytes", "conv=notrunc", "status=none"], bytes);
}
function zero(file: string, offset: number, length: number): void {
  must("dd", ["if=/dev/zero", `of=${file}`, "bs=512", `seek=${offset / 512}`, `count=${length / 512}`, "conv=notrunc", "status=none"]);
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
const hot = (device: string): GuestMount => ({ device, mountPoint: "/data/hot", fsType: "ext4", label: "hot", format: "when-blank" });
const lake = (device: string, format: GuestMount["format"] = "never"): GuestMount => ({ device, mountPoint: "/data/lake", fsType: "ext4", label: "lake", format });
const local = (device: string): GuestMount => ({ device, mountPoint: "/data/local", fsType: "ext4", label: "local", format: "when-blank" });

interface Boot {
  status: number;
  stderr: string;
  /** mount point -> the device mounted there */
  mounted: Record<string, string>;
  fstab: string;
  /** the data mount points below which the pods' directory exists, as a pod would find it */
  podDirs: string[];
}

/**
 * One boot of a guest, in a private mount namespace: /etc/fstab is `machine`'s scratch copy and
 * /data its directory (the OS disk's /data: what one boot leaves there, the next finds), so that
 * nothing on this machine changes. `argv` runs as cloud-init runs bootcmd; afterwards each mount
 * point, the pods' directories and the fstab lines are reported from inside the namespace.
 */
function bootWith(machine: string, argv: string[]): Boot {
  const report = `
for mp in /data/local /data/hot /data/lake; do
  src=$(findmnt -n -o SOURCE --mountpoint "$mp" 2>/dev/null) && echo "MOUNT $mp $src"
  [[ -d $mp/numa-k3s ]] && echo "PODDIR $mp/numa-k3s"
done
sed 's/^/FSTAB /' /etc/fstab`;
  const wrapper = `mount --bind "$1/fstab" /etc/fstab && mount --bind "$1/data" /data || exit 99
shift
"$@"
rc=$?
${report}
exit "$rc"`;
  const r = run("unshare", ["--mount", "--propagation", "private", "bash", "-c", wrapper, "wrapper", machine, ...argv]);
  const mounted: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^MOUNT (\S+) (\S+)$/gm)) mounted[m[1]] = m[2];
  const podDirs = [...r.stdout.matchAll(/^PODDIR (\S+)$/gm)].map((m) => m[1]);
  const lines = [...r.stdout.matchAll(/^FSTAB (.*)$/gm)].map((m) => m[1]).join("\n");
  return { status: r.status, stderr: r.stderr, mounted, fstab: lines, podDirs };
}
/** A boot with the user-data's bootcmd, as cloud-init runs it (the argv as written). */
function boot(userData: string, machine: string): Boot {
  const doc = parse(userData, { version: "1.1" });
  return bootWith(machine, doc.bootcmd[0]);
}
/** A boot with the script before issue 16, for one disk. */
function bootBefore(disk: GuestMount, machine: string): Boot {
  return bootWith(machine, ["bash", BEFORE_ISSUE_16, disk.device, disk.mountPoint, disk.label]);
}
let machines = 0;
/** A guest's OS disk, as far as the script sees it: an empty /data and an fstab. */
function newMachine(fstab = ""): string {
  const machine = join(dir, `machine-${++machines}`);
  mkdirSync(join(machine, "data"), { recursive: true });
  writeFileSync(join(machine, "fstab"), fstab);
  return machine;
}
/** How many of the script's lines name `device`. */
const linesAbout = (stderr: string, device: string) => stderr.split("\n").filter((l) => l.includes(device)).length;

// Disks that hold data but no signature wipefs or blkid know: each builder writes the marker and
// then does the damage, on the image file.
const damaged: Array<[string, (image: string) => void]> = [
  [
    "ext4 whose magic bytes at 0x438 are zeroed (backup superblocks intact)",
    (image) => {
      must("truncate", ["-s", "64M", image]);
      must("mkfs.ext4", ["-q", "-F", image]);
      must("debugfs", ["-w", "-R", `write ${markerFile()} keep.txt`, image]);
      poke(image, 0x438, Buffer.alloc(2));
    },
  ],
  [
    "ext4 whose first 4 KiB are zeroed",
    (image) => {
      must("truncate", ["-s", "64M", image]);
      must("mkfs.ext4", ["-q", "-F", image]);
      must("debugfs", ["-w", "-R", `write ${markerFile()} keep.txt`, image]);
      zero(image, 0, 4096);
    },
  ],
  [
    "XFS whose magic is zeroed",
    (image) => {
      must("truncate", ["-s", "320M", image]);
      // mkfs.xfs' prototype file puts the marker in the new filesystem, no mount needed.
      const proto = join(dir, "xfs.proto");
      writeFileSync(proto, `numa-k3s\n0 0\nd--755 0 0\nkeep.txt ---644 0 0 ${markerFile()}\n$\n`);
      must("mkfs.xfs", ["-q", "-p", proto, image]);
      poke(image, 0, Buffer.alloc(4));
    },
  ],
  [
    "LVM physical volume whose label sector is zeroed",
    (image) => {
      must("truncate", ["-s", "64M", image]);
      const device = attach(image);
      // Only this device, no metadata backups in /etc/lvm: nothing of this machine's LVM changes.
      const lvm = ["--devices", device, "--config", "backup { backup = 0 archive = 0 }"];
      must("pvcreate", ["-qq", ...lvm, device]);
      must("vgcreate", ["-qq", ...lvm, `numa-k3s-test-${process.pid}-${loops.length}`, device]);
      detach(device);
      // The first physical extent starts at 1 MiB: where the volumes' data lies.
      poke(image, 1024 * 1024, MARKER);
      zero(image, 512, 512);
    },
  ],
  [
    "GPT disk whose protective MBR and primary GPT are zeroed, grown since it was partitioned (the backup GPT and the ext4 partition intact)",
    (image) => {
      must("truncate", ["-s", "64M", image]);
      must("sfdisk", ["-q", image], "label: gpt\n,\n");
      const partition = `${image}.part`;
      must("truncate", ["-s", "62M", partition]);
      must("mkfs.ext4", ["-q", "-F", partition]);
      must("debugfs", ["-w", "-R", `write ${markerFile()} keep.txt`, partition]);
      must("dd", [`if=${partition}`, `of=${image}`, "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"]);
      rmSync(partition);
      zero(image, 0, 34 * 512);
      // This program grows disks; the backup GPT then no longer sits in the last sector, where
      // wipefs looks for it (without the growth wipefs finds it: the next test).
      must("truncate", ["-s", "96M", image]);
    },
  ],
  [
    "zeroed disk with data at 1 MiB",
    (image) => {
      must("truncate", ["-s", "64M", image]);
      poke(image, 1024 * 1024, MARKER);
    },
  ],
];

(ready ? describe : describe.skip)("data disks on a real block device", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "numa-k3s-data-disks-"));
  });
  afterAll(() => {
    for (const l of links) rmSync(l, { force: true });
    for (const l of [...loops]) run("losetup", ["-d", l]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("cloud-init's own disk module formats a whole disk that holds data despite overwrite: false (why we do not use it)", () => {
    // The configuration cloud-init documents as safe, run through cloud-init 22.4's real
    // cc_disk_setup.handle: the filesystem is recreated and the file is gone (canonical/cloud-init#3902).
    const disk = loopDevice("upstream-bug", 64);
    withData(disk.device, "lake", "measurements 2026\n");
    const cfg = {
      disk_setup: { [disk.device]: { table_type: "gpt", layout: false, overwrite: false } },
      fs_setup: [{ label: "lake", filesystem: "ext4", device: disk.device, partition: "none", overwrite: false }],
    };
    runCloudInitDiskSetup(cfg);
    expect(kept(disk.device)).toBeNull();
  });

  test("our user-data gives cloud-init's disk module nothing to format: the data survives its real run", () => {
    const disk = loopDevice("module-run", 64);
    withData(disk.device, "lake", "measurements 2026\n");
    const doc = parse(renderUserData(spec([lake(disk.device)])), { version: "1.1" });
    expect(doc.disk_setup).toBeUndefined();
    expect(doc.fs_setup).toBeUndefined();
    runCloudInitDiskSetup(doc);
    expect(kept(disk.device)).toBe("measurements 2026\n");
  });

  describe.each(damaged)("%s", (name, build) => {
    test("is left alone, not a byte changed, saying why once; the script before issue 16 formatted it and the marker was lost", () => {
      const image = join(dir, `${name.replace(/[^a-z0-9]+/gi, "-")}.img`);
      build(image);
      const before = `${image}.before-issue-16`;
      must("cp", ["--sparse=always", image, before]);
      const device = attach(image);
      expect(markersOn(device)).toBe(1);
      const digest = digestOf(device);

      const now = boot(renderUserData(spec([hot(device)])), newMachine());
      expect(now.status).toBe(1);
      expect(now.stderr).toMatch(new RegExp(`${device} holds .*: left as it is, /data/hot not mounted`));
      expect(linesAbout(now.stderr, device)).toBe(1);
      expect(now.mounted["/data/hot"]).toBeUndefined();
      expect(now.podDirs).toEqual([]);
      expect(digestOf(device)).toBe(digest);

      const old = attach(before);
      const then = bootBefore(hot(old), newMachine());
      expect(then.stderr).toMatch(/formatted .* \(it held no signature\) as ext4/);
      expect(markersOn(old)).toBe(0);
    });
  });

  test("a GPT disk whose primary table is gone but whose backup GPT is in the last sector: wipefs sees the backup, and the disk is left alone, saying what it holds", () => {
    const disk = loopDevice("gpt-backup", 64);
    must("sfdisk", ["-q", disk.device], "label: gpt\n,\n");
    zero(disk.device, 0, 34 * 512);
    const digest = digestOf(disk.device);
    const r = boot(renderUserData(spec([hot(disk.device)])), newMachine());
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${disk.device} holds gpt at 0x[0-9a-f]+ \\(wipefs\\), not a filesystem: left as it is, /data/hot not mounted`));
    expect(digestOf(disk.device)).toBe(digest);
  });

  test("a lake that holds data keeps it through a first boot and a second one, mounts by UUID, and gets the pods' directory on its own filesystem", () => {
    const disk = loopDevice("lake", 64);
    withData(disk.device, "my-old-label", "measurements 2026\n");
    const uuid = must("blkid", ["-p", "-s", "UUID", "-o", "value", disk.device]).trim();
    const machine = newMachine("UUID=os-disk / ext4 defaults 0 1\n");
    const userData = renderUserData(spec([lake(disk.device)]));

    const first = boot(userData, machine);
    expect(first.status).toBe(0);
    expect(first.mounted["/data/lake"]).toBe(disk.device);
    expect(first.fstab.split("\n")).toEqual(["UUID=os-disk / ext4 defaults 0 1", `UUID=${uuid} /data/lake ext4 defaults,noatime,nofail 0 2`]);
    expect(first.podDirs).toEqual([POD_DIRS.lake]);
    expect(kept(disk.device)).toBe("measurements 2026\n");
    expect(run("debugfs", ["-R", "stat /numa-k3s", disk.device]).stdout).toMatch(/Type: directory/);

    // The same boot again (a reboot, or a new instance-id after a user-data change): no change.
    const second = boot(userData, machine);
    expect(second.status).toBe(0);
    expect(second.fstab).toBe(first.fstab);
    expect(second.stderr).not.toMatch(/formatted/);
    expect(kept(disk.device)).toBe("measurements 2026\n");
  });

  test("a blank disk is formatted once with its label (never discarded), then kept", () => {
    const disk = loopDevice("hot", 64);
    const machine = newMachine();
    const userData = renderUserData(spec([hot(disk.device)]));
    const first = boot(userData, machine);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/formatted .* as ext4, label hot \(it read as blank: no signature, every sampled byte zero\)/);
    expect(must("blkid", ["-p", "-s", "LABEL", "-o", "value", disk.device]).trim()).toBe("hot");
    expect(first.mounted["/data/hot"]).toBe(disk.device);
    expect(first.podDirs).toEqual([POD_DIRS.hot]);
    const uuid = must("blkid", ["-p", "-s", "UUID", "-o", "value", disk.device]).trim();
    const again = boot(userData, machine);
    expect(again.stderr).not.toMatch(/formatted/);
    expect(must("blkid", ["-p", "-s", "UUID", "-o", "value", disk.device]).trim()).toBe(uuid);
  });

  test("formatting discards nothing: data between the sampled ranges survives the format; the script before issue 16 discarded it", () => {
    // Sampling reads a spread of ranges, not every byte: 60 KiB between two of them (at
    // 20 MiB + 128 KiB of a 64 MiB disk, where mkfs.ext4 writes nothing) is not seen, and the
    // disk reads as blank. Without a discard, the format leaves those bytes where they were.
    const image = join(dir, "between-samples.img");
    must("truncate", ["-s", "64M", image]);
    poke(image, (20 * 1024 + 128) * 1024, MARKER);
    const before = `${image}.before-issue-16`;
    must("cp", ["--sparse=always", image, before]);
    const device = attach(image);
    const r = boot(renderUserData(spec([hot(device)])), newMachine());
    expect(r.stderr).toMatch(/formatted/);
    expect(markersOn(device)).toBe(1);
    const old = attach(before);
    expect(bootBefore(hot(old), newMachine()).stderr).toMatch(/formatted/);
    expect(markersOn(old)).toBe(0);
  });

  test("a blank lake is never formatted without the stack's opt-in: left blank, not mounted, no pods' directory; with lakeFormat it is formatted", () => {
    const disk = loopDevice("blank-lake", 64);
    const refused = boot(renderUserData(spec([lake(disk.device)])), newMachine());
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`${disk.device} reads as blank, but this disk is never formatted unless the stack opts in \\(numa-k3s:vms\\[\\]\\.disks\\.lakeFormat: true\\): left as it is, /data/lake not mounted`));
    expect(linesAbout(refused.stderr, disk.device)).toBe(1);
    expect(refused.mounted["/data/lake"]).toBeUndefined();
    expect(refused.podDirs).toEqual([]);
    expect(run("cmp", ["-n", String(64 * 1024 * 1024), disk.device, "/dev/zero"]).status).toBe(0);

    const optedIn = boot(renderUserData(spec([lake(disk.device, "when-blank")])), newMachine());
    expect(optedIn.status).toBe(0);
    expect(optedIn.stderr).toMatch(/formatted .* as ext4, label lake/);
    expect(optedIn.mounted["/data/lake"]).toBe(disk.device);
    expect(optedIn.podDirs).toEqual([POD_DIRS.lake]);
  });

  test("the pods' directory exists only on the mounted filesystem: with the disk gone, the mount point left on the OS disk has none", () => {
    const disk = loopDevice("gone", 64);
    // The disk's stable name, a link in /dev as /dev/disk/by-id/ gives it: gone when the disk is.
    const byId = `/dev/numa-k3s-test-${process.pid}-gone`;
    symlinkSync(disk.device, byId);
    links.push(byId);
    const machine = newMachine();
    const userData = renderUserData(spec([hot(byId)]));
    const present = boot(userData, machine);
    expect(present.mounted["/data/hot"]).toBe(disk.device);
    expect(present.podDirs).toEqual([POD_DIRS.hot]);
    unlinkSync(byId);
    // The next boot without the disk: /data/hot is still there on the OS disk (the earlier boot
    // made it), empty, and nothing creates the pods' directory in it.
    const absent = boot(userData, machine);
    expect(absent.status).toBe(0);
    expect(absent.stderr).toMatch(new RegExp(`${byId} is not attached: /data/hot not mounted`));
    expect(absent.mounted).toEqual({});
    expect(absent.podDirs).toEqual([]);
    expect(run("ls", ["-A", join(machine, "data", "hot")]).stdout).toBe("");
  });

  test("a disk with a partition table is left alone and not mounted; the boot script says so and fails", () => {
    const disk = loopDevice("partitioned", 64);
    must("sfdisk", ["-q", disk.device], "label: gpt\n,\n");
    const before = must("sfdisk", ["--dump", disk.device]);
    const r = boot(renderUserData(spec([lake(disk.device, "when-blank")])), newMachine());
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds gpt at 0x200, .*\(wipefs\), not a filesystem: left as it is, \/data\/lake not mounted/);
    expect(r.mounted["/data/lake"]).toBeUndefined();
    expect(must("sfdisk", ["--dump", disk.device])).toBe(before);
  });

  test("a grown disk's filesystem grows at the next boot, its data intact", () => {
    const disk = loopDevice("grow", 64);
    withData(disk.device, "hot", "clean cache\n");
    const machine = newMachine();
    const userData = renderUserData(spec([hot(disk.device)]));
    expect(boot(userData, machine).status).toBe(0);
    const blocks = () => Number(/Block count:\s+(\d+)/.exec(must("dumpe2fs", ["-h", disk.device]))![1]);
    const before = blocks();
    must("truncate", ["-s", "128M", disk.file]);
    must("losetup", ["--set-capacity", disk.device]);
    expect(boot(userData, machine).status).toBe(0);
    expect(blocks()).toBeGreaterThanOrEqual(before * 2 - 16);
    expect(kept(disk.device)).toBe("clean cache\n");
  });

  test("a data disk that is not attached does not stop the boot", () => {
    const r = boot(renderUserData(spec([local("/dev/disk/by-id/virtio-not-attached")])), newMachine());
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/virtio-not-attached is not attached: \/data\/local not mounted/);
    expect(r.fstab).toBe("");
  });

  test("the boot script's name is what cloud-init's log shows", () => {
    const doc = parse(renderUserData(spec([hot("/dev/disk/by-id/virtio-hot")])), { version: "1.1" });
    expect(doc.bootcmd[0].slice(0, 2)).toEqual(["bash", "-c"]);
    expect(doc.bootcmd[0][3]).toBe(DATA_DISK_SCRIPT_NAME);
  });
});
