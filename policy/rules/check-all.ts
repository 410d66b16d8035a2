// Every rule of the pack over one set of inputs: what `npm run check` runs on a render, and what
// the pack's stack policies run on a preview's resources.
import { Finding, Inputs, PolicyContext, RULES } from "./model";
import { checkConsoles, checkPlacements } from "./placement-rules";
import { checkSecrets } from "./secrets";
import { checkKubelets, checkModelServers } from "./workload-rules";

export function checkAll(inputs: Inputs, ctx: PolicyContext): Finding[] {
  const findings = [
    ...checkPlacements(inputs.domains, ctx),
    ...checkKubelets(inputs.kubelets, ctx),
    ...checkModelServers(inputs.objects, ctx),
    ...checkConsoles(inputs.domains, ctx),
    ...checkSecrets(inputs.commands, inputs.objects),
  ];
  // In the pack's order of rules, then by resource: the same render gives the same lines.
  return findings.sort((a, b) => RULES.indexOf(a.rule) - RULES.indexOf(b.rule) || a.resource.localeCompare(b.resource) || a.message.localeCompare(b.message));
}

/** One line per finding: `rule resource: why` (the message starts with the resource). */
export function formatFinding(f: Finding): string {
  return `${f.rule} ${f.message}`;
}
