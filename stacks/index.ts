// Entry point of the Pulumi program (Pulumi.yaml: main). Stack outputs: the layout, the placement
// plan (what `npm run plan` prints as JSON), each VM's name, host, node, threads and address, the
// K3s API's URL and a kubeconfig for it (a secret: `pulumi stack output --show-secrets kubeconfig`).
import * as pulumi from "@pulumi/pulumi";
import { runProgram } from "./program";

// The engine runs the program in main's directory (stacks/), not the project's: the stack's
// captures and lock are relative to the project root, which only getRootDirectory() knows.
const outputs = runProgram(pulumi.getRootDirectory() || process.cwd());
export const layout = outputs.layout;
export const plan = outputs.plan;
export const vms = outputs.vms;
export const k3sServer = outputs.k3sServer;
export const kubeconfig = outputs.kubeconfig;
