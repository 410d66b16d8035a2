// Issue 20, test 5: the Kubernetes provider for real. The pinned Pulumi CLI and kubernetes provider
// 4.25.0 (test/engine/pulumi-cli.ts) run `pulumi up` of the platform's own components (DataLake,
// VictoriaStack, TemporalCluster, SlmWorkerPool) against a real kube-apiserver with its
// controllers (test/k8s/control-plane.ts), from the inputs the shipped `single` stack gives them
// (test/k8s/fixtures/platform-up: the program's platformOf and modelServers, a provider on the
// test's kubeconfig). The charts are the pinned ones, rendered by the provider from their source
// (test/k8s/charts.ts), not left out.
// - every object the engine says it made is held by the API server (kubectl get), and the
//   components' own objects are exactly the ones `npm run render` shows for that stack;
// - a second `pulumi up --expect-no-changes` passes;
// - `pulumi destroy` removes every one of them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { CHARTS } from "../../platform/versions";
import { requireRealTools } from "../real-tools";
import { requireTools } from "../tools";
import { ENGINE_TOOLS, Engine, startEngine, succeeded } from "../engine/pulumi-cli";
import { CONTROL_PLANE_TOOLS, ControlPlane, startControlPlane } from "./control-plane";
import { chartDirectory } from "./charts";

const ROOT = resolve(__dirname, "..", "..");
const STACK = "single";
const FIXTURE = "test/k8s/fixtures/platform-up";
const ready = requireRealTools("test/k8s/platform-up.test.ts", [...CONTROL_PLANE_TOOLS, ...ENGINE_TOOLS]) && requireTools("test/k8s/platform-up.test.ts", [["openssl", "openssl"], ["git", "git"]]);
// Three engine runs of the whole platform under ts-node on 2 shared cores: minutes each when the
// machine is busy. Only a guard against a hang; everything waits for states.
const GUARD_MS = 40 * 60_000;

interface StateResource {
  urn: string;
  type: string;
  custom?: boolean;
  parent?: string;
  outputs?: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } };
}

const identity = (o: { kind?: string; metadata?: { name?: string; namespace?: string } }) => `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;

(ready ? describe : describe.skip)("pulumi up of the platform with the real kubernetes provider", () => {
  let cp: ControlPlane;
  let engine: Engine;
  let work: string;
  const charts: Record<string, string> = {};
  const run = (what: string, args: string[]) => succeeded(what, engine.pulumi([...args, "--cwd", join(engine.dir, FIXTURE), "--stack", "test"]));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "numa-k3s-platform-up-"));
    for (const c of Object.values(CHARTS)) {
      const chart = chartDirectory(c.chart, c.version, join(work, "charts"));
      if ("leftOut" in chart) throw new Error(`chart ${c.chart} ${c.version} cannot be had: ${chart.leftOut}`);
      charts[`${c.chart}@${c.version}`] = chart.dir;
    }
    cp = await startControlPlane({ name: "platform-up", controllers: true });
    engine = startEngine("numa-k3s-platform-up");
    succeeded("pulumi stack init", engine.pulumi(["stack", "init", "test", "--cwd", join(engine.dir, FIXTURE)]));
    run("pulumi config set stack", ["config", "set", "stack", STACK]);
    run("pulumi config set kubeconfigPath", ["config", "set", "kubeconfigPath", cp.kubeconfig]);
    run("pulumi config set charts", ["config", "set", "charts", JSON.stringify(charts)]);
  }, GUARD_MS);
  afterAll(async () => {
    engine?.cleanup();
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, GUARD_MS);

  /** The Kubernetes objects in the stack's state: the components' own, and those of each chart. */
  function stateObjects(): { own: StateResource[]; ofCharts: Map<string, StateResource[]> } {
    const state = JSON.parse(run("pulumi stack export", ["stack", "export"]).stdout) as { deployment: { resources?: StateResource[] } };
    const resources = state.deployment.resources ?? [];
    const charts = resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
    const objects = resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers:"));
    const ofCharts = new Map(charts.map((c) => [c.urn.split("::").pop()!, objects.filter((o) => o.parent === c.urn)]));
    const own = objects.filter((o) => !charts.some((c) => c.urn === o.parent));
    return { own, ofCharts };
  }

  /** `kind/namespace/name` of each of `objects` the API server holds. */
  function held(objects: StateResource[]): string[] {
    const list = join(work, "held.yaml");
    writeFileSync(list, objects.map((o) => YAML.stringify({ apiVersion: o.outputs!.apiVersion, kind: o.outputs!.kind, metadata: { name: o.outputs!.metadata!.name, namespace: o.outputs!.metadata!.namespace } })).join("---\n"));
    const r = cp.kubectl(["get", "--ignore-not-found", "-f", list, "-o", "json"]);
    if (r.status !== 0) throw new Error(`kubectl get: ${r.stderr}`);
    if (r.stdout.trim() === "") return [];
    const got = JSON.parse(r.stdout) as { items?: StateResource["outputs"][] } & StateResource["outputs"];
    return (got!.items ?? [got]).map((o) => identity(o!));
  }

  let made: StateResource[] = [];

  test(
    "pulumi up creates every object for real: the API server holds each, the components' own are the ones render shows",
    () => {
      run("pulumi up", ["up", "--yes", "--skip-preview"]);
      const { own, ofCharts } = stateObjects();
      made = [...own, ...[...ofCharts.values()].flat()];
      expect(held(made).sort()).toEqual(made.map((o) => identity(o.outputs!)).sort());

      // The same objects as `npm run render` of that stack writes to k8s/ (chart releases aside).
      const out = join(work, "render");
      const render = spawnSync("npm", ["run", "--silent", "render", "--", "--stack", STACK, "--out", out], { cwd: ROOT, encoding: "utf8", timeout: GUARD_MS });
      if (render.status !== 0) throw new Error(`npm run render: ${render.stderr}`);
      const rendered = readdirSync(join(out, "k8s"))
        .map((f) => YAML.parse(readFileSync(join(out, "k8s", f), "utf8"), { version: "1.1" }))
        .filter((d) => d.kind !== "HelmRelease");
      expect(own.map((o) => identity(o.outputs!)).sort()).toEqual(rendered.map(identity).sort());

      // Every chart of the platform, expanded by the provider from its pinned source.
      expect([...ofCharts.keys()].sort()).toHaveLength(Object.keys(CHARTS).length);
      for (const [chart, children] of ofCharts) expect([chart, children.length > 0]).toEqual([chart, true]);
      console.log(`pulumi up of ${STACK}'s platform: ${own.length} objects of the components, ${made.length - own.length} of ${ofCharts.size} charts (${[...ofCharts].map(([c, ch]) => `${c} ${ch.length}`).join(", ")})`);
    },
    GUARD_MS,
  );

  test(
    "a second pulumi up changes nothing",
    () => {
      expect(made.length).toBeGreaterThan(0);
      run("pulumi up --expect-no-changes", ["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    },
    GUARD_MS,
  );

  test(
    "pulumi destroy removes every object",
    () => {
      expect(made.length).toBeGreaterThan(0);
      run("pulumi destroy", ["destroy", "--yes", "--skip-preview"]);
      // Deleted objects may wait for their dependents (pods, ReplicaSets) to go first: wait for
      // that state; the guard only ends a hang, and then the comparison says what is left.
      const guard = Date.now() + 10 * 60_000;
      let left = held(made);
      while (left.length > 0 && Date.now() < guard) {
        spawnSync("sleep", ["1"]);
        left = held(made);
      }
      expect(left).toEqual([]);
    },
    GUARD_MS,
  );
});
