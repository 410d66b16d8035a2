// vmagent finds the model servers with the scrape configuration the pinned victoria-metrics-agent
// chart ships (test/fixtures/charts/victoria-metrics-agent-0.46.0/values.yaml, a copy of the pinned chart's, job
// kubernetes-pods): this evaluates that job's relabel rules on the targets Kubernetes pod discovery
// would produce for each model pod (one per container port, init containers flagged), so the
// VictoriaStack needs no SLM-specific scrape config.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { deploymentOf } from "../../slm/manifests";
import { LAYOUT_NAMES, defaultConfig, slmVms } from "./helpers";

type Rule = { action?: string; source_labels?: string[]; regex?: string | boolean; target_label?: string; replacement?: string; separator?: string };
const values = YAML.parse(readFileSync(join(__dirname, "../fixtures/charts/victoria-metrics-agent-0.46.0/values.yaml"), "utf8")) as {
  config: { scrape_configs: { job_name: string; kubernetes_sd_configs?: { role: string }[]; relabel_configs?: Rule[] }[] };
};
const podsJob = values.config.scrape_configs.find((j) => j.job_name === "kubernetes-pods")!;

/** Prometheus label name of a Kubernetes label or annotation key (every other character is _). */
const metaName = (key: string) => key.replace(/[^a-zA-Z0-9_]/g, "_");

/** The relabel actions that job uses: drop, keep, keep_if_equal, replace (labelmap is irrelevant here). */
function relabel(labels: Record<string, string>, rules: Rule[]): Record<string, string> | null {
  const out = { ...labels };
  for (const r of rules) {
    const values = (r.source_labels ?? []).map((l) => out[l] ?? "");
    const joined = values.join(r.separator ?? ";");
    const re = new RegExp(`^(?:${String(r.regex ?? "(.*)")})$`);
    switch (r.action ?? "replace") {
      case "drop":
        if (re.test(joined)) return null;
        break;
      case "keep":
        if (!re.test(joined)) return null;
        break;
      case "keep_if_equal":
        if (new Set(values).size !== 1) return null;
        break;
      case "replace": {
        const m = re.exec(joined);
        if (m && r.target_label) out[r.target_label] = (r.replacement ?? "$1").replace(/\$\{?(\d)\}?/g, (_, i) => m[Number(i)] ?? "");
        break;
      }
    }
  }
  return out;
}

describe("vmagent scrapes every model server with the chart's default kubernetes-pods job", () => {
  it("the job is pod discovery over annotations", () => {
    expect(podsJob.kubernetes_sd_configs).toEqual([{ role: "pod" }]);
  });

  it.each(LAYOUT_NAMES)("%s: one target per model, the server's port 8080 and /metrics, never the init container", (layout) => {
    const cfg = defaultConfig(layout);
    const vms = slmVms(layout);
    for (const model of cfg.models) {
      const template = deploymentOf(model, vms.find((v) => v.placement.name === model.vm)!, cfg).spec!.template;
      const annotations = Object.fromEntries(Object.entries(template.metadata!.annotations!).map(([k, v]) => [`__meta_kubernetes_pod_annotation_${metaName(k)}`, v]));
      const pod = template.spec!;
      // Pod discovery: one target per declared container port; a container without ports still
      // yields one target (port unset), as Prometheus' pod role does.
      const targets = [...pod.initContainers!.map((c) => ({ c, init: "true" })), ...pod.containers.map((c) => ({ c, init: "false" }))].flatMap(({ c, init }) =>
        (c.ports?.length ? c.ports : [undefined]).map((p) => ({
          __address__: p ? `10.42.0.7:${p.containerPort}` : "10.42.0.7",
          __metrics_path__: "/metrics",
          __meta_kubernetes_pod_container_init: init,
          __meta_kubernetes_pod_container_name: c.name,
          __meta_kubernetes_pod_container_port_number: p ? String(p.containerPort) : "",
          ...annotations,
        })),
      );
      const kept = targets.map((t) => relabel(t, podsJob.relabel_configs!)).filter((t): t is Record<string, string> => t !== null);
      expect(kept.map((t) => [t.__meta_kubernetes_pod_container_name, t.__address__, t.__metrics_path__])).toEqual([["llama-server", "10.42.0.7:8080", "/metrics"]]);
    }
  });
});
