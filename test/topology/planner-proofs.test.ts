// "Does not fit, because ..." from a counting argument (issue 23, point 2): requests that cannot
// fit although every total does (bench/counting-requests.ts), each proved before any search, with
// the VMs, the nodes and the arithmetic in one line; and every such proof checked against
// exhaustive search where that is small enough to run.
import { COUNTING_KINDS, countingCase, type CountingKind } from "../../bench/counting-requests";
import { planPlacement } from "../../topology/planner";
import { exhaustivePlacementExists } from "./exhaustive";

/** What each kind's one line must say: the argument, and numbers a user can check. */
const WORDS: Record<CountingKind, RegExp> = {
  parity: /need \d+ cores together, but whole VMs of their sizes \([\d, ]+ cores\) can fill at most \d+ of the \d+ cores free on the hosts \(a, b\), in any arrangement; every VM's core count is a multiple of 2 \(at most: node 0 of a: \d+ of \d+/,
  residue: /can fill at most \d+ of the \d+ cores free on the hosts \(a, b\), in any arrangement; every VM's core count is a multiple of 3 \(at most: node 0 of a: \d+ of \d+/,
  matching: /^\d+ VMs need (9|10|11|12) cores or more each \(vm-000, vm-001, .*\), but the hosts \(a, b\) have room for at most \d+ of them, in any arrangement \(node 0 of a: 1, node 1 of a: 1/,
  named: /^the \d+ VMs that can only go to a \(vm-000, .*\) need \d+ cores together; a has \d+ cores free for them after the reserve and the fixed and locked VMs \(node 0 of a: 12, node 1 of a: 12/,
  pages: /need \d+ x 1G pages together, but whole VMs of their sizes \(2, 4 1G pages\) can fill at most \d+ of the \d+ x 1G pages free on big, in any arrangement; every VM's page count is a multiple of 2 \(at most: node 0: 4 of 5/,
  memory: /need \d+ GiB together, but whole VMs of their sizes \(8 GiB, 16 GiB, 24 GiB\) can fill at most \d+ GiB of the \d+ GiB free on big, in any arrangement; every VM's memory is a multiple of 8 GiB \(at most: node 0: 56 GiB of 60 GiB/,
};

describe("does not fit, by counting", () => {
  it.each(COUNTING_KINDS.flatMap((kind) => [4, 8, 16].map((nodes) => [kind, nodes] as const)))("%s on %d nodes: proved, naming the VMs, the nodes and the arithmetic", (kind, nodes) => {
    const c = countingCase(kind, nodes, 1);
    // A clock that would end the search after its first read: only an argument made before any search can prove this.
    let t = 0;
    const outcome = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: 0.001, now: () => (t += 1000) });
    if (outcome.kind !== "no-fit") throw new Error(`${c.name} placed`);
    const [p] = outcome.problems;
    expect(p.kind).toBe("does-not-fit");
    expect(p.message).toMatch(WORDS[kind]);
    expect(p.message).not.toContain("\n");
  });

  it.each(COUNTING_KINDS)("%s on 2 nodes: exhaustive search agrees that nothing fits", (kind) => {
    const c = countingCase(kind, 2, 1);
    const outcome = planPlacement({ request: c.request, topologies: c.topologies });
    expect(outcome.kind === "no-fit" && outcome.problems[0].kind).toBe("does-not-fit");
    expect(exhaustivePlacementExists(c.request, c.topologies)).toBe(false);
  });
});
