// The zod schema of a stack's config (Pulumi.<stack>.yaml, keys under `numa-k3s:`), and the one
// way both the Pulumi program and the offline commands read it. Errors name the file and the key.
import { isIP } from "node:net";
import { posix } from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { PUBLIC_KEY } from "../guest/cloud-init";
import { lanProblems } from "../guest/lan";
import { SlmSectionSchema } from "../slm/ensemble";
import { DEFAULT_LAKE_SIZE_GIB } from "../platform/datalake";
import { HostPrepSchema } from "../hostprep/config";
import { INSTALL_SCRIPT_SHA256, K3S_VERSION, K3S_VERSION_PATTERN, SHA256_HEX, installerUrl } from "../k3s/version";
import { LAYOUTS, LAYOUT_PROFILES } from "../k3s/layouts";
import { HostRequestSchema, PlacementRequest, PlacementRequestSchema, ReserveSchema, VmRequestSchema } from "../topology/request";
import { InputError } from "../common/user-error";
import { nearest, problemLine } from "../common/config-errors";
import { flag, positiveNumber, wholeNumber, wholeNumberIn } from "../common/config-values";
import { ABSOLUTE_PATH, ABSOLUTE_PATH_HINT, BY_ID_DEVICE, BY_ID_DEVICE_HINT, DEFAULT_LIBVIRT_URI, DNS_LABEL, DNS_LABEL_HINT, HOST_ADDRESS_HINT, IMAGE_REFERENCE, INTERFACE_NAME, INTERFACE_NAME_HINT, LIBVIRT_URI, LIBVIRT_URI_HINT, LOGIN_NAME, MAC, MAC_HINT, PACKAGE_NAME, PACKAGE_NAME_HINT, PINNED_IMAGE_HINT, isHostAddress, isPinnedImage } from "../common/formats";

export const CONFIG_NAMESPACE = "numa-k3s";

const ipv4 = z.string().refine((s) => isIP(s) === 4, "must be an IPv4 address such as 192.168.50.11");
const absolutePath = z.string().regex(ABSOLUTE_PATH, ABSOLUTE_PATH_HINT);
/** What `ssh` and Pulumi dial; checked, since `capture` and `host-check` hand it to the ssh binary. */
const hostAddress = z.string().refine(isHostAddress, HOST_ADDRESS_HINT);

export const SshSchema = z
  .object({
    /** Address the Pulumi engine reaches the hypervisor's sshd at. */
    address: hostAddress,
    user: z.string().regex(LOGIN_NAME, "must be a login name (lowercase letters, digits, '_', '-'; not starting with '-')").default("root"),
    port: wholeNumberIn(1, 65535).default(22),
  })
  .strict();

export const LibvirtSchema = z
  .object({
    uri: z.string().regex(LIBVIRT_URI, LIBVIRT_URI_HINT).default(DEFAULT_LIBVIRT_URI),
    /** Directory for the VMs' volumes and seed ISOs (one sub-directory per VM). */
    poolDir: absolutePath.default("/var/lib/libvirt/images/numa-k3s"),
    /** The cloud image every VM's OS disk is an overlay of (qcow2, already on the hypervisor). */
    baseImage: absolutePath,
    bridge: z.string().regex(INTERFACE_NAME, INTERFACE_NAME_HINT).default("br0"),
    /** kvm on real hosts; qemu (TCG) where /dev/kvm is absent, e.g. in CI. */
    domainType: z.enum(["kvm", "qemu"]).default("kvm"),
  })
  .strict();

export const StackHostSchema = HostRequestSchema.extend({
  ssh: SshSchema,
  libvirt: LibvirtSchema,
  /** Host preparation from the plan (hostprep/config.ts documents each key): CPU isolation, huge
   * pages, governor, base image download, allowReboot. Default: cmdline isolation, no reboot. */
  prepare: HostPrepSchema.prefault({}),
}).strict();
export type StackHost = z.infer<typeof StackHostSchema>;

/** The smallest OS disk a k8s node works on: Debian's cloud image grows into it, and containerd's
 * image store (the platform's and the model servers' images) lives there too. */
export const MIN_OS_GIB = 10;

export const DisksSchema = z
  .object({
    /** OS disk (qcow2 overlay on the base image), GiB. At least MIN_OS_GIB: it holds the cloud
     * image's own system, K3s and every container image the k8s node pulls. */
    osGiB: wholeNumber(1)
      .refine((n) => n >= MIN_OS_GIB, `is too small: the OS disk holds the cloud image (2-3 GiB), K3s and the node's container images (several GiB with the platform's); use ${MIN_OS_GIB} or more (40 is the default)`)
      .default(40),
    /** Local staging disk mounted at /data/local ("write local, sweep remote"), GiB. */
    stagingGiB: wholeNumber(1).optional(),
    /** Hot tier on the SSD mounted at /data/hot (the lake's metadata and hot zones), GiB. Only
     * with lakeDevice: the disk is named by its lake. A data disk: kept on delete. */
    hotGiB: wholeNumber(1).optional(),
    /** The data-lake HDD passed through whole, mounted at /data/lake: its /dev/disk/by-id/ path.
     * Never formatted unless lakeFormat. */
    lakeDevice: z.string().regex(BY_ID_DEVICE, BY_ID_DEVICE_HINT).optional(),
    /** Let the guest format the lake HDD (ext4) when it reads as blank. Without it the lake is only
     * ever mounted: a blank or unreadable lake is left alone. Render and preview warn while set. */
    lakeFormat: flag().optional(),
  })
  .strict();

export const StackVmSchema = VmRequestSchema.extend({
  /** What runs on it; becomes the k8s node's `workload` label and taint. */
  workload: z.enum(["slm", "data", "tasks"]),
  /** K3s role: a server (control plane) or an agent. */
  k3sRole: z.enum(["server", "agent"]).default("agent"),
  /** Static IPv4 address on the bridge; the prefix, gateway and DNS come from `network`. */
  address: ipv4,
  /** NIC MAC; derived from the VM name when absent (stable across re-creation). */
  mac: z.string().regex(MAC, MAC_HINT).optional(),
  disks: DisksSchema.default({ osGiB: 40 }),
  /** VNC console on 127.0.0.1 of the hypervisor (reach it through an SSH tunnel). */
  vnc: flag().default(false),
}).strict();
export type StackVm = z.infer<typeof StackVmSchema>;

export const NetworkSchema = z
  .object({
    prefixLength: wholeNumberIn(8, 30).default(24),
    gateway: ipv4,
    nameservers: z.array(ipv4).min(1),
    /** DNS domain of the VMs (fqdn = name.domain). */
    domain: z.string().optional(),
  })
  .strict();

export const AdminSchema = z
  .object({
    /** The one login user of every VM: SSH keys only, passwordless sudo. */
    user: z
      .string()
      .regex(LOGIN_NAME, "must be a lowercase login name")
      .refine((u) => u !== "root", "must not be root: root login is disabled in every VM")
      .default("k3s-admin"),
    sshAuthorizedKeys: z.array(z.string().refine((k) => PUBLIC_KEY.test(k.trim()), "is not an OpenSSH public key line (ssh-ed25519 AAAA... comment)")).min(1),
  })
  .strict();

/** The K3s server when it is not one of the stack's VMs: an existing Linux host, or (mac-numa)
 * a Lima VM the program creates on the Mac. */
export const K3sServerSchema = z
  .object({
    /** The k8s node name of the server. Default `k3s-server`. */
    name: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).default("k3s-server"),
    /** The server's LAN address: what the workers join and the kubeconfig points at. With `lima`,
     * reserve it in the LAN's DHCP server for `lima.macAddress`. */
    address: ipv4,
    /** The login on the server (default: admin.user; the key is numa-k3s:sshPrivateKey). */
    user: z.string().regex(LOGIN_NAME, "must be a lowercase login name").optional(),
    port: wholeNumberIn(1, 65535).default(22),
    /** flannel's NIC on the server (a bare-metal host's, e.g. eno1). Default eth0, lima0 with lima. */
    flannelIface: z.string().regex(INTERFACE_NAME, INTERFACE_NAME_HINT).optional(),
    /** Create the server as a Lima VM on the Mac (docs/reference-layouts.md option 1). */
    lima: z
      .object({
        /** SSH to the Mac (the user that runs Lima). */
        mac: z.object({ address: hostAddress, user: z.string().min(1), port: wholeNumberIn(1, 65535).default(22) }).strict(),
        /** The bridged NIC's MAC (reserve `address` for it in DHCP). */
        macAddress: z.string().regex(MAC, MAC_HINT),
        cpus: wholeNumberIn(1, 64).default(2),
        memoryGiB: wholeNumberIn(1, 256).default(4),
        diskGiB: wholeNumberIn(10, 4096).default(20),
      })
      .strict()
      .optional(),
  })
  .strict();

export const K3sSchema = z
  .object({
    /** The K3s release of every node. A change upgrades in place, the server first. */
    version: z.string().regex(K3S_VERSION_PATTERN, `must be a stable K3s release tag of v1.30 or later, like ${K3S_VERSION}`).default(K3S_VERSION),
    /** The release's install.sh: its sha256 (required for a version k3s/version.ts pins no sum
     * for) and, optionally, another https URL (a mirror). Default: the tag's, with the pinned sum. */
    installScript: z
      .object({ url: z.string().regex(/^https:\/\/[^\s'"]+$/, "must be an https URL without spaces or quotes").optional(), sha256: z.string().regex(SHA256_HEX, "must be 64 lowercase hex digits, as sha256sum prints them") })
      .strict()
      .optional(),
    /** Where the server runs when no VM has `k3sRole: server` (mac-numa, distributed). */
    server: K3sServerSchema.optional(),
  })
  .strict();

/** The platform on the cluster (components/DataLake.ts, VictoriaStack.ts, TemporalCluster.ts
 * document every setting; these are the ones a stack usually changes). */
const PlatformLakeSchema = z
  .object({
    /** The lake PV's capacity, GiB (the HDD's filesystem). Default: an 8 TB disk's. */
    sizeGiB: wholeNumber(1).default(DEFAULT_LAKE_SIZE_GIB),
    /** Days before objects under staging/ expire. */
    stagingExpiryDays: wholeNumber(1).default(7),
  })
  .strict();
const PlatformMonitoringSchema = z
  .object({
    /** VictoriaMetrics retention (`30d`, `12w`, `1y`). */
    metricsRetention: z.string().default("30d"),
    /** VictoriaLogs retention. */
    logsRetention: z.string().default("14d"),
  })
  .strict();
const PlatformTemporalSchema = z
  .object({
    /** The Temporal worker image beside the models (`registry/name:tag` or a digest). */
    workerImage: z.string().regex(IMAGE_REFERENCE, PINNED_IMAGE_HINT).refine(isPinnedImage, PINNED_IMAGE_HINT),
  })
  .strict();
export const PlatformSchema = z
  .object({
    lake: PlatformLakeSchema.default({ sizeGiB: DEFAULT_LAKE_SIZE_GIB, stagingExpiryDays: 7 }),
    monitoring: PlatformMonitoringSchema.default({ metricsRetention: "30d", logsRetention: "14d" }),
    temporal: PlatformTemporalSchema,
  })
  .strict();

export const StackConfigSchema = z
  .object({
    /** Which deployment option this stack is (not derived from the stack's name). */
    layout: z.enum(LAYOUTS),
    /** The last stage built: the VMs, the cluster on them, or (absent) the platform and models too. */
    stopAfter: z.enum(["vms", "cluster"]).optional(),
    /** The placement lock, relative to the project; default `hosts/<stack>.lock.json`.
     * `npm run plan -- --stack NAME --lock PATH` writes it. Two stacks never share one. */
    placementLock: z.string().min(1).optional(),
    hosts: z.array(StackHostSchema).min(1),
    vms: z.array(StackVmSchema),
    network: NetworkSchema,
    admin: AdminSchema,
    /** Extra distribution packages for every VM. */
    packages: z.array(z.string().regex(PACKAGE_NAME, PACKAGE_NAME_HINT)).default([]),
    /** Wait until each VM's guest agent answers before a create counts as done. */
    waitForGuest: flag().default(true),
    /** Deleting a VM (or the stack) also deletes its hot-tier disk. The lake HDD is never touched. */
    deleteDataDisks: flag().default(false),
    /** Seconds the planner may search for a placement before it gives up (not proved impossible). */
    searchSeconds: positiveNumber().optional(),
    /** The SLM ensemble (slm/ensemble.ts): the default ensemble's checksums and overrides, or
     * the whole model list; the image; the lake. */
    slm: SlmSectionSchema.optional(),
    /** The platform: lake, monitoring, Temporal. */
    platform: PlatformSchema,
    /** K3s: version, and the server when it is not a VM of this stack. */
    k3s: K3sSchema.default({ version: K3S_VERSION }),
    /** The private key Pulumi logs in to the hypervisors, the VMs (as admin.user: its public half
     * must be one of admin.sshAuthorizedKeys) and the K3s server with: set it with --secret. */
    sshPrivateKey: z.union([z.string(), z.object({ secure: z.string() }).strict()]).optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // Where the server runs is the layout's (k3s/layouts.ts): a VM of the stack, or outside it.
    const profile = LAYOUT_PROFILES[cfg.layout];
    const serverVm = cfg.vms.some((vm) => vm.k3sRole === "server");
    if (profile.server === "a VM" && !serverVm)
      ctx.addIssue({ code: "custom", path: ["layout"], message: `runs the K3s server on one of its VMs: give one VM k3sRole: server` });
    if (profile.server === "a VM" && cfg.k3s.server)
      ctx.addIssue({ code: "custom", path: ["k3s", "server"], message: `the ${cfg.layout} layout runs the K3s server on one of its VMs (k3sRole: server), not on another host: remove k3s.server` });
    if (profile.server === "outside" && serverVm)
      ctx.addIssue({ code: "custom", path: ["vms", cfg.vms.findIndex((vm) => vm.k3sRole === "server"), "k3sRole"], message: `the ${cfg.layout} layout runs the K3s server outside the NUMA hosts (k3s.server): make this VM an agent` });
    if (profile.server === "outside" && !cfg.k3s.server)
      ctx.addIssue({ code: "custom", path: ["k3s", "server"], message: `the ${cfg.layout} layout runs the K3s server outside the NUMA hosts: set k3s.server (its address${profile.lima ? ", or lima: to create it on the Mac" : ""})` });
    if (K3S_VERSION_PATTERN.test(cfg.k3s.version) && !cfg.k3s.installScript && !INSTALL_SCRIPT_SHA256[cfg.k3s.version])
      ctx.addIssue({
        code: "custom",
        path: ["k3s", "version"],
        message: `no checksum of its install.sh is pinned here (k3s/version.ts: ${Object.keys(INSTALL_SCRIPT_SHA256).join(", ")}): set numa-k3s:k3s.installScript.sha256 to the output of curl -fsSL '${installerUrl(cfg.k3s.version)}' | sha256sum`,
      });
    if (cfg.k3s.server?.lima && !profile.lima) ctx.addIssue({ code: "custom", path: ["k3s", "server", "lima"], message: "a Lima server on the Mac is the mac-numa layout's; use an existing host's address here" });
    const request = PlacementRequestSchema.safeParse({ hosts: cfg.hosts.map(hostRequestOf), vms: cfg.vms.map(vmRequestOf) });
    if (!request.success) for (const issue of request.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    // One capture file per host: `npm run capture` of one would rewrite the other's topology.
    const captures = new Map<string, string>();
    cfg.hosts.forEach((h, i) => {
      const file = posix.normalize(h.capabilities);
      const other = captures.get(file);
      if (other)
        ctx.addIssue({
          code: "custom",
          path: ["hosts", i, "capabilities"],
          message: `is also the capture of host ${other}: one capture file per host (npm run capture -- --host ${h.name} would overwrite ${other}'s); give ${h.name} a file of its own, a copy if the two machines are identical`,
        });
      else captures.set(file, h.name);
    });
    const seen = new Map<string, string>();
    cfg.vms.forEach((vm, i) => {
      const other = seen.get(vm.address);
      if (other) ctx.addIssue({ code: "custom", path: ["vms", i, "address"], message: `${vm.address} is also ${other}'s address` });
      seen.set(vm.address, vm.name);
      if (vm.k3sRole === "server" && cfg.vms.some((o, j) => j < i && o.k3sRole === "server"))
        ctx.addIssue({ code: "custom", path: ["vms", i, "k3sRole"], message: `only one VM may be the K3s server (${cfg.vms.find((o) => o.k3sRole === "server")!.name} is already)` });
      if (vm.disks.lakeDevice && vm.workload !== "data")
        ctx.addIssue({ code: "custom", path: ["vms", i, "disks", "lakeDevice"], message: `only the data VM (workload: data) holds the data lake` });
      const sharing = cfg.vms.find((o, j) => j < i && o.disks.lakeDevice !== undefined && o.disks.lakeDevice === vm.disks.lakeDevice);
      if (sharing)
        ctx.addIssue({ code: "custom", path: ["vms", i, "disks", "lakeDevice"], message: `is also VM ${sharing.name}'s lake: two VMs never share a disk (both would write its filesystem); give one of them another disk` });
      if (vm.disks.hotGiB && !vm.disks.lakeDevice)
        ctx.addIssue({ code: "custom", path: ["vms", i, "disks", "hotGiB"], message: `the hot tier holds a lake's metadata and hot zones, and is named by that lake: set disks.lakeDevice as well, or remove hotGiB` });
      if (vm.disks.lakeFormat !== undefined && !vm.disks.lakeDevice)
        ctx.addIssue({ code: "custom", path: ["vms", i, "disks", "lakeFormat"], message: `there is no lake to format: set disks.lakeDevice, or remove lakeFormat` });
      // Its model servers and the Temporal worker keep their files on /data/local; without the disk
      // that directory would not exist and every such pod would wait for it (or, before issue 16,
      // fill the OS disk).
      if (vm.workload === "slm" && !vm.disks.stagingGiB)
        ctx.addIssue({ code: "custom", path: ["vms", i, "disks", "stagingGiB"], message: `must be the size of an SLM VM's staging disk (/data/local), GiB: its models and the Temporal worker keep their files there (the models' GGUFs must fit, e.g. 100)` });
    });
    const peers = [
      ...cfg.hosts.map((h, i) => ({ key: `hosts[${i}].ssh.address`, what: `hypervisor ${h.name}`, address: h.ssh.address })),
      ...(cfg.k3s.server ? [{ key: "k3s.server.address", what: "the K3s server", address: cfg.k3s.server.address }] : []),
    ];
    for (const problem of lanProblems({ prefixLength: cfg.network.prefixLength, gateway: cfg.network.gateway, vms: cfg.vms, peers }))
      ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  });
export type StackConfig = z.infer<typeof StackConfigSchema>;

function hostRequestOf(h: StackHost) {
  return { name: h.name, capabilities: h.capabilities, reserve: h.reserve };
}

function vmRequestOf(vm: StackVm) {
  const { name, host, node, cores, memoryGiB, hugepages, emulator, numa } = vm;
  return { name, host, node, cores, memoryGiB, hugepages, emulator, numa };
}

/** The placement request inside a stack config (capture paths stay relative to the project). */
export function placementRequestOf(cfg: StackConfig): PlacementRequest {
  return PlacementRequestSchema.parse({ hosts: cfg.hosts.map(hostRequestOf), vms: cfg.vms.map(vmRequestOf) });
}

/** The first problem as `FILE: numa-k3s:KEY = VALUE: message`, and how many more there are. */
export function formatZodError(file: string, raw: unknown, error: z.ZodError, schema: z.ZodType = StackConfigSchema, prefix = `${CONFIG_NAMESPACE}:`): string {
  return problemLine({ file, prefix }, raw, error, schema);
}

export function parseStackConfig(raw: Record<string, unknown>, file: string): StackConfig {
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(formatZodError(file, raw, parsed.error));
  return parsed.data;
}

/** The `numa-k3s:` keys of a Pulumi.<stack>.yaml, without the prefix; other namespaces ignored. */
export function stackConfigEntries(yamlText: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = YAML.parse(yamlText);
  } catch (e) {
    throw new InputError(`${file}: not YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config;
  if (!config || typeof config !== "object") throw new InputError(`${file}: has no config: section`);
  return ourEntries(config, file);
}

/** The `numa-k3s:` entries of a stack's config (all its keys, as Pulumi has them), without the
 * prefix. Another project's or a provider's keys are theirs; a namespace off by a character or two
 * is ours mistyped, and would otherwise surface as "missing" on the key the user did write. */
export function ourEntries(config: Record<string, unknown>, file: string): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) {
      raw[key.slice(CONFIG_NAMESPACE.length + 1)] = value;
      continue;
    }
    const [namespace, name] = key.split(":", 2);
    if (name !== undefined && nearest(namespace, [CONFIG_NAMESPACE]))
      throw new InputError(`${file}: ${key}: unknown namespace ${JSON.stringify(namespace)}; did you mean ${CONFIG_NAMESPACE}:${name}?`);
  }
  return raw;
}
