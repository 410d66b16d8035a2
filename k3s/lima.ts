// The mac-numa control plane: a Linux VM on the Mac Mini, made by Lima (vz, Apple's
// Virtualization.framework) from a template this program renders, with a bridged NIC from
// socket_vmnet so that the NUMA host's workers reach it on the LAN (6443/tcp API, 8472/udp flannel
// VXLAN, 10250/tcp kubelet). Lima's own SSH port forward is loopback-only on the Mac, so the
// program reaches the VM over the bridged address too, as an admin user the template creates.
import { stringify } from "yaml";
import { PUBLIC_KEY } from "../guest/cloud-init";
import { shellQuote } from "../hypervisor/shell-quote";
import { LOGIN_NAME, MAC } from "../common/formats";
import { K3sArgsError } from "./version";

/** The NIC name Lima gives the first `networks` entry in the guest: flannel's interface there. */
export const LIMA_INTERFACE = "lima0";

export interface LimaImage {
  /** URL of a cloud image for the VM's architecture. */
  location: string;
  /** "aarch64" on Apple silicon (the M2 Mini), "x86_64" on an Intel Mac. */
  arch: "aarch64" | "x86_64";
  /** `sha256:<hex>`, pins the image; without it Lima takes whatever the URL serves. */
  digest?: string;
}

/** Debian 12's generic cloud image for Apple silicon, like the NUMA host's VMs (README). */
export const DEFAULT_LIMA_IMAGE: LimaImage = {
  location: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-arm64.qcow2",
  arch: "aarch64",
};

export interface LimaTemplateInput {
  /** vCPUs (default 2). */
  cpus: number;
  /** GiB of memory (default 4). */
  memoryGiB: number;
  /** GiB of disk (default 20). */
  diskGiB: number;
  image: LimaImage;
  /**
   * The network in Lima's networks.yaml ($LIMA_HOME/_config/networks.yaml) whose `mode` is
   * `bridged` (Lima ships one named "bridged", on en0). socket_vmnet must be installed for it.
   */
  network: string;
  /** The bridged NIC's MAC: give the LAN's DHCP server a reservation for it, so the address the
   * workers and Pulumi use stays the VM's. */
  macAddress: string;
  /** The login the program uses (SSH keys, passwordless sudo), as on the NUMA VMs. */
  adminUser: string;
  sshAuthorizedKeys: string[];
}


/** The system provision script: the admin user with its keys and passwordless sudo. */
export function limaProvisionScript(adminUser: string, keys: string[]): string {
  return `#!/bin/bash
set -euo pipefail
user=${shellQuote(adminUser)}
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
printf '%s\\n' ${keys.map(shellQuote).join(" ")} >"$home/.ssh/authorized_keys"
chown "$user:$user" "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD:ALL\\n' "$user" >/etc/sudoers.d/90-numa-k3s
chmod 0440 /etc/sudoers.d/90-numa-k3s
`;
}

/** The Lima template (YAML). Throws one line naming the field when an input cannot work. */
export function renderLimaTemplate(input: LimaTemplateInput): string {
  const bad = (field: string, value: unknown, fits: string): never => {
    throw new K3sArgsError(`lima.${field} = ${JSON.stringify(value)}: ${fits}`);
  };
  if (!Number.isInteger(input.cpus) || input.cpus < 2) bad("cpus", input.cpus, "a whole number >= 2 (the K3s server needs 2)");
  if (!Number.isInteger(input.memoryGiB) || input.memoryGiB < 2) bad("memoryGiB", input.memoryGiB, "a whole number of GiB >= 2");
  if (!Number.isInteger(input.diskGiB) || input.diskGiB < 10) bad("diskGiB", input.diskGiB, "a whole number of GiB >= 10");
  if (!MAC.test(input.macAddress)) bad("macAddress", input.macAddress, "lower-case aa:bb:cc:dd:ee:ff");
  if (!LOGIN_NAME.test(input.adminUser) || input.adminUser === "root") bad("adminUser", input.adminUser, "a Linux user name other than root");
  if (input.sshAuthorizedKeys.length === 0) bad("sshAuthorizedKeys", input.sshAuthorizedKeys, "at least one public key");
  input.sshAuthorizedKeys.forEach((k, i) => {
    if (!PUBLIC_KEY.test(k)) bad(`sshAuthorizedKeys[${i}]`, `${k.slice(0, 20)}...`, "an OpenSSH public key (ssh-ed25519 AAAA... comment)");
  });
  const image: Record<string, string> = { location: input.image.location, arch: input.image.arch };
  if (input.image.digest !== undefined) image.digest = input.image.digest;
  const template = {
    minimumLimaVersion: "2.0.0",
    vmType: "vz",
    os: "Linux",
    arch: input.image.arch,
    images: [image],
    cpus: input.cpus,
    memory: `${input.memoryGiB}GiB`,
    disk: `${input.diskGiB}GiB`,
    // A K3s server needs nothing from the Mac's disk; the default mounts of $HOME would only be
    // writable surface.
    mounts: [],
    // K3s brings its own containerd; Lima's would be a second one.
    containerd: { system: false, user: false },
    networks: [{ lima: input.network, macAddress: input.macAddress, interface: LIMA_INTERFACE }],
    provision: [{ mode: "system", script: limaProvisionScript(input.adminUser, input.sshAuthorizedKeys) }],
  };
  return stringify(template, { lineWidth: 0 });
}

/** Where the Mac's Homebrew puts limactl; a non-login SSH shell on macOS does not have it in PATH. */
const MAC_PATH = `export PATH="/opt/homebrew/bin:/usr/local/bin:$PATH"`;

/**
 * On the Mac: create the instance from the template on stdin if it does not exist, start it if it
 * is not running. An existing instance is not re-created when the template changes (that would
 * wipe the cluster's datastore): the script says so, and `limactl delete <name>` then `pulumi up`
 * re-creates it. Bash 3.2 (macOS's /bin/bash) compatible.
 */
export function limaUpScript(instance: string): string {
  return `#!/bin/bash
set -euo pipefail
${MAC_PATH}
name=${shellQuote(instance)}
command -v limactl >/dev/null 2>&1 || { echo "numa-k3s lima: limactl not found on the Mac (brew install lima)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/$name.yaml"
status=$(limactl list --format '{{.Status}}' "$name" 2>/dev/null || true)
if [[ -z $status ]]; then
  limactl create --tty=false --name="$name" "$dir/$name.yaml"
elif ! cmp -s "$dir/$name.yaml" "$HOME/.lima/$name/lima.yaml"; then
  echo "numa-k3s lima: $name exists; its template changed but an existing instance is kept (limactl delete $name to re-create it)" >&2
fi
if [[ $status != Running ]]; then
  limactl start --tty=false "$name"
fi
`;
}

/** On the Mac: stop and delete the instance (the K3s server with it). */
export function limaDeleteScript(instance: string): string {
  return `#!/bin/bash
set -euo pipefail
${MAC_PATH}
name=${shellQuote(instance)}
if limactl list --format '{{.Name}}' 2>/dev/null | grep -qx -- "$name"; then
  limactl delete --force "$name"
fi
`;
}
