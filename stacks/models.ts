// The workload the cluster exists for: one llama.cpp server per model on whole, NUMA-local cores
// of the SLM VMs (stacks/model-check.ts decides which models go where and checks they fit).
import { SlmWorkerPool } from "../components/SlmWorkerPool";
import { Plan } from "../topology/placement";
import { Cluster } from "./cluster";
import { NEIGHBOURS, modelInputs } from "./model-check";
import { Platform } from "./platform";
import { StackInputs } from "./stack-inputs";

export function modelServers(inputs: StackInputs, plan: Plan, cluster: Cluster, platform: Platform): SlmWorkerPool {
  const { config, vms } = modelInputs(inputs, plan, platform.lake.endpoint);
  return new SlmWorkerPool(
    "slm",
    { config, vms, provider: cluster.controlPlane.provider, lakeCredentials: platform.lake.credentials, neighbours: NEIGHBOURS },
    { dependsOn: [...cluster.agents, platform.lake, platform.temporal] },
  );
}
