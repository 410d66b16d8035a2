// The host as a first-class choice (issue 23, point 1) and what "gave up" says (point 5), on
// requests over several hosts generated to fit by construction (bench/multi-host-requests.ts).
import { multiHostCase } from "../../bench/multi-host-requests";
import { tightCase, tightHost } from "../../bench/tight-requests";
import { checkPlan } from "../../topology/invariants";
import { countingClock } from "./counting-clock";
import { planPlacement, type PlanOutcome } from "../../topology/planner";
import { PlacementRequestSchema, type PlacementRequest } from "../../topology/request";
import { nodePackingOf } from "../../topology/host-choice";
import { demandOf, hostLedgerOf } from "../../topology/ledger";
import { packingNoFit } from "../../topology/packing-no-fit";

function placedPlan(outcome: PlanOutcome, request: PlacementRequest, topologies: Parameters<typeof checkPlan>[2]) {
  if (outcome.kind !== "placed") throw new Error(`${outcome.problems[0].kind}: ${outcome.problems[0].message}`);
  expect(checkPlan(outcome.plan, request, topologies)).toEqual([]);
  return outcome.plan;
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
    const plan = placedPlan(planPlacement({ request: c.request, topologies: c.topologies, now: countingClock().now }), c.request, c.topologies);
    for (const vm of c.request.vms) if (vm.host) expect(plan.vms.find((p) => p.name === vm.name)?.host).toBe(vm.host);
  });

});

describe("what a gave-up message says", () => {
  it("some VMs naming their host, it gives up only once its time is spent, says what more time would change, and that time places it", () => {
    // Far too little time (12 reads of the counting clock) for a request that places in about a
    // tenth of a second.
    const c = multiHostCase(6, { tight: true });
    expect(c.request.vms.some((v) => v.host !== undefined)).toBe(true);
    const clock = countingClock();
    const outcome = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: 0.012, now: clock.now });
    if (outcome.kind !== "no-fit") throw new Error("placed within 12 reads: pick another case");
    expect(outcome.problems[0].kind).toBe("gave-up");
    expect(clock.read()).toBeGreaterThanOrEqual(12);
    const message = outcome.problems[0].message;
    expect(message).toMatch(/the closest arrangement found overfills node \d+ of h\d by /);
    const m = /more time may place it, e\.g\. searchSeconds (\d+) \(--search-seconds \d+\)/.exec(message);
    if (!m) throw new Error(`no time named: ${message}`);
    placedPlan(planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: Number(m[1]), now: countingClock().now }), c.request, c.topologies);
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

describe("does not fit where only a linear argument shows it", () => {
  it("a host short of memory for the cores it must take: proved (HiGHS agrees: infeasible; the planner used to give up)", () => {
    // multiHostCase(26, tight, perturbed): every core of the three hosts is needed, so h0 must
    // take the cores the others cannot, and the VMs that could bring them need more memory than
    // h0 has, whichever are chosen.
    const c = multiHostCase(26, { tight: true, perturb: true });
    const outcome = planPlacement({ request: c.request, topologies: c.topologies });
    if (outcome.kind !== "no-fit") throw new Error("placed a request HiGHS proves infeasible");
    expect(outcome.problems[0]).toMatchObject({ kind: "does-not-fit", field: "memoryGiB" });
    expect(outcome.problems[0].message).toMatch(
      /^h0 must take at least 26 cores of the VMs' 84 cores \(the other hosts' nodes hold at most 58\): the 3 VMs that can only go there \(vm-024, vm-035, vm-042\) bring 8 cores and 32 GiB, and the other 18 cores cost at least 70 GiB even from the VMs with the least memory per core, but h0 has 98 GiB for them, in any arrangement$/,
    );
  });
});

describe("when the searches show that more time would not help", () => {
  // The searches' own results, given: a local search that came no closer for most of its run and an
  // exhaustive search that would need years: the message must not ask for more time, and must
  // name a change (a VM on the overfull node, by the amount it is over).
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "h", capabilities: "h.xml" }],
    vms: [
      { name: "vm-a", cores: 3, memoryGiB: 4 },
      { name: "vm-b", cores: 1, memoryGiB: 4 },
    ],
  });
  const h = hostLedgerOf(request.hosts[0], tightHost(2, 8, 64, 0));
  const open = request.vms.map((vm, i) => ({ demand: demandOf(vm, i), hosts: [0] }));
  const packing = nodePackingOf([h], open, [0], false);
  const stuck = { item: packing.items[0], placedBefore: [], remaining: packing.groups.map((g) => [...g.capacity]) };
  const gaveUp = (iterations: number, lastCloser: number, covered: number) =>
    packingNoFit(
      packing,
      { kind: "gave-up", seconds: 3, stuck, progress: { steps: 1e6, covered, seconds: 0.9 }, closest: { over: [{ group: 0, resource: 0, amount: 2, items: [0, 1] }], iterations, lastCloser } },
      { hosts: [h], open, seconds: 3 },
    ).message;

  it("a stagnant local search and an exhaustive search that cannot finish: no more time asked, a VM named", () => {
    const message = gaveUp(40_000, 1_000, 1e-12);
    expect(message).toContain("more time is unlikely to help: the local search came no closer after iteration 1000 of 40000");
    expect(message).toContain("with vm-a 2 cores smaller the closest arrangement fits");
    expect(message).not.toMatch(/searchSeconds \d/);
  });

  it("a local search still getting closer, or one too short to tell: more time is asked", () => {
    expect(gaveUp(40_000, 39_000, 1e-12)).toMatch(/still getting closer .*: more time may place it, e\.g\. searchSeconds 12 \(--search-seconds 12\)/);
    expect(gaveUp(100, 0, 1e-12)).toMatch(/ran only 100 iterations, too few to tell .*: more time may place it/);
  });
});
