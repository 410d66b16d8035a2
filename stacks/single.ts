// Option 2 "single": every k8s node is a VM on the one NUMA host, the K3s server among them.
// Composition only: the VM layer now; K3s and the platform join as their components land.
import { StackConfig } from "./config";
import { StackContext } from "./context";
import { NumaVms, numaVms } from "./numa-vms";

export function single(cfg: StackConfig, ctx: StackContext): NumaVms {
  return numaVms(cfg, ctx);
}
