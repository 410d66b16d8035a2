// Every command this program runs on another machine (a hypervisor, a VM, the K3s server, the Mac)
// goes through here: one way to log in, one way to make a remote.Command. The scripts themselves
// are pure (hypervisor/, hostprep/, k3s/); common/remote-script.ts quotes, marks and carries them.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { bashCommand } from "../common/remote-script";

export type ConnectionArgs = command.types.input.remote.ConnectionArgs;

/**
 * SSH to `address` as `user` with the stack's private key, as a secret Output: the key must never
 * reach a log, a diff or a render in the clear, and everything derived from the connection is
 * secret too. Dialling is retried for several minutes (30 tries, 15 s each): a hypervisor that
 * reboots after preparation, a new VM on its first boot and a Lima VM starting all answer within
 * that.
 */
export function sshConnection(address: string, user: string, port: number, privateKey: pulumi.Input<string>): pulumi.Output<ConnectionArgs> {
  return pulumi.secret({ host: address, port, user, privateKey, dialErrorLimit: 30, perDialTimeout: 15 }) as pulumi.Output<ConnectionArgs>;
}

/** A caller's connection (plain or Output) made secret as a whole, whatever was passed. */
export function secretConnection(connection: pulumi.Input<ConnectionArgs>): pulumi.Output<ConnectionArgs> {
  return pulumi.secret(connection) as pulumi.Output<ConnectionArgs>;
}

export interface HostCommandArgs {
  connection: pulumi.Input<ConnectionArgs>;
  /** The bash script `create` runs; `update` runs it too unless `update` is given: our scripts
   * converge, so running one again changes only what differs. */
  script: string;
  update?: string;
  /** Run on delete (the resource removed from the stack, or `pulumi destroy`). */
  delete?: string;
  /** Change markers (common/remote-script.ts changeMarker) in front of create and update: a new
   * marker value runs the update. */
  markers?: string[];
  /** A payload on stdin (the domain XML, files). A change runs the update, never a replacement. */
  stdin?: pulumi.Input<string>;
  /** What REPLACES the command (deletes, then creates): only what identifies the thing it manages. */
  triggers?: pulumi.Input<unknown>[];
  /** Keep stdout and stderr out of the logs and make them secret outputs: for a secret stdin or a
   * command that prints one (the kubeconfig). */
  secret?: boolean;
  /** What `pulumi up` shows of the command's output. Default both streams (secret: none). */
  logging?: "stdout" | "stderr" | "stdoutAndStderr" | "none";
}

/**
 * A remote.Command the way every command of this program is made:
 * - `create` and `update` are the script behind its markers, as one bash command line;
 * - the previous output is never fed back in (`addPreviousOutputInEnv: false`: our scripts read the
 *   host, not their last run, and a secret output must not travel back as plain environment);
 * - a replacement deletes before it creates: the old and the new one manage the same thing (a
 *   domain name, a host's files), so Pulumi's default order would end with the delete undoing the
 *   create.
 */
export function hostCommand(name: string, args: HostCommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const marked = (script: string) => [...(args.markers ?? []), bashCommand(script)].join(" ");
  return new command.remote.Command(
    name,
    {
      connection: secretConnection(args.connection),
      create: marked(args.script),
      update: marked(args.update ?? args.script),
      ...(args.delete !== undefined ? { delete: bashCommand(args.delete) } : {}),
      ...(args.stdin !== undefined ? { stdin: args.stdin } : {}),
      ...(args.triggers !== undefined ? { triggers: args.triggers } : {}),
      addPreviousOutputInEnv: false,
      logging: args.logging ?? (args.secret ? "none" : "stdoutAndStderr"),
    },
    {
      deleteBeforeReplace: true,
      ...opts,
      ...(args.secret ? { additionalSecretOutputs: ["stdout", "stderr", ...(opts.additionalSecretOutputs ?? [])] } : {}),
    },
  );
}
