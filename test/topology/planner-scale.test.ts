// The planner on many-node hosts with tight requests that fit by construction
// (tight-requests.ts): it must place every one within the time limit, and every plan must obey
// invariants.ts. When the search does run out of time, the planner says "gave up", never "does
// not fit". fast-check prints the seed and the shrunk case on failure.
import fc from "fast-check";
import { checkPlan } from "../../topology/invariants";
import { lockOf } from "../../topology/lock";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";
import { FAMILIES, tightCase, tightHost } from "../../bench/tight-requests";
import { countingClock } from "./counting-clock";

describe("planner on tight many-node requests", () => {
  it("places every request that fits by construction (2-16 nodes, 20-200 VMs, 95-100 % of the cores), and the plan obeys every invariant", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FAMILIES),
        fc.constantFrom(2, 4, 8, 16),
        fc.integer({ min: 20, max: 200 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (family, nodes, vms, seed) => {
          const c = tightCase(family, nodes, vms, seed);
          const outcome = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: 5, now: countingClock().now });
          if (outcome.kind !== "placed") throw new Error(`${c.name}: ${outcome.problems[0].kind}: ${outcome.problems[0].message}`);
          expect(checkPlan(outcome.plan, c.request, c.topologies)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("is deterministic on a case that needs the local search", () => {
    const c = tightCase("memory", 8, 60, 1);
    const a = planPlacement({ request: c.request, topologies: c.topologies, now: countingClock().now });
    const b = planPlacement({ request: structuredClone(c.request), topologies: new Map([...c.topologies].map(([k, v]) => [k, structuredClone(v)])), now: countingClock().now });
    expect(a.kind).toBe("placed");
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it("says gave-up, naming the request and the limit, when the time runs out before a placement is found", () => {
    const c = tightCase("memory", 8, 60, 1);
    // A clock that jumps a second per read: the limit is gone after the first few searched steps.
    let t = 0;
    const now = () => (t += 1000);
    const outcome = planPlacement({ request: c.request, topologies: c.topologies, searchSeconds: 2, now });
    if (outcome.kind !== "no-fit") throw new Error("expected no placement within the limit");
    expect(outcome.problems).toHaveLength(1);
    const [p] = outcome.problems;
    expect(p.kind).toBe("gave-up");
    const autoVms = c.request.vms.filter((v) => v.numa === "strict" && v.node === "auto").length;
    expect(p.message).toMatch(new RegExp(`^the ${autoVms} node: auto VMs of big \\(.*no placement found within the search limit of \\d+(\\.\\d+)? s \\(searchSeconds\\); one may exist`));
  });

  it("still proves does-not-fit when the time is short, where capacity arithmetic decides", () => {
    const c = tightCase("exact", 8, 60, 2);
    const grown = structuredClone(c.request);
    const vm = grown.vms.find((v) => v.numa === "strict" && v.node === "auto");
    if (!vm) throw new Error("the case has no node: auto VM");
    vm.cores += 1; // an exact fill plus one core: more than the nodes have together
    let t = 0;
    const outcome = planPlacement({ request: grown, topologies: c.topologies, searchSeconds: 1, now: () => (t += 1000) });
    if (outcome.kind !== "no-fit") throw new Error("an over-full request placed");
    expect(outcome.problems[0].kind).toBe("does-not-fit");
  });

  it("proves does-not-fit when the totals fit but the VM sizes cannot fill the nodes (2-core VMs on 7-core nodes, 3.5 per node)", () => {
    const request = PlacementRequestSchema.parse({
      hosts: [{ name: "big", capabilities: "synthetic.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
      vms: Array.from({ length: 28 }, (_, i) => ({ name: `vm-${i}`, cores: 2, memoryGiB: 1 + (i % 3) })),
    });
    const outcome = planPlacement({ request, topologies: new Map([["big", tightHost(8, 8, 64, 0)]]) });
    if (outcome.kind !== "no-fit") throw new Error("28 2-core VMs placed on 8 nodes of 7 cores");
    expect(outcome.problems[0].kind).toBe("does-not-fit");
    expect(outcome.problems[0].message).toContain("need 56 cores together, but whole VMs of their sizes (2 cores) can fill at most 48 of the 56 cores free on big, in any arrangement; every VM's core count is a multiple of 2 (at most: node 0: 6 of 7, node 1: 6 of 7,");
  });
});

describe("planner choosing the host", () => {
  const two = (vms: Array<Record<string, unknown>>) =>
    PlacementRequestSchema.parse({
      hosts: [
        { name: "a", capabilities: "a.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } },
        { name: "b", capabilities: "b.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } },
      ],
      vms,
    });
  // Two hosts of 2 nodes x 7 usable cores.
  const topologies = new Map([
    ["a", tightHost(2, 8, 64, 0)],
    ["b", tightHost(2, 8, 64, 0)],
  ]);

  it("places VMs without a host over several hosts, exactly filling both, and the plan obeys every invariant", () => {
    const request = two([
      { name: "fixed", host: "a", cores: 7, memoryGiB: 8 },
      ...[2, 7, 4, 5, 3].map((cores, i) => ({ name: `free-${i}`, cores, memoryGiB: 4 })),
    ]);
    const outcome = planPlacement({ request, topologies });
    if (outcome.kind !== "placed") throw new Error(outcome.problems[0].message);
    expect(checkPlan(outcome.plan, request, topologies)).toEqual([]);
    expect(outcome.plan.vms.find((v) => v.name === "fixed")?.host).toBe("a");
    expect(new Set(outcome.plan.vms.map((v) => v.host))).toEqual(new Set(["a", "b"]));
  });

  it("a locked VM without a host stays on its locked host", () => {
    const vms = [1, 2, 3].map((cores, i) => ({ name: `vm-${i}`, cores, memoryGiB: 2 }));
    const first = planPlacement({ request: two(vms), topologies });
    if (first.kind !== "placed") throw new Error("not placed");
    const lock = lockOf(first.plan);
    const next = planPlacement({ request: two([...vms, { name: "new", cores: 6, memoryGiB: 2 }]), topologies, lock });
    if (next.kind !== "placed") throw new Error(next.problems[0].message);
    for (const before of first.plan.vms) expect(next.plan.vms.find((v) => v.name === before.name)).toMatchObject({ host: before.host, vcpupin: before.vcpupin });
  });

  it("says does-not-fit when the hosts together have too few cores", () => {
    const outcome = planPlacement({ request: two([7, 7, 7, 7, 1].map((cores, i) => ({ name: `vm-${i}`, cores, memoryGiB: 1 }))), topologies });
    if (outcome.kind !== "no-fit") throw new Error("29 cores placed on 28");
    expect(outcome.problems[0]).toMatchObject({ kind: "does-not-fit", field: "cores" });
    expect(outcome.problems[0].message).toContain("the 5 VMs the planner places (vm-0, vm-1, vm-2, vm-3, vm-4) need 29 cores together; the hosts (a, b) have 28 cores free for them after the reserve and the fixed and locked VMs (a: 14, b: 14)");
  });

  it("proves does-not-fit over all hosts together when VM sizes cannot fill their nodes", () => {
    // 14 x 2 = 28 cores, as many as the 4 nodes of 7 have; but a node holds 3 such VMs, so 12 at most.
    const outcome = planPlacement({ request: two(Array.from({ length: 14 }, (_, i) => ({ name: `vm-${i}`, cores: 2, memoryGiB: 1 }))), topologies });
    if (outcome.kind !== "no-fit") throw new Error("14 2-core VMs placed on 4 nodes of 7 cores");
    expect(outcome.problems[0]).toMatchObject({ kind: "does-not-fit" });
    expect(outcome.problems[0].message).toContain("the 14 VMs the planner places (vm-0, vm-1, vm-2, vm-3, vm-4, vm-5 and 8 more) need 28 cores together, but whole VMs of their sizes (2 cores) can fill at most 24 of the 28 cores free on the hosts (a, b)");
  });

  it("says does-not-fit, naming the VM and each host's reason, when no host can take it", () => {
    const outcome = planPlacement({ request: two([{ name: "huge", cores: 8, memoryGiB: 4 }]), topologies });
    if (outcome.kind !== "no-fit") throw new Error("an 8-core VM placed on 7-core nodes");
    expect(outcome.problems[0]).toMatchObject({ kind: "does-not-fit", vm: "huge" });
    expect(outcome.problems[0].message).toMatch(/^huge \(8 cores, 4 GiB, no host named\): no host of the request can take it, on any node, in any arrangement \(free: a: node 0: 7 cores, 60 GiB, node 1: 7 cores, 60 GiB; b: /);
  });

  it("places VMs without a host over two many-node hosts when each host's share fits by construction", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FAMILIES), fc.constantFrom(2, 4, 8), fc.integer({ min: 20, max: 60 }), fc.integer({ min: 1, max: 1_000_000 }), (family, nodes, vms, seed) => {
        const parts = [tightCase(family, nodes, vms, seed), tightCase(family, nodes, vms, seed + 1)];
        const request = PlacementRequestSchema.parse({
          hosts: parts.map((p, i) => ({ ...p.request.hosts[0], name: `h${i}` })),
          // Fixed nodes become auto: a VM naming a node must name its host.
          vms: parts.flatMap((p, i) => p.request.vms.map((v) => ({ ...v, name: `h${i}-${v.name}`, host: undefined, node: "auto" }))),
        });
        const topologies = new Map(parts.map((p, i) => [`h${i}`, p.topologies.get("big")!]));
        const outcome = planPlacement({ request, topologies, searchSeconds: 5, now: countingClock().now });
        if (outcome.kind !== "placed") throw new Error(`${parts[0].name} + ${parts[1].name}: ${outcome.problems[0].kind}: ${outcome.problems[0].message}`);
        expect(checkPlan(outcome.plan, request, topologies)).toEqual([]);
      }),
      { numRuns: 20 },
    );
  });

  it("still requires the host of a VM with an explicit node", () => {
    expect(() => two([{ name: "x", node: 1, cores: 1, memoryGiB: 1 }])).toThrow(/required with node: 1 when there are several hosts/);
  });
});
