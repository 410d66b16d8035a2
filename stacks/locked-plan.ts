// The stack's placement: planned from its config against the committed lock, so that no deployment
// moves a running VM. VMs the lock does not hold yet are shown in a preview and refused by an up.
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import { HostTopology } from "../topology/host-topology";
import { checkPlan, formatViolation } from "../topology/invariants";
import { unlockedVms } from "../topology/lock";
import { formatCpuset } from "../topology/cpuset";
import { Plan, VmPlacement } from "../topology/placement";
import { planPlacement } from "../topology/planner";
import { StackConfig, placementRequestOf } from "./config";
import { StackContext } from "./context";
import { formatNoFit, readLock, readTopologies } from "./placement-inputs";

export interface LockedPlan {
  plan: Plan;
  topologies: Map<string, HostTopology>;
}

function describe(p: VmPlacement): string {
  return `${p.node === null ? "floating" : `node ${p.node}`} of ${p.host}, vCPUs on threads ${formatCpuset(p.vcpupin)}, emulator on ${formatCpuset(p.emulatorpin)}`;
}

export function lockedPlan(cfg: StackConfig, ctx: StackContext): LockedPlan {
  const request = placementRequestOf(cfg);
  const topologies = readTopologies(request, ctx.projectDir);
  const lockPath = resolve(ctx.projectDir, cfg.placementLock);
  const lock = readLock(lockPath);
  const outcome = planPlacement({ request, topologies, lock });
  const loaded = { file: ctx.configFile, keyPrefix: "numa-k3s:", request, topologies };
  if (outcome.kind === "no-fit") throw new pulumi.RunError(outcome.problems.map((p) => formatNoFit(loaded, p, cfg.placementLock)).join("\n"));

  // The planner keeps locked placements as they are written; the rules are checked once more on
  // the whole plan so that no hand-edited lock or planner bug ever reaches a hypervisor.
  const violations = checkPlan(outcome.plan, request, topologies);
  if (violations.length > 0)
    throw new pulumi.RunError(`${cfg.placementLock}: the placement breaks its rules: ${violations.map(formatViolation).join("; ")}`);

  const unlocked = unlockedVms(outcome.plan, lock);
  const update = `npm run plan -- --stack ${ctx.stack} --lock ${cfg.placementLock}`;
  if (unlocked.length > 0 && !ctx.previewOnly) {
    throw new pulumi.RunError(
      `${ctx.configFile}: ${unlocked.map((vm) => vm.name).join(", ")} not in ${cfg.placementLock} (new or changed): run \`${update}\`, review the lock's diff and picture, commit, then pulumi up`,
    );
  }
  for (const vm of unlocked) pulumi.log.warn(`${vm.name} is not locked yet: it would run on ${describe(vm)}; \`${update}\` locks it`);
  return { plan: outcome.plan, topologies };
}
