// `npm run bench`: how long planning takes.
// Part 1, the two requests the design names:
//   big     200 VMs on an 8-node, 1024-thread host (bench/requests/200-vms.yaml, made by make-big-host.ts)
//   single  the documents' `single` layout on the reference host (test/fixtures/requests/single.yaml)
// For each: the planner alone in this process (performance.now, after warm-up) and the whole
// `plan --json` process as a user runs it (spawned, tsx start-up included).
// Part 2, generated tight families (test/topology/tight-requests.ts): 2-16 nodes, 20-200 VMs,
// exact fills (100 % of the cores), 95-99 %, memory binding as well as cores, mixed features; all
// fit by construction. Plus `perturbed`: an exact fill with one VM a core bigger and another a
// core smaller (the total still fits; whether a placement exists is not known beforehand), and
// `parity`: 2-core VMs on 7-core nodes, 3.5 per node, which never fits although the totals do,
// and `2h ...`: two hosts of a family's shape (nodes per host as listed, VMs split over both),
// no VM naming its host: the planner chooses host and node. For each
// family: placed / proved (does not fit) / gave up, planner time p50/p90/max, and the search's peak
// heap growth (sampled on the search's own clock reads).
// Part 3, chiplet hosts (an L3 bank per CCX in the capture) with requests that fill every domain
// exactly with VMs no larger than a domain, all node: auto: VMs split over two domains (must be 0:
// a split-free placement exists by construction) and planner time.
//
// Why the node assignment is exact search + local search (node-assignment.ts, local-search.ts):
// on these families the exact search alone gave up on most tight cases from 4 nodes and 20 VMs up
// (the issue's measurements: 93 of 212 feasible, 14-45 s each); the tabu local search places every
// feasible case here in well under a second, and the exact search still proves small infeasible
// cases. A MIP through the `highs` package was not adopted: it loads only asynchronously (the
// planner is synchronous) and was not needed to reach the goal (< 5 s) on these families.
//
// Measured on the 2-core CI machine (2026-12-02, default options), planner time in ms:
//   big 200 VMs / 1024 threads p50 8, p90 13; every tight family placed (exact, tight, mixed:
//   max 12; memory: p50 230, max 456; two hosts with the planner choosing: exact max 45, memory
//   max 1650), parity 33 of 33 proved in <= 3 ms, no gave-up; heap growth at most 46 MiB; chiplet
//   hosts 0 split VMs. Before (the step-bounded exact search alone), issue 13 counts 93 of 212
//   feasible tight requests given up after 14-45 s each.
// Usage: npm run bench [-- --runs N --process-runs M --seeds S --search-seconds X]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { readCapabilities } from "../topology/capabilities";
import { planPlacement, type PlanInput } from "../topology/planner";
import { PlacementRequestSchema } from "../topology/request";
import { FAMILIES, chipletCase, tightCase, tightHost, type ChipletSpec, type TightCase } from "../test/topology/tight-requests";
import { l3DomainsOf } from "../topology/l3-domains";

const root = resolve(__dirname, "..");
const cases = [
  { name: "big (200 VMs, 1024 threads)", file: "bench/requests/200-vms.yaml" },
  { name: "single (reference host)", file: "test/fixtures/requests/single.yaml" },
];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const RUNS = option("--runs", 50);
const PROCESS_RUNS = option("--process-runs", 10);
const SEEDS = option("--seeds", 3);
const SEARCH_SECONDS = option("--search-seconds", 3);

function inputOf(file: string): PlanInput {
  const path = join(root, file);
  const request = PlacementRequestSchema.parse(parse(readFileSync(path, "utf8")));
  const topologies = new Map(request.hosts.map((h) => [h.name, readCapabilities(resolve(dirname(path), h.capabilities))]));
  return { request, topologies };
}

/** Nearest-rank percentile of milliseconds. */
function percentile(ms: number[], p: number): number {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function timePlanner(input: PlanInput): number[] {
  for (let i = 0; i < 5; i++) planPlacement(input);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const outcome = planPlacement(input);
    ms.push(performance.now() - start);
    if (outcome.kind !== "placed") throw new Error(`the bench request does not place: ${outcome.problems[0].message}`);
  }
  return ms;
}

function timeProcess(file: string): number[] {
  const ms: number[] = [];
  for (let i = 0; i < PROCESS_RUNS; i++) {
    const start = performance.now();
    const run = spawnSync(join(root, "node_modules/.bin/tsx"), ["cli/plan.ts", "--request", file, "--json"], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
    ms.push(performance.now() - start);
    if (run.status !== 0) throw new Error(`plan --request ${file} exited ${run.status}: ${run.stderr.trim().split("\n")[0]}`);
  }
  return ms;
}

const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0).padStart(10);
const rows: string[] = [];
for (const c of cases) {
  const input = inputOf(c.file);
  const planner = timePlanner(input);
  const proc = timeProcess(c.file);
  const vms = input.request.vms.length;
  rows.push(
    `${c.name.padEnd(30)}${String(vms).padStart(5)}${fmt(percentile(planner, 50))}${fmt(percentile(planner, 90))}${fmt(percentile(proc, 50))}${fmt(percentile(proc, 90))}`,
  );
}
console.log(`planner alone: ${RUNS} runs in-process; plan process: ${PROCESS_RUNS} spawns of tsx cli/plan.ts --json; times in ms`);
console.log(`${"request".padEnd(30)}${"VMs".padStart(5)}${["plan p50", "plan p90", "proc p50", "proc p90"].map((h) => h.padStart(10)).join("")}`);
for (const r of rows) console.log(r);
// What the process times include before any of our code runs: node + tsx start-up.
const startup: number[] = [];
for (let i = 0; i < PROCESS_RUNS; i++) {
  const start = performance.now();
  spawnSync(join(root, "node_modules/.bin/tsx"), ["-e", "0"], { cwd: root });
  startup.push(performance.now() - start);
}
console.log(`${"(tsx start-up, empty script)".padEnd(35)}${" ".repeat(20)}${fmt(percentile(startup, 50))}${fmt(percentile(startup, 90))}`);

// ---- part 2: tight families ----------------------------------------------------------------------

/** An exact fill with one VM a core bigger and another (of 2+ cores) a core smaller. */
function perturbed(nodes: number, vms: number, seed: number): TightCase {
  const c = tightCase("exact", nodes, vms, seed);
  const strict = c.request.vms.filter((v) => v.numa === "strict");
  const small = strict.find((v) => v.cores >= 2);
  const other = strict.find((v) => v !== small);
  if (small && other) {
    small.cores -= 1;
    other.cores += 1;
  }
  return { ...c, name: c.name.replace("exact", "perturbed") };
}

/**
 * Does not fit, though the totals do: nodes of 7 usable cores, and 2-core VMs (some 1G-page free
 * memory aside) numbering 3.5 per node: a node holds 3, so only an exhaustive search can say no.
 */
function parity(nodes: number, _vms: number, seed: number): TightCase {
  const usable = 7;
  const count = Math.floor((usable * nodes) / 2);
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "big", capabilities: "synthetic.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
    vms: Array.from({ length: count }, (_, i) => ({ name: `vm-${String(i).padStart(3, "0")}`, cores: 2, memoryGiB: 1 + ((i * seed) % 3) })),
  });
  return { name: `parity ${nodes} nodes ${count} VMs #${seed}`, family: "exact", nodes, request, topologies: new Map([["big", tightHost(nodes, usable + 1, 64, 0)]]) };
}

/** Two hosts of the family's shape, every VM without a host: the planner chooses hosts and nodes. */
function twoHosts(family: (typeof FAMILIES)[number]) {
  return (nodes: number, vms: number, seed: number): TightCase => {
    const parts = [tightCase(family, nodes, Math.ceil(vms / 2), seed), tightCase(family, nodes, Math.ceil(vms / 2), seed + 1000)];
    const request = PlacementRequestSchema.parse({
      hosts: parts.map((p, i) => ({ ...p.request.hosts[0], name: `h${i}` })),
      vms: parts.flatMap((p, i) => p.request.vms.map((v) => ({ ...v, name: `h${i}-${v.name}`, host: undefined, node: "auto" }))),
    });
    const topologies = new Map(parts.map((p, i) => [`h${i}`, p.topologies.get("big") as NonNullable<ReturnType<typeof p.topologies.get>>]));
    return { name: `2 hosts ${parts[0].name}`, family, nodes, request, topologies };
  };
}

interface Run {
  outcome: "placed" | "proved" | "gave-up";
  ms: number;
  heapMiB: number;
}

function runCase(c: TightCase): Run {
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  let reads = 0;
  // The search reads its clock every few hundred steps; sampling the heap there finds its peak.
  const now = () => {
    if ((++reads & 7) === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    return performance.now();
  };
  const start = performance.now();
  const o = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: SEARCH_SECONDS, now });
  const ms = performance.now() - start;
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  const outcome = o.kind === "placed" ? "placed" : o.problems[0].kind === "does-not-fit" ? "proved" : "gave-up";
  return { outcome, ms, heapMiB: (peak - base) / (1 << 20) };
}

const sizes: Array<[number, number]> = [
  [2, 20], [2, 60], [4, 20], [4, 60], [4, 120], [8, 60], [8, 120], [8, 200], [16, 60], [16, 120], [16, 200],
];
console.log("");
console.log(`tight families: ${SEEDS} seeds x ${sizes.length} sizes (nodes/VMs ${sizes.map(([n, v]) => `${n}/${v}`).join(" ")}), searchSeconds ${SEARCH_SECONDS}; times in ms, heap growth in MiB`);
console.log(`${"family".padEnd(12)}${["cases", "placed", "proved", "gave up", "p50", "p90", "max", "heap p90", "heap max"].map((h) => h.padStart(9)).join("")}`);
const families: Array<[string, (n: number, v: number, s: number) => TightCase]> = [
  ...FAMILIES.map((f): [string, (n: number, v: number, s: number) => TightCase] => [f, (n, v, s) => tightCase(f, n, v, s)]),
  ["perturbed", perturbed],
  ["parity", parity],
  ["2h exact", twoHosts("exact")],
  ["2h memory", twoHosts("memory")],
];
const slowest: string[] = [];
for (const [family, make] of families) {
  const runs: Run[] = [];
  for (const [nodes, vms] of sizes)
    for (let seed = 1; seed <= SEEDS; seed++) {
      const c = make(nodes, vms, seed);
      const r = runCase(c);
      runs.push(r);
      if (r.outcome !== "placed" && family !== "perturbed" && family !== "parity") slowest.push(`${c.name}: ${r.outcome} (${r.ms.toFixed(0)} ms)`);
    }
  const ms = runs.map((r) => r.ms);
  const heap = runs.map((r) => r.heapMiB);
  const count = (k: Run["outcome"]) => String(runs.filter((r) => r.outcome === k).length).padStart(9);
  console.log(
    `${family.padEnd(12)}${String(runs.length).padStart(9)}${count("placed")}${count("proved")}${count("gave-up")}${[percentile(ms, 50), percentile(ms, 90), Math.max(...ms)].map((x) => x.toFixed(0).padStart(9)).join("")}${[percentile(heap, 90), Math.max(...heap)].map((x) => x.toFixed(1).padStart(9)).join("")}`,
  );
}
for (const s of slowest) console.log(`not placed although it fits by construction: ${s}`);

// ---- part 3: chiplet hosts ----------------------------------------------------------------------

const chiplets: ChipletSpec[] = [
  { nodes: 1, banksPerNode: 8, coresPerBank: 8, threadsPerCore: 2 },
  { nodes: 2, banksPerNode: 4, coresPerBank: 8, threadsPerCore: 2 },
  { nodes: 4, banksPerNode: 2, coresPerBank: 8, threadsPerCore: 2 },
  { nodes: 8, banksPerNode: 2, coresPerBank: 4, threadsPerCore: 2 },
];
console.log("");
console.log(`chiplet hosts: ${SEEDS} seeds each, every L3 domain filled exactly, all node: auto; times in ms`);
console.log(`${"host".padEnd(26)}${["cases", "VMs", "placed", "split VMs", "p50", "max"].map((h) => h.padStart(10)).join("")}`);
for (const spec of chiplets) {
  let vms = 0;
  let placed = 0;
  let split = 0;
  const ms: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const c = chipletCase(spec, seed);
    vms += c.request.vms.length;
    const start = performance.now();
    const o = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: SEARCH_SECONDS });
    ms.push(performance.now() - start);
    if (o.kind !== "placed") continue;
    placed++;
    const topology = c.topologies.get("chiplet");
    if (!topology) throw new Error("chiplet case without its host");
    split += o.plan.vms.filter((vm) => (l3DomainsOf(vm, topology) ?? []).length > 1).length;
  }
  const name = `${spec.nodes}x${spec.banksPerNode} domains of ${spec.coresPerBank}`;
  console.log(`${name.padEnd(26)}${[SEEDS, vms, placed, split].map((x) => String(x).padStart(10)).join("")}${[percentile(ms, 50), Math.max(...ms)].map((x) => x.toFixed(0).padStart(10)).join("")}`);
}
