// `tsx bench/mip-compare.ts [--seconds N]`: an exact referee for the bench's families. A plain
// assignment MIP in HiGHS (the `highs` package, WebAssembly): x[v][n] binary for every strict VM and
// every node of every host it may go to (its own host, or any when it names none; its node when
// it names one), each VM on one node, cores, ordinary memory and pages per node within capacity,
// no objective; symmetry broken over alike nodes of one host that no VM names by ordering their
// core loads. Prints HiGHS's status and time next to the planner's, so that "gave up" and "does not
// fit" can be checked against an exact answer where HiGHS finds one. Not part of `npm run bench`
// (it loads a 3 MB wasm and is slow by design); the planner does not use it: `highs` only loads
// asynchronously while the planner is a synchronous pure function, and on the memory-tight
// families it answered later than the planner or not at all (numbers in README's planner section).
import { performance } from "node:perf_hooks";
import highsLoader from "highs";
import type { HostTopology } from "../topology/host-topology";
import { planPlacement } from "../topology/planner";
import { hostBudgets } from "../topology/node-budget";
import { HUGEPAGE_KIB, memoryKiB, type PlacementRequest } from "../topology/request";
import { bigCase, bigMultiHostCase } from "./big-host-requests";
import { COUNTING_KINDS, countingCase } from "./counting-requests";
import { multiHostCase } from "./multi-host-requests";
import { tightCase } from "./tight-requests";

interface Case {
  name: string;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

function lpOf(c: Case): string {
  const nodes = c.request.hosts.flatMap((h) => hostBudgets(c.topologies.get(h.name) as HostTopology, h.reserve).map((b) => ({ host: h.name, b })));
  const vms = c.request.vms.filter((v) => v.numa === "strict");
  const rows: string[] = [];
  const bins: string[] = [];
  const x = (v: number, n: number) => `x_${v}_${n}`;
  const may = (v: number, n: number) => {
    const vm = vms[v];
    const node = nodes[n];
    if (vm.host !== undefined && vm.host !== node.host) return false;
    if (vm.node !== "auto" && vm.node !== node.b.node.id) return false;
    if (vm.emulator === "shared" && node.b.reservedCores.length === 0) return false;
    return node.b.usableCores.length > 0;
  };
  vms.forEach((_, v) => {
    const terms = nodes.map((__, n) => (may(v, n) ? x(v, n) : "")).filter(Boolean);
    rows.push(` one_${v}: ${terms.length > 0 ? terms.join(" + ") : "0 x_none"} = 1`);
  });
  nodes.forEach((node, n) => {
    const here = vms.map((_, v) => v).filter((v) => may(v, n));
    if (here.length === 0) return;
    const cores = (v: number) => vms[v].cores + (vms[v].emulator === "dedicated" ? 1 : 0);
    rows.push(` cores_${n}: ${here.map((v) => `${cores(v)} ${x(v, n)}`).join(" + ")} <= ${node.b.usableCores.length}`);
    const mem = here.filter((v) => !vms[v].hugepages).map((v) => `${memoryKiB(vms[v].memoryGiB) / 1024} ${x(v, n)}`);
    if (mem.length > 0) rows.push(` mem_${n}: ${mem.join(" + ")} <= ${Math.floor(node.b.vmMemoryKiB / 1024)}`);
    for (const size of ["2M", "1G"] as const) {
      const pages = here.filter((v) => vms[v].hugepages === size).map((v) => `${memoryKiB(vms[v].memoryGiB) / HUGEPAGE_KIB[size]} ${x(v, n)}`);
      if (pages.length > 0) rows.push(` pages${size}_${n}: ${pages.join(" + ")} <= ${node.b.hugepages.get(HUGEPAGE_KIB[size]) ?? 0}`);
    }
    // Two nodes are interchangeable only if they are alike and no VM names either.
    const next = nodes[n + 1];
    const named = (id: number, host: string) => vms.some((vm) => vm.node === id && vm.host === host);
    const alike = next && next.host === node.host && next.b.usableCores.length === node.b.usableCores.length && next.b.vmMemoryKiB === node.b.vmMemoryKiB;
    if (next && alike && !named(node.b.node.id, node.host) && !named(next.b.node.id, next.host)) {
      const both = here.filter((v) => may(v, n + 1) && vms[v].node === "auto");
      if (both.length > 0) rows.push(` sym_${n}: ${both.map((v) => `${cores(v)} ${x(v, n)} - ${cores(v)} ${x(v, n + 1)}`).join(" + ")} >= 0`);
    }
    here.forEach((v) => bins.push(x(v, n)));
  });
  return `Minimize\n obj: 0 ${bins[0] ?? "x_none"}\nSubject To\n${rows.join("\n")}\nBinary\n ${[...bins, "x_none"].join("\n ")}\nEnd\n`;
}

async function main() {
  const i = process.argv.indexOf("--seconds");
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 10;
  const highs = await highsLoader();
  const only = process.argv.indexOf("--only") >= 0 ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
  const all: Case[] = [
    ...[4, 8, 16].map((n) => ({ ...tightCase("memory", n, 12 * n, 1) })),
    ...COUNTING_KINDS.flatMap((k) => [4, 16].map((n) => countingCase(k, n, 1))),
    ...[1, 2, 26].map((s) => multiHostCase(s, { tight: true })),
    ...Array.from({ length: 12 }, (_, i) => multiHostCase(i + 1, { tight: true, perturb: true })),
    multiHostCase(26, { tight: true, perturb: true }),
    bigCase(96, 130, "pages", 1),
    bigCase(192, 190, "exact", 1),
    bigMultiHostCase(96, 130, 2, 1),
  ];
  const cases = only ? all.filter((c) => c.name.includes(only)) : all;
  console.log(`${"case".padEnd(44)}${"planner".padStart(14)}${"ms".padStart(8)}${"HiGHS".padStart(26)}${"ms".padStart(8)}  (HiGHS limit ${seconds} s)`);
  for (const c of cases) {
    const t0 = performance.now();
    const o = planPlacement({ request: c.request, topologies: c.topologies });
    const planMs = performance.now() - t0;
    const t1 = performance.now();
    const s = highs.solve(lpOf(c), { time_limit: seconds, output_flag: false });
    const mipMs = performance.now() - t1;
    const mine = o.kind === "placed" ? "placed" : o.problems[0].kind;
    console.log(`${c.name.slice(0, 43).padEnd(44)}${mine.padStart(14)}${planMs.toFixed(0).padStart(8)}${s.Status.padStart(26)}${mipMs.toFixed(0).padStart(8)}`);
  }
}
void main();
