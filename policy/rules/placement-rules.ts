// The placement rules of the pack, judged by topology/invariants.ts itself: every domain is read
// back into a VmPlacement (domain-placement.ts), the stack's VMs become one Plan, and checkPlan's
// violations are named by the pack's rule ids. No rule about cores, nodes or memory is written here.
import { checkPlan, Violation } from "../../topology/invariants";
import { hostBudgets } from "../../topology/node-budget";
import type { Plan, VmPlacement } from "../../topology/placement";
import type { PlacementRequest, VmRequest } from "../../topology/request";
import { Console, DomainReadError, nodeOfThread, readDomain } from "./domain-placement";
import { DomainInput, Finding, HostContext, PolicyContext, RuleName } from "./model";

export interface ReadDomains {
  /** Each domain that could be read, with the resource that sends it. */
  vms: { resource: string; placement: VmPlacement; consoles: Console[] }[];
  /** Domains that could not be read as a pinned VM of the stack. */
  findings: Finding[];
}

function reservedThreads(host: HostContext): Set<number> {
  return new Set(hostBudgets(host.topology, host.reserve).flatMap((b) => b.reservedCores.flatMap((c) => c.threads)));
}

/** The domains as placements on their hosts (the stack config says which host; a stack with one
 * host needs no saying). */
export function readDomains(domains: readonly DomainInput[], ctx: PolicyContext): ReadDomains {
  const vms: ReadDomains["vms"] = [];
  const findings: Finding[] = [];
  const reserved = new Map(ctx.hosts.map((h) => [h.name, reservedThreads(h)]));
  for (const d of domains) {
    try {
      const name = /<name>\s*([^<]*?)\s*<\/name>/.exec(d.xml)?.[1];
      const host = (name !== undefined ? ctx.hostOfVm.get(name) : undefined) ?? (ctx.hosts.length === 1 ? ctx.hosts[0].name : undefined);
      if (host === undefined || !reserved.has(host)) {
        findings.push({ rule: "vcpu-single-node", resource: d.resource, message: `${d.resource}: domain ${name ?? "(no name)"} is not a VM of the stack, so no host capture can tell its nodes` });
        continue;
      }
      const read = readDomain(d.xml, host, ctx.hosts.find((h) => h.name === host)!.topology, reserved.get(host)!);
      vms.push({ resource: d.resource, ...read });
    } catch (e) {
      if (!(e instanceof DomainReadError) && !(e instanceof Error && e.message.startsWith("cpuset"))) throw e;
      findings.push({ rule: "whole-cores", resource: d.resource, message: `${d.resource}: the domain XML ${e.message}` });
    }
  }
  return { vms, findings };
}

/** The request the placements are judged against: the stack's hosts and reserves, and each VM as
 * its domain describes it, so that checkPlan judges the XML against the hardware, not the XML
 * against the config (a cores change is a config change, not a violation). */
function requestOf(vms: readonly VmPlacement[], ctx: PolicyContext): PlacementRequest {
  const T = new Map(ctx.hosts.map((h) => [h.name, h.topology.threadsPerCore]));
  const sizes: Record<number, VmRequest["hugepages"]> = { 2048: "2M", 1048576: "1G" };
  return {
    hosts: ctx.hosts.map((h) => ({ name: h.name, capabilities: h.topology.source, reserve: h.reserve })),
    vms: vms.map((p) => ({
      name: p.name,
      host: p.host,
      node: p.node ?? "auto",
      cores: p.vcpus / (T.get(p.host) ?? 1),
      memoryGiB: p.memoryKiB / 1048576,
      hugepages: p.hugepages ? sizes[p.hugepages.sizeKiB] : undefined,
      emulator: p.emulator,
      numa: ctx.numaOfVm.get(p.name) ?? (p.node === null ? "floating" : "strict"),
    })),
  };
}

/**
 * The pack's name for an invariant's violation. invariants.ts's `single-node` covers vCPUs,
 * emulator threads, iothreads and numatune at once; the pack tells them apart by what is off the
 * node (vCPUs first: a VM whose vCPUs cross nodes is that problem, whatever else is wrong).
 */
function ruleOf(v: Violation, vm: VmPlacement | undefined, nodeOf: Map<number, number> | undefined): RuleName {
  switch (v.rule) {
    case "whole-cores":
    case "online-threads":
      return "whole-cores";
    case "requested":
      // The request is made from the domains: only a vCPU count that is not whole cores, a second
      // domain of the same name, or a page size the planner does not offer can differ.
      if (v.detail.startsWith("placed")) return "no-shared-pcpu";
      if (v.detail.startsWith("has huge pages")) return "node-capacity";
      // "is floating; requested numa: strict": interleaved memory for a VM the stack keeps strict.
      if (v.detail.includes("requested numa")) return "memory-strict-local";
      return "whole-cores";
    case "exclusive-vcpus":
      return "no-shared-pcpu";
    case "reserve-respected":
    case "node-memory":
    case "hugepages":
      return "node-capacity";
    case "single-node":
      if (v.detail.startsWith("numatune")) return "memory-strict-local";
      return vm && nodeOf && vm.vcpupin.some((t) => nodeOf.get(t) !== vm.node) ? "vcpu-single-node" : "emulator-isolated";
    case "emulator-isolated":
    case "shared-emulator":
      return "emulator-isolated";
    case "floating":
      return v.vm === null ? "node-capacity" : "memory-strict-local";
  }
}

/** Every placement rule over these domains (one domain for a per-resource policy, all of them
 * for a stack policy). */
export function checkPlacements(domains: readonly DomainInput[], ctx: PolicyContext): Finding[] {
  const read = readDomains(domains, ctx);
  const placements = read.vms.map((v) => v.placement);
  const plan: Plan = { hosts: [], vms: placements };
  const topologies = new Map(ctx.hosts.map((h) => [h.name, h.topology]));
  const hostsInUse = new Set(placements.map((p) => p.host));
  const request = requestOf(placements, ctx);
  // Hosts without a VM here have nothing to judge (and a per-resource check sees one VM only).
  request.hosts = request.hosts.filter((h) => hostsInUse.has(h.name));
  const nodeOf = new Map(ctx.hosts.map((h) => [h.name, nodeOfThread(h.topology)]));
  const findings = [...read.findings];
  for (const v of checkPlan(plan, request, topologies)) {
    const vm = read.vms.find((x) => x.placement.name === v.vm && x.placement.host === v.host);
    const rule = ruleOf(v, vm?.placement, nodeOf.get(v.host));
    const resource = vm?.resource ?? v.host;
    findings.push({ rule, resource, message: `${resource}: ${v.vm ? `VM ${v.vm} ` : ""}${v.detail}` });
  }
  return dedupe(findings);
}

/** Addresses a console may listen on: the hypervisor's loopback, a UNIX socket, or nothing. */
const LOCAL_LISTENS = new Set(["127.0.0.1", "::1", "localhost", "socket", "none"]);

/** no-public-console: every VNC/SPICE console of every domain listens on loopback only. */
export function checkConsoles(domains: readonly DomainInput[], ctx: PolicyContext): Finding[] {
  const out: Finding[] = [];
  for (const vm of readDomains(domains, ctx).vms)
    for (const c of vm.consoles)
      for (const l of c.listens)
        if (!LOCAL_LISTENS.has(l))
          out.push({
            rule: "no-public-console",
            resource: vm.resource,
            message: `${vm.resource}: ${c.type} console listens on ${l === "" ? "no address of its own (libvirt's qemu.conf decides; it may be 0.0.0.0)" : l}; only 127.0.0.1 (reach it through an SSH tunnel)`,
          });
  return out;
}

export function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}\0${f.resource}\0${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
