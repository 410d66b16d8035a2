// `tsx bench/mip-compare.ts`: the measurement behind node-assignment.ts's choice of exact search +
// local search over a MIP. For tight cases of the `memory` family (the hardest for the local
// search) and the `parity` family (infeasible), a plain assignment MIP in HiGHS (the `highs`
// package, WebAssembly): x[v][n] binary, each VM on one allowed node, cores, memory and pages per
// node within capacity, no objective; symmetry broken over identical nodes by ordering their
// core loads (load[n] >= load[n+1] for nodes of equal capacity). Prints HiGHS's status and time
// next to the planner's. Not part of `npm run bench` (it loads a 3 MB wasm and is slow by design).
// Measured on the 2-core CI machine (2026-12-02), ms:
//   memory 4 nodes 32 VMs     planner placed 215   HiGHS optimal 218
//   memory 8 nodes 85 VMs     planner placed 339   HiGHS optimal 30
//   memory 16 nodes 116 VMs   planner placed 409   HiGHS time limit (10 s), no answer
//   parity 4/8/16 nodes       planner proved 0-1   HiGHS infeasible 9-33
// So the MIP is not needed for placing (and fails the 5 s goal on 16 nodes in this form), nor for
// these proofs (the subset-sum bound finds them); it stays out of the synchronous planner.
import { performance } from "node:perf_hooks";
import highsLoader from "highs";
import { planPlacement } from "../topology/planner";
import { hostBudgets } from "../topology/node-budget";
import { HUGEPAGE_KIB, memoryKiB, PlacementRequestSchema } from "../topology/request";
import { tightCase, tightHost, type TightCase } from "./tight-requests";

function lpOf(c: TightCase): string {
  const h = c.request.hosts[0];
  const budgets = hostBudgets(c.topologies.get(h.name)!, h.reserve);
  const vms = c.request.vms.filter((v) => v.numa === "strict");
  const rows: string[] = [];
  const bins: string[] = [];
  const x = (v: number, n: number) => `x_${v}_${n}`;
  vms.forEach((vm, v) => rows.push(` one_${v}: ${budgets.map((_, n) => x(v, n)).join(" + ")} = 1`));
  budgets.forEach((b, n) => {
    const cores = vms.map((vm, v) => `${vm.cores + (vm.emulator === "dedicated" ? 1 : 0)} ${x(v, n)}`).join(" + ");
    rows.push(` cores_${n}: ${cores} <= ${b.usableCores.length}`);
    const mem = vms.map((vm, v) => (vm.hugepages ? "" : `${memoryKiB(vm.memoryGiB) / 1024} ${x(v, n)}`)).filter(Boolean);
    if (mem.length > 0) rows.push(` mem_${n}: ${mem.join(" + ")} <= ${Math.floor(b.vmMemoryKiB / 1024)}`);
    const pages = vms.map((vm, v) => (vm.hugepages ? `${memoryKiB(vm.memoryGiB) / HUGEPAGE_KIB[vm.hugepages]} ${x(v, n)}` : "")).filter(Boolean);
    if (pages.length > 0) rows.push(` pages_${n}: ${pages.join(" + ")} <= ${b.hugepages.get(1048576) ?? 0}`);
    if (n + 1 < budgets.length) {
      const next = vms.map((vm, v) => `${vm.cores} ${x(v, n)} - ${vm.cores} ${x(v, n + 1)}`).join(" + ");
      rows.push(` sym_${n}: ${next} >= 0`);
    }
    vms.forEach((_, v) => bins.push(x(v, n)));
  });
  return `Minimize\n obj: 0 ${bins[0]}\nSubject To\n${rows.join("\n")}\nBinary\n ${bins.join("\n ")}\nEnd\n`;
}

async function main() {
  const highs = await highsLoader();
  const cases: TightCase[] = [];
  for (const [nodes, vms] of [[4, 60], [8, 120], [16, 200]] as const) cases.push(tightCase("memory", nodes, vms, 1));
  for (const nodes of [4, 8, 16]) {
    const count = Math.floor((7 * nodes) / 2);
    const request = PlacementRequestSchema.parse({
      hosts: [{ name: "big", capabilities: "synthetic.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
      vms: Array.from({ length: count }, (_, i) => ({ name: `vm-${i}`, cores: 2, memoryGiB: 1 + (i % 3) })),
    });
    cases.push({ name: `parity ${nodes} nodes ${count} VMs`, family: "exact", nodes, request, topologies: new Map([["big", tightHost(nodes, 8, 64, 0)]]) });
  }
  console.log(`${"case".padEnd(34)}${"planner".padStart(14)}${"ms".padStart(8)}${"HiGHS".padStart(26)}${"ms".padStart(8)}`);
  for (const c of cases) {
    const t0 = performance.now();
    const o = planPlacement({ request: c.request, topologies: c.topologies });
    const planMs = performance.now() - t0;
    const t1 = performance.now();
    const s = highs.solve(lpOf(c), { time_limit: 10, output_flag: false });
    const mipMs = performance.now() - t1;
    const mine = o.kind === "placed" ? "placed" : o.problems[0].kind;
    console.log(`${c.name.padEnd(34)}${mine.padStart(14)}${planMs.toFixed(0).padStart(8)}${s.Status.padStart(26)}${mipMs.toFixed(0).padStart(8)}`);
  }
}
void main();
