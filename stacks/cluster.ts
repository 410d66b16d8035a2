// The K3s layer every layout shares: one control plane (a VM of the stack in `single`, a Lima VM
// on the Mac or an existing Linux host in `mac-numa`, the bare-metal data server in
// `distributed`) and one NUMA-aware agent per other VM, each after its VM exists. A second host's
// VMs in `hosts`/`vms` join the same server: nothing else is needed to grow the cluster.
import * as pulumi from "@pulumi/pulumi";
import { K3sAgent } from "../components/K3sAgent";
import { K3sControlPlane, K3sControlPlaneArgs } from "../components/K3sControlPlane";
import { sshConnection } from "../components/remote";
import { StackContext } from "./context";
import { NumaVms } from "./numa-vms";
import { StackInputs } from "./stack-inputs";

/** The control plane's resource name (its children: `k3s-token`, `k3s-k3s`, `k3s-kubeconfig`, `k3s-k8s`). */
export const CLUSTER_NAME = "k3s";

export interface Cluster {
  controlPlane: K3sControlPlane;
  agents: K3sAgent[];
  /** The agent of each worker VM, by VM name. */
  agentOf: Record<string, K3sAgent>;
  /** Each k8s node's K3s files in the clear (config.yaml, kubelet.yaml; lima.yaml on the server
   * with Lima), by node name: what render writes to k3s/<node>/. */
  files: Record<string, Record<string, string>>;
}

/** SSH as the stack's admin user with the stack's key: how Pulumi reaches VMs and the server. */
function login(ctx: StackContext, address: string, user: string, port = 22) {
  return sshConnection(address, user, port, ctx.sshPrivateKey);
}

export function k3sCluster(inputs: StackInputs, numa: NumaVms, ctx: StackContext): Cluster {
  const cfg = inputs.config;
  const layout = cfg.layout;
  const version = cfg.k3s.version;
  // numa.vms is in plan order.
  const vmOf = (name: string) => numa.vms[numa.plan.vms.findIndex((p) => p.name === name)];
  const serverVm = cfg.vms.find((vm) => vm.k3sRole === "server");

  let server: K3sControlPlaneArgs;
  if (serverVm) {
    server = {
      nodeName: serverVm.name,
      layout,
      address: serverVm.address,
      connection: login(ctx, serverVm.address, cfg.admin.user),
      version,
      installScript: cfg.k3s.installScript,
      placement: numa.plan.vms.find((p) => p.name === serverVm.name),
      dependsOn: [vmOf(serverVm.name)!].filter(Boolean),
    };
  } else {
    // The schema guarantees a k3s.server when no VM is the server.
    const s = cfg.k3s.server!;
    server = {
      nodeName: s.name,
      layout,
      address: s.address,
      connection: login(ctx, s.address, s.user ?? cfg.admin.user, s.port),
      version,
      installScript: cfg.k3s.installScript,
      flannelIface: s.flannelIface,
      lima: s.lima
        ? {
            macConnection: login(ctx, s.lima.mac.address, s.lima.mac.user, s.lima.mac.port),
            macAddress: s.lima.macAddress,
            cpus: s.lima.cpus,
            memoryGiB: s.lima.memoryGiB,
            diskGiB: s.lima.diskGiB,
            adminUser: s.user ?? cfg.admin.user,
            sshAuthorizedKeys: cfg.admin.sshAuthorizedKeys,
          }
        : undefined,
    };
  }
  const controlPlane = new K3sControlPlane(CLUSTER_NAME, server);

  const files: Record<string, Record<string, string>> = { [server.nodeName]: { ...controlPlane.files } };
  const agentOf: Record<string, K3sAgent> = {};
  const agents = numa.plan.vms
    .filter((p) => p.name !== serverVm?.name)
    .map((placement) => {
      const vm = cfg.vms.find((v) => v.name === placement.name)!;
      // `<vm>-agent`: the VM's own component is `<vm>`; its commands `<vm>-agent-k3s`, -drain, -uncordon.
      const agent = new K3sAgent(`${vm.name}-agent`, {
        placement,
        address: vm.address,
        workload: vm.workload,
        layout,
        controlPlane,
        connection: login(ctx, vm.address, cfg.admin.user),
        version,
        installScript: cfg.k3s.installScript,
        vm: vmOf(vm.name),
      });
      files[vm.name] = { ...agent.files };
      agentOf[vm.name] = agent;
      return agent;
    });
  return { controlPlane, agents, agentOf, files };
}
