// The deploy gate: a stack's placement as the program uses it. VMs the lock does not hold yet
// (new or changed) are shown in a preview and refused by an up, so no deployment moves a VM that
// nobody reviewed.
import * as pulumi from "@pulumi/pulumi";
import { formatCpuset } from "../topology/cpuset";
import { unlockedVms } from "../topology/lock";
import { Plan, VmPlacement } from "../topology/placement";
import { InputError } from "../common/user-error";
import { Placed, placeRequest } from "./place-stack";
import { StackInputs } from "./stack-inputs";

function describe(p: VmPlacement): string {
  return `${p.node === null ? "floating" : `node ${p.node}`} of ${p.host}, vCPUs on threads ${formatCpuset(p.vcpupin)}, emulator on ${formatCpuset(p.emulatorpin)}`;
}

/** The plan an up may deploy (or a preview show). `placed` is given when the caller planned already. */
export function lockedPlan(inputs: StackInputs, previewOnly: boolean, placed: Placed = placeRequest(inputs, inputs.lock, inputs.lockFile, inputs.config.searchSeconds)): Plan {
  if (placed.kind === "no-fit") throw new InputError(placed.lines.join("\n"));
  const unlocked = unlockedVms(placed.plan, inputs.lock);
  const update = `npm run plan -- --stack ${inputs.stack} --lock ${inputs.lockFile}`;
  if (unlocked.length > 0 && !previewOnly) {
    throw new InputError(
      `${inputs.file}: ${unlocked.map((vm) => vm.name).join(", ")} not in ${inputs.lockFile} (new or changed): run \`${update}\`, review the lock's diff and picture, commit, then pulumi up`,
    );
  }
  for (const vm of unlocked) pulumi.log.warn(`${vm.name} is not locked yet: it would run on ${describe(vm)}; \`${update}\` locks it`);
  return placed.plan;
}
