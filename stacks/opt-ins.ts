// What a stack allows that could destroy data, said as a warning at every render, preview and up,
// so that an opt-in left in a stack file is seen, not forgotten.
import { StackConfig } from "./config";

/** One line per lake the stack lets its guest format: `numa-k3s:KEY = true: VM, device, what it allows`. */
export function formatOptIns(cfg: StackConfig): string[] {
  return cfg.vms.flatMap((vm, i) =>
    vm.disks.lakeFormat && vm.disks.lakeDevice
      ? [
          `numa-k3s:vms[${i}].disks.lakeFormat = true: VM ${vm.name} may format its lake ${vm.disks.lakeDevice} (ext4) at boot when the disk reads as blank (no signature, every sampled byte zero); remove the key once the lake holds its filesystem`,
        ]
      : [],
  );
}
