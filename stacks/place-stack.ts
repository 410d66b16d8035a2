// A stack's placement: planned against its lock, then checked once more by every rule of
// topology/invariants.ts. `npm run plan -- --stack`, `npm run render` and the program all run this
// one function, so what `plan` accepts (and locks) is exactly what an up accepts.
import { checkPlan, formatViolation } from "../topology/invariants";
import { Plan } from "../topology/placement";
import { planPlacement } from "../topology/planner";
import { LoadedRequest, formatNoFit } from "./placement-inputs";
import { PlacementLock } from "../topology/lock";
import { checkModels } from "./model-check";
import { StackInputs } from "./stack-inputs";

/** `gaveUp`: the search ran out of time without proving that nothing fits (exit 4, not 3); a
 * single proved problem makes the whole answer "does not fit". */
export type Placed = { kind: "placed"; plan: Plan } | { kind: "no-fit"; lines: string[]; gaveUp: boolean };

/** Plan `loaded` (with `lock`, named `lockFile` in messages); a NoFit or a broken rule is said as
 * one line each, naming the file, the key and the VM. */
export function placeRequest(loaded: LoadedRequest, lock: PlacementLock | undefined, lockFile?: string, searchSeconds?: number): Placed {
  const outcome = planPlacement({ request: loaded.request, topologies: loaded.topologies, lock, searchSeconds });
  if (outcome.kind === "no-fit")
    return { kind: "no-fit", lines: outcome.problems.map((p) => formatNoFit(loaded, p, lockFile)), gaveUp: outcome.problems.every((p) => p.kind === "gave-up") };
  // The planner keeps locked placements as written; every rule is checked again on the whole
  // plan so that neither a hand-edited lock nor a planner bug ever reaches a hypervisor.
  const violations = checkPlan(outcome.plan, loaded.request, loaded.topologies);
  if (violations.length > 0) return { kind: "no-fit", lines: violations.map((v) => `${lockFile ?? loaded.file}: ${formatViolation(v)}`), gaveUp: false };
  return { kind: "placed", plan: outcome.plan };
}

/** A stack's placement and the checks that need it (the models on their VMs): what `plan --stack`
 * and `render` run, so that they refuse what an up would. A model refusal is a DoesNotFit (exit 3). */
export function placeStack(inputs: StackInputs, lock: PlacementLock | undefined, lockFile?: string, searchSeconds?: number): Placed {
  const placed = placeRequest(inputs, lock, lockFile, searchSeconds);
  if (placed.kind === "placed") checkModels(inputs, placed.plan);
  return placed;
}
