// One reviewable page of what a host's preparation sets (render's hosts/<host>/summary.txt).
import { formatCpuset } from "../topology/cpuset";
import { sizeName } from "./hugepages";
import { irqbalanceLine } from "./irqbalance";
import { HostSettings } from "./settings";

export function hostSummary(s: HostSettings): string {
  const pages = [...s.pages.runtime, ...s.pages.boot].map((p) => `node ${p.node} ${sizeName(p.sizeKiB)}: ${p.count}${p.sizeKiB >= 1048576 ? " (at boot, kernel command line)" : " (runtime, boot script)"}`);
  return [
    `# host ${s.host}`,
    `VM threads (isolated): ${formatCpuset(s.vmThreads) || "none"}`,
    `reserved threads: ${formatCpuset(s.reservedThreads)}`,
    `kernel command line (${s.isolation} mode, next boot): ${s.bootParameters.join(" ") || "(nothing)"}`,
    `irqbalance: ${irqbalanceLine(s) ?? "(unchanged)"}`,
    "huge pages per node:",
    ...pages.map((p) => `  ${p}`),
    "",
  ].join("\n");
}
