// Which place (host, node, L3 domain) each item of a packing goes to (packing.ts): a
// multi-resource bin packing (cores, ordinary memory, huge pages per size, a host's share for its
// floating VMs). Proofs, two searches, one time limit:
// - counting arguments (packing-proofs.ts): parity, residues, subset sums, Hall's condition for
//   VMs that fit only some nodes; they prove "does not fit" in milliseconds where they apply;
// - the exact search (exact-search.ts): places, or proves by exhausting the tree; on tight
//   packings from 4 nodes and 20 VMs up it can run for minutes, so it gets a fixed number of
//   steps first, and what time is left last;
// - a tabu local search with restarts (local-search.ts) over complete assignments: it cannot prove
//   anything, but it carries the large tight cases, over one host or several.
// A MIP (HiGHS as WebAssembly) was measured as the alternative (bench/mip-compare.ts): it can also
// prove infeasibility, but the `highs` package only loads asynchronously while the planner is a
// synchronous pure function used by every command and the Pulumi program, and on the memory-tight
// families it answered later than the local search or not within 10 s; so it is the bench's
// referee, not part of the planner.
import { ExactProgress, Packing, PlaceOf, Closest } from "./packing";
import { Proof, proveInfeasible } from "./packing-proofs";
import { Stuck, exactSearch } from "./exact-search";
import { localSearch } from "./local-search";

export type Solved =
  | { kind: "assigned"; placeOf: PlaceOf; by: "exact" | "local-search"; steps: number }
  /** No assignment exists: a counting argument, or the exhaustive search. */
  | { kind: "infeasible"; proof: Proof | { kind: "exhaustive"; stuck: Stuck } }
  /** The time (or the counted effort) ran out before either search could decide: one may exist. */
  | { kind: "gave-up"; seconds: number; progress: ExactProgress; closest: Closest; stuck: Stuck };

/** The planner's default time limit for the node assignment of one request, in seconds. */
export const DEFAULT_SEARCH_SECONDS = 3;

/**
 * Steps the exact search may take before the local search takes over (one step = one item tried
 * in one group). Real requests and the property tests' random small hard cases need a few
 * thousand. A step costs more the more items and groups there are (about 38 µs with 213 VMs on 8
 * nodes, measured here), so the bound is also EXACT_WORK / (items x groups), but never less than
 * twice the items (the first, best-fit-decreasing path): a count, so that the same request takes
 * the same path on any machine, and at most about a tenth of a second on large requests.
 */
export const EXACT_STEPS = 20_000;
const EXACT_WORK = 4_000_000;
/** The share of the time limit by which the local search must have placed, before step 4. */
const LOCAL_SHARE = 0.7;

export interface SearchLimits {
  /** Wall-clock seconds for the whole assignment; default DEFAULT_SEARCH_SECONDS. */
  seconds?: number;
  /** A clock in milliseconds (tests); default performance.now. */
  now?: () => number;
  /** Steps for the first exact search; default EXACT_STEPS. */
  exactSteps?: number;
  /** Iterations for the local search, a count (the same answer on any machine); default: until its time share. */
  localIterations?: number;
  /** Steps for the last exact search; default: until the time limit. */
  finalSteps?: number;
  /** Run the counting proofs first; default true. */
  prove?: boolean;
  /** The local search's starting assignment. */
  start?: PlaceOf;
}

/**
 * Assign every item to a place, or prove none exists, or say what was found when the time ran out.
 * 0. Best-fit-decreasing (the exact search's first path, one step per item): most requests end here.
 * 1. Counting arguments (proveInfeasible): proved, in milliseconds.
 * 2. The exact search for `exactSteps` steps (EXACT_STEPS, fewer on large requests): it places,
 *    proves "does not fit" by exhausting the tree, or runs out. Small and easy cases end here.
 * 3. The local search until LOCAL_SHARE of the time limit: it places or runs out.
 * 4. The exact search again, until the time limit: where the local search failed it may still
 *    prove "does not fit" (or place); else give up, with how far the exact search got and the
 *    closest assignment the local search saw (what a "gave up" message says).
 * Steps 2 and 3 are bounded by counts, not the clock, where they place: the same request gives the
 * same plan on a slow machine as on a fast one (only "gave up" depends on the machine).
 */
export function solvePacking(p: Packing, limits: SearchLimits = {}): Solved {
  const now = limits.now ?? (() => performance.now());
  const start = now();
  const seconds = limits.seconds ?? DEFAULT_SEARCH_SECONDS;
  const deadline = start + seconds * 1000;
  // 0. Best-fit-decreasing alone (the exact search's first path): most requests end here.
  const first = exactSearch(p, p.items.length, deadline, now);
  if (first.kind === "assigned") return { kind: "assigned", placeOf: first.placeOf, by: "exact", steps: first.steps };
  if (limits.prove !== false) {
    const proof = proveInfeasible(p);
    if (proof) return { kind: "infeasible", proof };
  }
  const sized = Math.max(2 * p.items.length, Math.min(EXACT_STEPS, Math.floor(EXACT_WORK / Math.max(1, p.items.length * p.groups.length))));
  const exact = exactSearch(p, limits.exactSteps ?? sized, deadline, now);
  if (exact.kind === "assigned") return { kind: "assigned", placeOf: exact.placeOf, by: "exact", steps: exact.steps };
  if (exact.kind === "exhausted") return { kind: "infeasible", proof: { kind: "exhaustive", stuck: exact.stuck } };
  const local = localSearch(p, { deadline: start + LOCAL_SHARE * seconds * 1000, now, maxIterations: limits.localIterations, start: limits.start });
  if (local.placeOf) return { kind: "assigned", placeOf: local.placeOf, by: "local-search", steps: exact.steps + local.iterations };
  const again = exactSearch(p, limits.finalSteps ?? Infinity, deadline, now);
  if (again.kind === "assigned") return { kind: "assigned", placeOf: again.placeOf, by: "exact", steps: exact.steps + again.steps };
  if (again.kind === "exhausted") return { kind: "infeasible", proof: { kind: "exhaustive", stuck: again.stuck } };
  const progress = again.progress.covered >= exact.progress.covered ? again.progress : exact.progress;
  return { kind: "gave-up", seconds, progress, closest: local.closest, stuck: exact.stuck };
}
