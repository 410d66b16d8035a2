// The bash scripts the K3s commands run over SSH: install/upgrade/reconfigure (one script, so a
// rerun converges whatever state it finds), uninstall, and the server-side drain / uncordon around
// a kubelet policy change. Values are quoted with shellQuote; files arrive on stdin.
import { filesPayload, readPayloadBash, shellQuote } from "../common/remote-script";
import { CONFIG_FILE, TOKEN_FILE } from "./config-files";
import { KUBELET_CONFIG_COPY, KUBELET_CONFIG_PATH, KUBELET_STATE_FILES } from "./kubelet-config";
import { InstallScript } from "./version";
import { InputError } from "../common/user-error";

export type K3sRole = "server" | "agent";

/** The systemd unit K3s's installer creates for each role. */
export const SERVICE: Record<K3sRole, string> = { server: "k3s", agent: "k3s-agent" };
/** The uninstall script K3s's installer leaves beside the binary. */
export const UNINSTALLER: Record<K3sRole, string> = { server: "/usr/local/bin/k3s-uninstall.sh", agent: "/usr/local/bin/k3s-agent-uninstall.sh" };
/** Where the install script records the kubelet policy digest it last applied. */
export const POLICY_FILE = "/etc/rancher/k3s/numa-k3s-kubelet-policy";

/** The files the install script accepts on stdin, by name, and where it puts them. */
export const K3S_FILES = { "config.yaml": CONFIG_FILE, "kubelet.yaml": KUBELET_CONFIG_PATH, "cluster-token": TOKEN_FILE } as const;
export type K3sFile = keyof typeof K3S_FILES;

/** stdin of the install command: the files as a payload (common/remote-script.ts), in K3S_FILES'
 * order. Holds the token: the caller makes it secret. */
export function k3sFilesPayload(files: Partial<Record<K3sFile, string>>): string {
  return filesPayload(Object.fromEntries((Object.keys(K3S_FILES) as K3sFile[]).filter((f) => files[f] !== undefined).map((f) => [f, files[f]!])));
}

/** stdin of an install: the node's files and the cluster token; refuses a short or missing token
 * (a join would fail later, less clearly). */
export function installPayload(nodeName: string, files: Partial<Record<K3sFile, string>>, token: string | undefined): string {
  if (typeof token !== "string" || token.length < 16) {
    throw new InputError(`K3s '${nodeName}': the cluster token is ${token === undefined ? "missing" : `${token.length} characters`}; it needs at least 16`);
  }
  return k3sFilesPayload({ ...files, "cluster-token": `${token}\n` });
}

// The SSH user may be the VM's admin user (passwordless sudo, cloud-init gives it that) or root
// on an existing host: re-run the same text as root either way; stdin goes along.
const AS_ROOT = `if [[ $EUID -ne 0 ]]; then exec sudo -n -- bash -c "$BASH_EXECUTION_STRING"; fi`;

/** Where a server keeps the token its datastore's bootstrap data is encrypted with (K3s writes it
 * at every start, in the secure form `K10<CA hash>::server:<token>`). */
export const SERVER_TOKEN_FILE = "/var/lib/rancher/k3s/server/token";
/** Where the install leaves a token it refused, for a deliberate `k3s token rotate`. */
export const PENDING_TOKEN_FILE = `${TOKEN_FILE}.pending`;
/** What the operator renames the pending token to once `k3s token rotate` ran: the rotation is theirs. */
export const ROTATED_TOKEN_FILE = `${TOKEN_FILE}.rotated`;

// Every path the install script touches starts with $root: "" on a machine, a directory tree in
// the tests that run the script (NUMA_K3S_ROOT; sshd passes no such variable to a command).
const ROOT = `root=\${NUMA_K3S_ROOT:-}`;

export interface InstallScriptParams {
  role: K3sRole;
  /** The pinned release, e.g. v1.36.3+k3s1. */
  version: string;
  /** The k8s node name (drained by the server itself on a policy change). */
  nodeName: string;
  /** kubeletPolicyDigest of the kubelet file, or "" when the node has none. */
  policyDigest: string;
  /** Seconds to wait for the API server (server) or the kubelet (agent) to answer. */
  readyTimeoutSeconds: number;
  /** The release's install.sh and the sha256 it must have (k3s/version.ts installScriptOf). */
  installer: InstallScript;
}

/**
 * Install, upgrade or reconfigure K3s, in this order:
 * 1. stage the files from stdin beside their targets;
 * 2. on a server that holds a token already: refuse a token that differs from it (the datastore's
 *    bootstrap data is encrypted with the first one; a server restarted with another cannot read
 *    it), leaving the new one in cluster-token.pending with the `k3s token rotate` command to run,
 *    unless that rotation was recorded (cluster-token.rotated holds the new token);
 * 3. replace each file whose content differs (the token file never changes otherwise;
 *    config.yaml and kubelet.yaml when the inputs do);
 * 4. if the kubelet policy digest differs from the one recorded: (server: drain itself), stop the
 *    service, remove the CPU and memory manager state files, which a kubelet with a new policy
 *    refuses to start with;
 * 5. if the installed release is not the pinned one: download that release's install.sh, check
 *    its sha256 (refused, naming both sums, when it differs) and run it (an in-place upgrade on an
 *    existing node: same data dir, the installer restarts the service);
 *    else if a file changed, the policy changed or the service is not running: restart it;
 *    else nothing: unchanged inputs do not restart K3s;
 * 6. wait until the API server (/readyz) or the kubelet (/healthz) answers twice, 5 s apart, from
 *    one service process (not a crash loop's passing moment); the server uncordons itself after a
 *    policy change.
 */
export function installScript(p: InstallScriptParams): string {
  const service = SERVICE[p.role];
  const ready =
    p.role === "server"
      ? `k3s kubectl get --raw /readyz >/dev/null 2>&1`
      : `curl -sf http://127.0.0.1:10248/healthz >/dev/null 2>&1`;
  return `#!/usr/bin/env bash
set -euo pipefail
${AS_ROOT}
${ROOT}
version=${shellQuote(p.version)}
role=${shellQuote(p.role)}
service=${shellQuote(service)}
node=${shellQuote(p.nodeName)}
policy=${shellQuote(p.policyDigest)}
timeout=${p.readyTimeoutSeconds}
installer_url=${shellQuote(p.installer.url)}
installer_sha256=${shellQuote(p.installer.sha256)}
dir=$root/etc/rancher/k3s
held_token=$root${SERVER_TOKEN_FILE}
pending_token=$root${PENDING_TOKEN_FILE}
rotated_token=$root${ROTATED_TOKEN_FILE}
policy_file=$root${POLICY_FILE}
log() { echo "numa-k3s k3s ($node): $*" >&2; }
umask 077
mkdir -p "$dir"

# 1. The files from stdin, staged: nothing is replaced before the token is checked.
say() { log "$@"; }
${readPayloadBash(Object.keys(K3S_FILES))}
staged=("\${received[@]}")
kubelet_seen=false
for file in "\${staged[@]}"; do [[ $file == kubelet.yaml ]] && kubelet_seen=true; done
discard() { for file in "\${staged[@]}"; do rm -f "$dir/.$file.new"; done; }

# 2. The token this server's datastore is encrypted with stays, unless its rotation was recorded.
# The password part of a token in either form: K10<CA hash>::server:<password>, or the password.
password() { local t; t=$(<"$1"); if [[ $t == K10*::* ]]; then t=\${t#*::}; t=\${t#*:}; fi; printf '%s' "$t"; }
rotated=false
if [[ $role == server && -s $held_token && -s $dir/.cluster-token.new ]] && [[ $(password "$held_token") != "$(password "$dir/.cluster-token.new")" ]]; then
  if [[ -s $rotated_token ]] && cmp -s "$rotated_token" "$dir/.cluster-token.new"; then
    log "the cluster token was rotated (recorded in $rotated_token): taking the new one"
    rotated=true
  else
    mv -f "$dir/.cluster-token.new" "$pending_token"
    discard
    # shellcheck disable=SC2016
    rotate=$(printf 'sudo k3s token rotate --token "$(sudo cat %s)" --new-token "$(sudo cat %s)" && sudo mv %s %s' "$held_token" "$pending_token" "$pending_token" "$rotated_token")
    log "refusing to change the cluster token, since this server holds another one ($held_token), and K3s encrypts its datastore's bootstrap data with it; restarted with a new token it could not read its own data. The stack's token was replaced (a re-created or renamed k3s-token resource, or a new token argument): give the stack the old token back; or rotate it deliberately: $rotate, then pulumi up again (docs.k3s.io/cli/token). Nothing was changed."
    exit 1
  fi
fi

# 3. Each file replaced only when its content differs.
changed=()
for file in "\${staged[@]}"; do
  if cmp -s "$dir/.$file.new" "$dir/$file"; then
    rm -f "$dir/.$file.new"
  else
    mv -f "$dir/.$file.new" "$dir/$file"
    changed+=("$file")
  fi
done
for file in config.yaml cluster-token; do
  [[ -s $dir/$file ]] || { log "$dir/$file was not written"; exit 1; }
done
if ! $kubelet_seen && [[ -e $dir/kubelet.yaml || -e $root${KUBELET_CONFIG_COPY} ]]; then
  rm -f "$dir/kubelet.yaml" "$root${KUBELET_CONFIG_COPY}"
  changed+=(kubelet.yaml)
fi

# 4. A new CPU/memory manager policy: the old state files would stop the kubelet from starting.
#    No record: a new node, no state yet. An empty record: a node without a kubelet file, whose
#    kubelet ran K3s's default policy (none) and wrote its state for that.
policy_changed=false
if [[ -e $policy_file ]] && recorded=$(cat "$policy_file") && [[ $recorded != "$policy" ]]; then
  policy_changed=true
  log "kubelet policy changed (\${recorded:-none} -> \${policy:-none}): draining, removing the manager state"
  if systemctl is-active --quiet "$service"; then
    if [[ $role == server ]]; then
      k3s kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s
    fi
    systemctl stop "$service"
  fi
  rm -f ${KUBELET_STATE_FILES.map((f) => `"$root${f}"`).join(" ")}
fi

# 5. Install or upgrade to the pinned release, or restart only if something changed. The installer
#    runs as root: only the bytes whose sha256 was pinned with the release run.
installed=$( (k3s --version 2>/dev/null || true) | awk 'NR == 1 { print $3 }')
if [[ $installed != "$version" ]]; then
  log "installing $version (found \${installed:-none})"
  installer=$(mktemp "\${TMPDIR:-/tmp}/numa-k3s-install.XXXXXX")
  trap 'rm -f "$installer"' EXIT
  curl -fsSL --retry 3 -o "$installer" "$installer_url" || { log "cannot download $installer_url"; exit 1; }
  got=$(sha256sum "$installer" | cut -d' ' -f1)
  if [[ $got != "$installer_sha256" ]]; then
    log "refusing to run $installer_url: its sha256 is $got, expected $installer_sha256 (k3s/version.ts for the pinned release, numa-k3s:k3s.installScript.sha256 for another); K3s was not installed"
    exit 1
  fi
  INSTALL_K3S_VERSION="$version" INSTALL_K3S_EXEC="$role" sh "$installer"
elif ((\${#changed[@]} > 0)) || $policy_changed || ! systemctl is-active --quiet "$service"; then
  log "$version installed; restarting $service (changed: \${changed[*]:-none})"
  systemctl restart "$service"
else
  log "$version installed, configuration unchanged: nothing to do"
fi
printf '%s\\n' "$policy" >"$policy_file"

# 6. Ready? Twice in a row, 5 s apart, from the same process: a kubelet that cannot use its state
# file answers /healthz for a moment before it exits, and systemd starts another (a new MainPID).
waited=0
ready_pid=""
while :; do
  pid=$(systemctl show -p MainPID --value "$service" 2>/dev/null || true)
  if [[ -n $pid && $pid != 0 ]] && ${ready}; then
    [[ $pid == "$ready_pid" ]] && break
    ready_pid=$pid
  else
    ready_pid=""
  fi
  if ((waited >= timeout)); then
    log "$service did not become ready within \${timeout}s; see journalctl -u $service"
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done
if $policy_changed && [[ $role == server ]]; then
  k3s kubectl uncordon "$node"
fi
if $rotated; then rm -f "$rotated_token"; fi
log "ready"
`;
}

/** Remove K3s from the machine (the installer's own uninstaller), and this program's files. A
 * machine without K3s is already done. */
export function uninstallScript(role: K3sRole): string {
  return `#!/usr/bin/env bash
set -euo pipefail
${AS_ROOT}
uninstaller=${shellQuote(UNINSTALLER[role])}
if [[ -x $uninstaller ]]; then
  "$uninstaller"
else
  echo "numa-k3s k3s: $uninstaller not found: K3s is not installed here" >&2
fi
rm -f ${Object.values(K3S_FILES).join(" ")} ${POLICY_FILE}
`;
}

const SERVER_PREAMBLE = (nodeName: string) => `#!/usr/bin/env bash
set -euo pipefail
${AS_ROOT}
node=${shellQuote(nodeName)}
if ! command -v k3s >/dev/null 2>&1; then
  echo "numa-k3s k3s: no k3s on the server: nothing to do for $node" >&2
  exit 0
fi
`;

/** On the server: drain an agent's node before its kubelet policy changes (no-op for a node that
 * has not joined yet). */
export function drainScript(nodeName: string): string {
  return `${SERVER_PREAMBLE(nodeName)}if k3s kubectl get node "$node" >/dev/null 2>&1; then
  k3s kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s
else
  echo "numa-k3s k3s: node $node has not joined: nothing to drain" >&2
fi
`;
}

/** On the server: wait for an agent's node to register, then uncordon it (after a join or a
 * policy change). */
export function uncordonScript(nodeName: string, timeoutSeconds: number): string {
  return `${SERVER_PREAMBLE(nodeName)}waited=0
until k3s kubectl get node "$node" >/dev/null 2>&1; do
  if ((waited >= ${timeoutSeconds})); then
    echo "numa-k3s k3s: node $node did not register within ${timeoutSeconds}s" >&2
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done
k3s kubectl uncordon "$node"
`;
}

/** On the server, when an agent is deleted: drain it while it still runs, then remove the node. */
export function removeNodeScript(nodeName: string): string {
  return `${SERVER_PREAMBLE(nodeName)}if k3s kubectl get node "$node" >/dev/null 2>&1; then
  k3s kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s || echo "numa-k3s k3s: drain of $node incomplete; removing it anyway" >&2
  k3s kubectl delete node "$node"
fi
`;
}

/** Read the admin kubeconfig (root-only, mode 0600). */
export function readKubeconfigScript(kubeconfigFile: string): string {
  return `#!/usr/bin/env bash
set -euo pipefail
${AS_ROOT}
cat ${shellQuote(kubeconfigFile)}
`;
}
