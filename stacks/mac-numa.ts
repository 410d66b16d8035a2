// Option 1 "mac-numa": the K3s server is a Linux VM on a Mac Mini (created with Lima when the stack
// gives the Mac's SSH address, or an existing Linux host); the NUMA host runs the SLM workers and
// the storage VM.
// Composition only: the VM layer, then the cluster on it; the platform joins as its components land.
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";
import { StackContext } from "./context";
import { Cluster, k3sCluster } from "./cluster";
import { NumaVms, numaVms } from "./numa-vms";

export function macNuma(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms & { cluster: Cluster } {
  const vms = numaVms(inputs, plan, ctx);
  return { ...vms, cluster: k3sCluster(inputs, vms, ctx) };
}
