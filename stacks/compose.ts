// What every stack is made of, in the order it is built: the VM layer (host checks, host
// preparation, the pinned VMs), the K3s cluster on it, the platform on the cluster, the models on
// the platform. The layout (k3s/layouts.ts) decides where each part goes, never whether it exists;
// `numa-k3s:stopAfter` ends the stack after the VMs or after the cluster, for a staged bring-up.
import { SlmWorkerPool } from "../components/SlmWorkerPool";
import { Plan } from "../topology/placement";
import { Cluster, k3sCluster } from "./cluster";
import { StackContext } from "./context";
import { modelServers } from "./models";
import { NumaVms, numaVms } from "./numa-vms";
import { Platform, platformOf } from "./platform";
import { StackInputs } from "./stack-inputs";

/** The stages of a stack, in order; `stopAfter` names the last one built. */
export const STAGES = ["vms", "cluster", "platform"] as const;
export type Stage = (typeof STAGES)[number];

export interface Stack extends NumaVms {
  cluster?: Cluster;
  platform?: Platform;
  models?: SlmWorkerPool;
}

export function composeStack(inputs: StackInputs, plan: Plan, ctx: StackContext): Stack {
  const last = STAGES.indexOf(inputs.config.stopAfter ?? "platform");
  const vms = numaVms(inputs, plan, ctx);
  if (last < STAGES.indexOf("cluster")) return vms;
  const cluster = k3sCluster(inputs, vms, ctx);
  if (last < STAGES.indexOf("platform")) return { ...vms, cluster };
  const platform = platformOf(inputs, cluster);
  return { ...vms, cluster, platform, models: modelServers(inputs, plan, cluster, platform) };
}
