// irqbalance moves interrupts around every 10 s; left alone it puts them on VM threads again
// after irqaffinity= placed them on the reserve. IRQBALANCE_BANNED_CPULIST (irqbalance 1.8+, a
// cpulist; the older IRQBALANCE_BANNED_CPUS took a hex mask) keeps it off the VM threads. Recent
// irqbalance also skips isolcpus/nohz_full threads on its own; the explicit list holds before the
// reboot that isolates them, and in tuned mode.
import { formatCpuset } from "../topology/cpuset";
import type { ThreadSplit } from "./vm-threads";

export const IRQBALANCE_FILE = "/etc/default/irqbalance";
export const IRQBALANCE_KEY = "IRQBALANCE_BANNED_CPULIST";

/** The one line the prepare script keeps in /etc/default/irqbalance (other lines untouched). */
export function irqbalanceLine(split: ThreadSplit): string | null {
  return split.vmThreads.length === 0 ? null : `${IRQBALANCE_KEY}=${formatCpuset(split.vmThreads)}`;
}
