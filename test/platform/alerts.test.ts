// Every series an alert reads is produced by something we run: each metric name in each rule's
// expression is in the output of Debian's real node_exporter, started with the arguments NumaHost
// gives it (hostprep/node-exporter.ts) against a fake sysfs of a two-node host, with the real
// pinning collector's file in its textfile directory (the collector run by bash, with virsh
// against libvirt's test driver). The k8s nodes' node-exporter (the DaemonSet's image, v1.9.1) is
// not run here: its filesystem collector has the same metric names as the package's.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NODE_EXPORTER_ARGS, NODE_EXPORTER_FILES, NODE_EXPORTER_VERSIONS, nodeExporterScript } from "../../hostprep/node-exporter";
import { platformPlacement } from "../../k3s/layouts";
import { alertRules, pinningCollectorScript } from "../../platform/victoria";
import type { VmPlacement } from "../../topology/placement";
import { victoriaSpec } from "../../components/VictoriaStack";
import { requireTools } from "../tools";

const EXPORTER = "/usr/bin/prometheus-node-exporter";
const ready = requireTools("test/platform/alerts.test.ts", [
  [EXPORTER, "prometheus-node-exporter"],
  ["virsh", "libvirt-clients"],
]);
const lock = JSON.parse(readFileSync(join(__dirname, "../../hosts/single.lock.json"), "utf8")) as { vms: VmPlacement[] };

const PROMQL_WORDS = new Set(["rate", "irate", "increase", "sum", "avg", "max", "min", "count", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"]);

/** The metric names an expression reads: identifiers outside label matchers, ranges and function calls. */
export function metricNames(expr: string): string[] {
  const bare = expr.replace(/\{[^}]*\}/g, " ").replace(/\[[^\]]*\]/g, " ").replace(/\b(on|ignoring|by|without|group_left|group_right)\s*\([^)]*\)/g, " ");
  return [...new Set([...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)].filter((m) => !m[2] && !PROMQL_WORDS.has(m[1])).map((m) => m[1]))];
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A two-node host's sysfs as meminfo_numa reads it. */
function fakeSysfs(dir: string): string {
  for (const n of [0, 1]) {
    const d = join(dir, "sys/devices/system/node", `node${n}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "meminfo"), `Node ${n} MemTotal:       132000000 kB\nNode ${n} MemFree:        1000000 kB\nNode ${n} HugePages_Total:  0\n`);
    writeFileSync(join(d, "numastat"), "numa_hit 1000\nnuma_miss 7\nnuma_foreign 7\ninterleave_hit 1\nlocal_node 1000\nother_node 7\n");
  }
  return join(dir, "sys");
}

(ready ? describe : describe.skip)("alerts read only series something produces", () => {
  let dir: string;
  let exposed: Set<string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "numa-k3s-alerts-"));
    const textfiles = join(dir, "textfile");
    mkdirSync(textfiles);
    // The real collector, as the timer runs it; the planned domains are not defined in the test
    // driver, so it publishes the plan's pins and running 0 for each.
    const collector = spawnSync("bash", ["-c", pinningCollectorScript("numa-01", lock.vms, "test:///default")], { env: { ...process.env, NUMA_K3S_TEXTFILE_DIR: textfiles }, encoding: "utf8" });
    expect(collector.stderr).toBe("");
    const port = await freePort();
    const args = [...NODE_EXPORTER_ARGS.map((a) => (a.startsWith("--collector.textfile.directory=") ? `--collector.textfile.directory=${textfiles}` : a)), `--path.sysfs=${fakeSysfs(dir)}`, `--web.listen-address=127.0.0.1:${port}`];
    const exporter = spawn(EXPORTER, args, { stdio: "ignore" });
    try {
      // Wait for the exporter to answer (a guard deadline only; it answers in well under a second).
      let text = "";
      for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => (r.ok ? r.text() : ""), () => "");
        if (text.includes("node_exporter_build_info")) break;
      }
      exposed = new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]));
    } finally {
      exporter.kill();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the parser finds the names an expression reads, not its functions and labels", () => {
    expect(metricNames(`rate(a_total{job="x"}[10m]) / on(host) b > 0.1 unless on(instance) c == 1`).sort()).toEqual(["a_total", "b", "c"]);
  });

  it.each(alertRules(victoriaSpec("monitoring", { placement: platformPlacement("single").platform, hypervisors: [{ name: "numa-01", address: "192.0.2.10" }] })).map((r) => [r.alert, r.expr] as const))(
    "%s",
    (_alert, expr) => {
      const names = metricNames(expr);
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !exposed.has(n))).toEqual([]);
    },
  );
});

describe("the hypervisor's monitoring setup (hostprep/node-exporter.ts)", () => {
  const script = nodeExporterScript("numa-01", lock.vms, "qemu:///system");
  (requireTools("test/platform/alerts.test.ts", [["shellcheck", "shellcheck"]]) ? it : it.skip)("passes bash -n and shellcheck", () => {
    expect(spawnSync("bash", ["-n"], { input: script, encoding: "utf8" }).stderr).toBe("");
    const lint = spawnSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" });
    expect(lint.stdout).toBe("");
  });
  it("installs the pinned package version only, adds our arguments by a drop-in, writes only the files it lists", () => {
    for (const v of Object.values(NODE_EXPORTER_VERSIONS)) expect(script).toContain(v);
    expect(script).toContain('apt-get install -y -q --no-install-recommends "prometheus-node-exporter=$want"');
    for (const a of NODE_EXPORTER_ARGS) expect(script).toContain(a);
    const written = [...script.matchAll(/^(?:if )?put '([^']+)'/gm)].map((m) => m[1]);
    expect(written.sort()).toEqual([...NODE_EXPORTER_FILES].sort());
  });
});
