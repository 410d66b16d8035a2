// Planner bugs found by the property tests, each as the smallest input that shows it. These tests
// state the contract and fail until the planner is fixed; they are kept apart so the lead sees them.
import { capabilitiesXml, regularHost, topologyOf } from "../fixtures/hosts";
import { parseCapabilities } from "../../topology/capabilities";
import { checkPlan } from "../../topology/invariants";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";
import { exhaustivePlacementExists } from "./exhaustive";

/**
 * Node 0: 2 complete cores (threads 0,4 and 1,5). Node 1: 2 cores whose second threads (6, 7) are
 * offline, so both are incomplete and are its reserve: node 1 has memory but no core a VM may use.
 */
const halfOfflineNode = parseCapabilities(
  capabilitiesXml(regularHost({ name: "halfOfflineNode", sockets: 2, nodesPerSocket: 1, coresPerNode: 2, threadsPerCore: 2, memoryGiBPerNode: 16, offline: [6, 7] })),
  "synthetic:halfOfflineNode",
);

describe("floating VM memory counts only the CPU nodes it is interleaved over", () => {
  // DESIGN.md: a floating VM's memory "is interleaved over the host's CPU nodes and counted against
  // their combined free memory". The planner interleaves over nodes with a usable core and VM memory
  // (node 0 here) but counts the free memory of every node (checkFloating sums all ledgers), so it
  // places 20 GiB against node 0's 12 GiB and checkPlan reports a `floating` violation.
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "h", capabilities: "h.xml", reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
    vms: [{ name: "storage", numa: "floating", cores: 1, memoryGiB: 20 }],
  });
  const topologies = new Map([["h", halfOfflineNode]]);

  it("does not place a floating VM whose memory only fits by counting a node without usable cores", () => {
    expect(exhaustivePlacementExists(request, topologies)).toBe(false);
    const outcome = planPlacement({ request, topologies });
    if (outcome.kind === "placed") {
      // What the planner does today: the plan it returns breaks the contract.
      expect(checkPlan(outcome.plan, request, topologies)).toEqual([]);
    }
    expect(outcome.kind).toBe("no-fit");
  });

  it("places it when it fits node 0's free memory (12 GiB)", () => {
    const fits = PlacementRequestSchema.parse({ ...request, vms: [{ name: "storage", numa: "floating", cores: 1, memoryGiB: 12 }] });
    const outcome = planPlacement({ request: fits, topologies });
    expect(outcome.kind).toBe("placed");
    if (outcome.kind === "placed") expect(checkPlan(outcome.plan, fits, topologies)).toEqual([]);
  });
});

describe("a no-fit of node: auto VMs that lack cores together says cores", () => {
  // Nine 7-core VMs on EPYC NPS4 (8 nodes x 7 free cores): 63 cores needed, 56 free, memory is
  // plentiful (144 of 224 GiB). assignNodes' total-capacity prune fails before any VM is tried, so
  // autoNoFit blames the first VM of the search order (w0, which fits on any node) and, since some
  // node has 7 cores >= w0's 7, names field memoryGiB. The user is told to change memoryGiB of a VM
  // that is not the problem; the message itself says "no node of h can take it" next to eight nodes
  // with room for it.
  const request = PlacementRequestSchema.parse({
    hosts: [{ name: "h", capabilities: "h.xml" }],
    vms: Array.from({ length: 9 }, (_, i) => ({ name: `w${i}`, cores: 7, memoryGiB: 16 })),
  });
  it("names field cores", () => {
    const outcome = planPlacement({ request, topologies: new Map([["h", topologyOf("epycNps4")]]) });
    expect(outcome.kind).toBe("no-fit");
    if (outcome.kind === "no-fit") expect(outcome.problems.map((p) => p.field)).toEqual(["cores"]);
  });
});
