// `npm run bench`: how long planning takes, for the two requests the design names:
//   big     200 VMs on an 8-node, 1024-thread host (bench/requests/200-vms.yaml, made by make-big-host.ts)
//   single  the documents' `single` layout on the reference host (test/fixtures/requests/single.yaml)
// For each: the planner alone in this process (performance.now, after warm-up), the whole
// `plan --json` process as a user runs it (spawned, tsx start-up included), and the search steps
// the node assignment needed (the smallest searchBound that still places the request).
// Usage: npm run bench [-- --runs N --process-runs M]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { readCapabilities } from "../topology/capabilities";
import { DEFAULT_SEARCH_BOUND } from "../topology/node-assignment";
import { planPlacement, type PlanInput } from "../topology/planner";
import { PlacementRequestSchema } from "../topology/request";

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

/** Steps the node assignment needs: the smallest bound that still places (bisection). */
function stepsNeeded(input: PlanInput): number {
  const places = (bound: number) => planPlacement({ ...input, searchBound: bound }).kind === "placed";
  if (places(0)) return 0;
  let lo = 0;
  let hi = DEFAULT_SEARCH_BOUND;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (places(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0).padStart(10);
const rows: string[] = [];
for (const c of cases) {
  const input = inputOf(c.file);
  const planner = timePlanner(input);
  const proc = timeProcess(c.file);
  const vms = input.request.vms.length;
  rows.push(
    `${c.name.padEnd(30)}${String(vms).padStart(5)}${fmt(percentile(planner, 50))}${fmt(percentile(planner, 90))}${fmt(percentile(proc, 50))}${fmt(percentile(proc, 90))}${String(stepsNeeded(input)).padStart(10)}`,
  );
}
console.log(`planner alone: ${RUNS} runs in-process; plan process: ${PROCESS_RUNS} spawns of tsx cli/plan.ts --json; times in ms`);
console.log(`${"request".padEnd(30)}${"VMs".padStart(5)}${["plan p50", "plan p90", "proc p50", "proc p90", "steps"].map((h) => h.padStart(10)).join("")}`);
for (const r of rows) console.log(r);
// What the process times include before any of our code runs: node + tsx start-up.
const startup: number[] = [];
for (let i = 0; i < PROCESS_RUNS; i++) {
  const start = performance.now();
  spawnSync(join(root, "node_modules/.bin/tsx"), ["-e", "0"], { cwd: root });
  startup.push(performance.now() - start);
}
console.log(`${"(tsx start-up, empty script)".padEnd(35)}${" ".repeat(20)}${fmt(percentile(startup, 50))}${fmt(percentile(startup, 90))}`);
