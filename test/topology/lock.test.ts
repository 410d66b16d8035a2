// The placement lock: a plan written with formatLock reads back through PlacementLockSchema, and
// re-planning with it keeps VMs, refuses locked VMs the host can no longer hold, and frees the
// cores of VMs that left the request.
import { topologyOf } from "../fixtures/hosts";
import { PlacementLockSchema, formatLock, lockOf, type PlacementLock } from "../../topology/lock";
import type { Plan } from "../../topology/placement";
import { planPlacement, type PlanOutcome } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";

const reference = topologyOf("reference2x18ht");
const topologies = new Map([["h", reference]]);

function plan(vms: object[], lock?: PlacementLock, coresPerNode = 1): PlanOutcome {
  const request = PlacementRequestSchema.parse({ hosts: [{ name: "h", capabilities: "h.xml", reserve: { coresPerNode, memoryGiBPerNode: 4 } }], vms });
  return planPlacement({ request, topologies, lock });
}
function placed(o: PlanOutcome): Plan {
  if (o.kind !== "placed") throw new Error(o.problems.map((p) => p.message).join(" | "));
  return o.plan;
}
const pinsOf = (p: Plan, name: string) => p.vms.find((v) => v.name === name)!.vcpupin;

const vms = [
  { name: "zeta", node: 0, cores: 9, memoryGiB: 32 },
  { name: "alpha", node: 0, cores: 8, memoryGiB: 32 },
  { name: "beta", cores: 4, memoryGiB: 16, emulator: "dedicated" },
  { name: "gamma", numa: "floating", cores: 2, memoryGiB: 8 },
];

describe("placement lock", () => {
  it("round-trips through formatLock and PlacementLockSchema, one VM per line, sorted by name", () => {
    const lock = lockOf(placed(plan(vms)));
    const text = formatLock(lock);
    expect(PlacementLockSchema.parse(JSON.parse(text))).toEqual(lock);
    const lines = text.split("\n").filter((l) => l.includes('"name"'));
    expect(lines.map((l) => JSON.parse(l.trim().replace(/,$/, "")).name)).toEqual(["alpha", "beta", "gamma", "zeta"]);
    expect(formatLock(lockOf({ hosts: [], vms: [] }))).toBe(formatLock(PlacementLockSchema.parse(JSON.parse(formatLock(lockOf({ hosts: [], vms: [] }))))));
  });

  it("re-planning the same request with its lock gives the same plan, byte for byte", () => {
    const first = placed(plan(vms));
    const lock = PlacementLockSchema.parse(JSON.parse(formatLock(lockOf(first))));
    expect(JSON.stringify(placed(plan(vms, lock)))).toBe(JSON.stringify(first));
  });

  it("a locked VM whose threads became reserved is a lock problem naming it", () => {
    // With one reserved core, alpha + zeta take all 17 usable cores of node 0, up to core 16/52.
    const lock = lockOf(placed(plan(vms)));
    const outcome = plan(vms, lock, 2);
    expect(outcome.kind).toBe("no-fit");
    if (outcome.kind !== "no-fit") return;
    const holder = lock.vms.find((v) => v.vcpupin.includes(16))!.name;
    const problem = outcome.problems.find((p) => p.vm === holder);
    expect(problem).toMatchObject({ field: "lock", host: "h" });
    expect(problem!.message).toContain(holder);
    expect(problem!.message).toContain("lock");
  });

  it("a VM removed from the request frees its cores for a new one", () => {
    const first = placed(plan(vms));
    const lock = lockOf(first);
    const next = vms.filter((v) => v.name !== "zeta").concat([{ name: "eta", node: 0, cores: 9, memoryGiB: 32 }]);
    const second = placed(plan(next, lock));
    expect([...pinsOf(second, "eta")].sort((a, b) => a - b)).toEqual([...pinsOf(first, "zeta")].sort((a, b) => a - b));
    for (const name of ["alpha", "beta", "gamma"]) expect(pinsOf(second, name)).toEqual(pinsOf(first, name));
  });

  it("a lock entry for a VM no longer requested is ignored", () => {
    const lock = lockOf(placed(plan(vms)));
    const second = placed(plan(vms.filter((v) => v.name !== "gamma"), lock));
    expect(second.vms.map((v) => v.name)).toEqual(["zeta", "alpha", "beta"]);
  });

  it("refuses a lock file that is not the schema's shape, naming the field", () => {
    const bad = PlacementLockSchema.safeParse({ lockVersion: 1, vms: [{ name: "x" }] });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.error.issues[0].path.slice(0, 2)).toEqual(["vms", 0]);
  });
});
