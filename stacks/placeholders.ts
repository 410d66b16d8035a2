// The shipped stack files hold placeholders where a user's own values go: documentation addresses
// (RFC 5737), the example public key, a made-up disk name. They render and preview (with a warning
// each), so that a new user sees the whole program; an up refuses them, since it would dial
// documentation addresses and hand a VM a disk that does not exist.
import { StackConfig } from "./config";

/** RFC 5737's documentation ranges: no host of a real network is there. */
const DOCUMENTATION = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./];
const PLACEHOLDER_TEXT = /replace/i;

const isDocumentation = (address: string) => DOCUMENTATION.some((r) => r.test(address));

/** One line per placeholder: `numa-k3s:KEY = VALUE: why`. */
export function placeholdersIn(cfg: StackConfig): string[] {
  const found: string[] = [];
  const say = (key: string, value: string, why: string) => found.push(`numa-k3s:${key} = ${JSON.stringify(value)}: ${why}`);
  cfg.hosts.forEach((h, i) => {
    if (isDocumentation(h.ssh.address)) say(`hosts[${i}].ssh.address`, h.ssh.address, "a documentation address (RFC 5737): set your hypervisor's");
  });
  cfg.vms.forEach((vm, i) => {
    if (isDocumentation(vm.address)) say(`vms[${i}].address`, vm.address, "a documentation address (RFC 5737): set the VM's address on your bridge");
    if (vm.disks.lakeDevice && PLACEHOLDER_TEXT.test(vm.disks.lakeDevice)) say(`vms[${i}].disks.lakeDevice`, vm.disks.lakeDevice, "a placeholder: set your lake disk's /dev/disk/by-id/ name (ls -l /dev/disk/by-id/ on the host)");
  });
  cfg.admin.sshAuthorizedKeys.forEach((key, i) => {
    if (PLACEHOLDER_TEXT.test(key)) say(`admin.sshAuthorizedKeys[${i}]`, key.slice(0, 40) + "...", "the example key: set your own public key");
  });
  if (PLACEHOLDER_TEXT.test(cfg.platform.temporal.workerImage))
    say("platform.temporal.workerImage", cfg.platform.temporal.workerImage, "a placeholder: set your Temporal worker's image (registry/name:tag)");
  const checksums = ((cfg.slm ?? {}) as { checksums?: Record<string, unknown> }).checksums ?? {};
  for (const [model, sum] of Object.entries(checksums))
    if (typeof sum === "string" && /^0+$/.test(sum)) say(`slm.checksums.${model}`, `${sum.slice(0, 8)}...`, "a placeholder: set the sha256 of the model's GGUF");
  const server = cfg.k3s.server;
  if (server && isDocumentation(server.address)) say("k3s.server.address", server.address, "a documentation address (RFC 5737): set the K3s server's");
  if (server?.lima && isDocumentation(server.lima.mac.address)) say("k3s.server.lima.mac.address", server.lima.mac.address, "a documentation address (RFC 5737): set your Mac's");
  return found;
}
