// Golden plans: the documents' layouts as `npm run plan --json` prints them, reviewed like code.
// UPDATE_GOLDEN=1 rewrites them; review the diff before committing it.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import YAML from "yaml";
import { PlacementRequestSchema } from "../../topology/request";
import { planPlacement } from "../../topology/planner";
import { readTopologies } from "../../stacks/placement-inputs";
import { checkPlan } from "../../topology/invariants";
import { l3DomainsOf } from "../../topology/l3-domains";
import { formatPlanTable } from "../../topology/view/plan-table";
import { chipletHost } from "../../bench/chiplet-requests";
import { expectGolden } from "../golden";

const requests = resolve(__dirname, "../fixtures/requests");

function planOf(file: string) {
  const request = PlacementRequestSchema.parse(YAML.parse(readFileSync(file, "utf8")));
  const topologies = readTopologies(request, dirname(file));
  const outcome = planPlacement({ request, topologies });
  if (outcome.kind !== "placed") throw new Error(`${file} does not place: ${outcome.problems.map((p) => p.message).join("; ")}`);
  return { plan: outcome.plan, topologies };
}


describe("golden plans", () => {
  it("the documents' single layout, as JSON", () => {
    const { plan } = planOf(join(requests, "single.yaml"));
    expectGolden(__dirname, "plan-single.json", JSON.stringify(plan, null, 2) + "\n");
  });
});

describe("golden plans on EPYC chiplet hosts (an L3 bank per 8-core CCX in the capture)", () => {
  const vms = [
    { name: "k3s-server", cores: 2, memoryGiB: 8 },
    { name: "slm-worker-1", cores: 8, memoryGiB: 32, emulator: "dedicated" },
    { name: "slm-worker-2", cores: 8, memoryGiB: 32 },
    { name: "data-1", cores: 12, memoryGiB: 48 },
    { name: "temporal", cores: 4, memoryGiB: 16 },
    { name: "victoria", cores: 4, memoryGiB: 16 },
    { name: "agent-1", cores: 3, memoryGiB: 8 },
    { name: "agent-2", cores: 5, memoryGiB: 8 },
    { name: "batch", cores: 2, memoryGiB: 4, numa: "floating" },
  ];
  const cases = [
    { name: "epyc-nps1", spec: { nodes: 1, banksPerNode: 8, coresPerBank: 8, threadsPerCore: 2 } },
    { name: "epyc-nps4", spec: { nodes: 4, banksPerNode: 2, coresPerBank: 8, threadsPerCore: 2 } },
  ];
  it.each(cases)("$name: plan JSON and table with L3 domains", ({ name, spec }) => {
    const topology = chipletHost(spec);
    const request = PlacementRequestSchema.parse({ hosts: [{ name, capabilities: `${name}.xml` }], vms });
    const topologies = new Map([[name, topology]]);
    const outcome = planPlacement({ request, topologies });
    if (outcome.kind !== "placed") throw new Error(outcome.problems[0].message);
    expect(checkPlan(outcome.plan, request, topologies)).toEqual([]);
    // No VM spans more L3 domains than its size needs (ceil(cores / 8)); the floating one may.
    for (const vm of outcome.plan.vms.filter((v) => v.node !== null)) expect(l3DomainsOf(vm, topology)!.length).toBe(Math.ceil(vm.topology.cores / 8));
    const withL3 = { ...outcome.plan, vms: outcome.plan.vms.map((vm) => ({ ...vm, l3Domains: l3DomainsOf(vm, topology) })) };
    expectGolden(__dirname, `plan-${name}.json`, JSON.stringify(withL3, null, 2) + "\n");
    expectGolden(__dirname, `plan-${name}.txt`, formatPlanTable(outcome.plan, topologies));
  });
});
