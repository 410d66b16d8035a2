// jest globalTeardown: stops the libvirtd that test/global-setup.ts started, and nothing else (a
// daemon that was already answering belongs to someone else). jest gives globalSetup and
// globalTeardown one global object, which is how the flag gets here.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { STARTED_LIBVIRTD } from "./global-setup";

export default function globalTeardown(): void {
  if ((globalThis as Record<string, unknown>)[STARTED_LIBVIRTD] !== true) return;
  spawnSync("bash", [join(__dirname, "..", ".ci", "libvirtd.sh"), "stop"], { stdio: "inherit", timeout: 60_000 });
}
