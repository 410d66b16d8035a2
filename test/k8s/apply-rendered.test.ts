// Issue 20, test 1: the API server takes every object we render. For every shipped stack,
// `npm run render` writes the program's Kubernetes objects to k8s/; each is applied for real
// (server-side apply, namespaces first) to a real kube-apiserver of the pinned Kubernetes
// (test/k8s/control-plane.ts), and read back. Chart releases (k8s/HelmRelease-*.yaml: chart +
// values) are expanded with the pinned Helm from the charts' own source at their pinned versions
// (test/k8s/charts.ts) and applied the same way. A rejection names the file and what the API
// server said; a chart that cannot be had is named in the output (and fails under CI=true).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import YAML from "yaml";
import { KUBERNETES_VERSION } from "../../k3s/version";
import { requireRealTools } from "../real-tools";
import { requireTools } from "../tools";
import { shippedStacks } from "../engine/pulumi-cli";
import { ControlPlane, CONTROL_PLANE_TOOLS, startControlPlane } from "./control-plane";
import { HelmReleaseDoc, chartDirectory, expandRelease } from "./charts";

const ROOT = resolve(__dirname, "..", "..");
const ready = requireRealTools("test/k8s/apply-rendered.test.ts", [...CONTROL_PLANE_TOOLS, "helm"]) && requireTools("test/k8s/apply-rendered.test.ts", [["openssl", "openssl"], ["git", "git"]]);
// An API server start, a render and a few hundred objects on 2 shared cores: a minute when quiet.
// Only a guard against a hang; nothing waits on time.
const GUARD_MS = 15 * 60_000;

interface Rejection {
  file: string;
  message: string;
}

/** Applies `files` server-side; on a failure, each file alone, so that each rejection names its file. */
function applyAll(cp: ControlPlane, files: string[], namespace?: string): Rejection[] {
  if (files.length === 0) return [];
  const ns = namespace ? ["--namespace", namespace] : [];
  const apply = (fs: string[]) => cp.kubectl(["apply", "--server-side", "--field-manager=numa-k3s-test", ...ns, ...fs.flatMap((f) => ["-f", f])]);
  if (apply(files).status === 0) return [];
  return files.flatMap((file) => {
    const r = apply([file]);
    return r.status === 0 ? [] : [{ file, message: (r.stderr || r.stdout).trim() }];
  });
}

/** `kind/namespace/name` of every object the API server holds for `files`. */
function readBack(cp: ControlPlane, files: string[], namespace?: string): string[] {
  if (files.length === 0) return [];
  // A missing object is the comparison's to report, after the rejection that explains it.
  const r = cp.kubectl(["get", "--ignore-not-found", ...(namespace ? ["--namespace", namespace] : []), ...files.flatMap((f) => ["-f", f]), "-o", "json"]);
  if (r.status !== 0) throw new Error(`kubectl get: ${r.stderr}`);
  const list = JSON.parse(r.stdout) as { items?: K8sObject[] } & K8sObject;
  return (list.items ?? [list]).map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
}

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
}
// kubectl and the API server read YAML 1.1: so do we, to see what they see.
const readObject = (file: string) => YAML.parse(readFileSync(file, "utf8"), { version: "1.1" });

(ready ? describe : describe.skip)("the API server takes every object we render", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "numa-k3s-apply-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test.each(shippedStacks())(
    "stack %s: every rendered object and every chart's objects are applied, 0 rejections",
    async (stack) => {
      const out = join(work, "out", stack);
      const render = spawnSync("npm", ["run", "--silent", "render", "--", "--stack", stack, "--out", out], { cwd: ROOT, encoding: "utf8", timeout: GUARD_MS });
      if (render.status !== 0) throw new Error(`npm run render -- --stack ${stack}: ${render.stderr}`);
      const k8sDir = join(out, "k8s");
      const rendered = readdirSync(k8sDir).sort().map((f) => join(k8sDir, f));
      const releases = rendered.filter((f) => readObject(f).kind === "HelmRelease");
      const objects = rendered.filter((f) => !releases.includes(f));
      const namespaces = objects.filter((f) => readObject(f).kind === "Namespace");
      expect(namespaces.length).toBeGreaterThan(0);
      expect(releases.length).toBeGreaterThan(0);

      const cp = await startControlPlane({ name: `apply-${stack}` });
      try {
        // What the server will say of an object: a namespaced kind in its namespace (or the one it
        // is applied to), a cluster-scoped one in none.
        const resources = JSON.parse(cp.kubectl(["api-resources", "-o", "json"]).stdout) as { resources: { kind: string; namespaced: boolean }[] };
        const clusterScoped = new Set(resources.resources.filter((r) => !r.namespaced).map((r) => r.kind));
        const identity = (o: K8sObject, namespace?: string) => `${o.kind}/${clusterScoped.has(o.kind) ? "" : (o.metadata.namespace ?? namespace ?? "")}/${o.metadata.name}`;
        const rejections = [...applyAll(cp, namespaces), ...applyAll(cp, objects.filter((f) => !namespaces.includes(f)))].map((r) => ({ ...r, file: `k8s/${basename(r.file)}` }));
        const wanted = objects.map((f) => identity(readObject(f)));
        const held = readBack(cp, objects);

        const apiVersions = cp.kubectl(["api-versions"]).stdout.split("\n").filter(Boolean);
        const leftOut: string[] = [];
        const expanded: string[] = [];
        for (const file of releases) {
          const release = readObject(file) as HelmReleaseDoc;
          const chart = chartDirectory(release.chart, release.version, join(work, "charts"));
          if ("leftOut" in chart) {
            leftOut.push(`${basename(file)} (chart ${release.chart} ${release.version}): ${chart.leftOut}`);
            continue;
          }
          const expansion = expandRelease(release, chart.dir, join(work, "expanded", stack), KUBERNETES_VERSION, apiVersions);
          expect(expansion.files.length).toBeGreaterThan(0);
          rejections.push(...applyAll(cp, expansion.files, release.namespace).map((r) => ({ ...r, file: `${basename(file)} (chart ${release.chart} ${release.version}) ${basename(r.file)}` })));
          wanted.push(...expansion.files.map((f) => identity(readObject(f), release.namespace)));
          held.push(...readBack(cp, expansion.files, release.namespace));
          expanded.push(`${release.chart} ${release.version} (${expansion.files.length} objects)`);
        }

        console.log(
          `stack ${stack}: ${objects.length} rendered objects and ${wanted.length - objects.length} from ${expanded.length} charts applied to kube-apiserver ${KUBERNETES_VERSION}` +
            (expanded.length ? `; charts: ${expanded.join(", ")}` : "") +
            (leftOut.length ? `; left out: ${leftOut.join("; ")}` : ""),
        );
        if (leftOut.length && process.env.CI === "true") throw new Error(`charts left out (CI runs every chart):\n${leftOut.join("\n")}`);
        expect(rejections.map((r) => `${r.file}: ${r.message}`)).toEqual([]);
        // Applied for real: the API server holds each object, under the name it was given.
        expect(held.sort()).toEqual(wanted.sort());
      } finally {
        await cp.stop();
      }
    },
    GUARD_MS,
  );
});
