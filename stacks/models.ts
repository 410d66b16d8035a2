// The workload the cluster exists for: one llama.cpp server per model on whole, NUMA-local cores
// of the SLM VMs, the default finance ensemble unless the stack lists its own models. A VM whose
// models (with the Temporal worker beside them and the kubelet's reserve) do not fit is refused
// by checkModels before the program registers anything, in one line.
import { SlmWorkerPool } from "../components/SlmWorkerPool";
import { NODE_AGENTS } from "../platform/victoria";
import { SlmVm, TEMPORAL_WORKER, checkCapacity, slmVmsOf } from "../slm/capacity";
import { slmConfigOf } from "../slm/ensemble";
import { SlmConfigError } from "../slm/errors";
import { Plan } from "../topology/placement";
import { Cluster } from "./cluster";
import { Platform } from "./platform";
import { StackInputs } from "./stack-inputs";

/** Every pod that runs beside the models on each SLM VM. */
const NEIGHBOURS = [TEMPORAL_WORKER, NODE_AGENTS];

/** The pool's config with the lake at `lakeEndpoint`, and its VMs; SlmConfigErrors name the file. */
function modelInputs(inputs: StackInputs, plan: Plan, lakeEndpoint: string): { config: ReturnType<typeof slmConfigOf>; vms: SlmVm[] } {
  const cfg = inputs.config;
  const raw = (cfg.slm ?? {}) as Record<string, unknown>;
  let config;
  try {
    config = slmConfigOf({ ...raw, lake: { endpoint: lakeEndpoint, ...((raw.lake as object | undefined) ?? {}) } }, cfg.layout);
  } catch (e) {
    // Its messages name the key (numa-k3s:slm...); the file goes in front, as for every other key.
    if (e instanceof SlmConfigError) throw new SlmConfigError(`${inputs.file}: ${e.message}`);
    throw e;
  }
  const vms = slmVmsOf(
    plan.vms,
    cfg.vms.map((v) => ({ name: v.name, workload: v.workload, k3sRole: v.k3sRole, stagingGiB: v.disks.stagingGiB })),
  );
  return { config, vms };
}

/**
 * The models' config and capacity, checked before any resource is registered: a refusal then
 * stops the preview (or the up) with nothing half-created. The lake's real endpoint is not known
 * yet and plays no part in the check.
 */
export function checkModels(inputs: StackInputs, plan: Plan): void {
  const { config, vms } = modelInputs(inputs, plan, "http://lake.storage.svc:8333");
  try {
    checkCapacity(config.models, vms, NEIGHBOURS);
  } catch (e) {
    if (e instanceof SlmConfigError) throw new SlmConfigError(`${inputs.file}: ${e.message}`);
    throw e;
  }
}

export function modelServers(inputs: StackInputs, plan: Plan, cluster: Cluster, platform: Platform): SlmWorkerPool {
  const { config, vms } = modelInputs(inputs, plan, platform.lake.endpoint);
  return new SlmWorkerPool(
    "slm",
    { config, vms, provider: cluster.controlPlane.provider, lakeCredentials: platform.lake.credentials, neighbours: NEIGHBOURS },
    { dependsOn: [...cluster.agents, platform.lake, platform.temporal] },
  );
}
