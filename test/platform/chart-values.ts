// Every value the program passes to a chart must be a key of that chart version's own
// values.yaml (test/fixtures/charts/<chart>-<version>/): Helm ignores an unknown key silently, so
// a typo deploys the chart's default. Two kinds of exceptions, each listed with its reason:
// maps the chart documents as free-form (their keys are the user's), and keys values.yaml
// documents only in a comment (the templates read them; the defaults file leaves them unset).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { ChartRef } from "../../platform/versions";

export const CHART_FIXTURES = join(__dirname, "../fixtures/charts");

export function chartDefaults(chart: ChartRef): Record<string, unknown> {
  return parse(readFileSync(join(CHART_FIXTURES, `${chart.chart}-${chart.version}`, "values.yaml"), "utf8")) as Record<string, unknown>;
}

export function chartValuesText(chart: ChartRef): string {
  return readFileSync(join(CHART_FIXTURES, `${chart.chart}-${chart.version}`, "values.yaml"), "utf8");
}

/** Paths (dot-separated; `*` matches one segment) under which any key is accepted. */
export const FREE_FORM: Record<string, { path: string; why: string }[]> = {
  seaweedfs: [],
  "victoria-metrics-single": [{ path: "server.nodeSelector", why: "a pod nodeSelector: label keys are the cluster's" }],
  "victoria-logs-single": [{ path: "server.nodeSelector", why: "a pod nodeSelector: label keys are the cluster's" }],
  "victoria-metrics-agent": [{ path: "nodeSelector", why: "a pod nodeSelector" }],
  "victoria-metrics-alert": [
    { path: "server.nodeSelector", why: "a pod nodeSelector" },
    { path: "alertmanager.nodeSelector", why: "a pod nodeSelector" },
    { path: "server.remoteWrite", why: "vmalert -remoteWrite.* flags; values.yaml lists url, basicAuth.*, bearerToken* in a comment under the empty map" },
    { path: "server.remoteRead", why: "vmalert -remoteRead.* flags; listed in a comment under the empty map" },
  ],
  "victoria-logs-collector": [{ path: "nodeSelector", why: "a pod nodeSelector" }],
  temporal: [
    { path: "server.*.nodeSelector", why: "a pod nodeSelector" },
    { path: "admintools.nodeSelector", why: "a pod nodeSelector" },
    { path: "web.nodeSelector", why: "a pod nodeSelector" },
    { path: "server.config.persistence.datastores.default", why: "null in values.yaml; its sql: keys are documented in the comment below it" },
    { path: "server.config.persistence.datastores.visibility", why: "null in values.yaml; same structure as default (comment)" },
  ],
};

/** Keys values.yaml documents only as a commented-out line (`# nodePort: 30000`). */
export const COMMENTED: Record<string, { path: string; comment: RegExp }[]> = {
  "victoria-metrics-single": [{ path: "server.service.nodePort", comment: /^\s*# nodePort: 30000$/m }],
  "victoria-logs-single": [{ path: "server.service.nodePort", comment: /^\s*# nodePort: 30000$/m }],
};

const RESOURCE_KEYS = ["requests", "limits", "claims"];
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const matches = (pattern: string, path: string) => {
  const p = pattern.split(".");
  const q = path.split(".");
  return p.length === q.length && p.every((s, i) => s === "*" || s === q[i]);
};

/**
 * The dotted paths of `values` that `defaults` does not have. Maps are compared key by key;
 * a list or a scalar is a leaf (it replaces the default whole, as Helm merges).
 */
export function unknownKeys(chartName: string, values: Record<string, unknown>, defaults: Record<string, unknown>): string[] {
  const free = (FREE_FORM[chartName] ?? []).map((f) => f.path);
  const commented = (COMMENTED[chartName] ?? []).map((c) => c.path);
  const found: string[] = [];
  const walk = (v: Record<string, unknown>, d: unknown, prefix: string) => {
    for (const [key, value] of Object.entries(v)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (free.some((f) => matches(f, path)) || commented.includes(path)) continue;
      if (!isMap(d) || !(key in d)) {
        found.push(path);
        continue;
      }
      // `resources: {}` is a Kubernetes ResourceRequirements the chart hands to the pod whole
      // (the charts show requests/limits in a comment): its keys are Kubernetes', checked as such.
      if (key === "resources" && isMap(value) && isMap(d[key]) && Object.keys(d[key] as object).length === 0) {
        for (const k of Object.keys(value)) if (!RESOURCE_KEYS.includes(k)) found.push(`${path}.${k}`);
        continue;
      }
      if (isMap(value) && isMap(d[key])) walk(value, d[key], path);
      else if (isMap(value) && d[key] !== null && !isMap(d[key])) found.push(`${path} (a map where the chart has ${JSON.stringify(d[key])})`);
    }
  };
  walk(values, defaults, "");
  return found;
}
