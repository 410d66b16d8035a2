// Entry point of the Pulumi program (Pulumi.yaml: main). Stack outputs: the layout, the placement
// plan (what `npm run plan` prints as JSON) and each VM's name, host, node, threads and address.
import { runProgram } from "./program";

const outputs = runProgram();
export const layout = outputs.layout;
export const plan = outputs.plan;
export const vms = outputs.vms;
