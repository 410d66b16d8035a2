// The mac-numa control plane: a Linux VM on the Mac Mini, made by Lima (vz, Apple's
// Virtualization.framework) from a template this program renders, with a bridged NIC from
// socket_vmnet so that the NUMA host's workers reach it on the LAN (6443/tcp API, 8472/udp flannel
// VXLAN, 10250/tcp kubelet). Lima's own SSH port forward is loopback-only on the Mac, so the
// program reaches the VM over the bridged address too, as an admin user the template creates.
import { stringify } from "yaml";
import { PUBLIC_KEY } from "../guest/cloud-init";
import { shellQuote } from "../common/remote-script";
import { LOGIN_NAME, MAC } from "../common/formats";
import { InputError } from "../common/user-error";

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
    throw new InputError(`lima.${field} = ${JSON.stringify(value)}: ${fits}`);
  };
  if (!Number.isInteger(input.cpus) || input.cpus < 2) bad("cpus", input.cpus, "a whole number >= 2 (the K3s server needs 2)");
  if (!Number.isInteger(input.memoryGiB) || input.memoryGiB < 2) bad("memoryGiB", input.memoryGiB, "a whole number of GiB >= 2");
  if (!Number.isInteger(input.diskGiB) || input.diskGiB < 10) bad("diskGiB", input.diskGiB, "a whole number of GiB >= 10");
  if (!isLimaIdentifier(input.network)) bad("network", input.network, LIMA_NETWORK_HINT);
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

/** The network the template's NIC names when the stack names none: the `bridged` network of Lima's
 * default networks.yaml (mode bridged, interface en0). */
export const DEFAULT_LIMA_NETWORK = "bridged";

/**
 * The Lima release whose networking rules the preflight below carries: the newest release (not a
 * pre-release) when they were read, in pkg/networks/validate.go (Validate, validatePath),
 * sudoers.go (VerifySudoAccess), networks.TEMPLATE.yaml and config.go (the defaults), and
 * pkg/identifiers (the network names). The rules of validatePath are unchanged from v2.0.0 to
 * v2.2.0 and on master through 183a60d7 (2026-08-21). test/fixtures/k3s/lima-networks-rules.json
 * holds what was read; a test fails when this moves without it.
 */
export const LIMA_RULES_RELEASE = { tag: "v2.2.0", commit: "de0816ea4bdc5267b428ab21025889b8dd785526" } as const;

/** A network name Lima accepts (pkg/identifiers at LIMA_RULES_RELEASE): it goes verbatim into the
 * sudoers file and socket_vmnet's command line. */
const LIMA_NETWORK_HINT = "a network name of Lima's networks.yaml (letters and digits, '.', '_' or '-' between them, 76 at most)";
function isLimaIdentifier(name: string): boolean {
  return name.length <= 76 && /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/.test(name);
}

/**
 * On the Mac, before `limactl create` or `start`: refuses, in one line naming the key of
 * networks.yaml, what is wrong and what to do, a setup where Lima would refuse socket_vmnet (at
 * `limactl start`, when the VM is already half made) or the bridged NIC would not reach the LAN.
 * Lima's rules at LIMA_RULES_RELEASE: `paths.socketVMNet`, `paths.varRun` (its nearest existing
 * directory) and `paths.sudoers` are absolute, without a space, and neither they nor any parent
 * up to / is a symlink, owned by anyone but root, group-writable by a group other than root's
 * (for varRun also daemon's, and a varRun directory must let daemon's group in), or
 * world-writable; socket_vmnet must exist. Stricter than Lima where Lima would fall back to sudo
 * without a password: the sudoers file must be set, exist and be readable (Lima compares it with
 * `limactl sudoers`), and the user must be in `group`, which the sudoers rules name. The network
 * the template names must be bridged, on an interface. Bash 3.2 (macOS's /bin/bash), BSD or GNU
 * userland: `ls -ldn` for modes and numeric ids.
 */
export function limaPreflightScript(network: string): string {
  if (!isLimaIdentifier(network)) throw new InputError(`lima.network = ${JSON.stringify(network)}: ${LIMA_NETWORK_HINT}`);
  return `#!/bin/bash
# numa-k3s: the Mac's Lima networking, checked with the rules of lima-vm/lima ${LIMA_RULES_RELEASE.tag} (${LIMA_RULES_RELEASE.commit.slice(0, 12)}).
set -euo pipefail
network=${shellQuote(network)}
config="\${LIMA_HOME:-$HOME/.lima}/_config/networks.yaml"
install_fix="install socket_vmnet root-owned (in its source: sudo make PREFIX=/opt/socket_vmnet install.bin) and set paths.socketVMNet: /opt/socket_vmnet/bin/socket_vmnet (README, mac-numa step 1)"
refuse() { echo "$config: $*" >&2; exit 1; }
[[ -f $config ]] || refuse "does not exist: run 'limactl sudoers' once (Lima writes its default networks.yaml there), then follow README, mac-numa step 1"

# The scalar at a dotted key path of a block-style YAML mapping, as Lima writes networks.yaml;
# empty when absent.
yaml_get() {
  awk -v want="$1" '
    { sub(/\\r$/, "") }
    /^[ \\t]*(#.*)?$/ || /^[ \\t]*-/ { next }
    {
      match($0, /^ */); indent = RLENGTH; rest = substr($0, indent + 1)
      c = index(rest, ":"); if (c == 0) next
      key = substr(rest, 1, c - 1); value = substr(rest, c + 1)
      if (value != "" && value !~ /^[ \\t]/) next
      if (key ~ /^".*"$/) key = substr(key, 2, length(key) - 2)
      sub(/^[ \\t]+/, "", value)
      while (n > 0 && depth[n] >= indent) n--
      n++; keys[n] = key; depth[n] = indent
      path = keys[1]; for (i = 2; i <= n; i++) path = path "." keys[i]
      if (path != want) next
      if (value ~ /^"/) { value = substr(value, 2); sub(/".*$/, "", value) }
      else if (value ~ /^\\047/) { value = substr(value, 2); sub(/\\047.*$/, "", value) }
      else { sub(/[ \\t]+#.*$/, "", value); sub(/[ \\t]+$/, "", value) }
      print value; exit
    }' "$config"
}

# Lima's validatePath, in its order: PATH absolute, without a space, present (else MISSING), then
# PATH and each parent up to /.
check_path() {
  local key=$1 path=$2 daemon_ok=$3 fix=$4 shown=$5 missing=$6 p what mode uid gid
  [[ $path == /* ]] || refuse "paths.$key = $shown: not an absolute path; $fix"
  [[ $path != *" "* ]] || refuse "paths.$key = $shown: contains a space; $fix"
  [[ -e $path || -L $path ]] || refuse "paths.$key = $shown: $missing"
  p=$path
  while :; do
    what="file"
    [[ -d $p ]] && what="directory"
    [[ ! -L $p ]] || refuse "paths.$key = $shown: $p is a symlink, and Lima refuses any symlink on the way (sudo would run what the link points to); $fix"
    read -r mode _ uid gid _ <<<"$(ls -ldn -- "$p")"
    [[ $uid == 0 ]] || refuse "paths.$key = $shown: $what $p is owned by uid $uid, not root, so that user could replace what sudo runs; $fix"
    if [[ \${mode:5:1} == w && $gid != 0 ]] && ! [[ $daemon_ok == yes && $gid == "$daemon_gid" ]]; then
      refuse "paths.$key = $shown: $what $p is writable by group $gid; only root's group$([[ $daemon_ok == yes ]] && echo " or daemon's") may write it; $fix"
    fi
    if [[ $daemon_ok == yes && $what == directory && \${mode:9:1} != [xt] ]] && ! [[ \${mode:6:1} == [xs] && $gid == "$daemon_gid" ]]; then
      refuse "paths.$key = $shown: directory $p does not let the daemon group in; $fix"
    fi
    [[ \${mode:8:1} != w ]] || refuse "paths.$key = $shown: $what $p is world-writable; $fix"
    [[ $p != / ]] || break
    p=\${p%/*}
    [[ -n $p ]] || p=/
  done
}

daemon_gid=$(id -g daemon 2>/dev/null) || refuse "this machine has no 'daemon' user, which Lima's checks need"

socket_vmnet=$(yaml_get paths.socketVMNet)
[[ -n $socket_vmnet ]] || refuse "paths.socketVMNet is not set; $install_fix"
check_path socketVMNet "$socket_vmnet" no "$install_fix" "$socket_vmnet" "not installed; $install_fix"
[[ -f $socket_vmnet && -x $socket_vmnet ]] || refuse "paths.socketVMNet = $socket_vmnet: not an executable file; $install_fix"

var_run=$(yaml_get paths.varRun)
var_run_fix="set paths.varRun: /private/var/run/lima (Lima's default)"
[[ -n $var_run ]] || refuse "paths.varRun is not set; $var_run_fix"
base=$var_run
while [[ $base != / && ! -e $base && ! -L $base ]]; do base=\${base%/*}; [[ -n $base ]] || base=/; done
check_path varRun "$base" yes "$var_run_fix" "$var_run" ""

sudoers=$(yaml_get paths.sudoers)
sudoers_fix="set paths.sudoers: /private/etc/sudoers.d/lima (Lima's default; /etc is a symlink on macOS)"
sudoers_install="run: limactl sudoers >etc_sudoers.d_lima && sudo install -o root etc_sudoers.d_lima $sudoers"
[[ -n $sudoers ]] || refuse "paths.sudoers is not set, so Lima would need sudo without a password; $sudoers_fix, then $sudoers_install"
check_path sudoers "$sudoers" no "$sudoers_fix" "$sudoers" "does not exist; $sudoers_install"
[[ -r $sudoers ]] || refuse "paths.sudoers = $sudoers: $(id -un) cannot read it, and Lima compares it with 'limactl sudoers'; $sudoers_install"

group=$(yaml_get group)
[[ -n $group ]] || refuse "group is not set; set group: admin (Lima's default) or another group you are in, then $sudoers_install"
case " $(id -Gn) " in
  *" $group "*) ;;
  *) refuse "group = $group: $(id -un) is not in it, and the sudoers rules are for that group only; set group: to a group you are in (staff), then $sudoers_install" ;;
esac

mode=$(yaml_get "networks.$network.mode")
[[ $mode == bridged ]] || refuse "networks.$network.mode = \${mode:-(none)}: the K3s server needs a NIC bridged onto the LAN the workers are on; define networks.$network with mode: bridged and interface: en0 (your LAN interface), then $sudoers_install"
[[ -n $(yaml_get "networks.$network.interface") ]] || refuse "networks.$network.interface is not set; set it to the Mac's LAN interface (en0), then $sudoers_install"
`;
}

/** Where the Mac's Homebrew puts limactl; a non-login SSH shell on macOS does not have it in PATH. */
const MAC_PATH = `export PATH="/opt/homebrew/bin:/usr/local/bin:$PATH"`;

/**
 * On the Mac: create the instance from the template on stdin if it does not exist, start it if it
 * is not running; before either, the preflight (limaPreflightScript) and `limactl sudoers --check`.
 * An existing instance is not re-created when the template changes (that would
 * wipe the cluster's datastore): the script says so, and `limactl delete <name>` then `pulumi up`
 * re-creates it. Bash 3.2 (macOS's /bin/bash) compatible.
 */
export function limaUpScript(instance: string, network: string): string {
  return `#!/bin/bash
set -euo pipefail
${MAC_PATH}
name=${shellQuote(instance)}
command -v limactl >/dev/null 2>&1 || { echo "numa-k3s lima: limactl not found on the Mac (brew install lima)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/$name.yaml"
status=$(limactl list --format '{{.Status}}' "$name" 2>/dev/null || true)
if [[ $status != Running ]]; then
  # Lima checks its networking only at start, after create has made the VM: check first.
  bash -c ${shellQuote(limaPreflightScript(network))} </dev/null
  # Lima's own last word: the sudoers file matches what this networks.yaml needs.
  limactl sudoers --check >/dev/null 2>"$dir/sudoers-check" || { echo "numa-k3s lima: 'limactl sudoers --check' refused: $(tail -n 1 "$dir/sudoers-check")" >&2; exit 1; }
fi
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
