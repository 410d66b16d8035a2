// The placement rules of the pack. Every domain is compared with what the plan decided for its VM
// (domain-diff.ts), and judged by topology/invariants.ts itself next to the plan's other VMs: the
// plan with these domains in place of their VMs, against the stack's hosts, captures and reserves.
// No rule about cores, nodes or memory is written here; this file names what is found.
import { checkPlan, Violation } from "../../topology/invariants";
import type { VmPlacement } from "../../topology/placement";
import { differences } from "./domain-diff";
import { Console, DomainRead, DomainReadError, nodeOfThread, placementOf, readDomain } from "./domain-placement";
import { DecidedVm, DomainInput, Finding, PolicyContext, RuleName } from "./model";

export interface ReadDomains {
  /** Each domain that could be read, with the resource that sends it and its VM as decided (null
   * for a domain the plan does not know). */
  vms: { resource: string; read: DomainRead; decided: (DecidedVm & { placement: VmPlacement }) | null }[];
  /** Domains that could not be read, or are of no VM the plan placed. */
  findings: Finding[];
}

/** The domains, each matched with its VM in the plan by name. */
export function readDomains(domains: readonly DomainInput[], ctx: PolicyContext): ReadDomains {
  const vms: ReadDomains["vms"] = [];
  const findings: Finding[] = [];
  const f = (rule: RuleName, resource: string, message: string) => findings.push({ rule, resource, message: `${resource}: ${message}` });
  const seen = new Map<string, string>();
  for (const d of domains) {
    let read: DomainRead;
    try {
      read = readDomain(d.xml);
    } catch (e) {
      if (!(e instanceof DomainReadError)) throw e;
      f("whole-cores", d.resource, `the domain XML ${e.message}`);
      continue;
    }
    const decided = ctx.vms.get(read.name);
    const other = seen.get(read.name);
    seen.set(read.name, d.resource);
    if (other !== undefined) {
      f("domain-matches-plan", d.resource, `domain ${read.name} is also defined by ${other}: the plan has one VM of that name`);
      vms.push({ resource: d.resource, read, decided: null });
    } else if (!decided) {
      f("domain-matches-plan", d.resource, `domain ${read.name} is a VM of neither ${ctx.stackFile} nor ${ctx.lockFile}: nothing decided where it runs`);
      vms.push({ resource: d.resource, read, decided: null });
    } else if (!ctx.request.vms.some((vm) => vm.name === read.name)) {
      f("domain-matches-plan", d.resource, `VM ${read.name} is in ${ctx.lockFile} but no longer in ${ctx.stackFile}: the program deletes it, it defines no domain for it`);
      vms.push({ resource: d.resource, read, decided: null });
    } else if (!decided.placement) {
      f("domain-matches-plan", d.resource, `VM ${read.name} is not in ${ctx.lockFile}, and ${ctx.undecided ?? "the plan does not place it"}`);
      vms.push({ resource: d.resource, read, decided: null });
    } else vms.push({ resource: d.resource, read, decided: { ...decided, placement: decided.placement } });
  }
  return { vms, findings };
}

/**
 * The pack's name for an invariant's violation of VM `vm` (null for a node's totals), or null for
 * what the comparison with the plan says better (domain-diff.ts): the request, which the plan
 * meets, and numatune, which the plan binds. The plan gives each judged domain its node, so
 * `single-node` is told apart by which threads are off it: vCPUs first (a VM whose vCPUs cross
 * nodes is that problem), then emulator/iothreads; a thread on no node is whole-cores' (below).
 */
function ruleOf(v: Violation, vm: VmPlacement | undefined, nodeOf: Map<number, number> | undefined): RuleName | null {
  const off = (threads: number[]) => vm !== undefined && nodeOf !== undefined && threads.some((t) => nodeOf.has(t) && nodeOf.get(t) !== vm.node);
  switch (v.rule) {
    case "whole-cores":
    case "online-threads":
      return "whole-cores";
    case "requested":
      return null;
    case "exclusive-vcpus":
      return "no-shared-pcpu";
    case "reserve-respected":
    case "node-memory":
    case "hugepages":
      return "node-capacity";
    case "single-node":
      if (v.detail.startsWith("numatune")) return null;
      if (vm && off(vm.vcpupin)) return "vcpu-single-node";
      if (vm && off([...vm.emulatorpin, ...vm.iothreadpin])) return "emulator-isolated";
      return "whole-cores";
    case "emulator-isolated":
    case "shared-emulator":
      return "emulator-isolated";
    case "floating":
      return v.vm === null ? "node-capacity" : "memory-strict-local";
  }
}

/** The rules that can explain a difference in the vCPUs' shape. */
const HARDWARE: RuleName[] = ["vcpu-single-node", "whole-cores", "no-shared-pcpu", "node-capacity"];

/** Every placement rule over these domains (one domain for a per-resource policy, all of them
 * for a stack policy): the plan's other VMs stand where the plan puts them either way. */
export function checkPlacements(domains: readonly DomainInput[], ctx: PolicyContext): Finding[] {
  const read = readDomains(domains, ctx);
  // The plan's other VMs first, then the domains as the plan has them, then those that moved:
  // a thread two VMs claim is then said of the one that moved.
  const judged = (read.vms.filter((v) => v.decided !== null) as (ReadDomains["vms"][number] & { decided: DecidedVm & { placement: VmPlacement } })[])
    .map((j) => ({ ...j, diffs: differences(j.read, j.decided.placement) }))
    .sort((a, b) => Number(a.diffs.length > 0) - Number(b.diffs.length > 0));
  const names = new Set(judged.map((v) => v.read.name));
  const placed = new Map(judged.map((v) => [v.read.name, placementOf(v.read, v.decided.placement)]));
  const others = ctx.request.vms.flatMap((r) => (names.has(r.name) ? [] : (ctx.vms.get(r.name)?.placement ?? [])));
  const plan = { hosts: [], vms: [...others, ...placed.values()] };
  const nodeOf = new Map(ctx.hosts.map((h) => [h.name, nodeOfThread(h.topology)]));
  const topologies = new Map(ctx.hosts.map((h) => [h.name, h.topology]));

  const findings = [...read.findings];
  const byVm = new Map<string, Finding[]>();
  for (const v of checkPlan(plan, ctx.request, topologies)) {
    if (v.vm !== null && !names.has(v.vm)) continue;
    const vm = v.vm === null ? undefined : placed.get(v.vm);
    const rule = ruleOf(v, vm, nodeOf.get(v.host));
    if (rule === null) continue;
    const resource = v.vm === null ? v.host : judged.find((j) => j.read.name === v.vm)!.resource;
    const finding = { rule, resource, message: `${resource}: ${v.vm ? `VM ${v.vm} ` : ""}${v.detail}` };
    findings.push(finding);
    if (v.vm !== null) byVm.set(v.vm, [...(byVm.get(v.vm) ?? []), finding]);
  }
  // What differs from the plan, unless a hardware rule said it already.
  for (const j of judged) {
    const said = new Set((byVm.get(j.read.name) ?? []).map((f) => f.rule));
    for (const diff of j.diffs) {
      if (said.has(diff.rule) || (diff.shape && HARDWARE.some((r) => said.has(r)))) continue;
      findings.push({ rule: diff.rule, resource: j.resource, message: `${j.resource}: VM ${j.read.name} ${diff.detail}` });
    }
  }
  return dedupe(findings);
}

/** Addresses a console may listen on: the hypervisor's loopback, a UNIX socket, or nothing. */
const LOCAL_LISTENS = new Set(["127.0.0.1", "::1", "localhost", "socket", "none"]);

/** no-public-console: every VNC/SPICE console of every domain listens on loopback only. */
export function checkConsoles(domains: readonly DomainInput[], ctx: PolicyContext): Finding[] {
  const out: Finding[] = [];
  for (const vm of readDomains(domains, ctx).vms)
    for (const c of vm.read.consoles as Console[])
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
