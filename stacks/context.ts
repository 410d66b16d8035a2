// What every layout's composition needs besides the config: where it runs, and how to reach a host.
import * as pulumi from "@pulumi/pulumi";
import { types } from "@pulumi/command";
import { StackHost } from "./config";

export interface StackContext {
  stack: string;
  /** The file a user edits for this stack, for messages: Pulumi.<stack>.yaml. */
  configFile: string;
  /** Directory of Pulumi.yaml: capture and lock paths in the config are relative to it. */
  projectDir: string;
  /** A preview (or an offline render) may show VMs whose placement is not locked yet; an up may not. */
  previewOnly: boolean;
  /** Marks this run for the host checks (default: the time the program started); fixed in a render. */
  runId?: string;
  /** The private key Pulumi logs in to the hypervisors with (a secret). */
  sshPrivateKey: pulumi.Output<string>;
}

export function connectionFor(host: StackHost, ctx: StackContext): types.input.remote.ConnectionArgs {
  return {
    host: host.ssh.address,
    port: host.ssh.port,
    user: host.ssh.user,
    privateKey: pulumi.secret(ctx.sshPrivateKey),
    // A host that is rebooting (BIOS change, kernel update) answers again within minutes.
    dialErrorLimit: 20,
    perDialTimeout: 15,
  };
}
