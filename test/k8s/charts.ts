// The pinned charts in full, and their expansion with the pinned Helm: what `npm run render` shows
// as a chart release (`kind: HelmRelease`: chart, version, values) becomes the objects Helm would
// make of it, so that the API server can judge them too.
//
// Where a chart comes from: no chart repository is reachable here, and the Go module proxy serves
// seaweedfs's module only at a later commit (chart 4.53.0, not the pinned 4.44.0). So each chart is
// read from its publisher's git repository at the commit test/fixtures/charts/SOURCES.txt names
// (the same commit its values.yaml fixture was copied from), found the way tools/build.sh finds
// upstream sources: a git directory under $NUMA_K3S_UPSTREAM_GIT (default /work/.mirror,
// `<owner>+<name>/repo`), else that commit alone fetched from github.com into the tools cache. A
// chart that cannot be had that way is left out, named, with the reason (under CI=true: a failure).
//
// Dependencies: `helm template` refuses a chart whose Chart.yaml names a dependency missing from
// charts/, even a disabled one, and `helm dependency build` needs the repositories. DEPENDENCIES
// names, for each one the pinned charts declare, the release put into charts/ (what `helm
// dependency build` would have fetched); a dependency the list does not name leaves its chart out.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { toolPath, toolsDir } from "../real-tools";

const ROOT = resolve(__dirname, "..", "..");
const SOURCES = join(ROOT, "test", "fixtures", "charts", "SOURCES.txt");

/** A chart (or a dependency) as a directory of a git repository at a commit. */
export interface ChartSource {
  chart: string;
  version: string;
  /** owner/name on GitHub. */
  repo: string;
  commit: string;
  path: string;
}

/**
 * The dependencies of the pinned charts, each at a release that satisfies the range its parent
 * declares (read from the parents' Chart.yaml at their SOURCES.txt commits, 2026-12-04):
 * - victoria-metrics-common "0.3.*" (oci://ghcr.io/victoriametrics/helm-charts), declared by the
 *   five VictoriaMetrics charts: 0.3.16, the one in the same repository at the same commit.
 * - vector "0.57.*" (https://helm.vector.dev), declared by victoria-logs-single under
 *   `condition: vector.enabled`, which the platform leaves off (Helm then renders nothing of it, but
 *   still wants it present): 0.57.0, vectordotdev/helm-charts' "Bump chart version to 0.57.0"
 *   commit (#572, 2026-06-03), the newest 0.57 there.
 */
export const DEPENDENCIES: ChartSource[] = [
  { chart: "victoria-metrics-common", version: "0.3.16", repo: "VictoriaMetrics/helm-charts", commit: "5823471ac22e94c4eda66ac80878ccfb68272e06", path: "charts/victoria-metrics-common" },
  { chart: "vector", version: "0.57.0", repo: "vectordotdev/helm-charts", commit: "1595b1771b67db0119056059d9203c65c2269ac9", path: "charts/vector" },
];

/** SOURCES.txt: `chart version owner/name@commit path [note]` per line. */
export function pinnedChartSources(): ChartSource[] {
  return readFileSync(SOURCES, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => {
      const [chart, version, at, path] = l.split(/\s+/);
      const [repo, commit] = at.split("@");
      return { chart, version, repo, commit, path };
    });
}

/** A git directory holding `commit`, or why there is none. */
function gitWith(source: ChartSource): { dir: string } | { missing: string } {
  const has = (dir: string) => existsSync(dir) && spawnSync("git", ["-C", dir, "cat-file", "-e", `${source.commit}^{commit}`]).status === 0;
  const [owner, name] = source.repo.split("/");
  const mirror = join(process.env.NUMA_K3S_UPSTREAM_GIT || "/work/.mirror", `${owner}+${name}`, "repo");
  if (has(mirror)) return { dir: mirror };
  const cached = join(toolsDir(), "src", `${owner}+${name}`);
  if (has(cached)) return { dir: cached };
  mkdirSync(cached, { recursive: true });
  spawnSync("git", ["init", "-q", cached]);
  const fetched = spawnSync("git", ["-C", cached, "fetch", "-q", "--depth", "1", `https://github.com/${source.repo}`, source.commit], { encoding: "utf8", timeout: 300_000 });
  if (has(cached)) return { dir: cached };
  return { missing: `${source.repo}@${source.commit.slice(0, 12)} is neither in ${mirror} nor fetchable from github.com (${(fetched.stderr || fetched.error?.message || "").trim().split("\n")[0]})` };
}

function extract(source: ChartSource, into: string): string | null {
  const git = gitWith(source);
  if ("missing" in git) return git.missing;
  mkdirSync(into, { recursive: true });
  const archive = spawnSync("git", ["-C", git.dir, "archive", `${source.commit}:${source.path}`], { maxBuffer: 256 * 1024 * 1024 });
  if (archive.status !== 0) return `git archive ${source.repo}@${source.commit.slice(0, 12)}:${source.path}: ${archive.stderr}`;
  const untar = spawnSync("tar", ["-x", "-C", into], { input: archive.stdout });
  if (untar.status !== 0) return `tar: ${untar.stderr}`;
  const meta = YAML.parse(readFileSync(join(into, "Chart.yaml"), "utf8"));
  if (meta.name !== source.chart || String(meta.version) !== source.version) return `${source.repo}@${source.commit.slice(0, 12)}:${source.path} is ${meta.name} ${meta.version}, not ${source.chart} ${source.version}`;
  return null;
}

/** Does `version` satisfy a Chart.yaml range of the forms the pinned charts use ("0.3.*", "1.2.3")? */
function satisfies(version: string, range: string): boolean {
  if (range.endsWith(".*")) return version.startsWith(range.slice(0, -1));
  return version === range.replace(/^[=v]/, "");
}

/** The chart, with its dependencies in charts/, in `dir`; or why it cannot be had. */
export function chartDirectory(chart: string, version: string, dir: string): { dir: string } | { leftOut: string } {
  const source = pinnedChartSources().find((s) => s.chart === chart && s.version === version);
  if (!source) return { leftOut: `${chart} ${version} is not in test/fixtures/charts/SOURCES.txt` };
  const into = join(dir, `${chart}-${version}`);
  if (existsSync(join(into, "Chart.yaml"))) return { dir: into };
  const why = extract(source, into);
  if (why) return { leftOut: why };
  const deps: { name: string; version: string }[] = YAML.parse(readFileSync(join(into, "Chart.yaml"), "utf8")).dependencies ?? [];
  for (const dep of deps) {
    if (existsSync(join(into, "charts", dep.name))) continue;
    const release = DEPENDENCIES.find((d) => d.chart === dep.name && satisfies(d.version, String(dep.version)));
    if (!release) return { leftOut: `its dependency ${dep.name} ${dep.version} is not in test/k8s/charts.ts DEPENDENCIES` };
    const depDir = join(dir, `${release.chart}-${release.version}`);
    if (!existsSync(join(depDir, "Chart.yaml"))) {
      const depWhy = extract(release, depDir);
      if (depWhy) return { leftOut: `its dependency ${dep.name}: ${depWhy}` };
    }
    cpSync(depDir, join(into, "charts", dep.name), { recursive: true });
  }
  return { dir: into };
}

/** A chart release as `npm run render` writes it (k8s/HelmRelease-*.yaml). */
export interface HelmReleaseDoc {
  kind: "HelmRelease";
  name: string;
  namespace: string;
  chart: string;
  version: string;
  repository: string;
  values: Record<string, unknown>;
}

export interface Expansion {
  /** One file per object, named `<Kind>-<name>.yaml`, in `dir`. */
  files: string[];
  dir: string;
}

/**
 * `helm template` of a release, as the kubernetes provider's helm.v4.Chart renders it
 * (pulumi-kubernetes v4.25.0 provider/pkg/provider/helm/v4/chart.go: DisableHooks = true,
 * IncludeCRDs = !skipCrds): the release name and namespace, the values, no hooks (seaweedfs'
 * pre-install `-sftp-secret` is one), CRDs included, and the Kubernetes version and API versions of
 * the cluster it is for (`apiVersions`: `kubectl api-versions` of that cluster). The pinned Helm,
 * with its home directories in `work` (nothing read or written in ~).
 */
export function expandRelease(release: HelmReleaseDoc, chartDir: string, work: string, kubeVersion: string, apiVersions: string[]): Expansion {
  const dir = join(work, `${release.namespace}-${release.name}`);
  mkdirSync(dir, { recursive: true });
  const values = join(dir, "values.yaml");
  writeFileSync(values, YAML.stringify(release.values, { version: "1.1" }));
  const home = join(work, "helm-home");
  const r = spawnSync(
    toolPath("helm"),
    ["template", release.name, chartDir, "--namespace", release.namespace, "--values", values, "--kube-version", kubeVersion, "--no-hooks", "--include-crds", ...apiVersions.flatMap((v) => ["--api-versions", v])],
    {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      env: { PATH: process.env.PATH, HOME: home, HELM_CACHE_HOME: join(home, "cache"), HELM_CONFIG_HOME: join(home, "config"), HELM_DATA_HOME: join(home, "data") },
    },
  );
  if (r.status !== 0) throw new Error(`helm template ${release.name} (${release.chart} ${release.version}): ${r.stderr || r.error?.message}`);
  const files: string[] = [];
  // Each document as Helm wrote it (re-serialising could change how a YAML 1.1 reader takes it).
  for (const text of r.stdout.split(/^---[ \t]*$/m)) {
    const object = YAML.parse(text, { version: "1.1" }) as { kind?: string; metadata?: { name?: string } } | null;
    if (!object?.kind) continue;
    const file = join(dir, `${object.kind}-${object.metadata?.name ?? "unnamed"}.yaml`.replace(/[^A-Za-z0-9_.-]/g, "_"));
    if (files.includes(file)) throw new Error(`helm template ${release.name}: two ${object.kind} objects named ${object.metadata?.name}`);
    writeFileSync(file, text.trimStart());
    files.push(file);
  }
  return { files, dir };
}

/** Every file of a directory, sorted. */
export function filesIn(dir: string): string[] {
  return readdirSync(dir).sort().map((f) => join(dir, f));
}
