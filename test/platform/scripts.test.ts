import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lakeSpec } from "../../components/DataLake";
import { platformPlacement } from "../../k3s/layouts";
import { bucketScript, hotTierScript, lifecycle } from "../../platform/datalake";
import { pinningCollectorScript } from "../../platform/victoria";
import type { VmPlacement } from "../../topology/placement";
import { requireTools } from "../tools";

const lock = JSON.parse(readFileSync(join(__dirname, "../../hosts/single.lock.json"), "utf8")) as { vms: VmPlacement[] };
const lake = lakeSpec("lake", { dataNodeName: "k3s-worker-data", placement: platformPlacement("single").lake, stagingExpiryDays: 5 });
const haveTools = requireTools("test/platform/scripts.test.ts", [["shellcheck", "shellcheck"]]);

function shellcheck(text: string, shell: "sh" | "bash"): string {
  const lint = spawnSync("shellcheck", ["-s", shell, "-"], { input: text, encoding: "utf8" });
  return lint.stdout + lint.stderr;
}

describe("platform scripts", () => {
  (haveTools ? it : it.skip)("the bucket and hot-tier scripts pass shellcheck as POSIX sh, the pinning collector as bash", () => {
    expect(shellcheck(bucketScript(lake), "sh")).toBe("");
    expect(shellcheck(hotTierScript(lake), "sh")).toBe("");
    expect(shellcheck(pinningCollectorScript("numa-01", lock.vms), "bash")).toBe("");
  });

  it("creates every zone's bucket, versions clean-gold only, and expires staging only", () => {
    const script = bucketScript(lake);
    for (const b of ["raw", "clean-bronze", "clean-silver", "clean-gold", "patterns", "archive", "staging", "models", "daily-prepared"]) expect(script).toContain(`ensure_bucket '${b}'`);
    expect(script.match(/put-bucket-versioning --bucket '([^']+)'/g)).toEqual(["put-bucket-versioning --bucket 'clean-gold'"]);
    expect(lifecycle(lake, "staging").Rules).toContainEqual(expect.objectContaining({ Expiration: { Days: 5 } }));
    expect(JSON.stringify(lifecycle(lake, "clean/gold"))).not.toContain("Expiration");
    expect(hotTierScript(lake)).toContain("fs.configure -locationPrefix=/buckets/staging/ -disk=ssd -apply");
  });

  describe("the pinning collector against a fake virsh", () => {
    const planned = lock.vms.filter((v) => v.name === "k3s-worker-data")[0];
    /** A virsh that prints what libvirt prints for `planned`, with `vcpu0` pinned to `cpu0`. */
    function run(cpu0: string, state = "running"): string {
      const dir = mkdtempSync(join(tmpdir(), "pin-"));
      const vcpus = planned.vcpupin.map((c, i) => ` ${i}      ${i === 0 ? cpu0 : c}`).join("\n");
      const emulator = planned.emulatorpin.length > 2 ? `${planned.emulatorpin[0]}-${planned.emulatorpin[1]},${planned.emulatorpin.slice(2).join(",")}` : planned.emulatorpin.join(",");
      writeFileSync(
        join(dir, "virsh"),
        `#!/bin/sh
shift 2
case "$1" in
  domstate) echo ${state} ;;
  vcpupin) printf ' VCPU   CPU Affinity\\n----------------------\\n%s\\n\\n' "${vcpus}" ;;
  emulatorpin) printf ' emulator: CPU Affinity\\n----------------------------------\\n        *: %s\\n' "${emulator}" ;;
  numatune) printf 'numa_mode      : strict\\nnuma_nodeset   : ${planned.numatune.nodeset.join(",")}\\n\\n' ;;
esac
`,
      );
      chmodSync(join(dir, "virsh"), 0o755);
      const script = pinningCollectorScript("numa-01", [planned]);
      execFileSync("bash", ["-c", script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, NUMA_K3S_TEXTFILE_DIR: dir } });
      return readFileSync(join(dir, "numa-k3s-pinning.prom"), "utf8");
    }
    const series = (text: string, source: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith("numa_k3s_pin{") && l.includes(`source="${source}"`))
        .map((l) => l.replace(`,source="${source}"`, ""))
        .sort();

    it("a domain pinned as planned publishes live series identical to the plan's (ranges normalized)", () => {
      const text = run(String(planned.vcpupin[0]));
      expect(series(text, "live")).toEqual(series(text, "plan"));
      expect(series(text, "plan")).toHaveLength(planned.vcpus + 2);
      expect(text).toContain(`numa_k3s_domain_running{host="numa-01",domain="k3s-worker-data"} 1`);
    });

    it("a vCPU pinned elsewhere shows as a live series the plan does not have", () => {
      const text = run("0-1");
      const live = series(text, "live");
      const plan = series(text, "plan");
      expect(live.filter((l) => !plan.includes(l))).toEqual([`numa_k3s_pin{host="numa-01",domain="k3s-worker-data",kind="vcpu",vcpu="0",cpuset="0,1"} 1`]);
    });

    it("a stopped domain publishes the plan and running 0, and no live series", () => {
      const text = run("0", "shut off");
      expect(series(text, "live")).toEqual([]);
      expect(text).toContain(`numa_k3s_domain_running{host="numa-01",domain="k3s-worker-data"} 0`);
    });
  });
});
