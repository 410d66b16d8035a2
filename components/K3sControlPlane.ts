// The K3s server, over SSH: on a pinned VM (single), an existing Linux host (distributed, or
// mac-numa without the Mac's address), or a Lima VM the program creates on the Mac (mac-numa).
// It owns the cluster token, reads the admin kubeconfig back, and builds the one Kubernetes
// provider everything after it uses.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { z } from "zod";
import { DNS_LABEL } from "../common/formats";
import { GUEST_INTERFACE } from "../guest/cloud-init";
import type { VmPlacement } from "../topology/placement";
import { DEFAULT_DISABLED, DISABLE_ITEMS, DisableItem, renderServerConfig, serverUrl } from "../k3s/config-files";
import { KUBECONFIG_FILE, rewriteKubeconfigServer } from "../k3s/kubeconfig";
import { kubeletConfiguration, kubeletPolicyDigest, renderKubeletConfig } from "../k3s/kubelet-config";
import { DEFAULT_LIMA_IMAGE, DEFAULT_LIMA_NETWORK, LIMA_INTERFACE, LimaImage, limaDeleteScript, limaUpScript, renderLimaTemplate } from "../k3s/lima";
import { LAYOUTS, Layout } from "../k3s/layouts";
import { serverMarks } from "../k3s/node-roles";
import { installPayload, installScript, readKubeconfigScript, uninstallScript } from "../k3s/scripts";
import { InstallScript, K3S_VERSION, checkK3sVersion, installScriptOf } from "../k3s/version";
import { changeMarker } from "../common/remote-script";
import { ConnectionArgs, hostCommand, secretConnection } from "./remote";
import { INTERFACE_NAME, INTERFACE_NAME_HINT } from "../common/formats";
import { InputError } from "../common/user-error";

/** A Lima VM on the Mac as the server (mac-numa). */
export interface LimaServerArgs {
  /** SSH to the Mac (the user that runs Lima; no root needed). Secret as a whole. */
  macConnection: pulumi.Input<ConnectionArgs>;
  /** Lima instance name. Default `k3s-server`. Changing it REPLACES the VM (and the cluster). */
  instance?: string;
  /** Default 2 vCPUs, 4 GiB, 20 GiB disk (docs/reference-layouts.md). Apply at creation only. */
  cpus?: number;
  memoryGiB?: number;
  diskGiB?: number;
  /** Default Debian 12 generic cloud, arm64 (k3s/lima.ts). */
  image?: LimaImage;
  /** The bridged network in Lima's networks.yaml. Default `bridged` (needs socket_vmnet). */
  network?: string;
  /** The bridged NIC's MAC; reserve `address` for it in the LAN's DHCP server. */
  macAddress: string;
  /** The login the template creates (and `connection.user` must be). */
  adminUser: string;
  sshAuthorizedKeys: string[];
}

export interface K3sControlPlaneArgs {
  /** The k8s node name of the server (the VM's name, the host's, or the Lima instance's). */
  nodeName: string;
  /** The layout: decides the server's labels and taint (k3s/node-roles.ts). */
  layout: Layout;
  /**
   * The server's address on the LAN / bridge: node-ip, advertise-address, the first tls-san, and
   * the address in the exported kubeconfig and serverUrl. Changing it is an update (new
   * config.yaml, K3s restarts and re-issues its certificate); agents follow with a new server URL.
   */
  address: string;
  /** SSH to the server machine (for Lima: to the VM's bridged address as lima.adminUser). Secret
   * as a whole. A change is an update that reruns the (idempotent) install. */
  connection: pulumi.Input<ConnectionArgs>;
  /** K3s release. Default K3S_VERSION (k3s/version.ts). A change upgrades the server in place,
   * before any agent (agents depend on it). */
  version?: string;
  /** The release's install.sh and its sha256, when `version` is not one k3s/version.ts pins a sum
   * for (or to fetch it from a mirror). Default: the tag's install.sh and the pinned sum. */
  installScript?: Partial<InstallScript>;
  /** More API certificate names (a DNS name for the server, a VIP). */
  tlsSans?: string[];
  /** flannel's NIC. Default eth0 (the numa-k3s VMs' NIC), lima0 with `lima`. Set it for a bare-metal host. */
  flannelIface?: string;
  /** Packaged components to switch off. Default traefik and servicelb (k3s/config-files.ts says why). */
  disable?: DisableItem[];
  /** When the server is a pinned VM (single): its placement; the kubelet then gets the NUMA
   * settings workers get, computed for a server. */
  placement?: VmPlacement;
  /** Create the server as a Lima VM on the Mac first. */
  lima?: LimaServerArgs;
  /** The cluster token. Default: generated once (@pulumi/random, 48 characters) and kept in the
   * state; its inputs are ignored after creation, so no change of this code replaces it (a rename
   * of the component needs an alias). Give one to adopt an existing cluster. Secret. A token that
   * differs from the one a running server holds is refused by the install (k3s/scripts.ts), with
   * the `k3s token rotate` steps for a deliberate change. */
  token?: pulumi.Input<string>;
  /** Resources the install must wait for (the server's NumaPinnedVm). */
  dependsOn?: pulumi.Resource[];
  /** Seconds the install waits for /readyz. Default 600. */
  readyTimeoutSeconds?: number;
}

const ArgsSchema = z
  .object({
    nodeName: z.string().regex(DNS_LABEL, "a DNS label (lower-case letters, digits, '-')"),
    layout: z.enum(LAYOUTS),
    address: z.union([z.ipv4(), z.ipv6()]),
    version: z.string().optional(),
    tlsSans: z.array(z.string().min(1)).optional(),
    flannelIface: z.string().regex(INTERFACE_NAME, INTERFACE_NAME_HINT).optional(),
    disable: z.array(z.enum(DISABLE_ITEMS)).optional(),
    readyTimeoutSeconds: z.number().int().min(30).optional(),
  })
  .passthrough();

/** The args, checked where a user typed them; one line naming the field. */
export function checkControlPlaneArgs(args: K3sControlPlaneArgs): void {
  const result = ArgsSchema.safeParse(args);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.join(".");
    const value = issue.path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k as string], args);
    throw new InputError(`K3sControlPlane '${args.nodeName}': ${path} = ${JSON.stringify(value)}: ${issue.message}`);
  }
  if (args.version !== undefined) checkK3sVersion(`K3sControlPlane '${args.nodeName}': version`, args.version);
}

/** Everything the server's files say, in the clear (the token is in its own file, not here). */
export interface ServerFiles {
  "config.yaml": string;
  "kubelet.yaml"?: string;
}

export function serverFiles(args: K3sControlPlaneArgs): { files: ServerFiles; policyDigest: string } {
  const kubelet = args.placement ? kubeletConfiguration(args.placement, "server") : undefined;
  const config = renderServerConfig({
    nodeName: args.nodeName,
    address: args.address,
    tlsSans: args.tlsSans ?? [],
    flannelIface: args.flannelIface ?? (args.lima ? LIMA_INTERFACE : GUEST_INTERFACE),
    marks: serverMarks(args.layout),
    disable: args.disable ?? DEFAULT_DISABLED,
    kubeletConfig: kubelet !== undefined,
  });
  const files: ServerFiles = { "config.yaml": config };
  if (kubelet) files["kubelet.yaml"] = renderKubeletConfig(kubelet);
  return { files, policyDigest: kubelet && args.placement ? kubeletPolicyDigest(kubelet, args.placement.vcpus) : "" };
}

/** The generated token's inputs. */
const TOKEN_INPUTS: random.RandomPasswordArgs = { length: 48, special: false };
/**
 * Every input of RandomPassword (randomPassword.d.ts of the pinned @pulumi/random; a test reads it): a change to any of
 * them would replace the password, i.e. generate a new cluster token, which a running server
 * cannot take (its datastore's bootstrap data is encrypted with the first). Ignored once created.
 */
export const TOKEN_IGNORED = ["keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric", "overrideSpecial", "special", "upper"];

/**
 * The K3s server. Children: `<name>-token` (RandomPassword, unless `token`), `<name>-lima` (with
 * `lima`: limactl on the Mac), `<name>-k3s` (install / upgrade / uninstall over SSH, the files on
 * stdin, secret), `<name>-kubeconfig` (reads k3s.yaml back), `<name>-k8s` (the Kubernetes provider).
 *
 * Decisions:
 * - stdin carries config.yaml, kubelet.yaml and the token, base64 per line; the whole stdin is a
 *   secret and the command's output is not logged (the installer echoes nothing secret, but stdout
 *   of a command whose stdin is secret is kept secret too: additionalSecretOutputs).
 * - The install's `create` and `update` are the same converging script; only the version and a
 *   digest of the files stand in its text, so a rerun with unchanged inputs is no update at all,
 *   and an update that changes nothing on the machine restarts nothing (the script compares files).
 * - The kubeconfig read runs again whenever the install's text changes (a digest of it in front),
 *   so a new certificate or address reaches the provider.
 */
export class K3sControlPlane extends pulumi.ComponentResource {
  /** Admin kubeconfig, server address rewritten to `https://<address>:6443`. Secret. */
  readonly kubeconfig: pulumi.Output<string>;
  /** The one provider for every Kubernetes object of the stack. */
  readonly provider: k8s.Provider;
  /** `https://<address>:6443`, what agents join. */
  readonly serverUrl: pulumi.Output<string>;
  /** The cluster token. Secret. */
  readonly token: pulumi.Output<string>;
  /** The install command: agents depend on it (they join only once the server answers). */
  readonly installed: command.remote.Command;
  /** SSH to the server, for the agents' drain / uncordon commands (secret). */
  readonly serverConnection: pulumi.Output<ConnectionArgs>;
  /** The server's address (node-ip, advertise-address), plain: agents build their config from it. */
  readonly address: string;
  /** The server's files in the clear, for render (`k3s/<node>/config.yaml`, `kubelet.yaml`), and the Lima template. */
  readonly files: ServerFiles & { "lima.yaml"?: string };

  /** The kubeconfig command's name, for mocks that answer it. */
  static kubeconfigCommandName(name: string): string {
    return `${name}-kubeconfig`;
  }

  constructor(name: string, args: K3sControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    checkControlPlaneArgs(args);
    const version = args.version ?? K3S_VERSION;
    const installer = installScriptOf(`K3sControlPlane '${args.nodeName}': installScript`, version, args.installScript);
    super("numa-k3s:k3s:K3sControlPlane", name, { nodeName: args.nodeName, address: args.address, version }, opts);

    this.address = args.address;
    const { files, policyDigest } = serverFiles(args);
    const url = serverUrl(args.address);
    const limaYaml = args.lima ? limaTemplate(args.lima) : undefined;
    this.files = limaYaml ? { ...files, "lima.yaml": limaYaml } : files;

    const lima = args.lima && limaYaml ? this.limaVm(name, args.lima, limaYaml) : undefined;
    this.token = pulumi.secret(args.token ?? new random.RandomPassword(`${name}-token`, TOKEN_INPUTS, { parent: this, ignoreChanges: TOKEN_IGNORED }).result);
    this.serverConnection = secretConnection(args.connection);

    const script = installScript({ role: "server", version, nodeName: args.nodeName, policyDigest, readyTimeoutSeconds: args.readyTimeoutSeconds ?? 600, installer });
    // The files travel on stdin (secret, with the token): their digest in the command text makes a
    // changed file an update; the install's text names the version.
    const filesMarker = changeMarker("NUMA_K3S_FILES", JSON.stringify(files));
    this.installed = hostCommand(
      `${name}-k3s`,
      {
        connection: this.serverConnection,
        script,
        delete: uninstallScript("server"),
        markers: [filesMarker],
        stdin: pulumi.secret(this.token.apply((token) => installPayload(args.nodeName, files, token))),
        secret: true,
        // The installer prints nothing secret to stderr, and its errors are what a user needs.
        logging: "stderr",
      },
      { parent: this, dependsOn: [...(args.dependsOn ?? []), ...(lima ? [lima] : [])] },
    );

    // Read back after every install that changed anything (the install's own marker and text in
    // front): a new certificate or address reaches the provider.
    const read = hostCommand(
      K3sControlPlane.kubeconfigCommandName(name),
      {
        connection: this.serverConnection,
        script: readKubeconfigScript(KUBECONFIG_FILE),
        markers: [changeMarker("NUMA_K3S_INSTALL", `${filesMarker} ${script}`)],
        secret: true,
      },
      { parent: this, dependsOn: [this.installed] },
    );
    this.kubeconfig = pulumi.secret(read.stdout.apply((text) => rewriteKubeconfigServer(text, url)));
    this.serverUrl = this.installed.id.apply(() => url);
    this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
    this.registerOutputs({ kubeconfig: this.kubeconfig, serverUrl: this.serverUrl, token: this.token });
  }

  private limaVm(name: string, lima: LimaServerArgs, template: string): command.remote.Command {
    const instance = lima.instance ?? "k3s-server";
    // The up script checks the Mac's socket_vmnet and sudoers setup before limactl create or start.
    return hostCommand(
      `${name}-lima`,
      { connection: lima.macConnection, script: limaUpScript(instance, lima.network ?? DEFAULT_LIMA_NETWORK), delete: limaDeleteScript(instance), stdin: template, triggers: [instance] },
      { parent: this },
    );
  }
}

/** The Lima template of the args, defaults filled in. */
export function limaTemplate(lima: LimaServerArgs): string {
  return renderLimaTemplate({
    cpus: lima.cpus ?? 2,
    memoryGiB: lima.memoryGiB ?? 4,
    diskGiB: lima.diskGiB ?? 20,
    image: lima.image ?? DEFAULT_LIMA_IMAGE,
    network: lima.network ?? DEFAULT_LIMA_NETWORK,
    macAddress: lima.macAddress,
    adminUser: lima.adminUser,
    sshAuthorizedKeys: lima.sshAuthorizedKeys,
  });
}

