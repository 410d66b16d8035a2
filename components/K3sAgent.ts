// One K3s agent: a pinned worker VM joining the cluster as a NUMA-aware kubelet. Its kubelet
// settings come from the VM's placement (k3s/kubelet-config.ts), its labels and taint from the
// layout and the placement (k3s/node-roles.ts); nothing about CPUs is typed by hand.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { GUEST_INTERFACE } from "../guest/cloud-init";
import type { VmPlacement } from "../topology/placement";
import { renderAgentConfig, serverUrl } from "../k3s/config-files";
import { kubeletConfiguration, kubeletPolicyDigest, renderKubeletConfig } from "../k3s/kubelet-config";
import { LAYOUTS, Layout } from "../k3s/layouts";
import { LABEL_VALUE, workerMarks } from "../k3s/node-roles";
import { drainScript, installPayload, installScript, removeNodeScript, uncordonScript, uninstallScript } from "../k3s/scripts";
import { InstallScript, K3S_VERSION, checkK3sVersion, installScriptOf } from "../k3s/version";
import { changeMarker } from "../common/remote-script";
import { ConnectionArgs, hostCommand } from "./remote";
import { INTERFACE_NAME, INTERFACE_NAME_HINT } from "../common/formats";
import { InputError } from "../common/user-error";

export interface K3sAgentArgs {
  /** The VM as the planner placed it (the lock's entry): node name (= placement.name), host and
   * NUMA node labels, and the kubelet's CPU and memory settings. A change of vCPUs or of the
   * first core's threads is a kubelet policy change: drain, state files removed, restart, uncordon. */
  placement: VmPlacement;
  /** The VM's address on the bridge (node-ip), without prefix length. */
  address: string;
  /** What the VM runs: `slm`, `data`, ... (the `workload` labels, and the taint in `single`). */
  workload: string;
  layout: Layout;
  /** The server to join: its URL, token, and the SSH connection its drain/uncordon run over. */
  controlPlane: AgentsServer;
  /** SSH to the VM (the admin user from cloud-init, with sudo). Secret as a whole. */
  connection: pulumi.Input<ConnectionArgs>;
  /** K3s release; must be the control plane's (default K3S_VERSION). A change upgrades in place,
   * after the server (this agent depends on the server's install). */
  version?: string;
  /** The release's install.sh and its sha256, when `version` is not one k3s/version.ts pins a sum
   * for (or to fetch it from a mirror). Default: the tag's install.sh and the pinned sum. */
  installScript?: Partial<InstallScript>;
  /** flannel's NIC. Default eth0 (the numa-k3s VMs' NIC). */
  flannelIface?: string;
  /** The VM's component (NumaPinnedVm): nothing runs on the VM before it exists. */
  vm?: pulumi.Resource;
  /** Seconds the install waits for the kubelet, and the server for the node to register. Default 600. */
  readyTimeoutSeconds?: number;
}

const ArgsSchema = z
  .object({
    address: z.union([z.ipv4(), z.ipv6()]),
    workload: z.string().regex(LABEL_VALUE, "a label value such as slm or data"),
    layout: z.enum(LAYOUTS),
    version: z.string().optional(),
    flannelIface: z.string().regex(INTERFACE_NAME, INTERFACE_NAME_HINT).optional(),
    readyTimeoutSeconds: z.number().int().min(30).optional(),
  })
  .passthrough();

/** What an agent needs of its server (a K3sControlPlane is one): where it answers, the cluster
 * token, SSH to it (the drain and uncordon run there, with its admin kubeconfig), and its install
 * command, which every agent comes after. */
export interface AgentsServer {
  address: string;
  token: pulumi.Output<string>;
  serverConnection: pulumi.Output<ConnectionArgs>;
  installed: pulumi.Resource;
}

export function checkAgentArgs(args: Omit<K3sAgentArgs, "controlPlane" | "connection">): void {
  const vm = args.placement.name;
  const result = ArgsSchema.safeParse(args);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.join(".");
    const value = (args as unknown as Record<string, unknown>)[String(issue.path[0])];
    throw new InputError(`K3sAgent '${vm}': ${path} = ${JSON.stringify(value)}: ${issue.message}`);
  }
  if (args.version !== undefined) checkK3sVersion(`K3sAgent '${vm}': version`, args.version);
}

/** The agent's files in the clear, and the digest of its kubelet policy. */
export function agentFiles(args: Omit<K3sAgentArgs, "controlPlane" | "connection">, serverUrl: string) {
  const p = args.placement;
  const kubelet = kubeletConfiguration(p, "agent");
  const files = {
    "config.yaml": renderAgentConfig({
      nodeName: p.name,
      serverUrl,
      address: args.address,
      flannelIface: args.flannelIface ?? GUEST_INTERFACE,
      marks: workerMarks(args.layout, { host: p.host, node: p.node, workload: args.workload }),
      kubeletConfig: true,
    }),
    "kubelet.yaml": renderKubeletConfig(kubelet),
  };
  return { files, policyDigest: kubeletPolicyDigest(kubelet, p.vcpus) };
}

/**
 * A K3s agent on one VM. Children:
 * - `<name>-drain` (on the server): drains the node when its kubelet policy digest changes (its
 *   only input besides the node name), before the install touches the kubelet; nothing for a node
 *   that has not joined.
 * - `<name>-k3s` (on the VM): install / upgrade / reconfigure (k3s/scripts.ts), files and token on
 *   stdin (secret); removes the CPU/memory manager state when the policy digest differs. Delete
 *   uninstalls K3s.
 * - `<name>-uncordon` (on the server): waits for the node to register and uncordons it, after a
 *   join and after a policy change. Its delete drains and removes the node while the VM still runs:
 *   it depends on `-k3s`, so Pulumi deletes it first.
 * The drain and uncordon run on the server with its admin kubeconfig: an agent's own credentials
 * may not evict pods, and copying the admin kubeconfig to every worker would spread cluster-admin.
 * Agents depend on the server's install, never on each other: they join in parallel.
 */
export class K3sAgent extends pulumi.ComponentResource {
  /** The k8s node name (= placement.name). */
  readonly nodeName: pulumi.Output<string>;
  /** The agent's files in the clear, for render (`k3s/<node>/config.yaml`, `kubelet.yaml`). */
  readonly files: { "config.yaml": string; "kubelet.yaml": string };

  constructor(name: string, args: K3sAgentArgs, opts?: pulumi.ComponentResourceOptions) {
    checkAgentArgs(args);
    const p = args.placement;
    const version = args.version ?? K3S_VERSION;
    const installer = installScriptOf(`K3sAgent '${p.name}': installScript`, version, args.installScript);
    super("numa-k3s:k3s:K3sAgent", name, { nodeName: p.name, host: p.host, node: p.node, version }, opts);

    // From the plain address, not the serverUrl Output: the files stay known in a preview.
    const { files, policyDigest } = agentFiles(args, serverUrl(args.controlPlane.address));
    this.files = files;
    const timeout = args.readyTimeoutSeconds ?? 600;
    const server = args.controlPlane.serverConnection;
    // Drain and uncordon run again exactly when the kubelet policy changes.
    const policyMarker = changeMarker("NUMA_K3S_KUBELET_POLICY", policyDigest);

    const drain = hostCommand(`${name}-drain`, { connection: server, script: drainScript(p.name), markers: [policyMarker] }, { parent: this, dependsOn: [args.controlPlane.installed] });

    const install = hostCommand(
      `${name}-k3s`,
      {
        connection: args.connection,
        script: installScript({ role: "agent", version, nodeName: p.name, policyDigest, readyTimeoutSeconds: timeout, installer }),
        delete: uninstallScript("agent"),
        markers: [changeMarker("NUMA_K3S_FILES", JSON.stringify(files))],
        stdin: pulumi.secret(args.controlPlane.token.apply((token) => installPayload(p.name, files, token))),
        secret: true,
        logging: "stderr",
      },
      { parent: this, dependsOn: [drain, args.controlPlane.installed, ...(args.vm ? [args.vm] : [])] },
    );

    const uncordon = hostCommand(
      `${name}-uncordon`,
      { connection: server, script: uncordonScript(p.name, timeout), delete: removeNodeScript(p.name), markers: [policyMarker] },
      { parent: this, dependsOn: [install] },
    );

    this.nodeName = uncordon.id.apply(() => p.name);
    this.registerOutputs({ nodeName: this.nodeName });
  }
}
