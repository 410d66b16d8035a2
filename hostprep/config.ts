// What a stack says about preparing one hypervisor (`numa-k3s:hosts[i].prepare`): the user-typed
// part. Everything else NumaHost does is derived from the plan. Pure: a zod schema and defaults.
import { z } from "zod";
import { flag, wholeNumberIn } from "../common/config-values";

export const ChecksumSchema = z
  .string()
  .regex(/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/, "must be sha256:<64 hex digits> or sha512:<128 hex digits>, lowercase, as the image's SHA256SUMS/SHA512SUMS lists it");

export const BaseImageSchema = z
  .object({
    /** Where the cloud image is published (http or https). Fetched only when `path` is missing or
     * does not match `checksum`. */
    url: z.string().regex(/^https?:\/\/[^\s'"]+$/, "must be an http(s) URL without spaces or quotes"),
    /** The published checksum of that file; a download that does not match is refused and removed. */
    checksum: ChecksumSchema,
  })
  .strict();

export const HostPrepSchema = z
  .object({
    /**
     * How the VM threads are taken away from the host's scheduler, timers, RCU and interrupts:
     * - `cmdline` (default, recommended on Debian/Ubuntu): isolcpus/nohz_full/rcu_nocbs/irqaffinity
     *   on the kernel command line through a GRUB drop-in. No daemon; the drift check reads back
     *   exactly the parameters it wrote from /proc/cmdline.
     * - `tuned`: tuned's cpu-partitioning profile with `isolated_cores=`. The usual way on
     *   RHEL/Fedora (where tuned's bootloader plugin and its profile package are at home); it also
     *   moves kernel threads and workqueues, but the command line it writes is tuned's, not ours.
     * Either needs a reboot to take effect.
     */
    isolation: z.enum(["cmdline", "tuned"]).default("cmdline"),
    /**
     * Cap on the wake-up latency of VM threads, in µs, as a per-thread PM QoS limit
     * (/sys/devices/system/cpu/cpuN/power/pm_qos_resume_latency_us): the idle governor then keeps
     * those threads out of deeper C-states. Default: no limit. 2 keeps C1 and forbids C1E and
     * deeper on most Intel server parts (see /sys/devices/system/cpu/cpu0/cpuidle/stateN/latency).
     */
    maxWakeLatencyUs: wholeNumberIn(1, 100000).optional(),
    /** Reboot the host when a kernel command-line change needs it. Default false: the need is
     * reported (an output, a warning) and the host is left running. */
    allowReboot: flag().default(false),
    /** The base cloud image every VM's OS disk is an overlay of; downloaded to
     * `libvirt.baseImage`. Absent: the image must already be there (checked, not fetched). */
    baseImage: BaseImageSchema.optional(),
  })
  .strict();
export type HostPrep = z.infer<typeof HostPrepSchema>;

/** What a host needs but the prepare config does not say: from the stack's `libvirt` settings. */
export interface HostLibvirt {
  uri: string;
  poolDir: string;
  /** Path of the base image on the hypervisor. */
  baseImage: string;
  bridge: string;
}
