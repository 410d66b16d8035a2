import { parse } from "yaml";
import { lakeSpec } from "../../components/DataLake";
import { temporalSpec } from "../../components/TemporalCluster";
import { victoriaReleases, victoriaSpec } from "../../components/VictoriaStack";
import { LAYOUTS } from "../../k3s/layouts";
import { seaweedfsValues } from "../../platform/datalake";
import { platformPlacement } from "../../k3s/layouts";
import { temporalValues } from "../../platform/temporal";
import { CHARTS, ChartRef } from "../../platform/versions";
import { COMMENTED, FREE_FORM, chartDefaults, chartValuesText, unknownKeys } from "./chart-values";

const releasesFor = (layout: (typeof LAYOUTS)[number]): { chart: ChartRef; values: Record<string, unknown> }[] => {
  const p = platformPlacement(layout);
  const lake = lakeSpec("lake", { dataNodeName: "k3s-worker-data", placement: p.lake });
  const noHot = lakeSpec("lake", { dataNodeName: "k3s-worker-data", placement: p.lake, hot: false, nodePorts: false });
  const victoria = victoriaSpec("mon", { placement: p.platform, hypervisors: [{ name: "numa-01", address: "192.0.2.10" }] });
  const temporal = temporalSpec("t", { placement: p.platform, worker: { image: "ghcr.io/example/worker:1.0.0", placement: p.worker }, s3: { endpoint: "http://s3.storage.svc:8333", credentials: { accessKeyId: "a", secretAccessKey: "b" } } });
  return [
    { chart: CHARTS.seaweedfs, values: seaweedfsValues(lake) },
    { chart: CHARTS.seaweedfs, values: seaweedfsValues(noHot) },
    ...victoriaReleases(victoria),
    { chart: CHARTS.temporal, values: temporalValues(temporal) },
  ];
};

describe("chart values", () => {
  it.each(LAYOUTS)("%s: every value passed to a chart is a key of that chart version's own values.yaml", (layout) => {
    for (const { chart, values } of releasesFor(layout)) {
      expect({ chart: `${chart.chart}-${chart.version}`, unknown: unknownKeys(chart.chart, values, chartDefaults(chart)) }).toEqual({ chart: `${chart.chart}-${chart.version}`, unknown: [] });
    }
  });

  it("every pinned chart has its values.yaml and Chart.yaml of that version as test data", () => {
    for (const chart of Object.values(CHARTS)) {
      const meta = parse(require("node:fs").readFileSync(`${__dirname}/../fixtures/charts/${chart.chart}-${chart.version}/Chart.yaml`, "utf8"));
      expect([meta.name, meta.version]).toEqual([chart.chart, chart.version]);
    }
    // Where each was read: one line per pinned chart version, with the repository commit.
    const sources = require("node:fs").readFileSync(`${__dirname}/../fixtures/charts/SOURCES.txt`, "utf8") as string;
    const named = Object.values(CHARTS).filter((c) => !new RegExp(`^${c.chart} ${c.version.replace(/\./g, "\\.")} \\S+@[0-9a-f]{40} `, "m").test(sources));
    expect(named.map((c) => `${c.chart} ${c.version}`)).toEqual([]);
  });

  it("the checker finds a typo, a key under a scalar, and accepts the documented exceptions only where listed", () => {
    const defaults = chartDefaults(CHARTS.victoriaMetricsSingle);
    expect(unknownKeys("victoria-metrics-single", { server: { retentionPeriod: "30d", retentionPeriode: "30d" } }, defaults)).toEqual(["server.retentionPeriode"]);
    expect(unknownKeys("victoria-metrics-single", { server: { retentionPeriod: { days: 30 } } }, defaults)).toEqual(['server.retentionPeriod (a map where the chart has 1)']);
    expect(unknownKeys("victoria-metrics-single", { server: { nodeSelector: { role: "master" }, service: { nodePort: 30828 } } }, defaults)).toEqual([]);
    expect(unknownKeys("victoria-metrics-single", { server: { resources: { request: { cpu: "1" } } } }, defaults)).toEqual(["server.resources.request"]);
    expect(unknownKeys("victoria-metrics-agent", { server: { service: { nodePort: 30828 } } }, chartDefaults(CHARTS.vmagent))).toEqual(["server"]);
  });

  it("a key documented only in a comment is in that chart's values.yaml as that comment; free-form entries say why", () => {
    const byName = Object.fromEntries(Object.values(CHARTS).map((c) => [c.chart, c]));
    for (const [name, keys] of Object.entries(COMMENTED)) for (const k of keys) expect(chartValuesText(byName[name])).toMatch(k.comment);
    for (const entries of Object.values(FREE_FORM)) for (const e of entries) expect(e.why.length).toBeGreaterThan(10);
  });
});
