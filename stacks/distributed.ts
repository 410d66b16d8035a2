// Option 3 "distributed": NUMA workers on the compute host; the data server is bare metal and
// runs no VMs.
// Composition only: the VM layer, then the cluster on it; the platform joins as its components land.
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";
import { StackContext } from "./context";
import { Cluster, k3sCluster } from "./cluster";
import { NumaVms, numaVms } from "./numa-vms";

export function distributed(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms & { cluster: Cluster } {
  const vms = numaVms(inputs, plan, ctx);
  return { ...vms, cluster: k3sCluster(inputs, vms, ctx) };
}
