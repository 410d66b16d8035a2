// Entry point of the Pulumi program (Pulumi.yaml: main). Stack outputs: the layout, the placement
// plan (what `npm run plan` prints as JSON), each VM's name, host, node, threads and address, the
// K3s API's URL and a kubeconfig for it (a secret: `pulumi stack output --show-secrets kubeconfig`).
import { runProgram } from "./program";

const outputs = runProgram();
export const layout = outputs.layout;
export const plan = outputs.plan;
export const vms = outputs.vms;
export const k3sServer = outputs.k3sServer;
export const kubeconfig = outputs.kubeconfig;
