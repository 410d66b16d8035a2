// The shipped stack files hold placeholders where a user's own values go: documentation addresses
// (RFC 5737), the example public key, a made-up disk name. They render and preview (with a warning
// each), so that a new user sees the whole program; an up refuses them, since it would dial
// documentation addresses and hand a VM a disk that does not exist.
import { StackConfig } from "./config";

/** RFC 5737's documentation ranges: no host of a real network is there. */
const DOCUMENTATION = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./];
/** RFC 7042's documentation MACs (00-00-5E-00-53-00 to -FF): no NIC of a real network has one. */
const DOCUMENTATION_MAC = /^00:00:5e:00:53:[0-9a-f]{2}$/;
const PLACEHOLDER_TEXT = /replace/i;

/** An address from the documentation ranges: a placeholder, never a host of a real network. */
export const isDocumentation = (address: string) => DOCUMENTATION.some((r) => r.test(address));
const RFC5737 = "a documentation address (RFC 5737)";
/** The shipped stand-in for a lake disk's name (an up refuses it). */
export const isPlaceholderDevice = (device: string) => PLACEHOLDER_TEXT.test(device);

/** One line per placeholder: `numa-k3s:KEY = VALUE: why`. */
export function placeholdersIn(cfg: StackConfig): string[] {
  const found: string[] = [];
  const say = (key: string, value: string, why: string) => found.push(`numa-k3s:${key} = ${JSON.stringify(value)}: ${why}`);
  cfg.hosts.forEach((h, i) => {
    if (isDocumentation(h.ssh.address)) say(`hosts[${i}].ssh.address`, h.ssh.address, `${RFC5737}: set the address your hypervisor ${h.name}'s sshd answers at`);
  });
  cfg.vms.forEach((vm, i) => {
    if (isDocumentation(vm.address)) say(`vms[${i}].address`, vm.address, `${RFC5737}: set ${vm.name}'s address on your LAN`);
    if (vm.disks.lakeDevice && isPlaceholderDevice(vm.disks.lakeDevice)) say(`vms[${i}].disks.lakeDevice`, vm.disks.lakeDevice, "a placeholder: set your lake disk's /dev/disk/by-id/ name (ls -l /dev/disk/by-id/ on the host)");
  });
  if (isDocumentation(cfg.network.gateway)) say("network.gateway", cfg.network.gateway, `${RFC5737}: set your LAN's router`);
  cfg.network.nameservers.forEach((ns, i) => {
    if (isDocumentation(ns)) say(`network.nameservers[${i}]`, ns, `${RFC5737}: set your LAN's DNS resolver`);
  });
  cfg.admin.sshAuthorizedKeys.forEach((key, i) => {
    if (PLACEHOLDER_TEXT.test(key)) say(`admin.sshAuthorizedKeys[${i}]`, key.slice(0, 40) + "...", "the example key: set your own public key");
  });
  if (PLACEHOLDER_TEXT.test(cfg.platform.temporal.workerImage))
    say("platform.temporal.workerImage", cfg.platform.temporal.workerImage, "a placeholder: set your Temporal worker's image (registry/name:tag)");
  const checksums = ((cfg.slm ?? {}) as { checksums?: Record<string, unknown> }).checksums ?? {};
  // One line for all of them: the same fix, and seven lines would bury the others.
  const zeroed = Object.entries(checksums).filter(([, sum]) => typeof sum === "string" && /^0+$/.test(sum)).map(([model]) => model);
  if (zeroed.length > 0)
    found.push(`numa-k3s:slm.checksums: ${zeroed.join(", ")}: all-zero placeholders: set each to the sha256 of the model's GGUF (sha256sum FILE)`);
  const server = cfg.k3s.server;
  if (server && isDocumentation(server.address)) say("k3s.server.address", server.address, `${RFC5737}: set the address the K3s server answers at on your LAN`);
  if (server?.lima && isDocumentation(server.lima.mac.address)) say("k3s.server.lima.mac.address", server.lima.mac.address, `${RFC5737}: set the address your Mac's sshd answers at`);
  if (server?.lima && DOCUMENTATION_MAC.test(server.lima.macAddress))
    say("k3s.server.lima.macAddress", server.lima.macAddress, "a documentation MAC (RFC 7042): set the MAC of the Lima VM's bridged NIC that your DHCP server reserves k3s.server.address for");
  return found;
}
