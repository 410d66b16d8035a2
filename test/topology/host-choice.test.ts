// The host as a first-class choice (issue 23, point 1) and what "gave up" says (point 5), on
// requests over several hosts generated to fit by construction (bench/multi-host-requests.ts).
import { multiHostCase } from "../../bench/multi-host-requests";
import { tightCase } from "../../bench/tight-requests";
import { checkPlan } from "../../topology/invariants";
import { planPlacement, type PlanOutcome } from "../../topology/planner";
import { PlacementRequestSchema, type PlacementRequest } from "../../topology/request";

function placedPlan(outcome: PlanOutcome, request: PlacementRequest, topologies: Parameters<typeof checkPlan>[2]) {
  if (outcome.kind !== "placed") throw new Error(`${outcome.problems[0].kind}: ${outcome.problems[0].message}`);
  expect(checkPlan(outcome.plan, request, topologies)).toEqual([]);
  return outcome.plan;
}

/**
 * multiHostCase(26, tight) with three VMs that name no host resized (+1, -1, +1 cores): all totals
 * still fit, no counting argument applies, and no placement is known.
 */
function unknown() {
  const c = multiHostCase(26, { tight: true });
  const raw = structuredClone(c.request);
  const free = raw.vms.filter((v) => v.host === undefined);
  free[0].cores += 1;
  free[1].cores = Math.max(1, free[1].cores - 1);
  free[2].cores += 1;
  return { request: PlacementRequestSchema.parse(raw), topologies: c.topologies };
}

/** A clock that moves one millisecond per read: the time limit is a number of reads, the same on any machine. */
function countingClock() {
  let t = 0;
  return { now: () => ++t, read: () => t };
}

describe("choosing hosts", () => {
  // Requests the old host choice (a greedy split over the hosts, then one VM at a time) gave up on
  // after 5-300 ms whatever the time limit, each with some VMs naming their host: found by
  // `npm run bench -- --only multi --planner <old topology/planner.ts>`.
  it.each([
    ["4 hosts, 8 VMs name theirs, one VM removed from a request it placed", multiHostCase(8, { minusOne: true })],
    ["3 hosts, 12 name theirs, tight", multiHostCase(1, { tight: true })],
    ["3 hosts, 22 name theirs, tight", multiHostCase(2, { tight: true })],
    ["2 hosts, 12 name theirs, tight", multiHostCase(5, { tight: true })],
    ["2 hosts, 9 name theirs, tight", multiHostCase(7, { tight: true })],
    ["4 hosts, 21 name theirs, tight, minus one", multiHostCase(4, { tight: true, minusOne: true })],
  ])("places %s, every VM that names a host on it", (_, c) => {
    const plan = placedPlan(planPlacement({ request: c.request, topologies: c.topologies }), c.request, c.topologies);
    for (const vm of c.request.vms) if (vm.host) expect(plan.vms.find((p) => p.name === vm.name)?.host).toBe(vm.host);
  });

});

describe("what a gave-up message says", () => {
  it("some VMs naming their host, it gives up only once its time is spent (before, after a tenth of it); it does not ask for more time where that would not help, and names a change that makes the closest arrangement fit", () => {
    const { request, topologies } = unknown();
    expect(request.vms.some((v) => v.host !== undefined)).toBe(true);
    const clock = countingClock();
    const outcome = planPlacement({ request, topologies, searchSeconds: 0.5, now: clock.now });
    if (outcome.kind !== "no-fit") throw new Error("placed: the case no longer gives up, pick another");
    expect(outcome.problems[0].kind).toBe("gave-up");
    // 0.5 s are 500 reads of this clock: the search kept going until the limit.
    expect(clock.read()).toBeGreaterThanOrEqual(500);
    const message = outcome.problems[0].message;
    expect(message).toMatch(/the closest arrangement found overfills node \d+ of h\d by /);
    expect(message).toContain("more time is unlikely to help");
    expect(message).not.toMatch(/allow more time|searchSeconds \d+ \(/);
    // "with vm-008 or ... 4 GiB smaller the closest arrangement fits": make the first one so, and it places.
    const m = /with (vm-\d+)(?: or vm-\d+)* (\d+(?:\.\d+)?) (GiB|cores?) smaller the closest arrangement fits/.exec(message);
    if (!m) throw new Error(`no change named: ${message}`);
    const smaller = structuredClone(request);
    const vm = smaller.vms.find((v) => v.name === m[1]);
    if (!vm) throw new Error(`${m[1]} is not a VM of the request`);
    if (m[3] === "GiB") vm.memoryGiB -= Number(m[2]);
    else vm.cores -= Number(m[2]);
    placedPlan(planPlacement({ request: smaller, topologies, searchSeconds: 0.5, now: countingClock().now }), smaller, topologies);
  });

  it("where the exhaustive search would finish, it names the time, and that time decides", () => {
    // A memory-tight request with a limit far too short (10 reads of the counting clock).
    const c = tightCase("memory", 4, 25, 5);
    const outcome = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: 0.01, now: countingClock().now });
    if (outcome.kind !== "no-fit") throw new Error("placed within 10 reads: pick another case");
    const m = /at that rate it would finish and decide with searchSeconds (\d+) \(--search-seconds \d+\)/.exec(outcome.problems[0].message);
    if (!m) throw new Error(`no time named: ${outcome.problems[0].message}`);
    const again = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: Number(m[1]), now: countingClock().now });
    expect(again.kind === "placed" || again.problems[0].kind === "does-not-fit").toBe(true);
  });
});
