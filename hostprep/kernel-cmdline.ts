// The kernel command-line parameters a host needs for its plan: CPU isolation (in `cmdline` mode)
// and the gigantic huge pages. These take effect at the next boot only; the prepare script writes
// them to a GRUB drop-in and reports a reboot when /proc/cmdline lacks any of them.
//
// Isolation, for the VM threads (every thread outside the node reserves, see vm-threads.ts):
// - isolcpus=managed_irq,domain,<vm threads>: no scheduler load balancing onto them (a vCPU is
//   pinned to its one thread anyway), and managed device interrupts kept off them where the driver
//   allows (managed_irq, Linux 5.6+);
// - nohz_full=<vm threads>: no scheduler tick while a vCPU thread runs alone there;
// - rcu_nocbs=<vm threads>: RCU callbacks run on the reserve (nohz_full implies it on recent
//   kernels; said explicitly so that older ones and a reader see it);
// - irqaffinity=<reserved threads>: the default affinity of every other interrupt.
// The emulator threads already sit on the reserve (the plan's emulatorpin), so QEMU's own work
// never lands on a vCPU's thread.
import { formatCpuset } from "../topology/cpuset";
import type { HugepagePlan } from "./hugepages";
import { hugepageBootParameters } from "./hugepages";
import type { ThreadSplit } from "./vm-threads";

export type Isolation = "cmdline" | "tuned";

export function isolationParameters(split: ThreadSplit): string[] {
  if (split.vmThreads.length === 0) return [];
  const vm = formatCpuset(split.vmThreads);
  return [`isolcpus=managed_irq,domain,${vm}`, `nohz_full=${vm}`, `rcu_nocbs=${vm}`, `irqaffinity=${formatCpuset(split.reservedThreads)}`];
}

/**
 * What the GRUB drop-in adds to the command line, in a fixed order (isolation, then huge pages).
 * In `tuned` mode tuned's bootloader plugin adds the isolation parameters itself; ours are only
 * the huge pages.
 */
export function bootParameters(isolation: Isolation, split: ThreadSplit, pages: HugepagePlan): string[] {
  return [...(isolation === "cmdline" ? isolationParameters(split) : []), ...hugepageBootParameters(pages)];
}

/** /proc/cmdline as words (the kernel splits on spaces; quotes are not used by our parameters). */
export function cmdlineWords(cmdline: string): string[] {
  return cmdline.trim().split(/\s+/).filter((w) => w !== "");
}

/** The wanted parameters missing from a live command line, in the wanted order. A parameter the
 * kernel reads twice takes the last value, so a word counts only when it is the key's last one. */
export function missingParameters(wanted: readonly string[], cmdline: string): string[] {
  const words = cmdlineWords(cmdline);
  const last = new Map<string, string>();
  for (const w of words) last.set(w.split("=")[0], w);
  return wanted.filter((w) => {
    const key = w.split("=")[0];
    // hugepagesz/hugepages come in pairs, one pair per size: only presence can be asked.
    if (key === "hugepagesz" || key === "hugepages") return !words.includes(w);
    return last.get(key) !== w;
  });
}
