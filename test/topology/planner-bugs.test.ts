// Planner bugs found by the property tests, each as the smallest input that shows it. These tests
// state the contract and fail until the planner is fixed; they are kept apart so the lead sees them.
import { capabilitiesXml, regularHost } from "../fixtures/hosts";
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
