// Building blocks of the tests that boot a real guest (test/e2e/): the product's own path from a
// stack config and a placement to the domain XML, seed and VM scripts; the private libvirtd in a
// network namespace of ours (.ci/libvirtd.sh netns-*); SSH into the guest inside that namespace
// only; the guest's serial console for failure messages. Every packet a test sends goes to the
// namespace (`ip netns exec NS ssh ...`); nothing leaves it.
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { instanceId } from "../../guest/cloud-init";
import { seedFiles } from "../../components/NumaPinnedVm";
import { createScript, VmScriptParams } from "../../hypervisor/vm-scripts";
import { bashCommand } from "../../common/remote-script";
import type { StackConfig } from "../../stacks/config";
import { vmDescriptionOf } from "../../stacks/vm-specs";
import { domainSpecOf, scriptParamsOf } from "../../hypervisor/vm-description";
import type { HostTopology } from "../../topology/host-topology";
import { renderDomainXml } from "../../topology/domain-xml";
import type { VmPlacement } from "../../topology/placement";
import type { Tool } from "../tools";

export const REPO = resolve(__dirname, "../..");

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, env: opts.env, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}
export function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}${r.error ? ` (${r.error.message})` : ""}: ${r.stderr.trim()}`);
  return r.stdout;
}
/** Blocks the (test's only) thread: these tests poll states, one step after the other. */
export const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** What booting a guest needs on the host, with the Debian package of each. */
export const GUEST_TOOLS: Tool[] = [
  ["virsh", "libvirt-clients"],
  ["/usr/sbin/libvirtd", "libvirt-daemon-system"],
  ["qemu-system-x86_64", "qemu-system-x86"],
  ["qemu-img", "qemu-utils"],
  ["mmdebstrap", "mmdebstrap"],
  ["ssh", "openssh-client"],
  ["ssh-keygen", "openssh-client"],
  ["ip", "iproute2"],
  ["nsenter", "util-linux"],
  ["losetup", "mount"],
  ["mkfs.ext4", "e2fsprogs"],
  ["genisoimage", "genisoimage"],
];

// ---------------------------------------------------------------------------------------------
// The product, from a stack config and a placement to what the VM scripts take. stacks/vm-specs.ts,
// hypervisor/vm-description.ts and the seed files of components/NumaPinnedVm.ts are the product's
// own path; this only overrides what a test must (shorter waits).
export interface ProductVm {
  xml: string;
  params: VmScriptParams;
  seed: { "user-data": string; "meta-data": string; "network-config": string };
  instanceId: string;
}
export function productVm(cfg: StackConfig, topology: HostTopology, placement: VmPlacement): ProductVm {
  const description = vmDescriptionOf(cfg, cfg.hosts[0], topology, cfg.vms[0], placement);
  const params: VmScriptParams = {
    ...scriptParamsOf(description),
    // TCG boots in minutes at most; ten would hide a hang behind the suite's budget.
    waitForGuest: { enabled: true, timeoutSeconds: 300 },
    shutdownTimeoutSeconds: 60,
  };
  const guest = description.guest;
  return { xml: renderDomainXml(placement, domainSpecOf(description)), params, seed: seedFiles(guest), instanceId: instanceId(guest) };
}

/** Writes the seed files where the product uploads them. */
export function writeSeed(vm: ProductVm): void {
  mkdirSync(vm.params.seed.dir, { recursive: true });
  for (const [file, text] of Object.entries(vm.seed)) writeFileSync(join(vm.params.seed.dir, file), text);
}

/** Runs a VM script as sshd would (the domain XML on stdin); its stderr, or an error with it and
 * the console's tail. */
export function runVmScript(script: string, vm: ProductVm, console?: GuestConsole, withXml = true): string {
  writeSeed(vm);
  const r = run("sh", ["-c", bashCommand(script)], { input: withXml ? vm.xml : "", timeoutMs: 900_000 });
  if (r.status !== 0) throw new Error(`script exited ${r.status}:\n${r.stderr}\n--- guest console (tail) ---\n${console?.tail() ?? ""}`);
  return r.stderr;
}

/** The create script, run while the console is followed from the moment the domain runs. */
export async function createVm(vm: ProductVm, console: GuestConsole): Promise<string> {
  writeSeed(vm);
  const script = spawn("sh", ["-c", bashCommand(createScript(vm.params))], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  script.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  script.stdin!.end(vm.xml);
  const exited = new Promise<number | null>((done) => script.on("exit", done));
  await new Promise<void>((started) => {
    script.stderr!.on("data", () => /started/.test(stderr) && started());
    script.on("exit", () => started());
  });
  console.follow();
  const status = await exited;
  if (status !== 0) throw new Error(`create exited ${status}:\n${stderr}\n--- guest console (tail) ---\n${console.tail()}`);
  return stderr;
}

// ---------------------------------------------------------------------------------------------
// The private libvirtd in a network namespace (.ci/libvirtd.sh netns-*).
export interface NetnsLibvirtd {
  netns: string;
  /** The URI that reaches the private daemon from the root namespace. */
  uri: string;
  /** The bridge's address in the namespace, without prefix: the guests' gateway. */
  gateway: string;
  /** Whether this run started it (and so stops it). */
  started: boolean;
}
/** Starts (or finds) the private libvirtd of namespace `netns`, whose bridge gets `addressCidr`. */
export function netnsLibvirtd(netns: string, addressCidr: string): NetnsLibvirtd {
  const env = { ...process.env, NUMA_K3S_NETNS: netns, NUMA_K3S_NETNS_ADDRESS: addressCidr };
  const script = join(REPO, ".ci/libvirtd.sh");
  let started = false;
  if (run("bash", [script, "netns-status"], { env }).status !== 0) {
    must("bash", [script, "netns-start"], { env, timeoutMs: 120_000 });
    started = true;
  }
  return { netns, uri: must("bash", [script, "netns-uri"], { env }).trim(), gateway: addressCidr.split("/")[0], started };
}
export function stopNetnsLibvirtd(l: NetnsLibvirtd): void {
  if (!l.started) return;
  const env = { ...process.env, NUMA_K3S_NETNS: l.netns, NUMA_K3S_NETNS_ADDRESS: `${l.gateway}/24` };
  run("bash", [join(REPO, ".ci/libvirtd.sh"), "netns-stop"], { env, timeoutMs: 60_000 });
}

// ---------------------------------------------------------------------------------------------
// The guest's serial console, read from its pty into a file, for failure messages.
export class GuestConsole {
  private reader?: ChildProcess;
  constructor(
    private readonly uri: string,
    private readonly domain: string,
    private readonly file: string,
  ) {}
  follow(): void {
    this.reader?.kill();
    const pty = run("virsh", ["-q", "-c", this.uri, "ttyconsole", this.domain]).stdout.trim();
    if (!pty.startsWith("/dev/pts/")) return;
    this.reader = spawn("cat", [pty], { stdio: ["ignore", openSync(this.file, "a"), "ignore"] });
  }
  tail(lines = 40): string {
    return existsSync(this.file) ? readFileSync(this.file, "utf8").split("\n").slice(-lines).join("\n") : "(no console captured)";
  }
  stop(): void {
    this.reader?.kill();
  }
}

// ---------------------------------------------------------------------------------------------
// SSH into the guest, inside the namespace only.

// What ssh says (exit 255) when sshd is not there for a moment: restarted by a boot step, or slow
// to accept under load. The command never ran, so it is run again.
const NOT_CONNECTED = /Connection refused|Connection reset|Connection closed|Connection timed out|timed out during banner|kex_exchange_identification|No route to host/;

export class GuestShell {
  /** Seconds each awaited state took, by name, for the test's timing line. */
  readonly timings: Record<string, number> = {};
  constructor(
    readonly netns: string,
    readonly user: string,
    readonly address: string,
    readonly keyFile: string,
    private readonly console?: GuestConsole,
  ) {}

  /** One SSH session, whatever becomes of it. */
  once(command: string, opts: { timeoutMs?: number; input?: string } = {}): RunResult {
    return run(
      "ip",
      ["netns", "exec", this.netns, "ssh", "-i", this.keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", `${this.user}@${this.address}`, command],
      { timeoutMs: opts.timeoutMs ?? 60_000, input: opts.input },
    );
  }
  /** `command` in the guest; a connection sshd refused or dropped before the command ran is tried
   * again until a deadline (a guard against a guest that never answers, not a timing). */
  ssh(command: string, opts: { timeoutMs?: number; input?: string } = {}): RunResult {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const r = this.once(command, opts);
      if (r.status !== 255 || !NOT_CONNECTED.test(r.stderr) || Date.now() > deadline) return r;
      sleepSync(2000);
    }
  }
  /** stdout of `command`, trimmed; an error naming the command when it fails. */
  inGuest(command: string, opts: { timeoutMs?: number; input?: string } = {}): string {
    const r = this.ssh(command, opts);
    if (r.status !== 0) throw new Error(`in the guest: ${command}: exit ${r.status}: ${r.stderr.trim()}${r.stdout.trim() ? `\n${r.stdout.trim()}` : ""}`);
    return r.stdout.trim();
  }
  waitForSsh(what: string, until: () => boolean = () => true, timeoutS = 300): void {
    const started = Date.now();
    while (Date.now() - started < timeoutS * 1000) {
      if (this.once("true", { timeoutMs: 20_000 }).status === 0 && until()) {
        this.timings[what] = Math.round((Date.now() - started) / 1000);
        return;
      }
      sleepSync(3000);
    }
    // The console says why more often than not; name the one cause seen on real images.
    const tail = this.console?.tail() ?? "";
    const noSeed = /Used fallback datasource/.test(tail) ? " (cloud-init found no NoCloud seed: can the guest's kernel see the seed CD-ROM's bus?)" : "";
    throw new Error(`${what}: no SSH login to ${this.user}@${this.address} within ${timeoutS} s${noSeed}\n--- guest console (tail) ---\n${tail}`);
  }
  /**
   * Waits for a boot that stays booted: SSH answers with a boot id other than `previous`, then
   * systemd says the boot is over (`is-system-running --wait` returns once no start job is left).
   * An SSH answer alone is not it: sshd may answer once and be restarted a moment later.
   */
  waitForBoot(what: string, previous?: string, timeoutS = 300): void {
    this.waitForSsh(what, () => {
      const id = this.once("cat /proc/sys/kernel/random/boot_id").stdout.trim();
      return id !== "" && id !== previous;
    }, timeoutS);
    const state = this.ssh("systemctl is-system-running --wait", { timeoutMs: 600_000 });
    if (!/^(running|degraded)$/.test(state.stdout.trim())) throw new Error(`${what}: systemctl is-system-running --wait: '${state.stdout.trim()}' ${state.stderr.trim()}`);
    if (state.stdout.trim() === "degraded") console.log(`${what}: degraded: ${this.ssh("systemctl --failed --no-legend").stdout.trim()}`);
  }
  /** Waits for cloud-init to finish; its status line. */
  cloudInitDone(): string {
    const r = this.ssh("cloud-init status --wait --long", { timeoutMs: 300_000 });
    if (r.status === 255) throw new Error(`cloud-init status: no SSH session: ${r.stderr.trim()}`);
    return r.stdout;
  }
}
