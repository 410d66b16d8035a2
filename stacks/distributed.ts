// Option 3 "distributed": NUMA workers on the compute host; the data server is bare metal and
// runs no VMs.
// Composition only: the VM layer now; K3s and the platform join as their components land.
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";
import { StackContext } from "./context";
import { NumaVms, numaVms } from "./numa-vms";

export function distributed(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms {
  return numaVms(inputs, plan, ctx);
}
