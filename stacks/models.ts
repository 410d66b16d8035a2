// The workload the cluster exists for: one llama.cpp server per model on whole, NUMA-local cores
// of the SLM VMs, the default finance ensemble unless the stack lists its own models. A VM whose
// models (with the Temporal worker beside them and the kubelet's reserve) do not fit is refused
// here, in the preview, in one line.
import { SlmWorkerPool } from "../components/SlmWorkerPool";
import { slmVmsOf } from "../slm/capacity";
import { slmConfigOf } from "../slm/ensemble";
import { Plan } from "../topology/placement";
import { Cluster } from "./cluster";
import { Platform } from "./platform";
import { StackInputs } from "./stack-inputs";

/** What the Temporal worker DaemonSet takes on every SLM VM (components/TemporalCluster.ts defaults). */
const TEMPORAL_WORKER = { name: "Temporal worker", cpu: 2, memoryMiB: 4096 };

export function modelServers(inputs: StackInputs, plan: Plan, cluster: Cluster, platform: Platform): SlmWorkerPool {
  const cfg = inputs.config;
  const raw = (cfg.slm ?? {}) as Record<string, unknown>;
  const config = slmConfigOf({ ...raw, lake: { endpoint: platform.lake.endpoint, ...((raw.lake as object | undefined) ?? {}) } }, cfg.layout);
  const vms = slmVmsOf(
    plan.vms,
    cfg.vms.map((v) => ({ name: v.name, workload: v.workload, k3sRole: v.k3sRole, stagingGiB: v.disks.stagingGiB })),
  );
  return new SlmWorkerPool(
    "slm",
    { config, vms, provider: cluster.controlPlane.provider, lakeCredentials: platform.lake.credentials, neighbours: [TEMPORAL_WORKER] },
    { dependsOn: [...cluster.agents, platform.lake, platform.temporal] },
  );
}
