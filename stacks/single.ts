// Option 2 "single": every k8s node is a VM on the one NUMA host, the K3s server among them.
// Composition only: the VM layer now; K3s and the platform join as their components land.
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";
import { StackContext } from "./context";
import { NumaVms, numaVms } from "./numa-vms";

export function single(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms {
  return numaVms(inputs, plan, ctx);
}
