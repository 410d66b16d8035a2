// checkPlan catches each rule: a valid plan, then one hand-made mutation per rule that breaks
// exactly that rule, and checkPlan must name exactly that rule (and the VM at fault).
import { capabilitiesXml, regularHost, REFERENCE_SHAPE } from "../fixtures/hosts";
import { parseCapabilities } from "../../topology/capabilities";
import { checkPlan, formatViolation, type RuleId } from "../../topology/invariants";
import type { Plan, VmPlacement } from "../../topology/placement";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema, type PlacementRequest } from "../../topology/request";

const GiB = 1024 * 1024;

/** The reference host (threads n and n+36, 126 GiB per node) with 8 x 1G pages on node 1. */
const referenceWithPages = parseCapabilities(
  capabilitiesXml(
    regularHost({ ...REFERENCE_SHAPE, name: "referenceWithPages", hugepages: (i) => (i === 1 ? { "1G": 8 } : {}) }),
  ),
  "synthetic:referenceWithPages",
);
const topologies = new Map([["h", referenceWithPages]]);

const baseVms = [
  { name: "shared0", node: 0, cores: 4, memoryGiB: 16 },
  { name: "dedicated1", node: 1, cores: 2, memoryGiB: 8, emulator: "dedicated" },
  { name: "pages1", node: 1, cores: 2, memoryGiB: 4, hugepages: "1G" },
  { name: "floater", numa: "floating", cores: 2, memoryGiB: 4 },
];
// Two reserved cores per node, so a shared emulator can keep off one of them.
const requestOf = (vms: object[]): PlacementRequest =>
  PlacementRequestSchema.parse({ hosts: [{ name: "h", capabilities: "h.xml", reserve: { coresPerNode: 2, memoryGiBPerNode: 4 } }], vms });
const baseRequest = requestOf(baseVms);

function basePlan(): Plan {
  const outcome = planPlacement({ request: baseRequest, topologies });
  if (outcome.kind !== "placed") throw new Error(outcome.problems[0].message);
  return structuredClone(outcome.plan);
}
const vmOf = (plan: Plan, name: string): VmPlacement => plan.vms.find((v) => v.name === name)!;
const reservedOf = (plan: Plan, node: number) => plan.hosts[0].nodes.find((n) => n.id === node)!.reservedThreads;
const freeOf = (plan: Plan, node: number) => plan.hosts[0].nodes.find((n) => n.id === node)!.freeThreads;

interface Mutation {
  rule: RuleId;
  /** The VM the violation names; null for a node's totals. */
  vm: string | null;
  what: string;
  /** Break the plan (and, for totals, the request with it so that only the totals are wrong). */
  mutate: (plan: Plan) => PlacementRequest | void;
}

const mutations: Mutation[] = [
  {
    rule: "requested",
    vm: "shared0",
    what: "memory differs from the request",
    mutate: (p) => void (vmOf(p, "shared0").memoryKiB -= GiB),
  },
  {
    rule: "online-threads",
    vm: "floater",
    what: "an iothread on a thread the host does not have",
    mutate: (p) => void (vmOf(p, "floater").iothreadpin = [999]),
  },
  {
    rule: "whole-cores",
    vm: "shared0",
    what: "a core's siblings split over two guest cores (0,1 / 36,37)",
    mutate: (p) => {
      const pins = vmOf(p, "shared0").vcpupin;
      [pins[1], pins[2]] = [pins[2], pins[1]];
    },
  },
  {
    rule: "exclusive-vcpus",
    // The violation names the second VM to claim the thread, in plan order.
    vm: "pages1",
    what: "two VMs pinned to one thread",
    mutate: (p) => {
      const d = vmOf(p, "dedicated1");
      const other = vmOf(p, "pages1");
      d.vcpupin.splice(0, 2, ...other.vcpupin.slice(0, 2));
    },
  },
  {
    rule: "reserve-respected",
    vm: "dedicated1",
    what: "a vCPU core moved onto the node's reserved core",
    mutate: (p) => {
      // Node 1 keeps two reserved cores (34/70, 35/71). dedicated1 takes the last one; pages1's
      // shared emulator keeps to the other, so the only broken rule is the reserve.
      const reserved = reservedOf(p, 1);
      const core = [reserved[reserved.length / 2 - 1], reserved[reserved.length - 1]];
      const d = vmOf(p, "dedicated1");
      d.vcpupin.splice(0, 2, ...core);
      const pages = vmOf(p, "pages1");
      pages.emulatorpin = reserved.filter((t) => !core.includes(t));
      pages.iothreadpin = [...pages.emulatorpin];
    },
  },
  {
    rule: "single-node",
    vm: "shared0",
    what: "a strict VM's core on the other node",
    mutate: (p) => {
      const free1 = freeOf(p, 1);
      vmOf(p, "shared0").vcpupin.splice(0, 2, free1[0], free1.find((t) => t === free1[0] + 36)!);
    },
  },
  {
    rule: "emulator-isolated",
    vm: "dedicated1",
    what: "a dedicated emulator on the VM's own vCPU core",
    mutate: (p) => {
      const d = vmOf(p, "dedicated1");
      d.emulatorpin = d.vcpupin.slice(0, 2);
    },
  },
  {
    rule: "shared-emulator",
    vm: "shared0",
    what: "a shared emulator on a free, unreserved core",
    mutate: (p) => {
      const free0 = freeOf(p, 0);
      const s = vmOf(p, "shared0");
      s.emulatorpin = [free0[0], free0[0] + 36];
      s.iothreadpin = [...s.emulatorpin];
    },
  },
  {
    rule: "node-memory",
    vm: null,
    what: "node 0's VMs take more memory than it has after the reserve",
    mutate: (p) => {
      vmOf(p, "shared0").memoryKiB = 123 * GiB;
      return requestOf(baseVms.map((v) => (v.name === "shared0" ? { ...v, memoryGiB: 123 } : v)));
    },
  },
  {
    rule: "hugepages",
    vm: null,
    what: "node 1's VMs take more 1G pages than its pool",
    mutate: (p) => {
      const v = vmOf(p, "pages1");
      v.memoryKiB = 9 * GiB;
      v.hugepages = { sizeKiB: GiB, count: 9 };
      return requestOf(baseVms.map((x) => (x.name === "pages1" ? { ...x, memoryGiB: 9 } : x)));
    },
  },
  {
    rule: "floating",
    vm: "floater",
    what: "a floating VM's memory bound to one node",
    mutate: (p) => void (vmOf(p, "floater").numatune = { mode: "interleave", nodeset: [0] }),
  },
];

describe("checkPlan", () => {
  it("finds nothing wrong with the planner's plan of the base request", () => {
    expect(checkPlan(basePlan(), baseRequest, topologies)).toEqual([]);
  });

  it("covers every rule id with a mutation below", () => {
    const rules: RuleId[] = ["requested", "online-threads", "whole-cores", "exclusive-vcpus", "reserve-respected", "single-node", "emulator-isolated", "shared-emulator", "node-memory", "hugepages", "floating"];
    expect(mutations.map((m) => m.rule).sort()).toEqual([...rules].sort());
  });

  describe.each(mutations)("$rule: $what", ({ rule, vm, mutate }) => {
    it(`is caught as ${rule} and nothing else`, () => {
      const plan = basePlan();
      const request = mutate(plan) ?? baseRequest;
      const violations = checkPlan(plan, request, topologies);
      expect(violations.length).toBeGreaterThan(0);
      expect([...new Set(violations.map((v) => v.rule))]).toEqual([rule]);
      expect(violations.map((v) => v.vm)).toContain(vm);
      for (const v of violations) expect(formatViolation(v)).toMatch(new RegExp(`^${rule} h`));
    });
  });

  it("reports a VM that is requested but missing from the plan", () => {
    const plan = basePlan();
    plan.vms = plan.vms.filter((v) => v.name !== "floater");
    expect(checkPlan(plan, baseRequest, topologies)).toEqual([expect.objectContaining({ rule: "requested", vm: "floater" })]);
  });
});
