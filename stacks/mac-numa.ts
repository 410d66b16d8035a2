// Option 1 "mac-numa": the K3s server is a Linux VM on a Mac Mini (not managed here); the NUMA
// host runs the SLM workers and the storage VM.
// Composition only: the VM layer now; K3s and the platform join as their components land.
import { Plan } from "../topology/placement";
import { StackInputs } from "./stack-inputs";
import { StackContext } from "./context";
import { NumaVms, numaVms } from "./numa-vms";

export function macNuma(inputs: StackInputs, plan: Plan, ctx: StackContext): NumaVms {
  return numaVms(inputs, plan, ctx);
}
