// The two /etc/rancher/k3s/config.yaml documents: the server's and an agent's. Everything K3s is
// told goes here, not into flags on the systemd unit: one file to diff, one file the update
// compares. Secrets are never in it: the cluster token sits in its own file (token-file), so this
// text can be rendered, reviewed and hashed in the clear.
import { isIP } from "node:net";
import { stringify } from "yaml";
import { KUBELET_CONFIG_PATH } from "./kubelet-config";
import type { NodeMarks } from "./layouts";
import { InputError } from "../common/user-error";

/** Where the install script writes the cluster token (mode 0600, root), named by `token-file`. */
export const TOKEN_FILE = "/etc/rancher/k3s/cluster-token";
/** K3s's own config file, read by `k3s server` and `k3s agent` at start. */
export const CONFIG_FILE = "/etc/rancher/k3s/config.yaml";
/** The port the API server (and the supervisor) listen on. */
export const API_PORT = 6443;

/**
 * Packaged components the stacks switch off, and why:
 * - traefik: nothing here is exposed through an ingress; the platform's endpoints are NodePorts on
 *   the control plane (docs/reference-layouts.md: 30900, 30901, 30428, 30828, 30880), so an ingress controller
 *   would only take memory on the 4 GiB server and ports 80/443.
 * - servicelb (klipper-lb): there are no LoadBalancer services, and its DaemonSet would put a pod
 *   holding host ports on every node, the pinned SLM workers included.
 * Kept: coredns (in-cluster names such as minio.storage), local-storage (the local-path
 * provisioner, for PVCs on a node's disk), metrics-server (`kubectl top`, autoscalers).
 */
export const DEFAULT_DISABLED = ["traefik", "servicelb"] as const;
/** What `disable` accepts (K3s's packaged components). */
export const DISABLE_ITEMS = ["coredns", "servicelb", "traefik", "local-storage", "metrics-server"] as const;
export type DisableItem = (typeof DISABLE_ITEMS)[number];

// K3s reads config.yaml with a YAML 1.1-minded parser: write 1.1, so "0600" and "true"-looking
// strings stay quoted strings.
const YAML_OPTIONS = { version: "1.1", lineWidth: 0 } as const;

export interface ServerConfigInput {
  /** The k8s node name (the VM's name, or the host's). */
  nodeName: string;
  /** The server's own address on the LAN/bridge: node-ip and advertise-address. */
  address: string;
  /** Further names and addresses the API certificate must carry (the address is always there). */
  tlsSans: string[];
  /** The NIC flannel's VXLAN uses (eth0 in a numa-k3s VM, lima0 in the Lima VM). */
  flannelIface: string;
  marks: NodeMarks;
  disable: readonly DisableItem[];
  /** Whether this node's kubelet reads a KubeletConfiguration file (a pinned VM). */
  kubeletConfig: boolean;
}

export interface AgentConfigInput {
  nodeName: string;
  /** `https://<server>:6443`. */
  serverUrl: string;
  address: string;
  flannelIface: string;
  marks: NodeMarks;
  kubeletConfig: boolean;
}

function checkAddress(field: string, value: string): void {
  if (isIP(value) === 0) throw new InputError(`${field} = ${JSON.stringify(value)}: an IPv4 or IPv6 address, e.g. 192.168.50.10`);
}

function kubeletArgs(kubeletConfig: boolean): Record<string, string[]> {
  return kubeletConfig ? { "kubelet-arg": [`config=${KUBELET_CONFIG_PATH}`] } : {};
}

/** The server's config.yaml. */
export function renderServerConfig(input: ServerConfigInput): string {
  checkAddress("address", input.address);
  const sans = [input.address, ...input.tlsSans.filter((s) => s !== input.address)];
  const doc: Record<string, unknown> = {
    "node-name": input.nodeName,
    "token-file": TOKEN_FILE,
    "node-ip": input.address,
    "advertise-address": input.address,
    "tls-san": sans,
    "flannel-iface": input.flannelIface,
    "write-kubeconfig-mode": "0600",
    "secrets-encryption": true,
    ...(input.disable.length > 0 ? { disable: [...input.disable] } : {}),
    ...(input.marks.labels.length > 0 ? { "node-label": input.marks.labels } : {}),
    ...(input.marks.taints.length > 0 ? { "node-taint": input.marks.taints } : {}),
    ...kubeletArgs(input.kubeletConfig),
  };
  return stringify(doc, YAML_OPTIONS);
}

/** An agent's config.yaml. */
export function renderAgentConfig(input: AgentConfigInput): string {
  checkAddress("address", input.address);
  const doc: Record<string, unknown> = {
    "node-name": input.nodeName,
    server: input.serverUrl,
    "token-file": TOKEN_FILE,
    "node-ip": input.address,
    "flannel-iface": input.flannelIface,
    ...(input.marks.labels.length > 0 ? { "node-label": input.marks.labels } : {}),
    ...(input.marks.taints.length > 0 ? { "node-taint": input.marks.taints } : {}),
    ...kubeletArgs(input.kubeletConfig),
  };
  return stringify(doc, YAML_OPTIONS);
}

/** The URL agents and clients reach the API server at. */
export function serverUrl(address: string): string {
  return `https://${isIP(address) === 6 ? `[${address}]` : address}:${API_PORT}`;
}
