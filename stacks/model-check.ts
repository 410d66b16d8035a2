// The models a stack deploys, as the pool will get them, and the check that they fit their VMs:
// the default finance ensemble spread over the stack's SLM VMs by their sizes (slm/ensemble.ts)
// unless the stack lists its own models; a VM whose models (with the Temporal worker beside them
// and the kubelet's reserve) do not fit is refused in one line. `npm run plan`, `npm run render`
// and the program all run it after placing the VMs, so they accept and refuse the same stacks.
import { DoesNotFit, InputError } from "../common/user-error";
import { NODE_AGENTS } from "../platform/victoria";
import { TEMPORAL_WORKER, checkCapacity, slmVmsOf } from "../slm/capacity";
import { ensembleShortfall, slmConfigOf } from "../slm/ensemble";

import { SlmConfig } from "../slm/model-spec";
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";

/** Every pod that runs beside the models on each SLM VM: the Temporal worker and the per-node agents. */
export const NEIGHBOURS = [TEMPORAL_WORKER, NODE_AGENTS];

/** Runs `step`; a refusal gets the stack file in front, as every other key's message has. */
function inFile<T>(inputs: StackInputs, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof DoesNotFit) throw new DoesNotFit(`${inputs.file}: ${e.message}`);
    if (e instanceof InputError) throw new InputError(`${inputs.file}: ${e.message}`);
    throw e;
  }
}

/** The pool's config with the lake at `lakeEndpoint`, and its VMs. */
export function modelInputs(inputs: StackInputs, plan: Plan, lakeEndpoint: string) {
  const cfg = inputs.config;
  const vms = slmVmsOf(
    plan.vms,
    cfg.vms.map((v) => ({ name: v.name, workload: v.workload, k3sRole: v.k3sRole, stagingGiB: v.disks.stagingGiB })),
  );
  const config: SlmConfig = inFile(inputs, () => slmConfigOf(cfg.slm, { endpoint: lakeEndpoint }, vms, NEIGHBOURS));
  return { config, vms };
}

/**
 * The models' config and capacity, checked before any resource is registered: a refusal then
 * stops the preview (or the up) with nothing half-created. The lake's real endpoint is not known
 * yet and plays no part in the check.
 */
export function checkModels(inputs: StackInputs, plan: Plan): void {
  // A stack that stops before the platform (numa-k3s:stopAfter) deploys no model: neither their
  // checksums nor SLM VMs to hold them are its concern yet.
  if (inputs.config.stopAfter !== undefined) return;
  const { config, vms } = modelInputs(inputs, plan, "http://lake.storage.svc:8333");
  try {
    inFile(inputs, () => checkCapacity(config.models, vms, NEIGHBOURS));
  } catch (e) {
    if (!(e instanceof DoesNotFit) || inputs.config.slm?.models) throw e;
    // The default ensemble's list is ours, not the user's: say what to change in their keys.
    throw new DoesNotFit(`${inputs.file}: ${ensembleShortfall(config.models, vms, NEIGHBOURS)}`);
  }
}

