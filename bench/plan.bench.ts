// `npm run bench`: how long planning takes, and what it places, proves or gives up, per family of
// generated requests (each generator says what fits by construction and why):
//   requests  the two requests the design names: 200 VMs on an 8-node, 1024-thread host
//             (bench/requests/200-vms.yaml, made by make-big-host.ts) and the documents' `single`
//             layout; the planner alone (after warm-up) and the whole `plan --json` process.
//   tight     tight-requests.ts: 2-16 nodes, 20-200 VMs, exact fills, 95-99 %, memory binding as
//             well as cores, mixed features; `perturbed` (an exact fill with one VM a core bigger
//             and another a core smaller: not known to fit), `parity` (never fits), and two hosts of
//             a family's shape with no VM naming its host.
//   multi     multi-host-requests.ts: 2-4 hosts, 20-60 VMs, some naming their host (or node), none
//             naming one, and the same requests minus one VM; `perturbed` (three VMs resized by
//             +1, -1, +1 cores: not known to fit; bench/mip-compare.ts referees them).
//   counting  counting-requests.ts: infeasible although the totals fit (parity, residue mod 3, a
//             matching that cannot exist, a host's named VMs, 1G pages, memory): must be proved,
//             and under a second.
//   chiplet   chiplet-requests.ts: 8-core L3 domains, split-free by construction (VMs of 2 GiB;
//             memory on one or two VMs per node; some naming their node): VMs split over more
//             domains than their size needs (must be 0).
//   big       big-host-requests.ts: 2 x 96-256 cores, 8 nodes, 130-210 VMs filling the nodes'
//             memory (97-100 %, exact, with 1G pages) and 2-3 such hosts with hosts left out.
// For each family: placed / proved (does not fit) / gave up, planner time p50/p90/max, and the
// search's peak heap growth (sampled on the search's own clock reads).
// The machine is shared and busy: read times as relative, run it more than once.
//
// Usage: npm run bench [-- --runs N --process-runs M --seeds S --search-seconds X
//                          --only tight,multi,... --planner PATH]
// --planner PATH measures another planner.ts (e.g. an older checkout's topology/planner.ts) on the
// same generated requests: how the numbers in README's planner section compare with before.
//
// Measured numbers are in README.md ("Plan a placement": what still gives up and why).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { readCapabilities } from "../topology/capabilities";
import type { HostTopology } from "../topology/host-topology";
import { l3DomainsOf } from "../topology/l3-domains";
import { planPlacement as currentPlanner, type PlanInput, type PlanOutcome } from "../topology/planner";
import { PlacementRequestSchema, type PlacementRequest } from "../topology/request";
import { BIG_VARIANTS, bigCase, bigMultiHostCase } from "./big-host-requests";
import { chipletCase, chipletMemoryCase, type ChipletSpec } from "./chiplet-requests";
import { COUNTING_KINDS, countingCase } from "./counting-requests";
import { multiHostCase } from "./multi-host-requests";
import { FAMILIES, tightCase, tightHost, type TightCase } from "./tight-requests";

const root = resolve(__dirname, "..");

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function text(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const RUNS = option("--runs", 50);
const PROCESS_RUNS = option("--process-runs", 10);
const SEEDS = option("--seeds", 3);
const SEARCH_SECONDS = option("--search-seconds", 3);
const ONLY = text("--only")?.split(",");
const plannerPath = text("--planner");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const planPlacement: (input: PlanInput) => PlanOutcome = plannerPath ? require(resolve(plannerPath)).planPlacement : currentPlanner;
const part = (name: string) => !ONLY || ONLY.includes(name);

interface Case {
  name: string;
  request: PlacementRequest;
  topologies: Map<string, HostTopology>;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Run {
  outcome: "placed" | "proved" | "gave-up";
  ms: number;
  heapMiB: number;
  /** Strict VMs on more L3 domains than ceil(cores / domain size). */
  split: number;
  message: string;
}

function runCase(c: Case): Run {
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
  let split = 0;
  if (o.kind === "placed")
    for (const vm of o.plan.vms) {
      if (vm.node === null) continue;
      const t = c.topologies.get(vm.host) as HostTopology;
      const size = Math.max(...[...groupSizes(t).values()]);
      if ((l3DomainsOf(vm, t) ?? []).length > Math.ceil(vm.topology.cores / size)) split++;
    }
  return { outcome, ms, heapMiB: (peak - base) / (1 << 20), split, message: o.kind === "placed" ? "" : o.problems[0].message };
}

function groupSizes(t: HostTopology): Map<number | null, number> {
  const m = new Map<number | null, number>();
  for (const n of t.nodes) for (const c of n.cores) m.set(c.l3, (m.get(c.l3) ?? 0) + 1);
  return m;
}

const HEADER = ["cases", "placed", "proved", "gave up", "p50", "p90", "max", "heap p90", "split"];
function familyRow(name: string, runs: Run[]): string {
  const ms = runs.map((r) => r.ms);
  const count = (k: Run["outcome"]) => String(runs.filter((r) => r.outcome === k).length).padStart(9);
  const times = [percentile(ms, 50), percentile(ms, 90), Math.max(...ms)].map((x) => x.toFixed(0).padStart(9)).join("");
  return `${name.padEnd(18)}${String(runs.length).padStart(9)}${count("placed")}${count("proved")}${count("gave-up")}${times}${percentile(runs.map((r) => r.heapMiB), 90).toFixed(1).padStart(9)}${String(runs.reduce((s, r) => s + r.split, 0)).padStart(9)}`;
}

/** Runs every case of each family, prints a row per family, and the cases that did not do what they must. */
function measure(title: string, families: Array<{ name: string; cases: () => Case[]; must: "place" | "prove" | "any" }>): void {
  console.log("");
  console.log(`${title}; searchSeconds ${SEARCH_SECONDS}; times in ms, heap growth in MiB, split: VMs on more L3 domains than their size needs`);
  console.log(`${"family".padEnd(18)}${HEADER.map((h) => h.padStart(9)).join("")}`);
  const notes: string[] = [];
  for (const f of families) {
    const runs: Run[] = [];
    for (const c of f.cases()) {
      const r = runCase(c);
      runs.push(r);
      const wrong = (f.must === "place" && r.outcome !== "placed") || (f.must === "prove" && r.outcome !== "proved") || r.split > 0;
      if (wrong) notes.push(`${f.name}: ${c.name}: ${r.outcome} in ${r.ms.toFixed(0)} ms${r.split > 0 ? `, ${r.split} split` : ""}${r.message ? `: ${r.message.slice(0, 400)}` : ""}`);
    }
    console.log(familyRow(f.name, runs));
  }
  for (const n of notes) console.log(`  ${n}`);
}

const seeds = (n = SEEDS) => Array.from({ length: n }, (_, i) => i + 1);

// ---- requests: the design's two requests ---------------------------------------------------------

function inputOf(file: string): PlanInput {
  const path = join(root, file);
  const request = PlacementRequestSchema.parse(parse(readFileSync(path, "utf8")));
  const topologies = new Map(request.hosts.map((h) => [h.name, readCapabilities(resolve(dirname(path), h.capabilities))]));
  return { request, topologies };
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

if (part("requests")) {
  const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0).padStart(10);
  const cases = [
    { name: "big (200 VMs, 1024 threads)", file: "bench/requests/200-vms.yaml" },
    { name: "single (reference host)", file: "test/fixtures/requests/single.yaml" },
  ];
  console.log(`planner alone: ${RUNS} runs in-process; plan process: ${PROCESS_RUNS} spawns of tsx cli/plan.ts --json; times in ms`);
  console.log(`${"request".padEnd(30)}${"VMs".padStart(5)}${["plan p50", "plan p90", "proc p50", "proc p90"].map((h) => h.padStart(10)).join("")}`);
  for (const c of cases) {
    const input = inputOf(c.file);
    const planner = timePlanner(input);
    const proc = timeProcess(c.file);
    console.log(`${c.name.padEnd(30)}${String(input.request.vms.length).padStart(5)}${fmt(percentile(planner, 50))}${fmt(percentile(planner, 90))}${fmt(percentile(proc, 50))}${fmt(percentile(proc, 90))}`);
  }
  // What the process times include before any of our code runs: node + tsx start-up.
  const startup: number[] = [];
  for (let i = 0; i < PROCESS_RUNS; i++) {
    const start = performance.now();
    spawnSync(join(root, "node_modules/.bin/tsx"), ["-e", "0"], { cwd: root });
    startup.push(performance.now() - start);
  }
  console.log(`${"(tsx start-up, empty script)".padEnd(35)}${" ".repeat(20)}${fmt(percentile(startup, 50))}${fmt(percentile(startup, 90))}`);
}

// ---- tight: one host, and two hosts of one shape ---------------------------------------------------

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

/** Does not fit, though the totals do: 2-core VMs numbering 3.5 per node of 7 usable cores. */
function parity(nodes: number, _vms: number, seed: number): TightCase {
  const count = Math.floor((7 * nodes) / 2);
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "big", capabilities: "synthetic.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
    vms: Array.from({ length: count }, (_, i) => ({ name: `vm-${String(i).padStart(3, "0")}`, cores: 2, memoryGiB: 1 + ((i * seed) % 3) })),
  });
  return { name: `parity ${nodes} nodes ${count} VMs #${seed}`, family: "exact", nodes, request, topologies: new Map([["big", tightHost(nodes, 8, 64, 0)]]) };
}

/** Two hosts of the family's shape, every VM without a host: the planner chooses host and node. */
function twoHosts(family: (typeof FAMILIES)[number]) {
  return (nodes: number, vms: number, seed: number): TightCase => {
    const parts = [tightCase(family, nodes, Math.ceil(vms / 2), seed), tightCase(family, nodes, Math.ceil(vms / 2), seed + 1000)];
    const request = PlacementRequestSchema.parse({
      hosts: parts.map((p, i) => ({ ...p.request.hosts[0], name: `h${i}` })),
      vms: parts.flatMap((p, i) => p.request.vms.map((v) => ({ ...v, name: `h${i}-${v.name}`, host: undefined, node: "auto" }))),
    });
    const topologies = new Map(parts.map((p, i) => [`h${i}`, p.topologies.get("big") as HostTopology]));
    return { name: `2 hosts ${parts[0].name}`, family, nodes, request, topologies };
  };
}

if (part("tight")) {
  const sizes: Array<[number, number]> = [[2, 20], [2, 60], [4, 20], [4, 60], [4, 120], [8, 60], [8, 120], [8, 200], [16, 60], [16, 120], [16, 200]];
  const over = (make: (n: number, v: number, s: number) => TightCase) => () => sizes.flatMap(([n, v]) => seeds().map((s) => make(n, v, s)));
  measure(`tight families: ${SEEDS} seeds x ${sizes.length} sizes (nodes/VMs ${sizes.map(([n, v]) => `${n}/${v}`).join(" ")})`, [
    ...FAMILIES.map((f) => ({ name: f, cases: over((n, v, s) => tightCase(f, n, v, s)), must: "place" as const })),
    { name: "perturbed", cases: over(perturbed), must: "any" },
    { name: "parity", cases: over(parity), must: "prove" },
    { name: "2h exact", cases: over(twoHosts("exact")), must: "place" },
    { name: "2h memory", cases: over(twoHosts("memory")), must: "place" },
  ]);
}

if (part("multi")) {
  const n = 4 * SEEDS;
  measure(`several hosts: ${n} seeds each (2-4 hosts, 20-60 VMs)`, [
    { name: "some name a host", cases: () => seeds(n).map((s) => multiHostCase(s)), must: "place" },
    { name: "none names one", cases: () => seeds(n).map((s) => multiHostCase(s, { naming: 0 })), must: "place" },
    { name: "most name one", cases: () => seeds(n).map((s) => multiHostCase(s, { naming: 0.8 })), must: "place" },
    { name: "some, minus one", cases: () => seeds(n).map((s) => multiHostCase(s, { minusOne: true })), must: "place" },
    { name: "tight, some name", cases: () => seeds(n).map((s) => multiHostCase(s, { tight: true })), must: "place" },
    { name: "tight, minus one", cases: () => seeds(n).map((s) => multiHostCase(s, { tight: true, minusOne: true })), must: "place" },
    { name: "tight, perturbed", cases: () => seeds(n).map((s) => multiHostCase(s, { tight: true, perturb: true })), must: "any" },
  ]);
}

if (part("counting")) {
  measure(`does not fit by counting: ${SEEDS} seeds x 2, 4, 8, 16 nodes`, [
    ...COUNTING_KINDS.map((k) => ({ name: k, cases: () => [2, 4, 8, 16].flatMap((n) => seeds().map((s) => countingCase(k, n, s))), must: "prove" as const })),
  ]);
}

if (part("chiplet")) {
  const specs: ChipletSpec[] = [
    { nodes: 1, banksPerNode: 8, coresPerBank: 8, threadsPerCore: 2 },
    { nodes: 2, banksPerNode: 4, coresPerBank: 8, threadsPerCore: 2 },
    { nodes: 4, banksPerNode: 2, coresPerBank: 8, threadsPerCore: 2 },
    { nodes: 4, banksPerNode: 3, coresPerBank: 8, threadsPerCore: 2 },
    { nodes: 2, banksPerNode: 6, coresPerBank: 8, threadsPerCore: 2 },
    { nodes: 4, banksPerNode: 4, coresPerBank: 8, threadsPerCore: 2 },
    { nodes: 8, banksPerNode: 2, coresPerBank: 8, threadsPerCore: 2 },
  ];
  const of = (make: (spec: ChipletSpec, seed: number) => { request: PlacementRequest; topologies: Map<string, HostTopology> }) => () =>
    specs.flatMap((spec) => seeds(2 * SEEDS).map((s) => ({ name: `${spec.nodes}x${spec.banksPerNode} domains of ${spec.coresPerBank} #${s}`, ...make(spec, s) })));
  measure(`chiplet hosts (8-core L3 domains, ${specs.length} shapes x ${2 * SEEDS} seeds), split-free by construction`, [
    { name: "2 GiB each", cases: of(chipletCase), must: "place" },
    { name: "memory on a few", cases: of((spec, s) => chipletMemoryCase(spec, s, false)), must: "place" },
    { name: "and fixed nodes", cases: of((spec, s) => chipletMemoryCase(spec, s, true)), must: "place" },
  ]);
}

if (part("big")) {
  const shapes: Array<[number, number]> = [[96, 130], [128, 170], [192, 190], [256, 210]];
  measure(`big hosts: 2 x 96-256 cores, 8 nodes, 130-210 VMs filling the memory (${SEEDS} seeds per shape)`, [
    ...BIG_VARIANTS.map((v) => ({ name: `big ${v}`, cases: () => shapes.flatMap(([c, n]) => seeds().map((s) => bigCase(c, n, v, s))), must: "place" as const })),
    { name: "big 2-3 hosts", cases: () => [[96, 130, 2], [128, 150, 3], [192, 170, 2]].flatMap(([c, n, h]) => seeds().map((s) => bigMultiHostCase(c, n, h, s))), must: "place" },
  ]);
}
