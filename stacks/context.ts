// What every layout's composition needs besides the config: where it runs, and how to reach a host.
import * as pulumi from "@pulumi/pulumi";
import { ConnectionArgs, sshConnection } from "../components/remote";
import { StackHost } from "./config";

export interface StackContext {
  stack: string;
  /** The file a user edits for this stack, for messages: Pulumi.<stack>.yaml. */
  configFile: string;
  /** Directory of Pulumi.yaml: capture and lock paths in the config are relative to it. */
  projectDir: string;
  /** A preview (or an offline render) may show VMs whose placement is not locked yet; an up may not. */
  previewOnly: boolean;
  /** The private key Pulumi logs in to the hypervisors with (a secret). */
  sshPrivateKey: pulumi.Output<string>;
}

/** SSH to a hypervisor, as its `ssh` settings say, with the stack's key. */
export function connectionFor(host: StackHost, ctx: StackContext): pulumi.Output<ConnectionArgs> {
  return sshConnection(host.ssh.address, host.ssh.user, host.ssh.port, ctx.sshPrivateKey);
}
