// Option 3 "distributed": NUMA workers on the compute host; the data server is bare metal and
// runs no VMs.
// Composition only: the VM layer, the cluster on it, the platform and the models on the cluster.
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";
import { StackContext } from "./context";
import { Cluster, k3sCluster } from "./cluster";
import { Platform, platformOf } from "./platform";
import { modelServers } from "./models";
import { SlmWorkerPool } from "../components/SlmWorkerPool";
import { NumaVms, numaVms } from "./numa-vms";

export function distributed(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms & { cluster: Cluster; platform: Platform; models: SlmWorkerPool } {
  const vms = numaVms(inputs, plan, ctx);
  const cluster = k3sCluster(inputs, vms, ctx);
  const platform = platformOf(inputs, cluster);
  return { ...vms, cluster, platform, models: modelServers(inputs, plan, cluster, platform) };
}
