// What a user asks the planner for: the hosts (by their committed capture) and the VMs to place.
// The same shape sits under each stack's config (stacks/config.ts extends the VM entries).
import { z } from "zod";
import { nonNegativeNumber, positiveNumber, wholeNumber } from "../common/config-values";
import { DNS_LABEL, DNS_LABEL_HINT } from "../common/formats";

/** Names become libvirt domain names, hostnames and Kubernetes node names: keep them DNS labels. */
export const nameSchema = z.string({ error: DNS_LABEL_HINT }).regex(DNS_LABEL, DNS_LABEL_HINT);

export const ReserveSchema = z
  .object({
    /** Whole cores each node keeps for the host and for shared emulator threads. */
    coresPerNode: wholeNumber(0).default(1),
    /** GiB of each node's memory kept for the host (page cache, QEMU overhead). */
    memoryGiBPerNode: nonNegativeNumber().default(4),
  })
  .strict();
export type Reserve = z.infer<typeof ReserveSchema>;

export const HostRequestSchema = z
  .object({
    name: nameSchema,
    /** Path of the `virsh capabilities` capture, relative to the file that names it. */
    capabilities: z.string().min(1),
    reserve: ReserveSchema.default({ coresPerNode: 1, memoryGiBPerNode: 4 }),
  })
  .strict();
export type HostRequest = z.infer<typeof HostRequestSchema>;

export const HugepageSizeSchema = z.enum(["2M", "1G"]);
export type HugepageSize = z.infer<typeof HugepageSizeSchema>;
export const HUGEPAGE_KIB: Record<HugepageSize, number> = { "2M": 2048, "1G": 1048576 };

export const VmRequestSchema = z
  .object({
    name: nameSchema,
    /**
     * The host; optional. Left out when the request has several hosts, the planner chooses one
     * (a locked VM keeps its locked host). A VM with an explicit node must name its host then.
     */
    host: nameSchema.optional(),
    /** A NUMA node id of the host, or "auto" to let the planner choose. */
    node: z
      .preprocess((v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.union([z.number().int().nonnegative(), z.literal("auto")], { error: 'must be a node id of the host (0, 1, ...) or "auto"' }))
      .default("auto"),
    /** Whole physical cores; the VM gets cores x the host's threads per core vCPUs. */
    cores: wholeNumber(1),
    memoryGiB: positiveNumber(),
    hugepages: HugepageSizeSchema.optional(),
    /** shared: on the node's reserved cores. dedicated: one more whole core of the VM's own. */
    emulator: z.enum(["shared", "dedicated"]).default("shared"),
    /** strict: one node for everything. floating: whole cores anywhere, memory interleaved. */
    numa: z.enum(["strict", "floating"]).default("strict"),
  })
  .strict();
export type VmRequest = z.infer<typeof VmRequestSchema>;

export const PlacementRequestSchema = z
  .object({
    hosts: z.array(HostRequestSchema).min(1),
    vms: z.array(VmRequestSchema),
  })
  .strict()
  .superRefine((req, ctx) => {
    const hostNames = new Set<string>();
    req.hosts.forEach((h, i) => {
      if (hostNames.has(h.name)) ctx.addIssue({ code: "custom", path: ["hosts", i, "name"], message: `host '${h.name}' is listed twice` });
      hostNames.add(h.name);
    });
    const vmNames = new Set<string>();
    req.vms.forEach((vm, i) => {
      if (vmNames.has(vm.name)) ctx.addIssue({ code: "custom", path: ["vms", i, "name"], message: `VM '${vm.name}' is listed twice` });
      vmNames.add(vm.name);
      if (vm.host === undefined && req.hosts.length > 1 && vm.node !== "auto")
        ctx.addIssue({ code: "custom", path: ["vms", i, "host"], message: `required with node: ${vm.node} when there are several hosts (one of ${[...hostNames].join(", ")}); or use node: auto and let the planner choose the host` });
      if (vm.host !== undefined && !req.hosts.some((h) => h.name === vm.host))
        ctx.addIssue({ code: "custom", path: ["vms", i, "host"], message: `'${vm.host}' is not a host of this request (hosts: ${req.hosts.map((h) => h.name).join(", ")})` });
      if (vm.numa === "floating" && vm.node !== "auto")
        ctx.addIssue({ code: "custom", path: ["vms", i, "node"], message: `a floating VM has no node of its own: remove node or set numa: strict` });
      if (vm.numa === "floating" && vm.hugepages !== undefined)
        ctx.addIssue({ code: "custom", path: ["vms", i, "hugepages"], message: `huge pages need strict NUMA (numa: strict); floating VMs interleave ordinary memory` });
      if (vm.hugepages !== undefined) {
        const kib = memoryKiB(vm.memoryGiB);
        const page = HUGEPAGE_KIB[vm.hugepages];
        if (kib % page !== 0)
          ctx.addIssue({ code: "custom", path: ["vms", i, "memoryGiB"], message: `${vm.memoryGiB} GiB is not a whole number of ${vm.hugepages} pages` });
      }
      if (!Number.isInteger(vm.memoryGiB * 1024))
        ctx.addIssue({ code: "custom", path: ["vms", i, "memoryGiB"], message: `${vm.memoryGiB} is not a whole number of MiB` });
    });
  });
export type PlacementRequest = z.infer<typeof PlacementRequestSchema>;

export function memoryKiB(gib: number): number {
  return Math.round(gib * 1024 * 1024);
}

/** The host the request puts a VM on: its own, or the only one; undefined when the planner chooses. */
export function requestedHost(req: PlacementRequest, vm: VmRequest): string | undefined {
  return vm.host ?? (req.hosts.length === 1 ? req.hosts[0].name : undefined);
}

/**
 * The host a VM goes to when the request decides it (its own, or the only one). Valid after
 * PlacementRequestSchema. A VM without a host in a request with several hosts goes where the
 * planner puts it: read that from the plan (VmPlacement.host); asking here is a bug, so it throws.
 */
export function hostOf(req: PlacementRequest, vm: VmRequest): string {
  const host = requestedHost(req, vm);
  if (host === undefined) throw new Error(`hostOf: ${vm.name} names no host and the request has several; the plan says where it went`);
  return host;
}
