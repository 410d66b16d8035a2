// How the offline commands (capture, host-check) reach a hypervisor: the operator's own ssh client
// and keys, with the stack's ssh settings. The login goes in `-l` and the address after `--`, never
// as `user@address`: a value starting with '-' (`-oProxyCommand=...`) must not be read as an option.
// The stack schema refuses such values already (common/formats.ts); this is the second wall.
import type { StackHost } from "../stacks/config";

export function sshArgs(host: Pick<StackHost, "ssh">, remoteCommand: string): string[] {
  return ["-o", "BatchMode=yes", "-l", host.ssh.user, "-p", String(host.ssh.port), "--", host.ssh.address, remoteCommand];
}

/** `user@address` for messages. */
export const sshTarget = (host: Pick<StackHost, "ssh">) => `${host.ssh.user}@${host.ssh.address}`;
