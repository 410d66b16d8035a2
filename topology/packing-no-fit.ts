// Why the open VMs of a request (host-choice.ts) could not be placed, in the user's words: the
// counting proof with its VMs, nodes and arithmetic; the exhaustive search's dead end; or, when the
// time ran out, what the searches found and whether more time would change it.
import type { Demand, HostLedger } from "./ledger";
import type { Solved } from "./node-assignment";
import { NoFit, describe } from "./no-fit";
import { Item, Packing, childrenOf } from "./packing";
import type { Proof } from "./packing-proofs";
import { count, gib } from "./units";

/** A "gave up" message suggests more time only when the exhaustive search would finish within this. */
const MAX_SUGGESTED_SECONDS = 600;
/** The share of the time limit the last exact search gets (node-assignment.ts: after the local search's 0.7). */
const LAST_EXACT_SHARE = 0.3;
/** A local search shorter than this many iterations cannot tell whether it would still get closer. */
const MIN_ITERATIONS_TO_TELL = 2000;
/** It is still getting closer when its closest came in this last share of its run. */
const STILL_CLOSER = 0.75;
/** VM names listed in a message before "and N more". */
const NAMES_SHOWN = 6;

/** A VM the host choice was placing (host-choice.ts's OpenVm): what it needs, and its hosts. */
type OpenVm = { demand: Demand; hosts: readonly number[] };

export interface NoFitContext {
  hosts: readonly HostLedger[];
  open: readonly OpenVm[];
  /** The request's time limit, as the user set it. */
  seconds: number;
}

export function packingNoFit(p: Packing, solved: Exclude<Solved, { kind: "assigned" }>, ctx: NoFitContext): NoFit {
  const say = new Sayer(p, ctx);
  if (solved.kind === "gave-up") return say.gaveUp(solved);
  const proof = solved.proof;
  switch (proof.kind) {
    case "alone":
      return say.alone(proof.item);
    case "exhaustive":
      return say.exhausted(proof.stuck.item, proof.stuck.placedBefore, proof.stuck.remaining);
    default:
      return say.counted(proof);
  }
}

class Sayer {
  private readonly openOf: Map<number, OpenVm>;
  private readonly children: number[][];
  private readonly multi: boolean;

  constructor(
    private readonly p: Packing,
    private readonly ctx: NoFitContext,
  ) {
    this.openOf = new Map(ctx.open.map((o) => [o.demand.index, o]));
    this.children = childrenOf(p);
    this.multi = ctx.hosts.length > 1;
  }

  private hostName(hi: number): string {
    return this.ctx.hosts[hi].request.name;
  }

  private vm(it: Item): OpenVm {
    const o = this.openOf.get(it.key);
    if (!o) throw new Error(`planner: no open VM with request index ${it.key}`);
    return o;
  }

  /** "k3s-a (4 cores, 8 GiB, node auto)", with "no host named" where the planner chooses the host. */
  private who(o: OpenVm): string {
    const free = this.multi && o.hosts.length > 1;
    const where = o.demand.vm.numa === "floating" ? (free ? "floating, no host named" : "floating") : free ? "no host named" : "node auto";
    return `${o.demand.vm.name} (${describe(o.demand)}, ${where})`;
  }

  private amount(r: number, x: number): string {
    const res = this.p.resources[r];
    if (res.kind === "memory") return gib(x);
    if (res.kind === "pages") return `${x} x ${pageName(res.sizeKiB ?? 0)} pages`;
    return count(x, "core");
  }

  private field(r: number): NoFit["field"] {
    const kind = this.p.resources[r].kind;
    return kind === "memory" ? "memoryGiB" : kind === "pages" ? "hugepages" : "cores";
  }

  /** A node group's label without its host where the request has one host. */
  private label(g: number): string {
    const grp = this.p.groups[g];
    if (grp.node < 0) return grp.label;
    return this.multi ? grp.label : `node ${grp.node}`;
  }

  /** What a group has free, from its remaining capacities: "7 cores, 60 GiB". */
  private free(g: number, remaining: readonly number[]): string {
    const parts = [`${Math.max(0, remaining[0])} cores`];
    if (this.p.resources.length > 1) parts.push(gib(Math.max(0, remaining[1])));
    this.p.resources.forEach((res, r) => {
      if (res.kind === "pages" && remaining[r] > 0) parts.push(this.amount(r, remaining[r]));
    });
    const grp = this.p.groups[g];
    const reserve = grp.node >= 0 && !this.ctx.hosts[grp.host].ledgers.of(grp.node).budget.reservedCores.length ? " (no reserved core)" : "";
    return parts.join(", ") + reserve;
  }

  /** "free: node 0: 7 cores, 60 GiB; node 1: ..." or, over several hosts, "a: node 0: ..., node 1: ...; b: ...". */
  private freeList(groups: readonly number[], remaining: readonly (readonly number[])[]): string {
    const nodes = groups.filter((g) => this.p.groups[g].node >= 0);
    if (!this.multi) return `free: ${nodes.map((g) => `node ${this.p.groups[g].node}: ${this.free(g, remaining[g])}`).join("; ")}`;
    const byHost = new Map<number, string[]>();
    for (const g of nodes) {
      const h = this.p.groups[g].host;
      byHost.set(h, [...(byHost.get(h) ?? []), `node ${this.p.groups[g].node}: ${this.free(g, remaining[g])}`]);
    }
    return `free: ${[...byHost].map(([h, list]) => `${this.hostName(h)}: ${list.join(", ")}`).join("; ")}`;
  }

  private capacities(): number[][] {
    return this.p.groups.map((g) => [...g.capacity]);
  }

  private names(items: readonly Item[]): string {
    const sorted = [...items].sort((a, b) => a.key - b.key).map((it) => it.name);
    return sorted.length <= NAMES_SHOWN ? sorted.join(", ") : `${sorted.slice(0, NAMES_SHOWN).join(", ")} and ${sorted.length - NAMES_SHOWN} more`;
  }

  private first(items: readonly Item[]): OpenVm {
    return this.vm([...items].sort((a, b) => a.key - b.key)[0]);
  }

  /** The hosts the places belong to, and whether they are every node of those hosts. */
  private scope(places: readonly number[]): { name: string; plural: boolean; hosts: number[] } {
    const hosts = [...new Set(places.map((g) => this.p.groups[g].host))].sort((a, b) => a - b);
    const inX = new Set(places);
    const whole = hosts.every((h) => this.p.groups.every((grp, g) => grp.host !== h || grp.node < 0 || inX.has(g)));
    if (whole && hosts.length === 1) return { name: this.hostName(hosts[0]), plural: false, hosts };
    if (whole) return { name: `the hosts (${hosts.map((h) => this.hostName(h)).join(", ")})`, plural: true, hosts };
    const nodes = places.filter((g) => this.p.groups[g].node >= 0).map((g) => this.label(g));
    return { name: nodes.length === 1 ? nodes[0] : `nodes ${nodes.join(", ")}`, plural: nodes.length !== 1, hosts };
  }

  /** "the 5 node: auto VMs of h (a, b, ...)", "the 3 VMs that can only go to node 2 (…)". */
  private whose(items: readonly Item[], places: readonly number[]): string {
    const all = items.length === this.p.items.length;
    const sc = this.scope(places);
    const n = items.length;
    if (all && !this.multi) return `the ${count(n, "node: auto VM", "node: auto VMs")} of ${sc.name} (${this.names(items)})`;
    if (all) return `the ${count(n, "VM")} the planner places (${this.names(items)})`;
    return `the ${count(n, "VM")} that can only go to ${sc.name} (${this.names(items)})`;
  }

  alone(it: Item): NoFit {
    const o = this.vm(it);
    const d = o.demand;
    const caps = this.capacities();
    const hosts = o.hosts.map((h) => this.hostName(h)).join(", ");
    const base = { kind: "does-not-fit" as const, vm: d.vm.name, vmIndex: d.index, host: hosts };
    if (d.vm.numa === "floating") {
      const hostGroups = this.p.groups.map((_, g) => g).filter((g) => this.p.groups[g].node < 0 && o.hosts.includes(this.p.groups[g].host));
      const field: NoFit["field"] = hostGroups.some((g) => caps[g][0] >= d.totalCores) ? "memoryGiB" : "cores";
      const room = hostGroups.map((g) => `${this.p.groups[g].label}: ${Math.max(0, caps[g][0])} cores, ${gib(Math.max(0, caps[g][1]))}`).join("; ");
      return { ...base, field, message: `${this.who(o)}: no host of the request has the whole cores and memory for it after the reserve and the fixed and locked VMs (${room}); needs ${d.totalCores} cores and ${gib(d.memoryKiB)}` };
    }
    const nodes = this.p.groups.map((_, g) => g).filter((g) => this.p.groups[g].node >= 0 && o.hosts.includes(this.p.groups[g].host));
    const withCores = nodes.filter((g) => caps[g][0] >= d.totalCores);
    const withReserve = withCores.filter((g) => d.vm.emulator === "dedicated" || this.ctx.hosts[this.p.groups[g].host].ledgers.of(this.p.groups[g].node).budget.reservedCores.length > 0);
    const field: NoFit["field"] = withCores.length === 0 ? "cores" : withReserve.length === 0 ? "emulator" : d.pageSizeKiB !== null ? "hugepages" : "memoryGiB";
    const where = this.multi && o.hosts.length > 1 ? "no host of the request can take it, on any node" : `no node of ${hosts} can take it`;
    return { ...base, field, message: `${this.who(o)}: ${where}, in any arrangement (${this.freeList(nodes, caps)})` };
  }

  exhausted(it: Item, before: readonly Item[], remaining: readonly (readonly number[])[]): NoFit {
    const o = this.vm(it);
    const d = o.demand;
    const nodes = this.p.groups.map((_, g) => g).filter((g) => this.p.groups[g].node >= 0);
    const withCores = nodes.filter((g) => remaining[g][0] >= d.totalCores);
    const field: NoFit["field"] = withCores.length === 0 ? "cores" : d.pageSizeKiB !== null ? "hugepages" : "memoryGiB";
    const names = before.map((b) => b.name);
    const once = names.length > 0 ? ` once ${this.names(before)} ${names.length === 1 ? "is" : "are"} placed` : "";
    const hosts = [...new Set(nodes.map((g) => this.p.groups[g].host))].map((h) => this.hostName(h)).join(", ");
    const where = this.multi ? `no node of the hosts (${hosts})` : `no node of ${hosts}`;
    return { kind: "does-not-fit", vm: d.vm.name, vmIndex: d.index, host: hosts, field, message: `${this.who(o)}: ${where} can take it${once}, in any arrangement (${this.freeList(nodes, remaining)})` };
  }

  counted(proof: Exclude<Proof, { kind: "alone" }>): NoFit {
    const o = this.first(proof.items.length > 0 ? proof.items : this.p.items);
    const sc = this.scope(proof.places);
    const host = sc.hosts.map((h) => this.hostName(h)).join(", ");
    const base = { kind: "does-not-fit" as const, vm: o.demand.vm.name, vmIndex: o.demand.index, host };
    const who = this.whose(proof.items, proof.places);
    const has = sc.plural ? "have" : "has";
    if (proof.kind === "total") {
      const r = proof.resource;
      const parts = this.partsOf(proof.places, r);
      return { ...base, field: this.field(r), message: `${who} need ${this.amount(r, proof.need)} together; ${sc.name} ${has} ${this.amount(r, proof.have)} free for them after the reserve and the fixed and locked VMs (${parts})` };
    }
    if (proof.kind === "fill") {
      const r = proof.resource;
      const sizes = [...new Set(proof.items.map((it) => it.demand[r]).filter((x) => x > 0))].sort((a, b) => a - b);
      const sizeText = this.p.resources[r].kind === "memory" ? sizes.map((x) => gib(x)).join(", ") : `${sizes.join(", ")} ${this.p.resources[r].kind === "pages" ? `${pageName(this.p.resources[r].sizeKiB ?? 0)} pages` : "cores"}`;
      const why = proof.unit > 1 && this.p.resources[r].kind !== "memory" ? `; every VM's ${this.p.resources[r].kind === "pages" ? "page count" : "core count"} is a multiple of ${proof.unit}` : proof.unit > 1 ? `; every VM's memory is a multiple of ${gib(proof.unit)}` : "";
      const parts = proof.parts.filter((x) => x.fill < x.free).map((x) => `${this.label(x.place)}: ${this.short(r, x.fill)} of ${this.short(r, x.free)}`);
      const full = proof.parts.length - parts.length;
      const list = parts.join(", ") + (full > 0 ? `${parts.length > 0 ? ", " : ""}${count(full, "node")} full` : "");
      return {
        ...base,
        field: this.field(r),
        message: `${who} need ${this.amount(r, proof.need)} together, but whole VMs of their sizes (${sizeText}) can fill at most ${this.short(r, proof.have)} of the ${this.amount(r, proof.free)} free on ${sc.name}, in any arrangement${why} (at most: ${list})`,
      };
    }
    if (proof.kind === "forced") {
      const r = proof.resource;
      const other = proof.other;
      const elsewhere = sc.plural ? "the other nodes" : this.multi ? "the other hosts' nodes" : "the other nodes";
      const own = proof.items.length > 0 ? `the ${count(proof.items.length, "VM")} that can only go there (${this.names(proof.items)}) bring ${this.amount(r, proof.own)} and ${this.amount(other, proof.ownOther)}, and ` : "";
      const rest = proof.atLeast - proof.own;
      const cost = Number.isFinite(proof.least)
        ? `the other ${this.amount(r, rest)} cost at least ${this.amount(other, Math.ceil(proof.least))} even from the VMs with the least ${this.unitName(other)} per ${this.unitName(r)}`
        : `the VMs that may go there cannot bring the other ${this.amount(r, rest)}`;
      return {
        ...base,
        field: this.field(other),
        message: `${sc.name} must take at least ${this.amount(r, proof.atLeast)} of the VMs' ${this.amount(r, proof.need)} (${elsewhere} hold at most ${this.short(r, proof.elsewhere)}): ${own}${cost}, but ${sc.name} ${has} ${this.amount(other, proof.have)} for them, in any arrangement`,
      };
    }
    const each = proof.resources.map((r, k) => this.amount(r, proof.atLeast[k])).join(" and ");
    const parts = proof.parts.filter((x) => x.room > 0).map((x) => `${this.label(x.place)}: ${x.room}`);
    return {
      ...base,
      field: this.field(proof.resources[0]),
      message: `${count(proof.items.length, "VM")} need${proof.items.length === 1 ? "s" : ""} ${each} or more each (${this.names(proof.items)}), but ${sc.name} ${has} room for at most ${proof.room} of them, in any arrangement (${parts.length > 0 ? parts.join(", ") : "none on any node"})`,
    };
  }

  /** "memory", "core", "1G page": what one unit of a resource is called. */
  private unitName(r: number): string {
    const res = this.p.resources[r];
    return res.kind === "memory" ? "memory" : res.kind === "pages" ? `${pageName(res.sizeKiB ?? 0)} page` : "core";
  }

  private short(r: number, x: number): string {
    return this.p.resources[r].kind === "memory" ? gib(x) : String(x);
  }

  /** The capacity per host (several hosts in scope) or per node: "a: 14, b: 14" or "node 0: 7, node 1: 7". */
  private partsOf(places: readonly number[], r: number): string {
    const nodes = places.filter((g) => this.p.groups[g].node >= 0);
    const hosts = [...new Set(nodes.map((g) => this.p.groups[g].host))];
    if (hosts.length > 1)
      return hosts.map((h) => `${this.hostName(h)}: ${this.short(r, nodes.filter((g) => this.p.groups[g].host === h).reduce((s, g) => s + this.p.groups[g].capacity[r], 0))}`).join(", ");
    return nodes.map((g) => `${this.label(g)}: ${this.short(r, this.p.groups[g].capacity[r])}`).join(", ");
  }

  gaveUp(solved: Extract<Solved, { kind: "gave-up" }>): NoFit {
    const items = this.p.items;
    const o = this.first(items);
    const nodes = this.p.groups.map((_, g) => g).filter((g) => this.p.groups[g].node >= 0);
    const hosts = [...new Set(nodes.map((g) => this.p.groups[g].host))].map((h) => this.hostName(h));
    const need = [0, 1].map((r) => items.reduce((s, it) => s + (it.demand[r] ?? 0), 0));
    const have = [0, 1].map((r) => nodes.reduce((s, g) => s + Math.max(0, this.p.groups[g].capacity[r] ?? 0), 0));
    const n = items.length;
    const whose = this.multi ? `the ${count(n, "VM")} the planner places over ${hosts.join(", ")}` : `the ${count(n, "node: auto VM", "node: auto VMs")} of ${hosts[0]}`;
    const where = this.multi ? "the hosts have" : `${hosts[0]} has`;
    const head = `${whose} (${count(need[0], "core")} and ${gib(need[1])} together; ${where} ${count(have[0], "core")} and ${gib(have[1])} free for them): no placement found within the search limit of ${Number(this.ctx.seconds.toFixed(1))} s (searchSeconds); one may exist`;
    return { kind: "gave-up", vm: o.demand.vm.name, vmIndex: o.demand.index, host: hosts.join(", "), field: "node", message: `${head}; ${this.lessons(solved)}` };
  }

  /**
   * What the searches learned, and what would change the answer, suggesting more time only where
   * one of them shows it would help:
   * 1. the closest arrangement the local search found: which groups it overfills, by how much;
   * 2. the exhaustive search: at its pace so far, within MAX_SUGGESTED_SECONDS it would finish
   *    and decide: that time (its share of a limit is LAST_EXACT_SHARE);
   * 3. else the local search still getting closer in the last quarter of its run (or too short a
   *    run to tell): four times the limit may place it;
   * 4. else more time is unlikely to help: a VM that much smaller (the closest arrangement then
   *    fits), or explicit nodes and hosts.
   */
  private lessons(solved: Extract<Solved, { kind: "gave-up" }>): string {
    const out: string[] = [];
    const overs = solved.closest.over.filter((x) => this.p.groups[x.group].node >= 0 || this.children[x.group].length > 0);
    if (overs.length > 0) {
      const said = overs.slice(0, 3).map((x) => `${this.label(x.group)} by ${this.amount(x.resource, x.amount)}`);
      out.push(`the closest arrangement found overfills ${said.join(" and ")}${overs.length > 3 ? ` and ${overs.length - 3} more` : ""}`);
    }
    const { covered, seconds } = solved.progress;
    const total = covered > 0 ? seconds / covered : Infinity;
    const suggest = Math.ceil(total / LAST_EXACT_SHARE);
    const pace = `the exhaustive search ruled out ${percent(covered)} of the arrangements in ${duration(seconds)}`;
    if (suggest <= MAX_SUGGESTED_SECONDS) {
      out.push(`${pace}; at that rate it would finish and decide with searchSeconds ${suggest} (--search-seconds ${suggest})`);
      return out.join("; ");
    }
    const { iterations, lastCloser } = solved.closest;
    if (iterations < MIN_ITERATIONS_TO_TELL || lastCloser >= STILL_CLOSER * iterations) {
      const more = Math.ceil(4 * this.ctx.seconds);
      const why =
        iterations < MIN_ITERATIONS_TO_TELL
          ? `the local search ran only ${iterations} iterations, too few to tell how close it can get`
          : `the local search was still getting closer when the time ran out (its closest came at iteration ${lastCloser} of ${iterations})`;
      out.push(`${why}: more time may place it, e.g. searchSeconds ${more} (--search-seconds ${more}); ${pace}, too little to finish at that rate`);
      return out.join("; ");
    }
    out.push(`more time is unlikely to help: the local search came no closer after iteration ${lastCloser} of ${iterations}, and ${pace}`);
    const shrink = overs.length === 1 ? this.shrink(overs[0]) : null;
    out.push(shrink ?? "give some VMs an explicit node or host, or make some smaller");
    return out.join("; ");
  }

  /** With the closest arrangement overfilling one group by one resource: a VM there that much smaller fits it. */
  private shrink(x: { group: number; resource: number; amount: number; items: number[] }): string | null {
    const kind = this.p.resources[x.resource].kind;
    if (kind !== "cores" && kind !== "memory") return null;
    const candidates = x.items
      .map((k) => this.openOf.get(k))
      .filter((o): o is OpenVm => o !== undefined)
      .filter((o) => (kind === "cores" ? o.demand.cores > x.amount : o.demand.memoryKiB > x.amount))
      .sort((a, b) => a.demand.index - b.demand.index);
    if (candidates.length === 0) return null;
    const names = candidates.slice(0, 3).map((o) => o.demand.vm.name);
    return `with ${names.join(" or ")} ${this.amount(x.resource, x.amount)} smaller the closest arrangement fits`;
  }
}

function pageName(sizeKiB: number): string {
  return sizeKiB >= 1048576 ? `${sizeKiB / 1048576}G` : `${sizeKiB / 1024}M`;
}

function duration(seconds: number): string {
  return seconds < 0.1 ? `${Math.max(1, Math.round(seconds * 1000))} ms` : `${Number(seconds.toFixed(1))} s`;
}

function percent(share: number): string {
  const pct = share * 100;
  if (pct < 0.001) return "less than 0.001 %";
  return `${Number(pct.toPrecision(2))} %`;
}
